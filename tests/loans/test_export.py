"""The loan ledger (台账) export, the loan page's DPD history and documents, and the liaison's home page.

The workbook is read back with openpyxl (and its XML, for the exact amounts); scope is proven both
ways (a liaison's ledger has its own bank's loans and never another bank's, whatever it asks for).
"""
from __future__ import annotations

import io
import re
import zipfile
from datetime import date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from core.auth.models import ROLE_VALUES
from core.db import db
from core.policy.models import Policy
from loans import export
from loans.models import Loan
from parties.models import Enterprise
from tests.factories import BankFactory
from tests.loans.test_loans import freeze_on, rated_enterprise, today  # noqa: F401 - fixture
from tests.loans.test_loans_api import StatementCounter, arrange_loan, arrange_many
from tests.test_interface import assert_csp_clean, english_catalog  # noqa: F401 - fixture

D = Decimal
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADER = [
    "合同编号", "银行", "企业名称", "统一社会信用代码", "乡镇", "行业", "合同金额", "年利率", "起始日", "到期日",
    "累计放款", "累计还本", "贷款余额", "逾期天数", "五级分类", "状态",
]
EVIL = "=cmd|' /C calc'!A0"


def workbook_of(response):
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == XLSX
    assert response.headers["Content-Disposition"].startswith("attachment")
    return load_workbook(io.BytesIO(response.get_data()))


def data_rows(sheet) -> list[list]:
    return [[cell.value for cell in row] for row in sheet.iter_rows(min_row=3)]


def contracts_in(response) -> list[str]:
    return [row[0] for row in data_rows(workbook_of(response).active)]


def stored_numbers(response, row: int) -> dict[str, str]:
    """The text of each number cell of a sheet row as stored in the XML (``{"G": "1234567.89"}``)."""
    with zipfile.ZipFile(io.BytesIO(response.get_data())) as archive:
        xml = archive.read("xl/worksheets/sheet1.xml").decode()
    cells = re.findall(rf'<c r="([A-Z]+){row}"[^>]*t="n"[^>]*><v>([^<]*)</v></c>', xml)
    return dict(cells)


@pytest.fixture
def liaison(api_as, today):  # noqa: F811
    return api_as("bank_liaison")


def arrange_ledger(app, bank_id: int) -> int:
    """A loan of ``bank_id`` to an enterprise whose name and town are formulas, with exact odd amounts:
    1,234,567.89 principal, 1,000,000.01 disbursed, 234,567.88 repaid."""
    with app.app_context():
        enterprise = rated_enterprise(name=EVIL, town="+SUM(A1:A9)", industry="@软件")
        db.session.commit()
        enterprise_id = enterprise.id
    return arrange_loan(
        app, bank_id, enterprise_id, contract_no="HT-EXACT-1", principal="1234567.89",
        tranches=[("1000000.01", date(2025, 3, 3))], repayments=[("234567.88", date(2025, 5, 20))],
    )


# ------------------------------------------------------------------------------------------ content


