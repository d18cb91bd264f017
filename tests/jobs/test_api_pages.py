"""The jobs API and pages: who may run and read, the run record, refusals that write nothing, the
"run now" form with CSRF, the progress figure, the navigation."""
from __future__ import annotations

import html as html_module
import re

import pytest
import sqlalchemy as sa

from core.db import db
from core.jobs.models import JobRun
from tests.support import csrf_token_from, post_form
from tests.test_interface import assert_csp_clean, nav_labels

ERROR_KEYS = {"code", "status", "message", "errors"}


def job_run_count(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(JobRun))


# ---------------------------------------------------------------------------------------------- API


def test_admin_runs_a_job_through_the_api(client, api_as, app, stub_scheduled_jobs):
    _admin, headers = api_as("admin", username="ops-admin")
    response = client.post("/api/v1/jobs/monthly-statements/run", json={"period": "2025-05"}, headers=headers)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert {key: body[key] for key in ("job", "period", "status", "outcome", "triggered_by", "attempts", "error")} == {
        "job": "monthly-statements", "period": "2025-05", "status": "succeeded", "outcome": "ran",
        "triggered_by": "ops-admin", "attempts": 1, "error": None,
    }
    assert body["result"] == {"period": "2025-05", "call": 1}
    assert body["started_at"].endswith("+00:00") and body["finished_at"] is not None
    assert stub_scheduled_jobs["monthly-statements"].calls == ["2025-05"]

    again = client.post("/api/v1/jobs/monthly-statements/run", json={"period": "2025-05"}, headers=headers)
    assert again.status_code == 200 and again.get_json()["outcome"] == "already_succeeded"
    assert again.get_json()["id"] == body["id"]
    assert stub_scheduled_jobs["monthly-statements"].calls == ["2025-05"] and job_run_count(app) == 1


def test_the_period_is_optional(client, api_as, stub_scheduled_jobs):
    _admin, headers = api_as("admin")
    response = client.post("/api/v1/jobs/monthly-reconciliation/run", headers=headers)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["period"] == "2025-06"  # today is 2025-07-03
    daily = client.post("/api/v1/jobs/daily-classification/run", json={}, headers=headers)
    assert daily.get_json()["period"] == "2025-07-03"


def test_a_failed_run_is_a_200_with_its_error(client, api_as, fake_job):
    def broken(period, progress):
        raise RuntimeError("找不到报表模板")

    fake_job("test-broken", body=broken)
    _admin, headers = api_as("admin")
    body = client.post("/api/v1/jobs/test-broken/run", json={"period": "2025-06"}, headers=headers).get_json()
    assert (body["status"], body["error"], body["outcome"]) == ("failed", "RuntimeError: 找不到报表模板", "ran")


@pytest.mark.parametrize(
    ("name", "payload", "status", "field"),
    [
        ("nightly-magic", {}, 404, None),
        ("monthly-statements", {"period": "2025-6"}, 422, "period"),
        ("monthly-statements", {"period": "2025-07"}, 422, "period"),  # this month is not over
        ("daily-classification", {"period": "2025-07-04"}, 422, "period"),  # tomorrow
        ("monthly-statements", {"period": 202506}, 422, "period"),
    ],
)
def test_refusals_write_nothing(client, api_as, app, stub_scheduled_jobs, name, payload, status, field):
    _admin, headers = api_as("admin")
    response = client.post(f"/api/v1/jobs/{name}/run", json=payload, headers=headers)
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert set(body) == ERROR_KEYS
    if field:
        assert field in body["errors"]
    assert job_run_count(app) == 0
    assert all(job.calls == [] for job in stub_scheduled_jobs.values())


@pytest.mark.parametrize("role", ["auditor", "fund_manager", "fund_officer", "bank_liaison"])
def test_only_the_admin_may_run_a_job(client, api_as, app, stub_scheduled_jobs, role):
    _user, headers = api_as(role)
    response = client.post("/api/v1/jobs/monthly-statements/run", json={"period": "2025-05"}, headers=headers)
    assert response.status_code == 403
    assert job_run_count(app) == 0


def test_anonymous_callers_get_401(client):
    assert client.post("/api/v1/jobs/contracts/run", json={}).status_code == 401
    assert client.get("/api/v1/jobs/runs").status_code == 401


def seed_runs(app) -> None:
    with app.app_context():
        db.session.add_all([
            JobRun(job="monthly-statements", period="2025-05", status="succeeded", triggered_by="scheduler",
                   progress_done=5, progress_total=5, result={"documents": 5}),
            JobRun(job="monthly-reconciliation", period="2025-05", status="failed", triggered_by="scheduler",
                   error="BusinessRuleError: 银行台账缺失"),
            JobRun(job="daily-classification", period="2025-07-03", status="running", triggered_by="scheduler",
                   progress_done=250, progress_total=1000),
        ])
        db.session.commit()


