"""Jobs pages: every job with its schedule and last run, the runs with status, progress and errors
(admin, auditor), and the admin's "run now" (a POST form with CSRF, the scheduler's code path).

"Run now" answers when the run has ended, like the API; a refused period re-renders the page with
the refusal's status (422), and nothing is written.
"""
from __future__ import annotations

import json

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import Length, Optional

from core import clock
from core.auth.models import Role
from core.auth.permissions import roles_required
from core.errors import DomainError, ValidationFailed
from core.i18n import _, _l
from core.jobs.models import RUN_STATUSES, RunStatus
from core.jobs.queries import get_run, last_runs, recent_runs
from core.jobs.runner import (
    ALREADY_RUNNING,
    ALREADY_SUCCEEDED,
    STALE_AFTER,
    get_job,
    live_progress,
    registered_jobs,
    run_job,
)

blueprint = Blueprint("jobs", __name__)

PER_PAGE = 50


class RunJobForm(FlaskForm):
    period = StringField(
        _l("期间"),
        validators=[Optional(), Length(max=10)],
        description=_l("月度任务填 YYYY-MM（默认上月），每日任务填 YYYY-MM-DD（默认今天）"),
    )


def _progress(run) -> dict:
    done, total = live_progress(run)
    percent = None if not total else min(100, round(done * 100 / total))
    return {"done": done, "total": total, "percent": percent}


def _render_index(form: RunJobForm | None = None, refusal: DomainError | None = None, refused_job: str | None = None):
    job_filter = request.args.get("job") or None
    status_filter = request.args.get("status") or None
    if status_filter not in RUN_STATUSES:
        status_filter = None
    page = request.args.get("page", 1, type=int) or 1
    runs, total = recent_runs(job=job_filter, status=status_filter, page=page, per_page=PER_PAGE)
    latest = last_runs()
    return render_template(
        "jobs/index.html",
        jobs=registered_jobs(),
        latest=latest,
        runs=runs,
        total=total,
        page=page,
        per_page=PER_PAGE,
        job_filter=job_filter,
        status_filter=status_filter,
        statuses=RUN_STATUSES,
        progress=_progress,
        form=form or RunJobForm(),
        refusal=refusal,
        refused_job=refused_job,
        labels={job.name: job.label for job in registered_jobs()},
        # Refresh while something runs (a row left "running" by a dead runner long ago does not count).
        any_running=any(
            run.status == RunStatus.RUNNING.value and run.started_at > clock.now() - STALE_AFTER
            for run in [*runs, *latest.values()]
        ),
        can_run=current_user.role == Role.ADMIN.value,
    ), (refusal.code if refusal is not None else 200)


@blueprint.get("/jobs")
@roles_required(Role.ADMIN, Role.AUDITOR)
def index():
    return _render_index()


@blueprint.post("/jobs/<name>/run")
@roles_required(Role.ADMIN)
def run_now(name: str):
    job = get_job(name)  # 404 for an unknown job
    form = RunJobForm()
    if not form.validate_on_submit():
        return _render_index(form, ValidationFailed(_("期间格式有误"), form.errors), name)
    try:
        run = run_job(name, form.period.data or None, triggered_by=current_user.username)
    except DomainError as refused:
        return _render_index(form, refused, name)
    if run.outcome == ALREADY_SUCCEEDED:
        flash(_("%(job)s（%(period)s）已成功运行过，未重复运行", job=job.label, period=run.period), "info")
    elif run.outcome == ALREADY_RUNNING:
        flash(_("%(job)s（%(period)s）正在运行中，未重复启动", job=job.label, period=run.period), "warning")
    elif run.status == RunStatus.FAILED.value:
        flash(_("%(job)s（%(period)s）运行失败：%(error)s", job=job.label, period=run.period, error=run.error), "danger")
    elif run.status == RunStatus.SKIPPED.value:
        flash(_("%(job)s（%(period)s）无需运行：%(reason)s", job=job.label, period=run.period, reason=run.error or "—"), "info")
    else:
        flash(_("%(job)s（%(period)s）运行成功", job=job.label, period=run.period), "success")
    return redirect(url_for("jobs.index"), code=303)


@blueprint.get("/jobs/runs/<int:run_id>")
@roles_required(Role.ADMIN, Role.AUDITOR)
def run_detail(run_id: int):
    run = get_run(run_id)
    jobs = {job.name: job for job in registered_jobs()}
    # Pretty-printed here: the template's tojson would escape the Chinese of a result.
    result = json.dumps(run.result, ensure_ascii=False, indent=2) if run.result else None
    return render_template("jobs/run.html", run=run, job=jobs.get(run.job), progress=_progress(run), result=result)
