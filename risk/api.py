"""Risk-pool API (api.md "Risk-compensation pool"): admins pay in, liaisons claim, managers decide.

Every state-changing endpoint takes the optional ``on`` date; every refusal is one JSON error and
writes nothing (the unit of work rolls the request back).
"""
from __future__ import annotations

from datetime import date
from typing import Any

from flask_login import current_user
from flask_smorest import Blueprint

from core import clock
from core.auth.permissions import roles_required
from core.errors import ValidationFailed
from core.i18n import _
from core.replica import reads_from_replica
from core.policy.services import policy_in_force
from risk import queries, services, stress
from risk.labels import breaker_state_label, claim_status_label, source_label
from risk.models import ClaimStatus, RiskBreakerEvent, RiskClaim, RiskContribution, RiskRecovery
from risk.permissions import (
    BREAKER_LIFTERS,
    BREAKER_READERS,
    CLAIM_DECIDERS,
    CLAIM_FILERS,
    CLAIM_READERS,
    CONTRIBUTORS,
    POOL_READERS,
    RECOVERY_RECORDERS,
    STRESS_RUNNERS,
    claimable_loan,
    recoverable_claim,
    user_id,
    visible_bank,
)
from risk.schemas import (
    RiskAsOfSchema,
    BreakerSchema,
    ClaimCreateSchema,
    ClaimListSchema,
    ClaimQuerySchema,
    ClaimSchema,
    RiskContributionCreateSchema,
    RiskContributionListSchema,
    RiskContributionSchema,
    ClaimDecisionSchema,
    BreakerLiftSchema,
    RiskPageSchema,
    PoolSchema,
    RiskRecoveryCreateSchema,
    RiskRecoverySchema,
    ClaimRejectionSchema,
    StressCreateSchema,
    StressSchema,
)

blueprint = Blueprint(
    "risk_api",
    __name__,
    description="风险补偿资金池：注资、代偿申请与审批、支付与排队、追偿、熔断、放大倍数与压力测试",
)

BEARER = [{"bearerAuth": []}]
ZERO = queries.ZERO


def _same_date(body: dict[str, Any], field: str) -> date | None:
    """``on`` may repeat the event's own date field; two different dates are a 422."""
    on, own = body.get("on"), body.get(field)
    if on is not None and own is not None and on != own:
        raise ValidationFailed(errors={"on": [_("与 %(field)s 的日期不一致", field=field)]})
    return own if own is not None else on


def _username(user: Any) -> str | None:
    return user.username if user is not None else None


# ------------------------------------------------------------------------------------ payloads


def contribution_payload(contribution: RiskContribution, paid: list[RiskClaim] | None = None) -> dict[str, Any]:
    return {
        "id": contribution.id,
        "source": contribution.source,
        "source_label": source_label(contribution.source),
        "amount": contribution.amount,
        "received_on": contribution.received_on,
        "note": contribution.note,
        "created_by": _username(contribution.created_by),
        "created_at": contribution.created_at,
        "paid_claim_ids": [claim.id for claim in paid or []],
    }


def recovery_payload(recovery: RiskRecovery) -> dict[str, Any]:
    return {
        "id": recovery.id,
        "claim_id": recovery.claim_id,
        "amount": recovery.amount,
        "within_principal": recovery.within_principal,
        "pool_part": recovery.pool_part,
        "bank_part": recovery.bank_part,
        "city_part": recovery.city_part,
        "county_part": recovery.county_part,
        "recovered_on": recovery.recovered_on,
        "created_by": _username(recovery.created_by),
        "created_at": recovery.created_at,
    }


def _queue_positions() -> dict[int, int]:
    return {claim.id: position for position, claim in enumerate(queries.queued_claims(), start=1)}


