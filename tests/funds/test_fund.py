"""The fund's money (domain.md §5–6): contributions, figures from the ledger and the sub-ledger,
the trial balance of fund ``seed``, the agent bank, the policy's seed-fund numbers."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from core.ledger.queries import trial_balance
from funds import queries
from tests.funds.conftest import assert_error, eligible_enterprise

D = Decimal


def test_contributions_are_paid_in_capital(seed, app):
    created = seed.post("/api/v1/seed/contributions",
                        {"amount": "4000000.00", "received_on": "2025-03-01", "source": "县财政"}, seed.admin, 201).get_json()
    assert (created["amount"], created["received_on"], created["source"]) == ("4000000.00", "2025-03-01", "县财政")
    seed.contribute("1000000.50", on=date(2025, 4, 1))
    fund = seed.fund()
    assert (fund["paid_in"], fund["cash"], fund["available"]) == ("5000000.50", "5000000.50", "5000000.50")
    assert seed.get("/api/v1/seed/fund?as_of=2025-03-15")["paid_in"] == "4000000.00"
    listing = seed.get("/api/v1/seed/contributions")
    assert listing["total"] == 2 and listing["items"][0]["amount"] == "1000000.50"
    with app.app_context():
        balance = trial_balance("seed")
        assert balance.balanced and balance.total_debit == D("5000000.50")


def test_paid_in_never_exceeds_the_fund_size(seed, row_counts):
    seed.contribute("9000000.00")
    before = row_counts()
    body = assert_error(seed.post("/api/v1/seed/contributions", {"amount": "1000000.01", "received_on": "2025-05-02"}, seed.admin), 409)
    assert "¥1,000,000.00" in body["message"]
    assert row_counts() == before
    seed.contribute("1000000.00")
    assert seed.fund()["paid_in"] == seed.fund()["size"] == "10000000.00"


@pytest.mark.parametrize("role", ["fund_officer", "fund_manager", "auditor", "bank_liaison"])
def test_only_the_admin_pays_in(seed, api_as, row_counts, role):
    _user, headers = api_as(role)
    before = row_counts()
    assert_error(seed.client.post("/api/v1/seed/contributions", json={"amount": "1.00", "received_on": "2025-05-01"},
                                  headers=headers), 403)
    assert row_counts() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": "0.00", "received_on": "2025-05-01"}, "amount"),
        ({"amount": 100, "received_on": "2025-05-01"}, "amount"),
        ({"amount": "100.00", "received_on": "2026-01-01"}, "received_on"),
        ({"amount": "100.00", "received_on": "2025-05-01", "on": "2025-05-02"}, "on"),
        ({"received_on": "2025-05-01"}, "amount"),
    ],
)
def test_malformed_contributions_are_422(seed, row_counts, body, field):
    before = row_counts()
    assert field in assert_error(seed.post("/api/v1/seed/contributions", body, seed.admin), 422)["errors"]
    assert row_counts() == before


def test_the_figures_as_of_past_days_follow_the_steps_dates(seed, enterprise_id, app):
    seed.contribute("1000000.00", on=date(2025, 5, 1))
    loan_id = seed.disbursed_loan(enterprise_id, amount="300000.00", term=3)  # decided 06-13, disbursed 06-24
    seed.repay(loan_id, "100000.00", date(2025, 7, 24), "HK")
    expected = {
        "2025-06-12": ("1000000.00", "0.00", "0.00", "1000000.00"),
        "2025-06-13": ("1000000.00", "300000.00", "0.00", "700000.00"),
        "2025-06-24": ("700000.00", "0.00", "300000.00", "700000.00"),
        "2025-07-24": ("800000.00", "0.00", "200000.00", "800000.00"),
    }
    for day, figures in expected.items():
        fund = seed.get(f"/api/v1/seed/fund?as_of={day}")
        assert (fund["cash"], fund["committed"], fund["outstanding"], fund["available"]) == figures, day
    with app.app_context():
        series = queries.fund_series([date(2025, 6, 30), date(2025, 7, 31)])
        assert [f.outstanding for f in series] == [D("300000.00"), D("200000.00")]
        assert [f.repaid_total for f in series] == [D("0.00"), D("100000.00")]


def test_the_trial_balance_of_the_seed_fund_sums_to_zero_after_every_kind_of_entry(seed, app):
    seed.contribute("2000000.00")
    loans = [seed.disbursed_loan(eligible_enterprise(app), amount="300000.00", term=3) for _ in range(2)]
    seed.repay(loans[0], "300000.00", date(2025, 9, 24), "HK-A")
    url = f"/api/v1/seed/loans/{loans[1]}/write-off"
    seed.post(url, {"reason": "停业", "on": "2025-11-01"}, seed.officer, 201)
    seed.post(url, {"approve": True, "on": "2025-11-02"}, seed.manager2, 200)
    seed.post(f"/api/v1/seed/loans/{loans[1]}/recoveries", {"amount": "1000.00", "recovered_on": "2025-11-03", "bank_ref": "ZC"},
              seed.officer, 201)
    with app.app_context():
        balance = trial_balance("seed")
        assert balance.balanced
        assert sum((row.balance for row in balance.rows), D("0.00")) == D("0.00")
        rows = {row.code: row.balance for row in balance.rows}
        assert rows == {
            "seed.cash": D("1701000.00"),
            "seed.contributions": D("-2000000.00"),
            "seed.loans_receivable": D("0.00"),
            "seed.recoveries": D("-1000.00"),
            "seed.written_off": D("300000.00"),
        }
        # The control account equals its sub-ledger (domain.md §7).
        figures = queries.fund_figures()
        outstanding = sum((queries.loan_state(queries.get_loan(i)).outstanding for i in loans), D("0.00"))
        assert figures.outstanding == outstanding == D("0.00")
    fund = seed.fund()
    assert (fund["disbursed_cumulative"], fund["written_off_total"], fund["available"]) == (
        "6800000.00", "300000.00", "1701000.00")


def test_the_agent_bank(seed, app, row_counts, api_as):
    current = seed.get("/api/v1/seed/agent-bank", seed.officer)
    assert current["bank_id"] == seed.bank_id and current["bank_code"] == "AGENT"
    before = row_counts()
    assert_error(seed.put("/api/v1/seed/agent-bank", {"bank_id": seed.bank_id}, seed.manager), 403)
    assert "bank_id" in assert_error(seed.put("/api/v1/seed/agent-bank", {"bank_id": 999999}, seed.admin), 422)["errors"]
    assert row_counts() == before


def test_the_policy_carries_the_seed_fund_numbers(seed):
    policy = seed.get("/api/v1/policies/current")
    assert (policy["seed_fund_size"], policy["seed_opening_disbursed"], policy["seed_max_amount"]) == (
        "10000000.00", "6200000.00", "300000.00")
    assert (policy["seed_min_term_months"], policy["seed_max_term_months"], policy["seed_max_enterprise_age_years"],
            policy["seed_min_expert_reviews"], policy["seed_pass_mark"], policy["seed_notice_working_days"]) == (1, 24, 5, 3, 60, 5)
    created = seed.post("/api/v1/policies", {"effective_from": "2025-12-01", "seed_max_amount": "500000.00",
                                             "seed_pass_mark": 70}, seed.admin, 201).get_json()
    assert (created["seed_max_amount"], created["seed_pass_mark"], created["seed_fund_size"]) == ("500000.00", 70, "10000000.00")
    body = assert_error(seed.post("/api/v1/policies", {"effective_from": "2025-12-02", "seed_pass_mark": 101,
                                                       "seed_max_term_months": 0}, seed.admin), 422)
    assert {"seed_pass_mark", "seed_max_term_months"} <= set(body["errors"])
