"""On-demand statements: the request, and the builder that the application factory plugs in.

Building a statement needs the domains (a bank's loans and claims, a fund's ledger and sub-ledger),
which ``core`` may not import; ``config.documents_jobs`` registers the builder at start-up and names
the funds it can state (``{"seed": "创业种子基金", ...}``). The API and the pages call
:func:`build_statement` and never know which domain answered.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.documents.models import Document

__all__ = [
    "MAX_STATEMENT_DAYS",
    "StatementRequest",
    "build_statement",
    "register_statement_builder",
    "statement_funds",
]

MAX_STATEMENT_DAYS = 3 * 366
"""The longest range one on-demand statement may cover (three years): bounds its size and time."""


@dataclass(frozen=True)
class StatementRequest:
    """A statement for one bank (``bank_id``) or one fund (``fund``) from ``start`` to ``end`` inclusive."""

    start: date
    end: date
    created_by: str
    bank_id: int | None = None
    fund: str | None = None


StatementBuilder = Callable[[StatementRequest], "Document"]

_registry: dict[str, object] = {"builder": None, "funds": {}}


def register_statement_builder(builder: StatementBuilder, funds: Mapping[str, str]) -> None:
    """Plug in the builder and the funds it states (code -> name). Idempotent: the last call wins."""
    _registry["builder"] = builder
    _registry["funds"] = dict(funds)


def statement_funds() -> dict[str, str]:
    """``{fund code: name}`` of the funds a statement may be asked for."""
    return dict(_registry["funds"])  # type: ignore[arg-type]


def build_statement(request: StatementRequest) -> Document:
    """Render and store the statement (a new document version); flushes, never commits.

    Refusals (unknown bank, a fund without statements) are ``ValidationFailed`` from the builder.
    """
    builder = _registry["builder"]
    if builder is None:
        raise RuntimeError("no statement builder registered (config.documents_jobs.register_statement_builder)")
    return builder(request)  # type: ignore[operator]