def claim_payload(claim: RiskClaim, positions: dict[int, int] | None = None) -> dict[str, Any]:
    """A claim in the shape of ``ClaimSchema`` (``positions``: claim id -> place in the payment queue)."""
    if positions is None and claim.status == ClaimStatus.APPROVED_UNPAID.value:
        positions = _queue_positions()
    recoveries = list(claim.recoveries)
    return {
        "id": claim.id,
        "loan_id": claim.loan_id,
        "contract_no": claim.loan.contract_no,
        "enterprise_name": claim.loan.enterprise.name,
        "bank_id": claim.bank_id,
        "bank_name": claim.bank.name,
        "policy_id": claim.policy_id,
        "status": claim.status,
        "status_label": claim_status_label(claim.status),
        "as_of": claim.as_of,
        "days_past_due": claim.days_past_due,
        "principal": claim.principal,
        "pool_share": claim.pool_share,
        "bank_share": claim.bank_share,
        "city_share": claim.city_share,
        "county_share": claim.county_share,
        "pool_ratio": claim.pool_ratio,
        "city_ratio": claim.city_ratio,
        "filed_by": _username(claim.filed_by),
        "filed_at": claim.created_at,
        "approval_seq": claim.approval_seq,
        "queue_position": (positions or {}).get(claim.id),
        "approved_on": claim.approved_on,
        "approved_by": _username(claim.approved_by),
        "paid_on": claim.paid_on,
        "rejected_on": claim.rejected_on,
        "rejected_by": _username(claim.rejected_by),
        "rejection_reason": claim.rejection_reason,
        "notice_pending": claim.notice_pending,
        "recovered_total": sum((r.amount for r in recoveries), ZERO),
        "recovered_pool": sum((r.pool_part for r in recoveries), ZERO),
        "recovered_bank": sum((r.bank_part for r in recoveries), ZERO),
        "recoveries": [recovery_payload(r) for r in recoveries],
    }


def event_payload(event: RiskBreakerEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "bank_id": event.bank_id,
        "previous_state": event.previous_state,
        "state": event.state,
        "state_label": breaker_state_label(event.state),
        "npl_ratio": event.npl_ratio,
        "on": event.changed_on,
        "by": _username(event.by),
        "automatic": event.by_id is None,
        "reason": event.reason,
        "created_at": event.created_at,
    }


def breaker_payload(view: queries.BreakerView, bank_name: str) -> dict[str, Any]:
    return {
        "bank_id": view.bank_id,
        "bank_name": bank_name,
        "as_of": view.as_of,
        "npl_ratio": view.npl_ratio,
        "state": view.state,
        "state_label": breaker_state_label(view.state),
        "recorded_state": view.recorded_state,
        "evaluated_on": view.evaluated_on,
        "lifted": view.lifted,
        "covered_outstanding": view.figures.covered_outstanding,
        "non_performing": view.figures.non_performing,
        "warning_level": view.warning,
        "suspend_level": view.suspend,
        "events": [event_payload(event) for event in view.events],
    }


def pool_payload(figures: queries.PoolFigures) -> dict[str, Any]:
    ledger = figures.ledger
    return {
        "as_of": figures.as_of,
        "committed": figures.committed,
        "paid_in": ledger.paid_in,
        "paid_in_city": ledger.paid_in_city,
        "paid_in_county": ledger.paid_in_county,
        "cash": ledger.cash,
        "paid_out_total": ledger.paid_out,
        "paid_out_city": ledger.paid_out_city,
        "paid_out_county": ledger.paid_out_county,
        "recovered_total": ledger.recovered,
        "recovered_city": ledger.recovered_city,
        "recovered_county": ledger.recovered_county,
        "queued_unpaid": figures.queued_unpaid,
        "queued_count": figures.queued_count,
        "covered_outstanding": figures.covered_outstanding,
        "covered_exposure": figures.covered_exposure,
        "leverage_multiple": figures.leverage_multiple,
        "leverage_cap": figures.leverage_cap,
        "leverage": figures.leverage,
        "exposure_leverage": figures.exposure_leverage,
        "min_paid_in": figures.min_paid_in,
        "covering": figures.covering,
        "trailing_monthly_claims": figures.monthly_claims,
        "months_of_cover": figures.months_of_cover,
    }


