"""The identity API: tokens, throttling, the caller, and user management by the admin."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from core import clock
from core.auth.models import User
from core.db import db
from tests.conftest import make_user, persist
from tests.support import isolated_client, web_login
from tests.factories import DEFAULT_PASSWORD, BankFactory

TOKEN_URL = "/api/v1/auth/token"



@pytest.fixture
def client(app):
    """Each request in its own app context (see IsolatedClient)."""
    return isolated_client(app)

def assert_error_shape(response, code: int) -> dict:
    assert response.status_code == code, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"code", "status", "message", "errors"}
    assert body["code"] == code and isinstance(body["message"], str) and body["message"]
    assert isinstance(body["errors"], dict)
    for field, messages in body["errors"].items():
        assert isinstance(messages, list) and all(isinstance(m, str) for m in messages), (field, messages)
    return body


def ask_token(client, username, password, address="10.9.0.1"):
    return client.post(TOKEN_URL, json={"username": username, "password": password}, environ_base={"REMOTE_ADDR": address})


# --- tokens ----------------------------------------------------------------------------------------


def test_token_issued_for_good_credentials(app, client):
    user = make_user(app, "fund_manager")
    response = ask_token(client, user.username, DEFAULT_PASSWORD)
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"token", "expires_at", "role"}
    assert body["role"] == "fund_manager"
    expires = datetime.fromisoformat(body["expires_at"])
    assert expires.tzinfo is not None  # ISO 8601 with offset
    ttl = app.config["TOKEN_TTL_HOURS"]
    assert timedelta(hours=ttl - 1) < expires - clock.now() <= timedelta(hours=ttl)

    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200
    assert me.get_json()["username"] == user.username
    assert "password_hash" not in me.get_json()


def test_wrong_credentials_401_write_only_the_failure(app, client, row_counts):
    user = make_user(app, "auditor")
    before = row_counts()
    for username, password in [(user.username, "wrong-password-1"), ("nobody", DEFAULT_PASSWORD)]:
        body = assert_error_shape(ask_token(client, username, password), 401)
        assert body["message"] == "用户名或密码错误"
    after = row_counts()
    assert after.pop("login_failures") == before.pop("login_failures") + 2
    assert after == before


def test_token_request_missing_fields_is_422_with_flat_errors(client, row_counts):
    before = row_counts()
    body = assert_error_shape(client.post(TOKEN_URL, json={"username": "someone"}), 422)
    assert list(body["errors"]) == ["password"]
    assert body["errors"]["password"] == ["此字段为必填项"]
    assert_error_shape(client.post(TOKEN_URL, data="not json", content_type="application/json"), 400)
    assert row_counts() == before


def test_missing_or_malformed_token_is_401(client):
    assert_error_shape(client.get("/api/v1/me"), 401)
    assert_error_shape(client.get("/api/v1/me", headers={"Authorization": "Bearer nonsense"}), 401)
    assert_error_shape(client.get("/api/v1/me", headers={"Authorization": "Basic dXNlcjpwYXNz"}), 401)


def test_expired_token_is_401(app, client, api_as):
    _user, headers = api_as("auditor")
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    clock.freeze(clock.now() + timedelta(hours=app.config["TOKEN_TTL_HOURS"], minutes=1))
    try:
        assert_error_shape(client.get("/api/v1/me", headers=headers), 401)
    finally:
        clock.freeze(None)


def test_token_of_a_deactivated_user_is_401(app, client, api_as):
    user, headers = api_as("auditor")
    with app.app_context():
        db.session.get(User, user.id).is_active = False
        db.session.commit()
    assert_error_shape(client.get("/api/v1/me", headers=headers), 401)


def test_own_password_change_revokes_every_token(app, client, api_as):
    user, headers = api_as("fund_officer")
    second = ask_token(client, user.username, DEFAULT_PASSWORD).get_json()["token"]
    response = client.post(
        "/api/v1/me/password", json={"current_password": DEFAULT_PASSWORD, "new_password": "brand-new-42"}, headers=headers
    )
    assert response.status_code == 204, response.get_data(as_text=True)
    assert_error_shape(client.get("/api/v1/me", headers=headers), 401)
    assert_error_shape(client.get("/api/v1/me", headers={"Authorization": f"Bearer {second}"}), 401)
    assert ask_token(client, user.username, "brand-new-42").status_code == 200


def test_own_password_change_refusals(client, api_as, row_counts):
    _user, headers = api_as("fund_officer")
    before = row_counts(ignore=("login_failures",))
    wrong = client.post("/api/v1/me/password", json={"current_password": "nope-nope-1", "new_password": "brand-new-42"}, headers=headers)
    assert "current_password" in assert_error_shape(wrong, 422)["errors"]
    weak = client.post("/api/v1/me/password", json={"current_password": DEFAULT_PASSWORD, "new_password": "short"}, headers=headers)
    assert "new_password" in assert_error_shape(weak, 422)["errors"]
    assert row_counts(ignore=("login_failures",)) == before
    assert client.get("/api/v1/me", headers=headers).status_code == 200


def test_the_session_cookie_is_not_accepted_by_the_api(app, client):
    user = make_user(app, "admin")
    assert web_login(client, user.username, DEFAULT_PASSWORD).status_code == 302
    assert client.get("/").status_code == 200  # logged in on the web
    assert_error_shape(client.get("/api/v1/me"), 401)
    assert_error_shape(client.get("/api/v1/users"), 401)


def test_bearer_tokens_are_not_accepted_by_web_pages(app, client, api_as):
    _user, headers = api_as("admin")
    response = client.get("/admin/users", headers=headers)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


# --- throttling --------------------------------------------------------------------------------------


def test_thirty_wrong_passwords_meet_a_429_and_lock_out_the_right_one(app, client):
    user = make_user(app, "fund_manager")
    statuses = [ask_token(client, user.username, f"wrong-{n}-x").status_code for n in range(30)]
    limit = app.config["LOGIN_FAILURE_LIMIT"]
    assert statuses[:limit] == [401] * limit
    assert set(statuses[limit:]) == {429}
    locked = ask_token(client, user.username, DEFAULT_PASSWORD, address="10.9.9.9")  # even from elsewhere
    body = assert_error_shape(locked, 429)
    assert "token" not in body
    retry_after = int(locked.headers["Retry-After"])
    assert 0 < retry_after <= app.config["LOGIN_FAILURE_WINDOW_MINUTES"] * 60

    clock.freeze(clock.now() + timedelta(seconds=retry_after + 1))
    try:
        assert ask_token(client, user.username, DEFAULT_PASSWORD).status_code == 200
    finally:
        clock.freeze(None)


def test_a_refused_429_writes_nothing(app, client, row_counts, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_FAILURE_LIMIT", 2)
    user = make_user(app, "auditor")
    for _ in range(2):
        ask_token(client, user.username, "wrong-pass-1")
    before = row_counts()
    assert_error_shape(ask_token(client, user.username, "wrong-pass-1"), 429)
    assert row_counts() == before


def test_per_address_limit(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_FAILURE_LIMIT_PER_ADDRESS", 5)
    user = make_user(app, "auditor")
    for n in range(5):
        assert ask_token(client, f"guess{n}", "wrong-pass-1", address="10.7.7.7").status_code == 401
    assert_error_shape(ask_token(client, user.username, DEFAULT_PASSWORD, address="10.7.7.7"), 429)
    assert ask_token(client, user.username, DEFAULT_PASSWORD, address="10.7.7.8").status_code == 200


def test_a_success_does_not_reset_the_address_counter(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_FAILURE_LIMIT_PER_ADDRESS", 4)
    user = make_user(app, "auditor")
    for n in range(3):
        ask_token(client, f"guess{n}", "wrong-pass-1", address="10.6.6.6")
    assert ask_token(client, user.username, DEFAULT_PASSWORD, address="10.6.6.6").status_code == 200
    ask_token(client, "guess9", "wrong-pass-1", address="10.6.6.6")
    assert ask_token(client, user.username, DEFAULT_PASSWORD, address="10.6.6.6").status_code == 429


# --- user management -----------------------------------------------------------------------------------


def test_admin_creates_users(app, client, api_as):
    _admin, headers = api_as("admin")
    with app.app_context():
        bank_id = persist(BankFactory()).id
    response = client.post(
        "/api/v1/users",
        json={"username": "liaison.a", "password": "secret123456", "role": "bank_liaison", "bank_id": bank_id},
        headers=headers,
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert body["username"] == "liaison.a" and body["role"] == "bank_liaison" and body["bank_id"] == bank_id
    assert body["is_active"] is True
    text = response.get_data(as_text=True)
    assert "password_hash" not in text and "argon2" not in text and "secret123456" not in text

    officer = client.post("/api/v1/users", json={"username": "officer.a", "password": "secret123456", "role": "fund_officer"}, headers=headers)
    assert officer.status_code == 201 and officer.get_json()["bank_id"] is None
    # the new user can log in
    assert ask_token(client, "liaison.a", "secret123456").get_json()["role"] == "bank_liaison"


def test_duplicate_username_is_409_and_writes_nothing(app, client, api_as, row_counts):
    _admin, headers = api_as("admin")
    make_user(app, "auditor", username="dup.user")
    before = row_counts()
    response = client.post("/api/v1/users", json={"username": "dup.user", "password": "secret123456", "role": "auditor"}, headers=headers)
    assert "username" in assert_error_shape(response, 409)["errors"]
    assert row_counts() == before


@pytest.mark.parametrize(
    "body, field",
    [
        ({"password": "secret123456", "role": "auditor"}, "username"),
        ({"username": "u.one", "role": "auditor"}, "password"),
        ({"username": "u.one", "password": "secret123456"}, "role"),
        ({"username": "u.one", "password": "secret123456", "role": "chief"}, "role"),
        ({"username": "u.one", "password": "secret123456", "role": "bank_liaison"}, "bank_id"),
        ({"username": "u.one", "password": "secret123456", "role": "bank_liaison", "bank_id": 987654}, "bank_id"),
        ({"username": "u.one", "password": "weakpass", "role": "auditor"}, "password"),
        ({"username": "u.one", "password": "u.one1234567", "role": "auditor", "extra": 1}, "extra"),
    ],
)
def test_user_creation_refusals_are_422_and_write_nothing(client, api_as, row_counts, body, field):
    _admin, headers = api_as("admin")
    before = row_counts()
    response = client.post("/api/v1/users", json=body, headers=headers)
    errors = assert_error_shape(response, 422)["errors"]
    assert field in errors
    assert row_counts() == before


def test_a_non_admin_may_not_manage_users(app, client, api_as, row_counts):
    for role in ("bank_liaison", "fund_officer", "fund_manager", "auditor"):
        user, headers = api_as(role)
        before = row_counts()
        response = client.post("/api/v1/users", json={"username": "x.y", "password": "secret123456", "role": "auditor"}, headers=headers)
        assert_error_shape(response, 403)
        assert row_counts() == before
        if role != "auditor":  # the auditor reads everything, users included (domain.md), and changes nothing
            assert_error_shape(client.get("/api/v1/users", headers=headers), 403)
            assert_error_shape(client.get(f"/api/v1/users/{user.id}", headers=headers), 403)
        assert_error_shape(client.patch(f"/api/v1/users/{user.id}", json={"role": "admin"}, headers=headers), 403)
        assert_error_shape(client.post(f"/api/v1/users/{user.id}/password", json={"new_password": "hijack123456"}, headers=headers), 403)


def test_the_auditor_reads_the_users_and_never_their_password_hashes(client, api_as):
    auditor, headers = api_as("auditor")
    listing = client.get("/api/v1/users", headers=headers)
    assert listing.status_code == 200
    assert auditor.username in [item["username"] for item in listing.get_json()["items"]]
    one = client.get(f"/api/v1/users/{auditor.id}", headers=headers).get_json()
    assert one["username"] == auditor.username and not any("password" in key for key in one if key != "password_changed_at")


def test_admin_lists_filters_reads_and_updates_users(app, client, api_as):
    _admin, headers = api_as("admin")
    liaison = make_user(app, "bank_liaison")
    for _ in range(3):
        make_user(app, "auditor")
    listing = client.get("/api/v1/users?role=auditor&per_page=2", headers=headers).get_json()
    assert listing["total"] == 3 and len(listing["items"]) == 2
    assert {item["role"] for item in listing["items"]} == {"auditor"}
    by_bank = client.get(f"/api/v1/users?bank_id={liaison.bank_id}", headers=headers).get_json()
    assert [item["id"] for item in by_bank["items"]] == [liaison.id]
    assert_error_shape(client.get("/api/v1/users?per_page=201", headers=headers), 422)

    one = client.get(f"/api/v1/users/{liaison.id}", headers=headers).get_json()
    assert one["bank"]["id"] == liaison.bank_id
    assert_error_shape(client.get("/api/v1/users/999999", headers=headers), 404)

    changed = client.patch(f"/api/v1/users/{liaison.id}", json={"role": "fund_officer", "display_name": "赵六"}, headers=headers)
    assert changed.status_code == 200, changed.get_data(as_text=True)
    assert (changed.get_json()["role"], changed.get_json()["bank_id"], changed.get_json()["display_name"]) == ("fund_officer", None, "赵六")
    bad = client.patch(f"/api/v1/users/{liaison.id}", json={"role": "bank_liaison"}, headers=headers)
    assert "bank_id" in assert_error_shape(bad, 422)["errors"]
    off = client.patch(f"/api/v1/users/{liaison.id}", json={"is_active": False}, headers=headers)
    assert off.get_json()["is_active"] is False


def test_admin_resets_a_password_and_revokes_the_users_tokens(app, client, api_as, api_headers):
    _admin, headers = api_as("admin")
    user = make_user(app, "auditor")
    user_headers = api_headers(user)
    response = client.post(f"/api/v1/users/{user.id}/password", json={"new_password": "reset-it-777"}, headers=headers)
    assert response.status_code == 204, response.get_data(as_text=True)
    assert_error_shape(client.get("/api/v1/me", headers=user_headers), 401)
    assert ask_token(client, user.username, "reset-it-777").status_code == 200
    weak = client.post(f"/api/v1/users/{user.id}/password", json={"new_password": "weak"}, headers=headers)
    assert "new_password" in assert_error_shape(weak, 422)["errors"]


def test_openapi_document_and_docs_are_public_and_describe_identity(client):
    spec = client.get("/api/v1/openapi.json")
    assert spec.status_code == 200
    paths = spec.get_json()["paths"]
    for path in ("/api/v1/auth/token", "/api/v1/me", "/api/v1/users", "/api/v1/users/{user_id}", "/api/v1/users/{user_id}/password"):
        assert path in paths, path
    assert client.get("/api/v1/docs").status_code == 200


def test_audit_events_never_carry_a_secret(app, client, monkeypatch):
    recorded = []
    monkeypatch.setattr("core.auth.api.record_event", lambda *a, **k: recorded.append((a, k)))
    monkeypatch.setattr("core.auth.services.record_event", lambda *a, **k: recorded.append((a, k)))
    user = make_user(app, "auditor")
    token = ask_token(client, user.username, DEFAULT_PASSWORD).get_json()["token"]
    client.post(
        "/api/v1/me/password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": "brand-new-42"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert [a[0] for a, _k in recorded] == ["auth.token_issued", "auth.password_changed"]
    text = repr(recorded)
    for secret in (token, DEFAULT_PASSWORD, "brand-new-42"):
        assert secret not in text
    with app.app_context():
        assert db.session.scalar(sa.select(User.password_hash).where(User.id == user.id)) not in text
