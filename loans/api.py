"""Knowledge-value loan API (api.md): bank liaisons record their bank's loans, tranches and
repayments; every role reads (a liaison only its own bank: another bank's loan is 404)."""
from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import validate

from core.auth.permissions import roles_required
from core.i18n import _l
from loans import queries, services
from loans.export import XLSX_MIMETYPE, ledger_download
from loans.models import Loan
from loans.permissions import LOAN_READERS, LOAN_WRITERS, acting_bank_id, writable_loan
from loans.queries import LoanState
from loans.schemas import (
    AsOfSchema,
    DisbursementCreateSchema,
    DisbursementListSchema,
    DisbursementSchema,
    LoanCreateSchema,
    LoanListSchema,
    LoanQuerySchema,
    LoanSchema,
    PageSchema,
    RepaymentCreateSchema,
    RepaymentListSchema,
    RepaymentSchema,
)

blueprint = Blueprint(
    "loans_api",
    __name__,
    description="知识价值信用贷款：合同、放款、还款、逾期天数与五级分类（银行联络员登记本行数据；其他角色只读）",
)

BEARER = [{"bearerAuth": []}]

COVERAGE_NOTE = (
    "`covered` is decided by the risk-compensation pool once, as of the contract date, by the policy in force "
    "then; a loan the pool does not cover reads `covered: false` with a `coverage_reason` code "
    "(`pool_underfunded`, `bank_suspended`, `leverage_cap`); a covered loan has `coverage_reason: null`."
)
IDEMPOTENCY_NOTE = (
    "Idempotent per `bank_ref` (unique per bank): the same reference with the same content answers 200 "
    "with the first record and writes nothing; the same reference with other content is a 409."
)


def loan_payload(loan: Loan, state: LoanState) -> dict[str, Any]:
    """A loan and its state as of a day, in the shape of ``LoanSchema``."""
    return {
        "id": loan.id,
        "bank_id": loan.bank_id,
        "bank_code": loan.bank.code,
        "bank_name": loan.bank.name,
        "enterprise_id": loan.enterprise_id,
        "enterprise_name": loan.enterprise.name,
        "credit_code": loan.enterprise.credit_code,
        "enterprise_bad_credit": loan.enterprise.bad_credit,
        "enterprise_dishonest": loan.enterprise.dishonest,
        "contract_no": loan.contract_no,
        "principal": loan.principal,
        "annual_rate": loan.annual_rate,
        "start_date": loan.start_date,
        "maturity_date": loan.maturity_date,
        "purpose": loan.purpose,
        "status": state.status,
        "lifecycle_status": loan.status,
        "policy_id": loan.policy_id,
        "as_of": state.as_of,
        "disbursed_total": state.disbursed_total,
        "repaid_principal": state.repaid_principal,
        "outstanding_principal": state.outstanding_principal,
        "overdue_principal": state.overdue_principal,
        "days_past_due": state.days_past_due,
        "classification": state.classification.value,
        "classification_label": state.classification.label,
        # Decided by the risk pool when the loan was recorded (NULL, never decided, reads as not covered).
        "covered": loan.covered is True,
        "coverage_reason": loan.coverage_reason,
        "created_by": loan.created_by,
        "created_at": loan.created_at,
    }


@blueprint.route("/loans", methods=["POST"])
@blueprint.doc(
    security=BEARER,
    summary="Record a loan contract of the liaison's bank",
    description=(
        "Refused with 409 (nothing written) when the enterprise is not a registered science-tech enterprise, "
        "has no rating valid on `start_date` (missing or expired), would exceed its credit line (its other "
        "loans' principal not yet repaid counts), the term exceeds the policy's maximum (12 months), or the "
        "bank already used the contract number. 422 for a malformed field or maturity not after the start. "
        "The bank is the liaison's own. " + COVERAGE_NOTE
    ),
)
@blueprint.response(201, LoanSchema)
@blueprint.alt_response(409, response="CONFLICT", description="A business rule refuses the loan")
@roles_required(*LOAN_WRITERS)
@blueprint.arguments(LoanCreateSchema)
def loans_create(body: dict[str, Any]):
    loan = services.create_loan(
        bank_id=acting_bank_id(),
        enterprise_id=body["enterprise_id"],
        contract_no=body["contract_no"],
        principal=body["principal"],
        annual_rate=body["annual_rate"],
        start_date=body["start_date"],
        maturity_date=body["maturity_date"],
        purpose=body["purpose"],
        created_by=current_user.username,
    )
    return loan_payload(loan, queries.loan_state(loan))


@blueprint.route("/loans", methods=["GET"])
@blueprint.doc(
    security=BEARER,
    summary="List loans with their state as of a day (a liaison sees only its own bank)",
    description="Filters: `bank_id`, `enterprise_id`, `classification`, `status` (as of `as_of`, default today), `q`. "
    + COVERAGE_NOTE,
)
@blueprint.response(200, LoanListSchema)
@roles_required(*LOAN_READERS)
@blueprint.arguments(LoanQuerySchema, location="query")
def loans_list(args: dict[str, Any]):
    rows, total = queries.visible_loans(
        as_of=args["as_of"],
        bank_id=args["bank_id"],
        enterprise_id=args["enterprise_id"],
        classification=args["classification"],
        status=args["status"],
        search=args["q"],
        page=args["page"],
        per_page=args["per_page"],
    )
    return {"items": [loan_payload(loan, state) for loan, state in rows], "total": total}


