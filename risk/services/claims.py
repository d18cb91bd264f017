"""Compensation claims: filing, approval (and payment or queueing), rejection.

Rules (domain.md §4, api.md):

* A bank liaison files a claim for a loan of its own bank that the pool **covers**, once the loan is
  at least ``risk_claim_trigger_dpd`` (91: non-performing) days past due as of the claim's
  ``as_of`` date, and while the loan has no other claim that is open (submitted, approved-unpaid)
  or paid. The trigger and the shares are those of the loan's policy (in force on its contract
  date). Refusals are 409 and write nothing.
* The claim is for the overdue, unrecovered principal ``P`` as of ``as_of``
  (``loans.queries.loan_state``); the pool bears ``round_half_up(P × pool ratio)``, the bank the
  rest, and the pool's part is attributed to the city and the county (``risk.rules.claim_shares``).
* A fund manager approves a submitted claim (never one they filed: four eyes). It is paid at once
  when the pool's cash suffices and no earlier approval waits, else it waits as approved-unpaid,
  queued in approval order (``risk.services.pool``). A compensation notice is then due
  (``notice_pending``, for the documents module).
* A fund manager rejects a submitted claim with a written reason; the loan may then be claimed again.

Concurrency: filing locks the loan row, and ``risk_claims.active_loan_id`` is UNIQUE, so two claims
filed at once on one loan create one. Approval takes the pool's lock, then the claim's.
"""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import lazyload

from core.db import db
from core.errors import BusinessRuleError, NotFound
from core.i18n import _
from core.policy.models import Policy
from loans.models import Loan
from loans.queries import loan_state
from risk import rules
from risk.models import ClaimStatus, RiskClaim
from risk.services.breaker import evaluate_breaker
from risk.services.common import REASON_MAX_LENGTH, business_day, lock_pool, raise_if, text
from risk.labels import claim_status_label, coverage_reason_label
from risk.services.pool import pay_queue

OPEN_STATUSES = (ClaimStatus.SUBMITTED.value, ClaimStatus.APPROVED_UNPAID.value)


