"""The per-bank circuit breaker: the NPL ratio of covered loans as of any day, its transitions, every change
recorded, coverage of the bank's next loans, the manager's lift, the daily evaluation; then the stress API.

The bank below has two covered loans from 2025-03-01: A (920,000.00, matures 2026-02-28, healthy) and
B (80,000.00, matured 2025-08-31, unpaid). B becomes non-performing (DPD 91) on 2025-11-30: the ratio
is then 80,000 / 1,000,000 = 8%, exactly the suspension level.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from core.db import db
from loans import services as loan_services
from loans.models import Loan
from risk import services
from tests.risk.conftest import TODAY, contribute, coverage_of, fund_pool, make_loan

D = Decimal


@pytest.fixture
def troubled(risk, app):
    """The bank of ``risk.liaison`` with loans A and B (see the module docstring); returns B's id."""
    fund_pool(app)
    make_loan(app, risk.bank_id, "920000.00", maturity=date(2026, 2, 28))
    return make_loan(app, risk.bank_id, "80000.00")


def repay(app, loan_id: int, amount: str, on: date, ref: str) -> None:
    with app.app_context():
        loan = db.session.get(Loan, loan_id)
        loan_services.record_repayment(loan, principal=D(amount), interest=D("0.00"), paid_on=on, bank_ref=ref,
                                       created_by="arrange")
        db.session.commit()


def next_loan(app, bank_id: int, start: date) -> int:
    return make_loan(app, bank_id, "100000.00", start=start, maturity=date(2026, 5, 31), disbursed="0.00")


def test_suspension_leaves_the_next_loan_uncovered_and_the_ratio_below_warning_resumes(risk, app, troubled):
    bank = risk.bank_id
    assert (risk.breaker(bank, date(2025, 11, 29))["state"], risk.breaker(bank, date(2025, 11, 29))["npl_ratio"]) == (
        "normal", "0.000000",
    )
    on_the_day = risk.breaker(bank, date(2025, 11, 30))
    assert (on_the_day["npl_ratio"], on_the_day["state"]) == ("0.080000", "suspended")
    assert (on_the_day["non_performing"], on_the_day["covered_outstanding"]) == ("80000.00", "1000000.00")

    suspended_loan = next_loan(app, bank, date(2025, 12, 1))
    assert coverage_of(app, suspended_loan) == (False, "bank_suspended")
    assert risk.loan(suspended_loan)["coverage_reason"] == "bank_suspended"
    # Another bank is not affected; claims on loans covered earlier remain valid.
    assert coverage_of(app, next_loan(app, risk.liaison_b.bank_id, date(2025, 12, 1))) == (True, None)
    assert risk.claim(troubled, date(2025, 12, 1))["status"] == "submitted"

    repay(app, troubled, "20000.00", date(2025, 12, 5), "R1")  # 60,000 / 980,000 = 6.12%: warning
    with app.app_context():
        changes = services.evaluate_breakers(date(2025, 12, 5))  # the daily job
        assert [(c.bank_id, c.previous_state, c.state, c.npl_ratio) for c in changes] == [
            (bank, "suspended", "warning", D("0.061224")),
        ]
        assert services.evaluate_breakers(date(2025, 12, 5)) == []  # nothing changes twice
        db.session.commit()
    assert coverage_of(app, next_loan(app, bank, date(2025, 12, 6))) == (True, None)  # warning still covers

    repay(app, troubled, "20000.00", date(2025, 12, 10), "R2")  # 40,000 / 960,000 = 4.17%: normal
    assert coverage_of(app, next_loan(app, bank, date(2025, 12, 10))) == (True, None)
    now = risk.breaker(bank)
    assert (now["state"], now["recorded_state"], now["npl_ratio"]) == ("normal", "normal", "0.041667")
    assert [(e["on"], e["previous_state"], e["state"], e["automatic"]) for e in reversed(now["events"])] == [
        ("2025-12-01", "normal", "suspended", True),
        ("2025-12-05", "suspended", "warning", True),
        ("2025-12-10", "warning", "normal", True),
    ]
    # A past day reads what was recorded then.
    assert risk.breaker(bank, date(2025, 12, 3))["state"] == "suspended"
    assert risk.breaker(bank, date(2025, 12, 7))["state"] == "warning"


