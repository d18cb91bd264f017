"""Money into and out of the pool: contributions, and paying approved claims in approval order.

Rules (domain.md §4):

* A contribution is paid in by the city or the county (its source), dated ``received_on``; it
  posts Dr ``risk.cash`` / Cr ``risk.contributions.<source>``. Paid-in capital never exceeds the
  commitment of the policy in force on that day (409).
* An approved claim is paid when the pool's cash suffices, else it waits as *approved-unpaid*.
  Waiting claims are paid strictly in approval order (``approval_seq``): a later approval never
  overtakes an earlier one, even when its smaller amount would fit. Each contribution (and each
  recovery, which also brings cash) pays the queue from its head while the cash suffices.
* A payment posts Dr ``risk.compensation.city`` (city share) + Dr ``risk.compensation.county``
  (county share) / Cr ``risk.cash`` (pool share), dated the later of the money's day and the
  claim's approval. It never takes the cash below zero on its date or any later date
  (``risk.queries.cash_available_from``).

All of it runs under the pool's lock (``risk.services.common.lock_pool``).
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from core.db import db
from core.errors import BusinessRuleError
from core.i18n import _
from core.money import format_cny
from core.policy.services import policy_in_force
from risk.accounts import CASH, COMPENSATION, CONTRIBUTIONS
from risk.models import SOURCES, ClaimStatus, RiskClaim, RiskContribution
from risk.queries import cash_available_from, ledger_figures
from risk.services.common import NOTE_MAX_LENGTH, amount_error, business_day, lock_pool, post, raise_if, text

SOURCE_NAMES = {"city": "市级", "county": "县级"}  # for the books' memos (Chinese, like the account names)


def record_contribution(
    *, source: str, amount: Decimal, received_on: date | None, note: str = "", by_id: int | None
) -> tuple[RiskContribution, list[RiskClaim]]:
    """Money paid into the pool; returns it and the queued claims it paid (in approval order).

    422: unknown source, amount not positive or malformed, date in the future. 409: paid-in capital
    would exceed the commitment, closed month, no policy in force on the day.
    """
    errors: dict[str, list[str]] = {}
    if source not in SOURCES:
        errors["source"] = [_("出资方应为 city（市级）或 county（县级）")]
    if (problem := amount_error(amount)) is not None:
        errors["amount"] = [problem]
    clean_note = text(note, "note", _("备注"), NOTE_MAX_LENGTH, errors, required=False)
    raise_if(errors)
    day = business_day(received_on, "received_on")

    lock_pool()
    commitment = policy_in_force(day).risk_pool_commitment
    paid_in = ledger_figures().paid_in
    if paid_in + amount > commitment:
        room = max(commitment - paid_in, Decimal("0.00"))
        raise BusinessRuleError(
            _(
                "到位资金将超过资金池认缴规模：认缴 %(committed)s，已到位 %(paid_in)s，最多还可注入 %(room)s",
                committed=format_cny(commitment),
                paid_in=format_cny(paid_in),
                room=format_cny(room),
            ),
            {"amount": [_("最多还可注入 %(room)s", room=format_cny(room))]},
        )
    contribution = RiskContribution(
        source=source, amount=amount, received_on=day, note=clean_note, created_by_id=by_id
    )
    db.session.add(contribution)
    db.session.flush()
    post(
        day,
        f"风险补偿资金池注资（{SOURCE_NAMES[source]}）",
        [(CASH, amount), (CONTRIBUTIONS[source], -amount)],
        ("risk_contribution", contribution.id),
    )
    return contribution, pay_queue(day)


def _queue_locked() -> list[RiskClaim]:
    """The approved-unpaid claims in approval order, their rows locked (after the pool's: same order everywhere)."""
    return list(
        db.session.scalars(
            sa.select(RiskClaim)
            .where(RiskClaim.status == ClaimStatus.APPROVED_UNPAID.value)
            .order_by(RiskClaim.approval_seq)
            .with_for_update(of=RiskClaim)
            .execution_options(populate_existing=True)
        )
    )


def pay_queue(day: date) -> list[RiskClaim]:
    """Pay approved-unpaid claims from the head of the queue while the cash suffices; the paid ones.

    Call under the pool lock. Stops at the first claim that does not fit (strict approval order).
    """
    paid: list[RiskClaim] = []
    for claim in _queue_locked():
        pay_day = max(day, claim.approved_on or day)
        if cash_available_from(pay_day) < claim.pool_share:
            break
        pay_claim(claim, pay_day)
        paid.append(claim)
    return paid


def pay_claim(claim: RiskClaim, day: date) -> None:
    """Post the payment of an approved claim dated ``day`` and mark it paid (caller checked the cash)."""
    claim.status = ClaimStatus.PAID.value
    claim.paid_on = day
    db.session.flush()
    post(
        day,
        f"代偿支付：贷款合同 {claim.loan.contract_no}（代偿申请 {claim.id}）",
        [
            (COMPENSATION["city"], claim.city_share),
            (COMPENSATION["county"], claim.county_share),
            (CASH, -claim.pool_share),
        ],
        ("risk_claim", claim.id),
    )
