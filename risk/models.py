"""The risk-compensation pool's records (domain.md §4): contributions, claims, recoveries, the breaker.

Money movements are on the ledger (fund ``risk``, see ``risk.accounts``); these tables are the
sub-ledger that says why each movement happened. A loan's coverage is stored on the loan itself
(``loans.covered`` / ``loans.coverage_reason``, set by ``risk.services.coverage``) so that the loans
package can show it without importing this one.

Who did a step is a user id (four eyes compares ids); business dates (``*_on``, ``as_of``) are the
dates on paper, which may be earlier than the row's ``created_at`` (api.md: the optional ``on``).
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


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class ClaimStatus(str, enum.Enum):
    SUBMITTED = "submitted"
    PAID = "paid"  # approved and paid
    APPROVED_UNPAID = "approved_unpaid"  # approved, queued until the pool's cash suffices
    REJECTED = "rejected"


CLAIM_STATUSES = tuple(status.value for status in ClaimStatus)
SOURCES = ("city", "county")
BREAKER_STATES = ("normal", "warning", "suspended")


class RiskPoolState(db.Model):
    """The pool's single row: the lock every check on the pool's money takes (``SELECT ... FOR UPDATE``).

    Contributions, approvals, queued payments, recoveries and coverage decisions (the leverage cap)
    take it first, so two of them never both read the same cash or exposure and both spend it.
    """

    __tablename__ = "risk_pool_state"
    __table_args__ = (sa.CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)


class RiskContribution(db.Model):
    """Money paid into the pool by the city or the county (Dr risk.cash / Cr risk.contributions.<source>)."""

    __tablename__ = "risk_contributions"
    __table_args__ = (
        sa.CheckConstraint(_in("source", SOURCES), name="known_source"),
        sa.CheckConstraint("amount > 0", name="positive_amount"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(sa.String(10))
    amount: Mapped[Decimal] = mapped_column(Money())
    received_on: Mapped[date] = mapped_column(index=True)
    note: Mapped[str] = mapped_column(sa.Text(), default="")
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)

    created_by = relationship("User", lazy="joined")


class RiskClaim(db.Model):
    """A bank's claim for the overdue, unrecovered principal of a covered, non-performing loan.

    The shares are computed once, at filing, with the ratios of the loan's policy (the version in
    force on its contract date) and the rounding of domain.md §4; the CHECK constraints hold them
    adding up exactly. ``active_loan_id`` equals ``loan_id`` while the claim is not rejected and is
    UNIQUE: a loan has at most one claim that is open or paid, even when two are filed at once.
    ``approval_seq`` is the order of approval (assigned under the pool lock): queued claims are paid
    in that order.
    """

    __tablename__ = "risk_claims"
    __table_args__ = (
        sa.CheckConstraint(_in("status", CLAIM_STATUSES), name="known_status"),
        sa.CheckConstraint("principal > 0", name="positive_principal"),
        sa.CheckConstraint(
            "pool_share >= 0 AND bank_share >= 0 AND city_share >= 0 AND county_share >= 0", name="shares_not_negative"
        ),
        sa.CheckConstraint("pool_share + bank_share = principal", name="pool_and_bank_add_up"),
        sa.CheckConstraint("city_share + county_share = pool_share", name="city_and_county_add_up"),
        sa.CheckConstraint(
            "(status = 'rejected' AND active_loan_id IS NULL) OR (status <> 'rejected' AND active_loan_id = loan_id)",
            name="active_key_follows_status",
        ),
        sa.CheckConstraint(
            "(status IN ('paid', 'approved_unpaid')) = (approval_seq IS NOT NULL)", name="approved_claims_queued"
        ),
        sa.CheckConstraint("(status = 'paid') = (paid_on IS NOT NULL)", name="paid_claims_dated"),
        sa.Index("ix_risk_claims_status_seq", "status", "approval_seq"),
        sa.Index("ix_risk_claims_bank_status", "bank_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    loan_id: Mapped[int] = mapped_column(sa.ForeignKey("loans.id"), index=True)
    active_loan_id: Mapped[int | None] = mapped_column(sa.ForeignKey("loans.id"), unique=True)
    bank_id: Mapped[int] = mapped_column(sa.ForeignKey("banks.id"))
    policy_id: Mapped[int] = mapped_column(sa.ForeignKey("policies.id"))
    as_of: Mapped[date]
    days_past_due: Mapped[int]
    principal: Mapped[Decimal] = mapped_column(Money())
    pool_ratio: Mapped[Decimal] = mapped_column(ScaledDecimal(6))
    city_ratio: Mapped[Decimal] = mapped_column(ScaledDecimal(6))
    pool_share: Mapped[Decimal] = mapped_column(Money())
    bank_share: Mapped[Decimal] = mapped_column(Money())
    city_share: Mapped[Decimal] = mapped_column(Money())
    county_share: Mapped[Decimal] = mapped_column(Money())
    status: Mapped[str] = mapped_column(sa.String(16), default=ClaimStatus.SUBMITTED.value)
    filed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    approval_seq: Mapped[int | None] = mapped_column(unique=True)
    approved_on: Mapped[date | None]
    approved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    paid_on: Mapped[date | None]
    rejected_on: Mapped[date | None]
    rejected_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    rejection_reason: Mapped[str | None] = mapped_column(sa.Text())
    # The compensation notice (代偿通知书) is due from approval until the documents module issues it.
    notice_pending: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)

    loan = relationship("Loan", foreign_keys=[loan_id], lazy="joined")
    bank = relationship("Bank", lazy="joined")
    filed_by = relationship("User", foreign_keys=[filed_by_id], lazy="joined")
    approved_by = relationship("User", foreign_keys=[approved_by_id], lazy="joined")
    rejected_by = relationship("User", foreign_keys=[rejected_by_id], lazy="joined")
    recoveries = relationship(
        "RiskRecovery", back_populates="claim", order_by="RiskRecovery.id", lazy="selectin"
    )


class RiskRecovery(db.Model):
    """Money recovered on a paid claim (追偿), split between the pool and the bank.

    ``within_principal`` is the part of ``amount`` that counts toward the compensated principal
    (the rest, beyond it, is the bank's alone); the pool's part follows cumulatively, so that the
    pool never gets back more than its share and the parts always add up exactly.
    """

    __tablename__ = "risk_recoveries"
    __table_args__ = (
        sa.CheckConstraint("amount > 0", name="positive_amount"),
        sa.CheckConstraint(
            "pool_part >= 0 AND bank_part >= 0 AND city_part >= 0 AND county_part >= 0 AND "
            "within_principal >= 0 AND within_principal <= amount",
            name="parts_not_negative",
        ),
        sa.CheckConstraint("pool_part + bank_part = amount", name="pool_and_bank_add_up"),
        sa.CheckConstraint("city_part + county_part = pool_part", name="city_and_county_add_up"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(sa.ForeignKey("risk_claims.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money())
    within_principal: Mapped[Decimal] = mapped_column(Money())
    pool_part: Mapped[Decimal] = mapped_column(Money())
    bank_part: Mapped[Decimal] = mapped_column(Money())
    city_part: Mapped[Decimal] = mapped_column(Money())
    county_part: Mapped[Decimal] = mapped_column(Money())
    recovered_on: Mapped[date]
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)

    claim = relationship(RiskClaim, back_populates="recoveries")
    created_by = relationship("User", lazy="joined")


class RiskBreaker(db.Model):
    """A bank's circuit breaker (熔断) as last recorded: one row per bank, its lock and its state.

    ``evaluated_on`` is the latest day the state was evaluated for; an evaluation for an earlier
    day changes nothing (the history in ``risk_breaker_events`` answers for past days).
    ``lifted`` is a fund manager's lift: while set, a ratio at or above the suspension level reads
    ``warning`` instead of ``suspended``; it ends when the ratio falls below the warning level.
    """

    __tablename__ = "risk_breakers"
    __table_args__ = (sa.CheckConstraint(_in("state", BREAKER_STATES), name="known_state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[int] = mapped_column(sa.ForeignKey("banks.id"), unique=True)
    state: Mapped[str] = mapped_column(sa.String(10), default="normal")
    npl_ratio: Mapped[Decimal] = mapped_column(ScaledDecimal(6), default=Decimal("0"))
    evaluated_on: Mapped[date | None]
    lifted: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, onupdate=clock.now)

    bank = relationship("Bank", lazy="joined")


class RiskBreakerEvent(db.Model):
    """Every change of a bank's breaker state: the new state, the ratio then, the day, who and why.

    ``by_id`` is NULL for an automatic change (an evaluation); a lift names the fund manager and
    carries the written reason.
    """

    __tablename__ = "risk_breaker_events"
    __table_args__ = (
        sa.CheckConstraint(_in("state", BREAKER_STATES), name="known_state"),
        sa.CheckConstraint(_in("previous_state", BREAKER_STATES), name="known_previous_state"),
        sa.Index("ix_risk_breaker_events_bank_changed_on", "bank_id", "changed_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[int] = mapped_column(sa.ForeignKey("banks.id"))
    previous_state: Mapped[str] = mapped_column(sa.String(10))
    state: Mapped[str] = mapped_column(sa.String(10))
    npl_ratio: Mapped[Decimal] = mapped_column(ScaledDecimal(6))
    changed_on: Mapped[date]
    by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(sa.Text(), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)

    bank = relationship("Bank", lazy="joined")
    by = relationship("User", lazy="joined")
