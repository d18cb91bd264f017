"""The foundation's acceptance points, end to end through HTTP: documented status, error shape, nothing written."""
from __future__ import annotations

import pytest

ERROR_KEYS = {"code", "status", "message", "errors"}


def assert_error(response, code: int) -> dict:
    assert response.status_code == code, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == ERROR_KEYS, body
    assert body["code"] == code and isinstance(body["message"], str) and body["message"]
    assert isinstance(body["errors"], dict)
    return body


def test_bad_login_is_401_and_writes_only_the_failure_counter(client, api_as, row_counts):
    api_as("admin")
    before = row_counts(ignore=("login_failures",))
    response = client.post("/api/v1/auth/token", json={"username": "nobody", "password": "wrong-password-1"})
    assert_error(response, 401)
    assert row_counts(ignore=("login_failures",)) == before


def test_missing_token_is_401(client, row_counts):
    before = row_counts()
    assert_error(client.get("/api/v1/users"), 401)
    assert_error(client.post("/api/v1/banks", json={"name": "某银行", "code": "XB"}), 401)
    assert row_counts() == before


def test_malformed_json_is_400(client, api_as, row_counts):
    _admin, headers = api_as("admin")
    before = row_counts()
    response = client.post(
        "/api/v1/banks", data='{"name": "某银行", "code": ', headers={**headers, "Content-Type": "application/json"}
    )
    assert_error(response, 400)
    assert row_counts() == before


def test_missing_field_is_422_naming_the_field(client, api_as, row_counts):
    _admin, headers = api_as("admin")
    before = row_counts()
    body = assert_error(client.post("/api/v1/banks", json={"name": "某银行"}, headers=headers), 422)
    assert "code" in body["errors"]
    assert row_counts() == before


@pytest.mark.parametrize("role", ["auditor", "fund_officer", "fund_manager", "bank_liaison"])
def test_forbidden_role_is_403(client, api_as, row_counts, role):
    _user, headers = api_as(role)
    before = row_counts()
    assert_error(client.post("/api/v1/banks", json={"name": "某银行", "code": "XB"}, headers=headers), 403)
    assert_error(
        client.post("/api/v1/users", json={"username": "x1", "password": "abc12345678", "role": "auditor"}, headers=headers),
        403,
    )
    assert row_counts() == before


def test_thirty_wrong_passwords_meet_a_429(client, api_as, default_password):
    admin, _headers = api_as("admin")
    statuses = [
        client.post("/api/v1/auth/token", json={"username": admin.username, "password": f"wrong-{i}"}).status_code
        for i in range(30)
    ]
    assert statuses[0] == 401 and 429 in statuses
    body = assert_error(client.post("/api/v1/auth/token", json={"username": admin.username, "password": default_password}), 429)
    assert body["message"]


def test_audit_chain_verifies_after_writes_and_catches_tampering(client, api_as, runner, app):
    _admin, admin_headers = api_as("admin")
    for code in ("AA", "BB", "CC"):
        assert client.post("/api/v1/banks", json={"name": f"银行{code}", "code": code}, headers=admin_headers).status_code == 201
    bank_id = client.get("/api/v1/banks", headers=admin_headers).get_json()["items"][0]["id"]
    assert client.patch(f"/api/v1/banks/{bank_id}", json={"name": "改名银行"}, headers=admin_headers).status_code == 200

    _auditor, auditor_headers = api_as("auditor")
    verdict = client.get("/api/v1/audit/verify", headers=auditor_headers).get_json()
    assert verdict["ok"] is True and verdict["events"] >= 5
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0

    from tests.core.tamper import alter_one_audit_row

    with app.app_context():
        alter_one_audit_row()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code != 0, result.output
