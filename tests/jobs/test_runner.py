"""The runner (core.jobs.runner): one run row and one result per (job, period), failures recorded and
re-runnable, rerunnable jobs replacing their result, periods checked, progress recorded, the lock.

These run on the test harness's one connection (the "pinned" path); tests/jobs/test_races.py runs the
same code with connections of its own on PostgreSQL and on a SQLite file.
"""
from __future__ import annotations

import os
import socket
from datetime import timedelta

import pytest
import sqlalchemy as sa

from core import clock
from core.audit.models import AuditEvent
from core.db import db
from core.errors import NotFound, ValidationFailed
from core.jobs import runner
from core.jobs.models import JobRun
from core.jobs.runner import ALREADY_RUNNING, ALREADY_SUCCEEDED, RAN, JobSkipped, run_job
from parties.models import Bank
from tests.factories import BankFactory


def runs(app_ctx=None) -> list[JobRun]:
    return db.session.scalars(sa.select(JobRun).order_by(JobRun.id)).all()


def test_running_twice_for_one_period_gives_one_row_and_one_result(app_ctx, fake_job):
    job = fake_job("test-monthly")
    first = run_job("test-monthly", "2025-06", triggered_by="cli")
    first_outcome, first_id = first.outcome, first.id
    second = run_job("test-monthly", "2025-06", triggered_by="cli")
    assert job.calls == ["2025-06"]
    assert (first_outcome, second.outcome) == (RAN, ALREADY_SUCCEEDED)
    assert first_id == second.id
    (row,) = runs()
    assert (row.job, row.period, row.status, row.attempts) == ("test-monthly", "2025-06", "succeeded", 1)
    assert row.result == {"period": "2025-06", "call": 1}
    assert row.started_at <= row.finished_at and row.error is None and row.holder is None


def test_default_periods_are_the_previous_month_and_today(app_ctx, fake_job, today):
    monthly, daily = fake_job("test-monthly"), fake_job("test-daily", kind="day")
    assert run_job("test-monthly", triggered_by="cli").period == "2025-06"
    assert run_job("test-daily", triggered_by="cli").period == today.isoformat() == "2025-07-03"
    assert monthly.calls == ["2025-06"] and daily.calls == ["2025-07-03"]
    assert runner.default_period("month", today.replace(month=1, day=1)) == "2024-12"


@pytest.mark.parametrize(
    ("kind", "period"),
    [
        ("month", "2025-7"),
        ("month", "2025-13"),
        ("month", "2025-07"),  # not over yet
        ("month", "2026-01"),
        ("day", "2025-07-04"),  # tomorrow
        ("day", "2025-02-30"),
        ("day", "20250701"),
        ("day", "2025-06"),
    ],
)
def test_a_bad_period_is_refused_before_anything_is_written(app_ctx, fake_job, kind, period):
    job = fake_job("test-job", kind=kind)
    with pytest.raises(ValidationFailed) as refused:
        run_job("test-job", period, triggered_by="cli")
    assert "period" in refused.value.errors
    assert job.calls == [] and runs() == []


def test_an_unknown_job_is_404(app_ctx):
    with pytest.raises(NotFound):
        run_job("no-such-job", triggered_by="cli")


def test_a_failed_run_records_its_error_keeps_nothing_and_can_run_again(app_ctx, fake_job):
    attempts = []

    def flaky(period, progress):
        BankFactory(code=f"FLAKY{len(attempts)}")  # a write of the job, flushed
        db.session.flush()
        attempts.append(period)
        if len(attempts) == 1:
            raise RuntimeError("银行接口超时")
        return {"ok": True}

    fake_job("test-flaky", body=flaky)
    failed = run_job("test-flaky", "2025-06", triggered_by="cli")
    assert failed.status == "failed" and failed.outcome == RAN
    assert failed.error == "RuntimeError: 银行接口超时"
    assert failed.finished_at is not None and failed.result is None
    failed_id = failed.id
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Bank).where(Bank.code == "FLAKY0")) == 0

    again = run_job("test-flaky", "2025-06", triggered_by="cli")
    assert again.id == failed_id
    assert (again.status, again.error, again.attempts, again.result) == ("succeeded", None, 2, {"ok": True})
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Bank).where(Bank.code == "FLAKY1")) == 1
    assert len(runs()) == 1


def test_a_domain_refusal_is_recorded_with_its_message(app_ctx, fake_job):
    from core.errors import BusinessRuleError

    def refused(period, progress):
        raise BusinessRuleError("该月份已结账")

    fake_job("test-refused", body=refused)
    assert run_job("test-refused", "2025-06", triggered_by="cli").error == "该月份已结账"


def test_a_skipped_run_is_recorded_and_may_run_again(app_ctx, fake_job):
    outcomes = iter([JobSkipped("尚无银行报送数据"), {"banks": 3}])

    def body(period, progress):
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    fake_job("test-skip", body=body)
    skipped = run_job("test-skip", "2025-06", triggered_by="cli")
    assert (skipped.status, skipped.error) == ("skipped", "尚无银行报送数据")
    done = run_job("test-skip", "2025-06", triggered_by="cli")
    assert (done.status, done.result, done.attempts) == ("succeeded", {"banks": 3}, 2)


def test_a_rerunnable_job_replaces_its_result(app_ctx, fake_job):
    job = fake_job("test-reconcile", rerunnable=True)
    first_id = run_job("test-reconcile", "2025-06", triggered_by="cli").id
    second = run_job("test-reconcile", "2025-06", triggered_by="cli")
    assert job.calls == ["2025-06", "2025-06"]
    assert second.id == first_id and second.outcome == RAN
    (row,) = runs()
    assert (row.result, row.attempts) == ({"period": "2025-06", "call": 2}, 2)


