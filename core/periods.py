"""Closed months: once an auditor signs off a reconciled month, nothing dated in it is accepted.

Rules (domain.md §6–7, api.md "closed month"):

* A month (``YYYY-MM``, business dates in Asia/Shanghai) is closed by :func:`close_period`, which the
  reconciliation sign-off calls; a ``ClosedPeriod`` row records who signed off, when and why.
* **Closing a month closes every month before it too** (a "lock date", as accounting software
  has it): the books are cumulative, so a record dated in an earlier month would change the
  closing balances the auditor just signed. :func:`is_closed` is therefore "the day is on or before
  the end of the latest closed month", and :func:`ensure_open` refuses such a day with a 409
  (``BusinessRuleError``) whose message starts with 该月份已结账. Corrections go into the open month.
* Every write path that takes a business date calls :func:`ensure_open` with it, first thing (the
  loans' create/disburse/repay and their batches, the ratings, the tapes through
  :func:`ensure_period_open`); the ledger calls it for every entry (it is registered in
  ``core.ledger.services.period_guards`` at import), and so do the seed fund's and the pool's steps
  (their ``business_day`` runs the period guards). A value that is not a date is left to the
  caller's own field validation (422).
* A month can only be closed once it is over (its last day is before today), and only once.

Concurrency: a sign-off must never slip between a writer's check and its commit. On PostgreSQL
every writing transaction takes a *shared* advisory lock with its first check (held until it
ends) and the sign-off takes the same lock *exclusively*, so it waits for the writers in flight to
commit and then sees their records. A writer never waits for a sign-off: it only *tries* the
shared lock and is refused (409, retry) while a sign-off is in progress, so no lock cycle with the
row locks writers hold is possible. On SQLite ``BEGIN IMMEDIATE`` (core/db.py) already serialises
every writing transaction.

The closed-through month is read once per transaction (savepoint) and kept in ``session.info`` for
it (a batch of 20,000 rows checks each row without a query per row).
"""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from core import clock
from core.db import UTCDateTime, db
from core.errors import BusinessRuleError, ValidationFailed
from core.i18n import _
from core.ledger.services import period_guards

__all__ = [
    "ClosedPeriod",
    "close_period",
    "closed_periods",
    "closed_through",
    "ensure_open",
    "ensure_period_open",
    "is_closed",
    "is_over",
    "lock_for_closing",
    "parse_period",
    "period_bounds",
    "period_of",
    "previous_period",
]

PERIOD_RE = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")
COMMENT_MAX_LENGTH = 2000

# pg_advisory_xact_lock's two-int key space (never the one-bigint space other locks use):
# ("peri" in ASCII, 0) is the closed-months lock.
LOCK_NAMESPACE = 0x70657269
LOCK_ID = 0

_CACHE_KEY = "core.periods.open_check"


