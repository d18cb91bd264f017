"""The stress test (domain.md §4 "Adequacy"): the pool's cash month by month under a scenario.

The model, deliberately simple so a fund manager can check it by hand:

* the covered exposure stays constant over the horizon (the programme renews its loans);
* each month ``exposure × annual_default_rate / 12`` defaults, rounded half-up to the fen;
* the pool pays ``pool_share`` of it (``split_share``: rounded half-up to the fen);
* ``recovery_rate`` of what the pool paid comes back ``recovery_lag_months`` later (0: the same
  month), rounded half-up to the fen;
* cash at the end of a month = cash at the start − claims paid + recoveries.

The pool **runs out** in the first month whose claims it cannot pay in full: its cash at the end of
that month is below zero. The projection goes on past that month (the negative cash is the
shortfall), so a reader sees how deep the hole gets. Arithmetic is exact (``Fraction`` then one
half-up rounding to the fen per figure per month); no ``float`` anywhere.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction

from core.money import from_fen, split_share, to_fen

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class StressMonth:
    month: int  # 1 = the first month after the start day
    period: str  # YYYY-MM
    defaults: Decimal
    claims: Decimal
    recoveries: Decimal
    cash: Decimal  # at the end of the month; negative is a shortfall


@dataclass(frozen=True)
class StressResult:
    start_cash: Decimal
    exposure: Decimal
    annual_default_rate: Decimal
    recovery_rate: Decimal
    pool_share: Decimal
    recovery_lag_months: int
    months: tuple[StressMonth, ...]

    @property
    def runs_out_month(self) -> int | None:
        """The first month the pool cannot pay its claims in full, or None within the horizon."""
        return next((row.month for row in self.months if row.cash < 0), None)

    @property
    def runs_out_period(self) -> str | None:
        return next((row.period for row in self.months if row.cash < 0), None)

    @property
    def lowest_cash(self) -> Decimal:
        return min((row.cash for row in self.months), default=self.start_cash)


def _round_half_up_fen(amount: Fraction) -> Decimal:
    """An exact non-negative amount in yuan rounded half-up to the fen."""
    fen = amount * 100
    return from_fen((2 * fen.numerator + fen.denominator) // (2 * fen.denominator))


def monthly_defaults(exposure: Decimal, annual_default_rate: Decimal) -> Decimal:
    """``exposure × annual_default_rate / 12`` rounded half-up to the fen, computed exactly."""
    return _round_half_up_fen(Fraction(exposure) * Fraction(annual_default_rate) / 12)


def _period(start: date, months_after: int) -> str:
    index = start.year * 12 + start.month - 1 + months_after
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def project(
    *,
    start: date,
    start_cash: Decimal,
    exposure: Decimal,
    annual_default_rate: Decimal,
    recovery_rate: Decimal,
    pool_share: Decimal,
    months: int,
    recovery_lag_months: int = 0,
) -> StressResult:
    """Project the pool's cash for ``months`` months after the month of ``start``."""
    for name, ratio in (
        ("annual_default_rate", annual_default_rate),
        ("recovery_rate", recovery_rate),
        ("pool_share", pool_share),
    ):
        if not Decimal(0) <= ratio <= Decimal(1):
            raise ValueError(f"{name} must be between 0 and 1, got {ratio}")
    if months < 1 or recovery_lag_months < 0:
        raise ValueError("months must be at least 1 and the lag not negative")
    to_fen(start_cash), to_fen(exposure)  # whole fen, or ValueError
    defaults = monthly_defaults(exposure, annual_default_rate)
    claims = split_share(defaults, pool_share)[0]
    cash = start_cash
    rows: list[StressMonth] = []
    for month in range(1, months + 1):
        # The claims of month m - lag return now; the same figure every month once the lag has passed.
        recoveries = split_share(claims, recovery_rate)[0] if month > recovery_lag_months else ZERO
        cash = cash - claims + recoveries
        rows.append(
            StressMonth(
                month=month,
                period=_period(start, month),
                defaults=defaults,
                claims=claims,
                recoveries=recoveries,
                cash=cash,
            )
        )
    return StressResult(
        start_cash=start_cash,
        exposure=exposure,
        annual_default_rate=annual_default_rate,
        recovery_rate=recovery_rate,
        pool_share=pool_share,
        recovery_lag_months=recovery_lag_months,
        months=tuple(rows),
    )
