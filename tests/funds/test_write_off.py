"""Write-off and recovery (domain.md §5): officer proposes, another person (a manager) approves;
the loss and the recoveries on the ledger; the fund's figures; the books balance."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from core.ledger.queries import balances, trial_balance
from tests.funds.conftest import assert_error

D = Decimal


@pytest.fixture
def overdue_loan(seed, enterprise_id) -> int:
    """300,000.00 over 3 months disbursed 2025-06-24, 100,000.00 repaid on 2025-07-24; overdue since 08-25."""
    seed.contribute("1000000.00")
    loan_id = seed.disbursed_loan(enterprise_id, amount="300000.00", term=3)
    seed.repay(loan_id, "100000.00", date(2025, 7, 24), "HK-1")
    return loan_id


def write_off_url(loan_id: int) -> str:
    return f"/api/v1/seed/loans/{loan_id}/write-off"


def test_propose_approve_recover(seed, overdue_loan, app):
    url = write_off_url(overdue_loan)
    proposal = seed.post(url, {"reason": "企业停业，多次催收无果", "on": "2025-12-01"}, seed.officer, 201).get_json()
    assert proposal["status"] == "proposed" and proposal["proposed_by"] == seed.officer.user.username
    assert seed.fund()["written_off_total"] == "0.00"

    approved = seed.post(url, {"approve": True, "reason": "同意核销", "on": "2025-12-05"}, seed.manager, 200).get_json()
    assert (approved["status"], approved["amount"], approved["decided_by"]) == ("approved", "200000.00", seed.manager.user.username)
    state = seed.get(f"/api/v1/seed/loans/{overdue_loan}")
    assert (state["status"], state["outstanding"], state["written_off_principal"]) == ("written_off", "0.00", "200000.00")
    assert state["classification"] == "substandard" and state["days_past_due"] == 103  # frozen at the write-off (12-05)
    fund = seed.fund()
    assert (fund["cash"], fund["outstanding"], fund["written_off_total"], fund["available"]) == (
        "800000.00", "0.00", "200000.00", "800000.00")

    recoveries = f"/api/v1/seed/loans/{overdue_loan}/recoveries"
    recovered = seed.post(recoveries, {"amount": "50000.00", "recovered_on": "2025-12-20", "bank_ref": "ZC-1"}, seed.officer, 201).get_json()
    assert recovered["amount"] == "50000.00"
    fund = seed.fund()
    assert (fund["cash"], fund["available"], fund["recovered_total"], fund["written_off_total"]) == (
        "850000.00", "850000.00", "50000.00", "200000.00")
    assert seed.post(recoveries, {"amount": "50000.00", "recovered_on": "2025-12-20", "bank_ref": "ZC-1"}, seed.officer, 200)
    with app.app_context():
        books = balances("seed")
        assert (books["seed.written_off"], books["seed.recoveries"], books["seed.loans_receivable"]) == (
            D("200000.00"), D("-50000.00"), D("0.00"))
        assert trial_balance("seed").balanced
    assert seed.get(f"/api/v1/seed/loans/{overdue_loan}")["recovered"] == "50000.00"


def test_write_off_refusals_write_nothing(seed, overdue_loan, enterprise_id, row_counts, app):
    from tests.funds.conftest import eligible_enterprise

    url = write_off_url(overdue_loan)
    before = row_counts()
    assert "reason" in assert_error(seed.post(url, {"reason": " ", "on": "2025-12-01"}, seed.officer), 422)["errors"]
    assert "未逾期" in assert_error(seed.post(url, {"reason": "提前核销", "on": "2025-08-24"}, seed.officer), 409)["message"]
    assert "没有待审批" in assert_error(seed.post(url, {"approve": True}, seed.manager), 409)["message"]
    assert "approve" in assert_error(seed.post(url, {"reason": "x"}, seed.manager), 422)["errors"]
    assert_error(seed.post(url, {"reason": "x"}, seed.admin), 403)
    assert_error(seed.post(url, {"reason": "x", "approve": True}, seed.officer), 422)
    current = seed.disbursed_loan(eligible_enterprise(app), amount="1000.00", term=12, on=date(2025, 12, 1))
    before = row_counts()
    assert_error(seed.post(write_off_url(current), {"reason": "未逾期", "on": "2025-12-31"}, seed.officer), 409)
    assert row_counts() == before

    seed.post(url, {"reason": "停业", "on": "2025-12-01"}, seed.officer, 201)
    before = row_counts()
    assert "待审批" in assert_error(seed.post(url, {"reason": "再提", "on": "2025-12-02"}, seed.officer2), 409)["message"]
    assert_error(seed.post(url, {"approve": True, "on": "2025-11-30"}, seed.manager), 409)  # before the proposal
    assert_error(seed.post(f"/api/v1/seed/loans/{overdue_loan}/recoveries",
                           {"amount": "1.00", "recovered_on": "2025-12-10", "bank_ref": "ZC"}, seed.officer), 409)  # not written off
    assert row_counts() == before


def test_four_eyes_the_proposer_does_not_approve(seed, overdue_loan, row_counts):
    url = write_off_url(overdue_loan)
    seed.post(url, {"reason": "停业", "on": "2025-12-01"}, seed.officer, 201)
    seed.client.patch(f"/api/v1/users/{seed.officer.id}", json={"role": "fund_manager"}, headers=seed.admin.headers)
    before = row_counts()
    body = assert_error(seed.post(url, {"approve": True}, seed.officer), 409)
    assert "四眼原则" in body["message"]
    assert row_counts() == before
    assert seed.post(url, {"approve": True}, seed.manager, 200).get_json()["status"] == "approved"


def test_a_rejected_proposal_ends_and_a_new_one_may_follow(seed, overdue_loan):
    url = write_off_url(overdue_loan)
    seed.post(url, {"reason": "停业", "on": "2025-12-01"}, seed.officer, 201)
    rejected = seed.post(url, {"approve": False, "reason": "继续催收", "on": "2025-12-02"}, seed.manager, 200).get_json()
    assert rejected["status"] == "rejected" and rejected["decision_comment"] == "继续催收"
    assert seed.fund()["written_off_total"] == "0.00"
    assert seed.get(f"/api/v1/seed/loans/{overdue_loan}")["status"] == "overdue"
    seed.post(url, {"reason": "仍无还款", "on": "2025-12-20"}, seed.officer, 201)
    assert [w["status"] for w in seed.get(f"/api/v1/seed/loans/{overdue_loan}")["write_offs"]] == ["rejected", "proposed"]


def test_after_write_off_repayments_are_refused_and_recoveries_capped(seed, overdue_loan, row_counts):
    url = write_off_url(overdue_loan)
    seed.post(url, {"reason": "停业", "on": "2025-12-01"}, seed.officer, 201)
    seed.post(url, {"approve": True, "on": "2025-12-01"}, seed.manager, 200)
    recoveries = f"/api/v1/seed/loans/{overdue_loan}/recoveries"
    seed.post(recoveries, {"amount": "150000.00", "recovered_on": "2025-12-10", "bank_ref": "ZC-1"}, seed.officer, 201)
    before = row_counts()
    assert "核销" in assert_error(seed.repay(overdue_loan, "1.00", date(2025, 12, 10), "HK-9", expect=None), 409)["message"]
    assert "超过尚未收回" in assert_error(seed.post(recoveries, {"amount": "50000.01", "recovered_on": "2025-12-10", "bank_ref": "ZC-2"},
                                               seed.officer), 409)["message"]
    assert_error(seed.post(recoveries, {"amount": "1.00", "recovered_on": "2025-11-30", "bank_ref": "ZC-3"}, seed.officer), 409)
    assert_error(seed.post(recoveries, {"amount": "2.00", "recovered_on": "2025-12-10", "bank_ref": "ZC-1"}, seed.officer), 409)
    assert row_counts() == before
    seed.post(recoveries, {"amount": "50000.00", "recovered_on": "2025-12-11", "bank_ref": "ZC-4"}, seed.officer, 201)
    fund = seed.fund()
    # Everything came back: the loss stays on the books (written off), the recoveries are income.
    assert (fund["cash"], fund["recovered_total"], fund["written_off_total"]) == ("1000000.00", "200000.00", "200000.00")
