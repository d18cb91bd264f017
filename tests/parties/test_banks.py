"""Partner banks: the services' rules, the API contract (api.md) and the admin pages."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from core.db import db
from core.errors import BusinessRuleError, ValidationFailed
from parties import queries, services
from parties.models import Bank
from tests.conftest import persist
from tests.factories import BankFactory, UserFactory

ERROR_KEYS = {"code", "status", "message", "errors"}


def bank_count(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Bank))


def assert_error(response, code: int) -> dict:
    assert response.status_code == code, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == ERROR_KEYS and body["code"] == code and body["message"]
    return body


def make_bank(app, **attrs) -> Bank:
    with app.app_context():
        return persist(BankFactory(**attrs))


# ------------------------------------------------------------------------------------------- services


def test_create_bank_normalises_the_code_and_trims_the_name(app_ctx):
    bank = services.create_bank("  县农村商业银行  ", " rcb01 ")
    assert (bank.name, bank.code, bank.is_active) == ("县农村商业银行", "RCB01", True)
    assert bank.id is not None


@pytest.mark.parametrize("code", ["A", "AB-1", "中国银行", "A" * 33, "", "   ", "AB 12"])
def test_create_bank_refuses_a_malformed_code(app_ctx, code):
    with pytest.raises(ValidationFailed) as refused:
        services.create_bank("某银行", code)
    assert "code" in refused.value.errors
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Bank)) == 0


def test_create_bank_reports_every_bad_field_at_once(app_ctx):
    with pytest.raises(ValidationFailed) as refused:
        services.create_bank("", "x")
    assert set(refused.value.errors) == {"name", "code"}


def test_create_bank_refuses_duplicates_whatever_the_case(app_ctx):
    services.create_bank("甲银行", "JIA")
    with pytest.raises(BusinessRuleError) as by_code:
        services.create_bank("乙银行", "jia")
    assert "code" in by_code.value.errors
    with pytest.raises(BusinessRuleError) as by_name:
        services.create_bank("甲银行", "YI")
    assert "name" in by_name.value.errors


def test_update_bank_renames_and_deactivates(app_ctx):
    bank = services.create_bank("甲银行", "JIA")
    services.create_bank("乙银行", "YI")
    services.update_bank(bank, name="甲银行县支行", is_active=False)
    assert (bank.name, bank.is_active, bank.code) == ("甲银行县支行", False, "JIA")
    services.update_bank(bank, name="甲银行县支行")  # same name: not a duplicate of itself
    with pytest.raises(BusinessRuleError):
        services.update_bank(bank, name="乙银行")
    with pytest.raises(ValidationFailed):
        services.update_bank(bank, name="  ")


def test_queries_count_active_users_per_bank(app_ctx):
    bank = BankFactory(code="AAA")
    BankFactory(code="BBB")
    UserFactory(role="bank_liaison", bank=bank)
    UserFactory(role="bank_liaison", bank=bank)
    UserFactory(role="bank_liaison", bank=bank, is_active=False)
    rows, total = queries.banks_with_user_counts()
    assert total == 2
    assert [(b.code, n) for b, n in rows] == [("AAA", 2), ("BBB", 0)]
    rows, total = queries.banks_with_user_counts(search="bb")
    assert total == 1 and rows[0][0].code == "BBB"
    assert queries.find_bank_by_code("aaa").id == bank.id


def test_search_treats_like_wildcards_literally(app_ctx):
    BankFactory(code="AAA", name="百分之百银行")
    rows, total = queries.banks_with_user_counts(search="%")
    assert total == 0


# ------------------------------------------------------------------------------------------------ API


def test_admin_creates_a_bank(client, api_as, app):
    _admin, headers = api_as("admin")
    response = client.post("/api/v1/banks", json={"name": "县农村商业银行", "code": "rcb"}, headers=headers)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert {"id", "name", "code", "is_active"} <= set(body)
    assert (body["name"], body["code"], body["is_active"]) == ("县农村商业银行", "RCB", True)
    assert isinstance(body["id"], int)
    assert bank_count(app) == 1


def test_duplicate_code_is_409_and_writes_nothing(client, api_as, app, row_counts):
    _admin, headers = api_as("admin")
    make_bank(app, code="ICBC", name="工商银行")
    before = row_counts()
    body = assert_error(client.post("/api/v1/banks", json={"name": "另一家", "code": "icbc"}, headers=headers), 409)
    assert "code" in body["errors"]
    assert_error(client.post("/api/v1/banks", json={"name": "工商银行", "code": "OTHER"}, headers=headers), 409)
    assert row_counts() == before


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"name": "某银行", "code": "A"}, "code"),
        ({"name": "某银行", "code": "AB-CD"}, "code"),
        ({"name": "某银行", "code": 12}, "code"),
        ({"name": "某银行"}, "code"),
        ({"code": "ABC"}, "name"),
        ({"name": "   ", "code": "ABC"}, "name"),
        ({"name": "某银行", "code": "ABC", "extra": 1}, "extra"),
    ],
)
def test_invalid_or_missing_field_is_422_and_writes_nothing(client, api_as, row_counts, payload, field):
    _admin, headers = api_as("admin")
    before = row_counts()
    body = assert_error(client.post("/api/v1/banks", json=payload, headers=headers), 422)
    assert field in body["errors"]
    assert row_counts() == before


@pytest.mark.parametrize("role", ["bank_liaison", "fund_officer", "fund_manager", "auditor"])
def test_only_the_admin_writes_banks(client, api_as, app, role, row_counts):
    _user, headers = api_as(role)
    bank = make_bank(app)
    before = row_counts()
    assert_error(client.post("/api/v1/banks", json={"name": "某银行", "code": "XYZ"}, headers=headers), 403)
    assert_error(client.patch(f"/api/v1/banks/{bank.id}", json={"is_active": False}, headers=headers), 403)
    assert row_counts() == before


def test_anonymous_is_401(client):
    assert_error(client.get("/api/v1/banks"), 401)


def test_everyone_reads_banks_but_a_liaison_only_its_own(client, api_as, app):
    liaison_user, liaison = api_as("bank_liaison")
    own = liaison_user.bank
    other = make_bank(app, code="ZOTHER", name="他行")
    _officer, officer = api_as("fund_officer")
    listed = client.get("/api/v1/banks", headers=officer).get_json()
    assert listed["total"] == 2 and [b["code"] for b in listed["items"]] == [own.code, "ZOTHER"]
    assert client.get(f"/api/v1/banks/{other.id}", headers=officer).status_code == 200

    listed = client.get("/api/v1/banks", headers=liaison).get_json()
    assert listed["total"] == 1 and [b["code"] for b in listed["items"]] == [own.code]
    assert client.get(f"/api/v1/banks/{own.id}", headers=liaison).get_json()["name"] == own.name
    assert_error(client.get(f"/api/v1/banks/{other.id}", headers=liaison), 404)
    assert_error(client.get("/api/v1/banks/999999", headers=liaison), 404)


def test_list_filters_and_paginates(client, api_as, app):
    for index in range(5):
        make_bank(app, code=f"P{index}", name=f"分页银行{index}", is_active=index != 4)
    _admin, headers = api_as("admin")
    page = client.get("/api/v1/banks?per_page=2&page=2", headers=headers).get_json()
    assert page["total"] == 5 and [b["code"] for b in page["items"]] == ["P2", "P3"]
    active = client.get("/api/v1/banks?is_active=false", headers=headers).get_json()
    assert [b["code"] for b in active["items"]] == ["P4"]
    assert client.get("/api/v1/banks?q=银行3", headers=headers).get_json()["total"] == 1
    assert_error(client.get("/api/v1/banks?per_page=201", headers=headers), 422)
    assert_error(client.get("/api/v1/banks?page=0", headers=headers), 422)


def test_admin_updates_a_bank(client, api_as, app, row_counts):
    bank = make_bank(app, code="UPD", name="旧名称")
    make_bank(app, code="TAKEN", name="已占用")
    _admin, headers = api_as("admin")
    response = client.patch(f"/api/v1/banks/{bank.id}", json={"name": "新名称", "is_active": False}, headers=headers)
    assert response.status_code == 200, response.get_json()
    assert response.get_json() | {"created_at": None} == {
        "id": bank.id, "name": "新名称", "code": "UPD", "is_active": False, "created_at": None
    }
    before = row_counts()
    assert_error(client.patch(f"/api/v1/banks/{bank.id}", json={"name": "已占用"}, headers=headers), 409)
    assert_error(client.patch(f"/api/v1/banks/{bank.id}", json={"is_active": "maybe"}, headers=headers), 422)
    assert_error(client.patch(f"/api/v1/banks/{bank.id}", json={"code": "NEW"}, headers=headers), 422)
    assert_error(client.patch("/api/v1/banks/999999", json={"name": "x"}, headers=headers), 404)
    assert row_counts() == before


def test_banks_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"post", "get"} <= set(paths["/api/v1/banks"])
    assert {"get", "patch"} <= set(paths["/api/v1/banks/{bank_id}"])


# ---------------------------------------------------------------------------------------- web pages


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, "no CSRF token in the form"
    return match.group(1)


def test_bank_list_shows_banks_and_user_counts(client, login_as, app):
    with app.app_context():
        bank = BankFactory(code="LIST", name="列表银行")
        UserFactory(role="bank_liaison", bank=bank)
        persist(bank)
    login_as("admin")
    response = client.get("/admin/banks")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "列表银行" in html and "LIST" in html
    assert re.search(r'<td class="num">1</td>', html)
    assert "登记合作银行" in html and f"/admin/banks/{bank.id}/edit" in html
    assert client.get("/admin/banks?q=nothing-matches").get_data(as_text=True).count("没有符合条件的合作银行") == 1


@pytest.mark.parametrize("role", ["bank_liaison", "fund_officer", "fund_manager", "auditor"])
def test_bank_pages_are_for_the_admin_only(client, login_as, role):
    login_as(role)
    assert client.get("/admin/banks").status_code == 403
    assert client.get("/admin/banks/new").status_code == 403


def test_admin_registers_a_bank_through_the_form(client, login_as, app):
    login_as("admin")
    token = csrf_token(client.get("/admin/banks/new").get_data(as_text=True))
    response = client.post("/admin/banks/new", data={"csrf_token": token, "name": "县建设银行", "code": "ccb01"})
    assert response.status_code == 302 and response.headers["Location"] == "/admin/banks"
    html = client.get("/admin/banks").get_data(as_text=True)
    assert "已登记合作银行：县建设银行（CCB01）" in html
    with app.app_context():
        assert queries.find_bank_by_code("CCB01").name == "县建设银行"


def test_form_errors_are_shown_in_chinese_and_nothing_is_written(client, login_as, app):
    login_as("admin")
    token = csrf_token(client.get("/admin/banks/new").get_data(as_text=True))
    response = client.post("/admin/banks/new", data={"csrf_token": token, "name": "", "code": "x-1"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "请填写银行名称" in html and "银行代码须为 2–32 位英文字母或数字" in html
    assert "is-invalid" in html and "提交未成功" in html
    assert bank_count(app) == 0


def test_form_shows_a_duplicate_code_refusal(client, login_as, app):
    make_bank(app, code="DUP", name="原有银行")
    login_as("admin")
    token = csrf_token(client.get("/admin/banks/new").get_data(as_text=True))
    response = client.post("/admin/banks/new", data={"csrf_token": token, "name": "新银行", "code": "dup"})
    assert response.status_code == 409
    assert "银行代码 DUP 已被使用" in response.get_data(as_text=True)
    assert bank_count(app) == 1


def test_form_without_csrf_token_is_refused(client, login_as, app):
    login_as("admin")
    response = client.post("/admin/banks/new", data={"name": "县建设银行", "code": "CCB"})
    assert response.status_code == 400
    assert bank_count(app) == 0


def test_admin_edits_a_bank(client, login_as, app):
    bank = make_bank(app, code="EDIT", name="待编辑银行")
    login_as("admin")
    page = client.get(f"/admin/banks/{bank.id}/edit").get_data(as_text=True)
    assert "待编辑银行" in page and "EDIT" in page
    # is_active left unchecked: the bank is deactivated
    response = client.post(f"/admin/banks/{bank.id}/edit", data={"csrf_token": csrf_token(page), "name": "已编辑银行"})
    assert response.status_code == 302
    with app.app_context():
        saved = db.session.get(Bank, bank.id)
        assert (saved.name, saved.is_active, saved.code) == ("已编辑银行", False, "EDIT")
    assert client.get("/admin/banks/999999/edit").status_code == 404
