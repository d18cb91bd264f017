"""Reconciliation API (api.md): read a month's result (auditor, fund manager, admin) and sign it off
(auditor). The sign-off closes the month: from then on every write path refuses a record dated in it.
"""
from __future__ import annotations

from typing import Any

from flask_login import current_user
from flask_smorest import Blueprint

from config import reconciliation
from core.auth.models import Role
from core.auth.permissions import roles_required
from core.errors import NotFound
from core.i18n import _
from core.periods import is_closed, parse_period, period_bounds
from core.reconciliation import ReconciliationResult, get_result, results
from core.templating import status_label
from config.reconciliation_schemas import (
    ReconciliationListSchema,
    ReconciliationPageSchema,
    ReconciliationSchema,
    SignOffSchema,
)

blueprint = Blueprint("reconciliation_api", __name__, description="月度对账：结果与差异、审计签核（签核后该月结账）")

BEARER = [{"bearerAuth": []}]
READERS = (Role.AUDITOR, Role.FUND_MANAGER, Role.ADMIN)
SIGNERS = (Role.AUDITOR,)


def result_payload(result: ReconciliationResult) -> dict[str, Any]:
    """A result in the shape of ``ReconciliationSchema``; each difference gets its sentence."""
    return {
        "period": result.period,
        "status": result.status,
        "status_label": status_label(result.status),
        "difference_count": result.difference_count,
        "differences": [{**difference, "message": reconciliation.describe(difference)} for difference in result.differences],
        "checks": list(result.checks or []),
        "run_at": result.run_at,
        "run_by": result.run_by,
        "runs": result.runs,
        "document_id": result.document_id,
        "signed_off_at": result.signed_off_at,
        "signed_off_by": result.signed_off_by,
        "comment": result.sign_off_comment,
        "closed": is_closed(period_bounds(result.period)[1]),
    }


def summary_payload(result: ReconciliationResult) -> dict[str, Any]:
    return {
        "period": result.period,
        "status": result.status,
        "status_label": status_label(result.status),
        "difference_count": result.difference_count,
        "run_at": result.run_at,
        "signed_off_at": result.signed_off_at,
        "signed_off_by": result.signed_off_by,
    }


def stored_result(period: str) -> ReconciliationResult:
    """The result of ``period``; 422 for a malformed month, 404 when it was never reconciled."""
    result = get_result(parse_period(period))
    if result is None:
        raise NotFound(_("%(period)s 尚未对账", period=period))
    return result


@blueprint.route("/reconciliations", methods=["GET"])
@blueprint.doc(security=BEARER, summary="Reconciled months, the latest first (auditor, fund manager, admin)")
@blueprint.response(200, ReconciliationListSchema)
@roles_required(*READERS)
@blueprint.arguments(ReconciliationPageSchema, location="query")
def reconciliations_list(args: dict[str, Any]):
    items, total = results(page=args["page"], per_page=args["per_page"])
    return {"items": [summary_payload(item) for item in items], "total": total}


@blueprint.route("/reconciliations/<string:period>", methods=["GET"])
@blueprint.doc(
    security=BEARER,
    summary="A month's reconciliation result with every difference (auditor, fund manager, admin)",
    description=(
        "The result of the last run for the month (`YYYY-MM`): `balanced`, `differences` or `signed_off`. "
        "404 when the month was never reconciled (run the `monthly-reconciliation` job), 422 for a malformed month."
    ),
)
@blueprint.response(200, ReconciliationSchema)
@blueprint.alt_response(404, response="NOT_FOUND", description="The month was never reconciled")
@roles_required(*READERS)
def reconciliation_get(period: str):
    return result_payload(stored_result(period))


@blueprint.route("/reconciliations/<string:period>/sign-off", methods=["POST"])
@blueprint.doc(
    security=BEARER,
    summary="Sign off a month's reconciliation (auditor): the month is closed from then on",
    description=(
        "Closes the month and every month before it: no record dated in them is accepted any more (409). "
        "422 without a `comment` when the result has differences. 409 when the month was never reconciled, "
        "is already signed off, an earlier reconciled month awaits sign-off, or the month's data changed since "
        "the run (run the reconciliation again)."
    ),
)
@blueprint.response(200, ReconciliationSchema)
@blueprint.alt_response(409, response="CONFLICT", description="Not reconciled, already signed off, stale result")
@roles_required(*SIGNERS)
@blueprint.arguments(SignOffSchema)
def reconciliation_sign_off(body: dict[str, Any], period: str):
    result = reconciliation.sign_off(parse_period(period), by=current_user.username, comment=body.get("comment"))
    return result_payload(result)
