"""Seed loans (domain.md §5): contract numbers, disbursement through the agent bank, schedules,
repayments to the earliest instalment, days past due and classification, the overdue list."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from core.db import db
from core.ledger.queries import entries_for_source
from funds import queries
from funds.models import SeedFundState
from tests.funds.conftest import CONTRACTED, DISBURSED, assert_error, eligible_enterprise

D = Decimal


@pytest.fixture
def funded(seed):
    seed.contribute("3000000.00")
    return seed


def loan(seed, loan_id: int, as_of: str | None = None) -> dict:
    return seed.get(f"/api/v1/seed/loans/{loan_id}" + (f"?as_of={as_of}" if as_of else ""))


def test_contract_numbers_are_unique_and_sequential(funded, app):
    numbers = [funded.contract(funded.approved_application(eligible_enterprise(app), amount="1000.00")).get_json()["contract_no"]
               for _ in range(3)]
    assert numbers == ["ZZJJ-2025-0001", "ZZJJ-2025-0002", "ZZJJ-2025-0003"]


def test_a_contract_needs_an_agent_bank(funded, enterprise_id, app, row_counts):
    app_id = funded.approved_application(enterprise_id)
    with app.app_context():
        db.session.get(SeedFundState, 1).agent_bank_id = None
        db.session.commit()
    before = row_counts()
    assert "代理银行" in assert_error(funded.contract(app_id, expect=None), 409)["message"]
    assert row_counts() == before
    named = funded.post(f"/api/v1/seed/applications/{app_id}/contract",
                        {"on": CONTRACTED.isoformat(), "agent_bank_id": funded.bank_id}, funded.officer, 201).get_json()
    assert named["agent_bank_id"] == funded.bank_id


def test_the_contract_is_dated_after_the_notice_and_not_in_the_future(funded, enterprise_id, row_counts):
    app_id = funded.approved_application(enterprise_id)
    before = row_counts()
    assert "on" in assert_error(funded.contract(app_id, on=date(2026, 1, 1), expect=None), 422)["errors"]
    assert row_counts() == before


def test_disbursement_turns_the_commitment_into_outstanding(funded, enterprise_id, app):
    loan_id = funded.contracted_loan(enterprise_id, amount="300000.00", term=3)
    assert loan(funded, loan_id)["status"] == "contracted"
    before = funded.fund()
    assert (before["committed"], before["available"], before["outstanding"]) == ("300000.00", "2700000.00", "0.00")
    disbursed = funded.disburse(loan_id, ref="FK-001").get_json()
    assert disbursed["lifecycle_status"] == "active" and disbursed["bank_ref"] == "FK-001" and disbursed["disbursed_on"] == "2025-06-24"
    after = funded.fund()
    assert (after["cash"], after["committed"], after["available"], after["outstanding"]) == (
        "2700000.00", "0.00", "2700000.00", "300000.00")
    with app.app_context():
        (entry,) = entries_for_source("seed_loan", loan_id)
        assert sorted((line.account.code, line.amount) for line in entry.lines) == [
            ("seed.cash", D("-300000.00")), ("seed.loans_receivable", D("300000.00"))]
        assert entry.entry_date == DISBURSED


def test_disbursement_replay_and_refusals(funded, enterprise_id, app, row_counts):
    loan_id = funded.contracted_loan(enterprise_id)
    url = f"/api/v1/seed/loans/{loan_id}/disbursement"
    before = row_counts()
    assert_error(funded.post(url, {"disbursed_on": "2025-06-22", "bank_ref": "FK-1"}, funded.officer), 409)  # before the contract
    assert "disbursed_on" in assert_error(funded.post(url, {"disbursed_on": "2026-01-01", "bank_ref": "FK-1"}, funded.officer), 422)["errors"]
    assert "bank_ref" in assert_error(funded.post(url, {"disbursed_on": "2025-06-24"}, funded.officer), 422)["errors"]
    assert_error(funded.post(url, {"disbursed_on": "2025-06-24", "bank_ref": "FK-1"}, funded.manager), 403)
    assert_error(funded.post("/api/v1/seed/loans/999999/disbursement", {"disbursed_on": "2025-06-24", "bank_ref": "X"}, funded.officer), 404)
    assert row_counts() == before

    first = funded.post(url, {"disbursed_on": "2025-06-24", "bank_ref": "FK-1"}, funded.officer, 201).get_json()
    after = row_counts()
    replay = funded.post(url, {"disbursed_on": "2025-06-24", "bank_ref": "FK-1"}, funded.officer, 200).get_json()
    assert replay["id"] == first["id"] and replay["schedule"] == first["schedule"]
    assert_error(funded.post(url, {"disbursed_on": "2025-06-25", "bank_ref": "FK-1"}, funded.officer), 409)  # other content
    assert "已于" in assert_error(funded.post(url, {"disbursed_on": "2025-06-25", "bank_ref": "FK-2"}, funded.officer), 409)["message"]
    assert row_counts() == after
    assert funded.fund()["outstanding"] == "300000.00"


def test_the_schedule_of_100000_over_3_months(funded, enterprise_id):
    loan_id = funded.disbursed_loan(enterprise_id, amount="100000.00", term=3)
    schedule = loan(funded, loan_id)["schedule"]
    assert [(s["seq"], s["due_on"], s["principal"]) for s in schedule] == [
        (1, "2025-07-24", "33333.33"), (2, "2025-08-24", "33333.33"), (3, "2025-09-24", "33333.34")]


def test_a_bullet_loan_is_due_at_maturity(funded, enterprise_id):
    loan_id = funded.disbursed_loan(enterprise_id, amount="120000.00", term=6, repayment="bullet")
    state = loan(funded, loan_id)
    assert [(s["due_on"], s["principal"]) for s in state["schedule"]] == [("2025-12-24", "120000.00")]
    assert (state["maturity_date"], state["days_past_due"], state["classification"]) == ("2025-12-24", 7, "special_mention")
    assert loan(funded, loan_id, "2025-12-24")["days_past_due"] == 0


def test_repayments_go_to_the_earliest_instalment(funded, enterprise_id, row_counts):
    loan_id = funded.disbursed_loan(enterprise_id, amount="300000.00", term=3)  # 100,000.00 due 07-24, 08-24, 09-24
    funded.repay(loan_id, "150000.00", date(2025, 7, 20), "HK-1")
    state = loan(funded, loan_id, "2025-08-25")
    assert [(s["paid"], s["unpaid"]) for s in state["schedule"]] == [
        ("100000.00", "0.00"), ("50000.00", "50000.00"), ("0.00", "100000.00")]
    assert (state["days_past_due"], state["overdue_principal"], state["classification"]) == (1, "50000.00", "special_mention")
    assert (state["outstanding"], state["status"]) == ("150000.00", "overdue")
    assert loan(funded, loan_id, "2025-08-24")["days_past_due"] == 0  # due today is not overdue yet
    # As of a day before the repayment, nothing was paid.
    assert loan(funded, loan_id, "2025-07-19")["repaid_principal"] == "0.00"

    before = row_counts()
    assert "超过借款余额" in assert_error(funded.repay(loan_id, "150000.01", date(2025, 8, 1), "HK-2", expect=None), 409)["message"]
    assert_error(funded.repay(loan_id, "1.00", date(2025, 6, 23), "HK-3", expect=None), 409)  # before the disbursement
    assert_error(funded.repay(loan_id, "1.00", date(2026, 1, 1), "HK-4", expect=None), 422)
    assert_error(funded.repay(loan_id, "0.00", date(2025, 8, 1), "HK-5", expect=None), 422)
    assert_error(funded.repay(loan_id, "1.00", date(2025, 8, 1), "HK-1", expect=None), 409)  # reference reused
    assert row_counts() == before
    replay = funded.repay(loan_id, "150000.00", date(2025, 7, 20), "HK-1", expect=200).get_json()
    assert replay["amount"] == "150000.00"
    assert row_counts() == before

    funded.repay(loan_id, "150000.00", date(2025, 9, 1), "HK-6")
    state = loan(funded, loan_id)
    assert (state["status"], state["lifecycle_status"], state["outstanding"]) == ("repaid", "repaid", "0.00")
    assert_error(funded.repay(loan_id, "1.00", date(2025, 9, 2), "HK-7", expect=None), 409)
    listing = funded.get(f"/api/v1/seed/loans/{loan_id}/repayments")
    assert [r["amount"] for r in listing["items"]] == ["150000.00", "150000.00"] and listing["total"] == 2


def test_a_repayment_before_disbursement_is_409(funded, enterprise_id, row_counts):
    loan_id = funded.contracted_loan(enterprise_id)
    before = row_counts()
    assert "尚未放款" in assert_error(funded.repay(loan_id, "1.00", date(2025, 6, 24), "HK", expect=None), 409)["message"]
    assert row_counts() == before


@pytest.mark.parametrize(
    ("as_of", "dpd", "classification"),
    [
        ("2025-07-24", 0, "normal"),
        ("2025-07-25", 1, "special_mention"),
        ("2025-10-22", 90, "special_mention"),
        ("2025-10-23", 91, "substandard"),
        ("2025-12-31", 160, "substandard"),
    ],
)
def test_days_past_due_and_classification_as_for_bank_loans(funded, enterprise_id, as_of, dpd, classification):
    loan_id = funded.disbursed_loan(enterprise_id, amount="300000.00", term=3)
    state = loan(funded, loan_id, as_of)
    assert (state["days_past_due"], state["classification"]) == (dpd, classification)


def test_the_overdue_list(funded, app):
    worst = funded.disbursed_loan(eligible_enterprise(app), amount="300000.00", term=3)  # first due 07-24
    later = funded.disbursed_loan(eligible_enterprise(app), amount="10000.00", term=6, repayment="bullet")  # 12-24
    repaid = funded.disbursed_loan(eligible_enterprise(app), amount="1000.00", term=1, repayment="bullet")
    funded.repay(repaid, "1000.00", date(2025, 7, 1), "R-1")
    not_yet = funded.contracted_loan(eligible_enterprise(app), amount="1000.00")
    overdue = funded.get("/api/v1/seed/loans/overdue", funded.officer)
    assert [item["id"] for item in overdue["items"]] == [worst, later] and overdue["total"] == 2
    assert [item["days_past_due"] for item in overdue["items"]] == [160, 7]
    assert funded.get("/api/v1/seed/loans/overdue?as_of=2025-08-01")["total"] == 1
    assert [i["id"] for i in funded.get("/api/v1/seed/loans?classification=substandard")["items"]] == [worst]
    assert {i["id"] for i in funded.get("/api/v1/seed/loans?status=repaid")["items"]} == {repaid}
    assert {i["id"] for i in funded.get("/api/v1/seed/loans?status=contracted")["items"]} == {not_yet}
    assert funded.get("/api/v1/seed/loans?overdue=false")["total"] == 2
    assert funded.get("/api/v1/seed/loans")["total"] == 4


def test_the_sql_filters_agree_with_the_python_state(funded, app):
    """Every day of the loans' lives: the SQL overdue/classification filters say what loan_state says."""
    ids = [
        funded.disbursed_loan(eligible_enterprise(app), amount="300000.00", term=3),
        funded.disbursed_loan(eligible_enterprise(app), amount="90000.00", term=2, repayment="bullet"),
        funded.disbursed_loan(eligible_enterprise(app), amount="1000.01", term=3),
    ]
    funded.repay(ids[0], "100000.01", date(2025, 8, 30), "A")
    funded.repay(ids[2], "1000.01", date(2025, 9, 30), "B")
    with app.app_context():
        day = DISBURSED
        while day <= date(2025, 12, 31):
            states = {loan_id: queries.loan_state(queries.get_loan(loan_id), day) for loan_id in ids}
            overdue = {loan.id for loan, _state in queries.loans(overdue=True, as_of=day, per_page=200)[0]}
            assert overdue == {i for i, s in states.items() if s.days_past_due > 0 and s.status == "overdue"}, day
            for name in ("normal", "special_mention", "substandard"):
                listed = {loan.id for loan, _s in queries.loans(classification=name, as_of=day, per_page=200)[0]}
                expected = {i for i, s in states.items() if s.status in ("active", "overdue") and s.classification == name}
                assert listed == expected, (day, name)
            day += timedelta(days=9)


