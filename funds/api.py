"""Seed-fund API (api.md "Seed fund"): officers do the paperwork, managers decide, admins pay in.

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
from funds import calendar, queries, services
from funds.models import SeedApplication, SeedContribution, SeedLoan, SeedObjection, SeedWriteOff
from funds.permissions import (
    ADMINS,
    APPLICATION_READERS,
    FUND_READERS,
    MANAGERS,
    OFFICERS,
    WRITE_OFF_ACTORS,
)
from funds.queries import LoanState
from funds.services.fund import agent_bank
from funds.schemas import (
    AgentBankSchema,
    AgentBankUpdateSchema,
    ApplicationCreateSchema,
    ApplicationDetailSchema,
    ApplicationListSchema,
    ApplicationQuerySchema,
    ApplicationSchema,
    SeedAsOfSchema,
    CalendarDayCreateSchema,
    CalendarDayListSchema,
    CalendarDaySchema,
    CalendarQuerySchema,
    SeedContractCreateSchema,
    SeedContractSchema,
    ContributionCreateSchema,
    ContributionListSchema,
    ContributionSchema,
    SeedDecisionSchema,
    SeedDisbursementCreateSchema,
    ExpertReviewCreateSchema,
    ExpertReviewSchema,
    FundSchema,
    InitialReviewSchema,
    LinkEnterpriseSchema,
    SeedLoanAsOfSchema,
    SeedLoanListSchema,
    SeedLoanQuerySchema,
    SeedLoanSchema,
    ObjectionCreateSchema,
    ObjectionResolutionSchema,
    ObjectionSchema,
    SeedOverdueQuerySchema,
    SeedPageSchema,
    SeedRecoveryCreateSchema,
    SeedRecoverySchema,
    SeedRepaymentCreateSchema,
    SeedRepaymentListSchema,
    SeedRepaymentSchema,
    WithdrawalSchema,
    SeedWriteOffRequestSchema,
    SeedWriteOffSchema,
)
from funds.states import allowed_actions, phase_of, status_label

blueprint = Blueprint(
    "seed_api",
    __name__,
    description="创业种子基金：注资、申请、评审与审批（四眼原则）、公示、合同、放款、还款、核销与追偿",
)
calendar_blueprint = Blueprint("calendar_api", __name__, description="工作日历：法定节假日与调休上班日（管理员维护）")

BEARER = [{"bearerAuth": []}]
IDEMPOTENCY_NOTE = (
    "Idempotent per `bank_ref` (unique per agent bank): the same reference with the same content answers 200 "
    "with the first record and writes nothing; with other content, 409."
)


def _me() -> int:
    return int(current_user.id)


def _username(user: Any) -> str | None:
    return user.username if user is not None else None


def _same_date(body: dict[str, Any], field: str) -> date | None:
    """``on`` may repeat the event's own date field; two different dates are a 422."""
    on, own = body.get("on"), body.get(field)
    if on is not None and own is not None and on != own:
        raise ValidationFailed(errors={"on": [_("与 %(field)s 的日期不一致", field=field)]})
    return own if own is not None else on


# ------------------------------------------------------------------------------------ payloads


