"""After sign-off the month is closed: every write path refuses a record dated in it (409), and
nothing is written - through the API, the web form and a batch file; the seed fund's and the pool's
steps with a back-dated ``on``; the ledger itself (its period guards); ratings, loan contracts and
the month's tapes. Months before it are closed with it; the open month still accepts everything."""
from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest

from config.reconciliation import run_reconciliation, sign_off
from core.db import db
from core.errors import BusinessRuleError
from core.ledger import services as ledger
from core.ledger.models import JournalEntry
from core.periods import ensure_open
from parties import services as party_services
from parties.models import Bank, Enterprise
from tests.reconciliation.conftest import JUNE, build_balanced_june, tape_csv
from tests.support import post_form

D = Decimal
ERROR_KEYS = {"code", "status", "message", "errors"}
CLOSED = "该月份已结账"


def assert_closed(response, code: int = 409) -> dict:
    assert response.status_code == code, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == ERROR_KEYS and body["code"] == code
    return body


def close_june(app, bank_id: int) -> dict:
    """A balanced June for ``bank_id``, reconciled and signed off (committed)."""
    with app.app_context():
        built = build_balanced_june(db.session.get(Bank, bank_id))
        db.session.commit()
        run_reconciliation(JUNE)
        db.session.commit()
        sign_off(JUNE, by="auditor", comment="六月账实相符")
        db.session.commit()
    return built


@pytest.fixture
def closed(app, api_as, today):
    liaison, headers = api_as("bank_liaison")
    built = close_june(app, liaison.bank_id)
    return {**built, "headers": headers}


def test_a_disbursement_dated_in_the_closed_month_is_refused_through_the_api(app, client, closed, row_counts):
    url = f"/api/v1/loans/{closed['loan_ids']['KV-1']}/disbursements"
    before = row_counts()
    for day in ("2025-06-20", "2025-05-31"):  # June, and May closed with it
        body = assert_closed(client.post(url, json={"amount": "1000.00", "disbursed_on": day, "bank_ref": f"X-{day}"},
                                         headers=closed["headers"]))
        assert body["message"].startswith(CLOSED) and CLOSED in body["errors"]["disbursed_on"][0]
    assert row_counts() == before
    july = client.post(url, json={"amount": "1000.00", "disbursed_on": "2025-07-01", "bank_ref": "X-JULY"},
                       headers=closed["headers"])
    assert july.status_code == 201, july.get_data(as_text=True)


def test_a_replay_of_a_june_tranche_is_refused_too(app, client, closed, row_counts):
    # The month is closed to every write path, replays included: the record itself is untouched.
    url = f"/api/v1/loans/{closed['loan_ids']['KV-1']}/disbursements"
    before = row_counts()
    assert_closed(client.post(url, json={"amount": "600000.00", "disbursed_on": "2025-03-05", "bank_ref": "KV-1-D0"},
                              headers=closed["headers"]))
    assert row_counts() == before


def test_repayments_and_new_contracts_dated_in_the_closed_month_are_refused(app, client, closed, row_counts):
    before = row_counts()
    repayment = client.post(f"/api/v1/loans/{closed['loan_ids']['KV-1']}/repayments",
                            json={"principal": "1000.00", "interest": "0.00", "paid_on": "2025-06-30",
                                  "bank_ref": "R-JUNE"}, headers=closed["headers"])
    assert assert_closed(repayment)["message"].startswith(CLOSED)
    contract = client.post("/api/v1/loans", json={
        "enterprise_id": closed["enterprise_id"], "contract_no": "KV-NEW", "principal": "100000.00",
        "annual_rate": "0.0345", "start_date": "2025-06-25", "maturity_date": "2026-06-24",
    }, headers=closed["headers"])
    assert assert_closed(contract)["message"].startswith(CLOSED)
    assert row_counts() == before