@blueprint.route("/loans/<int:loan_id>", methods=["GET"])
@blueprint.doc(
    security=BEARER,
    summary="One loan with disbursed, outstanding, days past due and classification as of a day",
    description="`?as_of=YYYY-MM-DD` (default today). 404 for another bank's liaison. " + COVERAGE_NOTE,
)
@blueprint.response(200, LoanSchema)
@roles_required(*LOAN_READERS)
@blueprint.arguments(AsOfSchema, location="query")
def loans_get(args: dict[str, Any], loan_id: int):
    loan = queries.visible_loan(loan_id)
    return loan_payload(loan, queries.loan_state(loan, args["as_of"]))


@blueprint.route("/loans/<int:loan_id>/disbursements", methods=["POST"])
@blueprint.doc(
    security=BEARER,
    summary="Record a tranche (放款)",
    description="409 beyond the principal, outside the contract term, on a repaid loan. " + IDEMPOTENCY_NOTE,
)
@blueprint.response(201, DisbursementSchema)
@blueprint.alt_response(200, schema=DisbursementSchema, description="Replay of the same event: the first record")
@blueprint.alt_response(409, response="CONFLICT", description="A business rule refuses the tranche")
@roles_required(*LOAN_WRITERS)
@blueprint.arguments(DisbursementCreateSchema)
def disbursements_create(body: dict[str, Any], loan_id: int):
    loan = writable_loan(loan_id)
    disbursement, created = services.record_disbursement(
        loan,
        amount=body["amount"],
        disbursed_on=body["disbursed_on"],
        bank_ref=body["bank_ref"],
        created_by=current_user.username,
    )
    return disbursement, 201 if created else 200


@blueprint.route("/loans/<int:loan_id>/disbursements", methods=["GET"])
@blueprint.doc(security=BEARER, summary="A loan's tranches, oldest first")
@blueprint.response(200, DisbursementListSchema)
@roles_required(*LOAN_READERS)
@blueprint.arguments(PageSchema, location="query")
def disbursements_list(args: dict[str, Any], loan_id: int):
    loan = queries.visible_loan(loan_id)
    items = list(loan.disbursements)
    start = (args["page"] - 1) * args["per_page"]
    return {"items": items[start : start + args["per_page"]], "total": len(items)}


@blueprint.route("/loans/<int:loan_id>/repayments", methods=["POST"])
@blueprint.doc(
    security=BEARER,
    summary="Record a repayment of principal and interest",
    description=(
        "409 on a loan with nothing disbursed or already repaid, before the first tranche, or principal beyond "
        "what is outstanding. Repaying the whole principal (or everything disbursed, past maturity) makes the "
        "loan repaid. " + IDEMPOTENCY_NOTE
    ),
)
@blueprint.response(201, RepaymentSchema)
@blueprint.alt_response(200, schema=RepaymentSchema, description="Replay of the same event: the first record")
@blueprint.alt_response(409, response="CONFLICT", description="A business rule refuses the repayment")
@roles_required(*LOAN_WRITERS)
@blueprint.arguments(RepaymentCreateSchema)
def repayments_create(body: dict[str, Any], loan_id: int):
    loan = writable_loan(loan_id)
    repayment, created = services.record_repayment(
        loan,
        principal=body["principal"],
        interest=body["interest"],
        paid_on=body["paid_on"],
        bank_ref=body["bank_ref"],
        created_by=current_user.username,
    )
    return repayment, 201 if created else 200


@blueprint.route("/loans/<int:loan_id>/repayments", methods=["GET"])
@blueprint.doc(security=BEARER, summary="A loan's repayments, oldest first")
@blueprint.response(200, RepaymentListSchema)
@roles_required(*LOAN_READERS)
@blueprint.arguments(PageSchema, location="query")
def repayments_list(args: dict[str, Any], loan_id: int):
    loan = queries.visible_loan(loan_id)
    items = list(loan.repayments)
    start = (args["page"] - 1) * args["per_page"]
    return {"items": items[start : start + args["per_page"]], "total": len(items)}



# -------------------------------------------------------------------------------------------- export


class LoanExportQuerySchema(LoanQuerySchema):
    """The list's filters (no paging: the ledger holds every matching loan) and the file format."""

    class Meta:
        exclude = ("page", "per_page")

    format = ma.fields.String(
        load_default="xlsx",
        validate=validate.OneOf(["xlsx"], error=_l("应为以下之一：{choices}")),
        metadata={"description": "File format: `xlsx` (Excel)"},
    )


@blueprint.route("/loans/export", methods=["GET"])
@blueprint.doc(
    security=BEARER,
    summary="The loan ledger (台账) as an Excel file (a liaison: its own bank's loans only)",
    description=(
        "Same filters as `GET /loans` (`bank_id`, `enterprise_id`, `classification`, `status`, `q`, `as_of`), "
        "every matching loan (no paging). One sheet: a title row (bank and as-of day), a header row, then one "
        "row per loan: contract number, bank, enterprise, credit code, town, industry, principal, annual rate, "
        "start and maturity dates, disbursed, repaid principal, outstanding principal, days past due, "
        "classification and status as of the day. Amounts are numbers with two decimals."
    ),
    responses={
        200: {
            "description": "The ledger workbook",
            "content": {XLSX_MIMETYPE: {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
@roles_required(*LOAN_READERS)
@blueprint.arguments(LoanExportQuerySchema, location="query")
def loans_export(args: dict[str, Any]):
    return ledger_download(
        as_of=args["as_of"],
        bank_id=args["bank_id"],
        enterprise_id=args["enterprise_id"],
        classification=args["classification"],
        status=args["status"],
        search=args["q"],
    )
