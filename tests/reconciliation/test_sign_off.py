"""Sign-off through the API (api.md): who may read and sign, the comment rule, the order of months,
and that a stale result (the month's data changed after the run) cannot be signed."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from config.reconciliation import run_reconciliation
from core.db import db
from core.errors import BusinessRuleError
from core.periods import ClosedPeriod, closed_through, is_closed
from core.reconciliation import get_result
from loans import services as loan_services
from loans.models import Loan
from tests.reconciliation.conftest import JUNE, run
from tests.reconciliation.test_run import tape_month  # noqa: F401 - fixture

D = Decimal
ERROR_KEYS = {"code", "status", "message", "errors"}
URL = f"/api/v1/reconciliations/{JUNE}"


def assert_error(response, code: int) -> dict:
    assert response.status_code == code, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == ERROR_KEYS and body["code"] == code and body["message"]
    return body


@pytest.fixture
def auditor(api_as, today):
    return api_as("auditor")[1]


def test_reading_a_result_and_its_roles(app, client, api_as, auditor, tape_month):  # noqa: F811
    assert_error(client.get(URL, headers=auditor), 404)  # never reconciled
    assert_error(client.get("/api/v1/reconciliations/2025-6", headers=auditor), 422)
    run(app)
    body = client.get(URL, headers=auditor).get_json()
    assert (body["period"], body["status"], body["difference_count"], body["closed"]) == (JUNE, "differences", 7, False)
    assert len(body["differences"]) == 7 and all(d["message"] for d in body["differences"])
    ghost = next(d for d in body["differences"] if d.get("contract_no") == "GHOST-1")
    assert "GHOST-1" in ghost["message"] and "不存在" in ghost["message"]
    for role, code in (("fund_manager", 200), ("admin", 200), ("bank_liaison", 403), ("fund_officer", 403)):
        assert client.get(URL, headers=api_as(role)[1]).status_code == code, role
    listing = client.get("/api/v1/reconciliations", headers=auditor).get_json()
    assert listing["total"] == 1 and listing["items"][0]["status"] == "differences"
    assert "/api/v1/reconciliations/{period}/sign-off" in client.get("/api/v1/openapi.json").get_json()["paths"]


def test_sign_off_needs_a_comment_when_there_are_differences(app, client, api_as, auditor, row_counts,  # noqa: F811
                                                             tape_month):
    assert_error(client.post(f"{URL}/sign-off", json={"comment": "无"}, headers=auditor), 409)  # not reconciled
    run(app)
    manager = api_as("fund_manager")[1]
    before = row_counts()
    for body in ({}, {"comment": None}, {"comment": "   "}):
        error = assert_error(client.post(f"{URL}/sign-off", json=body, headers=auditor), 422)
        assert "comment" in error["errors"]
    assert_error(client.post(f"{URL}/sign-off", json={"comment": "x" * 2001}, headers=auditor), 422)
    assert_error(client.post(f"{URL}/sign-off", json={"comment": "同意"}, headers=manager), 403)
    assert row_counts() == before

    signed = client.post(f"{URL}/sign-off", json={"comment": "差异已由银行书面说明，下月更正"}, headers=auditor)
    assert signed.status_code == 200, signed.get_data(as_text=True)
    body = signed.get_json()
    assert (body["status"], body["closed"], body["comment"]) == ("signed_off", True, "差异已由银行书面说明，下月更正")
    assert body["signed_off_by"] and body["signed_off_at"] and body["difference_count"] == 7
    with app.app_context():
        [closed] = db.session.scalars(sa.select(ClosedPeriod)).all()
        assert (closed.period, closed.comment) == (JUNE, "差异已由银行书面说明，下月更正")
        assert closed_through() == JUNE and is_closed(date(2025, 6, 1)) and is_closed(date(2025, 5, 31))
        assert not is_closed(date(2025, 7, 1))

    again = assert_error(client.post(f"{URL}/sign-off", json={"comment": "再签"}, headers=auditor), 409)
    assert "已签核" in again["message"]


def test_a_balanced_month_is_signed_off_without_a_comment(app, client, auditor, balanced_june):
    run(app)
    response = client.post(f"{URL}/sign-off", json={}, headers=auditor)
    assert response.status_code == 200 and response.get_json()["status"] == "signed_off"


def test_a_signed_off_month_cannot_be_reconciled_again(app, client, auditor, balanced_june):
    run(app)
    assert client.post(f"{URL}/sign-off", json={}, headers=auditor).status_code == 200
    with app.app_context():
        with pytest.raises(BusinessRuleError, match="已结账|已签核"):
            run_reconciliation(JUNE)
        with pytest.raises(BusinessRuleError, match="已结账"):
            run_reconciliation("2025-05")  # an earlier month is closed with it
        result = get_result(JUNE)
        assert (result.status, result.runs) == ("signed_off", 1)


def test_a_stale_result_is_refused_until_run_again(app, client, auditor, balanced_june):
    run(app)
    with app.app_context():  # paper arrives after the run: a June tranche
        loan = db.session.get(Loan, balanced_june["loan_ids"]["KV-1"])
        loan_services.record_disbursement(loan, amount=D("1000.00"), disbursed_on=date(2025, 6, 28),
                                          bank_ref="LATE-PAPER", created_by="t")
        db.session.commit()
    refused = assert_error(client.post(f"{URL}/sign-off", json={"comment": "同意"}, headers=auditor), 409)
    assert "重新对账" in refused["message"]
    with app.app_context():
        assert closed_through() is None
    assert run(app)["status"] == "differences"  # the tape now disagrees with the system
    assert client.post(f"{URL}/sign-off", json={"comment": "银行台账漏报一笔，已通知"}, headers=auditor).status_code == 200


def test_months_are_signed_off_in_order(app, client, auditor, balanced_june):
    run(app, "2025-05")
    run(app)
    refused = assert_error(client.post(f"{URL}/sign-off", json={"comment": "同意"}, headers=auditor), 409)
    assert "2025-05" in refused["message"]
    may = client.post("/api/v1/reconciliations/2025-05/sign-off", json={"comment": "五月无差异以外事项"}, headers=auditor)
    assert may.status_code == 200, may.get_data(as_text=True)
    assert client.post(f"{URL}/sign-off", json={"comment": "同意"}, headers=auditor).status_code == 200
