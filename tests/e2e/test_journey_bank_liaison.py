"""Journey: a bank liaison records a new knowledge-value loan through the forms, then two tranches and a
repayment, imports two more tranches from an Excel batch, uploads the bank's month-end tape, and reads
the results on the pages; every figure shown is checked against the HTTP API.

Dates: the contract starts 25 days before the end of last month, so the tranches, the repayment and
the month-end tape all fall in a month that has ended; the batch's tranches are dated today.
"""
from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

from openpyxl import Workbook

from tests.e2e.journeys import (
    business_today,
    cny,
    flash_text,
    follow,
    heading,
    MAIN_SUBMIT,
    id_from_url,
    last_day_of_previous_month,
    month_of,
    new_enterprise,
    submit,
    unique_suffix,
)

PRINCIPAL = Decimal("1000000.00")
TRANCHES = (Decimal("300000.00"), Decimal("200000.00"))
REPAID = Decimal("100000.00")
INTEREST = Decimal("1234.56")
BATCH = (Decimal("50000.00"), Decimal("25000.50"))


def xlsx(header: list[str], rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def test_a_liaison_records_a_loan_its_tranches_a_batch_and_a_month_end_tape(pages, live_server):
    today = business_today()
    month_end = last_day_of_previous_month(today)
    start = month_end - timedelta(days=25)
    enterprise = new_enterprise(live_server, registered_on=start - timedelta(days=900), rated_on=start - timedelta(days=30))
    contract_no = f"ICBC-E2E-{unique_suffix()}"
    token = live_server.token("icbc_liaison")

    page = pages.login("icbc_liaison")
    follow(page, "#main-nav .nav-link[href='/loans']")
    pages.screenshot(page, "01-loan-list")

    # --- the contract, through the form
    follow(page, "a[href='/loans/new']")
    assert heading(page) == "登记贷款合同"
    page.fill("#contract_no", contract_no)
    page.fill("#credit_code", enterprise["credit_code"])
    page.fill("#principal", "1,000,000.00")
    page.fill("#annual_rate", "3.45")
    page.fill("#start_date", start.isoformat())
    page.fill("#maturity_date", (start + timedelta(days=300)).isoformat())
    page.fill("#purpose", "研发投入与设备购置")
    pages.screenshot(page, "02-contract-form")
    submit(page, page.locator(MAIN_SUBMIT))
    loan_id = id_from_url(page, r"/loans/(\d+)$")
    assert heading(page) == f"贷款合同 {contract_no}"
    assert f"已登记贷款合同 {contract_no}" in flash_text(page)
    assert enterprise["name"] in page.inner_text(".page-subtitle")
    pages.screenshot(page, "03-contract-recorded")

    # --- two tranches and a repayment
    for number, (amount, day) in enumerate(zip(TRANCHES, (start, start + timedelta(days=10))), start=1):
        follow(page, f"a[href='/loans/{loan_id}/disbursements/new']")
        assert heading(page) == "登记放款"
        page.fill("#amount", f"{amount:,}")
        page.fill("#disbursed_on", day.isoformat())
        page.fill("#bank_ref", f"{contract_no}-D{number}")
        submit(page, page.locator(MAIN_SUBMIT))
        assert f"已登记放款：流水号 {contract_no}-D{number}" in flash_text(page)
    pages.screenshot(page, "04-two-tranches")

    follow(page, f"a[href='/loans/{loan_id}/repayments/new']")
    assert heading(page) == "登记还款"
    page.fill("#principal", f"{REPAID:,}")
    page.fill("#interest", str(INTEREST))
    page.fill("#paid_on", (start + timedelta(days=20)).isoformat())
    page.fill("#bank_ref", f"{contract_no}-R1")
    submit(page, page.locator(MAIN_SUBMIT))
    assert f"已登记还款：流水号 {contract_no}-R1" in flash_text(page)

    disbursed = sum(TRANCHES)
    outstanding = disbursed - REPAID
    api = live_server.get_json(f"/api/v1/loans/{loan_id}", token=token)
    assert (api["contract_no"], api["principal"], api["annual_rate"]) == (contract_no, "1000000.00", "0.0345")
    assert (api["disbursed_total"], api["outstanding_principal"]) == (str(disbursed), str(outstanding))
    stats = page.locator(".stat-card").all_inner_texts()
    assert any(cny(api["disbursed_total"]) in text for text in stats), stats
    assert any(cny(api["outstanding_principal"]) in text and cny(REPAID) in text for text in stats), stats
    assert page.locator("td.code", has_text=f"{contract_no}-R1").count() == 1
    pages.screenshot(page, "05-repayment-recorded")

    # --- an Excel batch of two more tranches, dated today
    follow(page, "#main-nav .nav-link[href='/loans/batch']")
    assert heading(page) == "批量导入"
    page.select_option("#kind", "disbursements")
    batch_refs = [f"{contract_no}-B{n}" for n in (1, 2)]
    content = xlsx(
        ["合同编号", "金额", "放款日期", "银行流水号"],
        [[contract_no, f"{amount:,}", today.isoformat(), ref] for amount, ref in zip(BATCH, batch_refs)],
    )
    page.set_input_files("#file", {"name": "放款明细.xlsx", "mimeType": XLSX, "buffer": content})
    pages.screenshot(page, "06-batch-form")
    submit(page, page.locator(MAIN_SUBMIT))
    assert heading(page) == "导入结果"
    assert "导入完成：共 2 行，新登记 2 笔，重复 0 笔" in page.inner_text(".alert-success")
    lines = page.locator("#batch-lines tbody tr").all_inner_texts()
    assert len(lines) == 2 and all(contract_no in line and "新登记" in line for line in lines), lines
    assert cny(sum(BATCH)) in page.inner_text(".row.g-3")
    pages.screenshot(page, "07-batch-imported")

    api = live_server.get_json(f"/api/v1/loans/{loan_id}", token=token)
    assert Decimal(api["disbursed_total"]) == disbursed + sum(BATCH)
    assert Decimal(api["outstanding_principal"]) == outstanding + sum(BATCH)

    # The same file again is recognised, not booked twice.
    page.goto("/loans/batch")
    page.set_input_files("#file", {"name": "放款明细.xlsx", "mimeType": XLSX, "buffer": content})
    submit(page, page.locator(MAIN_SUBMIT))
    assert "新登记 0 笔，重复 2 笔" in page.inner_text(".alert-success")
    assert live_server.get_json(f"/api/v1/loans/{loan_id}", token=token)["disbursed_total"] == api["disbursed_total"]

    # --- the month-end tape of last month: the loan as it stood on the last day of the month
    period = month_of(month_end)
    at_month_end = live_server.get_json(f"/api/v1/loans/{loan_id}?as_of={month_end.isoformat()}", token=token)
    assert at_month_end["disbursed_total"] == str(disbursed) and at_month_end["outstanding_principal"] == str(outstanding)
    tape = xlsx(
        ["合同编号", "统一社会信用代码", "累计放款", "累计还本", "贷款余额", "逾期天数"],
        [[contract_no, enterprise["credit_code"], at_month_end["disbursed_total"], at_month_end["repaid_principal"],
          at_month_end["outstanding_principal"], at_month_end["days_past_due"]]],
    )
    follow(page, "#main-nav .nav-link[href='/loans/tapes']")
    assert heading(page) == "贷款台账"
    page.fill("#period", period)
    page.set_input_files("#file", {"name": f"台账-{period}.xlsx", "mimeType": XLSX, "buffer": tape})
    pages.screenshot(page, "08-tape-form")
    submit(page, page.locator(MAIN_SUBMIT))
    tape_id = id_from_url(page, r"/loans/tapes/(\d+)$")
    assert heading(page).startswith(f"贷款台账 {period}（第 ")
    assert f"已上传 {period} 贷款台账第" in flash_text(page) and "共 1 行" in flash_text(page)
    row = page.locator("#tape-rows tbody tr").inner_text()
    assert contract_no in row and enterprise["credit_code"] in row
    assert cny(disbursed) in row and cny(REPAID) in row and cny(outstanding) in row
    pages.screenshot(page, "09-tape-uploaded")

    # The tape is listed for the month, and the ledger page shows the loan with today's figures.
    page.goto(f"/loans/tapes?period={period}")
    assert page.locator(f"#tapes a[href='/loans/tapes/{tape_id}']").count() == 1
    page.goto(f"/loans?q={contract_no}")
    listed = page.locator("table tbody tr", has_text=contract_no)
    assert listed.count() == 1 and cny(api["outstanding_principal"]) in listed.inner_text()
    pages.screenshot(page, "10-ledger-with-the-new-loan")