def test_the_ledger_holds_exact_amounts_dates_and_inert_text(client, app, liaison):
    user, headers = liaison
    arrange_ledger(app, user.bank_id)
    response = client.get("/api/v1/loans/export?format=xlsx", headers=headers)
    book = workbook_of(response)
    sheet = book.active
    bank_name = user.bank.name

    title = sheet["A1"].value
    assert bank_name in title and "2025-06-30" in title and "台账" in title
    assert sheet["A1"].font.bold
    assert [cell.value for cell in sheet[2]] == HEADER
    assert all(cell.font.bold for cell in sheet[2])
    assert sheet.freeze_panes == "A3"
    assert sheet.auto_filter.ref == "A2:P3"

    (row,) = data_rows(sheet)
    assert row[:6] == ["HT-EXACT-1", bank_name, "'" + EVIL, row[3], "'+SUM(A1:A9)", "'@软件"]
    assert row[8:10] == [datetime(2025, 3, 1), datetime(2026, 2, 28)]
    assert row[13:] == [0, "正常", "存续中"]
    # Nothing in the workbook is a formula, and every text cell is a string.
    assert all(cell.data_type != "f" for line in sheet.iter_rows() for cell in line)
    cells = sheet[3]
    assert cells[2].data_type == "s"
    for index in (6, 10, 11, 12):
        assert cells[index].number_format == "#,##0.00" and cells[index].data_type == "n"
    assert cells[8].number_format == "yyyy-mm-dd" and cells[8].is_date
    # The amounts as stored: the exact decimal text, read back as the same Decimal.
    stored = stored_numbers(response, 3)
    assert D(stored["G"]) == D("1234567.89")
    assert D(stored["H"]) == D("0.0345")
    assert D(stored["K"]) == D("1000000.01")
    assert D(stored["L"]) == D("234567.88")
    assert D(stored["M"]) == D("765432.13")
    assert stored["N"] == "0"
    assert [D(str(value)) for value in (row[6], row[10], row[11], row[12])] == [
        D("1234567.89"), D("1000000.01"), D("234567.88"), D("765432.13"),
    ]


def test_the_web_export_is_the_same_ledger(client, app, login_as, today):  # noqa: F811
    user = login_as("bank_liaison")
    arrange_ledger(app, user.bank_id)
    response = client.get("/loans/export.xlsx")
    sheet = workbook_of(response).active
    ledger = "%E7%9F%A5%E8%AF%86%E4%BB%B7%E5%80%BC%E8%B4%B7%E6%AC%BE%E5%8F%B0%E8%B4%A6"  # 知识价值贷款台账
    assert response.headers["Content-Disposition"] == (
        f"attachment; filename=loan-ledger-{user.bank.code}-2025-06-30.xlsx; "
        f"filename*=UTF-8''{ledger}-{user.bank.code}-2025-06-30.xlsx"
    )
    assert response.headers["Cache-Control"] == "no-store"
    assert [cell.value for cell in sheet[2]] == HEADER
    (row,) = data_rows(sheet)
    assert row[0] == "HT-EXACT-1" and row[2] == "'" + EVIL
    assert D(stored_numbers(response, 3)["M"]) == D("765432.13")


def test_the_ledger_as_of_a_past_day_and_overdue(client, app, liaison):
    user, headers = liaison
    arrange_ledger(app, user.bank_id)
    sheet = workbook_of(client.get("/api/v1/loans/export?as_of=2025-04-30", headers=headers)).active
    assert "2025-04-30" in sheet["A1"].value
    (row,) = data_rows(sheet)
    assert [D(str(value)) for value in row[10:13]] == [D("1000000.01"), D("0"), D("1000000.01")]
    later = "/api/v1/loans/export?as_of=2026-04-01"
    overdue_sheet = workbook_of(client.get(f"{later}&status=overdue&classification=special_mention", headers=headers)).active
    (overdue,) = data_rows(overdue_sheet)
    assert overdue[13:] == [32, "关注", "逾期"]
    assert "状态：逾期" in overdue_sheet["A1"].value and "五级分类：关注" in overdue_sheet["A1"].value
    assert data_rows(workbook_of(client.get(f"{later}&status=active", headers=headers)).active) == []


def test_an_empty_ledger_still_has_its_title_and_header(client, liaison):
    _user, headers = liaison
    sheet = workbook_of(client.get("/api/v1/loans/export", headers=headers)).active
    assert [cell.value for cell in sheet[2]] == HEADER and data_rows(sheet) == []


# -------------------------------------------------------------------------------------------- scope


