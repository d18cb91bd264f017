"""The repayment schedule of a seed loan (domain.md §5): interest-free, principal only.

- ``bullet``: the whole principal at maturity, ``term_months`` calendar months after disbursement;
- ``monthly``: ``term_months`` equal instalments, one each month after disbursement, split with
  :func:`core.money.instalments` so they add up exactly to the principal (the last one takes the
  remainder: 100,000.00 over 3 months is 33,333.33 / 33,333.33 / 33,333.34).

Due dates are counted from the disbursement date, each from the start (not from the previous due
date), and clamped to the month's end: a loan disbursed on 31 January is due on 28 (or 29)
February, then on 31 March.
"""
from __future__ import annotations

import calendar
from datetime import date
from decimal import Decimal

from core.money import instalments

__all__ = ["add_months", "build_schedule"]

Instalment = tuple[date, Decimal]


def add_months(day: date, months: int) -> date:
    """``day`` plus ``months`` calendar months, clamped to the month's end (2025-01-31 + 1 = 2025-02-28)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def build_schedule(principal: Decimal, term_months: int, repayment: str, start: date) -> list[Instalment]:
    """``[(due_on, principal), ...]`` in due-date order; the principals add up exactly to ``principal``."""
    if isinstance(term_months, bool) or not isinstance(term_months, int) or term_months < 1:
        raise ValueError(f"term_months must be a positive int, got {term_months!r}")
    if repayment == "bullet":
        return [(add_months(start, term_months), instalments(principal, 1)[0])]
    if repayment == "monthly":
        parts = instalments(principal, term_months)
        return [(add_months(start, n), part) for n, part in enumerate(parts, start=1)]
    raise ValueError(f"unknown repayment kind {repayment!r}")
