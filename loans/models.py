"""Knowledge-value credit loans made by partner banks (domain.md §3).

The banks' own money: the programme records exposure (principal disbursed, repaid,
outstanding), not the county's assets, so nothing here posts to the ledger.

Lifecycle (stored): contracted -> active (first tranche) -> repaid (all disbursed principal
repaid and nothing left to disburse, or repaid after the maturity date). "Overdue" is not
stored: it is the state of an active loan whose days past due, as of the day asked, exceed 0.
"""
from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core import clock
from core.db import ScaledDecimal, UTCDateTime, db
from core.money import Money


class LoanStatus(str, enum.Enum):
    CONTRACTED = "contracted"
    ACTIVE = "active"
    REPAID = "repaid"


class Loan(db.Model):
    __tablename__ = "loans"
    __table_args__ = (
        sa.UniqueConstraint("bank_id", "contract_no", name="uq_loans_bank_contract"),
        sa.CheckConstraint("principal > 0", name="positive_principal"),
        sa.CheckConstraint("maturity_date > start_date", name="matures_after_start"),
        sa.CheckConstraint("status IN ('contracted', 'active', 'repaid')", name="known_status"),
        sa.CheckConstraint("disbursed_total >= 0 AND disbursed_total <= principal", name="disbursed_within_principal"),
        sa.CheckConstraint("repaid_principal >= 0 AND repaid_principal <= disbursed_total", name="repaid_within_disbursed"),
        sa.Index("ix_loans_bank_status", "bank_id", "status"),
        # The risk pool's aggregates (covered outstanding, a bank's NPL ratio) read covered loans.
        sa.Index("ix_loans_covered_bank", "covered", "bank_id"),
        # The loans list, newest contracts first (all banks, or one bank's): a page is read from the
        # index in order, without sorting every loan.
        sa.Index("ix_loans_start_date", "start_date", "id"),
        sa.Index("ix_loans_bank_start_date", "bank_id", "start_date", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[int] = mapped_column(sa.ForeignKey("banks.id"))
    enterprise_id: Mapped[int] = mapped_column(sa.ForeignKey("enterprises.id"), index=True)
    contract_no: Mapped[str] = mapped_column(sa.String(64))
    principal: Mapped[Decimal] = mapped_column(Money())
    annual_rate: Mapped[Decimal] = mapped_column(ScaledDecimal(6))
    start_date: Mapped[date]
    maturity_date: Mapped[date]
    purpose: Mapped[str] = mapped_column(sa.Text, default="")
    status: Mapped[str] = mapped_column(sa.String(16), default=LoanStatus.CONTRACTED.value)
    # Running totals kept by the services in the same transaction as each movement, so the
    # credit-line check and the lists read one row instead of summing every tranche; the
    # CHECK constraints above hold them within the principal even under concurrency.
    disbursed_total: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0.00"))
    repaid_principal: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0.00"))
    policy_id: Mapped[int] = mapped_column(sa.ForeignKey("policies.id"))
    # Risk-pool coverage, decided once as of the contract date by the risk package (through
    # ``loans.services.loan_created_hooks``; loans never imports risk). NULL: not decided.
    # ``coverage_reason`` is a code (risk.coverage.COVERAGE_REASONS) when not covered, else NULL.
    covered: Mapped[bool | None] = mapped_column(sa.Boolean())
    coverage_reason: Mapped[str | None] = mapped_column(sa.String(32))
    created_by: Mapped[str] = mapped_column(sa.String(64), default="system")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)

    bank = relationship("Bank", lazy="joined")
    enterprise = relationship("Enterprise", lazy="joined")
    disbursements = relationship("Disbursement", back_populates="loan", order_by="Disbursement.disbursed_on", lazy="selectin")
    repayments = relationship("Repayment", back_populates="loan", order_by="Repayment.paid_on", lazy="selectin")

    @property
    def outstanding_principal(self) -> Decimal:
        return self.disbursed_total - self.repaid_principal


class Disbursement(db.Model):
    """One tranche. ``bank_ref`` is the bank's own reference: the same reference is the same event.

    ``enterprise_id`` (the loan's borrower) and ``grade`` (the borrower's grade on the tranche's day:
    its latest rating dated on or before it, NULL when there is none) are stored copies, kept by
    ``loans.tranche_grades``, so the programme's progress sums the tranches by bank, borrower and
    grade from this table alone, through one covering index, without joining loans and ratings.
    """

    __tablename__ = "disbursements"
    __table_args__ = (
        sa.UniqueConstraint("bank_id", "bank_ref", name="uq_disbursements_bank_ref"),
        sa.CheckConstraint("amount > 0", name="positive_amount"),
        # Date ranges, and the progress breakdowns read entirely from the index (loans.progress).
        sa.Index("ix_disbursements_progress", "disbursed_on", "bank_id", "enterprise_id", "grade", "amount"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    loan_id: Mapped[int] = mapped_column(sa.ForeignKey("loans.id"), index=True)
    bank_id: Mapped[int] = mapped_column(sa.ForeignKey("banks.id"))
    enterprise_id: Mapped[int] = mapped_column(sa.ForeignKey("enterprises.id"), index=True)
    grade: Mapped[str | None] = mapped_column(sa.String(1))
    amount: Mapped[Decimal] = mapped_column(Money())
    disbursed_on: Mapped[date]
    bank_ref: Mapped[str] = mapped_column(sa.String(64))
    created_by: Mapped[str] = mapped_column(sa.String(64), default="system")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)

    loan = relationship(Loan, back_populates="disbursements")


class Repayment(db.Model):
    """A repayment of principal (and the bank's interest, recorded but not the programme's money)."""

    __tablename__ = "repayments"
    __table_args__ = (
        sa.UniqueConstraint("bank_id", "bank_ref", name="uq_repayments_bank_ref"),
        sa.CheckConstraint("principal >= 0 AND interest >= 0 AND principal + interest > 0", name="positive_payment"),
        sa.Index("ix_repayments_paid_on", "paid_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    loan_id: Mapped[int] = mapped_column(sa.ForeignKey("loans.id"), index=True)
    bank_id: Mapped[int] = mapped_column(sa.ForeignKey("banks.id"))
    principal: Mapped[Decimal] = mapped_column(Money())
    interest: Mapped[Decimal] = mapped_column(Money())
    paid_on: Mapped[date]
    bank_ref: Mapped[str] = mapped_column(sa.String(64))
    created_by: Mapped[str] = mapped_column(sa.String(64), default="system")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)

    loan = relationship(Loan, back_populates="repayments")


class BankTape(db.Model):
    """A bank's month-end loan tape (api.md), kept for the monthly reconciliation.

    Uploading again for the same period adds a new version; the reconciliation uses the latest.
    """

    __tablename__ = "bank_tapes"
    __table_args__ = (sa.UniqueConstraint("bank_id", "period", "version", name="uq_bank_tapes_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[int] = mapped_column(sa.ForeignKey("banks.id"))
    period: Mapped[str] = mapped_column(sa.String(7))  # YYYY-MM
    version: Mapped[int] = mapped_column(default=1)
    filename: Mapped[str] = mapped_column(sa.String(255))
    sha256: Mapped[str] = mapped_column(sa.String(64))
    row_count: Mapped[int]
    uploaded_by: Mapped[str] = mapped_column(sa.String(64))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)

    bank = relationship("Bank", lazy="joined")
    rows = relationship("BankTapeRow", back_populates="tape", order_by="BankTapeRow.row_number", lazy="selectin")


class BankTapeRow(db.Model):
    __tablename__ = "bank_tape_rows"
    __audit__ = False  # the tape's own upload event covers its rows (tens of thousands per month)

    id: Mapped[int] = mapped_column(primary_key=True)
    tape_id: Mapped[int] = mapped_column(sa.ForeignKey("bank_tapes.id"), index=True)
    row_number: Mapped[int]
    contract_no: Mapped[str] = mapped_column(sa.String(64))
    credit_code: Mapped[str] = mapped_column(sa.String(18))
    disbursed_total: Mapped[Decimal] = mapped_column(Money())
    repaid_principal: Mapped[Decimal] = mapped_column(Money())
    outstanding_principal: Mapped[Decimal] = mapped_column(Money())
    days_past_due: Mapped[int]

    tape = relationship(BankTape, back_populates="rows")


class LoanDpdSnapshot(db.Model):
    """A loan's days past due and classification on a day, stored by the daily job (loans.jobs).

    One row per loan and day (UNIQUE): running the job again for a day rewrites the same rows.
    """

    __tablename__ = "loan_dpd_snapshots"
    __audit__ = False  # derived figures, rewritable from the loans' records; tens of thousands a day
    __table_args__ = (
        sa.UniqueConstraint("loan_id", "day"),
        sa.Index("ix_loan_dpd_snapshots_day_bank", "day", "bank_id"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True)
    loan_id: Mapped[int] = mapped_column(sa.ForeignKey("loans.id"))
    bank_id: Mapped[int] = mapped_column(sa.ForeignKey("banks.id"))
    day: Mapped[date]
    dpd: Mapped[int]
    classification: Mapped[str] = mapped_column(sa.String(16))
    outstanding_principal: Mapped[Decimal] = mapped_column(Money())


from loans import tranche_grades  # noqa: E402,F401  (registers the events that keep the tranches' grades)