def application_payload(application: SeedApplication, *, detail: bool = False) -> dict[str, Any]:
    today = clock.today()
    summary = queries.review_summary(application)
    phase = phase_of(application, today)
    loan = application.loan
    payload = {
        "id": application.id,
        "status": application.status,
        "status_label": status_label(application.status),
        "phase": phase,
        "phase_label": status_label(phase),
        "enterprise_id": application.enterprise_id,
        "enterprise_name": application.enterprise.name if application.enterprise else None,
        "team_name": application.team_name,
        "contact_name": application.contact_name,
        "contact_phone": application.contact_phone,
        "applicant_name": application.applicant_name,
        "amount": application.amount,
        "term_months": application.term_months,
        "repayment": application.repayment,
        "purpose": application.purpose,
        "policy_id": application.policy_id,
        "submitted_on": application.submitted_on,
        "submitted_by": _username(application.submitted_by),
        "initial_review_passed": application.initial_review_passed,
        "initial_review_on": application.initial_review_on,
        "initial_review_comment": application.initial_review_comment,
        "initial_reviewed_by": _username(application.initial_reviewed_by),
        "review_count": summary.count,
        "reviews_required": summary.required,
        "average_score": None if summary.average is None else f"{summary.average:f}",
        "pass_mark": summary.pass_mark,
        "decision_approved": application.decision_approved,
        "decided_on": application.decided_on,
        "decision_comment": application.decision_comment,
        "decided_by": _username(application.decided_by),
        "notice_starts_on": application.decided_on if application.notice_ends_on else None,
        "notice_ends_on": application.notice_ends_on,
        "open_objections": sum(1 for o in application.objections if o.status == "open"),
        "closed_on": application.closed_on,
        "loan_id": loan.id if loan is not None else None,
        "contract_no": loan.contract_no if loan is not None else None,
        "allowed_actions": [str(action) for action in allowed_actions(application.status)],
        "created_at": application.created_at,
    }
    if detail:
        payload["expert_reviews"] = [review_payload(review) for review in application.expert_reviews]
        payload["objections"] = [objection_payload(objection) for objection in application.objections]
        payload["timeline"] = [
            {
                "id": event.id,
                "action": event.action,
                "from_status": event.from_status,
                "to_status": event.to_status,
                "on": event.happened_on,
                "by": _username(event.by),
                "comment": event.comment,
                "created_at": event.created_at,
            }
            for event in queries.timeline(application.id)
        ]
    return payload


def review_payload(review) -> dict[str, Any]:
    return {
        "id": review.id,
        "application_id": review.application_id,
        "expert_name": review.expert_name,
        "score": review.score,
        "comment": review.comment,
        "reviewed_on": review.reviewed_on,
        "recorded_by": _username(review.recorded_by),
        "created_at": review.created_at,
    }


def objection_payload(objection: SeedObjection) -> dict[str, Any]:
    return {
        "id": objection.id,
        "application_id": objection.application_id,
        "text": objection.text,
        "raised_on": objection.raised_on,
        "raised_by": _username(objection.raised_by),
        "status": objection.status,
        "resolution_reason": objection.resolution_reason,
        "resolved_on": objection.resolved_on,
        "resolved_by": _username(objection.resolved_by),
        "application_status": objection.application.status,
    }


def write_off_payload(write_off: SeedWriteOff) -> dict[str, Any]:
    return {
        "id": write_off.id,
        "loan_id": write_off.loan_id,
        "status": write_off.status,
        "reason": write_off.reason,
        "proposed_on": write_off.proposed_on,
        "proposed_by": _username(write_off.proposed_by),
        "amount": write_off.amount,
        "decided_on": write_off.decided_on,
        "decided_by": _username(write_off.decided_by),
        "decision_comment": write_off.decision_comment,
    }


def loan_payload(loan: SeedLoan, state: LoanState) -> dict[str, Any]:
    return {
        "id": loan.id,
        "application_id": loan.application_id,
        "contract_no": loan.contract_no,
        "enterprise_id": loan.enterprise_id,
        "enterprise_name": loan.enterprise.name,
        "agent_bank_id": loan.agent_bank_id,
        "agent_bank_name": loan.agent_bank.name,
        "principal": loan.principal,
        "term_months": loan.term_months,
        "repayment": loan.repayment,
        "purpose": loan.purpose,
        "contracted_on": loan.contracted_on,
        "disbursed_on": loan.disbursed_on,
        "bank_ref": loan.disbursement_ref,
        "maturity_date": loan.maturity_date,
        "status": state.status,
        "lifecycle_status": loan.status,
        "as_of": state.as_of,
        "repaid_principal": state.repaid_principal,
        "outstanding": state.outstanding,
        "overdue_principal": state.overdue_principal,
        "days_past_due": state.days_past_due,
        "classification": state.classification.value,
        "classification_label": state.classification.label,
        "written_off_principal": state.written_off_principal,
        "recovered": state.recovered,
        "schedule": [
            {"seq": line.seq, "due_on": line.due_on, "principal": line.principal, "paid": line.paid, "unpaid": line.unpaid}
            for line in state.schedule
        ],
        "write_offs": [write_off_payload(w) for w in loan.write_offs],
    }


def contribution_payload(contribution: SeedContribution) -> dict[str, Any]:
    return {
        "id": contribution.id,
        "amount": contribution.amount,
        "received_on": contribution.received_on,
        "source": contribution.source,
        "note": contribution.note,
        "created_by": _username(contribution.created_by),
        "created_at": contribution.created_at,
    }