def test_reads_for_everyone_and_404(funded, enterprise_id, api_as):
    loan_id = funded.contracted_loan(enterprise_id)
    _user, headers = api_as("bank_liaison")
    assert funded.client.get(f"/api/v1/seed/loans/{loan_id}", headers=headers).status_code == 200
    assert funded.get("/api/v1/seed/loans/999999", expect=404)
    with funded.app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SeedFundState)) == 1


def count_queries(app, call) -> int:
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN")):
            statements.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        call()
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    return len(statements)


def test_the_lists_cost_a_constant_number_of_queries(funded, app):
    def lists():
        assert funded.get("/api/v1/seed/loans?per_page=200")
        assert funded.get("/api/v1/seed/applications?per_page=200")

    funded.disbursed_loan(eligible_enterprise(app), amount="1000.00")
    few = count_queries(app, lists)
    for _ in range(4):
        funded.disbursed_loan(eligible_enterprise(app), amount="1000.00")
    assert count_queries(app, lists) == few


def test_the_openapi_document_describes_the_seed_fund(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in (
        "/api/v1/seed/contributions", "/api/v1/seed/fund", "/api/v1/seed/applications",
        "/api/v1/seed/applications/{application_id}/initial-review", "/api/v1/seed/applications/{application_id}/expert-reviews",
        "/api/v1/seed/applications/{application_id}/decision", "/api/v1/seed/applications/{application_id}/objections",
        "/api/v1/seed/applications/{application_id}/contract", "/api/v1/seed/loans/{loan_id}/disbursement",
        "/api/v1/seed/loans/{loan_id}/repayments", "/api/v1/seed/loans/{loan_id}", "/api/v1/seed/loans/{loan_id}/write-off",
        "/api/v1/holidays",
    ):
        assert path in paths, path
