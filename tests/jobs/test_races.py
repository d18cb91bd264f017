"""Two runners at once, each with its own session and connections, committing for real: one result.

PostgreSQL: a fresh database created and dropped here (the advisory lock, the run row, the side
connections for progress). SQLite: a fresh database file (the run row as the lock row under
``BEGIN IMMEDIATE``). Outside the test harness's single connection, so these exercise the runner's
production path.
"""
from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from core.db import db
from core.jobs.models import JobRun
from core.jobs.runner import ALREADY_RUNNING, ALREADY_SUCCEEDED, RAN, run_job
from loans import services as loan_services
from loans.models import LoanDpdSnapshot
from parties.models import Bank
from tests.conftest import reset_schema
from tests.factories import BankFactory, EnterpriseFactory, RatingFactory
from tests.jobs.conftest import freeze_at
from tests.races import session_on

D = Decimal


@pytest.fixture
def pg_engine(app) -> Iterator[sa.Engine]:
    with app.app_context():
        engine = db.engine
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's advisory lock: SQLite's lock row is raced in test_two_runners_on_a_sqlite_file")
    name = f"{engine.url.database}_jobrace_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(engine.url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    fresh = sa.create_engine(engine.url.set(database=name), pool_size=8)
    try:
        reset_schema(fresh)
        yield fresh
    finally:
        fresh.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def sqlite_engine(tmp_path) -> Iterator[sa.Engine]:
    fresh = sa.create_engine(f"sqlite:///{tmp_path / 'jobs.db'}")
    try:
        reset_schema(fresh)
        yield fresh
    finally:
        fresh.dispose()


def race(app, engine: sa.Engine, name: str, period: str, runners: int = 2) -> list[str]:
    """``runners`` threads call run_job at the same moment, each in its own session; their outcomes."""
    barrier = threading.Barrier(runners)
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def attempt() -> None:
        try:
            with session_on(app, engine):
                barrier.wait(timeout=10)
                outcomes.append(run_job(name, period, triggered_by="race").outcome)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=attempt) for _ in range(runners)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    return sorted(outcomes)


def slow_job_writing_a_bank(calls: list[str]):
    def body(period: str, progress) -> dict:
        calls.append(period)
        progress(0, 2)
        db.session.add(Bank(code=f"JOB-{period}", name=f"任务银行 {period}"))
        db.session.flush()
        time.sleep(0.5)  # the other runner arrives while this one holds the lock
        progress(2, 2)
        return {"bank": f"JOB-{period}"}

    return body


def committed(engine: sa.Engine, query: sa.Select):
    with engine.connect() as conn:
        return conn.execute(query).all()


def test_two_runners_at_once_on_postgresql_yield_one_result(app, pg_engine, fake_job):
    calls: list[str] = []
    fake_job("test-race", body=slow_job_writing_a_bank(calls))
    outcomes = race(app, pg_engine, "test-race", "2025-06")
    assert outcomes[0] == RAN or outcomes[1] == RAN
    assert sorted(outcomes) in (sorted([RAN, ALREADY_RUNNING]), sorted([RAN, ALREADY_SUCCEEDED]))
    assert calls == ["2025-06"]
    rows = committed(pg_engine, sa.select(JobRun.status, JobRun.progress_done, JobRun.progress_total, JobRun.result))
    assert rows == [("succeeded", 2, 2, {"bank": "JOB-2025-06"})]
    assert len(committed(pg_engine, sa.select(Bank.id).where(Bank.code == "JOB-2025-06"))) == 1


def test_progress_is_visible_to_others_while_a_postgresql_run_goes_on(app, pg_engine, fake_job):
    seen: list[tuple] = []

    def body(period: str, progress) -> dict:
        progress(3, 10)
        seen.extend(committed(pg_engine, sa.select(JobRun.status, JobRun.progress_done, JobRun.progress_total)))
        return {}

    fake_job("test-visible", body=body)
    with session_on(app, pg_engine):
        run_job("test-visible", "2025-06", triggered_by="cli")
    assert seen == [("running", 3, 10)]


