"""Loan pages: lists scoped to the liaison's bank, the loan page with its state as of a day, and the
forms (CSRF, Chinese messages, refusals that write nothing)."""
from __future__ import annotations

import re
from datetime import date

import pytest

from core.db import db
from tests.factories import BankFactory
from tests.loans.test_loans import freeze_on, rated_enterprise, today  # noqa: F401 - fixture
from tests.loans.test_loans_api import arrange_loan
from tests.support import csrf_token_from, post_form
from tests.test_interface import assert_csp_clean


@pytest.fixture
def liaison(login_as, today):  # noqa: F811
    return login_as("bank_liaison")


@pytest.fixture
def enterprise(app, today):  # noqa: F811
    with app.app_context():
        enterprise = rated_enterprise(name="星火软件有限公司")
        db.session.commit()
        return {"id": enterprise.id, "credit_code": enterprise.credit_code}


def other_bank_id(app) -> int:
    with app.app_context():
        bank = BankFactory(name="邻县银行")
        db.session.commit()
        return bank.id


def html_of(response) -> str:
    return response.get_data(as_text=True)


# ------------------------------------------------------------------------------------------------ lists


def test_liaison_sees_only_its_own_banks_loans(client, liaison, enterprise, app):
    mine = arrange_loan(app, liaison.bank_id, enterprise["id"], contract_no="MINE-1", principal="100000.00",
                        tranches=[("100000.00", date(2025, 3, 1))])
    neighbour = other_bank_id(app)
    theirs = arrange_loan(app, neighbour, enterprise["id"], contract_no="THEIRS-1", principal="100000.00")
    response = client.get("/loans")
    html = html_of(response)
    assert response.status_code == 200
    assert "MINE-1" in html and "THEIRS-1" not in html and "邻县银行" not in html
    assert '<td class="money">¥100,000.00</td>' in html  # money right-aligned through the macro
    assert "登记贷款合同" in html
    assert_csp_clean(html)
    assert client.get(f"/loans/{theirs}").status_code == 404
    assert client.get(f"/loans/{theirs}/disbursements/new").status_code == 404
    assert client.get(f"/loans/{mine}").status_code == 200
    assert "THEIRS-1" not in html_of(client.get(f"/loans?bank_id={neighbour}"))  # ignored for a liaison
    assert "THEIRS-1" not in html_of(client.get("/loans?q=THEIRS"))


def test_programme_staff_see_every_bank_and_filter(client, login_as, enterprise, app, today):  # noqa: F811
    login_as("fund_manager")
    bank_a = other_bank_id(app)
    with app.app_context():
        bank_b = BankFactory(name="乙银行")
        db.session.commit()
        bank_b_id = bank_b.id
    arrange_loan(app, bank_a, enterprise["id"], contract_no="A-1", principal="100000.00",
                 tranches=[("100000.00", date(2025, 3, 1))], maturity_date=date(2025, 6, 1))
    arrange_loan(app, bank_b_id, enterprise["id"], contract_no="B-1", principal="100000.00")
    html = html_of(client.get("/loans"))
    assert "A-1" in html and "B-1" in html and "邻县银行" in html and "乙银行" in html
    assert "登记贷款合同" not in html
    filtered = html_of(client.get(f"/loans?bank_id={bank_b_id}"))
    assert "B-1" in filtered and "A-1" not in filtered
    overdue = html_of(client.get("/loans?status=overdue"))
    assert "A-1" in overdue and "B-1" not in overdue
    special = html_of(client.get("/loans?classification=special_mention&as_of=2025-06-30"))
    assert "A-1" in special and "关注" in special and "B-1" not in special
    assert "A-1" not in html_of(client.get("/loans?classification=special_mention&as_of=2025-06-01"))
    assert client.get("/loans/new").status_code == 403


def test_loan_page_shows_state_as_of_a_day(client, liaison, app):
    freeze_on(date(2026, 12, 1))
    with app.app_context():
        enterprise = rated_enterprise(bad_credit=True)
        db.session.commit()
        enterprise_id = enterprise.id
    loan_id = arrange_loan(app, liaison.bank_id, enterprise_id, tranches=[("1000000.00", date(2025, 3, 1))],
                           repayments=[("400000.00", date(2025, 12, 1))])
    html = html_of(client.get(f"/loans/{loan_id}?as_of=2026-06-01"))
    assert "¥600,000.00" in html and "93" in html and "次级" in html and "逾期" in html
    assert "有不良信用记录" in html
    assert "3.45%" in html and "人民币壹佰万元整" in html
    assert "登记放款" in html and "登记还款" in html
    assert_csp_clean(html)
    assert_csp_clean(html_of(client.get("/loans/new")))
    assert_csp_clean(html_of(client.get(f"/loans/{loan_id}/repayments/new")))
    assert re.search(r'<td class="money">¥1,000,000.00</td>', html)
    assert "逾期天数与五级分类（按月末）" in html and "2026-05-31" in html and "2025-03-31" in html
    early = html_of(client.get(f"/loans/{loan_id}?as_of=2026-02-28"))
    assert "正常" in early and "存续中" in early


# ------------------------------------------------------------------------------------------------ forms


