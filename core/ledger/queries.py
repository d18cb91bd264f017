"""Reading the ledger: balances, trial balances and entries for statements.

Only posted entries count, and only those dated on or before ``as_of`` when it is given
(an unposted entry is a write in progress, never a fact). A balance is signed like the
lines: debit positive, credit negative, so a liability or income account normally shows a
negative balance. Every call is one SQL query that sums in the database (integer fen,
exact on every backend); every figure is a ``Decimal`` with two places.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from core.db import db
from core.errors import NotFound
from core.i18n import _
from core.ledger.models import JournalEntry, JournalLine, LedgerAccount

__all__ = [
    "balance_history",
    "TrialBalance",
    "TrialBalanceRow",
    "balance",
    "balances",
    "trial_balance",
    "entries",
    "entries_for_source",
]

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class TrialBalanceRow:
    """One account: a positive balance in the debit column, a negative one in the credit column."""

    code: str
    name: str
    kind: str
    debit: Decimal
    credit: Decimal

    @property
    def balance(self) -> Decimal:
        """Signed balance, debit positive."""
        return self.debit - self.credit


@dataclass(frozen=True)
class TrialBalance:
    """Every account of one fund with its balance; in balanced books the two columns agree."""

    fund: str
    as_of: date | None
    rows: tuple[TrialBalanceRow, ...]

    @property
    def total_debit(self) -> Decimal:
        return sum((row.debit for row in self.rows), ZERO)

    @property
    def total_credit(self) -> Decimal:
        return sum((row.credit for row in self.rows), ZERO)

    @property
    def balanced(self) -> bool:
        return self.total_debit == self.total_credit


def _posted_on_or_before(as_of: date | None) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = [JournalEntry.posted == sa.true()]
    if as_of is not None:
        conditions.append(JournalEntry.entry_date <= as_of)
    return conditions


def balance(account_code: str, as_of: date | None = None) -> Decimal:
    """Signed balance of one account (debit positive) from posted entries dated on or before ``as_of``.

    Unknown account: ``NotFound``. One query: a correlated SUM over the account's lines.
    """
    total = (
        sa.select(sa.func.coalesce(sa.func.sum(JournalLine.amount), 0))
        .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
        .where(JournalLine.account_id == LedgerAccount.id, *_posted_on_or_before(as_of))
        .correlate(LedgerAccount)
        .scalar_subquery()
    )
    row = db.session.execute(sa.select(total).where(LedgerAccount.code == account_code)).first()
    if row is None:
        raise NotFound(_("会计科目 %(code)s 不存在", code=account_code))
    return row[0]


def _account_totals(fund: str, as_of: date | None) -> sa.Select:
    """Every account of ``fund`` (zero when it has no posted line yet) with its signed total."""
    sums = (
        sa.select(JournalLine.account_id.label("account_id"), sa.func.sum(JournalLine.amount).label("total"))
        .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
        # fund first: served by the (fund, entry_date) index.
        .where(JournalEntry.fund == fund, *_posted_on_or_before(as_of))
        .group_by(JournalLine.account_id)
        .subquery()
    )
    return (
        sa.select(
            LedgerAccount.code,
            LedgerAccount.name,
            LedgerAccount.kind,
            sa.func.coalesce(sums.c.total, 0).label("total"),
        )
        .outerjoin(sums, sums.c.account_id == LedgerAccount.id)
        .where(LedgerAccount.fund == fund)
        .order_by(LedgerAccount.code)
    )


def balances(fund: str, as_of: date | None = None) -> dict[str, Decimal]:
    """``{account code: signed balance}`` for every account of ``fund``, ordered by code."""
    return {code: total for code, _name, _kind, total in db.session.execute(_account_totals(fund, as_of))}


def balance_history(fund: str, days: Sequence[date]) -> dict[date, dict[str, Decimal]]:
    """``balances(fund, day)`` for each of ``days``, from ONE pass over the fund's posted lines.

    The lines are summed per account and entry date in the database (a row per account and day with
    postings), then accumulated here and read at each day: a chart of many month ends costs one
    statement instead of one pass over the whole ledger per month.
    """
    codes = db.session.scalars(
        sa.select(LedgerAccount.code).where(LedgerAccount.fund == fund).order_by(LedgerAccount.code)
    ).all()
    per_day = (
        sa.select(LedgerAccount.code, JournalEntry.entry_date, sa.func.sum(JournalLine.amount))
        .select_from(JournalLine)
        .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
        .join(LedgerAccount, LedgerAccount.id == JournalLine.account_id)
        .where(JournalEntry.fund == fund, *_posted_on_or_before(max(days) if days else None))
        .group_by(LedgerAccount.code, JournalEntry.entry_date)
        .order_by(JournalEntry.entry_date)
    )
    running = dict.fromkeys(codes, ZERO)
    history: dict[date, dict[str, Decimal]] = {}
    pending = sorted(days)
    for code, entry_date, total in db.session.execute(per_day):
        while pending and pending[0] < entry_date:
            history[pending.pop(0)] = dict(running)
        running[code] = running.get(code, ZERO) + total
    for day in pending:
        history[day] = dict(running)
    return history


def trial_balance(fund: str, as_of: date | None = None) -> TrialBalance:
    """The trial balance of ``fund`` on ``as_of`` (all posted entries when ``None``)."""
    rows = tuple(
        TrialBalanceRow(
            code=code,
            name=name,
            kind=kind,
            debit=total if total > 0 else ZERO,
            credit=-total if total < 0 else ZERO,
        )
        for code, name, kind, total in db.session.execute(_account_totals(fund, as_of))
    )
    return TrialBalance(fund=fund, as_of=as_of, rows=rows)


def entries(fund: str, start: date, end: date) -> Sequence[JournalEntry]:
    """Posted entries of ``fund`` dated ``start`` to ``end`` inclusive, oldest first, lines and accounts loaded.

    One query (lines and their accounts are joined in), for statements and the month-end
    reconciliation.
    """
    statement = (
        sa.select(JournalEntry)
        .options(joinedload(JournalEntry.lines).joinedload(JournalLine.account))
        .where(
            JournalEntry.fund == fund,
            JournalEntry.posted == sa.true(),
            JournalEntry.entry_date >= start,
            JournalEntry.entry_date <= end,
        )
        .order_by(JournalEntry.entry_date, JournalEntry.id)
    )
    return db.session.scalars(statement).unique().all()


def entries_for_source(source_type: str, source_id: int | str) -> Sequence[JournalEntry]:
    """Posted entries caused by one source (e.g. ``("seed_loan", 12)``), oldest first, lines loaded."""
    statement = (
        sa.select(JournalEntry)
        .options(joinedload(JournalEntry.lines).joinedload(JournalLine.account))
        .where(
            JournalEntry.source_type == source_type,
            JournalEntry.source_id == str(source_id),
            JournalEntry.posted == sa.true(),
        )
        .order_by(JournalEntry.entry_date, JournalEntry.id)
    )
    return db.session.scalars(statement).unique().all()
