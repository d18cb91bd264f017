"""The web side of identity: login page, CSRF, logout, own password, and the admin's user pages."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from core.auth.models import User
from core.auth.passwords import verify_password
from core.db import db
from tests.conftest import make_user, persist
from tests.support import isolated_client, csrf_token_from, post_form, web_login
from tests.factories import DEFAULT_PASSWORD, BankFactory



@pytest.fixture
def client(app):
    """Each request in its own app context (see IsolatedClient)."""
    return isolated_client(app)

def location(response) -> str:
    return response.headers.get("Location", "")


# --- the login page ---------------------------------------------------------------------------------


def test_login_page_renders_in_chinese(client):
    response = client.get("/login")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'lang="zh-CN"' in html
    for text in ("登录", "用户名", "密码"):
        assert text in html
    assert 'name="csrf_token"' in html
    assert 'autocomplete="current-password"' in html


def test_login_succeeds_and_opens_the_home_page(app, client):
    user = make_user(app, "fund_officer")
    response = web_login(client, user.username, DEFAULT_PASSWORD)
    assert response.status_code == 302
    assert location(response) == "/"
    assert client.get("/").status_code == 200


def test_login_failure_writes_only_the_failure_counter(app, client, row_counts):
    user = make_user(app, "fund_officer")
    token = csrf_token_from(client, "/login")
    before = row_counts()
    response = client.post("/login", data={"username": user.username, "password": "wrong-pass-9", "csrf_token": token})
    assert response.status_code == 401
    html = response.get_data(as_text=True)
    assert "用户名或密码错误" in html
    assert "wrong-pass-9" not in html  # the password is never echoed back
    after = row_counts()
    assert after.pop("login_failures") == before.pop("login_failures") + 1
    assert after == before  # users, api_tokens, audit events... unchanged
    assert client.get("/").status_code == 302  # still not logged in


def test_unknown_user_gets_the_same_message(client):
    response = web_login(client, "no-such-user", DEFAULT_PASSWORD)
    assert response.status_code == 401
    assert "用户名或密码错误" in response.get_data(as_text=True)


def test_login_without_csrf_token_is_refused(app, client, row_counts):
    assert app.config.get("WTF_CSRF_ENABLED", True) is True
    user = make_user(app, "fund_officer")
    before = row_counts()
    response = client.post("/login", data={"username": user.username, "password": DEFAULT_PASSWORD})
    assert response.status_code == 400
    assert row_counts() == before
    assert client.get("/").status_code == 302


def test_login_with_missing_fields_is_422(client):
    response = post_form(client, "/login", {"username": "", "password": ""})
    assert response.status_code == 422
    assert "此项为必填项" in response.get_data(as_text=True)


def test_login_is_throttled_with_a_429_page(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_FAILURE_LIMIT", 3)
    user = make_user(app, "fund_officer")
    for _ in range(3):
        assert web_login(client, user.username, "wrong-pass-9").status_code == 401
    response = web_login(client, user.username, DEFAULT_PASSWORD)
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert "该账户因连续多次登录失败已被暂时锁定" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


@pytest.mark.parametrize(
    "target, expected",
    [
        ("/admin/users?role=auditor", "/admin/users?role=auditor"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
    ],
)
def test_login_goes_back_only_to_a_local_next(app, client, target, expected):
    user = make_user(app, "admin")
    token = csrf_token_from(client, "/login")
    response = client.post(
        "/login", data={"username": user.username, "password": DEFAULT_PASSWORD, "next": target, "csrf_token": token}
    )
    assert response.status_code == 302
    assert location(response) == expected


def test_anonymous_page_visit_redirects_to_login_with_next(client):
    response = client.get("/admin/users?role=auditor")
    assert response.status_code == 302
    parts = urlsplit(location(response))
    assert parts.path == "/login"
    assert parse_qs(parts.query)["next"] == ["/admin/users?role=auditor"]
    # and the login page carries it into its form
    html = client.get(location(response)).get_data(as_text=True)
    assert 'value="/admin/users?role=auditor"' in html


def test_login_renews_the_session(app, client):
    user = make_user(app, "fund_officer")
    with client.session_transaction() as session:
        session["planted"] = "by-an-attacker"
        session["lang"] = "zh"
    web_login(client, user.username, DEFAULT_PASSWORD)
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["lang"] == "zh"  # the visitor's language choice survives
        assert session["_user_id"] == str(user.id)


# --- logout ---------------------------------------------------------------------------------------------


def test_logout_is_a_csrf_protected_post(app, client):
    user = make_user(app, "fund_officer")
    web_login(client, user.username, DEFAULT_PASSWORD)
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400  # no CSRF token
    assert client.get("/").status_code == 200  # still logged in
    response = post_form(client, "/logout", {}, form_url="/account/password")
    assert response.status_code == 302 and urlsplit(location(response)).path == "/login"
    assert client.get("/").status_code == 302


# --- own password ---------------------------------------------------------------------------------------


def test_change_own_password_keeps_this_session_and_ends_the_others(app, client):
    user = make_user(app, "fund_officer")
    other = isolated_client(app)
    web_login(client, user.username, DEFAULT_PASSWORD)
    web_login(other, user.username, DEFAULT_PASSWORD)
    assert other.get("/").status_code == 200

    page = client.get("/account/password")
    assert page.status_code == 200 and "修改密码" in page.get_data(as_text=True)
    response = post_form(
        client,
        "/account/password",
        {"current_password": DEFAULT_PASSWORD, "new_password": "changed-it-5", "confirm": "changed-it-5"},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    assert client.get("/").status_code == 200  # this session was re-stamped
    assert other.get("/").status_code == 302  # the other session started before the change
    with app.app_context():
        assert verify_password(db.session.get(User, user.id).password_hash, "changed-it-5")


def test_change_own_password_refusals_rerender_the_form(app, client, row_counts):
    user = make_user(app, "fund_officer")
    web_login(client, user.username, DEFAULT_PASSWORD)
    before = row_counts(ignore=("login_failures",))
    wrong = post_form(client, "/account/password", {"current_password": "nope-123x", "new_password": "changed-it-5", "confirm": "changed-it-5"})
    assert wrong.status_code == 422 and "当前密码不正确" in wrong.get_data(as_text=True)
    weak = post_form(client, "/account/password", {"current_password": DEFAULT_PASSWORD, "new_password": "weak", "confirm": "weak"})
    assert weak.status_code == 422 and "密码至少需要" in weak.get_data(as_text=True)
    mismatch = post_form(client, "/account/password", {"current_password": DEFAULT_PASSWORD, "new_password": "changed-it-5", "confirm": "other-one-6"})
    assert mismatch.status_code == 422 and "不一致" in mismatch.get_data(as_text=True)
    assert row_counts(ignore=("login_failures",)) == before


def test_a_deactivated_users_session_ends(app, client):
    user = make_user(app, "fund_officer")
    web_login(client, user.username, DEFAULT_PASSWORD)
    with app.app_context():
        db.session.get(User, user.id).is_active = False
        db.session.commit()
    assert client.get("/").status_code == 302


# --- the admin's user pages -------------------------------------------------------------------------------


def test_user_list_shows_roles_and_banks(app, client, login_as):
    login_as("admin")
    liaison = make_user(app, "bank_liaison", display_name="联络员张三")
    make_user(app, "auditor", display_name="审计李四")
    html = client.get("/admin/users").get_data(as_text=True)
    assert "联络员张三" in html and "审计李四" in html
    assert "银行联络员" in html and "财务审计" in html
    with app.app_context():
        bank_name = db.session.get(User, liaison.id).bank.name
    assert bank_name in html
    filtered = client.get("/admin/users?role=auditor").get_data(as_text=True)
    assert "审计李四" in filtered and "联络员张三" not in filtered


def test_admin_creates_a_liaison_on_the_web(app, client, login_as):
    login_as("admin")
    with app.app_context():
        bank = persist(BankFactory(name="网页测试银行"))
    page = client.get("/admin/users/new").get_data(as_text=True)
    assert "网页测试银行" in page and "银行联络员" in page
    response = post_form(
        client,
        "/admin/users/new",
        {"username": "web.liaison", "display_name": "网页联络员", "role": "bank_liaison", "bank_id": str(bank.id), "password": "secret123456", "confirm": "secret123456"},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        created = db.session.scalar(sa.select(User).where(User.username == "web.liaison"))
        assert (created.role, created.bank_id, created.display_name) == ("bank_liaison", bank.id, "网页联络员")
    assert "已创建用户 web.liaison" in client.get("/admin/users").get_data(as_text=True)


def test_user_form_refusals_write_nothing(app, client, login_as, row_counts):
    login_as("admin")
    make_user(app, "auditor", username="taken.name")
    before = row_counts()
    no_bank = post_form(client, "/admin/users/new", {"username": "x.liaison", "role": "bank_liaison", "bank_id": "", "password": "secret123456", "confirm": "secret123456"})
    assert no_bank.status_code == 422 and "银行联络员必须指定所属银行" in no_bank.get_data(as_text=True)
    taken = post_form(client, "/admin/users/new", {"username": "taken.name", "role": "auditor", "bank_id": "", "password": "secret123456", "confirm": "secret123456"})
    assert taken.status_code == 409 and "已被使用" in taken.get_data(as_text=True)
    assert row_counts() == before


def test_admin_edits_and_resets_a_user(app, client, login_as):
    login_as("admin")
    user = make_user(app, "bank_liaison")
    page = client.get(f"/admin/users/{user.id}/edit")
    assert page.status_code == 200 and user.username in page.get_data(as_text=True)
    response = post_form(
        client, f"/admin/users/{user.id}/edit", {"display_name": "改名了", "role": "auditor", "bank_id": "", "is_active": ""}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        changed = db.session.get(User, user.id)
        assert (changed.display_name, changed.role, changed.bank_id, changed.is_active) == ("改名了", "auditor", None, False)

    response = post_form(client, f"/admin/users/{user.id}/password", {"new_password": "reset-it-777", "confirm": "reset-it-777"})
    assert response.status_code == 302
    with app.app_context():
        assert verify_password(db.session.get(User, user.id).password_hash, "reset-it-777")
    assert client.get("/admin/users/999999/edit").status_code == 404


@pytest.mark.parametrize("role", ["bank_liaison", "fund_officer", "fund_manager", "auditor"])
def test_user_pages_are_for_the_admin_only(client, login_as, role):
    user = login_as(role)
    for url in ("/admin/users", "/admin/users/new", f"/admin/users/{user.id}/edit", f"/admin/users/{user.id}/password"):
        assert client.get(url).status_code == 403, url


def test_the_last_admin_cannot_deactivate_themselves(app, client, login_as, row_counts):
    admin = login_as("admin")
    with app.app_context():
        for other in db.session.scalars(sa.select(User).where(User.role == "admin", User.id != admin.id)):
            other.is_active = False
        db.session.commit()
    before = row_counts()
    response = post_form(client, f"/admin/users/{admin.id}/edit", {"display_name": "", "role": "admin", "bank_id": "", "is_active": ""})
    assert response.status_code == 409
    assert "最后一位有效的系统管理员" in response.get_data(as_text=True)
    assert row_counts() == before


def test_a_session_without_the_password_stamp_is_not_a_login(app, client, login_as):
    """Only the login page makes a session; a forged or pre-upgrade cookie without the stamp is refused."""
    login_as("auditor")
    with client.session_transaction() as session:
        del session["_pw_stamp"]
    response = client.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
