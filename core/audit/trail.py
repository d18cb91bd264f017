"""Placeholder: replaced by the audit work. ``record_event`` appends an explicit event to the chain."""
from __future__ import annotations

from typing import Any


def record_event(action: str, object_type: str, object_id: Any = None, before: dict | None = None, after: dict | None = None) -> None:
    """Append an explicit event (login, logout, token issued, sign-off...) to the audit trail."""
