"""The shared registry (domain.md §2–3).

- Partner banks (合作银行) lend knowledge-value loans with their own money and report to the programme.
- Enterprises (企业) and their credit ratings A–E; the credit line is fixed by the policy of the rating date.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core import clock
from core.db import UTCDateTime, db
from core.money import Money


class Bank(db.Model):
    __tablename__ = "banks"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    is_active: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)

    def __repr__(self) -> str:
        return f"<Bank {self.code}>"


class Enterprise(db.Model):
    __tablename__ = "enterprises"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), index=True)
    credit_code: Mapped[str] = mapped_column(sa.String(18), unique=True)
    registered_on: Mapped[date]
    town: Mapped[str] = mapped_column(sa.String(64), index=True)
    industry: Mapped[str] = mapped_column(sa.String(64), index=True)
    is_science_tech: Mapped[bool] = mapped_column(default=False)
    is_high_tech: Mapped[bool] = mapped_column(default=False)
    bad_credit: Mapped[bool] = mapped_column(default=False)
    dishonest: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)

    ratings = relationship("Rating", back_populates="enterprise", order_by="Rating.rated_on", lazy="selectin")


class Rating(db.Model):
    """A grade A–E from the city's evaluation; the credit line is fixed by the policy of ``rated_on``."""

    __tablename__ = "ratings"
    __table_args__ = (
        sa.CheckConstraint("grade IN ('A', 'B', 'C', 'D', 'E')", name="known_grade"),
        sa.CheckConstraint("valid_until > rated_on", name="valid_after_rating"),
        sa.UniqueConstraint("enterprise_id", "rated_on", name="uq_ratings_enterprise_day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(sa.ForeignKey("enterprises.id"), index=True)
    grade: Mapped[str] = mapped_column(sa.String(1))
    rated_on: Mapped[date]
    valid_until: Mapped[date]  # last day the rating is valid
    credit_line: Mapped[Decimal] = mapped_column(Money())
    policy_id: Mapped[int] = mapped_column(sa.ForeignKey("policies.id"))
    created_by: Mapped[str] = mapped_column(sa.String(64), default="system")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)

    enterprise = relationship(Enterprise, back_populates="ratings")
