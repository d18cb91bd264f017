"""Journey: a bank liaison files a compensation claim on a defaulted covered loan, and a fund manager who
did not file it approves it; the shares on the pages equal the API's and the domain's rounding rule.

It builds what it needs whatever the demo holds (the demo's loans may all be "not covered" when the pool
has no paid-in capital): the admin records a county contribution on the risk page, dated before the
loan, then a liaison of a bank whose breaker is normal records (through the API,
``journeys.defaulted_covered_loan``) a 90-day bullet loan contracted 200 days ago and drawn in full,
never repaid: more than 90 days past due today.
"""
from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from tests.e2e.journeys import (
    DEFAULTED_PRINCIPAL,
    MAIN_SUBMIT,
    accept_dialogs,
    business_today,
    cny,
    defaulted_covered_loan,
    flash_text,
    follow,
    heading,
    id_from_url,
    liaison_with_a_normal_breaker,
    submit,
)

CONTRIBUTION = Decimal("1500000.00")
PRINCIPAL = DEFAULTED_PRINCIPAL


def share(amount: Decimal, ratio: str) -> Decimal:
    return (amount * Decimal(ratio)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def test_a_liaison_claims_on_a_defaulted_covered_loan_and_a_manager_approves(pages, live_server):
    today = business_today()
    received = today - timedelta(days=205)  # before the loan's contract date (200 days ago)

    # --- the admin pays county money into the pool, dated before the loan
    admin = pages.login("admin")
    follow(admin, "#main-nav .nav-link[href='/risk']")
    pool_before = live_server.get_json("/api/v1/risk/pool", token=live_server.token("admin"))
    admin.select_option("#contribution-source", "county")
    admin.fill("#contribution-amount", f"{CONTRIBUTION:,}")
    admin.fill("#contribution-on", received.isoformat())
    admin.fill("#contribution-note", "县级财政风险补偿资金到位")
    pages.screenshot(admin, "01-contribution-form")
    submit(admin, admin.locator("#contribution-form button[type=submit]"))
    pool = live_server.get_json("/api/v1/risk/pool", token=live_server.token("admin"))
    assert Decimal(pool["paid_in_county"]) == Decimal(pool_before["paid_in_county"]) + CONTRIBUTION
    assert cny(pool["paid_in"]) in admin.inner_text("main")
    pages.screenshot(admin, "02-contribution-recorded")

    # --- a covered loan that defaulted: contracted 200 days ago, due after 90, never repaid
    username, token = liaison_with_a_normal_breaker(live_server)
    loan = defaulted_covered_loan(live_server, token)
    contract_no = loan["contract_no"]
    state = live_server.get_json(f"/api/v1/loans/{loan['id']}", token=token)
    maturity = date.fromisoformat(loan["maturity_date"])
    assert state["days_past_due"] == (today - maturity).days > 90 and state["classification"] == "substandard"

    # --- the liaison sees the default on the loan's page and files the claim from there
    liaison = pages.login(username)
    liaison.goto(f"/loans/{loan['id']}")
    assert "已纳入风险补偿" in liaison.inner_text("main")
    assert str(state["days_past_due"]) in liaison.inner_text(".stat-card >> nth=3")
    pages.screenshot(liaison, "03-defaulted-loan")
    follow(liaison, "main .page-actions a.btn-warning")  # 申请代偿
    assert heading(liaison) == "申请代偿"
    assert liaison.input_value("#claim-contract-no") == contract_no
    assert liaison.locator(f"[data-testid=candidates] tr[data-loan='{loan['id']}']").count() == 1
    pages.screenshot(liaison, "04-claim-form")
    submit(liaison, liaison.locator(MAIN_SUBMIT))
    claim_id = id_from_url(liaison, r"/risk/claims/(\d+)$")
    pool_share, bank_share = share(PRINCIPAL, "0.80"), PRINCIPAL - share(PRINCIPAL, "0.80")
    city = share(pool_share, "0.40")
    assert f"已提交代偿申请 #{claim_id}" in flash_text(liaison) and cny(pool_share) in flash_text(liaison)
    claim = live_server.get_json(f"/api/v1/risk/claims/{claim_id}", token=token)
    assert claim["status"] == "submitted"
    assert [Decimal(claim[k]) for k in ("principal", "pool_share", "bank_share", "city_share", "county_share")] == [
        PRINCIPAL, pool_share, bank_share, city, pool_share - city]
    shown = liaison.locator(".stat-card").all_inner_texts()
    assert any(cny(claim["pool_share"]) in text and cny(claim["city_share"]) in text for text in shown), shown
    assert liaison.locator(f"[data-testid=approve-{claim_id}]").count() == 0  # a liaison does not decide
    pages.screenshot(liaison, "05-claim-submitted")

    # --- a fund manager approves it from the queue
    manager = pages.login("manager")
    accept_dialogs(manager)
    manager.goto("/risk/queue")
    assert manager.locator(f"[data-testid=approve-{claim_id}]").count() == 1
    pages.screenshot(manager, "06-approval-queue")
    manager.goto(f"/risk/claims/{claim_id}")
    submit(manager, manager.locator(f"[data-testid=approve-{claim_id}] button[type=submit]"))
    decided = live_server.get_json(f"/api/v1/risk/claims/{claim_id}", token=token)
    assert decided["status"] in ("paid", "approved_unpaid"), decided
    if decided["status"] == "paid":
        assert f"代偿申请 #{claim_id} 已批准，资金池已支付 {cny(pool_share)}" in flash_text(manager)
        assert decided["paid_on"] == today.isoformat()
        pool_after = live_server.get_json("/api/v1/risk/pool", token=live_server.token("admin"))
        assert Decimal(pool_after["paid_out_total"]) == Decimal(pool["paid_out_total"]) + pool_share
    else:  # claims approved earlier wait ahead of it for the pool's cash
        assert f"代偿申请 #{claim_id} 已批准；资金池现金不足" in flash_text(manager)
    manager.goto(f"/risk/claims/{claim_id}")
    assert manager.locator(f"[data-testid=approve-{claim_id}]").count() == 0
    pages.screenshot(manager, "07-claim-approved")

    # The liaison sees the decision on the bank's claim list.
    follow(liaison, "#main-nav .nav-link[href='/risk/claims']")
    row = liaison.locator("table tbody tr", has_text=contract_no)
    assert row.count() == 1 and cny(pool_share) in row.inner_text()
    pages.screenshot(liaison, "08-claims-list")
