"""The seed fund's records (domain.md §5): applications and their steps, seed loans, the calendar.

Money movements are on the ledger (fund ``seed``, see ``funds.services.fund``); these tables are the
sub-ledger that says why each movement happened. Who did a step is stored as a user id (four eyes
compares ids, never names); business dates (``*_on``) are the dates on paper, which may be earlier
than the row's ``created_at`` (api.md: the optional ``on`` date).

Application statuses (``funds.states`` holds the transition table):
submitted -> initial_review_passed -> expert_review -> approved -> contracted, with rejected and
withdrawn as the other ends and objection_raised while an objection to an approved application is
open. The public notice is the date window ``decided_on .. notice_ends_on`` of an approved
application, so it follows the ``on`` dates of the steps (see ``funds.states.phase_of``).
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core import clock
from core.db import UTCDateTime, db
from core.money import Money

ZERO = Decimal("0.00")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


APPLICATION_STATUSES = (
    "submitted",
    "initial_review_passed",
    "expert_review",
    "approved",
    "objection_raised",
    "contracted",
    "rejected",
    "withdrawn",
)
REPAYMENT_KINDS = ("bullet", "monthly")
OBJECTION_STATUSES = ("open", "dismissed", "upheld", "closed")
LOAN_STATUSES = ("contracted", "active", "repaid", "written_off")
WRITE_OFF_STATUSES = ("proposed", "approved", "rejected")


# ------------------------------------------------------------------------------------ the calendar


class Holiday(db.Model):
    """A public holiday (法定节假日): not a working day even on a weekday. Admins keep the table."""

    __tablename__ = "holidays"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(unique=True)
    name: Mapped[str] = mapped_column(sa.String(64))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)


class Workday(db.Model):
    """A make-up working day (调休上班): a Saturday or Sunday that is a working day."""

    __tablename__ = "workdays"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(unique=True)
    name: Mapped[str] = mapped_column(sa.String(64))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)


# ---------------------------------------------------------------------------------------- the fund


class SeedFundState(db.Model):
    """The fund's single row: the lock every check on its money takes, and its settings.

    Approvals, contracts, disbursements, repayments, write-offs, recoveries and contributions
    read it ``FOR UPDATE`` first (``funds.services.fund.lock_fund``), so two of them never check
    ``available`` against the same figures: on PostgreSQL the second waits for the first's commit,
    on SQLite ``BEGIN IMMEDIATE`` already serialises writers. ``agent_bank_id`` is the bank that
    disburses and collects seed loans (委托贷款) unless a contract names another.
    """

    __tablename__ = "seed_fund_state"
    __table_args__ = (sa.CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    agent_bank_id: Mapped[int | None] = mapped_column(sa.ForeignKey("banks.id"))
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, onupdate=clock.now)

    agent_bank = relationship("Bank", lazy="joined")


class SeedContribution(db.Model):
    """Money paid into the fund (paid-in capital): Dr seed.cash / Cr seed.contributions."""

    __tablename__ = "seed_contributions"
    __table_args__ = (sa.CheckConstraint("amount > 0", name="positive_amount"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    amount: Mapped[Decimal] = mapped_column(Money())
    received_on: Mapped[date] = mapped_column(index=True)
    source: Mapped[str] = mapped_column(sa.String(100), default="")
    note: Mapped[str] = mapped_column(sa.Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)

    created_by = relationship("User", lazy="selectin")


# -------------------------------------------------------------------------------- the applications


class SeedApplication(db.Model):
    """An application for a seed loan, by an enterprise or by a startup team not registered yet.

    ``policy_id`` is the policy in force on ``submitted_on``: its limits, pass mark and notice
    length govern the whole application. ``closed_on`` is set when it is rejected or withdrawn
    (the end of any commitment it held).
    """

    __tablename__ = "seed_applications"
    __table_args__ = (
        sa.CheckConstraint("amount > 0", name="positive_amount"),
        sa.CheckConstraint("term_months > 0", name="positive_term"),
        sa.CheckConstraint(_in("repayment", REPAYMENT_KINDS), name="known_repayment"),
        sa.CheckConstraint(_in("status", APPLICATION_STATUSES), name="known_status"),
        sa.CheckConstraint("enterprise_id IS NOT NULL OR team_name IS NOT NULL", name="enterprise_or_team"),
        sa.CheckConstraint("decision_approved IS NOT TRUE OR notice_ends_on IS NOT NULL", name="approval_has_notice"),
        sa.Index("ix_seed_applications_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int | None] = mapped_column(sa.ForeignKey("enterprises.id"), index=True)
    team_name: Mapped[str | None] = mapped_column(sa.String(200))
    contact_name: Mapped[str | None] = mapped_column(sa.String(64))
    contact_phone: Mapped[str | None] = mapped_column(sa.String(32))
    amount: Mapped[Decimal] = mapped_column(Money())
    term_months: Mapped[int]
    repayment: Mapped[str] = mapped_column(sa.String(10))
    purpose: Mapped[str] = mapped_column(sa.Text, default="")
    status: Mapped[str] = mapped_column(sa.String(24), default="submitted")
    policy_id: Mapped[int] = mapped_column(sa.ForeignKey("policies.id"))
    submitted_on: Mapped[date]
    submitted_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    initial_review_passed: Mapped[bool | None]
    initial_review_on: Mapped[date | None]
    initial_review_comment: Mapped[str] = mapped_column(sa.Text, default="")
    initial_reviewed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    decision_approved: Mapped[bool | None]
    decided_on: Mapped[date | None]
    decision_comment: Mapped[str] = mapped_column(sa.Text, default="")
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    notice_ends_on: Mapped[date | None]
    closed_on: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)

    enterprise = relationship("Enterprise", lazy="joined")
    policy = relationship("Policy", lazy="select")
    submitted_by = relationship("User", foreign_keys=[submitted_by_id], lazy="selectin")
    initial_reviewed_by = relationship("User", foreign_keys=[initial_reviewed_by_id], lazy="selectin")
    decided_by = relationship("User", foreign_keys=[decided_by_id], lazy="selectin")
    expert_reviews = relationship(
        "SeedExpertReview", back_populates="application", order_by="SeedExpertReview.id", lazy="selectin"
    )
    objections = relationship("SeedObjection", back_populates="application", order_by="SeedObjection.id", lazy="selectin")
    events = relationship(
        "SeedApplicationEvent", back_populates="application", order_by="SeedApplicationEvent.id", lazy="select"
    )
    loan = relationship("SeedLoan", back_populates="application", uselist=False, lazy="selectin")

    @property
    def applicant_name(self) -> str:
        return self.enterprise.name if self.enterprise is not None else (self.team_name or "")


class SeedExpertReview(db.Model):
    """One expert's score (0–100); an expert scores an application once."""

    __tablename__ = "seed_expert_reviews"
    __table_args__ = (
        sa.UniqueConstraint("application_id", "expert_name", name="uq_seed_expert_reviews_expert"),
        sa.CheckConstraint("score >= 0 AND score <= 100", name="score_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(sa.ForeignKey("seed_applications.id"), index=True)
    expert_name: Mapped[str] = mapped_column(sa.String(64))
    score: Mapped[int]
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    reviewed_on: Mapped[date]
    recorded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)

    application = relationship(SeedApplication, back_populates="expert_reviews")
    recorded_by = relationship("User", lazy="selectin")


class SeedObjection(db.Model):
    """An objection raised during the public notice; it blocks the contract until resolved.

    ``dismissed``: the manager found it unfounded (the application goes on); ``upheld``: the
    application is rejected; ``closed``: it ended with its application (withdrawn, or another
    objection upheld).
    """

    __tablename__ = "seed_objections"
    __table_args__ = (sa.CheckConstraint(_in("status", OBJECTION_STATUSES), name="known_status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(sa.ForeignKey("seed_applications.id"), index=True)
    text: Mapped[str] = mapped_column(sa.Text)
    raised_on: Mapped[date]
    raised_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(sa.String(10), default="open")
    resolution_reason: Mapped[str] = mapped_column(sa.Text, default="")
    resolved_on: Mapped[date | None]
    resolved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)

    application = relationship(SeedApplication, back_populates="objections")
    raised_by = relationship("User", foreign_keys=[raised_by_id], lazy="selectin")
    resolved_by = relationship("User", foreign_keys=[resolved_by_id], lazy="selectin")


class SeedApplicationEvent(db.Model):
    """The application's timeline: one row per step, with who, the date on paper and the comment.

    Also the record four eyes reads: a manager may not decide an application for which they have
    a ``submitted``, ``initial_review`` or ``expert_review`` event.
    """

    __tablename__ = "seed_application_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(sa.ForeignKey("seed_applications.id"), index=True)
    action: Mapped[str] = mapped_column(sa.String(32))
    from_status: Mapped[str | None] = mapped_column(sa.String(24))
    to_status: Mapped[str] = mapped_column(sa.String(24))
    happened_on: Mapped[date]
    by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)

    application = relationship(SeedApplication, back_populates="events")
    by = relationship("User", lazy="selectin")


# ------------------------------------------------------------------------------------- seed loans


class SeedLoan(db.Model):
    """An interest-free seed loan (种子基金免息借款), made through the agent bank.

    Running totals (``repaid_principal``, ``written_off_principal``, ``recovered``) are kept in
    the same transaction as each movement; the CHECK constraints hold them within the principal.
    The schedule (``instalments``) is fixed at disbursement, counted from the disbursement date.
    """

    __tablename__ = "seed_loans"
    __table_args__ = (
        sa.UniqueConstraint("contract_year", "contract_seq", name="uq_seed_loans_contract_seq"),
        sa.UniqueConstraint("agent_bank_id", "disbursement_ref", name="uq_seed_loans_disbursement_ref"),
        sa.CheckConstraint("principal > 0", name="positive_principal"),
        sa.CheckConstraint("term_months > 0", name="positive_term"),
        sa.CheckConstraint(_in("repayment", REPAYMENT_KINDS), name="known_repayment"),
        sa.CheckConstraint(_in("status", LOAN_STATUSES), name="known_status"),
        sa.CheckConstraint(
            "repaid_principal >= 0 AND written_off_principal >= 0 AND "
            "repaid_principal + written_off_principal <= principal",
            name="repaid_within_principal",
        ),
        sa.CheckConstraint("recovered >= 0 AND recovered <= written_off_principal", name="recovered_within_loss"),
        sa.CheckConstraint("status = 'contracted' OR disbursed_on IS NOT NULL", name="disbursed_when_active"),
        sa.Index("ix_seed_loans_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(sa.ForeignKey("seed_applications.id"), unique=True)
    enterprise_id: Mapped[int] = mapped_column(sa.ForeignKey("enterprises.id"), index=True)
    agent_bank_id: Mapped[int] = mapped_column(sa.ForeignKey("banks.id"))
    contract_no: Mapped[str] = mapped_column(sa.String(32), unique=True)
    contract_year: Mapped[int]
    contract_seq: Mapped[int]
    principal: Mapped[Decimal] = mapped_column(Money())
    term_months: Mapped[int]
    repayment: Mapped[str] = mapped_column(sa.String(10))
    purpose: Mapped[str] = mapped_column(sa.Text, default="")
    contracted_on: Mapped[date]
    status: Mapped[str] = mapped_column(sa.String(12), default="contracted")
    disbursed_on: Mapped[date | None]
    disbursement_ref: Mapped[str | None] = mapped_column(sa.String(64))
    maturity_date: Mapped[date | None]
    repaid_principal: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    written_off_principal: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    written_off_on: Mapped[date | None]
    recovered: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    policy_id: Mapped[int] = mapped_column(sa.ForeignKey("policies.id"))
    contracted_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    disbursed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)

    application = relationship(SeedApplication, back_populates="loan")
    enterprise = relationship("Enterprise", lazy="joined")
    agent_bank = relationship("Bank", lazy="joined")
    policy = relationship("Policy", lazy="select")
    contracted_by = relationship("User", foreign_keys=[contracted_by_id], lazy="selectin")
    disbursed_by = relationship("User", foreign_keys=[disbursed_by_id], lazy="selectin")
    instalments = relationship("SeedInstalment", back_populates="loan", order_by="SeedInstalment.seq", lazy="selectin")
    repayments = relationship("SeedRepayment", back_populates="loan", order_by="SeedRepayment.paid_on", lazy="selectin")
    write_offs = relationship("SeedWriteOff", back_populates="loan", order_by="SeedWriteOff.id", lazy="selectin")
    recoveries = relationship("SeedRecovery", back_populates="loan", order_by="SeedRecovery.recovered_on", lazy="selectin")

    @property
    def outstanding(self) -> Decimal:
        """Principal still owed to the fund's books (a written-off part is no longer a receivable)."""
        if self.disbursed_on is None:
            return ZERO
        return self.principal - self.repaid_principal - self.written_off_principal


class SeedInstalment(db.Model):
    """One scheduled principal payment; the instalments of a loan add up exactly to its principal."""

    __tablename__ = "seed_instalments"
    __table_args__ = (
        sa.UniqueConstraint("loan_id", "seq", name="uq_seed_instalments_seq"),
        sa.CheckConstraint("principal > 0", name="positive_principal"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    loan_id: Mapped[int] = mapped_column(sa.ForeignKey("seed_loans.id"), index=True)
    seq: Mapped[int]
    due_on: Mapped[date]
    principal: Mapped[Decimal] = mapped_column(Money())

    loan = relationship(SeedLoan, back_populates="instalments")


class SeedRepayment(db.Model):
    """A repayment collected by the agent bank: Dr seed.cash / Cr seed.loans_receivable.

    ``bank_ref`` is the agent bank's reference: the same reference is the same event.
    """

    __tablename__ = "seed_repayments"
    __table_args__ = (
        sa.UniqueConstraint("bank_id", "bank_ref", name="uq_seed_repayments_bank_ref"),
        sa.CheckConstraint("amount > 0", name="positive_amount"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    loan_id: Mapped[int] = mapped_column(sa.ForeignKey("seed_loans.id"), index=True)
    bank_id: Mapped[int] = mapped_column(sa.ForeignKey("banks.id"))
    amount: Mapped[Decimal] = mapped_column(Money())
    paid_on: Mapped[date] = mapped_column(index=True)
    bank_ref: Mapped[str] = mapped_column(sa.String(64))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)

    loan = relationship(SeedLoan, back_populates="repayments")
    created_by = relationship("User", lazy="selectin")


class SeedWriteOff(db.Model):
    """A write-off: proposed by an officer, approved (or rejected) by a manager who did not propose it.

    At most one proposal is open or approved per loan (partial unique index). On approval the
    outstanding principal is the loss: Dr seed.written_off / Cr seed.loans_receivable.
    """

    __tablename__ = "seed_write_offs"
    __table_args__ = (
        sa.CheckConstraint(_in("status", WRITE_OFF_STATUSES), name="known_status"),
        sa.CheckConstraint("amount IS NULL OR amount > 0", name="positive_amount"),
        sa.Index(
            "uq_seed_write_offs_live",
            "loan_id",
            unique=True,
            postgresql_where=sa.text("status IN ('proposed', 'approved')"),
            sqlite_where=sa.text("status IN ('proposed', 'approved')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    loan_id: Mapped[int] = mapped_column(sa.ForeignKey("seed_loans.id"), index=True)
    status: Mapped[str] = mapped_column(sa.String(10), default="proposed")
    reason: Mapped[str] = mapped_column(sa.Text)
    proposed_on: Mapped[date]
    proposed_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    amount: Mapped[Decimal | None] = mapped_column(Money())
    decided_on: Mapped[date | None]
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    decision_comment: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)

    loan = relationship(SeedLoan, back_populates="write_offs")
    proposed_by = relationship("User", foreign_keys=[proposed_by_id], lazy="selectin")
    decided_by = relationship("User", foreign_keys=[decided_by_id], lazy="selectin")


class SeedRecovery(db.Model):
    """Money recovered on a written-off loan: Dr seed.cash / Cr seed.recoveries (back to the fund)."""

    __tablename__ = "seed_recoveries"
    __table_args__ = (
        sa.UniqueConstraint("bank_id", "bank_ref", name="uq_seed_recoveries_bank_ref"),
        sa.CheckConstraint("amount > 0", name="positive_amount"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    loan_id: Mapped[int] = mapped_column(sa.ForeignKey("seed_loans.id"), index=True)
    bank_id: Mapped[int] = mapped_column(sa.ForeignKey("banks.id"))
    amount: Mapped[Decimal] = mapped_column(Money())
    recovered_on: Mapped[date] = mapped_column(index=True)
    bank_ref: Mapped[str] = mapped_column(sa.String(64))
    note: Mapped[str] = mapped_column(sa.Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)

    loan = relationship(SeedLoan, back_populates="recoveries")
    created_by = relationship("User", lazy="selectin")
