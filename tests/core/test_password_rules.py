"""The password rules hold on every path that sets a password: creation (API, web, CLI), one's own
change, the admin's reset (API, web, CLI). A refused password writes nothing."""
from __future__ import annotations

import pytest

from config.demo import DEMO_PASSWORD
from core.auth import passwords
from tests.conftest import make_user
from tests.support import post_form

COMMON = "Qwerty123456"
MESSAGES = {
    "short": "密码至少需要 12 个字符",
    "common": "该密码过于常见，很容易被猜中，请换一个",
    "username": "密码不能包含用户名",
}


def test_the_demo_password_is_valid(app_ctx):
    assert passwords.password_problems(DEMO_PASSWORD, "admin") == []


@pytest.mark.parametrize(
    "password, problem",
    [("Short-pass-1", None), ("short-pass1", "short"), (COMMON, "common"), ("new.person-2026", "username")],
)
def test_api_user_creation(client, api_as, row_counts, password, problem):
    _admin, headers = api_as("admin")
    before = row_counts()
    response = client.post(
        "/api/v1/users", json={"username": "new.person", "password": password, "role": "auditor"}, headers=headers
    )
    if problem is None:
        assert response.status_code == 201, response.get_json()
        return
    assert response.status_code == 422
    assert MESSAGES[problem] in response.get_json()["errors"]["password"]
    assert row_counts() == before


def test_own_change_and_admin_reset_through_the_api(client, api_as, default_password, row_counts):
    user, headers = api_as("auditor", username="wang.wu")
    before = row_counts()
    own = client.post(
        "/api/v1/me/password", json={"current_password": default_password, "new_password": "wang.wu-2026x"}, headers=headers
    )
    assert own.status_code == 422 and MESSAGES["username"] in own.get_json()["errors"]["new_password"]
    assert row_counts() == before
    _admin, admin_headers = api_as("admin")
    before = row_counts()
    reset = client.post(f"/api/v1/users/{user.id}/password", json={"new_password": COMMON}, headers=admin_headers)
    assert reset.status_code == 422 and MESSAGES["common"] in reset.get_json()["errors"]["new_password"]
    assert row_counts() == before


def test_admin_reset_on_the_web_page(app, client, login_as, row_counts):
    user = make_user(app, "auditor")
    login_as("admin")
    before = row_counts()
    url = f"/admin/users/{user.id}/password"
    response = post_form(client, url, {"new_password": "abc123", "confirm": "abc123"})
    assert response.status_code == 422 and MESSAGES["short"] in response.get_data(as_text=True)
    assert row_counts() == before


def test_cli(app, runner):
    make_user(app, "auditor", username="li.si")
    common = runner.invoke(args=["users", "set-password", "li.si", "--password", COMMON])
    assert common.exit_code != 0 and MESSAGES["common"] in common.output
    named = runner.invoke(args=["users", "create", "zhao.qian", "--role", "auditor", "--password", "Zhao.Qian-2026"])
    assert named.exit_code != 0 and MESSAGES["username"] in named.output
