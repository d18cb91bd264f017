"""The pool's rules, one module per job; import them from here.

They lock before they read what they change, flush and never commit (``core.unit_of_work``), and
refuse with ``core.errors`` (422 a field, 409 a rule, 404 an unknown record), writing nothing.
"""
from risk.services.breaker import evaluate_breaker, evaluate_breakers, lift_breaker, lock_breaker
from risk.services.claims import approve_claim, file_claim, lock_claim, mark_notice_issued, reject_claim
from risk.services.common import business_day, lock_pool
from risk.services.coverage import coverage_decision, decide_coverage
from risk.services.pool import pay_claim, pay_queue, record_contribution
from risk.services.recoveries import record_recovery

__all__ = [
    "approve_claim",
    "business_day",
    "coverage_decision",
    "decide_coverage",
    "evaluate_breaker",
    "evaluate_breakers",
    "file_claim",
    "lift_breaker",
    "lock_breaker",
    "lock_claim",
    "lock_pool",
    "mark_notice_issued",
    "pay_claim",
    "pay_queue",
    "record_contribution",
    "record_recovery",
    "reject_claim",
]
