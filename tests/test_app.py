"""The application factory and settings, error shapes for every documented status, OpenAPI and Swagger UI."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from config.settings import DEVELOPMENT_SECRET

ROOT = Path(__file__).resolve().parent.parent
ERROR_KEYS = {"code", "status", "message", "errors"}


def start_production(env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {"PATH": "/usr/bin:/bin", "APP_ENV": "production"}
    return subprocess.run(
        [sys.executable, "-c", "import wsgi"], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    "env, complaint",
    [
        ({}, "SECRET_KEY, DATABASE_URL"),
        ({"SECRET_KEY": "x" * 40}, "DATABASE_URL"),
        ({"DATABASE_URL": "postgresql://db/x"}, "SECRET_KEY"),
        ({"SECRET_KEY": DEVELOPMENT_SECRET, "DATABASE_URL": "postgresql://db/x"}, "at least 32"),
        ({"SECRET_KEY": "short", "DATABASE_URL": "postgresql://db/x"}, "at least 32"),
    ],
)
def test_production_refuses_to_start_without_its_secrets(env, complaint):
    result = start_production(env)
    assert result.returncode != 0
    assert complaint in result.stderr


def test_production_starts_with_its_secrets(tmp_path):
    result = start_production({"SECRET_KEY": "k" * 48, "DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}"})
    assert result.returncode == 0, result.stderr


def test_unknown_environment_is_refused():
    result = subprocess.run(
        [sys.executable, "-c", "import wsgi"], cwd=ROOT, env={"PATH": "/usr/bin:/bin", "APP_ENV": "staging"},
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0 and "APP_ENV" in result.stderr


def test_production_cookies_are_secure():
    from config.settings import ProductionSettings

    assert ProductionSettings.SESSION_COOKIE_SECURE and ProductionSettings.SESSION_COOKIE_HTTPONLY


def assert_error_shape(response, code):
    assert response.status_code == code
    body = response.get_json()
    assert set(body) == ERROR_KEYS and body["code"] == code and body["message"]
    return body


def test_unknown_api_path_is_404_json(client, api_as):
    _user, headers = api_as("auditor")
    assert_error_shape(client.get("/api/v1/no-such-thing", headers=headers), 404)


def test_unknown_id_is_404_json(client, api_as):
    _user, headers = api_as("admin")
    assert_error_shape(client.get("/api/v1/banks/999999", headers=headers), 404)


def test_too_large_upload_is_413_json(client, api_as, app, row_counts):
    _user, headers = api_as("admin")
    before = row_counts()
    big = b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    response = client.post("/api/v1/banks", data=big, headers={**headers, "Content-Type": "application/json"})
    assert_error_shape(response, 413)
    assert row_counts() == before


def test_wrong_method_is_405_json(client, api_as):
    _user, headers = api_as("admin")
    response = client.delete("/api/v1/banks", headers=headers)
    assert_error_shape(response, 405)
    assert "GET" in response.headers["Allow"]


def test_an_unexpected_failure_is_a_500_json_and_writes_nothing(app, client, api_as, row_counts, monkeypatch):
    from parties import services

    _user, headers = api_as("admin")
    before = row_counts()

    real_create_bank = services.create_bank

    def explode(*args, **kwargs):
        real_create_bank(*args, **kwargs)  # the bank is flushed ...
        raise RuntimeError("boom")  # ... and then something breaks

    monkeypatch.setattr(services, "create_bank", explode)
    body = assert_error_shape(client.post("/api/v1/banks", json={"name": "炸弹银行", "code": "BOOM"}, headers=headers), 500)
    assert "boom" not in body["message"]  # internals are logged, never shown
    assert row_counts() == before


def test_web_error_pages_are_chinese_html(client, login_as):
    login_as("auditor")
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "页面" in response.get_data(as_text=True) or "不存在" in response.get_data(as_text=True)


def test_openapi_document_describes_the_api(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    paths = spec["paths"]
    for path in ("/api/v1/auth/token", "/api/v1/users", "/api/v1/banks", "/api/v1/audit", "/api/v1/audit/verify"):
        assert path in paths, f"{path} missing from the OpenAPI document"
    assert "bearerAuth" in spec["components"]["securitySchemes"]


def test_swagger_ui_is_served_locally(client):
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in html
    assert "http://" not in html and "https://" not in html  # works on a network with no internet
    assert "<script>" not in html  # no inline script: the page works under a strict CSP
    assert "/static/js/swagger-init.js" in html
    assert client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js").status_code == 200


def test_demo_load_creates_every_role_once(runner, app):
    from core.auth.models import User
    from core.db import db

    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        roles = {role for (role,) in db.session.query(User.role)}
    assert roles == {"admin", "bank_liaison", "fund_officer", "fund_manager", "auditor"}
    assert runner.invoke(args=["demo", "load", "--if-empty"]).exit_code == 0
    assert runner.invoke(args=["demo", "load"]).exit_code != 0  # never twice into the same database


def test_a_constraint_violation_inside_a_service_is_a_409(client, api_as, row_counts, monkeypatch):
    """A duplicate key raised at a flush (as PostgreSQL does under a race) is a refusal, not a crash."""
    import sqlalchemy as sa
    from parties import services

    _user, headers = api_as("admin")
    assert client.post("/api/v1/banks", json={"name": "第一银行", "code": "FIRST"}, headers=headers).status_code == 201
    before = row_counts()

    def racing_create_bank(name, code):
        from core import clock
        from core.db import db
        from parties.models import Bank

        # What a concurrent request that passed the same checks would do: insert the same code.
        db.session.execute(sa.insert(Bank).values(name=name, code="FIRST", is_active=True, created_at=clock.now()))
        raise AssertionError("the database should have refused the duplicate")

    monkeypatch.setattr(services, "create_bank", racing_create_bank)
    response = client.post("/api/v1/banks", json={"name": "第二银行", "code": "SECOND"}, headers=headers)
    assert_error_shape(response, 409)
    assert row_counts() == before
