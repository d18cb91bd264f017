"""Demonstration activity of the risk-compensation pool, for ``flask demo load`` and ``flask demo generate``.

Two steps, both through ``risk.services`` (and ``core.policy.services``), so every rule of the pool holds:

- :func:`fund_pool_demo`, called after the loans are planned and before the first is contracted: the
  city and the county pay in (in the policy's city/county shares) enough capital that the coverage
  decision of every planned loan finds the pool funded (paid-in at least ``risk_min_paid_in_ratio`` of
  the commitment) and within the leverage cap (covered exposure ≤ ``risk_leverage_multiple`` × paid-in).
  When that capital is beyond the commitment of the policy in force (a province-sized data set), a new
  policy version raising the commitment takes effect that day first, as the bureau would adopt one.
- :func:`load_claims_demo`, after the loans are recorded: the banks' liaisons file a claim on every
  covered loan that is non-performing (past the claim trigger) today; the fund managers approve most
  (paid at once, or queued while the cash falls short), reject a few (some filed again, corrected,
  and approved) and leave the latest undecided; some paid claims bring a recovery back.

Dates are never after ``today``; every choice is drawn from the caller's seeded ``random.Random``.
"""
from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_DOWN, Decimal

import sqlalchemy as sa

from core.db import db
from core.policy.models import Policy
from core.policy.services import create_policy_version, policy_in_force
from loans.models import Loan, LoanStatus
from loans.queries import loan_states
from risk import services
from risk.models import RiskClaim

__all__ = ["CLAIM_STORIES", "fund_pool_demo", "load_claims_demo"]

CAPITAL_STEP = Decimal("100000.00")  # contributions are whole hundred-thousands
COMMITMENT_STEP = Decimal("10000000.00")  # a raised commitment is a whole ten million
# What happens to the claims, in turn (by loan): approved ones are paid, or queued while the pool's
# cash falls short; a rejected claim is sometimes filed again, corrected, and approved.
CLAIM_STORIES = ("recovered", "rejected_refiled", "submitted", "approved", "approved", "approved", "rejected",
                 "approved", "recovered", "approved")
REJECTION_REASON = "逾期本金与银行报送的台账不一致，请核对后重新申请"


def _round_up(amount: Decimal, step: Decimal) -> Decimal:
    return (amount / step).to_integral_value(rounding=ROUND_CEILING) * step


def fund_pool_demo(
    first_contract: date, peak_exposure: Decimal, *, by_id: int | None, created_by: str
) -> dict[str, int]:
    """Pay in the capital that covers the planned loans, the day before the ``first_contract``.

    ``peak_exposure``: the most principal the planned loans ever have outstanding at once. The capital
    is the larger of the minimum paid-in and ``peak_exposure`` ÷ the leverage multiple, rounded up to
    100,000.00; the city pays its policy share, the county the rest. Flushes only.
    """
    day = first_contract - timedelta(days=1)
    policy = policy_in_force(day)
    minimum = policy.risk_pool_commitment * policy.risk_min_paid_in_ratio
    capital = _round_up(max(minimum, peak_exposure / policy.risk_leverage_multiple), CAPITAL_STEP)
    policies = 0
    if capital > policy.risk_pool_commitment:
        create_policy_version(
            {"risk_pool_commitment": _round_up(capital, COMMITMENT_STEP)},
            day,
            created_by,
            note="扩大风险补偿资金池认缴规模，覆盖全部合作银行的知识价值信用贷款",
        )
        policies = 1
        policy = policy_in_force(day)
    city = (capital * policy.risk_city_share).quantize(CAPITAL_STEP, rounding=ROUND_DOWN)
    for source, amount, note in (("city", city, "市级财政出资"), ("county", capital - city, "县级财政出资")):
        if amount > 0:
            services.record_contribution(source=source, amount=amount, received_on=day, note=note, by_id=by_id)
    return {"risk_policies": policies, "risk_contributions": 2 if 0 < city < capital else 1}


@dataclass
class _Claim:
    loan_id: int
    filer: int
    story: str
    claim_id: int = 0


class _Steps:
    """Steps run in date order (same day: the order they were planned in)."""

    def __init__(self) -> None:
        self.steps: list[tuple[date, int, Callable[[], None]]] = []

    def at(self, day: date, step: Callable[[], None]) -> None:
        self.steps.append((day, len(self.steps), step))

    def run(self, progress: Callable[[int], None] | None) -> None:
        for _day, _order, step in sorted(self.steps, key=lambda item: (item[0], item[1])):
            step()
            if progress is not None:
                progress(1)


