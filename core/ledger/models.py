"""The double-entry ledger: accounts, journal entries and their lines.

Every movement of the seed fund's and the pool's money is one ``JournalEntry`` whose
``JournalLine`` amounts (debit positive, credit negative) sum to exactly zero. The ledger
is append-only: a correction is a reversing entry, never an edit.

Those rules live in the database itself (triggers from ``core.ledger.ddl``, installed by
``create_all`` and copied into the migration), so a raw SQL statement, a buggy service or
a second application cannot unbalance the books either. ``core.ledger.services`` checks
the same rules first, in Python, to refuse with a readable Chinese message.
"""
from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core import clock
from core.db import UTCDateTime, db
from core.ledger import ddl
from core.ledger.ddl import (  # noqa: F401 - re-exported for the migration and its drift test
    LEDGER_GUARD_DDL,
    LEDGER_GUARD_DROP_DDL,
    LEDGER_GUARD_TRIGGERS,
    LEDGER_GUARD_TRIGGERS_POSTGRESQL,
)
from core.money import Money


class AccountKind(str, enum.Enum):
    ASSET = "asset"
    LIABILITY = "liability"
    EQUITY = "equity"
    INCOME = "income"
    EXPENSE = "expense"


ACCOUNT_KINDS = tuple(kind.value for kind in AccountKind)


class LedgerAccount(db.Model):
    """One account of one fund's chart of accounts, e.g. ``seed.cash`` (种子基金银行存款)."""

    __tablename__ = "ledger_accounts"
    __table_args__ = (
        sa.CheckConstraint(f"kind IN ({', '.join(repr(k) for k in ACCOUNT_KINDS)})", name="known_kind"),
        sa.CheckConstraint("fund <> ''", name="fund_not_empty"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    fund: Mapped[str] = mapped_column(sa.String(20), index=True)
    kind: Mapped[str] = mapped_column(sa.String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)

    def __repr__(self) -> str:
        return f"<LedgerAccount {self.code} {self.kind}>"


class JournalEntry(db.Model):
    """A dated, balanced movement of one fund's money; ``posted`` once its lines are complete.

    ``entry_date`` is the business date (Asia/Shanghai) the movement belongs to, which may be
    earlier than ``created_at`` (paper comes before data entry). ``source_type``/``source_id``
    name what caused it (``"seed_loan"``, ``"12"``) so sub-ledgers can find their entries.
    ``reverses_id`` is UNIQUE: an entry is reversed at most once, even under concurrency.
    """

    __tablename__ = "journal_entries"
    __table_args__ = (
        # Statements and trial balances read one fund over a date range.
        sa.Index("ix_journal_entries_fund_entry_date", "fund", "entry_date"),
        # Sub-ledgers look up the entries a loan, claim or contribution caused.
        sa.Index("ix_journal_entries_source", "source_type", "source_id"),
        sa.CheckConstraint("fund <> ''", name="fund_not_empty"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    fund: Mapped[str] = mapped_column(sa.String(20))
    entry_date: Mapped[date] = mapped_column(sa.Date())
    memo: Mapped[str] = mapped_column(sa.Text(), default="")
    source_type: Mapped[str | None] = mapped_column(sa.String(40))
    source_id: Mapped[str | None] = mapped_column(sa.String(64))
    reverses_id: Mapped[int | None] = mapped_column(sa.ForeignKey("journal_entries.id"), unique=True)
    posted: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    created_by: Mapped[str] = mapped_column(sa.String(64), default="system")

    # No delete cascade: lines are append-only, the triggers refuse deleting them anyway.
    lines: Mapped[list[JournalLine]] = relationship(
        back_populates="entry", order_by="JournalLine.id", cascade="save-update, merge"
    )
    reverses: Mapped[JournalEntry | None] = relationship(remote_side=[id], foreign_keys=[reverses_id])

    @property
    def total_debit(self) -> Decimal:
        return sum((line.debit for line in self.lines), Decimal("0.00"))

    @property
    def total_credit(self) -> Decimal:
        return sum((line.credit for line in self.lines), Decimal("0.00"))

    def __repr__(self) -> str:
        return f"<JournalEntry {self.id} {self.fund} {self.entry_date} posted={self.posted}>"


class JournalLine(db.Model):
    """One side of an entry: ``amount`` > 0 debits the account, < 0 credits it; never zero."""

    __tablename__ = "journal_lines"
    __table_args__ = (sa.CheckConstraint("amount <> 0", name="amount_not_zero"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(sa.ForeignKey("journal_entries.id"), index=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("ledger_accounts.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money())

    entry: Mapped[JournalEntry] = relationship(back_populates="lines")
    account: Mapped[LedgerAccount] = relationship(lazy="joined")

    @property
    def debit(self) -> Decimal:
        return self.amount if self.amount > 0 else Decimal("0.00")

    @property
    def credit(self) -> Decimal:
        return -self.amount if self.amount < 0 else Decimal("0.00")

    def __repr__(self) -> str:
        return f"<JournalLine entry={self.entry_id} account={self.account_id} {self.amount}>"


# The guards reference all three tables, and journal_lines is created last (it depends on
# the other two), so they are installed right after it. SQLite drops triggers with their
# tables; on PostgreSQL the trigger functions are dropped with journal_lines so a
# drop_all/create_all cycle leaves nothing behind.
for _dialect, _statements in ddl.LEDGER_GUARD_DDL.items():
    for _statement in _statements:
        event.listen(JournalLine.__table__, "after_create", sa.DDL(_statement).execute_if(dialect=_dialect))
for _statement in ddl.LEDGER_GUARD_DROP_DDL["postgresql"]:
    event.listen(JournalLine.__table__, "after_drop", sa.DDL(_statement).execute_if(dialect="postgresql"))
