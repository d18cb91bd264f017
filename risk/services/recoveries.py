"""Recoveries after compensation (追偿, domain.md §4).

Money the bank recovers on a loan whose claim the pool has paid is split back in proportion to the
principal each side bore (the claim's pool ratio, same rounding rule, cumulatively: see
``risk.rules.recovery_parts``); whatever is recovered beyond the compensated principal is the
bank's. The pool's part returns to its cash: Dr ``risk.cash`` / Cr ``risk.recoveries.city`` and
``risk.recoveries.county`` (the pool's part attributed like the payment). Cash coming back then pays
queued claims in approval order, like a contribution.

Refused: a claim that is not paid (409), a date before the payment (409), in the future (422) or in
a closed month (409). Runs under the pool's lock, then the claim's.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from core.db import db
from core.errors import BusinessRuleError
from core.i18n import _
from core.money import Money
from risk import rules
from risk.accounts import CASH, RECOVERIES
from risk.models import ClaimStatus, RiskRecovery
from risk.services.claims import lock_claim
from risk.services.common import amount_error, business_day, lock_pool, post, raise_if
from risk.services.pool import pay_queue

ZERO = Decimal("0.00")


def _recovered_so_far(claim_id: int) -> tuple[Decimal, Decimal, Decimal]:
    """(within principal, pool part, city part) of the claim's earlier recoveries. One query."""
    zero = sa.literal(ZERO, Money())
    within, pool, city = db.session.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(RiskRecovery.within_principal), zero),
            sa.func.coalesce(sa.func.sum(RiskRecovery.pool_part), zero),
            sa.func.coalesce(sa.func.sum(RiskRecovery.city_part), zero),
        ).where(RiskRecovery.claim_id == claim_id)
    ).one()
    return within, pool, city


def record_recovery(claim_id: int, *, amount: Decimal, recovered_on: date | None, by_id: int | None) -> RiskRecovery:
    """Record money recovered on a paid claim; returns it with its pool and bank parts."""
    errors: dict[str, list[str]] = {}
    if (problem := amount_error(amount)) is not None:
        errors["amount"] = [problem]
    raise_if(errors)
    day = business_day(recovered_on, "recovered_on")
    lock_pool()
    claim = lock_claim(claim_id)
    if claim.status != ClaimStatus.PAID.value:
        raise BusinessRuleError(_("代偿申请 %(id)s 尚未支付代偿款，不能登记追偿", id=claim.id))
    assert claim.paid_on is not None
    if day < claim.paid_on:
        raise BusinessRuleError(
            _("追偿日期 %(day)s 早于代偿支付日期 %(paid)s", day=day.isoformat(), paid=claim.paid_on.isoformat()),
            {"recovered_on": [_("不能早于 %(paid)s", paid=claim.paid_on.isoformat())]},
        )
    within_before, pool_before, city_before = _recovered_so_far(claim.id)
    parts = rules.recovery_parts(
        amount,
        principal=claim.principal,
        pool_ratio=claim.pool_ratio,
        city_ratio=claim.city_ratio,
        recovered_before=within_before,
        pool_before=pool_before,
        city_before=city_before,
    )
    recovery = RiskRecovery(
        claim_id=claim.id,
        amount=parts.amount,
        within_principal=parts.within_principal,
        pool_part=parts.pool,
        bank_part=parts.bank,
        city_part=parts.city,
        county_part=parts.county,
        recovered_on=day,
        created_by_id=by_id,
    )
    db.session.add(recovery)
    db.session.flush()
    post(
        day,
        f"追偿收回：代偿申请 {claim.id}",
        [(CASH, parts.pool), (RECOVERIES["city"], -parts.city), (RECOVERIES["county"], -parts.county)],
        ("risk_recovery", recovery.id),
    )
    pay_queue(day)
    return recovery
