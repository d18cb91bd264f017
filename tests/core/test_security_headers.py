"""Security headers on every response (core/security_headers.py), the templates that live under the
strict Content-Security-Policy, production's cookie flags and HSTS, and the opt-in proxy headers."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from config import create_app
from core.auth.models import LoginFailure
from core.db import db
from core.security_headers import CONTENT_SECURITY_POLICY
from tests.support import isolated_client, web_login

ROOT = Path(__file__).resolve().parents[2]
ALWAYS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def csp_directives(header: str) -> dict[str, list[str]]:
    return {name: values for name, *values in (part.split() for part in header.split(";") if part.strip())}


def assert_secured(response) -> None:
    for name, value in ALWAYS.items():
        assert response.headers.get(name) == value, name
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "camera=()" in response.headers["Permissions-Policy"]


def test_the_policy_forbids_inline_script_and_style_and_framing():
    directives = csp_directives(CONTENT_SECURITY_POLICY)
    assert directives["script-src"] == ["'self'"] and directives["style-src"] == ["'self'"]
    assert directives["default-src"] == ["'self'"] and directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"] and directives["base-uri"] == ["'self'"]
    assert directives["form-action"] == ["'self'"] and directives["img-src"] == ["'self'", "data:"]
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY and "'unsafe-eval'" not in CONTENT_SECURITY_POLICY


def test_pages_api_errors_and_static_files_carry_the_headers(client, login_as, api_as):
    anonymous_login = client.get("/login")
    assert_secured(anonymous_login)
    assert anonymous_login.headers["Cache-Control"] == "no-store"

    static = client.get("/static/css/app.css")
    assert static.status_code == 200
    assert_secured(static)
    assert "no-store" not in static.headers.get("Cache-Control", "")  # static files may be cached

    missing = client.get("/no-such-page")
    assert missing.status_code in (302, 404)
    assert_secured(missing)

    _user, headers = api_as("auditor")
    for path in ("/api/v1/me", "/api/v1/loans", "/api/v1/no-such-thing"):
        response = client.get(path, headers=headers)
        assert_secured(response)
        assert response.headers["Cache-Control"] == "no-store", path
    unauthenticated = client.get("/api/v1/loans")
    assert unauthenticated.status_code == 401
    assert_secured(unauthenticated)

    login_as("auditor")
    page = client.get("/")
    assert page.status_code == 200
    assert_secured(page)
    assert page.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in page.headers  # not outside production


def test_cookies_are_http_only_and_same_site_and_the_login_session_is_permanent(app, client, default_password):
    from tests.conftest import make_user

    user = make_user(app, "auditor")
    response = web_login(client, user.username, default_password)
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Expires=" in cookie  # permanent: re-signed on each request, so idle time is bounded
    assert app.permanent_session_lifetime.total_seconds() == 30 * 60  # the default idle timeout


# Markup a strict CSP would silently break: inline script, inline handlers, style attributes, javascript: URLs.
FORBIDDEN_MARKUP = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "inline <script>"),
    (re.compile(r"<style\b", re.I), "<style> element"),
    (re.compile(r"\sstyle\s*=", re.I), "style attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "inline event handler"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
]


def test_no_template_needs_unsafe_inline():
    problems = []
    for template in sorted((ROOT / "templates").rglob("*.html")):
        text = re.sub(r"\{#.*?#\}", "", template.read_text(encoding="utf-8"), flags=re.S)  # comments may speak of it
        for pattern, what in FORBIDDEN_MARKUP:
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                problems.append(f"{template.relative_to(ROOT)}:{line}: {what}")
    assert problems == []


PRODUCTION_PROBE = """
import json
from config import create_app
app = create_app()
response = app.test_client().get("/login")
print(json.dumps({"headers": dict(response.headers), "cookies": response.headers.getlist("Set-Cookie"),
                  "status": response.status_code}))
"""


def test_production_sends_hsts_and_secure_cookies(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "APP_ENV": "production",
        "SECRET_KEY": "p" * 48,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'prod.db'}",
    }
    result = subprocess.run(
        [sys.executable, "-c", PRODUCTION_PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe["status"] == 200
    assert probe["headers"]["Strict-Transport-Security"].startswith("max-age=31536000")
    assert probe["headers"]["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert probe["cookies"] and all("Secure" in c and "HttpOnly" in c and "SameSite=Lax" in c for c in probe["cookies"])


# ----------------------------------------------------------------------------- proxy headers


def failure_addresses(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(sa.select(LoginFailure.address).order_by(LoginFailure.id)))


def test_forwarded_for_is_ignored_without_trusted_proxies(app, client):
    assert not app.config["TRUSTED_PROXIES"]
    client.post("/api/v1/auth/token", json={"username": "nobody", "password": "x"},
                headers={"X-Forwarded-For": "203.0.113.7"})
    assert failure_addresses(app) == ["127.0.0.1"]  # a caller cannot pick the address it is counted under


@pytest.fixture
def proxied_app():
    return create_app("test", TRUSTED_PROXIES=1)


def test_behind_one_trusted_proxy_the_throttle_counts_the_client_address(proxied_app):
    client = isolated_client(proxied_app)
    response = client.post(
        "/api/v1/auth/token",
        json={"username": "nobody", "password": "x"},
        headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.7", "X-Forwarded-Proto": "https"},
    )
    assert response.status_code == 401
    # One trusted hop: the address the proxy saw, not what the client claimed before it.
    assert failure_addresses(proxied_app) == ["203.0.113.7"]
