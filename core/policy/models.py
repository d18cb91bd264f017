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
from core.db import UTCDateTime, db
from core.money import Money

GRADES = ("A", "B", "C", "D", "E")

# The defaults of domain.md §1 and §3, in force from the programme's start.
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
    note: Mapped[str] = mapped_column(sa.Text, default="")
    created_by: Mapped[str] = mapped_column(sa.String(64), default="system")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)

    def credit_line_for(self, grade: str) -> Decimal:
        """The credit line of a grade A–E under this version."""
        if grade not in GRADES:
            raise ValueError(f"unknown grade {grade!r}")
        return getattr(self, f"credit_line_{grade.lower()}")


POLICY_NUMBERS: tuple[str, ...] = tuple(k for k in DEFAULT_POLICY if k != "effective_from")
