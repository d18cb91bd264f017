"""Jobs API (api.md): run a scheduled job now (admin) and read the recent runs (admin, auditor).

``POST /jobs/{name}/run`` takes the scheduler's own code path (``core.jobs.runner.run_job``) and
answers when the run has ended: 200 with the run record, whose ``status`` says how it went (a failed
job is a run that happened, not a refused request) and whose ``outcome`` says whether this request
ran it or found the period already done or being done.
"""
from __future__ import annotations

from typing import Any

from flask_login import current_user
from flask_smorest import Blueprint

from core.auth.models import Role
from core.auth.permissions import roles_required
from core.jobs.queries import recent_runs
from core.jobs.runner import run_job
from core.jobs.schemas import JobRunListSchema, JobRunSchema, RunQuerySchema, RunRequestSchema

blueprint = Blueprint("jobs_api", __name__, description="定时任务：立即运行与运行记录")

BEARER = [{"bearerAuth": []}]


@blueprint.route("/jobs/<string:name>/run", methods=["POST"])
@blueprint.doc(
    security=BEARER,
    summary="Run a scheduled job now (admin)",
    description="`daily-classification`, `contracts`, `monthly-reconciliation` or `monthly-statements`; the "
    "same code path as the scheduler. A period already succeeded is not run again (`outcome`).",
)
@blueprint.response(200, JobRunSchema)
@blueprint.alt_response(404, response="NOT_FOUND", description="Unknown job")
@roles_required(Role.ADMIN)
@blueprint.arguments(RunRequestSchema)
def run_now(body: dict[str, Any], name: str):
    return run_job(name, body.get("period") or None, triggered_by=current_user.username)


@blueprint.route("/jobs/runs", methods=["GET"])
@blueprint.doc(security=BEARER, summary="Recent job runs, the most recently started first (admin, auditor)")
@blueprint.response(200, JobRunListSchema)
@roles_required(Role.ADMIN, Role.AUDITOR)
@blueprint.arguments(RunQuerySchema, location="query")
def runs(args: dict[str, Any]):
    items, total = recent_runs(
        job=args.get("job"), status=args.get("status"), period=args.get("period"), page=args["page"],
        per_page=args["per_page"],
    )
    return {"items": items, "total": total}