@pytest.mark.parametrize("role", ["admin", "auditor"])
def test_admin_and_auditor_read_the_runs(client, api_as, app, role):
    seed_runs(app)
    _user, headers = api_as(role)
    response = client.get("/api/v1/jobs/runs", headers=headers)
    assert response.status_code == 200
    body = response.get_json()
    assert body["total"] == 3
    assert {item["job"]: item["status"] for item in body["items"]} == {
        "monthly-statements": "succeeded", "monthly-reconciliation": "failed", "daily-classification": "running",
    }
    failed = next(item for item in body["items"] if item["status"] == "failed")
    assert failed["error"] == "BusinessRuleError: 银行台账缺失"
    assert {"job", "period", "status", "started_at", "finished_at", "error"} <= set(failed)
    filtered = client.get("/api/v1/jobs/runs?status=running&per_page=1", headers=headers).get_json()
    assert filtered["total"] == 1 and filtered["items"][0]["progress_done"] == 250
    assert client.get("/api/v1/jobs/runs?status=bogus", headers=headers).status_code == 422
    assert client.get("/api/v1/jobs/runs?per_page=500", headers=headers).status_code == 422


@pytest.mark.parametrize("role", ["fund_manager", "fund_officer", "bank_liaison"])
def test_other_roles_may_not_read_the_runs(client, api_as, role):
    _user, headers = api_as(role)
    assert client.get("/api/v1/jobs/runs", headers=headers).status_code == 403


def test_the_openapi_document_describes_the_jobs_endpoints(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "post" in paths["/api/v1/jobs/{name}/run"] and "get" in paths["/api/v1/jobs/runs"]


# -------------------------------------------------------------------------------------------- pages


def test_the_auditor_reads_the_runs_page_without_a_run_button(client, login_as, app):
    seed_runs(app)
    login_as("auditor")
    response = client.get("/jobs")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert_csp_clean(html)
    assert "定时任务" in nav_labels(html)
    for text in ("每日风险分类与快照", "每天 00:30", "每月 1 日 02:00（上月）", "BusinessRuleError: 银行台账缺失", "失败", "运行中"):
        assert text in html, text
    assert '<progress value="250" max="1000"' in html and "250 / 1000（25%）" in html
    assert '<meta http-equiv="refresh"' in html  # a run is going on: the page refreshes itself
    assert "/jobs/contracts/run" not in html and "立即运行" not in html


def test_the_admin_sees_a_run_button_per_job_and_the_run_page(client, login_as, app):
    seed_runs(app)
    login_as("admin")
    html = client.get("/jobs").get_data(as_text=True)
    for name in ("daily-classification", "contracts", "monthly-reconciliation", "monthly-statements"):
        assert re.search(rf'<form method="post" action="/jobs/{name}/run"[^>]*>\s*<input[^>]+name="csrf_token"', html), name
    with app.app_context():
        run_id = db.session.scalar(sa.select(JobRun.id).where(JobRun.job == "monthly-statements"))
    detail = html_module.unescape(client.get(f"/jobs/runs/{run_id}").get_data(as_text=True))
    assert '"documents": 5' in detail and "月度报表" in detail


def test_the_admin_runs_a_job_from_the_page(client, login_as, app, stub_scheduled_jobs):
    login_as("admin", username="page-admin")
    response = post_form(client, "/jobs/monthly-statements/run", {"period": "2025-05"}, form_url="/jobs")
    assert response.status_code == 303 and response.headers["Location"].endswith("/jobs")
    page = client.get("/jobs").get_data(as_text=True)
    assert "运行成功" in page
    assert stub_scheduled_jobs["monthly-statements"].calls == ["2025-05"]
    with app.app_context():
        run = db.session.scalar(sa.select(JobRun))
        assert (run.period, run.status, run.triggered_by) == ("2025-05", "succeeded", "page-admin")
    # Pressed again: the period is done, nothing runs twice.
    post_form(client, "/jobs/monthly-statements/run", {"period": "2025-05"}, form_url="/jobs")
    assert "已成功运行过" in client.get("/jobs").get_data(as_text=True)
    assert stub_scheduled_jobs["monthly-statements"].calls == ["2025-05"]


def test_a_bad_period_on_the_page_is_refused_with_422(client, login_as, app, stub_scheduled_jobs):
    login_as("admin")
    response = post_form(client, "/jobs/monthly-statements/run", {"period": "2025-13"}, form_url="/jobs")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "月份格式应为 YYYY-MM" in html and "is-invalid" in html
    assert job_run_count(app) == 0


def test_run_now_needs_the_csrf_token_and_the_admin(client, login_as, app, stub_scheduled_jobs):
    login_as("admin")
    assert client.post("/jobs/monthly-statements/run", data={"period": "2025-05"}).status_code == 400
    assert job_run_count(app) == 0


def test_other_roles_are_refused_the_pages(client, login_as, app, stub_scheduled_jobs):
    login_as("auditor")
    token = csrf_token_from(client, "/")
    assert client.post("/jobs/monthly-statements/run", data={"period": "2025-05", "csrf_token": token}).status_code == 403
    assert job_run_count(app) == 0


@pytest.mark.parametrize("role", ["fund_manager", "fund_officer", "bank_liaison"])
def test_the_runs_page_is_for_admin_and_auditor_only(client, login_as, role):
    login_as(role)
    assert client.get("/jobs").status_code == 403
    assert "定时任务" not in nav_labels(client.get("/").get_data(as_text=True))


def test_an_unknown_job_page_is_404(client, login_as):
    login_as("admin")
    assert client.get("/jobs/runs/999999").status_code == 404
