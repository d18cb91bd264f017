"""Whether the pool covers a loan: decided once, as of its contract date, with the reason stored.

Rules (domain.md §4), with the numbers of the policy in force on the contract date (the loan's own
``policy_id``, so a later policy change affects only later loans), checked in this order:

1. ``pool_underfunded``: the pool's paid-in capital on the contract date is nothing, or less than
   ``risk_min_paid_in_ratio`` (10%) of ``risk_pool_commitment``;
2. ``bank_suspended``: the bank's breaker is suspended on the contract date (evaluated first,
   see ``risk.services.breaker``); claims on loans covered earlier remain valid;
3. ``leverage_cap``: the covered exposure on the contract date (``risk.queries.covered_exposure``)
   plus this loan's principal would exceed ``risk_leverage_multiple`` (10) × paid-in capital.

Otherwise the loan is covered. The decision is stored on the loan (``loans.covered``,
``loans.coverage_reason``: a code of ``risk.labels.COVERAGE_REASONS``, NULL when covered) and never
revisited. It runs inside the loan's creation (``loans.services.loan_created_hooks``, registered by
``config``), under the pool's lock, so two loans contracted at once cannot both squeeze under the
leverage cap.
"""
from __future__ import annotations

from datetime import date

from core.db import db
from core.policy.models import Policy
from loans.models import Loan
from risk import rules
from risk.labels import BANK_SUSPENDED, LEVERAGE_CAP, POOL_UNDERFUNDED
from risk.queries import breaker_state_on, covered_exposure, ledger_figures, policy_on
from risk.services.breaker import evaluate_breaker
from risk.services.common import lock_pool

def coverage_decision(loan: Loan, day: date, policy: Policy) -> tuple[bool, str | None]:
    """(covered, reason code) for ``loan`` contracted on ``day`` under ``policy``. Call under the pool lock."""
    paid_in = ledger_figures(day).paid_in
    if paid_in <= 0 or paid_in < policy.risk_pool_commitment * policy.risk_min_paid_in_ratio:
        return False, POOL_UNDERFUNDED
    evaluate_breaker(loan.bank_id, day)
    if breaker_state_on(loan.bank_id, day) == rules.SUSPENDED:
        return False, BANK_SUSPENDED
    if covered_exposure(day) + loan.principal > paid_in * policy.risk_leverage_multiple:
        return False, LEVERAGE_CAP
    return True, None


def decide_coverage(loan: Loan) -> None:
    """Decide and store whether the pool covers ``loan`` (a hook of ``loans.services.create_loan``).

    Does nothing for a loan already decided: the decision is made once.
    """
    if loan.covered is not None:
        return
    lock_pool()
    policy = db.session.get(Policy, loan.policy_id) if loan.policy_id is not None else None
    covered, reason = coverage_decision(loan, loan.start_date, policy or policy_on(loan.start_date))
    loan.covered = covered
    loan.coverage_reason = reason
    db.session.flush()
