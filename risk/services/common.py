"""What every pool step shares: the business date, text checks, the pool's lock and its postings.

The ``on`` date (api.md): a step may be entered after it happened on paper. It defaults to today,
is never in the future (422) and never in a closed month (409, through the ledger's period guards,
the same check every posting makes).

**The lock.** Every step that reads and then moves or commits the pool's money (contributions,
approvals, queued payments, recoveries) or its capacity (coverage decisions: the leverage cap)
takes :func:`lock_pool` first (the single ``risk_pool_state`` row, ``SELECT ... FOR UPDATE``), then
the claim or breaker row. The order is the same everywhere, so there is no deadlock, and two
approvals never both see the same cash.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import lazyload

from core import clock
from core.db import db
from core.errors import ValidationFailed
from core.i18n import _
from core.ledger.models import LedgerAccount
from core.ledger.services import ensure_account, period_guards, post_entry
from core.money import to_fen
from risk.accounts import ACCOUNTS, FUND
from risk.models import RiskPoolState

ZERO = Decimal("0.00")
REASON_MAX_LENGTH = 2000
NOTE_MAX_LENGTH = 2000


def invalid(errors: dict[str, list[str]]) -> ValidationFailed:
    return ValidationFailed(_("提交的数据有误：%(fields)s", fields="、".join(sorted(errors))), errors)


def raise_if(errors: dict[str, list[str]]) -> None:
    if errors:
        raise invalid(errors)


def business_day(on: date | None, field: str = "on") -> date:
    """The date a step happened: ``on`` or today; 422 in the future, 409 in a closed month."""
    day = clock.today() if on is None else on
    if isinstance(day, datetime) or not isinstance(day, date):
        raise invalid({field: [_("日期格式不正确，应为 YYYY-MM-DD")]})
    if day > clock.today():
        raise invalid({field: [_("日期不能晚于今天（%(today)s）", today=clock.today().isoformat())]})
    for guard in period_guards:
        guard(day)
    return day


def amount_error(value: object) -> str | None:
    """Why ``value`` is not a positive amount in whole fen, or None."""
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        return _("金额应为最多两位小数的金额")
    try:
        fen = to_fen(value)
    except ValueError:
        return _("金额最多保留两位小数")
    if fen <= 0:
        return _("金额必须大于零")
    return None


def text(value: object, field: str, label: str, max_length: int, errors: dict[str, list[str]], *, required: bool) -> str:
    """Stripped text; records an error for a missing (when required), non-text or too long value."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors[field] = [_("应为文本")]
        return ""
    clean = value.strip()
    if required and not clean:
        errors[field] = [_("请填写%(label)s", label=label)]
    elif len(clean) > max_length:
        errors[field] = [_("%(label)s不能超过 %(max)d 个字符", label=label, max=max_length)]
    return clean


def lock_pool() -> RiskPoolState:
    """The pool's row, locked ``FOR UPDATE`` until the transaction ends (created on first use).

    Call it before locking any claim or breaker row. On SQLite the lock is the database's write
    lock (``BEGIN IMMEDIATE``), which the transaction already holds.
    """
    state = _select_state()
    if state is None:
        try:
            # A concurrent first use inserts the same row: the loser's savepoint rolls back and it
            # then waits on the winner's row like any other caller.
            with db.session.begin_nested():
                db.session.add(RiskPoolState(id=1))
        except IntegrityError:
            pass
        state = _select_state()
    assert state is not None
    return state


def _select_state() -> RiskPoolState | None:
    return db.session.execute(
        sa.select(RiskPoolState)
        .where(RiskPoolState.id == 1)
        .with_for_update(of=RiskPoolState)
        .options(lazyload("*"))
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


def ensure_accounts() -> None:
    """Create the pool's accounts that do not exist yet (call under the pool lock: no race on their codes)."""
    existing = set(db.session.scalars(sa.select(LedgerAccount.code).where(LedgerAccount.fund == FUND)))
    for code, name, kind in ACCOUNTS:
        if code not in existing:
            ensure_account(code, name, FUND, kind)


def post(entry_date: date, memo: str, lines: list[tuple[str, Decimal]], source: tuple[str, int]) -> None:
    """One balanced entry of the pool; zero lines are left out (the ledger refuses them).

    Memos are written in Chinese whatever the caller's language, like the accounts' names: the
    books are one document, not a translated interface.
    """
    kept = [(code, amount) for code, amount in lines if amount != 0]
    if not kept:
        return
    ensure_accounts()
    post_entry(FUND, entry_date, memo, kept, source=source)