def test_the_web_form_refuses_a_disbursement_dated_in_the_closed_month(app, client, login_as, today, row_counts):
    liaison = login_as("bank_liaison")
    built = close_june(app, liaison.bank_id)
    url = f"/loans/{built['loan_ids']['KV-1']}/disbursements/new"
    before = row_counts()
    response = post_form(client, url, {"amount": "1000.00", "disbursed_on": "2025-06-20", "bank_ref": "WEB-JUNE"})
    assert response.status_code == 409
    assert CLOSED in response.get_data(as_text=True)
    assert row_counts() == before


def test_a_batch_file_with_a_row_in_the_closed_month_is_refused_whole(app, client, closed, row_counts):
    data = ("contract_no,amount,disbursed_on,bank_ref\n"
            "KV-1,1000.00,2025-07-02,B-JULY\n"
            "KV-1,1000.00,2025-06-20,B-JUNE\n").encode()
    before = row_counts()
    response = client.post("/api/v1/loans/batch", data={"file": (io.BytesIO(data), "batch.csv")},
                           headers=closed["headers"], content_type="multipart/form-data")
    body = assert_closed(response, 422)
    assert list(body["errors"]) == ["3"] and CLOSED in body["errors"]["3"][0]  # the June row, by its row number
    assert row_counts() == before


def test_a_tape_for_the_closed_month_is_refused(app, client, closed, row_counts):
    before = row_counts()
    response = client.post(
        f"/api/v1/banks/{closed['bank_id']}/tapes",
        data={"period": JUNE, "file": (io.BytesIO(tape_csv([])), "tape.csv")},
        headers=closed["headers"], content_type="multipart/form-data",
    )
    assert assert_closed(response)["message"].startswith(CLOSED)
    assert row_counts() == before


def test_seed_fund_and_pool_steps_dated_in_the_closed_month_are_refused(app, client, api_as, closed, row_counts):
    admin = api_as("admin")[1]
    before = row_counts()
    seed = client.post("/api/v1/seed/contributions", json={"amount": "1000.00", "received_on": "2025-06-15"},
                       headers=admin)
    assert assert_closed(seed)["message"].startswith(CLOSED)
    pool = client.post("/api/v1/risk/contributions",
                       json={"source": "county", "amount": "1000.00", "received_on": "2025-06-15"}, headers=admin)
    assert assert_closed(pool)["message"].startswith(CLOSED)
    assert row_counts() == before
    july = client.post("/api/v1/risk/contributions",
                       json={"source": "county", "amount": "1000.00", "received_on": "2025-07-01"}, headers=admin)
    assert july.status_code == 201, july.get_data(as_text=True)


def test_a_rating_dated_in_the_closed_month_is_refused(app, client, api_as, closed, row_counts):
    officer = api_as("fund_officer")[1]
    before = row_counts()
    response = client.post(f"/api/v1/enterprises/{closed['enterprise_id']}/ratings",
                           json={"grade": "A", "rated_on": "2025-06-30"}, headers=officer)
    assert assert_closed(response)["message"].startswith(CLOSED)
    assert row_counts() == before
    with app.app_context():
        enterprise = db.session.get(Enterprise, closed["enterprise_id"])
        assert party_services.rate_enterprise(enterprise, "A", date(2025, 7, 1), "officer").grade == "A"
        db.session.rollback()


def test_the_ledger_refuses_an_entry_dated_in_the_closed_month(app, closed):
    with app.app_context():
        assert ensure_open in ledger.period_guards  # registered when core.periods is imported
        lines = [("seed.cash", D("10.00")), ("seed.contributions", D("-10.00"))]
        with pytest.raises(BusinessRuleError, match=CLOSED):
            ledger.post_entry("seed", date(2025, 6, 30), "补记六月", lines)
        entry = db.session.query(JournalEntry).filter_by(fund="seed").first()
        with pytest.raises(BusinessRuleError, match=CLOSED):
            ledger.reverse_entry(entry.id, date(2025, 6, 30), "冲销")
        july = ledger.post_entry("seed", date(2025, 7, 1), "七月更正", lines)
        assert july.posted
        db.session.rollback()