def test_results_are_stored_as_json(app_ctx, fake_job):
    from datetime import date
    from decimal import Decimal

    fake_job("test-json", body=lambda period, progress: {"amount": Decimal("1.50"), "on": date(2025, 6, 30)})
    assert run_job("test-json", "2025-06", triggered_by="cli").result == {"amount": "1.50", "on": "2025-06-30"}


def test_progress_reaches_the_caller_and_the_row(app_ctx, fake_job):
    seen_in_row = []

    def body(period, progress):
        for done in range(0, 101, 25):
            progress(done, 100)
            run = db.session.get(JobRun, db.session.scalar(sa.select(JobRun.id)), populate_existing=True)
            seen_in_row.append((run.status, runner.live_progress(run)))
        return {}

    fake_job("test-progress", body=body)
    reported = []
    run = run_job("test-progress", "2025-06", triggered_by="cli", on_progress=lambda d, t: reported.append((d, t)))
    assert reported == [(0, 100), (25, 100), (50, 100), (75, 100), (100, 100)]
    assert seen_in_row[2] == ("running", (50, 100))
    assert (run.progress_done, run.progress_total) == (100, 100)
    assert runner._LIVE == {}


def test_a_manual_run_is_in_the_audit_trail_a_scheduled_one_is_not(app_ctx, fake_job):
    fake_job("test-audited")
    fake_job("test-unattended")
    run_job("test-audited", "2025-06", triggered_by="admin1")
    run_job("test-unattended", "2025-06", triggered_by="scheduler")
    events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "job.run")).all()
    assert [(event.after["job"], event.username) for event in events] == [("test-audited", "admin1")]


def test_the_jobs_writes_are_attributed_to_who_triggered_it(app_ctx, fake_job):
    def body(period, progress):
        BankFactory(code="BYJOB")
        return {}

    fake_job("test-actor", body=body)
    run_job("test-actor", "2025-06", triggered_by="scheduler")
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.object_type == "banks").order_by(AuditEvent.id.desc())).first()
    assert event.username == "scheduler"


def test_pending_changes_are_refused(app_ctx, fake_job):
    fake_job("test-job")
    db.session.add(Bank(code="PENDING", name="未提交银行"))
    with pytest.raises(RuntimeError):
        run_job("test-job", "2025-06", triggered_by="cli")
    db.session.rollback()


# ------------------------------------------------------------------------------------------- the lock


def claim_row(job: str, period: str, holder: str, started_ago: timedelta = timedelta(0)) -> None:
    db.session.add(
        JobRun(job=job, period=period, status="running", triggered_by="scheduler", holder=holder,
               started_at=clock.now() - started_ago)
    )
    db.session.commit()


def test_a_run_left_running_by_a_dead_process_is_taken_over(app_ctx, fake_job):
    job = fake_job("test-job")
    dead_pid = 2**22 + 12345  # above Linux's default pid_max: no such process
    claim_row("test-job", "2025-06", f"{socket.gethostname()}:{dead_pid}:abc")
    run = run_job("test-job", "2025-06", triggered_by="cli")
    assert (run.outcome, run.status, run.attempts) == (RAN, "succeeded", 2)
    assert job.calls == ["2025-06"]


def test_a_run_held_by_a_live_runner_is_not_run_again(app, app_ctx, fake_job):
    job = fake_job("test-job")
    if db.engine.dialect.name == "postgresql":
        # The advisory lock, held by another connection (another runner).
        with db.engine.connect() as other, other.begin():
            assert other.scalar(sa.select(sa.func.pg_try_advisory_xact_lock(runner._lock_key("test-job", "2025-06"))))
            run = run_job("test-job", "2025-06", triggered_by="cli")
    else:
        # SQLite: the run row is the lock row; its holder is a runner of this very process.
        holder = runner._new_holder()
        runner._ACTIVE.add(holder)
        try:
            claim_row("test-job", "2025-06", holder)
            run = run_job("test-job", "2025-06", triggered_by="cli")
        finally:
            runner._ACTIVE.discard(holder)
    assert run.outcome == ALREADY_RUNNING and run.status == "running"
    assert job.calls == []


@pytest.mark.skipif(os.environ.get("TEST_DATABASE_URL", "").startswith("postgres"), reason="SQLite's lock row only")
def test_sqlite_lock_row_of_another_host_expires(app_ctx, fake_job):
    job = fake_job("test-job")
    claim_row("test-job", "2025-06", "other-host:1:abc", started_ago=timedelta(hours=1))
    assert run_job("test-job", "2025-06", triggered_by="cli").outcome == ALREADY_RUNNING
    db.session.execute(sa.update(JobRun).values(started_at=clock.now() - runner.STALE_AFTER - timedelta(minutes=1)))
    db.session.commit()
    assert run_job("test-job", "2025-06", triggered_by="cli").outcome == RAN
    assert job.calls == ["2025-06"]


def test_lock_keys_differ_per_job_and_period():
    keys = {runner._lock_key(job, period) for job in ("a", "b") for period in ("2025-05", "2025-06")}
    assert len(keys) == 4 and all(-(2**63) <= key < 2**63 for key in keys)


def test_a_job_may_say_per_period_whether_it_runs_again(app_ctx, monkeypatch):
    signed_off = {"2025-05"}
    calls: list[str] = []
    monkeypatch.setitem(
        runner._REGISTRY,
        "test-until-signed",
        runner.JobDefinition("test-until-signed", lambda period, progress: calls.append(period) or {"n": len(calls)},
                             "month", lambda period: period not in signed_off),
    )
    for period in ("2025-05", "2025-06"):
        run_job("test-until-signed", period, triggered_by="cli")
        run_job("test-until-signed", period, triggered_by="cli")
    assert calls == ["2025-05", "2025-06", "2025-06"]
