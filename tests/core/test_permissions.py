"""Default deny, role checks and bank scope (core.auth.permissions, core.auth.loaders)."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from flask.views import MethodView
from flask_login import login_user

from core.auth.models import User
from core.auth.permissions import (
    PUBLIC_ENDPOINTS,
    ensure_acts_for_own_bank,
    ensure_visible,
    is_public,
    public,
    roles_required,
    scope_to_bank,
)
from core.db import db
from core.errors import Forbidden, NotFound, Unauthorized
from tests.support import isolated_client
from tests.factories import BankFactory, UserFactory

# Everything anybody may reach without logging in. Adding to this list is a security decision.
EXPECTED_PUBLIC = {
    "static",
    "auth.login",
    "auth_api.token",
    "home.set_language",
    "api-docs.openapi_json",
    "api-docs.openapi_swagger_ui",
}


@pytest.fixture
def client(app):
    return isolated_client(app)


# --- the public mark -----------------------------------------------------------------------------------


def test_public_marks_functions_method_views_and_single_methods():
    def plain():
        return "x"

    assert not is_public("bp.plain", plain, "GET")
    assert is_public("bp.plain", public(plain), "GET")

    @public
    class Open(MethodView):
        def get(self):
            return "x"

    class Half(MethodView):
        @public
        def get(self):
            return "x"

        def post(self):
            return "x"

    assert is_public("bp.open", Open.as_view("open"), "POST")
    half = Half.as_view("half")
    assert is_public("bp.half", half, "GET") and is_public("bp.half", half, "HEAD")
    assert not is_public("bp.half", half, "POST")
    assert all(is_public(endpoint, None, "GET") for endpoint in PUBLIC_ENDPOINTS)
    assert not is_public(None, None, "GET")


def test_only_the_expected_endpoints_are_public(app):
    public_endpoints = set()
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if any(is_public(rule.endpoint, view, method) for method in rule.methods):
            public_endpoints.add(rule.endpoint)
    assert public_endpoints == EXPECTED_PUBLIC


def _example_url(rule) -> str:
    """The rule's path with every variable filled in (ids with 1, anything else with "x")."""
    def fill(match: re.Match) -> str:
        converter = match.group(1) or "string"
        return "1" if converter in ("int", "float") else "2025-01" if "period" in match.group(2) else "x"

    return re.sub(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>", fill, rule.rule)


def test_every_other_endpoint_refuses_anonymous_callers(app, client, monkeypatch):
    """Default deny: a new endpoint is protected without anybody remembering to protect it."""
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", False)  # judge authentication, not the CSRF check
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in EXPECTED_PUBLIC:
            continue
        url = _example_url(rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method, json={} if url.startswith("/api/") else None)
            where = f"{method} {url} ({rule.endpoint})"
            if url.startswith("/api/"):
                assert response.status_code == 401, where
                assert response.get_json()["code"] == 401, where
            else:
                assert response.status_code == 302, where
                assert response.headers["Location"].startswith("/login"), where
            checked += 1
    assert checked >= 10


def test_anonymous_api_and_page_answers(client):
    response = client.get("/api/v1/users")
    assert response.status_code == 401
    assert response.get_json() == {"code": 401, "status": "Unauthorized", "message": "未登录或登录凭证无效", "errors": {}}
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_public_pages_open_anonymously(client):
    assert client.get("/login").status_code == 200
    assert client.get("/api/v1/openapi.json").status_code == 200
    assert client.get("/api/v1/docs").status_code == 200
    assert client.get("/static/vendor/bootstrap/bootstrap.min.css").status_code == 200
    assert client.get("/lang/en?next=/login").status_code == 302


def test_unknown_urls_are_404_not_401(client):
    assert client.get("/api/v1/no-such-thing").status_code == 404
    assert client.get("/no-such-page").status_code == 404


# --- roles and bank scope ---------------------------------------------------------------------------------


@roles_required("admin", "auditor")
def guarded():
    return "ok"


def test_roles_required(app_ctx):
    with app_ctx.test_request_context("/api/v1/x"):
        with pytest.raises(Unauthorized):
            guarded()
    for role, allowed in [("admin", True), ("auditor", True), ("fund_manager", False), ("bank_liaison", False)]:
        user = UserFactory(role=role)
        with app_ctx.test_request_context("/api/v1/x"):
            login_user(user)
            if allowed:
                assert guarded() == "ok"
            else:
                with pytest.raises(Forbidden):
                    guarded()
    assert guarded.allowed_roles == frozenset({"admin", "auditor"})


def test_scope_helpers_confine_a_liaison_to_its_bank(app_ctx):
    own, other = BankFactory(), BankFactory()
    liaison = UserFactory(role="bank_liaison", bank=own)
    colleague = UserFactory(role="bank_liaison", bank=other)
    auditor = UserFactory(role="auditor")
    query = sa.select(User).where(User.role == "bank_liaison")

    with app_ctx.test_request_context("/"):
        login_user(liaison)
        ensure_visible(own.id)
        ensure_acts_for_own_bank(own.id)
        with pytest.raises(NotFound):
            ensure_visible(other.id)
        with pytest.raises(NotFound):
            ensure_acts_for_own_bank(other.id)
        with pytest.raises(NotFound):
            ensure_visible(None)
        assert db.session.scalars(scope_to_bank(query, User.bank_id)).all() == [liaison]

    with app_ctx.test_request_context("/"):
        login_user(auditor)
        ensure_visible(other.id)  # everyone else sees every bank
        assert set(db.session.scalars(scope_to_bank(query, User.bank_id))) == {liaison, colleague}