def stress_payload(result: stress.StressResult, as_of: date) -> dict[str, Any]:
    return {
        "as_of": as_of,
        "start_cash": result.start_cash,
        "exposure": result.exposure,
        "annual_default_rate": result.annual_default_rate,
        "recovery_rate": result.recovery_rate,
        "pool_share": result.pool_share,
        "months": len(result.months),
        "recovery_lag_months": result.recovery_lag_months,
        "monthly_claims": result.months[0].claims if result.months else ZERO,
        "lowest_cash": result.lowest_cash,
        "runs_out_month": result.runs_out_month,
        "runs_out_period": result.runs_out_period,
        "projection": [
            {
                "month": row.month,
                "period": row.period,
                "defaults": row.defaults,
                "claims": row.claims,
                "recoveries": row.recoveries,
                "cash": row.cash,
                "short": row.cash < 0,
            }
            for row in result.months
        ],
    }


# ------------------------------------------------------------------------------ contributions


@blueprint.route("/risk/contributions", methods=["POST"])
@blueprint.doc(
    security=BEARER,
    summary="Record money paid into the pool by the city or the county (admin)",
    description=(
        "Posts Dr risk.cash / Cr risk.contributions.<source>, then pays approved-unpaid claims in approval order "
        "while the cash suffices (`paid_claim_ids`). 409 when paid-in capital would exceed the commitment."
    ),
)
@blueprint.response(201, RiskContributionSchema)
@blueprint.alt_response(409, response="CONFLICT", description="Over the commitment, closed month")
@roles_required(*CONTRIBUTORS)
@blueprint.arguments(RiskContributionCreateSchema)
def contributions_create(body: dict[str, Any]):
    contribution, paid = services.record_contribution(
        source=body["source"],
        amount=body["amount"],
        received_on=_same_date(body, "received_on"),
        note=body["note"],
        by_id=user_id(),
    )
    return contribution_payload(contribution, paid)


@blueprint.route("/risk/contributions", methods=["GET"])
@blueprint.doc(security=BEARER, summary="Contributions to the pool, newest first")
@blueprint.response(200, RiskContributionListSchema)
@roles_required(*POOL_READERS)
@blueprint.arguments(RiskPageSchema, location="query")
def contributions_list(args: dict[str, Any]):
    items, total = queries.contributions(page=args["page"], per_page=args["per_page"])
    return {"items": [contribution_payload(item) for item in items], "total": total}


@blueprint.route("/risk/pool", methods=["GET"])
@blueprint.doc(
    security=BEARER,
    summary="The pool's figures as of a day (default today)",
    description=(
        "Money from the ledger (fund `risk`), loan figures from the covered loans as of the day. `leverage` is "
        "covered outstanding / paid-in; the cap compares `covered_exposure` (outstanding plus undrawn principal of "
        "unmatured covered loans) with `leverage_cap`. `months_of_cover` divides the cash not owed to queued "
        "claims by the trailing monthly claims (pool shares of the last 12 months' claims / 12)."
    ),
)
@blueprint.response(200, PoolSchema)
@roles_required(*POOL_READERS)
@blueprint.arguments(RiskAsOfSchema, location="query")
@reads_from_replica
def pool_get(args: dict[str, Any]):
    return pool_payload(queries.pool_figures(args["as_of"]))


# -------------------------------------------------------------------------------------- claims


@blueprint.route("/loans/<int:loan_id>/claims", methods=["POST"])
@blueprint.doc(
    security=BEARER,
    summary="File a compensation claim on a covered, non-performing loan of the liaison's bank",
    description=(
        "The claim is for the overdue unrecovered principal as of `as_of` (default today). Shares: pool = "
        "round_half_up(P x pool ratio), bank = P - pool; city = round_half_up(pool x city ratio), county = pool - "
        "city, with the ratios of the loan's policy. 409 (nothing written) when the loan is not covered, not yet "
        "past the claim trigger (DPD 91 by default) as of `as_of`, or already has an open or paid claim. 404 for "
        "another bank's loan."
    ),
)
@blueprint.response(201, ClaimSchema)
@blueprint.alt_response(409, response="CONFLICT", description="Not covered, not past the trigger, claim already open")
@roles_required(*CLAIM_FILERS)
@blueprint.arguments(ClaimCreateSchema)
def claims_create(body: dict[str, Any], loan_id: int):
    loan = claimable_loan(loan_id)
    claim = services.file_claim(loan.id, as_of=_same_date(body, "as_of"), by_id=user_id())
    return claim_payload(claim, {})


