"""The job schedule (APScheduler 3.x, Asia/Shanghai) and the scheduler process.

| job                      | when                    | period             | misfire grace |
|--------------------------|-------------------------|--------------------|---------------|
| `daily-classification`   | every day 00:30         | that day           | 23 hours      |
| `contracts`              | every 10 minutes        | that day           | 5 minutes     |
| `monthly-reconciliation` | 1st of the month, 02:00 | the previous month | 7 days        |
| `monthly-statements`     | 1st of the month, 03:00 | the previous month | 7 days        |

Every run goes through ``core.jobs.runner.run_job`` (the database lock and the run row unique on
job and period), so the scheduler, ``flask jobs run`` and the API never do a period twice.

One scheduler per deployment: ``flask scheduler run`` (a process of its own). Web workers never start
it; the one-machine demo (``make run``: one gunicorn worker) runs it in-process when
``SCHEDULER_IN_PROCESS`` is set (:func:`register_scheduler`): never in the tests, never in a ``flask``
command. Even a second scheduler by mistake would only find the periods locked or done: the scheduler
runs a period once (a succeeded period of any job but the contracts sweep is not run again by it,
even the reconciliation, which a person may re-run until sign-off).

Coalescing and grace: a run missed while the process was busy or asleep runs once (coalesced) when it
is at most the grace late; a restarted scheduler catches up the same way (:func:`missed_runs`: the
last fire time of each job within its grace whose period has no succeeded run is run at start).
Jobs run one at a time in one worker thread (SQLite serialises writers anyway).
"""
from __future__ import annotations

import atexit
import logging
import os
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from flask import Flask

from core import clock
from core.db import db
from core.i18n import _l
from core.jobs.models import JobRun, RunStatus
from core.jobs.runner import SCHEDULER, default_period, get_job, run_job

log = logging.getLogger(__name__)

TIMEZONE = "Asia/Shanghai"


@dataclass(frozen=True)
class ScheduledJob:
    job: str
    cron: dict[str, Any]  # CronTrigger fields, in TIMEZONE
    grace: timedelta  # how late a missed run may still run
    label: Any  # when, as people read it
    # A sweep runs again on every fire within its period (the contracts, every 10 minutes of a day);
    # any other job is run by the scheduler once per period, even if the job itself may run again
    # on request (the reconciliation, until signed off: a person's decision, not the schedule's).
    sweep: bool = False

    def trigger(self) -> CronTrigger:
        return CronTrigger(timezone=TIMEZONE, **self.cron)


SCHEDULE: tuple[ScheduledJob, ...] = (
    ScheduledJob("daily-classification", {"hour": 0, "minute": 30}, timedelta(hours=23), _l("每天 00:30")),
    ScheduledJob("contracts", {"minute": "*/10"}, timedelta(minutes=5), _l("每 10 分钟"), sweep=True),
    ScheduledJob("monthly-reconciliation", {"day": 1, "hour": 2, "minute": 0}, timedelta(days=7), _l("每月 1 日 02:00（上月）")),
    ScheduledJob("monthly-statements", {"day": 1, "hour": 3, "minute": 0}, timedelta(days=7), _l("每月 1 日 03:00（上月）")),
)


def schedule_label(job: str) -> Any:
    return next((entry.label for entry in SCHEDULE if entry.job == job), None)


# ------------------------------------------------------------------------------------------- runs


def is_sweep(job: str) -> bool:
    return any(entry.sweep for entry in SCHEDULE if entry.job == job)


def run_scheduled(app: Flask, name: str, period: str | None = None) -> None:
    """What the scheduler calls: one run in an app context of its own, logged; never raises.

    A period that already succeeded is left as it is unless the job is a sweep: two schedulers
    started by mistake, or a run by hand before the scheduled one, never do a period twice.
    """
    with app.app_context():
        try:
            run = run_job(name, period, triggered_by=SCHEDULER, run_again=None if is_sweep(name) else False)
            log.info(
                "job %s for %s: %s (%s) in %s ms, result %s%s",
                name, run.period, run.status, run.outcome, run.duration_ms, run.result,
                f", error: {run.error}" if run.error else "",
            )
        except Exception:  # noqa: BLE001 - a broken run must not stop the scheduler
            log.exception("job %s could not run", name)
        finally:
            db.session.remove()


def _last_fire_time(entry: ScheduledJob, now: datetime) -> datetime | None:
    """The latest time ``entry`` was due at or before ``now`` and not more than its grace ago."""
    trigger = entry.trigger()
    cursor = now - entry.grace
    last = None
    fire = trigger.get_next_fire_time(None, cursor)
    while fire is not None and fire <= now:
        last = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    return last


