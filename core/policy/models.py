"""Policy versions (domain.md preamble): the numbers administrators change, each from a date.

A record keeps the id of the version in force on its own date (a loan keeps the rules of its
contract date), so a later change never rewrites the past. Later issues add their numbers as
columns here (with a migration and a default in ``DEFAULT_POLICY``).
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from core import clock
from core.db import ScaledDecimal, UTCDateTime, db
from core.money import Money

GRADES = ("A", "B", "C", "D", "E")

# The defaults of domain.md §1, §3 and §5, in force from the programme's start.
DEFAULT_POLICY: dict[str, Any] = {
    "effective_from": date(2021, 1, 1),
    "credit_line_a": Decimal("5000000.00"),
    "credit_line_b": Decimal("4000000.00"),
    "credit_line_c": Decimal("3000000.00"),
    "credit_line_d": Decimal("1600000.00"),
    "credit_line_e": Decimal("800000.00"),
    "rating_valid_months": 12,
    "max_term_months": 12,
    "special_mention_from_dpd": 1,
    "substandard_from_dpd": 91,
    "doubtful_from_dpd": 271,
    "loss_from_dpd": 361,
    "program_target": Decimal("300000000.00"),
    "program_target_date": date(2025, 12, 31),
    "program_opening": Decimal("113558000.00"),
    "program_opening_enterprises": 71,
    "count_opening_toward_target": True,
    "science_tech_baseline": 216,
    "science_tech_target": 350,
    "high_tech_baseline": 24,
    "high_tech_target": 100,
    # Seed fund (domain.md §1 and §5).
    "seed_fund_size": Decimal("10000000.00"),
    "seed_opening_disbursed": Decimal("6200000.00"),
    "seed_max_amount": Decimal("300000.00"),
    "seed_min_term_months": 1,
    "seed_max_term_months": 24,
    "seed_max_enterprise_age_years": 5,
    "seed_min_expert_reviews": 3,
    "seed_pass_mark": 60,  # nosec B105  # a score threshold, not a password
    "seed_notice_working_days": 5,
    # Risk-compensation pool (domain.md §4); ratios are exact decimals (ScaledDecimal, 6 places).
    "risk_pool_commitment": Decimal("10000000.00"),
    "risk_city_share": Decimal("0.40"),
    "risk_county_share": Decimal("0.60"),
    "risk_pool_share": Decimal("0.80"),
    "risk_min_paid_in_ratio": Decimal("0.10"),
    "risk_claim_trigger_dpd": 91,
    "risk_breaker_warning": Decimal("0.05"),
    "risk_breaker_suspend": Decimal("0.08"),
    "risk_leverage_multiple": 10,
}


class Policy(db.Model):
    __tablename__ = "policies"
    __table_args__ = (
        sa.CheckConstraint(
            "credit_line_a >= credit_line_b AND credit_line_b >= credit_line_c AND "
            "credit_line_c >= credit_line_d AND credit_line_d >= credit_line_e AND credit_line_e > 0",
            name="credit_lines_descend",
        ),
        sa.CheckConstraint(
            "0 < special_mention_from_dpd AND special_mention_from_dpd < substandard_from_dpd AND "
            "substandard_from_dpd < doubtful_from_dpd AND doubtful_from_dpd < loss_from_dpd",
            name="dpd_tiers_ascend",
        ),
        sa.CheckConstraint("rating_valid_months > 0 AND max_term_months > 0", name="positive_terms"),
        sa.CheckConstraint(
            "seed_fund_size > 0 AND seed_opening_disbursed >= 0 AND seed_max_amount > 0 AND "
            "seed_min_term_months >= 1 AND seed_max_term_months >= seed_min_term_months AND "
            "seed_max_enterprise_age_years >= 0 AND seed_min_expert_reviews >= 1 AND "
            "seed_pass_mark >= 0 AND seed_pass_mark <= 100 AND seed_notice_working_days >= 0",
            name="seed_rules",
        ),
        # Ratios are stored as millionths (ScaledDecimal(6)): 1000000 is 1, 400000 is 0.40.
        sa.CheckConstraint(
            "risk_pool_commitment > 0 AND risk_city_share >= 0 AND risk_county_share >= 0 AND "
            "risk_city_share + risk_county_share = 1000000 AND "
            "risk_pool_share >= 0 AND risk_pool_share <= 1000000 AND "
            "risk_min_paid_in_ratio >= 0 AND risk_min_paid_in_ratio <= 1000000 AND "
            "risk_claim_trigger_dpd >= 1 AND risk_breaker_warning > 0 AND "
            "risk_breaker_warning <= risk_breaker_suspend AND risk_breaker_suspend <= 1000000 AND "
            "risk_leverage_multiple >= 1",
            name="risk_rules",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    effective_from: Mapped[date] = mapped_column(unique=True)
    credit_line_a: Mapped[Decimal] = mapped_column(Money())
    credit_line_b: Mapped[Decimal] = mapped_column(Money())
    credit_line_c: Mapped[Decimal] = mapped_column(Money())
    credit_line_d: Mapped[Decimal] = mapped_column(Money())
    credit_line_e: Mapped[Decimal] = mapped_column(Money())
    rating_valid_months: Mapped[int]
    max_term_months: Mapped[int]
    special_mention_from_dpd: Mapped[int]
    substandard_from_dpd: Mapped[int]
    doubtful_from_dpd: Mapped[int]
    loss_from_dpd: Mapped[int]
    program_target: Mapped[Decimal] = mapped_column(Money())
    program_target_date: Mapped[date]
    program_opening: Mapped[Decimal] = mapped_column(Money())
    program_opening_enterprises: Mapped[int]
    count_opening_toward_target: Mapped[bool]
    science_tech_baseline: Mapped[int]
    science_tech_target: Mapped[int]
    high_tech_baseline: Mapped[int]
    high_tech_target: Mapped[int]
    seed_fund_size: Mapped[Decimal] = mapped_column(Money())
    seed_opening_disbursed: Mapped[Decimal] = mapped_column(Money())
    seed_max_amount: Mapped[Decimal] = mapped_column(Money())
    seed_min_term_months: Mapped[int]
    seed_max_term_months: Mapped[int]
    seed_max_enterprise_age_years: Mapped[int]
    seed_min_expert_reviews: Mapped[int]
    seed_pass_mark: Mapped[int]  # minimum average expert score, 0–100
    seed_notice_working_days: Mapped[int]
    # Risk-compensation pool (domain.md §4).
    risk_pool_commitment: Mapped[Decimal] = mapped_column(Money())  # the pool's committed size
    risk_city_share: Mapped[Decimal] = mapped_column(ScaledDecimal(6))  # city's part of the pool (0.40)
    risk_county_share: Mapped[Decimal] = mapped_column(ScaledDecimal(6))  # county's part (0.60); sum is 1
    risk_pool_share: Mapped[Decimal] = mapped_column(ScaledDecimal(6))  # pool's part of a claim (0.80)
    risk_min_paid_in_ratio: Mapped[Decimal] = mapped_column(ScaledDecimal(6))  # paid-in before covering (0.10)
    risk_claim_trigger_dpd: Mapped[int]  # a claim needs DPD at least this (91: non-performing)
    risk_breaker_warning: Mapped[Decimal] = mapped_column(ScaledDecimal(6))  # NPL ratio warning level (0.05)
    risk_breaker_suspend: Mapped[Decimal] = mapped_column(ScaledDecimal(6))  # NPL ratio suspension level (0.08)
    risk_leverage_multiple: Mapped[int]  # covered exposure <= multiple x paid-in (10)
    note: Mapped[str] = mapped_column(sa.Text, default="")
    created_by: Mapped[str] = mapped_column(sa.String(64), default="system")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)

    def credit_line_for(self, grade: str) -> Decimal:
        """The credit line of a grade A–E under this version."""
        if grade not in GRADES:
            raise ValueError(f"unknown grade {grade!r}")
        return getattr(self, f"credit_line_{grade.lower()}")


POLICY_NUMBERS: tuple[str, ...] = tuple(k for k in DEFAULT_POLICY if k != "effective_from")