def test_a_manager_lifts_a_suspension_with_a_written_reason(risk, app, troubled, row_counts):
    bank = risk.bank_id
    assert coverage_of(app, next_loan(app, bank, date(2025, 12, 1))) == (False, "bank_suspended")
    before = row_counts()
    assert "reason" in risk.lift(bank, None, expect=422)["errors"]
    assert "reason" in risk.lift(bank, "  ", expect=422)["errors"]
    for who in (risk.liaison, risk.admin, risk.auditor, risk.officer):
        risk.lift(bank, who=who, expect=403)
    risk.lift(999999, expect=404)
    assert "on" in risk.lift(bank, on=date(2025, 11, 30), expect=409)["errors"]  # before the last evaluation
    assert row_counts() == before

    lifted = risk.lift(bank, "银行已制定不良清收方案，经研究同意恢复", on=date(2025, 12, 2))
    assert (lifted["state"], lifted["lifted"], lifted["npl_ratio"]) == ("warning", True, "0.080000")
    event = lifted["events"][0]
    assert (event["state"], event["automatic"], event["by"], event["reason"]) == (
        "warning", False, risk.manager.user.username, "银行已制定不良清收方案，经研究同意恢复",
    )
    assert coverage_of(app, next_loan(app, bank, date(2025, 12, 3))) == (True, None)  # covered again
    before = row_counts()
    assert "未处于熔断暂停" in risk.lift(bank, expect=409)["message"]
    assert row_counts() == before

    # The ratio falling below the warning level ends the lift; crossing 8% again would suspend again.
    repay(app, troubled, "80000.00", date(2025, 12, 15), "R-ALL")
    with app.app_context():
        (change,) = services.evaluate_breakers(date(2025, 12, 15))
        assert (change.state, change.npl_ratio) == ("normal", D("0.000000"))
        db.session.commit()
    assert risk.breaker(bank)["lifted"] is False


def test_liaisons_read_only_their_own_banks_breaker(risk, app, troubled, client):
    assert risk.breaker(risk.bank_id, who=risk.liaison)["bank_id"] == risk.bank_id
    risk.breaker(risk.liaison_b.bank_id, who=risk.liaison, expect=404)
    risk.breaker(999999, expect=404)
    everyone = client.get("/api/v1/risk/breakers", headers=risk.auditor.headers).get_json()
    assert {item["bank_id"] for item in everyone} >= {risk.bank_id, risk.liaison_b.bank_id}
    own = client.get("/api/v1/risk/breakers", headers=risk.liaison.headers).get_json()
    assert [item["bank_id"] for item in own] == [risk.bank_id] and own[0]["state"] == "suspended"


def test_a_bank_without_covered_loans_is_normal(risk, app):
    contribute(app, "1000000.00")
    body = risk.breaker(risk.bank_id)
    assert (body["state"], body["npl_ratio"], body["covered_outstanding"], body["events"]) == (
        "normal", "0.000000", "0.00", [],
    )
    assert (body["warning_level"], body["suspend_level"]) == ("0.050000", "0.080000")


# ------------------------------------------------------------------------------------------ stress


def stress(client, who, body, expect=200):
    response = client.post("/api/v1/risk/stress", json=body, headers=who.headers)
    assert response.status_code == expect, response.get_data(as_text=True)
    return response.get_json()


def test_the_stress_test_finds_the_month_the_pool_runs_out(risk, client, row_counts):
    before = row_counts()
    body = stress(client, risk.manager, {
        "annual_default_rate": "0.12", "recovery_rate": "0.25", "pool_share": "0.80", "months": 24,
        "cash": "1000000.00", "exposure": "10000000.00",
    })
    assert (body["runs_out_month"], body["runs_out_period"], body["monthly_claims"]) == (17, "2027-05", "80000.00")
    assert len(body["projection"]) == 24 and body["projection"][0]["period"] == "2026-01"
    assert [row["cash"] for row in body["projection"][15:17]] == ["40000.00", "-20000.00"]
    assert [row["short"] for row in body["projection"][15:17]] == [False, True]
    assert row_counts() == before  # a projection writes nothing


def test_the_stress_test_starts_from_the_pool_today(risk, app, client):
    fund_pool(app)
    make_loan(app, risk.bank_id, "1200000.00", maturity=date(2026, 2, 28))  # covered outstanding today
    body = stress(client, risk.manager, {"annual_default_rate": "0.10", "months": 3})
    assert (body["start_cash"], body["exposure"], body["pool_share"], body["recovery_rate"]) == (
        "1000000.00", "1200000.00", "0.80", "0.00",
    )
    assert [row["cash"] for row in body["projection"]] == ["992000.00", "984000.00", "976000.00"]
    assert body["runs_out_month"] is None and body["as_of"] == TODAY.isoformat()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"annual_default_rate": 0.1},  # a JSON number, not a string
        {"annual_default_rate": "1.5"},
        {"annual_default_rate": "0.1", "months": 0},
        {"annual_default_rate": "0.1", "months": 601},
        {"annual_default_rate": "0.1", "pool_share": "-0.1"},
        {"annual_default_rate": "0.1", "cash": "abc"},
    ],
)
def test_stress_refuses_bad_scenarios(risk, client, body):
    stress(client, risk.manager, body, expect=422)


def test_only_fund_managers_run_stress_tests(risk, client):
    for who in (risk.liaison, risk.admin, risk.auditor, risk.officer):
        stress(client, who, {"annual_default_rate": "0.1"}, expect=403)