def missed_runs(now: datetime | None = None) -> list[tuple[str, str]]:
    """(job, period) of every scheduled run due within its grace whose period has not succeeded.

    What a restarted scheduler runs first: a monthly job whose 1st-of-the-month run fell while the
    process was down runs for the previous month as long as it is at most 7 days late.
    """
    now = (now or clock.now()).astimezone(clock.BUSINESS_TZ)
    due: list[tuple[str, str]] = []
    for entry in SCHEDULE:
        fire = _last_fire_time(entry, now)
        if fire is None:
            continue
        period = default_period(get_job(entry.job).period_kind, fire.astimezone(clock.BUSINESS_TZ).date())
        succeeded = db.session.scalar(
            sa.select(JobRun.id).where(
                JobRun.job == entry.job, JobRun.period == period, JobRun.status == RunStatus.SUCCEEDED.value
            )
        )
        if succeeded is None:
            due.append((entry.job, period))
    return due


# -------------------------------------------------------------------------------------- scheduler


def build_scheduler(app: Flask, scheduler_class: type[BaseScheduler] = BackgroundScheduler) -> BaseScheduler:
    """A scheduler (not started) with the four jobs of :data:`SCHEDULE`."""
    scheduler = scheduler_class(
        timezone=TIMEZONE,
        executors={"default": ThreadPoolExecutor(max_workers=1)},
        job_defaults={"coalesce": True, "max_instances": 1},
    )
    for entry in SCHEDULE:
        scheduler.add_job(
            run_scheduled,
            entry.trigger(),
            args=(app, entry.job),
            id=entry.job,
            name=entry.job,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=int(entry.grace.total_seconds()),
            replace_existing=True,
        )
    scheduler.add_listener(_log_missed, EVENT_JOB_MISSED)
    return scheduler


def _log_missed(event: JobExecutionEvent) -> None:
    log.warning("job %s missed its run at %s (more than its grace late)", event.job_id, event.scheduled_run_time)


def catch_up(app: Flask, scheduler: BaseScheduler, now: datetime | None = None) -> list[tuple[str, str]]:
    """Add a one-off run, due now, for each of :func:`missed_runs`; returns them.

    A database that cannot answer (down, not migrated yet) is logged, not raised: the web worker of
    ``make run`` still starts, and the scheduled runs still come.
    """
    with app.app_context():
        try:
            due = missed_runs(now)
        except Exception:  # noqa: BLE001 - see above
            log.exception("could not look for missed runs; nothing caught up")
            return []
        finally:
            db.session.remove()
    for name, period in due:
        log.info("catching up %s for %s", name, period)
        scheduler.add_job(
            run_scheduled,
            "date",
            args=(app, name, period),
            id=f"catch-up:{name}:{period}",
            name=f"{name} (catch-up {period})",
            misfire_grace_time=None,
            replace_existing=True,
        )
    return due


def log_to_stderr() -> None:
    """Each run is logged (job, period, status, time, result): to standard error unless the process
    has configured logging itself (gunicorn configures only its own loggers)."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def run_blocking(app: Flask) -> None:
    """``flask scheduler run``: the scheduler process, until interrupted."""
    log_to_stderr()
    scheduler = build_scheduler(app, BlockingScheduler)
    catch_up(app, scheduler)
    for job in scheduler.get_jobs():
        log.info("scheduled %s: %s", job.id, job.trigger)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        log.info("scheduler stopped")


_in_process: BaseScheduler | None = None
_in_process_lock = threading.Lock()


def start_in_process(app: Flask) -> BaseScheduler:
    """Start the in-process scheduler (once per process, whatever the number of apps created)."""
    global _in_process
    with _in_process_lock:
        if _in_process is None:
            log_to_stderr()
            scheduler = build_scheduler(app, BackgroundScheduler)
            catch_up(app, scheduler)
            scheduler.start()
            atexit.register(lambda: scheduler.shutdown(wait=False))
            log.info("in-process scheduler started (pid %s)", os.getpid())
            _in_process = scheduler
        return _in_process


def should_start_in_process(app: Flask) -> bool:
    """Only the web server of the one-machine set-up: the setting is on, and this is neither a test
    nor a ``flask`` command (``flask scheduler run`` is the scheduler, ``flask db upgrade`` is not one)."""
    return (
        bool(app.config.get("SCHEDULER_IN_PROCESS"))
        and not app.testing
        and os.environ.get("FLASK_RUN_FROM_CLI") != "true"
    )


def register_scheduler(app: Flask) -> None:
    """create_app's step: start the in-process scheduler when :func:`should_start_in_process`."""
    if should_start_in_process(app):
        start_in_process(app)