def fund_payload(figures: queries.FundFigures) -> dict[str, Any]:
    return {
        "as_of": figures.as_of,
        "size": figures.size,
        "paid_in": figures.paid_in,
        "cash": figures.cash,
        "committed": figures.committed,
        "available": figures.available,
        "outstanding": figures.outstanding,
        "disbursed_cumulative": figures.disbursed_cumulative,
        "opening_disbursed": figures.opening_disbursed,
        "repaid_total": figures.repaid_total,
        "written_off_total": figures.written_off_total,
        "recovered_total": figures.recovered_total,
    }


def _fresh_loan(loan_id: int) -> dict[str, Any]:
    loan = queries.get_loan(loan_id)
    return loan_payload(loan, queries.loan_state(loan))


# ------------------------------------------------------------------------------------ the fund


@blueprint.route("/seed/fund", methods=["GET"])
@blueprint.doc(
    security=BEARER,
    summary="The seed fund's figures",
    description=(
        "From the ledger (fund `seed`) and the sub-ledger: `available = cash − committed`, where `committed` is the "
        "amount of approved applications not yet disbursed (derived, not posted). `disbursed_cumulative` includes "
        "the opening figure of the policy. `?as_of=` reads the figures on a past day."
    ),
)
@blueprint.response(200, FundSchema)
@roles_required(*FUND_READERS)
@blueprint.arguments(SeedAsOfSchema, location="query")
@reads_from_replica
def fund_get(args: dict[str, Any]):
    return fund_payload(queries.fund_figures(args["as_of"]))


@blueprint.route("/seed/contributions", methods=["POST"])
@blueprint.doc(
    security=BEARER,
    summary="Record money paid into the fund (admin)",
    description="Dr seed.cash / Cr seed.contributions. 409 when paid-in capital would exceed the fund's size.",
)
@blueprint.response(201, ContributionSchema)
@blueprint.alt_response(409, response="CONFLICT", description="Over the fund's size, closed month")
@roles_required(*ADMINS)
@blueprint.arguments(ContributionCreateSchema)
def contributions_create(body: dict[str, Any]):
    contribution = services.record_contribution(
        amount=body["amount"],
        received_on=_same_date(body, "received_on"),
        source=body["source"],
        note=body["note"],
        by_id=_me(),
    )
    return contribution_payload(contribution)


@blueprint.route("/seed/contributions", methods=["GET"])
@blueprint.doc(security=BEARER, summary="Contributions, newest first")
@blueprint.response(200, ContributionListSchema)
@roles_required(*FUND_READERS)
@blueprint.arguments(SeedPageSchema, location="query")
def contributions_list(args: dict[str, Any]):
    items, total = queries.contributions(page=args["page"], per_page=args["per_page"])
    return {"items": [contribution_payload(c) for c in items], "total": total}


def _agent_bank_payload() -> dict[str, Any]:
    bank = agent_bank()
    return {"bank_id": bank.id if bank else None, "bank_code": bank.code if bank else None, "bank_name": bank.name if bank else None}


@blueprint.route("/seed/agent-bank", methods=["GET"])
@blueprint.doc(security=BEARER, summary="The fund's agent bank (委托贷款代理银行); nulls while not set")
@blueprint.response(200, AgentBankSchema)
@roles_required(*FUND_READERS)
def agent_bank_get():
    return _agent_bank_payload()


@blueprint.route("/seed/agent-bank", methods=["PUT"])
@blueprint.doc(
    security=BEARER,
    summary="Set the fund's agent bank (admin)",
    description="New contracts take this bank unless the contract request names another; existing loans keep theirs.",
)
@blueprint.response(200, AgentBankSchema)
@roles_required(*ADMINS)
@blueprint.arguments(AgentBankUpdateSchema)
def agent_bank_put(body: dict[str, Any]):
    services.set_agent_bank(body["bank_id"], by_id=_me())
    return _agent_bank_payload()


# ---------------------------------------------------------------------------------- applications


