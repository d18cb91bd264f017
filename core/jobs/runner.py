"""The registry of scheduled jobs and ``run_job``: the one code path of every run.

The scheduler, ``flask jobs run``, ``POST /api/v1/jobs/{name}/run`` and the jobs page all call
:func:`run_job`, so a manual run is exactly a scheduled one.

Rules:

* A job is registered by name with its period kind: ``"day"`` (period ``YYYY-MM-DD``, default today)
  or ``"month"`` (period ``YYYY-MM``, default the previous month). A month must be over and a day
  must not be in the future (422 otherwise); an unknown job is a 404.
* One run row per (job, period), UNIQUE in the database. A period that succeeded is not run again:
  the call returns the row as it is (``outcome`` "already_succeeded"). A job registered with
  ``rerunnable=True`` (the contracts sweep), or with a predicate of the period that answers true (the
  reconciliation, until the month is signed off), runs again and REPLACES the row's result. A failed
  or skipped run is run again on the same row (``attempts`` + 1).
* The lock. PostgreSQL: ``pg_try_advisory_xact_lock`` on a connection of the runner's own, held in an
  open transaction for the whole run; a process that dies loses its connection and so its lock, which
  is why a row still "running" under a lock we now hold is a dead run and is taken over. SQLite: the
  run row is the lock row: it is claimed under ``BEGIN IMMEDIATE`` (writers are serialised), and a
  "running" row belongs to its holder ("host:pid") while that process lives (or, on another host,
  for ``STALE_AFTER``). A runner that finds the lock taken returns at once (``outcome``
  "already_running"): nothing ever runs twice at the same time.
* Transactions: a job is a unit of work of its own, outside any request's. The claim (the row set to
  "running") commits first, so pages see the run; the job's writes and the row's final status then
  commit together, so a period's result exists exactly when its row says "succeeded". On failure the
  job's writes are rolled back and the error is recorded in a transaction of its own.
* Progress: the job reports ``progress(done, total)``. The figure is kept in memory for pages served
  by the same process, passed to ``on_progress`` (the command line's progress bar), and written to the
  run row as the job goes on PostgreSQL (a short transaction of its own, at most once a second). On
  SQLite the job's own transaction holds the only write lock, so the row gets the figure when the run
  ends.

A session pinned to one connection (the test harness, which runs every test inside one transaction)
gets all of this on that connection, in savepoints: the same code path, the same rows.
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import socket
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa

from core import clock
from core.audit.trail import acting_as, json_safe, record_event
from core.db import db
from core.errors import DomainError, NotFound, ValidationFailed
from core.i18n import _
from core.jobs.models import JobRun, RunStatus

__all__ = [
    "ALREADY_RUNNING",
    "ALREADY_SUCCEEDED",
    "PERIOD_KINDS",
    "RAN",
    "JobDefinition",
    "JobSkipped",
    "Progress",
    "default_period",
    "get_job",
    "live_progress",
    "normalise_period",
    "register_job",
    "registered_jobs",
    "run_job",
]

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
JobFunction = Callable[[str, Progress], "Mapping[str, Any] | None"]

PERIOD_KINDS = ("day", "month")
RAN, ALREADY_SUCCEEDED, ALREADY_RUNNING = "ran", "already_succeeded", "already_running"
SCHEDULER = "scheduler"  # triggered_by of unattended runs (no audit event: they are the schedule)

# A "running" row whose holder runs on another host is taken over after this long (SQLite only).
STALE_AFTER = timedelta(hours=6)
PROGRESS_WRITE_INTERVAL = 1.0  # seconds between two progress writes to the run row
ERROR_MAX_LENGTH = 4000


class JobSkipped(Exception):
    """Raised by a job that has nothing to do for the period: the run is recorded as "skipped" with
    this reason, its writes are rolled back, and a later run may try again."""


@dataclass(frozen=True)
class JobDefinition:
    name: str
    func: JobFunction
    period_kind: str
    rerunnable: bool | Callable[[str], bool] = False  # or: may this period run again?
    title: Any = None  # a lazy string for pages
    schedule: Any = None  # when the scheduler runs it, as people read it (a lazy string)

    @property
    def label(self) -> str:
        return str(self.title) if self.title is not None else self.name

    def may_run_again(self, period: str) -> bool:
        """Whether a period that already succeeded runs again (and replaces its result)."""
        return bool(self.rerunnable(period)) if callable(self.rerunnable) else bool(self.rerunnable)


_REGISTRY: dict[str, JobDefinition] = {}

# Runs of this process: the live progress figure per run id, and the holders ("host:pid:token") of the
# runs it is executing (a "running" row held by this process but absent here is a dead run).
_LIVE: dict[int, tuple[int, int | None]] = {}
_ACTIVE: set[str] = set()


def register_job(
    name: str,
    func: JobFunction,
    period_kind: str,
    *,
    rerunnable: bool | Callable[[str], bool] = False,
    title: Any = None,
    schedule: Any = None,
) -> JobDefinition:
    """Register ``func(period, progress) -> dict`` under ``name``; registering a name again replaces it
    (several apps in one process, as in the tests). ``rerunnable``: True, or a predicate of the period
    (read in the caller's session before the run's own transactions)."""
    if period_kind not in PERIOD_KINDS:
        raise ValueError(f"period_kind must be one of {PERIOD_KINDS}, not {period_kind!r}")
    definition = JobDefinition(name, func, period_kind, rerunnable, title, schedule)
    _REGISTRY[name] = definition
    return definition


def registered_jobs() -> list[JobDefinition]:
    """Every registered job, in registration order."""
    return list(_REGISTRY.values())


def get_job(name: str) -> JobDefinition:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise NotFound(_("没有名为 %(name)s 的定时任务", name=name)) from None


# ------------------------------------------------------------------------------------------ periods

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _previous_month(day: date) -> str:
    last = day.replace(day=1) - timedelta(days=1)
    return f"{last.year:04d}-{last.month:02d}"


def default_period(kind: str, today: date | None = None) -> str:
    """The period a run on ``today`` (default: the business day now) is for: the day itself for a daily
    job, the previous month for a monthly one."""
    today = today or clock.today()
    return today.isoformat() if kind == "day" else _previous_month(today)


def normalise_period(kind: str, period: str) -> str:
    """``period`` checked against the job's kind: 422 for a malformed one, an unfinished month or a
    future day."""
    text = (period or "").strip()
    today = clock.today()
    if kind == "month":
        if not _MONTH.match(text):
            raise ValidationFailed(errors={"period": [_("月份格式应为 YYYY-MM，例如 2025-06")]})
        if text >= f"{today.year:04d}-{today.month:02d}":
            raise ValidationFailed(errors={"period": [_("只能处理已经结束的月份（%(month)s 之前）", month=today.strftime("%Y-%m"))]})
        return text
    try:
        if not _DAY.match(text):
            raise ValueError(text)
        day = date.fromisoformat(text)
    except ValueError:
        raise ValidationFailed(errors={"period": [_("日期格式应为 YYYY-MM-DD，例如 2025-06-30")]}) from None
    if day > today:
        raise ValidationFailed(errors={"period": [_("日期不能晚于今天（%(today)s）", today=today.isoformat())]})
    return day.isoformat()


# ------------------------------------------------------------------------------------------ running


def run_job(
    name: str,
    period: str | None = None,
    *,
    triggered_by: str,
    on_progress: Progress | None = None,
    run_again: bool | None = None,
) -> JobRun:
    """Run job ``name`` for ``period`` (default: :func:`default_period`) unless that period is done or
    being done; returns its run row, with ``outcome`` saying what this call did.

    ``run_again``: whether a period that already succeeded runs again; None (the default) asks the
    job (:meth:`JobDefinition.may_run_again`). The scheduler passes False for the jobs it runs once
    per period: decided under the lock, so a second scheduler arriving just after the first finished
    finds the period done rather than doing it twice.

    The caller's session must hold no pending changes: a run commits its own transactions (see the
    module's rules). 404 unknown job, 422 bad period (nothing written). A failing job does not raise:
    its row says "failed" with the error.
    """
    job = get_job(name)
    period = default_period(job.period_kind) if period is None else normalise_period(job.period_kind, period)
    session = db.session()
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("run_job is a unit of work of its own: commit or roll back the session first")
    again = job.may_run_again(period) if run_again is None else run_again
    # End the caller's (read) transaction: on SQLite it holds the write lock the claim needs.
    session.commit()
    channel = _Channel(session.get_bind())
    with channel.lock(_lock_key(name, period)) as locked:
        if not locked:
            return _existing(name, period, ALREADY_RUNNING)
        holder = _new_holder()
        _ACTIVE.add(holder)  # before the claim commits: a concurrent claim must see this run alive
        try:
            run_id, outcome = channel.claim(job, period, triggered_by, holder, again=again)
            if outcome != RAN:
                return _existing(name, period, outcome)
            return _execute(job, period, run_id, triggered_by, channel, on_progress)
        finally:
            _ACTIVE.discard(holder)


def live_progress(run: JobRun) -> tuple[int, int | None]:
    """(done, total) of a run: the live figure while this process runs it, else the stored one."""
    if run.status == RunStatus.RUNNING.value and run.id in _LIVE:
        return _LIVE[run.id]
    return run.progress_done, run.progress_total


def _execute(
    job: JobDefinition, period: str, run_id: int, triggered_by: str, channel: _Channel, on_progress: Progress | None
) -> JobRun:
    reporter = _Reporter(run_id, channel, on_progress)
    started = time.monotonic()
    try:
        with acting_as(triggered_by):
            try:
                result = job.func(period, reporter)
            except JobSkipped as skipped:
                db.session.rollback()
                return _finish(run_id, RunStatus.SKIPPED, reporter, triggered_by, error=str(skipped) or None)
            except Exception as error:  # noqa: BLE001 - any failure of a job is recorded on its row
                db.session.rollback()
                log.exception("job %s for %s failed", job.name, period)
                return _finish(run_id, RunStatus.FAILED, reporter, triggered_by, error=_describe(error))
            try:
                # The job's writes and the row's status commit together.
                return _finish(run_id, RunStatus.SUCCEEDED, reporter, triggered_by, result=json_safe(dict(result or {})))
            except Exception as error:  # noqa: BLE001 - e.g. a constraint refusing the job's writes at commit
                db.session.rollback()
                log.exception("job %s for %s failed at commit", job.name, period)
                return _finish(run_id, RunStatus.FAILED, reporter, triggered_by, error=_describe(error))
    finally:
        _LIVE.pop(run_id, None)
        log.info("job %s for %s ended after %.1f s", job.name, period, time.monotonic() - started)


def _finish(
    run_id: int,
    status: RunStatus,
    reporter: _Reporter,
    triggered_by: str,
    *,
    result: dict[str, Any] | None = None,
    error: str | None = None,
) -> JobRun:
    run = db.session.get(JobRun, run_id, populate_existing=True)
    assert run is not None, "the claimed run row is gone"
    run.status = status.value
    run.finished_at = clock.now()
    run.result = result
    run.error = error
    run.progress_done, run.progress_total = reporter.done, reporter.total
    run.holder = None
    if triggered_by != SCHEDULER:
        # A run started by a person is an action of theirs: it goes into the audit trail.
        record_event("job.run", "job_runs", run_id, after={"job": run.job, "period": run.period, "status": run.status})
    db.session.commit()
    run.outcome = RAN
    return run


def _existing(name: str, period: str, outcome: str) -> JobRun:
    """The row of (job, period) as it stands, for a call that did not run it."""
    run = db.session.scalar(
        sa.select(JobRun).where(JobRun.job == name, JobRun.period == period).execution_options(populate_existing=True)
    )
    if run is None:
        # Another runner holds the lock but has not committed its claim yet: describe it, store nothing.
        run = JobRun(job=name, period=period, status=RunStatus.RUNNING.value, triggered_by="", progress_done=0, attempts=0)
    run.outcome = outcome
    return run


def _describe(error: BaseException) -> str:
    text = error.message if isinstance(error, DomainError) else f"{type(error).__name__}: {error}"
    return text[:ERROR_MAX_LENGTH]


def _lock_key(name: str, period: str) -> int:
    """A signed 64-bit advisory lock key per (job, period), derived from its name."""
    digest = hashlib.sha256(f"core.jobs:{name}:{period}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _new_holder() -> str:
    """Who claims a run: this host and process, and a token of this very run."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def _holder_is_alive(holder: str | None, started_at: Any) -> bool:
    """Whether the runner that claimed a "running" row still runs it (SQLite's lock row)."""
    host, pid_text, _token = ((holder or "").rsplit(":", 2) + ["", "", ""])[:3]
    if host == socket.gethostname() and pid_text.isdigit():
        pid = int(pid_text)
        if pid == os.getpid():
            return holder in _ACTIVE
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True  # a process of another user: alive
        return True
    return started_at is not None and clock.now() - started_at < STALE_AFTER