class ClosedPeriod(db.Model):
    """A signed-off month: it and every month before it accept nothing more."""

    __tablename__ = "closed_periods"
    __table_args__ = (sa.CheckConstraint("length(period) = 7", name="period_format"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(sa.String(7), unique=True)  # YYYY-MM
    signed_off_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    signed_off_by: Mapped[str] = mapped_column(sa.String(64))
    comment: Mapped[str] = mapped_column(sa.Text(), default="")

    def __repr__(self) -> str:
        return f"<ClosedPeriod {self.period}>"


# ------------------------------------------------------------------------------------------ periods


def parse_period(text: object, field: str = "period") -> str:
    """``YYYY-MM`` as given (surrounding spaces removed), or 422 under ``field``."""
    clean = text.strip() if isinstance(text, str) else ""
    if PERIOD_RE.fullmatch(clean) is None:
        message = _("期间应为 YYYY-MM 格式的月份，例如 2025-06")
        raise ValidationFailed(message, {field: [message]})
    return clean


def period_of(day: date) -> str:
    """The month ``day`` belongs to, ``YYYY-MM``."""
    return f"{day.year:04d}-{day.month:02d}"


def period_bounds(period: str) -> tuple[date, date]:
    """The first and the last day of ``period``."""
    year, month = int(period[:4]), int(period[5:7])
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def previous_period(day: date | None = None) -> str:
    """The month before the one of ``day`` (default today): what the 1st-of-month job reconciles."""
    day = day or clock.today()
    year, month = (day.year - 1, 12) if day.month == 1 else (day.year, day.month - 1)
    return f"{year:04d}-{month:02d}"


def is_over(period: str) -> bool:
    """Whether ``period`` has ended (its last day is before today's business date)."""
    return period_bounds(period)[1] < clock.today()


# ------------------------------------------------------------------------------------------- checks


@dataclass
class _OpenCheck:
    """What one transaction learnt: the latest closed month then (None: none) - and, on PostgreSQL,
    that it holds the shared lock."""

    transaction: object
    closed_through: str | None


def _try_shared_lock() -> None:
    if db.session.get_bind().dialect.name != "postgresql":
        return  # SQLite: BEGIN IMMEDIATE already serialises writers
    taken = db.session.execute(
        sa.select(sa.func.pg_try_advisory_xact_lock_shared(LOCK_NAMESPACE, LOCK_ID))
    ).scalar_one()
    if not taken:
        raise BusinessRuleError(_("正在办理月度结账签核，请稍后重试；本次未保存任何内容"))


def closed_through() -> str | None:
    """The latest closed month (every month up to it is closed), or None. A plain read, for pages
    and reports; a writer's check is :func:`ensure_open`."""
    return db.session.scalar(sa.select(sa.func.max(ClosedPeriod.period)))


def _closed_through_for_writing() -> str | None:
    """:func:`closed_through` for a writer: once per transaction, after taking the shared lock.

    The first call of a transaction takes the shared lock (PostgreSQL) and then reads - in that
    order, so a sign-off that committed while we waited is seen; later calls use what it read.
    """
    session = db.session()
    cached = session.info.get(_CACHE_KEY)
    if cached is not None and cached.transaction is _innermost(session):
        return cached.closed_through
    _try_shared_lock()
    latest = closed_through()
    session.info[_CACHE_KEY] = _OpenCheck(_innermost(session), latest)
    return latest


def _innermost(session: Any) -> object:
    """The transaction the cache belongs to: the innermost savepoint, else the transaction.

    A lock taken inside a savepoint is released if the savepoint is rolled back, so what a savepoint
    learnt is not reused outside it (the enclosing level takes the lock again: it is re-entrant).
    """
    return session.get_nested_transaction() or session.get_transaction()


def is_closed(day: date) -> bool:
    """Whether ``day`` lies in a closed month (the latest signed-off month or any before it); a read."""
    through = closed_through()
    return through is not None and period_of(day) <= through


def ensure_open(day: object, field: str | None = None) -> None:
    """409 "该月份已结账" when ``day`` lies in a closed month; nothing for an open day.

    Call it first in every write path that takes a business date. Anything but a date is ignored
    here: the caller's own field checks report it (422). ``field`` names the date in the errors.
    """
    if not isinstance(day, date):
        return
    through = _closed_through_for_writing()
    if through is None or period_of(day) > through:
        return
    message = _(
        "该月份已结账：%(period)s 已经审计签核关闭（已结账至 %(through)s），不能再登记日期为 %(day)s 的记录；"
        "更正请记入未结账的月份",
        period=period_of(day),
        through=through,
        day=day.isoformat() if not isinstance(day, datetime) else day.date().isoformat(),
    )
    raise BusinessRuleError(message, {field: [_("该月份已结账")]} if field else None)


def ensure_period_open(period: str, field: str | None = None) -> None:
    """:func:`ensure_open` for a whole month (its last day): e.g. a tape or a reconciliation of ``period``."""
    ensure_open(period_bounds(parse_period(period))[1], field)


# ----------------------------------------------------------------------------------------- closing


def lock_for_closing() -> None:
    """Take the closing lock: wait for the writers in flight (PostgreSQL); new ones are refused until
    this transaction ends. Re-entrant within a transaction; SQLite needs nothing (BEGIN IMMEDIATE)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(LOCK_NAMESPACE, LOCK_ID)))


def close_period(period: str, by: str, comment: str = "") -> ClosedPeriod:
    """Close ``period`` (and so every month before it); returns the new row, flushed.

    422: not a ``YYYY-MM`` month, a comment longer than 2,000 characters. 409: the month is not
    over yet, or it is already closed (itself or by a later month's sign-off). The caller (the
    reconciliation sign-off) decides whether the month may be signed off at all.
    """
    period = parse_period(period)
    clean_comment = (comment or "").strip()
    if len(clean_comment) > COMMENT_MAX_LENGTH:
        message = _("意见不能超过 %(max)d 个字符", max=COMMENT_MAX_LENGTH)
        raise ValidationFailed(message, {"comment": [message]})
    if not is_over(period):
        raise BusinessRuleError(_("%(period)s 尚未结束，不能结账", period=period))
    lock_for_closing()
    # Read after the lock (a new statement, a new snapshot): a sign-off that just committed counts.
    latest = closed_through()
    if latest is not None and period <= latest:
        raise BusinessRuleError(_("该月份已结账：%(period)s 已结账（已结账至 %(through)s）", period=period, through=latest))
    row = ClosedPeriod(period=period, signed_off_at=clock.now(), signed_off_by=by, comment=clean_comment)
    try:
        with db.session.begin_nested():
            db.session.add(row)
            db.session.flush()
    except IntegrityError as error:  # the same month closed by a concurrent sign-off (SQLite never gets here)
        raise BusinessRuleError(_("该月份已结账：%(period)s 已结账", period=period)) from error
    session = db.session()
    session.info[_CACHE_KEY] = _OpenCheck(_innermost(session), period)
    return row


def closed_periods() -> list[ClosedPeriod]:
    """Every sign-off, latest month first."""
    return list(db.session.scalars(sa.select(ClosedPeriod).order_by(ClosedPeriod.period.desc())))


# The ledger refuses entries dated in a closed month (and every step that runs the guards with it).
if ensure_open not in period_guards:
    period_guards.append(ensure_open)
