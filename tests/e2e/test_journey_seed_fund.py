"""Journey: a fund officer takes a seed-fund application through its reviews, a fund manager approves it
(four eyes: never the officer who took it in), an objection raised during the public notice is
dismissed by a second manager, and once the notice is over the officer signs the contract; the
contract PDF, rendered by the ``contracts`` job, downloads with the SHA-256 its page lists.

How the notice "passes": the server's clock is the real one (core/clock.py has no switch for a
running server), so the journey records its paper steps on their own earlier dates, as the product
allows every step of the seed fund ("paper comes before data entry", api.md): the decision is dated
25 days ago, so its 5-working-day notice is over today whatever holidays the calendar holds.
"""
from __future__ import annotations

import hashlib
from datetime import timedelta
from decimal import Decimal

from tests.e2e.journeys import (
    MAIN_SUBMIT,
    accept_dialogs,
    business_today,
    cny,
    flash_text,
    follow,
    heading,
    id_from_url,
    new_enterprise,
    submit,
)

AMOUNT = Decimal("200000.00")
SCORES = (("王教授", 82), ("李研究员", 75), ("张高工", 90))


def test_an_application_goes_from_intake_to_a_signed_contract_whose_pdf_matches_its_hash(pages, live_server):
    today = business_today()
    day = {name: today - timedelta(days=back) for name, back in
           (("applied", 30), ("initial", 29), ("experts", 28), ("decided", 25), ("objection", 24), ("dismissed", 23))}
    enterprise = new_enterprise(live_server, registered_on=today - timedelta(days=700), rated_on=None, as_user="officer")
    api_token = live_server.token("auditor")
    fund_before = live_server.get_json("/api/v1/seed/fund", token=api_token)
    assert Decimal(fund_before["available"]) >= AMOUNT, fund_before

    # --- the officer takes the application in
    officer = pages.login("officer")
    follow(officer, "#main-nav .nav-link[href='/seed']")
    officer.goto("/seed/applications/new")
    officer.check("#application-applicant-enterprise")
    officer.fill("#application-credit_code", enterprise["credit_code"])
    officer.fill("#application-amount", f"{AMOUNT:,}")
    officer.fill("#application-term_months", "12")
    officer.select_option("#application-repayment", "monthly")
    officer.fill("#application-purpose", "样机试制与首批量产")
    officer.fill("#application-on", day["applied"].isoformat())
    pages.screenshot(officer, "01-application-form")
    submit(officer, officer.locator(MAIN_SUBMIT))
    application_id = id_from_url(officer, r"/seed/applications/(\d+)")
    assert f"已受理申请（编号 {application_id}）" in flash_text(officer)
    assert enterprise["name"] in heading(officer)
    pages.screenshot(officer, "02-application-submitted")

    # --- initial review and three expert scores
    officer.fill("#initial-comment", "材料齐全，符合申请条件。")
    officer.fill("#initial-on", day["initial"].isoformat())
    submit(officer, officer.locator("#step-initial_review button[name=passed][value=yes]"))
    for name, score in SCORES:
        officer.fill("#expert-expert_name", name)
        officer.fill("#expert-score", str(score))
        officer.fill("#expert-on", day["experts"].isoformat())
        submit(officer, officer.locator("#step-expert_review button[type=submit]"))
    average = sum(score for _name, score in SCORES) / len(SCORES)
    reviews = officer.inner_text("[data-testid=reviews]")
    assert f"{len(SCORES)} / 3" in reviews, reviews
    # The officer took part: the decision is not among their steps.
    assert officer.locator("#step-decision").count() == 0
    pages.screenshot(officer, "03-reviews-recorded")

    api = live_server.get_json(f"/api/v1/seed/applications/{application_id}", token=api_token)
    assert api["status"] == "expert_review" and Decimal(api["amount"]) == AMOUNT
    assert sorted(review["score"] for review in api["expert_reviews"]) == sorted(score for _name, score in SCORES)

    # --- a manager who took no part approves, dated 25 days ago
    manager = pages.login("manager")
    accept_dialogs(manager)
    manager.goto(f"/seed/applications/{application_id}")
    assert manager.locator("[data-testid=four-eyes]").count() == 0
    assert f"{average:.2f}".rstrip("0").rstrip(".") in manager.inner_text("[data-testid=reviews]")
    manager.fill("#decision-comment", "经评审委员会审议，同意支持。")
    manager.fill("#decision-on", day["decided"].isoformat())
    pages.screenshot(manager, "04-decision-form")
    submit(manager, manager.locator("#step-decision button[name=approved][value=yes]"))
    approved = live_server.get_json(f"/api/v1/seed/applications/{application_id}", token=api_token)
    assert approved["status"] == "approved", approved
    assert approved["notice_ends_on"] < today.isoformat()
    fund_after_approval = live_server.get_json("/api/v1/seed/fund", token=api_token)
    assert Decimal(fund_after_approval["committed"]) == Decimal(fund_before["committed"]) + AMOUNT
    assert cny(fund_after_approval["available"]) in manager.inner_text("main")
    pages.screenshot(manager, "05-approved")

    # --- an objection during the notice, dismissed by the second manager
    officer.goto(f"/seed/applications/{application_id}")
    officer.fill("#objection-text", "有群众反映该企业研发人员不足。")
    officer.fill("#objection-on", day["objection"].isoformat())
    submit(officer, officer.locator("#step-objection button[type=submit]"))
    assert officer.locator("#step-contract").count() == 0  # no contract while an objection is open
    assert "公示期内有未处理的异议" in officer.inner_text("main")
    objected = live_server.get_json(f"/api/v1/seed/applications/{application_id}", token=api_token)
    assert objected["status"] == "objection_raised", objected
    pages.screenshot(officer, "06-objection-raised")

    second = pages.login("manager2")
    accept_dialogs(second)
    second.goto(f"/seed/applications/{application_id}")
    second.fill("#resolution-reason", "经核实，企业研发人员符合要求，异议不成立。")
    second.fill("#resolution-on", day["dismissed"].isoformat())
    submit(second, second.locator("#step-resolution button[name=upheld][value=no]"))
    pages.screenshot(second, "07-objection-dismissed")

    # --- the notice is over: the officer signs the contract today
    officer.goto(f"/seed/applications/{application_id}")
    assert f"公示期已于 {approved['notice_ends_on']} 结束" in officer.inner_text("main")
    submit(officer, officer.locator("#step-contract button[type=submit]"))
    signed = flash_text(officer)
    assert "已签订合同" in signed, signed
    contracted = live_server.get_json(f"/api/v1/seed/applications/{application_id}", token=api_token)
    loan_id = contracted["loan_id"]
    loan = live_server.get_json(f"/api/v1/seed/loans/{loan_id}", token=api_token)
    contract_no = loan["contract_no"]
    assert contract_no in signed and contract_no.startswith(f"ZZJJ-{today.year}-")
    assert Decimal(loan["principal"]) == AMOUNT and loan["contracted_on"] == today.isoformat()
    pages.screenshot(officer, "08-contract-signed")

    # --- the contracts job renders the PDF (the scheduler runs it every 10 minutes; the admin now)
    admin = pages.login("admin")
    follow(admin, "#main-nav .nav-link[href='/jobs']")
    admin.fill("#period-contracts", today.isoformat())
    submit(admin, admin.locator("form[action='/jobs/contracts/run'] button[type=submit]"))
    assert "运行成功" in flash_text(admin), flash_text(admin)
    pages.screenshot(admin, "09-contracts-job")

    # --- the officer finds the contract in the document library and downloads it
    follow(officer, "#main-nav .nav-link[href='/documents/']")
    officer.fill("#q", contract_no)
    with officer.expect_navigation():
        officer.press("#q", "Enter")
    link = officer.locator("#documents-table a", has_text=contract_no)
    assert link.count() == 1
    with officer.expect_navigation():
        link.click()
    document_id = id_from_url(officer, r"/documents/(\d+)$")
    listed_sha = officer.inner_text("#sha256").strip()
    assert contract_no in heading(officer) and enterprise["name"] in heading(officer)
    pages.screenshot(officer, "10-contract-document")
    with officer.expect_download() as download_info:
        officer.click(f"main a[href='/documents/{document_id}/pdf']")
    content = open(download_info.value.path(), "rb").read()
    assert content.startswith(b"%PDF-") and content.rstrip().endswith(b"%%EOF")
    assert hashlib.sha256(content).hexdigest() == listed_sha

    documents = live_server.get_json("/api/v1/documents?kind=contract&per_page=200", token=api_token)["items"]
    assert [d["sha256"] for d in documents if d["id"] == document_id] == [listed_sha]