@blueprint.route("/seed/applications", methods=["POST"])
@blueprint.doc(
    security=BEARER,
    summary="Take an application in (fund officer)",
    description=(
        "An enterprise (`enterprise_id`) or a startup team (`team_name`, `contact_name`, `contact_phone`). "
        "409 when the enterprise is not eligible on the application date (older than 5 years, not a science-tech "
        "enterprise, bad credit, dishonest list); 422 when the amount exceeds the maximum or the term is out of range."
    ),
)
@blueprint.response(201, ApplicationSchema)
@blueprint.alt_response(409, response="CONFLICT", description="Not eligible")
@roles_required(*OFFICERS)
@blueprint.arguments(ApplicationCreateSchema)
def applications_create(body: dict[str, Any]):
    application = services.submit_application(
        enterprise_id=body["enterprise_id"],
        team_name=body["team_name"],
        contact_name=body["contact_name"],
        contact_phone=body["contact_phone"],
        amount=body["amount"],
        term_months=body["term_months"],
        repayment=body["repayment"],
        purpose=body["purpose"],
        on=body["on"],
        by_id=_me(),
    )
    return application_payload(application)


@blueprint.route("/seed/applications", methods=["GET"])
@blueprint.doc(security=BEARER, summary="Applications, newest first; filters status, phase, enterprise_id, q")
@blueprint.response(200, ApplicationListSchema)
@roles_required(*APPLICATION_READERS)
@blueprint.arguments(ApplicationQuerySchema, location="query")
def applications_list(args: dict[str, Any]):
    items, total = queries.applications(
        status=args["status"], phase=args["phase"], enterprise_id=args["enterprise_id"], q=args["q"],
        as_of=args["as_of"], page=args["page"], per_page=args["per_page"],
    )
    return {"items": [application_payload(a) for a in items], "total": total}


@blueprint.route("/seed/applications/<int:application_id>", methods=["GET"])
@blueprint.doc(security=BEARER, summary="One application with its reviews, objections and timeline")
@blueprint.response(200, ApplicationDetailSchema)
@roles_required(*APPLICATION_READERS)
def applications_get(application_id: int):
    return application_payload(queries.get_application(application_id), detail=True)


@blueprint.route("/seed/applications/<int:application_id>/initial-review", methods=["POST"])
@blueprint.doc(security=BEARER, summary="The officer's initial review: passed or rejected")
@blueprint.response(200, ApplicationSchema)
@blueprint.alt_response(409, response="CONFLICT", description="Not in the submitted status")
@roles_required(*OFFICERS)
@blueprint.arguments(InitialReviewSchema)
def initial_review(body: dict[str, Any], application_id: int):
    application = services.initial_review(
        application_id, passed=body["passed"], comment=body["comment"], on=body["on"], by_id=_me()
    )
    return application_payload(application)


@blueprint.route("/seed/applications/<int:application_id>/expert-reviews", methods=["POST"])
@blueprint.doc(security=BEARER, summary="Record an expert's score 0–100 (each expert once)")
@blueprint.response(201, ExpertReviewSchema)
@blueprint.alt_response(409, response="CONFLICT", description="Not under review, or that expert already scored it")
@roles_required(*OFFICERS)
@blueprint.arguments(ExpertReviewCreateSchema)
def expert_reviews_create(body: dict[str, Any], application_id: int):
    review = services.record_expert_review(
        application_id, expert_name=body["expert_name"], score=body["score"], comment=body["comment"],
        on=body["on"], by_id=_me(),
    )
    return review_payload(review)


@blueprint.route("/seed/applications/<int:application_id>/decision", methods=["POST"])
@blueprint.doc(
    security=BEARER,
    summary="The fund manager's decision",
    description=(
        "200 with the application, `status` `approved` (amount committed, public notice until `notice_ends_on`) or "
        "`rejected`. 409: four eyes (the manager submitted or reviewed it), too few expert scores, average below the "
        "pass mark, amount above the fund's `available` (checked under the fund's lock)."
    ),
)
@blueprint.response(200, ApplicationSchema)
@blueprint.alt_response(409, response="CONFLICT", description="Refused by a rule")
@roles_required(*MANAGERS)
@blueprint.arguments(SeedDecisionSchema)
def decision(body: dict[str, Any], application_id: int):
    application = services.decide(
        application_id, approved=body["approved"], comment=body["comment"], on=body["on"], by_id=_me()
    )
    return application_payload(application)


@blueprint.route("/seed/applications/<int:application_id>/objections", methods=["POST"])
@blueprint.doc(security=BEARER, summary="Record an objection (only during the public notice)")
@blueprint.response(201, ObjectionSchema)
@blueprint.alt_response(409, response="CONFLICT", description="Outside the public notice")
@roles_required(*OFFICERS)
@blueprint.arguments(ObjectionCreateSchema)
def objections_create(body: dict[str, Any], application_id: int):
    objection = services.raise_objection(application_id, content=body["text"], on=body["on"], by_id=_me())
    return objection_payload(objection)