def test_a_failure_on_postgresql_is_recorded_and_rolled_back(app, pg_engine, fake_job):
    def body(period: str, progress) -> dict:
        db.session.add(Bank(code="NEVER", name="不应保存"))
        db.session.flush()
        raise ValueError("磁盘已满")

    fake_job("test-fails", body=body)
    with session_on(app, pg_engine):
        run = run_job("test-fails", "2025-06", triggered_by="cli")
        assert run.status == "failed"
    assert committed(pg_engine, sa.select(JobRun.status, JobRun.error)) == [("failed", "ValueError: 磁盘已满")]
    assert committed(pg_engine, sa.select(Bank.id).where(Bank.code == "NEVER")) == []


def test_two_daily_classifications_at_once_on_postgresql_store_one_set_of_snapshots(app, pg_engine):
    freeze_at(date(2026, 12, 1))
    with session_on(app, pg_engine) as session:
        enterprise = EnterpriseFactory()
        RatingFactory(enterprise=enterprise, rated_on=date(2026, 5, 1), credit_line=D("4000000.00"))
        bank = BankFactory()
        session.flush()
        for n in range(3):
            loan = loan_services.create_loan(
                bank_id=bank.id, enterprise_id=enterprise.id, contract_no=f"RACE-{n}", principal=D("1000000.00"),
                annual_rate=D("0.0345"), start_date=date(2026, 6, 1), maturity_date=date(2026, 11, 20),
                created_by="arrange",
            )
            loan_services.record_disbursement(
                loan, amount=D("1000000.00"), disbursed_on=date(2026, 6, 2), bank_ref=f"RACE-{n}", created_by="arrange"
            )
        session.commit()
    outcomes = race(app, pg_engine, "daily-classification", "2026-12-01")
    assert RAN in outcomes and len(outcomes) == 2
    snapshots = committed(pg_engine, sa.select(LoanDpdSnapshot.dpd, LoanDpdSnapshot.day))
    assert snapshots == [(11, date(2026, 12, 1))] * 3
    assert committed(pg_engine, sa.select(JobRun.job, JobRun.status)) == [("daily-classification", "succeeded")]


def test_two_runners_on_a_sqlite_file_yield_one_result(app, sqlite_engine, fake_job):
    calls: list[str] = []
    fake_job("test-race", body=slow_job_writing_a_bank(calls))
    outcomes = race(app, sqlite_engine, "test-race", "2025-06")
    assert sorted(outcomes) in (sorted([RAN, ALREADY_RUNNING]), sorted([RAN, ALREADY_SUCCEEDED]))
    assert calls == ["2025-06"]
    rows = committed(sqlite_engine, sa.select(JobRun.status, JobRun.progress_done, JobRun.progress_total, JobRun.holder))
    assert rows == [("succeeded", 2, 2, None)]
    assert len(committed(sqlite_engine, sa.select(Bank.id).where(Bank.code == "JOB-2025-06"))) == 1


def test_a_sqlite_file_run_fails_cleanly_and_runs_again(app, sqlite_engine, fake_job):
    attempts: list[str] = []

    def body(period: str, progress) -> dict:
        attempts.append(period)
        db.session.add(Bank(code=f"TRY-{len(attempts)}", name=f"第 {len(attempts)} 次"))
        db.session.flush()
        progress(1, 1)
        if len(attempts) == 1:
            raise RuntimeError("第一次失败")
        return {"try": len(attempts)}

    fake_job("test-retry", body=body)
    with session_on(app, sqlite_engine):
        assert run_job("test-retry", "2025-06", triggered_by="cli").status == "failed"
        assert run_job("test-retry", "2025-06", triggered_by="cli").status == "succeeded"
    assert committed(sqlite_engine, sa.select(JobRun.status, JobRun.attempts, JobRun.result)) == [
        ("succeeded", 2, {"try": 2})
    ]
    assert [code for (code,) in committed(sqlite_engine, sa.select(Bank.code).where(Bank.code.like("TRY-%")))] == ["TRY-2"]
