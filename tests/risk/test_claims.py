"""Claims: filing with exact shares, every refusal writing nothing, approval and payment, the queue in
approval order, rejection, recoveries, and the ledger of fund ``risk`` balancing throughout."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from core.db import db
from core.ledger.models import JournalEntry
from core.ledger.queries import balances, entries_for_source, trial_balance
from core.errors import BusinessRuleError
from risk import queries, services
from risk.models import RiskClaim
from tests.risk.conftest import DPD_90, DPD_91, MATURITY, TODAY, assert_error, contribute, fund_pool, make_loan

D = Decimal


@pytest.fixture
def funded(app):
    """1,000,000.00 paid in on 2025-01-15 (city 400,000.00, county 600,000.00): the pool covers loans."""
    fund_pool(app, "1000000.00")


def ledger(app) -> dict[str, Decimal]:
    with app.app_context():
        assert trial_balance("risk").balanced  # the fund's trial balance sums to zero, always
        return balances("risk")


# ------------------------------------------------------------------------------------------ filing


def test_liaison_files_a_claim_with_the_exact_shares(risk, app, funded):
    loan_id = make_loan(app, risk.bank_id, "333333.33")
    body = risk.claim(loan_id, DPD_91)
    assert body["status"] == "submitted" and isinstance(body["id"], int)
    assert (body["principal"], body["pool_share"], body["bank_share"], body["city_share"], body["county_share"]) == (
        "333333.33", "266666.66", "66666.67", "106666.66", "160000.00",
    )
    assert (body["loan_id"], body["bank_id"], body["as_of"], body["days_past_due"]) == (
        loan_id, risk.bank_id, DPD_91.isoformat(), 91,
    )
    assert (body["pool_ratio"], body["city_ratio"], body["notice_pending"]) == ("0.80", "0.40", False)
    assert body["filed_by"] == risk.liaison.user.username
    assert risk.get_claim(body["id"])["status"] == "submitted"


def test_the_claim_is_for_the_overdue_unrecovered_principal(risk, app, funded):
    loan_id = make_loan(
        app, risk.bank_id, "1000000.00", disbursed="800000.00",
        repayments=(("300000.00", date(2025, 6, 1)), ("100000.00", date(2025, 12, 15))),
    )
    # As of 2025-11-30: 800,000 drawn, 300,000 repaid; the later repayment does not count yet.
    body = risk.claim(loan_id, DPD_91)
    assert (body["principal"], body["pool_share"], body["bank_share"]) == ("500000.00", "400000.00", "100000.00")


@pytest.mark.parametrize(
    ("case", "code", "fragment"),
    [
        ("not_covered", 409, "未纳入风险补偿"),
        ("dpd_90", 409, "90"),
        ("not_overdue", 409, "逾期 0 天"),
        ("already_open", 409, "未结案"),
        ("already_paid", 409, "已获代偿"),
        ("other_bank", 404, None),
        ("future", 422, None),
    ],
)
def test_claim_refusals_write_nothing(risk, app, row_counts, case, code, fragment):
    if case == "not_covered":
        loan_id = make_loan(app, risk.bank_id, "100000.00")  # nothing paid in: pool_underfunded
    else:
        fund_pool(app)
        loan_id = make_loan(app, risk.bank_id, "100000.00", repayments=(("100000.00", MATURITY),) if case == "not_overdue" else ())
    as_of, who = DPD_91, risk.liaison
    if case == "dpd_90":
        as_of = DPD_90
    elif case == "already_open":
        risk.claim(loan_id)
    elif case == "already_paid":
        risk.approve(risk.claim(loan_id)["id"])
    elif case == "other_bank":
        who = risk.liaison_b
    elif case == "future":
        as_of = date(2026, 1, 1)
    before = row_counts()
    body = risk.claim(loan_id, as_of, who=who, expect=code)
    if fragment:
        assert fragment in body["message"], body["message"]
    if case == "not_covered":
        assert "到位资金不足" in body["message"]
    assert row_counts() == before


def test_only_liaisons_file_claims(risk, app, funded):
    loan_id = make_loan(app, risk.bank_id, "100000.00")
    for who in (risk.manager, risk.admin, risk.auditor, risk.officer):
        risk.claim(loan_id, who=who, expect=403)
    assert_error(risk.client.post("/api/v1/loans/999999/claims", json={}, headers=risk.liaison.headers), 404)


# ---------------------------------------------------------------------------------------- approval


def test_approval_pays_the_claim_with_city_and_county_attribution(risk, app, funded):
    claim = risk.claim(make_loan(app, risk.bank_id, "333333.33"))
    approved = risk.approve(claim["id"], on=date(2025, 12, 10))
    assert approved["status"] == "paid" and approved["paid_on"] == "2025-12-10"
    assert approved["approved_by"] == risk.manager.user.username and approved["notice_pending"] is True
    books = ledger(app)
    assert books["risk.cash"] == D("1000000.00") - D("266666.66")
    assert (books["risk.compensation.city"], books["risk.compensation.county"]) == (D("106666.66"), D("160000.00"))
    with app.app_context():
        (entry,) = entries_for_source("risk_claim", claim["id"])
        assert entry.entry_date == date(2025, 12, 10)
        assert sorted(line.amount for line in entry.lines) == [D("-266666.66"), D("106666.66"), D("160000.00")]
        assert [c.id for c in queries.notices_pending()] == [claim["id"]]
    pool = risk.pool()
    assert (pool["paid_out_total"], pool["paid_out_city"], pool["paid_out_county"], pool["cash"]) == (
        "266666.66", "106666.66", "160000.00", "733333.34",
    )
    # The trailing default rate: 266,666.66 claimed in the last 12 months, 22,222.22 a month.
    assert (pool["trailing_monthly_claims"], pool["months_of_cover"]) == ("22222.22", "33.0")


def test_approval_refusals_write_nothing(risk, app, funded, row_counts):
    claim = risk.claim(make_loan(app, risk.bank_id, "100000.00"))
    before = row_counts()
    for who in (risk.liaison, risk.admin, risk.auditor, risk.officer):
        risk.approve(claim["id"], who=who, expect=403)
    assert "on" in risk.approve(claim["id"], on=date(2025, 11, 1), expect=409)["errors"]  # before the claim's date
    assert "on" in risk.approve(claim["id"], on=date(2026, 1, 1), expect=422)["errors"]  # the future
    risk.approve(999999, expect=404)
    assert row_counts() == before
    risk.approve(claim["id"])
    before = row_counts()
    assert "已处理" in risk.approve(claim["id"], who=risk.manager2, expect=409)["message"]
    risk.reject(claim["id"], expect=409)
    assert row_counts() == before


def test_a_manager_never_approves_a_claim_they_filed(risk, app, funded):
    # Managers cannot file through the API; the service still refuses the same person on both sides.
    loan_id = make_loan(app, risk.bank_id, "100000.00")
    with app.app_context():
        claim = services.file_claim(loan_id, as_of=DPD_91, by_id=risk.manager.id)
        with pytest.raises(BusinessRuleError, match="四眼"):
            services.approve_claim(claim.id, on=TODAY, by_id=risk.manager.id)


def test_a_short_pool_queues_claims_and_contributions_pay_them_in_approval_order(risk, app, funded):
    big = risk.claim(make_loan(app, risk.bank_id, "1000000.00"))  # pool share 800,000.00
    middle = risk.claim(make_loan(app, risk.bank_id, "500000.00"))  # 400,000.00
    small = risk.claim(make_loan(app, risk.bank_id, "200000.00"))  # 160,000.00
    approved_on = date(2025, 12, 10)
    assert risk.approve(big["id"], on=approved_on)["status"] == "paid"  # cash 1,000,000 -> 200,000
    queued = risk.approve(middle["id"], who=risk.manager2, on=approved_on)
    assert (queued["status"], queued["queue_position"], queued["paid_on"]) == ("approved_unpaid", 1, None)
    # 160,000 would fit in the 200,000 left, but it was approved after the middle claim: it waits.
    last = risk.approve(small["id"], on=approved_on)
    assert (last["status"], last["queue_position"]) == ("approved_unpaid", 2)
    assert ledger(app)["risk.cash"] == D("200000.00")
    pool = risk.pool()
    assert (pool["queued_unpaid"], pool["queued_count"]) == ("560000.00", 2)

    first = risk.contribute("300000.00", "county", on=date(2025, 12, 20))  # cash 500,000: pays the middle one
    assert first["paid_claim_ids"] == [middle["id"]]
    assert risk.get_claim(middle["id"])["status"] == "paid" and risk.get_claim(middle["id"])["paid_on"] == "2025-12-20"
    waiting = risk.get_claim(small["id"])
    assert (waiting["status"], waiting["queue_position"]) == ("approved_unpaid", 1)
    assert ledger(app)["risk.cash"] == D("100000.00")

    second = risk.contribute("60000.00", "city")  # cash 160,000: exactly enough
    assert second["paid_claim_ids"] == [small["id"]]
    assert ledger(app)["risk.cash"] == D("0.00")
    with app.app_context():
        paid_entries = db.session.scalars(
            sa.select(JournalEntry.source_id).where(JournalEntry.source_type == "risk_claim").order_by(JournalEntry.id)
        ).all()
        assert paid_entries == [str(big["id"]), str(middle["id"]), str(small["id"])]
        seqs = db.session.scalars(sa.select(RiskClaim.approval_seq).order_by(RiskClaim.id)).all()
        assert seqs == [1, 2, 3]


def test_a_backdated_payment_never_takes_the_cash_below_zero_on_any_date(risk, app):
    contribute(app, "1000000.00", on=date(2025, 1, 15))
    contribute(app, "200000.00", on=date(2025, 12, 20))
    claim = risk.claim(make_loan(app, risk.bank_id, "1250000.00"))  # pool share 1,000,000.00
    # Approved as of 2025-12-01: 1,000,000 was there then, and stays there on every later day.
    assert risk.approve(claim["id"], on=date(2025, 12, 1))["status"] == "paid"
    other = risk.claim(make_loan(app, risk.bank_id, "200000.00"))  # 160,000.00
    # On 2025-12-01 the pool has nothing left (the 200,000 arrive on the 20th): it must wait...
    assert risk.approve(other["id"], on=date(2025, 12, 1))["status"] == "approved_unpaid"
    # ...and the next money (dated the 21st) pays it then, from the cash of the 20th on.
    assert risk.contribute("1.00", "city", on=date(2025, 12, 21))["paid_claim_ids"] == [other["id"]]
    assert risk.get_claim(other["id"])["paid_on"] == "2025-12-21"
    with app.app_context():
        for day in (date(2025, 12, 1), date(2025, 12, 20), date(2025, 12, 21)):
            assert queries.ledger_figures(day).cash >= 0


# --------------------------------------------------------------------------------------- rejection


def test_rejection_needs_a_reason_and_frees_the_loan_for_a_new_claim(risk, app, funded, row_counts):
    loan_id = make_loan(app, risk.bank_id, "100000.00")
    claim = risk.claim(loan_id)
    before = row_counts()
    assert "reason" in risk.reject(claim["id"], None, expect=422)["errors"]
    assert "reason" in risk.reject(claim["id"], "   ", expect=422)["errors"]
    risk.reject(claim["id"], who=risk.liaison, expect=403)
    assert row_counts() == before
    rejected = risk.reject(claim["id"], "逾期本金计算有误")
    assert (rejected["status"], rejected["rejection_reason"], rejected["rejected_by"]) == (
        "rejected", "逾期本金计算有误", risk.manager.user.username,
    )
    again = risk.claim(loan_id, TODAY)
    assert again["status"] == "submitted" and again["id"] != claim["id"]
    assert ledger(app)["risk.cash"] == D("1000000.00")


# -------------------------------------------------------------------------------------- recoveries


def test_recoveries_return_the_pools_part_and_the_excess_goes_to_the_bank(risk, app, funded):
    claim = risk.claim(make_loan(app, risk.bank_id, "333333.33"))
    risk.approve(claim["id"], on=date(2025, 12, 10))
    first = risk.recover(claim["id"], "100000.00", date(2025, 12, 15))
    assert (first["pool_part"], first["bank_part"], first["city_part"], first["county_part"]) == (
        "80000.00", "20000.00", "32000.00", "48000.00",
    )
    second = risk.recover(claim["id"], "300000.00", date(2025, 12, 20), who=risk.manager)
    assert (second["within_principal"], second["pool_part"], second["bank_part"]) == (
        "233333.33", "186666.66", "113333.34",
    )
    books = ledger(app)
    assert books["risk.cash"] == D("1000000.00")  # everything the pool paid has come back
    assert (books["risk.recoveries.city"], books["risk.recoveries.county"]) == (D("-106666.66"), D("-160000.00"))
    detail = risk.get_claim(claim["id"])
    assert (detail["recovered_total"], detail["recovered_pool"], detail["recovered_bank"]) == (
        "400000.00", "266666.66", "133333.34",
    )
    assert risk.pool()["recovered_total"] == "266666.66"


def test_recovery_refusals_write_nothing(risk, app, funded, row_counts):
    claim = risk.claim(make_loan(app, risk.bank_id, "100000.00"))
    before = row_counts()
    assert "尚未支付" in risk.recover(claim["id"], "1000.00", expect=409)["message"]  # submitted, not paid
    risk.approve(claim["id"], on=date(2025, 12, 10))
    before = row_counts()
    assert "recovered_on" in risk.recover(claim["id"], "1000.00", date(2025, 12, 9), expect=409)["errors"]
    assert "amount" in risk.recover(claim["id"], "-1.00", expect=422)["errors"]
    risk.recover(claim["id"], "1000.00", who=risk.liaison_b, expect=404)  # another bank's claim
    for who in (risk.admin, risk.auditor, risk.officer):
        risk.recover(claim["id"], "1000.00", who=who, expect=403)
    assert row_counts() == before


def test_a_recovery_pays_queued_claims_too(risk, app, funded):
    paid = risk.claim(make_loan(app, risk.bank_id, "1250000.00"))  # 1,000,000.00: takes all the cash
    queued = risk.claim(make_loan(app, risk.bank_id, "100000.00"))  # 80,000.00
    risk.approve(paid["id"])
    assert risk.approve(queued["id"])["status"] == "approved_unpaid"
    risk.recover(paid["id"], "100000.00")  # 80,000.00 back to the pool
    assert risk.get_claim(queued["id"])["status"] == "paid"
    assert ledger(app)["risk.cash"] == D("0.00")


# -------------------------------------------------------------------------------------------- lists


def test_liaisons_see_only_their_own_banks_claims(risk, app, funded, client):
    mine = risk.claim(make_loan(app, risk.bank_id, "100000.00"))
    theirs = risk.claim(make_loan(app, risk.liaison_b.bank_id, "100000.00"), who=risk.liaison_b)
    listed = client.get("/api/v1/risk/claims", headers=risk.liaison.headers).get_json()
    assert [item["id"] for item in listed["items"]] == [mine["id"]] and listed["total"] == 1
    risk.get_claim(theirs["id"], who=risk.liaison, expect=404)
    queue = client.get("/api/v1/risk/claims?status=queue", headers=risk.manager.headers).get_json()
    assert [item["id"] for item in queue["items"]] == [mine["id"], theirs["id"]]
    assert_error(client.get("/api/v1/risk/claims?status=nonsense", headers=risk.manager.headers), 422)


def test_the_openapi_document_describes_the_pool(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path, methods in {
        "/api/v1/risk/contributions": {"post", "get"},
        "/api/v1/risk/pool": {"get"},
        "/api/v1/loans/{loan_id}/claims": {"post"},
        "/api/v1/risk/claims/{claim_id}/approve": {"post"},
        "/api/v1/risk/claims/{claim_id}/reject": {"post"},
        "/api/v1/risk/claims/{claim_id}/recoveries": {"post"},
        "/api/v1/risk/banks/{bank_id}/breaker": {"get"},
        "/api/v1/risk/banks/{bank_id}/breaker/lift": {"post"},
        "/api/v1/risk/stress": {"post"},
    }.items():
        assert methods <= set(paths[path]), path


def test_claim_and_approval_need_no_body(risk, app, funded, client):
    loan_id = make_loan(app, risk.bank_id, "100000.00")
    filed = client.post(f"/api/v1/loans/{loan_id}/claims", headers=risk.liaison.headers)  # as_of: today
    assert filed.status_code == 201 and filed.get_json()["as_of"] == TODAY.isoformat()
    approved = client.post(f"/api/v1/risk/claims/{filed.get_json()['id']}/approve", headers=risk.manager.headers)
    assert approved.status_code == 200 and approved.get_json()["status"] == "paid"
