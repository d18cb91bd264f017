"""Read side of the job runs: the lists of the API and the jobs page."""
from __future__ import annotations

import sqlalchemy as sa

from core.db import db
from core.errors import NotFound
from core.i18n import _
from core.jobs.models import JobRun

MAX_PER_PAGE = 200


def recent_runs(
    *, job: str | None = None, status: str | None = None, period: str | None = None, page: int = 1, per_page: int = 50
) -> tuple[list[JobRun], int]:
    """One page of runs, the most recently started first, and the total. Two queries."""
    query = sa.select(JobRun)
    if job:
        query = query.where(JobRun.job == job)
    if status:
        query = query.where(JobRun.status == status)
    if period:
        query = query.where(JobRun.period == period)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    page, per_page = max(1, page), min(max(1, per_page), MAX_PER_PAGE)
    runs = db.session.scalars(
        query.order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(per_page).offset((page - 1) * per_page)
    ).all()
    return list(runs), total


def last_runs() -> dict[str, JobRun]:
    """The most recently started run of each job, in one query."""
    ranked = sa.select(
        JobRun.id,
        sa.func.row_number().over(partition_by=JobRun.job, order_by=(JobRun.started_at.desc(), JobRun.id.desc())).label("n"),
    ).subquery()
    runs = db.session.scalars(sa.select(JobRun).join(ranked, ranked.c.id == JobRun.id).where(ranked.c.n == 1)).all()
    return {run.job: run for run in runs}


def get_run(run_id: int) -> JobRun:
    run = db.session.get(JobRun, run_id)
    if run is None:
        raise NotFound(_("任务运行记录不存在"))
    return run