class _Channel:
    """Where the runner keeps its own bookkeeping (lock, claim, progress), outside the job's transaction.

    Normally a connection of its own from the session's engine. When the session is pinned to one
    connection (the test harness), that connection, through the session, in savepoints.
    """

    def __init__(self, bind: sa.Engine | sa.Connection) -> None:
        self.pinned = isinstance(bind, sa.Connection)
        self.engine = None if self.pinned else bind
        self.postgresql = bind.dialect.name == "postgresql"

    @property
    def writes_progress(self) -> bool:
        # SQLite: the job's transaction holds the only write lock; a second connection would wait on it.
        return self.pinned or self.postgresql

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """Something with ``execute``, committed at the end of the block."""
        if self.pinned:
            try:
                yield db.session
                db.session.commit()
            except BaseException:
                db.session.rollback()
                raise
        else:
            assert self.engine is not None
            with self.engine.begin() as connection:
                yield connection

    @contextmanager
    def lock(self, key: int) -> Iterator[bool]:
        """PostgreSQL: the advisory lock of (job, period), held until the block ends. SQLite: the claim
        itself is the lock (see :meth:`claim`)."""
        if not self.postgresql:
            yield True
            return
        statement = sa.select(sa.func.pg_try_advisory_xact_lock(key))
        if self.pinned:
            yield bool(db.session.scalar(statement))  # held until the pinned transaction ends
            return
        assert self.engine is not None
        with self.engine.connect() as connection, connection.begin():
            yield bool(connection.scalar(statement))

    def claim(self, job: JobDefinition, period: str, triggered_by: str, holder: str, *, again: bool) -> tuple[int, str]:
        """Set the (job, period) row to "running" for this runner, or say why not; committed at once."""
        table = JobRun.__table__
        now = clock.now()
        running = {
            "status": RunStatus.RUNNING.value,
            "started_at": now,
            "finished_at": None,
            "error": None,
            "result": None,
            "progress_done": 0,
            "progress_total": None,
            "triggered_by": triggered_by[:64],
            "holder": holder,
        }
        with self.transaction() as executor:
            row = executor.execute(
                sa.select(table.c.id, table.c.status, table.c.holder, table.c.started_at, table.c.attempts).where(
                    table.c.job == job.name, table.c.period == period
                )
            ).first()
            if row is None:
                inserted = executor.execute(sa.insert(table).values(job=job.name, period=period, attempts=1, **running))
                return inserted.inserted_primary_key[0], RAN
            if row.status == RunStatus.RUNNING.value:
                # PostgreSQL: we hold the lock, so whoever left this row running is gone.
                if not self.postgresql and _holder_is_alive(row.holder, row.started_at):
                    return row.id, ALREADY_RUNNING
                log.warning("job %s for %s: taking over a run left running by %s", job.name, period, row.holder)
            elif row.status == RunStatus.SUCCEEDED.value and not again:
                return row.id, ALREADY_SUCCEEDED
            executor.execute(sa.update(table).where(table.c.id == row.id).values(attempts=row.attempts + 1, **running))
            return row.id, RAN

    def write_progress(self, run_id: int, done: int, total: int | None) -> None:
        table = JobRun.__table__
        statement = sa.update(table).where(table.c.id == run_id).values(progress_done=done, progress_total=total)
        if self.pinned:
            db.session.execute(statement)  # part of the job's transaction on the one connection
            return
        assert self.engine is not None
        with self.engine.begin() as connection:
            connection.execute(statement)


class _Reporter:
    """The ``progress(done, total)`` callable handed to a job."""

    def __init__(self, run_id: int, channel: _Channel, on_progress: Progress | None) -> None:
        self.run_id = run_id
        self.channel = channel
        self.on_progress = on_progress
        self.done = 0
        self.total: int | None = None
        self._written_at: float | None = None  # time.monotonic() of the last write to the row

    def __call__(self, done: int, total: int) -> None:
        self.done, self.total = max(0, int(done)), int(total)
        _LIVE[self.run_id] = (self.done, self.total)
        if self.on_progress is not None:
            self.on_progress(self.done, self.total)
        now = time.monotonic()
        due = self._written_at is None or now - self._written_at >= PROGRESS_WRITE_INTERVAL or self.done >= self.total
        if self.channel.writes_progress and due:
            self._written_at = now
            try:
                self.channel.write_progress(self.run_id, self.done, self.total)
            except Exception:  # noqa: BLE001 - a progress figure is never worth failing the job for
                log.warning("could not record the progress of run %s", self.run_id, exc_info=True)
