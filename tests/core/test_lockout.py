"""Account lockout after repeated failed logins: the locked user is told, the admin sees and lifts it (audited)."""
from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa

from core import clock
from core.audit.models import AuditEvent
from core.auth import throttle
from core.auth.models import LoginFailure
from core.db import db
from tests.conftest import make_user
from tests.support import csrf_token_from, isolated_client, web_login

LIMIT = 3
LOCKED_MESSAGE = "该账户因连续多次登录失败已被暂时锁定"


def fail_logins(app, username: str, times: int) -> None:
    guesser = isolated_client(app)
    for _ in range(times):
        assert web_login(guesser, username, "wrong-guess-123").status_code == 401


def unlock_events(app) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "auth.unlocked")))


def test_the_locked_user_is_told_so_even_with_the_right_password(app, client, default_password, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_FAILURE_LIMIT", LIMIT)
    user = make_user(app, "fund_officer")
    fail_logins(app, user.username, LIMIT)

    page = web_login(client, user.username, default_password)
    assert page.status_code == 429 and LOCKED_MESSAGE in page.get_data(as_text=True)
    api = client.post("/api/v1/auth/token", json={"username": user.username, "password": default_password})
    assert api.status_code == 429 and LOCKED_MESSAGE in api.get_json()["message"]
    assert "联系系统管理员解锁" in api.get_json()["message"]


def test_the_admin_sees_locked_accounts_with_count_and_times(app, client, login_as, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_FAILURE_LIMIT", LIMIT)
    locked = make_user(app, "auditor", username="locked.user")
    almost = make_user(app, "auditor", username="almost.user")
    fail_logins(app, "LOCKED.user", LIMIT + 0)  # case does not open a new counter
    fail_logins(app, almost.username, LIMIT - 1)
    fail_logins(app, "no.such.user", LIMIT)  # guesses at unknown names are not listed

    login_as("admin")
    html = client.get("/admin/users").get_data(as_text=True)

    section = html[html.index('id="locked-accounts"'):html.index("</table>", html.index('id="locked-accounts"'))]
    assert locked.username in section and f"<td>{LIMIT}</td>" in section
    assert almost.username not in section and "no.such.user" not in section
    assert f"/admin/users/{locked.id}/unlock" in section
    with app.app_context():
        lock = throttle.account_lock(locked.username)
        assert lock is not None and lock.failures == LIMIT
        assert clock.now() < lock.locked_until <= clock.now() + timedelta(minutes=app.config["LOGIN_FAILURE_WINDOW_MINUTES"])
        assert throttle.account_lock(almost.username) is None


def test_no_lock_no_section(client, login_as):
    login_as("admin")
    assert 'id="locked-accounts"' not in client.get("/admin/users").get_data(as_text=True)


def test_the_admin_unlocks_and_the_user_can_log_in_again(app, client, login_as, default_password, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_FAILURE_LIMIT", LIMIT)
    user = make_user(app, "fund_manager")
    fail_logins(app, user.username, LIMIT)
    admin = login_as("admin")
    token = csrf_token_from(client, "/admin/users")

    response = client.post(f"/admin/users/{user.id}/unlock", data={"csrf_token": token})

    assert response.status_code == 302
    assert "已解除用户" in client.get(response.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        assert throttle.account_lock(user.username) is None
        assert db.session.scalar(sa.select(sa.func.count()).select_from(LoginFailure)) == 0
    [event] = unlock_events(app)
    assert (event.object_type, event.object_id, event.user_id) == ("user", str(user.id), admin.id)
    assert event.before["failures"] == LIMIT and event.before["locked_until"]
    assert web_login(isolated_client(app), user.username, default_password).status_code == 302


def test_unlocking_an_account_that_is_not_locked_writes_nothing(app, client, login_as, row_counts):
    user = make_user(app, "auditor")
    login_as("admin")
    token = csrf_token_from(client, "/admin/users")
    before = row_counts()

    response = client.post(f"/admin/users/{user.id}/unlock", data={"csrf_token": token})

    assert response.status_code == 409 and "该账户未被锁定" in response.get_data(as_text=True)
    assert row_counts() == before
    assert client.post("/admin/users/999999/unlock", data={"csrf_token": token}).status_code == 404


def test_only_an_admin_unlocks(app, client, login_as, monkeypatch, row_counts):
    monkeypatch.setitem(app.config, "LOGIN_FAILURE_LIMIT", LIMIT)
    user = make_user(app, "auditor")
    fail_logins(app, user.username, LIMIT)
    login_as("fund_manager")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get("/").get_data(as_text=True)).group(1)
    before = row_counts()

    assert client.post(f"/admin/users/{user.id}/unlock", data={"csrf_token": token}).status_code == 403
    assert row_counts() == before
    assert unlock_events(app) == []


def test_the_lock_lifts_by_itself_after_the_window(app, client, default_password, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_FAILURE_LIMIT", LIMIT)
    user = make_user(app, "auditor")
    fail_logins(app, user.username, LIMIT)
    later = clock.now() + timedelta(minutes=app.config["LOGIN_FAILURE_WINDOW_MINUTES"], seconds=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    with app.app_context():
        assert throttle.locked_accounts() == {}
    assert web_login(client, user.username, default_password).status_code == 302