def _non_performing_covered(today: date) -> list[tuple[Loan, int, int]]:
    """(loan, days past due today, claim trigger) of the covered loans past their trigger, by id."""
    triggers: dict[int, int] = {policy_id: dpd for policy_id, dpd in db.session.execute(sa.select(Policy.id, Policy.risk_claim_trigger_dpd))}
    lowest = min(triggers.values(), default=91)
    loans = db.session.scalars(
        sa.select(Loan)
        .where(
            Loan.covered.is_(True),
            Loan.status != LoanStatus.REPAID.value,
            Loan.maturity_date < today - timedelta(days=lowest),
        )
        .order_by(Loan.id)
    ).all()
    states = loan_states(loans, today)
    found = []
    for loan in loans:
        trigger = triggers[loan.policy_id]
        if states[loan.id].days_past_due >= trigger:
            found.append((loan, states[loan.id].days_past_due, trigger))
    return found


def load_claims_demo(
    *,
    today: date,
    rng: random.Random,
    filers: Mapping[int, int],
    managers: tuple[int, int],
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """File, decide and recover claims on today's non-performing covered loans; returns the counts.

    ``filers`` maps a bank's id to its liaison's user id (who files and records recoveries);
    ``managers`` are the two fund managers (who decide, in turn). Flushes only (the caller commits).
    """
    steps = _Steps()
    claims: list[_Claim] = []
    recovered: list[int] = []
    for index, (loan, dpd, trigger) in enumerate(_non_performing_covered(today)):
        filer = filers.get(loan.bank_id)
        if filer is None:
            continue
        story = CLAIM_STORIES[index % len(CLAIM_STORIES)]
        claim = _Claim(loan.id, filer, story)
        claims.append(claim)
        # Filed some time after the loan crossed the trigger; within the last half year.
        filed = today - timedelta(days=rng.randint(0, min(dpd - trigger, 180)))
        if story == "submitted":
            filed = today - timedelta(days=rng.randint(0, min(dpd - trigger, 10)))
        steps.at(filed, _filing(claim, filed))
        decided = min(filed + timedelta(days=rng.randint(3, 20)), today)
        manager = managers[index % 2]
        if story in ("approved", "recovered"):
            steps.at(decided, _approval(claim, decided, manager))
        if story == "recovered":
            recovered_on = min(decided + timedelta(days=rng.randint(20, 90)), today)
            share = Decimal(rng.randint(10, 40)) / 100
            steps.at(recovered_on, _recovery(claim, recovered_on, share, recovered))
        if story in ("rejected", "rejected_refiled"):
            steps.at(decided, _rejection(claim, decided, manager))
            if story == "rejected_refiled":
                refiled = min(decided + timedelta(days=rng.randint(5, 30)), today)
                again = _Claim(loan.id, filer, "approved")
                claims.append(again)
                steps.at(refiled, _filing(again, refiled))
                approved = min(refiled + timedelta(days=rng.randint(3, 20)), today)
                steps.at(approved, _approval(again, approved, managers[(index + 1) % 2]))
    steps.run(progress)
    db.session.flush()
    return {"risk_claims": len(claims), "risk_recoveries": len(recovered)}


def _filing(claim: _Claim, day: date) -> Callable[[], None]:
    def step() -> None:
        claim.claim_id = services.file_claim(claim.loan_id, as_of=day, by_id=claim.filer).id

    return step


def _approval(claim: _Claim, day: date, manager: int) -> Callable[[], None]:
    return lambda: services.approve_claim(claim.claim_id, on=day, by_id=manager)


def _rejection(claim: _Claim, day: date, manager: int) -> Callable[[], None]:
    return lambda: services.reject_claim(claim.claim_id, reason=REJECTION_REASON, on=day, by_id=manager)


def _recovery(claim: _Claim, day: date, share: Decimal, recorded: list[int]) -> Callable[[], None]:
    """The bank recovers ``share`` of the compensated principal (if the claim was paid by then);
    the claim's id is added to ``recorded``."""

    def step() -> None:
        paid = db.session.get(RiskClaim, claim.claim_id)
        if paid is None or paid.paid_on is None or paid.paid_on > day:
            return  # still queued for want of cash: nothing paid, nothing to recover yet
        amount = (paid.principal * share).quantize(Decimal("100"), rounding=ROUND_DOWN).quantize(Decimal("0.01"))
        if amount > 0:
            services.record_recovery(claim.claim_id, amount=amount, recovered_on=day, by_id=claim.filer)
            recorded.append(claim.claim_id)

    return step
