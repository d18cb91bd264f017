"""Fixtures of the job tests: a frozen clock and throwaway jobs in the runner's registry.

Today is 2025-07-03 (10:00 in Shanghai) unless a test moves it. ``fake_job(name, ...)`` registers a
job for the test only; what it was called with is in ``.calls``.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from typing import Any

import pytest

from core import clock
from core.jobs import runner

TODAY = date(2025, 7, 3)


def freeze_at(day: date, at: time = time(10, 0)) -> None:
    """Pin the clock to ``at`` o'clock in Shanghai on ``day``."""
    clock.freeze(datetime.combine(day, at, tzinfo=clock.BUSINESS_TZ).astimezone(timezone.utc))


@pytest.fixture(autouse=True)
def today():
    freeze_at(TODAY)
    yield TODAY
    clock.freeze(None)


@dataclass
class FakeJob:
    name: str
    body: Callable[[str, Callable[[int, int], None]], Any] | None = None
    calls: list[str] = field(default_factory=list)

    def __call__(self, period: str, progress: Callable[[int, int], None]) -> Any:
        self.calls.append(period)
        if self.body is not None:
            return self.body(period, progress)
        return {"period": period, "call": len(self.calls)}


@pytest.fixture
def fake_job(monkeypatch):
    """``fake_job("x", kind="month", body=fn, rerunnable=False)`` registers job "x" for this test."""

    def _register(name: str, *, kind: str = "month", body=None, rerunnable: bool = False) -> FakeJob:
        job = FakeJob(name, body)
        monkeypatch.setitem(runner._REGISTRY, name, runner.JobDefinition(name, job, kind, rerunnable, name))
        return job

    return _register


@pytest.fixture
def stub_scheduled_jobs(monkeypatch, fake_job):
    """The four real job names with fake bodies (the wiring is tested in test_daily / test_wiring)."""
    return {
        name: fake_job(name, kind=kind, rerunnable=name in ("contracts", "monthly-reconciliation"))
        for name, kind in (
            ("daily-classification", "day"),
            ("contracts", "day"),
            ("monthly-reconciliation", "month"),
            ("monthly-statements", "month"),
        )
    }