@blueprint.route("/seed/objections/<int:objection_id>/resolution", methods=["POST"])
@blueprint.doc(
    security=BEARER,
    summary="A fund manager resolves an objection with a reason",
    description="`upheld: true` rejects the application (its commitment is released); `false` dismisses the objection.",
)
@blueprint.response(200, ObjectionSchema)
@roles_required(*MANAGERS)
@blueprint.arguments(ObjectionResolutionSchema)
def objection_resolution(body: dict[str, Any], objection_id: int):
    objection = services.resolve_objection(
        objection_id, upheld=body["upheld"], reason=body["reason"], on=body["on"], by_id=_me()
    )
    return objection_payload(objection)


@blueprint.route("/seed/applications/<int:application_id>/enterprise", methods=["POST"])
@blueprint.doc(security=BEARER, summary="A startup team registered its enterprise: link it (eligibility checked)")
@blueprint.response(200, ApplicationSchema)
@roles_required(*OFFICERS)
@blueprint.arguments(LinkEnterpriseSchema)
def link_enterprise(body: dict[str, Any], application_id: int):
    application = services.link_enterprise(
        application_id, enterprise_id=body["enterprise_id"], on=body["on"], by_id=_me()
    )
    return application_payload(application)


@blueprint.route("/seed/applications/<int:application_id>/withdrawal", methods=["POST"])
@blueprint.doc(security=BEARER, summary="The applicant withdraws (before the contract)")
@blueprint.response(200, ApplicationSchema)
@roles_required(*OFFICERS)
@blueprint.arguments(WithdrawalSchema)
def withdrawal(body: dict[str, Any], application_id: int):
    application = services.withdraw(application_id, reason=body["reason"], on=body["on"], by_id=_me())
    return application_payload(application)


@blueprint.route("/seed/applications/<int:application_id>/contract", methods=["POST"])
@blueprint.doc(
    security=BEARER,
    summary="Sign the contract: creates the seed loan",
    description=(
        "201 `{loan_id, contract_no}` (numbers like `ZZJJ-2025-0007`). 409 before the public notice is over, with an "
        "objection open, for a startup team not registered yet, or when no agent bank is set (body `agent_bank_id` "
        "or the fund's, `PUT /seed/agent-bank`)."
    ),
)
@blueprint.response(201, SeedContractSchema)
@blueprint.alt_response(409, response="CONFLICT", description="Notice not over, objection open, ...")
@roles_required(*OFFICERS)
@blueprint.arguments(SeedContractCreateSchema)
def contract(body: dict[str, Any], application_id: int):
    loan = services.sign_contract(application_id, on=body["on"], agent_bank_id=body["agent_bank_id"], by_id=_me())
    return {
        "loan_id": loan.id,
        "contract_no": loan.contract_no,
        "application_id": loan.application_id,
        "principal": loan.principal,
        "contracted_on": loan.contracted_on,
        "agent_bank_id": loan.agent_bank_id,
        "agent_bank_name": loan.agent_bank.name,
    }


# -------------------------------------------------------------------------------------- seed loans


@blueprint.route("/seed/loans", methods=["GET"])
@blueprint.doc(security=BEARER, summary="Seed loans with their state as of a day; filters status, classification, overdue")
@blueprint.response(200, SeedLoanListSchema)
@roles_required(*FUND_READERS)
@blueprint.arguments(SeedLoanQuerySchema, location="query")
def loans_list(args: dict[str, Any]):
    rows, total = queries.loans(
        status=args["status"], classification=args["classification"], enterprise_id=args["enterprise_id"],
        overdue=args["overdue"], as_of=args["as_of"], page=args["page"], per_page=args["per_page"],
    )
    return {"items": [loan_payload(loan, state) for loan, state in rows], "total": total}


@blueprint.route("/seed/loans/overdue", methods=["GET"])
@blueprint.doc(security=BEARER, summary="The overdue list: principal due before the day unpaid, most days past due first")
@blueprint.response(200, SeedLoanListSchema)
@roles_required(*FUND_READERS)
@blueprint.arguments(SeedOverdueQuerySchema, location="query")
def loans_overdue(args: dict[str, Any]):
    rows, total = queries.overdue_loans(args["as_of"], page=args["page"], per_page=args["per_page"])
    return {"items": [loan_payload(loan, state) for loan, state in rows], "total": total}