def two_banks(app, liaison_bank_id: int) -> int:
    """Loans A-1, A-2 of the liaison's bank and B-1, B-2 of another bank; returns the other bank's id."""
    with app.app_context():
        other = BankFactory(name="邻县农商银行")
        enterprise = rated_enterprise(line="9000000.00")
        db.session.commit()
        other_id, enterprise_id = other.id, enterprise.id
    for n in (1, 2):
        arrange_loan(app, liaison_bank_id, enterprise_id, contract_no=f"A-{n}", principal="100000.00")
        arrange_loan(app, other_id, enterprise_id, contract_no=f"B-{n}", principal="100000.00")
    return other_id


def test_a_liaisons_ledger_never_holds_another_banks_loans(client, app, liaison):
    user, headers = liaison
    other_id = two_banks(app, user.bank_id)
    assert sorted(contracts_in(client.get("/api/v1/loans/export", headers=headers))) == ["A-1", "A-2"]
    # Asking for the other bank, or searching for its contracts, yields nothing of it.
    assert contracts_in(client.get(f"/api/v1/loans/export?bank_id={other_id}", headers=headers)) == []
    assert contracts_in(client.get("/api/v1/loans/export?q=B-", headers=headers)) == []
    book = workbook_of(client.get(f"/api/v1/loans/export?bank_id={other_id}", headers=headers))
    assert "邻县农商银行" not in str([[cell.value for cell in row] for row in book.active.iter_rows()])


def test_a_liaisons_web_ledger_ignores_another_bank_id(client, app, login_as, today):  # noqa: F811
    user = login_as("bank_liaison")
    other_id = two_banks(app, user.bank_id)
    response = client.get(f"/loans/export.xlsx?bank_id={other_id}")
    assert sorted(contracts_in(response)) == ["A-1", "A-2"]
    assert contracts_in(client.get("/loans/export.xlsx?q=B-1")) == []


def test_programme_staff_export_every_bank_or_one(client, app, api_as, today):  # noqa: F811
    _user, headers = api_as("fund_manager")
    with app.app_context():
        first = BankFactory(name="甲银行")
        db.session.commit()
        first_id = first.id
    other_id = two_banks(app, first_id)
    assert sorted(contracts_in(client.get("/api/v1/loans/export", headers=headers))) == ["A-1", "A-2", "B-1", "B-2"]
    response = client.get(f"/api/v1/loans/export?bank_id={other_id}&q=B-2", headers=headers)
    sheet = workbook_of(response).active
    assert [row[0] for row in data_rows(sheet)] == ["B-2"]
    assert "邻县农商银行" in sheet["A1"].value and "关键字：B-2" in sheet["A1"].value
    assert "全部合作银行" in workbook_of(client.get("/api/v1/loans/export", headers=headers)).active["A1"].value
    unknown = workbook_of(client.get("/api/v1/loans/export?bank_id=999999", headers=headers)).active
    assert data_rows(unknown) == [] and "未知银行" in unknown["A1"].value


# ------------------------------------------------------------------------------------------ access


@pytest.mark.parametrize("role", ROLE_VALUES)
def test_every_role_may_export(client, api_as, login_as, role, today):  # noqa: F811
    _user, headers = api_as(role)
    assert client.get("/api/v1/loans/export", headers=headers).status_code == 200
    login_as(role)
    assert client.get("/loans/export.xlsx").status_code == 200


def test_anonymous_and_bad_formats_are_refused(client, liaison):
    _user, headers = liaison
    response = client.get("/api/v1/loans/export")
    assert response.status_code == 401 and response.get_json()["code"] == 401
    web = client.get("/loans/export.xlsx")
    assert web.status_code == 302 and "/login" in web.headers["Location"]
    refused = client.get("/api/v1/loans/export?format=csv", headers=headers)
    assert refused.status_code == 422 and "format" in refused.get_json()["errors"]
    assert client.get("/api/v1/loans/export?status=lost", headers=headers).status_code == 422


