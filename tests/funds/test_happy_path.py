"""The whole seed-fund path through the API, with the fund's figures after every step.

contribution -> application -> initial review -> three expert scores -> decision (another
person) -> public notice -> contract -> disbursement -> repayments -> repaid; the ledger of fund
``seed`` balances throughout.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from core.ledger.queries import trial_balance
from tests.funds.conftest import DECIDED, NOTICE_ENDS

D = Decimal


def figures(seed, **expected):
    fund = seed.fund()
    for key, value in expected.items():
        assert fund[key] == value, (key, fund)
    return fund


def assert_books_balance(app):
    with app.app_context():
        balance = trial_balance("seed")
        assert balance.balanced and balance.total_debit == balance.total_credit


def test_the_whole_path_and_the_fund_after_each_step(seed, enterprise_id, app):
    figures(seed, size="10000000.00", paid_in="0.00", cash="0.00", committed="0.00", available="0.00",
            outstanding="0.00", disbursed_cumulative="6200000.00", written_off_total="0.00")

    seed.contribute("2000000.00")
    figures(seed, paid_in="2000000.00", cash="2000000.00", available="2000000.00")

    created = seed.apply(enterprise_id, amount="100000.00", term=3, repayment="monthly")
    assert created["status"] == "submitted" and isinstance(created["id"], int)
    app_id = created["id"]
    assert seed.initial_review(app_id)["status"] == "initial_review_passed"
    seed.expert_reviews(app_id, scores=(60, 61, 59))  # average exactly 60: passes
    detail = seed.get(f"/api/v1/seed/applications/{app_id}")
    assert detail["status"] == "expert_review" and detail["review_count"] == 3 and detail["average_score"] == "60.00"
    figures(seed, committed="0.00", available="2000000.00")

    decided = seed.decide(app_id).get_json()
    assert decided["status"] == "approved"
    assert decided["notice_ends_on"] == NOTICE_ENDS.isoformat() and decided["notice_starts_on"] == DECIDED.isoformat()
    figures(seed, cash="2000000.00", committed="100000.00", available="1900000.00")

    contract = seed.contract(app_id).get_json()
    assert contract["contract_no"] == "ZZJJ-2025-0001" and isinstance(contract["loan_id"], int)
    loan_id = contract["loan_id"]
    figures(seed, committed="100000.00", available="1900000.00", outstanding="0.00")

    loan = seed.disburse(loan_id).get_json()
    assert [(line["due_on"], line["principal"]) for line in loan["schedule"]] == [
        ("2025-07-24", "33333.33"), ("2025-08-24", "33333.33"), ("2025-09-24", "33333.34"),
    ]
    assert loan["outstanding"] == "100000.00" and loan["maturity_date"] == "2025-09-24"
    figures(seed, cash="1900000.00", committed="0.00", available="1900000.00", outstanding="100000.00",
            disbursed_cumulative="6300000.00")
    assert_books_balance(app)

    for n, (amount, day) in enumerate([("33333.33", date(2025, 7, 24)), ("33333.33", date(2025, 8, 24)),
                                       ("33333.34", date(2025, 9, 24))]):
        seed.repay(loan_id, amount, day, f"HK-{n}")
    loan = seed.get(f"/api/v1/seed/loans/{loan_id}")
    assert loan["status"] == "repaid" and loan["outstanding"] == "0.00" and loan["days_past_due"] == 0
    assert all(line["unpaid"] == "0.00" for line in loan["schedule"])
    # The fund revolves: available is back to its value before the approval.
    figures(seed, cash="2000000.00", committed="0.00", available="2000000.00", outstanding="0.00",
            disbursed_cumulative="6300000.00")
    assert_books_balance(app)

    timeline = [event["action"] for event in seed.get(f"/api/v1/seed/applications/{app_id}")["timeline"]]
    assert timeline == ["submitted", "initial_review", "expert_review", "expert_review", "expert_review",
                        "decision", "contracted", "disbursed"]