@blueprint.route("/seed/loans/<int:loan_id>", methods=["GET"])
@blueprint.doc(security=BEARER, summary="One seed loan with its schedule, outstanding, days past due, classification")
@blueprint.response(200, SeedLoanSchema)
@roles_required(*FUND_READERS)
@blueprint.arguments(SeedLoanAsOfSchema, location="query")
def loans_get(args: dict[str, Any], loan_id: int):
    loan = queries.get_loan(loan_id)
    return loan_payload(loan, queries.loan_state(loan, args["as_of"]))


@blueprint.route("/seed/loans/<int:loan_id>/disbursement", methods=["POST"])
@blueprint.doc(
    security=BEARER,
    summary="Disburse the whole principal through the agent bank",
    description="Dr seed.loans_receivable / Cr seed.cash; the schedule is fixed from `disbursed_on`. " + IDEMPOTENCY_NOTE,
)
@blueprint.response(201, SeedLoanSchema)
@blueprint.alt_response(200, schema=SeedLoanSchema, description="Replay of the same event")
@blueprint.alt_response(409, response="CONFLICT", description="Already disbursed, before the contract, ...")
@roles_required(*OFFICERS)
@blueprint.arguments(SeedDisbursementCreateSchema)
def disbursement(body: dict[str, Any], loan_id: int):
    loan, created = services.disburse(
        loan_id, disbursed_on=_same_date(body, "disbursed_on"), bank_ref=body["bank_ref"], by_id=_me()
    )
    return _fresh_loan(loan.id), 201 if created else 200


@blueprint.route("/seed/loans/<int:loan_id>/repayments", methods=["POST"])
@blueprint.doc(
    security=BEARER,
    summary="Record a repayment (applied to the earliest unpaid instalment)",
    description="Dr seed.cash / Cr seed.loans_receivable; at most the outstanding principal. " + IDEMPOTENCY_NOTE,
)
@blueprint.response(201, SeedRepaymentSchema)
@blueprint.alt_response(200, schema=SeedRepaymentSchema, description="Replay of the same event")
@blueprint.alt_response(409, response="CONFLICT", description="Not disbursed, repaid, written off, over the outstanding")
@roles_required(*OFFICERS)
@blueprint.arguments(SeedRepaymentCreateSchema)
def repayments_create(body: dict[str, Any], loan_id: int):
    repayment, created = services.record_repayment(
        loan_id, amount=body["amount"], paid_on=_same_date(body, "paid_on"), bank_ref=body["bank_ref"], by_id=_me()
    )
    payload = {
        "id": repayment.id,
        "loan_id": repayment.loan_id,
        "amount": repayment.amount,
        "paid_on": repayment.paid_on,
        "bank_ref": repayment.bank_ref,
        "created_by": _username(repayment.created_by),
        "created_at": repayment.created_at,
    }
    return payload, 201 if created else 200


@blueprint.route("/seed/loans/<int:loan_id>/repayments", methods=["GET"])
@blueprint.doc(security=BEARER, summary="A seed loan's repayments, oldest first")
@blueprint.response(200, SeedRepaymentListSchema)
@roles_required(*FUND_READERS)
@blueprint.arguments(SeedPageSchema, location="query")
def repayments_list(args: dict[str, Any], loan_id: int):
    items = list(queries.get_loan(loan_id).repayments)
    start = (args["page"] - 1) * args["per_page"]
    return {
        "items": [
            {
                "id": r.id, "loan_id": r.loan_id, "amount": r.amount, "paid_on": r.paid_on, "bank_ref": r.bank_ref,
                "created_by": _username(r.created_by), "created_at": r.created_at,
            }
            for r in items[start : start + args["per_page"]]
        ],
        "total": len(items),
    }


