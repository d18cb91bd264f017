"""The one place the application asks what time and what business day it is.

Business dates are in Asia/Shanghai (domain.md §6); instants are stored in UTC.
Tests replace ``today`` / ``now`` through ``freeze`` rather than patching datetime.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

BUSINESS_TZ = ZoneInfo("Asia/Shanghai")

_frozen_now: datetime | None = None


def now() -> datetime:
    """The current instant, timezone-aware, in UTC."""
    if _frozen_now is not None:
        return _frozen_now
    return datetime.now(timezone.utc)


def today() -> date:
    """Today's business date in Asia/Shanghai (a bank's day ends at local midnight)."""
    return now().astimezone(BUSINESS_TZ).date()


def freeze(instant: datetime | None) -> None:
    """Pin the clock to ``instant`` (aware datetime) or release it with ``None``."""
    global _frozen_now
    if instant is not None and instant.tzinfo is None:
        raise ValueError("freeze() needs an aware datetime")
    _frozen_now = instant
