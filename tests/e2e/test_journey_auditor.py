"""Journey: an auditor runs last month's reconciliation, downloads its report and the month's statements
(each PDF's SHA-256 equals the one listed), checks the audit trail, and signs the month off; from then on
a record dated in that month is refused.

Signing off closes the month and every month before it on the session's shared server, so this test
is marked ``closes_books`` and runs after every other e2e test (tests/e2e/conftest.py).
"""
from __future__ import annotations

import hashlib
from datetime import date
from typing import Any

import pytest

from tests.e2e.journeys import (
    MAIN_SUBMIT,
    business_today,
    flash_text,
    follow,
    heading,
    id_from_url,
    last_day_of_previous_month,
    month_of,
    submit,
)

STATUS_LABELS = {"balanced": "平衡", "differences": "存在差异", "signed_off": "已签核"}


def download_pdf(page: Any, link: Any) -> bytes:
    with page.expect_download() as download_info:
        link.click()
    content = open(download_info.value.path(), "rb").read()
    assert content.startswith(b"%PDF-") and content.rstrip().endswith(b"%%EOF")
    return content


def request_statement(pages: Any, page: Any, target: str, start: date, end: date, label: str) -> tuple[int, str]:
    """Order one statement on the auditor's form; returns (document id, the SHA-256 its page lists)."""
    page.goto("/documents/statements/new")
    page.select_option("#target", target)
    page.fill("#start", start.isoformat())
    page.fill("#end", end.isoformat())
    submit(page, page.locator(MAIN_SUBMIT))
    assert "报表已生成" in flash_text(page), flash_text(page)
    document_id = id_from_url(page, r"/documents/(\d+)$")
    pages.screenshot(page, label)
    listed = page.inner_text("#sha256").strip()
    content = download_pdf(page, page.locator(f"main .page-actions a[href='/documents/{document_id}/pdf']"))
    assert hashlib.sha256(content).hexdigest() == listed
    return document_id, listed


@pytest.mark.closes_books
def test_an_auditor_reconciles_last_month_downloads_the_statements_and_signs_it_off(pages, live_server):
    today = business_today()
    month_end = last_day_of_previous_month(today)
    period = month_of(month_end)
    token = live_server.token("auditor")

    auditor = pages.login("auditor")
    follow(auditor, "#main-nav .nav-link[href='/reconciliations']")
    assert heading(auditor) == "月度对账"
    pages.screenshot(auditor, "01-months")

    # --- run last month's reconciliation (the scheduler would at 02:00 on the 1st)
    pending = auditor.locator("#pending-month")
    if pending.count():
        assert f"{period} 尚未对账" in pending.inner_text()
        submit(auditor, pending.locator("button[type=submit]"))
    else:  # already run (a scheduler was about): run it again from the month's page
        auditor.goto(f"/reconciliations/{period}")
        submit(auditor, auditor.locator("main .page-actions form button[type=submit]"))
    assert f"已完成 {period} 的对账" in flash_text(auditor), flash_text(auditor)
    assert auditor.url.endswith(f"/reconciliations/{period}")
    result = live_server.get_json(f"/api/v1/reconciliations/{period}", token=token)
    assert result["status"] in ("balanced", "differences")
    meta = auditor.inner_text("#result-meta")
    assert STATUS_LABELS[result["status"]] in meta and f"{len(result['differences'])} 项" in meta
    shown_rows = auditor.locator("#differences tbody tr").count()
    assert shown_rows == (min(len(result["differences"]), 200) or 1)  # an empty table says "no difference"
    # The journal balances and the control accounts agree: the tape checks are where differences live.
    checks = auditor.locator("#checks tbody tr").all_inner_texts()
    assert checks and all("相符" in row for row in checks if "台账" not in row), checks
    pages.screenshot(auditor, "02-reconciled")

    # --- the reconciliation report
    report_link = auditor.locator("main .page-actions a", has_text="下载对账报告")
    report = download_pdf(auditor, report_link)
    reports = live_server.get_json("/api/v1/documents?kind=reconciliation&per_page=200", token=token)["items"]
    assert hashlib.sha256(report).hexdigest() in {d["sha256"] for d in reports if d["period"] == period}

    # --- the month's statements: a fund's and a partner bank's
    banks = live_server.get_json("/api/v1/banks", token=live_server.token("admin"))
    bank = (banks["items"] if isinstance(banks, dict) else banks)[0]
    first_day = month_end.replace(day=1)
    statements = [
        request_statement(pages, auditor, "fund:seed", first_day, month_end, "03-seed-fund-statement"),
        request_statement(pages, auditor, f"bank:{bank['id']}", first_day, month_end, "04-bank-statement"),
    ]
    listed = {d["id"]: d["sha256"] for d in live_server.get_json("/api/v1/documents?per_page=200", token=token)["items"]}
    assert all(listed.get(document_id) == sha for document_id, sha in statements)

    # --- sign off: the audit trail is intact, and a comment explains any difference
    auditor.goto(f"/reconciliations/{period}")
    assert "alert-success" in auditor.get_attribute("#audit-chain", "class")
    assert live_server.get_json("/api/v1/audit/verify", token=token)["ok"] is True
    auditor.fill("#comment", f"{period} 差异均为台账报送时点与口径不同所致，已与各行核实。")
    pages.screenshot(auditor, "05-sign-off-form")
    submit(auditor, auditor.locator("#sign-off button[type=submit]"))
    assert f"已签核 {period} 的对账结果：该月已结账" in flash_text(auditor)
    assert STATUS_LABELS["signed_off"] in auditor.inner_text("#result-meta")
    assert auditor.locator("#sign-off").count() == 0
    signed = live_server.get_json(f"/api/v1/reconciliations/{period}", token=token)
    assert signed["status"] == "signed_off"
    pages.screenshot(auditor, "06-signed-off")

    auditor.goto("/reconciliations")
    assert f"已结账至 {period}" in auditor.inner_text("#closed-through")

    # --- the month is closed: a liaison's record dated in it is refused for that reason, nothing written
    liaison = live_server.token("icbc_liaison")
    loans = live_server.get_json("/api/v1/loans?status=active&per_page=200", token=liaison)["items"]
    loan = next(item for item in loans if item["start_date"] < month_end.isoformat())
    before = live_server.get_json(f"/api/v1/loans/{loan['id']}/repayments", token=liaison)
    status, body = live_server.request("POST", f"/api/v1/loans/{loan['id']}/repayments", token=liaison, body={
        "principal": "1.00", "interest": "0.00", "paid_on": month_end.isoformat(), "bank_ref": "E2E-CLOSED-MONTH"})
    assert status == 409 and body["message"].startswith("该月份已结账"), body
    assert live_server.get_json(f"/api/v1/loans/{loan['id']}/repayments", token=liaison) == before