@blueprint.route("/seed/loans/<int:loan_id>/write-off", methods=["POST"])
@blueprint.doc(
    security=BEARER,
    summary="Write-off: an officer proposes (201), a manager approves or rejects (200)",
    description=(
        "Officer: `{reason}` proposes writing off an overdue loan (201). Manager: `{\"approve\": true}` approves the "
        "open proposal (the outstanding principal is posted as a loss: Dr seed.written_off / Cr "
        "seed.loans_receivable), `false` rejects it (200). 409: four eyes (the proposer), no open proposal, loan not "
        "overdue."
    ),
)
@blueprint.response(201, SeedWriteOffSchema)
@blueprint.alt_response(200, schema=SeedWriteOffSchema, description="The manager's decision")
@blueprint.alt_response(409, response="CONFLICT", description="Refused by a rule")
@roles_required(*WRITE_OFF_ACTORS)
@blueprint.arguments(SeedWriteOffRequestSchema)
def write_off(body: dict[str, Any], loan_id: int):
    if current_user.role in MANAGERS:
        if body["approve"] is None:
            raise ValidationFailed(errors={"approve": [_("此字段为必填项")]})
        decided = services.decide_write_off(
            loan_id, approve=body["approve"], comment=body["reason"], on=body["on"], by_id=_me()
        )
        return write_off_payload(decided), 200
    if body["approve"] is not None:
        raise ValidationFailed(errors={"approve": [_("只有基金管理人可以审批核销")]})
    proposed = services.propose_write_off(loan_id, reason=body["reason"], on=body["on"], by_id=_me())
    return write_off_payload(proposed), 201


@blueprint.route("/seed/loans/<int:loan_id>/recoveries", methods=["POST"])
@blueprint.doc(
    security=BEARER,
    summary="Money recovered after a write-off, back to the fund's cash",
    description="Dr seed.cash / Cr seed.recoveries; at most the principal written off. " + IDEMPOTENCY_NOTE,
)
@blueprint.response(201, SeedRecoverySchema)
@blueprint.alt_response(200, schema=SeedRecoverySchema, description="Replay of the same event")
@roles_required(*OFFICERS)
@blueprint.arguments(SeedRecoveryCreateSchema)
def recoveries_create(body: dict[str, Any], loan_id: int):
    recovery, created = services.record_recovery(
        loan_id, amount=body["amount"], recovered_on=_same_date(body, "recovered_on"), bank_ref=body["bank_ref"],
        note=body["note"], by_id=_me(),
    )
    payload = {
        "id": recovery.id,
        "loan_id": recovery.loan_id,
        "amount": recovery.amount,
        "recovered_on": recovery.recovered_on,
        "paid_on": recovery.recovered_on,
        "bank_ref": recovery.bank_ref,
        "note": recovery.note,
        "created_by": _username(recovery.created_by),
        "created_at": recovery.created_at,
    }
    return payload, 201 if created else 200


# ------------------------------------------------------------------------------------ the calendar


def _calendar_routes(kind: str, lister, adder, deleter, summary: str) -> None:
    path = f"/{kind}"

    @calendar_blueprint.route(path, methods=["GET"], endpoint=f"{kind}_list")
    @calendar_blueprint.doc(security=BEARER, summary=f"{summary}, by date (`?year=`)")
    @calendar_blueprint.response(200, CalendarDayListSchema)
    @roles_required(*FUND_READERS)
    @calendar_blueprint.arguments(CalendarQuerySchema, location="query")
    def listing(args: dict[str, Any]):
        items, total = lister(year=args["year"], page=args["page"], per_page=args["per_page"])
        return {"items": items, "total": total}

    @calendar_blueprint.route(path, methods=["POST"], endpoint=f"{kind}_create")
    @calendar_blueprint.doc(security=BEARER, summary=f"Add to {summary.lower()} (admin); 409 when the date is taken")
    @calendar_blueprint.response(201, CalendarDaySchema)
    @roles_required(*ADMINS)
    @calendar_blueprint.arguments(CalendarDayCreateSchema)
    def create(body: dict[str, Any]):
        return adder(body["date"], body["name"], by_id=_me())

    @calendar_blueprint.route(f"{path}/<int:day_id>", methods=["DELETE"], endpoint=f"{kind}_delete")
    @calendar_blueprint.doc(security=BEARER, summary=f"Remove from {summary.lower()} (admin)")
    @calendar_blueprint.response(204)
    @roles_required(*ADMINS)
    def delete(day_id: int):
        deleter(day_id)
        return None


_calendar_routes("holidays", calendar.holidays, calendar.add_holiday, calendar.delete_holiday, "Public holidays")
_calendar_routes("workdays", calendar.workdays, calendar.add_workday, calendar.delete_workday, "Make-up working days")
