"""PostgreSQL: ``flask jobs run monthly-reconciliation`` killed with SIGKILL in the middle of its run,
then run again.

The run is held mid-way deterministically: the test keeps the ``documents`` table locked, so the
process claims the run (its row committed "running"), reconciles, writes its result and then waits
for the table to store the report. It is killed there. Its connections die with it, so PostgreSQL
rolls its transaction back and releases its advisory lock; the row stays "running" with no live
holder. The next run must recognise that row as dead, take it over and succeed: one result, one
report, nothing of the killed run left.
"""
from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from core.documents.models import Document
from core.jobs.models import JobRun
from core.reconciliation import ReconciliationResult
from tests.faults.conftest import load_books, run_flask, start_flask, url_of, wait_for
from tests.races import assert_books_sound, fresh_database

JOB, PERIOD = "monthly-reconciliation", "2026-09"


@pytest.fixture
def engine(app) -> Iterator[sa.Engine]:
    with fresh_database(app, "killrecon") as engine:
        load_books(app, engine, reconcile=False)
        yield engine


def rows(engine: sa.Engine, query: sa.Select) -> list:
    with engine.connect() as conn:
        return conn.execute(query).all()


def backends(engine: sa.Engine, *, waiting: bool = False) -> list[int]:
    """Backends on the test's database other than the caller's (optionally: only those waiting on a lock)."""
    with engine.connect() as conn:
        return list(conn.scalars(sa.text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            + (" AND wait_event_type = 'Lock'" if waiting else "")
        )))


def test_a_reconciliation_killed_mid_run_is_taken_over_by_the_next_run(app, engine):
    engine.dispose()
    url = url_of(engine)
    run_row = sa.select(JobRun.status, JobRun.attempts, JobRun.holder).where(JobRun.job == JOB, JobRun.period == PERIOD)
    with engine.connect() as blocker:
        blocker.begin()
        blocker.execute(sa.text("LOCK TABLE documents IN ACCESS EXCLUSIVE MODE"))
        process = start_flask(url, "jobs", "run", JOB, "--period", PERIOD)
        try:
            wait_for(lambda: rows(engine, run_row), timeout=30, what="the run's claim")
            stuck = wait_for(lambda: backends(engine, waiting=True), timeout=15, what="the run to wait on documents")
            others = backends(engine)
            assert process.poll() is None
            os.kill(process.pid, signal.SIGKILL)
            assert process.wait(10) == -signal.SIGKILL
        finally:
            if process.poll() is None:
                process.kill()
        blocker.rollback()
    assert stuck and set(stuck) <= set(others)
    # Its backends notice the dead client and end, rolling its transaction back and freeing its lock.
    wait_for(lambda: not set(others) & set(backends(engine)), timeout=15, what="the killed run's backends to end")

    [(status, attempts, holder)] = rows(engine, run_row)
    assert (status, attempts) == ("running", 1) and holder  # a stale claim: nobody runs it any more
    assert rows(engine, sa.select(ReconciliationResult.id).where(ReconciliationResult.period == PERIOD)) == []
    assert rows(engine, sa.select(Document.id).where(Document.period == PERIOD)) == []
    assert rows(engine, sa.text(
        "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )) == []

    rerun = run_flask(url, "jobs", "run", JOB, "--period", PERIOD)
    assert rerun.returncode == 0, rerun.stderr
    assert "succeeded" in rerun.stdout and "第 2 次" in rerun.stdout
    assert rows(engine, sa.select(JobRun.status, JobRun.attempts, JobRun.holder).where(JobRun.job == JOB)) == [
        ("succeeded", 2, None)
    ]
    assert len(rows(engine, sa.select(ReconciliationResult.id).where(ReconciliationResult.period == PERIOD))) == 1
    assert rows(engine, sa.select(Document.kind, Document.version).where(Document.period == PERIOD)) == [
        ("reconciliation", 1)
    ]
    assert_books_sound(app, engine)

