"""PostgreSQL: two schedulers started at once by mistake (one deployment, two scheduler processes).

Both start on the same database at 02:30 on 1 December (Asia/Shanghai) and catch up the same due
runs: the day's classification and contracts sweep, and November's reconciliation. Each works in its
own threads, sessions and connections on the production path (``run_scheduled`` -> ``run_job``). The
test keeps the ``documents`` table locked until both are inside their runs, so the two really overlap
(a runner stuck storing a report holds its period's lock while the other arrives). Each (job, period)
must be executed by exactly one of them: one run row, run once, one result, one report.
"""
from __future__ import annotations

import logging
import re
from datetime import datetime

import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler

from config.scheduler import SCHEDULE, build_scheduler, catch_up
from core import clock
from core.documents.models import Document
from core.jobs.models import JobRun
from core.reconciliation import ReconciliationResult
from tests.faults.conftest import load_books, serving, wait_for
from tests.faults.test_killed_reconciliation import backends
from tests.races import assert_books_sound, fresh_database

STARTED = datetime(2026, 12, 1, 2, 30, tzinfo=clock.BUSINESS_TZ)
DUE = [("daily-classification", "2026-12-01"), ("contracts", "2026-12-01"), ("monthly-reconciliation", "2026-11")]
OUTCOME = re.compile(r"^job (\S+) for (\S+): \w+ \((\w+)\)")


def outcomes(caplog) -> list[tuple[str, str, str]]:
    """(job, period, outcome) of every scheduled run logged so far."""
    return [
        match.groups()
        for record in caplog.records
        if record.name == "config.scheduler" and (match := OUTCOME.match(record.getMessage()))
    ]


def test_two_schedulers_catching_up_at_once_execute_each_run_once(app, caplog):
    caplog.set_level(logging.INFO, logger="config.scheduler")
    with fresh_database(app, "twosched") as engine:
        load_books(app, engine, reconcile=False)
        clock.freeze(STARTED.astimezone(clock.BUSINESS_TZ))
        with serving(app, engine) as served:
            schedulers = [build_scheduler(served, BackgroundScheduler) for _ in range(2)]
            for scheduler in schedulers:
                for entry in SCHEDULE:  # only the start-up catch-up: no cron fire of the real clock meanwhile
                    scheduler.remove_job(entry.job)
            with engine.connect() as blocker:
                blocker.begin()
                blocker.execute(sa.text("LOCK TABLE documents IN ACCESS EXCLUSIVE MODE"))
                try:
                    assert [catch_up(served, scheduler) for scheduler in schedulers] == [DUE, DUE]
                    for scheduler in schedulers:
                        scheduler.start()
                    # Both runners are inside a run that stores documents, each holding its period's lock.
                    wait_for(lambda: len(backends(engine, waiting=True)) >= 2, timeout=30, what="both schedulers to block")
                finally:
                    blocker.rollback()
                wait_for(lambda: len(outcomes(caplog)) == 2 * len(DUE), timeout=30, what="every catch-up to end")
            for scheduler in schedulers:
                scheduler.shutdown(wait=True)

        logged = outcomes(caplog)
        for job, period in DUE:
            ran = [outcome for j, p, outcome in logged if (j, p) == (job, period)]
            assert sorted(ran) in (["already_running", "ran"], ["already_succeeded", "ran"]), (job, ran)
        with engine.connect() as conn:
            runs = conn.execute(sa.select(JobRun.job, JobRun.period, JobRun.status, JobRun.attempts).order_by(JobRun.job)).all()
            assert sorted(runs) == sorted((job, period, "succeeded", 1) for job, period in DUE)
            assert conn.scalar(sa.select(sa.func.count()).select_from(ReconciliationResult)) == 1
            reports = conn.execute(sa.select(Document.kind, Document.series, Document.version)).all()
            assert [(kind, version) for kind, _series, version in reports if kind == "reconciliation"] == [("reconciliation", 1)]
            assert len({series for _kind, series, _version in reports}) == len(reports)  # one version of everything
        assert_books_sound(app, engine)
