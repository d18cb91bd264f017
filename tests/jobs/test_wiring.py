"""config.jobs: the four jobs registered with their kinds and schedules, and the cross-domain calls
they make (the documents and reconciliation modules are replaced by recorders here; their own tests
cover them)."""
from __future__ import annotations

import sys
import types
from datetime import datetime

import pytest

from config import jobs as config_jobs
from core.jobs.runner import get_job, registered_jobs, run_job


def test_the_four_jobs_are_registered(app):
    jobs = {job.name: job for job in registered_jobs()}
    assert {name: jobs[name].period_kind for name in jobs if not name.startswith("test-")} == {
        "daily-classification": "day",
        "contracts": "day",
        "monthly-reconciliation": "month",
        "monthly-statements": "month",
    }
    assert jobs["contracts"].rerunnable is True
    assert jobs["daily-classification"].rerunnable is False and jobs["monthly-statements"].rerunnable is False
    assert jobs["monthly-reconciliation"].rerunnable is config_jobs.reconciliation_is_open
    assert str(jobs["monthly-statements"].schedule) == "每月 1 日 03:00（上月）"


@pytest.fixture
def recorders(monkeypatch):
    calls: list[tuple] = []

    def render_missing_documents(now, progress=None):
        calls.append(("render_missing_documents", now))
        progress(2, 2)
        return 2

    def generate_monthly_statements(period, progress=None):
        calls.append(("generate_monthly_statements", period))
        progress(1, 4)
        return 4

    def run_reconciliation(period, progress=None):
        calls.append(("run_reconciliation", period))
        progress(5, 5)
        return {"period": period, "status": "balanced", "differences": 0}

    documents = types.ModuleType("config.documents_jobs")
    documents.render_missing_documents = render_missing_documents
    documents.generate_monthly_statements = generate_monthly_statements
    reconciliation = types.ModuleType("config.reconciliation")
    reconciliation.run_reconciliation = run_reconciliation
    monkeypatch.setitem(sys.modules, "config.documents_jobs", documents)
    monkeypatch.setitem(sys.modules, "config.reconciliation", reconciliation)
    return calls


def test_the_document_and_reconciliation_jobs_call_their_functions(app_ctx, recorders):
    contracts = run_job("contracts", triggered_by="cli")
    assert (contracts.status, contracts.result, contracts.period) == ("succeeded", {"documents": 2}, "2025-07-03")
    assert (contracts.progress_done, contracts.progress_total) == (2, 2)
    statements = run_job("monthly-statements", triggered_by="cli")
    assert (statements.result, statements.period) == ({"documents": 4}, "2025-06")
    reconciliation = run_job("monthly-reconciliation", "2025-05", triggered_by="cli")
    assert reconciliation.result == {"period": "2025-05", "status": "balanced", "differences": 0}
    assert [call[0] for call in recorders] == ["render_missing_documents", "generate_monthly_statements", "run_reconciliation"]
    assert isinstance(recorders[0][1], datetime) and recorders[0][1].tzinfo is not None


def test_contracts_run_every_time_statements_once(app_ctx, recorders):
    for _ in range(2):
        run_job("contracts", triggered_by="scheduler")
        run_job("monthly-statements", "2025-06", triggered_by="scheduler")
    assert [call[0] for call in recorders].count("render_missing_documents") == 2
    assert [call[0] for call in recorders].count("generate_monthly_statements") == 1


def test_the_reconciliation_runs_again_until_the_month_is_signed_off(app_ctx, recorders, monkeypatch):
    import core.reconciliation as results

    statuses = {"2025-05": "signed_off", "2025-06": "differences"}
    monkeypatch.setattr(results, "get_result", lambda period: types.SimpleNamespace(status=statuses[period]))
    assert config_jobs.reconciliation_is_open("2025-06") and not config_jobs.reconciliation_is_open("2025-05")
    for period in ("2025-05", "2025-06"):
        for _ in range(2):
            run_job("monthly-reconciliation", period, triggered_by="cli")
    assert [call[1] for call in recorders] == ["2025-05", "2025-06", "2025-06"]
    assert get_job("monthly-reconciliation").may_run_again("2025-06")