def test_the_export_is_described_in_openapi(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/loans/export"]["get"]
    assert XLSX in operation["responses"]["200"]["content"]
    assert {"format", "bank_id", "classification", "status", "q", "as_of"} <= {p["name"] for p in operation["parameters"]}


# --------------------------------------------------------------------------------------- efficiency


def test_the_export_costs_the_same_queries_for_10_and_100_loans(client, app, api_as, today):  # noqa: F811
    _user, headers = api_as("auditor")
    arrange_many(app, 10)
    with app.app_context():
        engine = db.engine
    with StatementCounter(engine) as few:
        small = client.get("/api/v1/loans/export?as_of=2026-04-01", headers=headers)
    assert len(contracts_in(small)) == 10
    arrange_many(app, 90, start=10)
    with StatementCounter(engine) as many:
        large = client.get("/api/v1/loans/export?as_of=2026-04-01&classification=special_mention", headers=headers)
    rows = data_rows(workbook_of(large).active)
    assert len(rows) == 100 and all(row[13] == 32 and row[14] == "关注" for row in rows)
    assert 0 < few.count <= 8, few.count
    assert many.count == few.count, (few.count, many.count)


def test_pages_of_the_ledger_follow_the_list_order(client, app, api_as, today, monkeypatch):  # noqa: F811
    """Read in pages (here of 3), by keyset on (start date, id): every loan once, in the list's order."""
    _user, headers = api_as("fund_officer")
    with app.app_context():
        bank = BankFactory()
        enterprise = rated_enterprise(line="9000000.00")
        db.session.commit()
        bank_id, enterprise_id = bank.id, enterprise.id
    for n in range(10):  # pairs of loans share a start date, so the id breaks the ties
        arrange_loan(app, bank_id, enterprise_id, contract_no=f"P-{n}", principal="100000.00",
                     start_date=date(2025, 3, 1 + n // 2))
    listed = [item["contract_no"] for item in client.get("/api/v1/loans?per_page=50", headers=headers).get_json()["items"]]
    with app.app_context():
        engine = db.engine
    with StatementCounter(engine) as whole:
        client.get("/api/v1/loans/export", headers=headers)
    monkeypatch.setattr(export, "CHUNK_SIZE", 3)
    with StatementCounter(engine) as paged:
        response = client.get("/api/v1/loans/export", headers=headers)
    assert contracts_in(response) == listed and len(listed) == 10
    assert paged.count == whole.count + 3  # four pages of 3 instead of one


def test_ten_thousand_loans_export_in_ten_pages(client, app, api_as, today):  # noqa: F811
    _user, headers = api_as("auditor")
    with app.app_context():
        bank = BankFactory()
        db.session.flush()
        policy_id = db.session.scalar(sa.select(Policy.id).order_by(Policy.effective_from))
        db.session.execute(sa.insert(Enterprise), [
            {"name": f"企业{n:05d}", "credit_code": f"E{n:017d}", "registered_on": date(2020, 1, 1), "town": "城关镇",
             "industry": "制造业", "is_science_tech": True}
            for n in range(10_000)
        ])
        ids = db.session.scalars(sa.select(Enterprise.id).order_by(Enterprise.id)).all()
        db.session.execute(sa.insert(Loan), [
            {"bank_id": bank.id, "enterprise_id": enterprise_id, "contract_no": f"T{n:05d}", "principal": D("500000.00"),
             "annual_rate": D("0.04"), "start_date": date(2025, 1, 1), "maturity_date": date(2025, 12, 31),
             "purpose": "", "status": "active", "disbursed_total": D("500000.00"), "repaid_principal": D("0.01"),
             "policy_id": policy_id, "created_by": "bulk"}
            for n, enterprise_id in enumerate(ids)
        ])
        db.session.commit()
        engine = db.engine
    with StatementCounter(engine) as counter:
        response = client.get("/api/v1/loans/export", headers=headers)
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.get_data()), read_only=True)
    rows = [list(row) for row in book.active.iter_rows(min_row=3, values_only=True)]
    assert len(rows) == 10_000 and len({row[0] for row in rows}) == 10_000
    assert all(D(str(row[12])) == D("499999.99") for row in rows[:50])
    assert counter.count <= 20, counter.count


# ------------------------------------------------------------------------------------ the list page


def test_the_list_page_offers_the_ledger_with_its_filters(client, login_as, today):  # noqa: F811
    login_as("fund_manager")
    html = client.get("/loans?status=overdue&classification=loss&q=星火&as_of=2025-05-31").get_data(as_text=True)
    match = re.search(r'<a class="btn btn-outline-secondary" href="([^"]+)"\s+download>', html)
    assert match, html
    url = match.group(1).replace("&amp;", "&")
    assert url.startswith("/loans/export.xlsx?")
    for part in ("status=overdue", "classification=loss", "as_of=2025-05-31", "q=%E6%98%9F%E7%81%AB"):
        assert part in url
    assert "导出 Excel 台账" in html
    bare = client.get("/loans").get_data(as_text=True)
    assert 'href="/loans/export.xlsx"' in bare


# ----------------------------------------------------------------------------------- the loan page


def test_the_loan_page_shows_its_month_end_dpd_history_and_documents(client, app, login_as, today):  # noqa: F811
    user = login_as("bank_liaison")
    loan_id = arrange_ledger(app, user.bank_id)
    freeze_on(date(2026, 4, 1))
    response = client.get(f"/loans/{loan_id}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    days = re.findall(r'<tr data-day="([0-9-]+)" data-dpd="([0-9]+)" data-outstanding="([0-9.]+)">', html)
    # Month ends from the start month to March 2026, then today; newest first.
    assert days[0] == ("2026-04-01", "32", "765432.13")
    assert days[1] == ("2026-03-31", "31", "765432.13")
    assert days[-1] == ("2025-03-31", "0", "1000000.01")
    assert len(days) == 14
    assert ("2025-05-31", "0", "765432.13") in days
    assert "2026年03月31日" in html or "2026-03-31" in html
    assert 'data-dpd-chart' in html and "js/loan_detail.js" in html and "chartjs/chart.umd.min.js" in html
    assert "文档" in html and "暂无文档" in html
    assert_csp_clean(html)


def test_a_loan_page_before_its_start_has_no_history_and_no_chart(client, app, login_as, today):  # noqa: F811
    user = login_as("bank_liaison")
    with app.app_context():
        enterprise = rated_enterprise()
        db.session.commit()
        enterprise_id = enterprise.id
    loan_id = arrange_loan(app, user.bank_id, enterprise_id, contract_no="EARLY-1")
    html = client.get(f"/loans/{loan_id}?as_of=2025-02-01").get_data(as_text=True)
    assert "合同尚未起始" in html and "data-dpd-chart" not in html and "loan_detail.js" not in html


# ---------------------------------------------------------------------------------- the home page


def test_the_liaisons_home_links_its_tasks(client, login_as):
    login_as("bank_liaison")
    html = client.get("/").get_data(as_text=True)
    for url in ("/loans", "/loans/new", "/loans/batch", "/loans/tapes", "/progress"):
        assert f'href="{url}"' in html, url
    assert "本行贷款" in html and "风险代偿申请" in html
    assert_csp_clean(html)


def test_an_api_client_asking_for_english_gets_an_english_ledger(client, app, liaison, english_catalog):
    user, headers = liaison
    arrange_ledger(app, user.bank_id)
    response = client.get("/api/v1/loans/export", headers={**headers, "Accept-Language": "en"})
    book = workbook_of(response)
    sheet = book.active
    assert book.sheetnames == ["Loan ledger"]
    assert "ledger (as of 2025-06-30)" in sheet["A1"].value
    assert [cell.value for cell in sheet[2]][:6] == ["Contract number", "Bank", "Enterprise name",
                                                     "Unified social credit code", "Town", "Industry"]
    (row,) = data_rows(sheet)
    assert row[14:] == ["Normal", "Active"]
