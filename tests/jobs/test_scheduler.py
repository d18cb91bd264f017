"""The schedule (config.scheduler): the four jobs' times, time zone, coalescing and grace as APScheduler
holds them; the period each run is for; the catch-up of a restarted scheduler; where it starts."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from config import create_app
from config import scheduler as schedule
from core.db import db
from core.jobs.models import JobRun
from tests.jobs.conftest import freeze_at

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI)


def fields(trigger: CronTrigger) -> dict[str, str]:
    return {field.name: str(field) for field in trigger.fields if not field.is_default}


def test_the_four_jobs_their_times_time_zone_coalescing_and_grace(app):
    scheduler = schedule.build_scheduler(app)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {"daily-classification", "contracts", "monthly-reconciliation", "monthly-statements"}
    assert scheduler.timezone == SHANGHAI
    expected = {
        "daily-classification": ({"hour": "0", "minute": "30"}, timedelta(hours=23)),
        "contracts": ({"minute": "*/10"}, timedelta(minutes=5)),
        "monthly-reconciliation": ({"day": "1", "hour": "2", "minute": "0"}, timedelta(days=7)),
        "monthly-statements": ({"day": "1", "hour": "3", "minute": "0"}, timedelta(days=7)),
    }
    for name, (cron, grace) in expected.items():
        job = jobs[name]
        assert isinstance(job.trigger, CronTrigger)
        assert fields(job.trigger) == cron, name
        assert job.trigger.timezone == SHANGHAI
        assert job.coalesce is True and job.max_instances == 1
        assert job.misfire_grace_time == int(grace.total_seconds())
        assert job.func is schedule.run_scheduled and job.args == (app, name)


@pytest.mark.parametrize(
    ("name", "after", "next_run"),
    [
        ("daily-classification", at(date(2025, 6, 15), 12), at(date(2025, 6, 16), 0, 30)),
        ("contracts", at(date(2025, 6, 15), 12, 3), at(date(2025, 6, 15), 12, 10)),
        ("monthly-reconciliation", at(date(2025, 6, 15), 12), at(date(2025, 7, 1), 2)),
        ("monthly-statements", at(date(2025, 12, 1), 3, 1), at(date(2026, 1, 1), 3)),
    ],
)
def test_next_fire_times_in_shanghai(app, name, after, next_run):
    job = schedule.build_scheduler(app).get_job(name)
    assert job.trigger.get_next_fire_time(None, after) == next_run


def run_rows() -> list[tuple[str, str, str, str]]:
    return [
        (run.job, run.period, run.status, run.triggered_by)
        for run in db.session.scalars(sa.select(JobRun).order_by(JobRun.id))
    ]


def test_a_scheduled_run_is_for_the_previous_month_or_today(app, app_ctx, stub_scheduled_jobs):
    freeze_at(date(2025, 7, 1), time(2, 0))
    schedule.run_scheduled(app, "monthly-reconciliation")
    freeze_at(date(2025, 7, 1), time(0, 30))
    schedule.run_scheduled(app, "daily-classification")
    assert run_rows() == [
        ("monthly-reconciliation", "2025-06", "succeeded", "scheduler"),
        ("daily-classification", "2025-07-01", "succeeded", "scheduler"),
    ]
    assert stub_scheduled_jobs["monthly-reconciliation"].calls == ["2025-06"]


def test_the_scheduler_runs_a_period_once_except_the_contracts_sweep(app, app_ctx, stub_scheduled_jobs):
    """The reconciliation may be re-run by hand until sign-off, but a second scheduled run of a
    succeeded month (a second scheduler, a run by hand before 02:00) leaves it as it is."""
    freeze_at(date(2025, 7, 1), time(2, 0))
    for _ in range(2):
        schedule.run_scheduled(app, "monthly-reconciliation")
        schedule.run_scheduled(app, "contracts")
    assert stub_scheduled_jobs["monthly-reconciliation"].calls == ["2025-06"]
    assert stub_scheduled_jobs["contracts"].calls == ["2025-07-01", "2025-07-01"]
    assert [run.attempts for run in db.session.scalars(sa.select(JobRun).order_by(JobRun.id))] == [1, 2]


def test_a_scheduled_run_that_breaks_is_logged_not_raised(app, app_ctx, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("数据库不可用")

    monkeypatch.setattr(schedule, "run_job", broken)
    schedule.run_scheduled(app, "contracts")  # the scheduler thread survives
    assert "job contracts could not run" in caplog.text


# ----------------------------------------------------------------------------------------- catch-up


def succeeded(job: str, period: str, status: str = "succeeded") -> None:
    db.session.add(JobRun(job=job, period=period, status=status, triggered_by="scheduler"))
    db.session.commit()


def test_missed_runs_within_the_grace(app_ctx, stub_scheduled_jobs):
    # The process was down over the 1st; it starts again on the 3rd at 10:04.
    succeeded("monthly-reconciliation", "2025-05")
    succeeded("monthly-statements", "2025-05")
    assert schedule.missed_runs(at(date(2025, 7, 3), 10, 4)) == [
        ("daily-classification", "2025-07-03"),
        ("contracts", "2025-07-03"),
        ("monthly-reconciliation", "2025-06"),
        ("monthly-statements", "2025-06"),
    ]
    succeeded("monthly-statements", "2025-06")
    succeeded("daily-classification", "2025-07-03")
    succeeded("monthly-reconciliation", "2025-06", status="failed")  # failed: still to do
    assert schedule.missed_runs(at(date(2025, 7, 3), 10, 6)) == [("monthly-reconciliation", "2025-06")]
    # Eight days late is beyond the monthly grace: the 1st's runs are not caught up any more.
    assert schedule.missed_runs(at(date(2025, 7, 9), 9, 6)) == [("daily-classification", "2025-07-09")]
    # Before the first run of the day nothing is due yet.
    assert ("daily-classification", "2025-07-10") not in schedule.missed_runs(at(date(2025, 7, 10), 0, 10))


def test_a_restarted_scheduler_catches_up_a_missed_monthly_run(app, app_ctx, stub_scheduled_jobs):
    scheduler = schedule.build_scheduler(app)
    due = schedule.catch_up(app, scheduler, at(date(2025, 7, 3), 10, 6))
    assert ("monthly-reconciliation", "2025-06") in due and ("monthly-statements", "2025-06") in due
    catch_ups = [job for job in scheduler.get_jobs() if job.id.startswith("catch-up:")]
    assert {job.id for job in catch_ups} == {f"catch-up:{name}:{period}" for name, period in due}
    for job in catch_ups:  # what the scheduler's worker thread does with them once started
        job.func(*job.args)
    assert ("monthly-reconciliation", "2025-06", "succeeded", "scheduler") in run_rows()
    assert ("monthly-statements", "2025-06", "succeeded", "scheduler") in run_rows()
    assert stub_scheduled_jobs["monthly-statements"].calls == ["2025-06"]
    # Restarted again: nothing left to catch up, nothing runs twice.
    assert schedule.catch_up(app, schedule.build_scheduler(app), at(date(2025, 7, 3), 10, 6)) == []


def test_flask_scheduler_run_starts_the_blocking_scheduler(app, runner, monkeypatch, stub_scheduled_jobs):
    started = []

    def start(self, *args, **kwargs):
        started.append(sorted(job.id for job in self.get_jobs()))
        raise KeyboardInterrupt  # as Ctrl+C would

    monkeypatch.setattr(BlockingScheduler, "start", start)
    result = runner.invoke(args=["scheduler", "run"])
    assert result.exit_code == 0, result.output
    assert "调度进程已启动" in result.output
    (job_ids,) = started
    assert {"daily-classification", "contracts", "monthly-reconciliation", "monthly-statements"} <= set(job_ids)
    assert "catch-up:monthly-statements:2025-06" in job_ids  # today is 2025-07-03: June not done yet


# ------------------------------------------------------------------------------- where it starts


class FakeScheduler:
    starts = 0

    def start(self) -> None:
        FakeScheduler.starts += 1

    def shutdown(self, wait: bool = True) -> None:
        pass


@pytest.fixture
def in_process(monkeypatch):
    """The in-process start with a scheduler that only counts its starts."""
    FakeScheduler.starts = 0
    monkeypatch.setattr(schedule, "_in_process", None)
    monkeypatch.setattr(schedule, "build_scheduler", lambda app, cls=BackgroundScheduler: FakeScheduler())
    monkeypatch.setattr(schedule, "catch_up", lambda app, scheduler, now=None: [])
    monkeypatch.delenv("FLASK_RUN_FROM_CLI", raising=False)
    return FakeScheduler


def test_make_run_starts_the_in_process_scheduler_exactly_once(in_process):
    # `make run`: gunicorn imports wsgi.py (create_app) in its one worker, with SCHEDULER_IN_PROCESS=1.
    first = create_app("test", SCHEDULER_IN_PROCESS=True, TESTING=False)
    create_app("test", SCHEDULER_IN_PROCESS=True, TESTING=False)  # a second app in the same process
    assert in_process.starts == 1
    assert schedule.should_start_in_process(first)


def test_a_flask_command_never_starts_it(in_process, monkeypatch):
    # `make run` runs `flask db upgrade` and `flask demo load` first; `flask scheduler run` is the scheduler.
    monkeypatch.setenv("FLASK_RUN_FROM_CLI", "true")  # what the flask command sets before loading the app
    app = create_app("test", SCHEDULER_IN_PROCESS=True, TESTING=False)
    assert in_process.starts == 0 and not schedule.should_start_in_process(app)


def test_tests_and_web_workers_without_the_setting_never_start_it(in_process):
    create_app("test", SCHEDULER_IN_PROCESS=True)  # TESTING
    create_app("test", SCHEDULER_IN_PROCESS=False, TESTING=False)  # production web workers
    assert in_process.starts == 0


def test_a_database_that_cannot_answer_does_not_stop_the_start(app, monkeypatch, caplog):
    def unavailable(now=None):
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("no such table: job_runs"))

    monkeypatch.setattr(schedule, "missed_runs", unavailable)
    scheduler = schedule.build_scheduler(app)
    assert schedule.catch_up(app, scheduler) == []
    assert len(scheduler.get_jobs()) == 4
    assert "could not look for missed runs" in caplog.text