def _lock_loan(loan_id: int) -> Loan:
    loan = db.session.execute(
        sa.select(Loan)
        .where(Loan.id == loan_id)
        .with_for_update(of=Loan)
        .options(lazyload("*"))
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if loan is None:
        raise NotFound(_("贷款不存在"))
    return loan


def lock_claim(claim_id: int) -> RiskClaim:
    """The claim row, locked ``FOR UPDATE`` with fresh values; 404 when unknown."""
    claim = db.session.execute(
        sa.select(RiskClaim)
        .where(RiskClaim.id == claim_id)
        .with_for_update(of=RiskClaim)
        .options(lazyload("*"))
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if claim is None:
        raise NotFound(_("代偿申请不存在"))
    return claim


def _already_claimed(existing: RiskClaim) -> BusinessRuleError:
    if existing.status == ClaimStatus.PAID.value:
        return BusinessRuleError(_("该笔贷款已获代偿（代偿申请 %(id)s），不能重复申请", id=existing.id))
    return BusinessRuleError(_("该笔贷款已有未结案的代偿申请（%(id)s），不能重复申请", id=existing.id))


def file_claim(loan_id: int, *, as_of: date | None, by_id: int | None) -> RiskClaim:
    """File a claim on the loan as of ``as_of`` (default today); returns it, submitted.

    422: ``as_of`` in the future. 404: unknown loan. 409: the loan is not covered, not yet past the
    claim trigger as of ``as_of``, already has an open or paid claim, or the month is closed.
    """
    day = business_day(as_of, "as_of")
    loan = _lock_loan(loan_id)
    if loan.covered is not True:
        reason = coverage_reason_label(loan.coverage_reason)
        raise BusinessRuleError(
            _("该笔贷款未纳入风险补偿范围（%(reason)s），不能申请代偿", reason=reason)
            if reason
            else _("该笔贷款未纳入风险补偿范围，不能申请代偿")
        )
    existing = db.session.scalar(sa.select(RiskClaim).where(RiskClaim.active_loan_id == loan.id))
    if existing is not None:
        raise _already_claimed(existing)
    policy = db.session.get(Policy, loan.policy_id)
    assert policy is not None
    state = loan_state(loan, day)
    if state.days_past_due < policy.risk_claim_trigger_dpd:
        raise BusinessRuleError(
            _(
                "截至 %(day)s 逾期 %(dpd)d 天，未达到申请代偿所需的 %(trigger)d 天（不良）",
                day=day.isoformat(),
                dpd=state.days_past_due,
                trigger=policy.risk_claim_trigger_dpd,
            ),
            {"as_of": [_("逾期天数未达到 %(trigger)d 天", trigger=policy.risk_claim_trigger_dpd)]},
        )
    shares = rules.claim_shares(state.overdue_principal, policy.risk_pool_share, policy.risk_city_share)
    claim = RiskClaim(
        loan_id=loan.id,
        active_loan_id=loan.id,
        bank_id=loan.bank_id,
        policy_id=policy.id,
        as_of=day,
        days_past_due=state.days_past_due,
        principal=shares.principal,
        pool_ratio=policy.risk_pool_share,
        city_ratio=policy.risk_city_share,
        pool_share=shares.pool,
        bank_share=shares.bank,
        city_share=shares.city,
        county_share=shares.county,
        status=ClaimStatus.SUBMITTED.value,
        filed_by_id=by_id,
    )
    try:
        # The UNIQUE active_loan_id refuses a second open claim that a concurrent request slipped in.
        with db.session.begin_nested():
            db.session.add(claim)
    except IntegrityError:
        raise BusinessRuleError(_("该笔贷款已有未结案的代偿申请，不能重复申请")) from None
    # A claim means a non-performing covered loan: a good moment to refresh the bank's breaker.
    evaluate_breaker(loan.bank_id, day)
    return claim


def _check_submitted(claim: RiskClaim, day: date) -> None:
    if claim.status != ClaimStatus.SUBMITTED.value:
        raise BusinessRuleError(
            _(
                "代偿申请 %(id)s 已处理（当前状态：%(status)s），不能再审批",
                id=claim.id,
                status=claim_status_label(claim.status),
            )
        )
    if day < claim.as_of:
        raise BusinessRuleError(
            _("审批日期 %(day)s 早于申请日期 %(as_of)s", day=day.isoformat(), as_of=claim.as_of.isoformat()),
            {"on": [_("不能早于 %(as_of)s", as_of=claim.as_of.isoformat())]},
        )


def approve_claim(claim_id: int, *, on: date | None, by_id: int) -> RiskClaim:
    """A fund manager approves a submitted claim: paid now if the cash suffices and nothing waits
    before it, else queued as approved-unpaid. Returns the claim (status ``paid`` or ``approved_unpaid``).

    404 unknown claim; 409 not submitted, filed by the same person, dated before the claim, closed month.
    """
    day = business_day(on)
    lock_pool()
    claim = lock_claim(claim_id)
    _check_submitted(claim, day)
    if claim.filed_by_id is not None and claim.filed_by_id == by_id:
        raise BusinessRuleError(_("不能审批本人提交的代偿申请（四眼原则）"))
    last = db.session.scalar(sa.select(sa.func.max(RiskClaim.approval_seq))) or 0
    claim.status = ClaimStatus.APPROVED_UNPAID.value
    claim.approval_seq = last + 1
    claim.approved_on = day
    claim.approved_by_id = by_id
    claim.notice_pending = True
    db.session.flush()
    pay_queue(day)
    return claim


def reject_claim(claim_id: int, *, reason: str, on: date | None, by_id: int) -> RiskClaim:
    """A fund manager rejects a submitted claim with a written reason; the loan may be claimed again.

    422 no reason; 404 unknown claim; 409 not submitted, dated before the claim, closed month.
    """
    errors: dict[str, list[str]] = {}
    clean = text(reason, "reason", _("驳回理由"), REASON_MAX_LENGTH, errors, required=True)
    raise_if(errors)
    day = business_day(on)
    claim = lock_claim(claim_id)
    _check_submitted(claim, day)
    claim.status = ClaimStatus.REJECTED.value
    claim.active_loan_id = None
    claim.rejection_reason = clean
    claim.rejected_on = day
    claim.rejected_by_id = by_id
    db.session.flush()
    return claim


def mark_notice_issued(claim_id: int) -> RiskClaim:
    """The documents module issued the claim's compensation notice: it is no longer pending."""
    claim = lock_claim(claim_id)
    claim.notice_pending = False
    db.session.flush()
    return claim
