"""Versioned policy: the version in force on a day, new versions copying what they do not change,
the Python rules mirroring the CHECK constraints, the API (api.md) and the admin pages."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from core import clock
from core.db import db
from core.errors import BusinessRuleError, ValidationFailed
from core.policy.models import DEFAULT_POLICY, POLICY_NUMBERS, Policy
from core.policy.services import (
    create_policy_version,
    list_policies,
    policy_in_force,
    policy_numbers,
    policy_rule_errors,
)
from tests.support import csrf_token_from, post_form
from tests.test_interface import assert_csp_clean

ERROR_KEYS = {"code", "status", "message", "errors"}
ROLES = ("admin", "bank_liaison", "fund_officer", "fund_manager", "auditor")
FIRST_DAY = DEFAULT_POLICY["effective_from"]  # 2021-01-01, the version the test schema holds


@pytest.fixture(autouse=True)
def frozen_today():
    """Today is 2025-06-15 in Shanghai for every test here (dates below are relative to it)."""
    clock.freeze(datetime(2025, 6, 15, 4, 0, tzinfo=timezone.utc))
    yield date(2025, 6, 15)
    clock.freeze(None)


def assert_error(response, code: int) -> dict:
    assert response.status_code == code, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == ERROR_KEYS and body["code"] == code and body["message"]
    return body


def policy_count(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Policy))


def defaults() -> dict:
    return {name: DEFAULT_POLICY[name] for name in POLICY_NUMBERS}


# ------------------------------------------------------------------------------------------ services


def test_the_default_version_is_in_force_from_the_programme_start(app_ctx):
    policy = policy_in_force(date(2025, 6, 15))
    assert policy.effective_from == FIRST_DAY
    assert policy_numbers(policy) == defaults()
    assert policy.credit_line_for("A") == Decimal("5000000.00")
    with pytest.raises(BusinessRuleError):
        policy_in_force(date(2020, 12, 31))


def test_a_new_version_copies_every_number_it_does_not_change(app_ctx):
    new = create_policy_version({"credit_line_a": Decimal("6000000.00")}, date(2025, 7, 1), "admin1", note="市里新文件")
    assert new.id is not None
    assert new.credit_line_a == Decimal("6000000.00")
    assert policy_numbers(new) == {**defaults(), "credit_line_a": Decimal("6000000.00")}
    assert (new.created_by, new.note) == ("admin1", "市里新文件")


def test_the_version_in_force_changes_on_its_effective_date(app_ctx):
    new = create_policy_version({"rating_valid_months": 24}, date(2025, 7, 1), "admin1")
    assert policy_in_force(date(2025, 6, 30)).effective_from == FIRST_DAY
    assert policy_in_force(date(2025, 7, 1)).id == new.id
    assert policy_in_force(date(2030, 1, 1)).id == new.id
    later = create_policy_version({"max_term_months": 6}, date(2026, 1, 1), "admin1")
    assert policy_in_force(date(2025, 12, 31)).id == new.id
    assert policy_in_force(date(2026, 1, 1)).id == later.id
    # the later version copied the 24 months of the version in force on its own date
    assert (later.rating_valid_months, later.max_term_months) == (24, 6)


def test_a_version_inserted_between_two_copies_the_one_in_force_on_its_date(app_ctx):
    create_policy_version({"credit_line_b": Decimal("4500000.00")}, date(2025, 9, 1), "admin1")
    between = create_policy_version({"credit_line_e": Decimal("900000.00")}, date(2025, 3, 1), "admin1")
    assert between.credit_line_b == Decimal("4000000.00")  # the default's, not the later version's
    assert between.credit_line_e == Decimal("900000.00")


def test_a_version_before_the_first_one_copies_the_programme_defaults(app_ctx):
    early = create_policy_version({"max_term_months": 9}, date(2020, 1, 1), "admin1")
    assert policy_numbers(early) == {**defaults(), "max_term_months": 9}


def test_versions_are_listed_newest_first(app_ctx):
    create_policy_version({}, date(2025, 7, 1), "admin1")
    items, total = list_policies()
    assert total == 2 and [p.effective_from for p in items] == [date(2025, 7, 1), FIRST_DAY]


def test_a_second_version_on_the_same_day_is_refused(app_ctx):
    create_policy_version({}, date(2025, 7, 1), "admin1")
    with pytest.raises(BusinessRuleError) as refused:
        create_policy_version({"credit_line_a": Decimal("7000000.00")}, date(2025, 7, 1), "admin1")
    assert "effective_from" in refused.value.errors
    with pytest.raises(BusinessRuleError):
        create_policy_version({}, FIRST_DAY, "admin1")


@pytest.mark.parametrize(
    "changes, fields",
    [
        ({"interest_rate": 3}, {"interest_rate"}),
        ({"credit_line_a": 5.5}, {"credit_line_a"}),  # float never becomes money
        ({"credit_line_a": Decimal("1.234")}, {"credit_line_a"}),
        ({"rating_valid_months": True}, {"rating_valid_months"}),
        ({"rating_valid_months": "12"}, {"rating_valid_months"}),
        ({"program_target_date": "2025-12-31"}, {"program_target_date"}),
        ({"count_opening_toward_target": 1}, {"count_opening_toward_target"}),
        ({"credit_line_b": Decimal("5000000.01")}, {"credit_line_b"}),
        ({"credit_line_e": Decimal("0")}, {"credit_line_e"}),
        ({"credit_line_c": Decimal("1000000.00")}, {"credit_line_d"}),  # now D (1.6M) > C
        ({"special_mention_from_dpd": 0}, {"special_mention_from_dpd"}),
        ({"substandard_from_dpd": 300}, {"doubtful_from_dpd"}),
        ({"loss_from_dpd": 271}, {"loss_from_dpd"}),
        ({"rating_valid_months": 0, "max_term_months": -1}, {"rating_valid_months", "max_term_months"}),
        ({"program_target": Decimal("0")}, {"program_target"}),
        ({"science_tech_target": -1}, {"science_tech_target"}),
        ({"high_tech_target": 10**12}, {"high_tech_target"}),
    ],
)
def test_invalid_numbers_are_refused_field_by_field_and_nothing_is_written(app_ctx, changes, fields):
    with pytest.raises(ValidationFailed) as refused:
        create_policy_version(changes, date(2025, 7, 1), "admin1")
    assert set(refused.value.errors) == fields
    assert all(message for messages in refused.value.errors.values() for message in messages)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Policy)) == 1


def test_messages_are_chinese(app_ctx):
    with pytest.raises(ValidationFailed) as refused:
        create_policy_version({"credit_line_b": Decimal("6000000.00")}, date(2025, 7, 1), "admin1")
    assert refused.value.errors["credit_line_b"] == ["B 级授信额度不能高于 A 级"]
    with pytest.raises(ValidationFailed) as refused:
        create_policy_version({"doubtful_from_dpd": 91}, date(2025, 7, 1), "admin1")
    assert refused.value.errors["doubtful_from_dpd"] == ["可疑类的起始逾期天数必须大于次级类（91 天）"]


# The Python rules and the CHECK constraints must agree: each case is refused by both or by neither.
MIRROR_CASES = [
    ({}, True),
    ({"credit_line_a": Decimal("4000000.00")}, True),  # equal lines are allowed
    ({"credit_line_b": Decimal("5000000.01")}, False),
    ({"credit_line_e": Decimal("0.00")}, False),
    ({"credit_line_d": Decimal("700000.00")}, False),
    ({"special_mention_from_dpd": 0}, False),
    ({"substandard_from_dpd": 1}, False),
    ({"doubtful_from_dpd": 400}, False),
    ({"loss_from_dpd": 271}, False),
    ({"rating_valid_months": 0}, False),
    ({"max_term_months": 0}, False),
    ({"special_mention_from_dpd": 5, "substandard_from_dpd": 60, "doubtful_from_dpd": 180, "loss_from_dpd": 365}, True),
]


@pytest.mark.parametrize("changes, valid", MIRROR_CASES)
def test_python_rules_mirror_the_check_constraints(app_ctx, changes, valid):
    numbers = {**defaults(), **changes}
    assert (policy_rule_errors(numbers) == {}) is valid
    nested = db.session.begin_nested()
    db.session.add(Policy(effective_from=date(2030, 1, 1), **numbers))
    if valid:
        db.session.flush()
    else:
        with pytest.raises(IntegrityError):
            db.session.flush()
    nested.rollback()


# ------------------------------------------------------------------------------------------------ API


@pytest.mark.parametrize("role", ROLES)
def test_everyone_reads_the_current_policy(client, api_as, role):
    _user, headers = api_as(role)
    response = client.get("/api/v1/policies/current", headers=headers)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert set(POLICY_NUMBERS) | {"id", "effective_from"} <= set(body)
    assert body["effective_from"] == "2021-01-01" and isinstance(body["id"], int)
    assert body["credit_line_a"] == "5000000.00" and body["credit_line_e"] == "800000.00"
    assert body["program_target"] == "300000000.00" and body["program_opening"] == "113558000.00"
    assert body["rating_valid_months"] == 12 and body["loss_from_dpd"] == 361
    assert body["program_target_date"] == "2025-12-31" and body["count_opening_toward_target"] is True
    assert body["credit_lines"] == {
        "A": "5000000.00", "B": "4000000.00", "C": "3000000.00", "D": "1600000.00", "E": "800000.00"
    }


def test_current_policy_on_a_given_day(client, api_as, app):
    _admin, headers = api_as("admin")
    created = client.post(
        "/api/v1/policies", json={"effective_from": "2025-07-01", "credit_line_a": "5500000.00"}, headers=headers
    )
    assert created.status_code == 201, created.get_json()
    today = client.get("/api/v1/policies/current", headers=headers).get_json()
    assert today["effective_from"] == "2021-01-01" and today["credit_line_a"] == "5000000.00"
    before = client.get("/api/v1/policies/current?on=2025-06-30", headers=headers).get_json()
    assert before["effective_from"] == "2021-01-01"
    after = client.get("/api/v1/policies/current?on=2025-07-01", headers=headers).get_json()
    assert after["id"] == created.get_json()["id"] and after["credit_line_a"] == "5500000.00"
    assert_error(client.get("/api/v1/policies/current?on=2020-12-31", headers=headers), 404)
    assert "on" in assert_error(client.get("/api/v1/policies/current?on=yesterday", headers=headers), 422)["errors"]


def test_admin_creates_a_version_that_copies_the_rest(client, api_as, app):
    _admin, headers = api_as("admin")
    response = client.post(
        "/api/v1/policies",
        json={"effective_from": "2025-07-01", "credit_line_b": "4200000.00", "max_term_months": 6, "note": "调整"},
        headers=headers,
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["effective_from"] == "2025-07-01"
    assert (body["credit_line_b"], body["max_term_months"], body["note"]) == ("4200000.00", 6, "调整")
    assert (body["credit_line_a"], body["rating_valid_months"], body["substandard_from_dpd"]) == ("5000000.00", 12, 91)
    assert body["created_by"] == _admin.username
    listed = client.get("/api/v1/policies", headers=headers).get_json()
    assert listed["total"] == 2 and [p["effective_from"] for p in listed["items"]] == ["2025-07-01", "2021-01-01"]
    assert client.get(f"/api/v1/policies/{body['id']}", headers=headers).get_json()["credit_line_b"] == "4200000.00"
    assert_error(client.get("/api/v1/policies/999999", headers=headers), 404)


@pytest.mark.parametrize("role", ["bank_liaison", "fund_officer", "fund_manager", "auditor"])
def test_only_the_admin_creates_versions(client, api_as, role, row_counts):
    _user, headers = api_as(role)
    before = row_counts()
    assert_error(client.post("/api/v1/policies", json={"effective_from": "2025-07-01"}, headers=headers), 403)
    assert row_counts() == before


@pytest.mark.parametrize(
    "payload, field, code",
    [
        ({"effective_from": "2025-07-01", "interest_rate": "0.03"}, "interest_rate", 422),
        ({"credit_line_a": "6000000.00"}, "effective_from", 422),
        ({"effective_from": "2025-13-01"}, "effective_from", 422),
        ({"effective_from": "2025-07-01", "credit_line_a": 6000000.5}, "credit_line_a", 422),
        ({"effective_from": "2025-07-01", "credit_line_a": "6,000,000.00"}, "credit_line_a", 422),
        ({"effective_from": "2025-07-01", "credit_line_b": "5000000.01"}, "credit_line_b", 422),
        ({"effective_from": "2025-07-01", "loss_from_dpd": 200}, "loss_from_dpd", 422),
        ({"effective_from": "2025-07-01", "rating_valid_months": 12.5}, "rating_valid_months", 422),
        ({"effective_from": "2025-07-01", "rating_valid_months": None}, "rating_valid_months", 422),
        ({"effective_from": "2021-01-01"}, "effective_from", 409),
    ],
)
def test_refused_versions_write_nothing(client, api_as, row_counts, payload, field, code):
    _admin, headers = api_as("admin")
    before = row_counts()
    body = assert_error(client.post("/api/v1/policies", json=payload, headers=headers), code)
    assert field in body["errors"]
    assert row_counts() == before


def test_policies_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "get" in paths["/api/v1/policies/current"]
    assert {"get", "post"} <= set(paths["/api/v1/policies"])


def test_anonymous_is_401(client):
    assert_error(client.get("/api/v1/policies/current"), 401)


# ---------------------------------------------------------------------------------------- web pages


@pytest.mark.parametrize("role", ROLES)
def test_policy_page_is_readable_by_everyone_in_chinese(client, login_as, role):
    login_as(role)
    response = client.get("/policies")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<html lang="zh-CN">' in html and "政策参数" in html and "当前生效版本" in html
    assert "A 级授信额度" in html and "¥5,000,000.00" in html and "2021-01-01" in html
    assert ("新增政策版本" in html) is (role == "admin")
    assert_csp_clean(html)


@pytest.mark.parametrize("role", ["bank_liaison", "fund_officer", "fund_manager", "auditor"])
def test_only_the_admin_opens_the_new_version_form(client, login_as, role):
    login_as(role)
    assert client.get("/policies/new").status_code == 403


def form_data(**changes) -> dict:
    """The new-version form as the admin submits it: every number, booleans as checkboxes."""
    data = {}
    for name, value in {**defaults(), **changes}.items():
        if isinstance(value, bool):
            if value:
                data[name] = "y"
        elif isinstance(value, date):
            data[name] = value.isoformat()
        else:
            data[name] = str(value)
    return data


def test_the_form_is_prefilled_with_the_numbers_in_force(client, login_as):
    login_as("admin")
    html = client.get("/policies/new").get_data(as_text=True)
    assert 'value="5000000.00"' in html and 'value="361"' in html
    assert 'name="effective_from"' in html and 'value="2025-07-01"' in html  # first day of next month
    assert "生效日期" in html
    assert_csp_clean(html)


def test_admin_creates_a_version_through_the_form(client, login_as, app):
    login_as("admin")
    data = form_data(effective_from="2025-08-01", credit_line_a="5,800,000.00", note="县政府文件")
    response = post_form(client, "/policies/new", data)
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.headers["Location"] == "/policies"
    assert "已新增政策版本，自 2025-08-01 起生效" in client.get("/policies").get_data(as_text=True)
    with app.app_context():
        policy = policy_in_force(date(2025, 8, 1))
        assert policy.credit_line_a == Decimal("5800000.00") and policy.note == "县政府文件"
        assert policy.count_opening_toward_target is True
        detail = client.get(f"/policies/{policy.id}").get_data(as_text=True)
    assert "¥5,800,000.00" in detail and "县政府文件" in detail


def test_form_refusals_are_chinese_and_write_nothing(client, login_as, app):
    login_as("admin")
    response = post_form(client, "/policies/new", form_data(effective_from="2025-08-01", credit_line_c="4500000"))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "C 级授信额度不能高于 B 级" in html and "提交未成功" in html
    response = post_form(client, "/policies/new", form_data(effective_from="2021-01-01"))
    assert response.status_code == 409 and "该日期已有政策版本" in response.get_data(as_text=True)
    response = post_form(client, "/policies/new", form_data(effective_from="2025-08-01", credit_line_a="五百万"))
    assert response.status_code == 422 and "无法识别的金额" in response.get_data(as_text=True)
    assert policy_count(app) == 1


def test_form_without_csrf_token_is_refused(client, login_as, app):
    login_as("admin")
    csrf_token_from(client, "/policies/new")
    response = client.post("/policies/new", data=form_data(effective_from="2025-08-01"))
    assert response.status_code == 400
    assert policy_count(app) == 1


def test_a_concurrent_version_for_the_same_day_is_409_not_500(client, api_as, row_counts, monkeypatch):
    """Another admin added a version for that day between our check and our insert."""
    from core.policy import services

    monkeypatch.setattr(services, "_version_exists", lambda day: False)
    _admin, headers = api_as("admin")
    before = row_counts()
    body = assert_error(client.post("/api/v1/policies", json={"effective_from": "2021-01-01"}, headers=headers), 409)
    assert "effective_from" in body["errors"]
    assert row_counts() == before