@blueprint.route("/risk/claims", methods=["GET"])
@blueprint.doc(
    security=BEARER,
    summary="Claims (a liaison sees only its own bank's), newest first; `status=queue` for the managers' queue",
)
@blueprint.response(200, ClaimListSchema)
@roles_required(*CLAIM_READERS)
@blueprint.arguments(ClaimQuerySchema, location="query")
def claims_list(args: dict[str, Any]):
    items, total = queries.visible_claims(
        status=args["status"],
        bank_id=args["bank_id"],
        loan_id=args["loan_id"],
        page=args["page"],
        per_page=args["per_page"],
    )
    positions = _queue_positions()
    return {"items": [claim_payload(item, positions) for item in items], "total": total}


@blueprint.route("/risk/claims/<int:claim_id>", methods=["GET"])
@blueprint.doc(security=BEARER, summary="One claim with its shares, state and recoveries")
@blueprint.response(200, ClaimSchema)
@roles_required(*CLAIM_READERS)
def claims_get(claim_id: int):
    return claim_payload(queries.visible_claim(claim_id))


@blueprint.route("/risk/claims/<int:claim_id>/approve", methods=["POST"])
@blueprint.doc(
    security=BEARER,
    summary="Approve a submitted claim (fund manager): paid now, or queued when the pool's cash is short",
    description=(
        "200 with `status: paid` (posted Dr risk.compensation.city/county, Cr risk.cash) or `status: "
        "approved_unpaid` (queued in approval order; paid when contributions arrive). A compensation notice "
        "becomes due (`notice_pending`). 409 when not submitted or filed by the same person."
    ),
)
@blueprint.response(200, ClaimSchema)
@blueprint.alt_response(409, response="CONFLICT", description="Wrong state, four eyes, closed month")
@roles_required(*CLAIM_DECIDERS)
@blueprint.arguments(ClaimDecisionSchema)
def claims_approve(body: dict[str, Any], claim_id: int):
    claim = services.approve_claim(claim_id, on=body["on"], by_id=user_id())
    return claim_payload(claim)


@blueprint.route("/risk/claims/<int:claim_id>/reject", methods=["POST"])
@blueprint.doc(security=BEARER, summary="Reject a submitted claim with a written reason (fund manager)")
@blueprint.response(200, ClaimSchema)
@blueprint.alt_response(409, response="CONFLICT", description="Wrong state, closed month")
@roles_required(*CLAIM_DECIDERS)
@blueprint.arguments(ClaimRejectionSchema)
def claims_reject(body: dict[str, Any], claim_id: int):
    claim = services.reject_claim(claim_id, reason=body["reason"], on=body["on"], by_id=user_id())
    return claim_payload(claim, {})


@blueprint.route("/risk/claims/<int:claim_id>/recoveries", methods=["POST"])
@blueprint.doc(
    security=BEARER,
    summary="Record money recovered after compensation (bank liaison of the claim's bank, or fund manager)",
    description=(
        "Split in proportion to the principal each side bore (the claim's pool ratio, rounded half-up on the "
        "cumulative amount); anything beyond the compensated principal goes to the bank. The pool's part posts "
        "Dr risk.cash / Cr risk.recoveries.city/county and pays queued claims. 409 unless the claim is paid."
    ),
)
@blueprint.response(201, RiskRecoverySchema)
@blueprint.alt_response(409, response="CONFLICT", description="Claim not paid, date before the payment")
@roles_required(*RECOVERY_RECORDERS)
@blueprint.arguments(RiskRecoveryCreateSchema)
def recoveries_create(body: dict[str, Any], claim_id: int):
    claim = recoverable_claim(claim_id)
    recovery = services.record_recovery(
        claim.id, amount=body["amount"], recovered_on=_same_date(body, "recovered_on"), by_id=user_id()
    )
    return recovery_payload(recovery)


