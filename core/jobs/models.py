"""One row per run of a scheduled job and period: the idempotency key of the scheduler.

``UNIQUE (job, period)``: two runners, a restart or a manual run never do the same period twice;
a failed run is retried on the same row (``attempts`` counts the tries). ``period`` is the month
(``YYYY-MM``) of a monthly job or the day (``YYYY-MM-DD``) of a daily one.

Bookkeeping, not business data: the rows are written outside the ORM's audit hooks (``__audit__``
is off, like the failed-login counters); a run started by a person is recorded in the audit trail
explicitly (``core.jobs.runner``), and every write the job itself makes is audited as usual.
"""
from __future__ import annotations

import enum
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from core import clock
from core.db import UTCDateTime, db


class RunStatus(str, enum.Enum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"  # the job found nothing to do for the period (it raised JobSkipped)


RUN_STATUSES = tuple(status.value for status in RunStatus)


class JobRun(db.Model):
    __tablename__ = "job_runs"
    __audit__ = False
    __table_args__ = (
        sa.UniqueConstraint("job", "period"),
        sa.CheckConstraint("status IN ('running', 'succeeded', 'failed', 'skipped')", name="known_status"),
        sa.CheckConstraint("progress_done >= 0", name="progress_not_negative"),
        sa.Index("ix_job_runs_started_at", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(sa.String(64))
    period: Mapped[str] = mapped_column(sa.String(10))
    status: Mapped[str] = mapped_column(sa.String(16), default=RunStatus.RUNNING.value)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(sa.Text)
    progress_done: Mapped[int] = mapped_column(default=0)
    progress_total: Mapped[int | None]
    result: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    # "scheduler", "cli" or the username of the person who pressed "run now" / called the API.
    triggered_by: Mapped[str] = mapped_column(sa.String(64))
    attempts: Mapped[int] = mapped_column(default=1)
    # "host:pid:token" of the runner, while running (SQLite: tells a live runner from a dead one).
    holder: Mapped[str | None] = mapped_column(sa.String(128))

    # Set by run_job on the row it returns (not stored): "ran", "already_succeeded" or "already_running".
    outcome = None

    @property
    def duration_ms(self) -> int | None:
        """How long the run took, in whole milliseconds (None while running)."""
        if self.finished_at is None or self.started_at is None:
            return None
        return (self.finished_at - self.started_at) // timedelta(milliseconds=1)
