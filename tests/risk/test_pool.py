"""Contributions, the pool's figures, the ledger of fund ``risk`` and each loan's coverage.

Coverage is decided when a loan is recorded (the hook in ``loans.services.create_loan``), as of its
contract date, by the policy in force then: a later policy change affects only later loans.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from core.db import db
from core.ledger.queries import balances, trial_balance
from core.policy.services import create_policy_version
from loans.models import Loan
from risk.models import RiskContribution, RiskPoolState
from tests.risk.conftest import (
    FUNDED,
    START,
    TODAY,
    assert_error,
    contribute,
    coverage_of,
    fund_pool,
    make_loan,
)

D = Decimal


# --------------------------------------------------------------------------------- contributions


def test_admin_records_contributions_by_source_on_the_ledger(risk, app):
    city = risk.contribute("400000.00", "city", on=FUNDED)
    assert city["source"] == "city" and city["amount"] == "400000.00" and city["received_on"] == FUNDED.isoformat()
    assert city["paid_claim_ids"] == [] and city["created_by"] == risk.admin.user.username
    risk.contribute("600000.00", "county", on=FUNDED)
    with app.app_context():
        assert balances("risk") == {
            "risk.cash": D("1000000.00"),
            "risk.compensation.city": D("0.00"),
            "risk.compensation.county": D("0.00"),
            "risk.contributions.city": D("-400000.00"),
            "risk.contributions.county": D("-600000.00"),
            "risk.recoveries.city": D("0.00"),
            "risk.recoveries.county": D("0.00"),
        }
        assert trial_balance("risk").balanced
    pool = risk.pool()
    assert (pool["committed"], pool["paid_in"], pool["paid_in_city"], pool["paid_in_county"], pool["cash"]) == (
        "10000000.00", "1000000.00", "400000.00", "600000.00", "1000000.00",
    )
    assert (pool["paid_out_total"], pool["recovered_total"], pool["covered_outstanding"]) == ("0.00", "0.00", "0.00")
    assert (pool["leverage"], pool["leverage_cap"], pool["min_paid_in"], pool["covering"]) == (
        "0.00", "10000000.00", "1000000.00", True,
    )
    assert pool["months_of_cover"] is None  # no claims yet: no rate to divide by
    listed = risk.client.get("/api/v1/risk/contributions", headers=risk.auditor.headers).get_json()
    assert listed["total"] == 2 and {item["source"] for item in listed["items"]} == {"city", "county"}


def test_the_pool_as_of_an_earlier_day(risk):
    risk.contribute("400000.00", "city", on=date(2025, 1, 15))
    risk.contribute("600000.00", "county", on=date(2025, 2, 15))
    before = risk.pool(as_of=date(2025, 2, 1))
    assert (before["paid_in"], before["cash"], before["covering"]) == ("400000.00", "400000.00", False)


def test_contribution_refusals_write_nothing(risk, row_counts):
    risk.contribute("9000000.00", "county")
    before = row_counts()
    body = risk.contribute("1000000.01", "city", expect=409)  # over the 10,000,000.00 commitment
    assert "amount" in body["errors"] and "¥1,000,000.00" in body["errors"]["amount"][0]
    assert "source" in risk.contribute("1.00", "province", expect=422)["errors"]
    assert "amount" in risk.contribute("0.00", "city", expect=422)["errors"]
    assert "amount" in risk.contribute("1.005", "city", expect=422)["errors"]
    assert "received_on" in risk.contribute("1.00", "city", on=date(2026, 1, 1), expect=422)["errors"]
    for who in (risk.manager, risk.liaison, risk.auditor, risk.officer):
        risk.contribute("1.00", "city", who=who, expect=403)
    assert row_counts() == before


def test_everyone_reads_the_pool(risk, client):
    for who in (risk.admin, risk.manager, risk.auditor, risk.officer, risk.liaison):
        assert client.get("/api/v1/risk/pool", headers=who.headers).status_code == 200
    assert_error(client.get("/api/v1/risk/pool"), 401)


# -------------------------------------------------------------------------------------- coverage


def test_a_loan_is_not_covered_before_ten_percent_is_paid_in(risk, app):
    contribute(app, "999999.99", on=FUNDED)  # one fen short of 10% of 10,000,000.00
    loan_id = make_loan(app, risk.bank_id, "100000.00")
    assert coverage_of(app, loan_id) == (False, "pool_underfunded")
    body = risk.loan(loan_id)
    assert body["covered"] is False and body["coverage_reason"] == "pool_underfunded"

    contribute(app, "0.01", on=FUNDED)
    covered_id = make_loan(app, risk.bank_id, "100000.00")
    assert coverage_of(app, covered_id) == (True, None)
    body = risk.loan(covered_id)
    assert body["covered"] is True and body["coverage_reason"] is None


def test_coverage_is_judged_by_the_money_paid_in_by_the_contract_date(risk, app):
    contribute(app, "1000000.00", on=date(2025, 6, 1))  # arrives after the 2025-03-01 contract
    loan_id = make_loan(app, risk.bank_id, "100000.00")
    assert coverage_of(app, loan_id) == (False, "pool_underfunded")
    later_id = make_loan(app, risk.bank_id, "100000.00", start=date(2025, 6, 1), maturity=date(2025, 12, 1))
    assert coverage_of(app, later_id) == (True, None)


def test_a_later_policy_change_affects_only_later_loans(risk, app):
    fund_pool(app, "1000000.00")
    with app.app_context():
        # From 2025-06-01 the pool must be half paid in before it covers anything.
        create_policy_version({"risk_min_paid_in_ratio": D("0.5")}, date(2025, 6, 1), "admin")
        db.session.commit()
    # Recorded after the change, contracted before it: the rules of its contract date stay with it.
    early = make_loan(app, risk.bank_id, "100000.00", start=date(2025, 5, 31), maturity=date(2025, 11, 30))
    late = make_loan(app, risk.bank_id, "100000.00", start=date(2025, 6, 1), maturity=date(2025, 12, 1))
    assert coverage_of(app, early) == (True, None)
    assert coverage_of(app, late) == (False, "pool_underfunded")
    with app.app_context():
        policies = dict(db.session.execute(sa.select(Loan.id, Loan.policy_id).where(Loan.id.in_([early, late]))).all())
        assert policies[early] != policies[late]


def test_the_leverage_cap_leaves_the_loan_that_would_exceed_it_uncovered(risk, app):
    fund_pool(app, "1000000.00")  # cap: 10 x 1,000,000.00 = 10,000,000.00 of covered exposure
    first = make_loan(app, risk.bank_id, "4000000.00", disbursed="0.00")  # contracted, not drawn: counts in full
    second = make_loan(app, risk.bank_id, "4000000.00", line="5000000.00")
    over = make_loan(app, risk.bank_id, "2000000.01")
    exactly = make_loan(app, risk.bank_id, "2000000.00")
    assert [coverage_of(app, loan) for loan in (first, second, over, exactly)] == [
        (True, None), (True, None), (False, "leverage_cap"), (True, None),
    ]
    after = make_loan(app, risk.bank_id, "0.01")
    assert coverage_of(app, after) == (False, "leverage_cap")
    pool = risk.pool(as_of=START)
    assert (pool["covered_exposure"], pool["covered_outstanding"], pool["leverage_cap"]) == (
        "10000000.00", "0.00", "10000000.00",  # nothing drawn yet on 2025-03-01 (tranches on 03-02)
    )
    pool = risk.pool()
    # Today the loans have matured unpaid: outstanding is what was drawn, nothing is left to draw.
    assert (pool["covered_outstanding"], pool["covered_exposure"], pool["leverage"]) == (
        "6000000.00", "6000000.00", "6.00",
    )


def test_the_liaisons_loan_api_shows_the_decision(risk, app, client):
    fund_pool(app)
    with app.app_context():
        from tests.loans.test_loans import rated_enterprise

        enterprise = rated_enterprise()
        db.session.commit()
        enterprise_id = enterprise.id
    response = client.post(
        "/api/v1/loans",
        json={
            "enterprise_id": enterprise_id, "contract_no": "HT-COVER-1", "principal": "500000.00",
            "annual_rate": "0.0345", "start_date": "2025-12-01", "maturity_date": "2026-06-01",
        },
        headers=risk.liaison.headers,
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["covered"] is True and response.get_json()["coverage_reason"] is None


def test_the_pool_lock_row_is_created_once(risk, app):
    fund_pool(app)
    make_loan(app, risk.bank_id, "1000.00")
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(RiskPoolState)) == 1
        assert db.session.scalar(sa.select(sa.func.count()).select_from(RiskContribution)) == 2


def test_today_is_the_default_date(risk):
    body = risk.contribute("1000.00", "city")
    assert body["received_on"] == TODAY.isoformat()


def test_coverage_is_decided_once_and_the_hook_is_registered_once(risk, app):
    from config import register_domain_hooks
    from loans.services import loan_created_hooks
    from risk.services import decide_coverage

    register_domain_hooks(app)
    register_domain_hooks(app)
    assert loan_created_hooks.count(decide_coverage) == 1
    loan_id = make_loan(app, risk.bank_id, "100000.00")
    assert coverage_of(app, loan_id) == (False, "pool_underfunded")
    fund_pool(app)
    with app.app_context():
        loan = db.session.get(Loan, loan_id)
        decide_coverage(loan)  # already decided: the money arriving later changes nothing
        assert (loan.covered, loan.coverage_reason) == (False, "pool_underfunded")