# ------------------------------------------------------------------------------------- breaker


@blueprint.route("/risk/banks/<int:bank_id>/breaker", methods=["GET"])
@blueprint.doc(
    security=BEARER,
    summary="A bank's circuit breaker: NPL ratio of its covered loans and its state as of a day",
    description=(
        "`npl_ratio` = non-performing covered principal / covered outstanding (six decimals). `state` is "
        "`normal`, `warning` (>= 5% by default) or `suspended` (>= 8%); for a past day, the state recorded then. "
        "`events` lists every change of state. A liaison reads only its own bank (404 otherwise)."
    ),
)
@blueprint.response(200, BreakerSchema)
@roles_required(*BREAKER_READERS)
@blueprint.arguments(RiskAsOfSchema, location="query")
def breaker_get(args: dict[str, Any], bank_id: int):
    bank = visible_bank(bank_id)
    return breaker_payload(queries.breaker_view(bank.id, args["as_of"]), bank.name)


@blueprint.route("/risk/breakers", methods=["GET"])
@blueprint.doc(security=BEARER, summary="Every bank's breaker as of a day (a liaison: its own bank)")
@blueprint.response(200, BreakerSchema(many=True))
@roles_required(*BREAKER_READERS)
@blueprint.arguments(RiskAsOfSchema, location="query")
def breakers_list(args: dict[str, Any]):
    overview = queries.breaker_overview(args["as_of"])
    if current_user.is_liaison:
        overview = [(bank, view) for bank, view in overview if bank.id == current_user.bank_id]
    return [breaker_payload(view, bank.name) for bank, view in overview]


@blueprint.route("/risk/banks/<int:bank_id>/breaker/lift", methods=["POST"])
@blueprint.doc(
    security=BEARER,
    summary="Lift a bank's suspension with a written reason (fund manager)",
    description=(
        "The bank then reads `warning` and its new loans are covered again; it is not suspended again until its "
        "ratio has first fallen below the warning level. 409 when the bank is not suspended."
    ),
)
@blueprint.response(200, BreakerSchema)
@blueprint.alt_response(409, response="CONFLICT", description="Not suspended")
@roles_required(*BREAKER_LIFTERS)
@blueprint.arguments(BreakerLiftSchema)
def breaker_lift(body: dict[str, Any], bank_id: int):
    bank = visible_bank(bank_id)
    event = services.lift_breaker(bank.id, reason=body["reason"], on=body["on"], by_id=user_id())
    return breaker_payload(queries.breaker_view(bank.id, event.changed_on), bank.name)


# -------------------------------------------------------------------------------------- stress


@blueprint.route("/risk/stress", methods=["POST"])
@blueprint.doc(
    security=BEARER,
    summary="Project the pool's cash month by month under a scenario (fund manager)",
    description=(
        "Each month exposure x annual_default_rate / 12 defaults (rounded half-up to the fen), the pool pays "
        "pool_share of it and gets recovery_rate of that back `recovery_lag_months` later. `runs_out_month` is "
        "the first month the pool cannot pay in full (cash below zero). Starting cash and exposure default to "
        "the pool's cash and covered outstanding today. Writes nothing."
    ),
)
@blueprint.response(200, StressSchema)
@roles_required(*STRESS_RUNNERS)
@blueprint.arguments(StressCreateSchema)
def stress_run(body: dict[str, Any]):
    today = clock.today()
    figures = None
    if body["cash"] is None or body["exposure"] is None:
        figures = queries.pool_figures(today)
    pool_share = body["pool_share"]
    if pool_share is None:
        pool_share = policy_in_force(today).risk_pool_share
    result = stress.project(
        start=today,
        start_cash=body["cash"] if body["cash"] is not None else figures.cash,
        exposure=body["exposure"] if body["exposure"] is not None else figures.covered_outstanding,
        annual_default_rate=body["annual_default_rate"],
        recovery_rate=body["recovery_rate"] if body["recovery_rate"] is not None else queries.ZERO,
        pool_share=pool_share,
        months=body["months"],
        recovery_lag_months=body["recovery_lag_months"],
    )
    return stress_payload(result, today)
