"""GET /api/v1/documents, GET /documents/{id}/pdf, POST /statements and the rows' Excel: roles, a
liaison's bank scope, SHA-256 of the bytes, versions, and refusals that write nothing."""
from __future__ import annotations

import hashlib
from io import BytesIO

import pytest
from openpyxl import load_workbook

from config import documents_jobs
from core.db import db
from parties.models import Bank, Enterprise
from risk.models import RiskClaim
from tests.documents.conftest import PERIOD, flat, pdf_text, run_in_app
from tests.factories import BankFactory, EnterpriseFactory, LoanFactory

ERROR_KEYS = {"code", "status", "message", "errors"}


def assert_error(response, code: int) -> dict:
    assert response.status_code == code, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == ERROR_KEYS and body["code"] == code
    return body


@pytest.fixture
def issued(app, world):
    """The world's contract and notice, and the monthly statements of the period; committed."""
    run_in_app(app, documents_jobs.render_missing_documents)
    run_in_app(app, documents_jobs.generate_monthly_statements, PERIOD)
    return world


def _list(client, headers, **params) -> dict:
    response = client.get("/api/v1/documents", query_string=params, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_the_list_filters_by_kind_period_and_bank(client, issued):
    auditor = issued.risk.auditor.headers
    everything = _list(client, auditor, per_page=200)
    assert everything["total"] == len(everything["items"]) >= 6
    item = everything["items"][0]
    assert {"id", "kind", "title", "period", "sha256", "created_at", "version", "pdf_url"} <= set(item)
    assert len(item["sha256"]) == 64

    contracts = _list(client, auditor, kind="contract")["items"]
    assert [c["title"] for c in contracts] == [c["title"] for c in contracts if issued.contract_no in c["title"]]
    assert len(contracts) == 1 and contracts[0]["period"] is None
    statements = _list(client, auditor, kind="bank_statement", period=PERIOD)["items"]
    assert statements and all(s["period"] == PERIOD and PERIOD in s["title"] for s in statements)
    own = _list(client, auditor, bank_id=issued.risk.bank_id)["items"]
    assert {d["kind"] for d in own} == {"bank_statement", "compensation_notice"}
    assert _list(client, auditor, period="2024-01")["total"] == 0
    assert_error(client.get("/api/v1/documents?kind=memo", headers=auditor), 422)
    assert_error(client.get("/api/v1/documents?period=2025-6", headers=auditor), 422)
    assert_error(client.get("/api/v1/documents?per_page=201", headers=auditor), 422)


@pytest.mark.parametrize("role", ["admin", "fund_officer", "fund_manager", "auditor"])
def test_every_programme_role_lists_and_downloads_and_the_bytes_hash_to_the_listed_sha256(client, api_as, issued, role):
    _user, headers = api_as(role)
    items = _list(client, headers, per_page=200)["items"]
    assert {d["kind"] for d in items} == {"contract", "compensation_notice", "bank_statement", "fund_statement", "progress"}
    for document in items:
        response = client.get(document["pdf_url"], headers=headers)
        assert response.status_code == 200 and response.mimetype == "application/pdf"
        body = response.get_data()
        assert hashlib.sha256(body).hexdigest() == document["sha256"] == response.headers["X-Content-SHA256"]
        assert len(body) == document["size"]
        assert "attachment" in response.headers["Content-Disposition"]


def test_anonymous_callers_get_401(client, issued):
    assert_error(client.get("/api/v1/documents"), 401)
    assert_error(client.get("/api/v1/documents/1/pdf"), 401)
    assert_error(client.post("/api/v1/statements", json={}), 401)


def test_a_liaison_sees_only_its_own_banks_documents(app, client, api_as, issued):
    own = issued.risk.liaison.headers
    items = _list(client, own, per_page=200)["items"]
    assert items and {d["bank_id"] for d in items} == {issued.risk.bank_id}
    assert {d["kind"] for d in items} == {"bank_statement", "compensation_notice"}
    for document in items:
        assert client.get(document["pdf_url"], headers=own).status_code == 200

    # Another bank's liaison: the same documents are absent from its list and 404 by id.
    other = issued.risk.liaison_b.headers
    theirs = _list(client, other, per_page=200)["items"]
    assert all(d["bank_id"] == issued.risk.liaison_b.bank_id for d in theirs)
    assert not {d["id"] for d in items} & {d["id"] for d in theirs}
    assert _list(client, other, bank_id=issued.risk.bank_id)["total"] == 0
    for document in items:
        assert_error(client.get(f"/api/v1/documents/{document['id']}", headers=other), 404)
        assert_error(client.get(document["pdf_url"], headers=other), 404)
    # Programme documents (fund statements, the progress report) are no liaison's.
    everything = _list(client, issued.risk.auditor.headers, per_page=200)["items"]
    programme = [d for d in everything if d["bank_id"] is None]
    assert programme
    for document in programme:
        assert_error(client.get(document["pdf_url"], headers=own), 404)


def test_the_agent_banks_liaison_sees_the_seed_contract(app, client, api_as, issued):
    with app.app_context():
        bank = db.session.get(Bank, issued.seed.bank_id)
        db.session.expunge(bank)
    _user, agent = api_as("bank_liaison", bank=bank)
    kinds = {d["kind"] for d in _list(client, agent, per_page=200)["items"]}
    assert "contract" in kinds


def test_an_unknown_document_is_404(client, issued):
    assert_error(client.get("/api/v1/documents/999999/pdf", headers=issued.risk.auditor.headers), 404)


# ------------------------------------------------------------------------------------------ statements


def test_an_auditor_requests_a_statement_for_any_bank_and_range(app, client, issued):
    auditor = issued.risk.auditor.headers
    body = {"bank_id": issued.risk.bank_id, "start": "2025-03-01", "end": "2025-11-30"}
    response = client.post("/api/v1/statements", json=body, headers=auditor)
    assert response.status_code == 201, response.get_data(as_text=True)
    document = response.get_json()
    assert document["kind"] == "bank_statement" and document["period"] is None
    assert (document["period_start"], document["period_end"]) == ("2025-03-01", "2025-11-30")
    assert "2025-03-01 至 2025-11-30" in document["title"] and document["created_by"] == issued.risk.auditor.user.username
    data = client.get(document["pdf_url"], headers=auditor).get_data()
    assert hashlib.sha256(data).hexdigest() == document["sha256"]
    text = flat(pdf_text(data))
    assert "¥1,000,000.00" in text and "2025-03-02" in text  # the tranche disbursed in the range
    assert document["rows_url"] == f"/api/v1/statements/{document['id']}/rows.xlsx"

    for fund in ("seed", "risk"):
        response = client.post("/api/v1/statements", json={"fund": fund, "start": "2025-01-01", "end": "2025-12-31"},
                               headers=auditor)
        assert response.status_code == 201, response.get_data(as_text=True)
        assert response.get_json()["kind"] == "fund_statement"


def test_a_statement_for_a_month_already_issued_is_its_next_version(app, client, issued):
    auditor = issued.risk.auditor.headers
    (first,) = [d for d in _list(client, auditor, kind="bank_statement", period=PERIOD, bank_id=issued.risk.bank_id)["items"]]
    first_bytes = client.get(first["pdf_url"], headers=auditor).get_data()
    response = client.post("/api/v1/statements", json={"bank_id": issued.risk.bank_id, "start": "2025-12-01",
                                                       "end": "2025-12-31"}, headers=auditor)
    second = response.get_json()
    assert response.status_code == 201 and second["period"] == PERIOD
    assert (first["version"], second["version"]) == (1, 2)
    versions = _list(client, auditor, kind="bank_statement", period=PERIOD, bank_id=issued.risk.bank_id)["items"]
    assert [d["version"] for d in versions] == [2, 1]
    # The first version is still there, byte for byte.
    again = client.get(first["pdf_url"], headers=auditor).get_data()
    assert again == first_bytes and hashlib.sha256(again).hexdigest() == first["sha256"]
    assert "第2版" in flat(pdf_text(client.get(second["pdf_url"], headers=auditor).get_data()))


@pytest.mark.parametrize("role", ["admin", "fund_officer", "fund_manager", "bank_liaison"])
def test_only_auditors_request_statements(client, api_as, row_counts, issued, role):
    _user, headers = api_as(role)
    before = row_counts()
    body = {"fund": "seed", "start": "2025-12-01", "end": "2025-12-31"}
    assert_error(client.post("/api/v1/statements", json=body, headers=headers), 403)
    assert row_counts() == before


@pytest.mark.parametrize(
    "body, field",
    [
        ({"start": "2025-12-01", "end": "2025-12-31"}, "bank_id"),
        ({"fund": "seed", "bank_id": 1, "start": "2025-12-01", "end": "2025-12-31"}, "bank_id"),
        ({"fund": "seed", "start": "2025-12-31", "end": "2025-12-01"}, "end"),
        ({"fund": "seed", "start": "2025-12-01", "end": "2026-01-31"}, "end"),  # after today
        ({"fund": "seed", "start": "2019-01-01", "end": "2025-12-31"}, "end"),  # too long
        ({"fund": "seed", "start": "2025-12-01"}, "end"),
        ({"fund": "gold", "start": "2025-12-01", "end": "2025-12-31"}, "fund"),
        ({"bank_id": 987654, "start": "2025-12-01", "end": "2025-12-31"}, "bank_id"),
    ],
)
def test_a_bad_statement_request_is_422_and_writes_nothing(client, row_counts, issued, body, field):
    before = row_counts()
    error = assert_error(client.post("/api/v1/statements", json=body, headers=issued.risk.auditor.headers), 422)
    assert field in error["errors"], error
    assert row_counts() == before


def test_the_statement_rows_download_as_excel_with_formulas_neutralised(app, client, api_as):
    with app.app_context():
        bank = BankFactory(name="测试银行")
        enterprise = EnterpriseFactory(name='=HYPERLINK("http://evil.example","点此")')
        LoanFactory(bank=bank, enterprise=enterprise, contract_no="@SUM(1+1)", overdue=True)
        db.session.commit()
        bank_id, enterprise_id = bank.id, enterprise.id
    _user, auditor = api_as("auditor")
    document = client.post("/api/v1/statements", json={"bank_id": bank_id, "start": "2025-12-01", "end": "2025-12-31"},
                           headers=auditor).get_json()
    response = client.get(document["rows_url"], headers=auditor)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    workbook = load_workbook(BytesIO(response.get_data()))
    assert "五、期末贷款余额明细" in workbook.sheetnames
    sheet = workbook["五、期末贷款余额明细"]
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows[1][:4] == ["合同编号", "借款企业", "到期日", "贷款余额（元）"]
    assert rows[2][0] == "'@SUM(1+1)" and rows[2][1] == "'=HYPERLINK(\"http://evil.example\",\"点此\")"
    assert rows[2][3] == 1000000 and sheet.cell(row=3, column=4).number_format == "#,##0.00"
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert not (isinstance(cell.value, str) and cell.value[:1] in "=+-@"), (sheet.title, cell.value)
    with app.app_context():  # stored as typed: only the export neutralises it
        assert db.session.get(Enterprise, enterprise_id).name.startswith("=")


def test_documents_without_rows_have_no_excel(client, issued):
    auditor = issued.risk.auditor.headers
    (contract,) = _list(client, auditor, kind="contract")["items"]
    assert contract["rows_url"] is None and contract["has_rows"] is False
    assert_error(client.get(f"/api/v1/statements/{contract['id']}/rows.xlsx", headers=auditor), 404)


def test_a_liaison_downloads_its_own_statements_rows_but_not_another_banks(client, issued):
    own = _list(client, issued.risk.liaison.headers, kind="bank_statement")["items"][0]
    assert client.get(own["rows_url"], headers=issued.risk.liaison.headers).status_code == 200
    assert_error(client.get(own["rows_url"], headers=issued.risk.liaison_b.headers), 404)


def test_the_openapi_document_describes_the_endpoints(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"/api/v1/documents", "/api/v1/documents/{document_id}/pdf", "/api/v1/statements",
            "/api/v1/statements/{document_id}/rows.xlsx"} <= set(paths)


def test_claims_notice_is_marked_issued_with_the_document(app, issued):
    with app.app_context():
        assert db.session.get(RiskClaim, issued.claim_id).notice_pending is False
