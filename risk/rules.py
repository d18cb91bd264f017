"""The pool's arithmetic (domain.md §4) as pure functions: no database, no application.

* **Claim shares**: the pool bears ``round_half_up(P × pool ratio)``, the bank the rest; the pool's
  part is attributed to the city ``round_half_up(pool × city ratio)`` and the county the rest
  (``core.money.split_share`` twice). Every part is whole fen, never negative, and they add up.
* **Recoveries** after payment are split in proportion to the principal each side bore, with the
  same rounding applied to the *cumulative* amount recovered within the compensated principal:
  the pool's part of a recovery is ``pool(R_after) − pool(R_before)``. So however a recovery is cut
  into instalments, the pool gets back exactly its share of the whole once the principal is
  recovered, never more; anything recovered beyond the compensated principal is the bank's.
* **Circuit breaker**: NPL ratio = non-performing covered principal ÷ covered outstanding principal
  (0 without covered outstanding); ``suspended`` at or above the suspension level, ``warning`` at
  or above the warning level, else ``normal``. Compared exactly (``np ≥ level × outstanding``),
  never through a rounded ratio. A manager's lift turns ``suspended`` into ``warning``.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core.money import split_share, to_fen

ZERO = Decimal("0.00")
RATIO_QUANTUM = Decimal("0.000001")  # ratios are stored with six places (ScaledDecimal(6))

NORMAL, WARNING, SUSPENDED = "normal", "warning", "suspended"


@dataclass(frozen=True)
class Shares:
    """A claim's principal and its parts: pool + bank = principal, city + county = pool."""

    principal: Decimal
    pool: Decimal
    bank: Decimal
    city: Decimal
    county: Decimal


def claim_shares(principal: Decimal, pool_ratio: Decimal, city_ratio: Decimal) -> Shares:
    """The shares of a claim for ``principal`` (domain.md §4 rounding).

    >>> claim_shares(Decimal("333333.33"), Decimal("0.80"), Decimal("0.40"))
    Shares(principal=Decimal('333333.33'), pool=Decimal('266666.66'), bank=Decimal('66666.67'), city=Decimal('106666.66'), county=Decimal('160000.00'))
    """
    pool, bank = split_share(principal, pool_ratio)
    city, county = split_share(pool, city_ratio)
    return Shares(principal=principal, pool=pool, bank=bank, city=city, county=county)


@dataclass(frozen=True)
class RecoveryParts:
    """How one recovery is split: pool + bank = amount, city + county = pool."""

    amount: Decimal
    within_principal: Decimal  # the part counting toward the compensated principal
    pool: Decimal
    bank: Decimal
    city: Decimal
    county: Decimal


def recovery_parts(
    amount: Decimal,
    *,
    principal: Decimal,
    pool_ratio: Decimal,
    city_ratio: Decimal,
    recovered_before: Decimal,
    pool_before: Decimal,
    city_before: Decimal,
) -> RecoveryParts:
    """The parts of a recovery of ``amount`` on a claim for ``principal``.

    ``recovered_before`` is what earlier recoveries counted toward the principal; ``pool_before`` and
    ``city_before`` what they gave the pool and the city. The pool's cumulative part follows
    :func:`claim_shares` of the cumulative amount within the principal, so after the whole principal
    is recovered the pool holds exactly its claim share (and the city and county theirs).
    """
    if amount <= 0:
        raise ValueError(f"a recovery must be positive, got {amount}")
    room = max(principal - recovered_before, ZERO)
    within = min(amount, room)
    cumulative = claim_shares(recovered_before + within, pool_ratio, city_ratio)
    pool = cumulative.pool - pool_before
    city = cumulative.city - city_before
    return RecoveryParts(
        amount=amount,
        within_principal=within,
        pool=pool,
        bank=amount - pool,
        city=city,
        county=pool - city,
    )


def npl_ratio(non_performing: Decimal, outstanding: Decimal) -> Decimal:
    """The NPL ratio rounded half-up to six places, for display and storage (0 without outstanding)."""
    if outstanding <= 0:
        return Decimal("0.000000")
    # Integer arithmetic on fen: exact, then one half-up rounding to the millionth.
    numerator, denominator = to_fen(non_performing) * 10**6, to_fen(outstanding)
    millionths = (2 * numerator + denominator) // (2 * denominator)
    return Decimal(millionths).scaleb(-6).quantize(RATIO_QUANTUM)


def breaker_state(
    non_performing: Decimal, outstanding: Decimal, *, warning: Decimal, suspend: Decimal, lifted: bool = False
) -> str:
    """``normal``, ``warning`` or ``suspended`` for these figures and thresholds (exact comparison)."""
    if outstanding <= 0:
        return NORMAL
    if non_performing >= suspend * outstanding:
        return WARNING if lifted else SUSPENDED
    if non_performing >= warning * outstanding:
        return WARNING
    return NORMAL