def test_create_a_loan_through_the_form(client, liaison, enterprise, app, row_counts):
    data = {
        "contract_no": "WEB-1",
        "credit_code": enterprise["credit_code"].lower(),
        "principal": "1,000,000.00",
        "annual_rate": "3.45",
        "start_date": "2025-03-01",
        "maturity_date": "2026-02-28",
        "purpose": "研发",
    }
    response = post_form(client, "/loans/new", data)
    assert response.status_code == 302, html_of(response)
    page = html_of(client.get(response.headers["Location"]))
    assert "已登记贷款合同 WEB-1" in page and "¥1,000,000.00" in page
    # the same contract again: refused with the reason, nothing written
    before = row_counts()
    refused = post_form(client, "/loans/new", data)
    assert refused.status_code == 409
    assert "本行已登记合同编号为 WEB-1 的贷款" in html_of(refused)
    assert row_counts() == before


@pytest.mark.parametrize(
    ("changes", "status", "message"),
    [
        ({"principal": "abc"}, 422, "无法识别的金额"),
        ({"annual_rate": "3.456789"}, 422, "最多保留 4 位小数"),
        ({"annual_rate": "100"}, 422, "小于 100%"),
        ({"credit_code": "91350100M000100Y43"}, 422, "平台尚未登记"),
        ({"maturity_date": "2026-03-02"}, 409, "贷款期限超过 12 个月"),
        ({"principal": "4,000,000.01"}, 409, "超出授信额度"),
        ({"maturity_date": ""}, 422, "请填写日期"),
    ],
)
def test_loan_form_refusals_are_in_chinese_and_write_nothing(client, liaison, enterprise, row_counts, changes, status, message):
    data = {
        "contract_no": "WEB-2",
        "credit_code": enterprise["credit_code"],
        "principal": "100000.00",
        "annual_rate": "3.45",
        "start_date": "2025-03-01",
        "maturity_date": "2026-02-28",
        **changes,
    }
    token = csrf_token_from(client, "/loans/new")
    before = row_counts()
    response = client.post("/loans/new", data={**data, "csrf_token": token})
    assert response.status_code == status
    assert message in html_of(response)
    assert row_counts() == before


def test_form_without_csrf_is_refused(client, liaison, enterprise, row_counts):
    before = row_counts()
    response = client.post("/loans/new", data={"contract_no": "X"})
    assert response.status_code == 400
    assert row_counts() == before


def test_tranche_and_repayment_forms(client, liaison, enterprise, app, row_counts):
    loan_id = arrange_loan(app, liaison.bank_id, enterprise["id"], principal="500000.00")
    url = f"/loans/{loan_id}/disbursements/new"
    first = post_form(client, url, {"amount": "300,000.00", "disbursed_on": "2025-03-01", "bank_ref": "WD1"})
    assert first.status_code == 302
    assert "已登记放款：流水号 WD1" in html_of(client.get(first.headers["Location"]))
    before = row_counts()
    replay = post_form(client, url, {"amount": "300000.00", "disbursed_on": "2025-03-01", "bank_ref": "WD1"})
    assert replay.status_code == 302
    assert "未重复入账" in html_of(client.get(replay.headers["Location"]))
    beyond = post_form(client, url, {"amount": "200000.01", "disbursed_on": "2025-03-02", "bank_ref": "WD2"})
    assert beyond.status_code == 409 and "超出合同本金" in html_of(beyond)
    assert row_counts() == before

    repay_url = f"/loans/{loan_id}/repayments/new"
    paid = post_form(client, repay_url, {"principal": "300000.00", "interest": "", "paid_on": "2025-04-01", "bank_ref": "WR1"})
    assert paid.status_code == 302
    page = html_of(client.get(paid.headers["Location"]))
    assert "已登记还款：流水号 WR1" in page and "WR1" in page
    before = row_counts()
    too_much = post_form(client, repay_url, {"principal": "0.01", "interest": "0", "paid_on": "2025-04-02", "bank_ref": "WR2"})
    assert too_much.status_code == 409 and "超出" in html_of(too_much)
    assert row_counts() == before


@pytest.mark.parametrize("role", ["admin", "fund_officer", "fund_manager", "auditor"])
def test_only_liaisons_open_the_forms(client, login_as, enterprise, app, role, today):  # noqa: F811
    loan_id = arrange_loan(app, other_bank_id(app), enterprise["id"])
    login_as(role)
    assert client.get(f"/loans/{loan_id}").status_code == 200
    for url in ("/loans/new", f"/loans/{loan_id}/disbursements/new", f"/loans/{loan_id}/repayments/new"):
        assert client.get(url).status_code == 403


def test_nav_shows_the_loans_to_every_role(client, login_as):
    login_as("auditor")
    assert 'href="/loans"' in html_of(client.get("/"))


def test_pages_render_in_english(client, liaison, enterprise, app):
    loan_id = arrange_loan(app, liaison.bank_id, enterprise["id"], tranches=[("1000.00", date(2025, 3, 1))])
    client.get("/lang/en?next=/")
    for url in ("/loans", f"/loans/{loan_id}", "/loans/new", f"/loans/{loan_id}/disbursements/new"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert '<html lang="en">' in html_of(response)
    assert "Knowledge-value credit loans" in html_of(client.get("/loans"))
