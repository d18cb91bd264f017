"""Exported workbooks never carry a live formula nor a character that breaks the file.

Any text cell that a spreadsheet would run (``=``, ``+``, ``-``, ``@``, tab, CR first) is written
as a string starting with ``'``; characters XML cannot hold (C0 controls) are dropped instead of
failing the whole export with a 500 (found by fuzzing ``GET /api/v1/loans/export?q=``).
The loan ledger is exported through the API and the web and read back with openpyxl.

There is no CSV export of stored data: the only CSV files served are the blank import templates.
"""
from __future__ import annotations

import io
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell

from core.db import db
from core.tabular import looks_like_formula, spreadsheet_text
from tests.loans.test_loans import rated_enterprise, today  # noqa: F401 - fixture
from tests.loans.test_loans_api import arrange_loan

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HOSTILE = {
    "name": "-2+3+cmd|' /C calc'!A0",
    "town": "\t=1+1",
    "industry": "\r=HYPERLINK(\"http://evil\")",
}
CONTRACT = "@SUM(A1:A9)"


def round_trip(values: list[str]) -> list:
    """Write ``values`` as exported text cells in one row and read the saved workbook back."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("s")
    sheet.append([WriteOnlyCell(sheet, value=spreadsheet_text(value)) for value in values])
    output = io.BytesIO()
    workbook.save(output)
    back = load_workbook(io.BytesIO(output.getvalue())).active
    return [(cell.value, cell.data_type) for row in back.iter_rows() for cell in row]


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(st.text(alphabet=st.characters(codec="utf-8"), max_size=40), min_size=1, max_size=5))
def test_any_text_exports_and_never_reads_back_as_a_formula(values):
    for value, data_type in round_trip(values):
        if value is None:
            continue
        assert data_type == "s"
        assert not looks_like_formula(value), repr(value)


@pytest.mark.parametrize("text", ["=1+1", "+1+1", "-1+A1", "@SUM(A1)", "\t=1", "\r=1", "\x01=1+1", "＝1+1"])
def test_formula_prefixes_come_back_quoted(text):
    ((value, data_type),) = round_trip([text])
    assert data_type == "s" and value.startswith("'")


def test_control_characters_are_dropped_not_fatal():
    ((value, _type),) = round_trip(["企业\x00名称\x1f\x0b"])
    assert value == "企业名称"


@pytest.fixture
def hostile_loan(app, api_as, today):  # noqa: F811
    """A liaison's loan whose contract number and enterprise texts are formulas and control characters."""
    user, headers = api_as("bank_liaison")
    with app.app_context():
        enterprise = rated_enterprise(**HOSTILE)
        db.session.commit()
        enterprise_id = enterprise.id
    arrange_loan(app, user.bank_id, enterprise_id, contract_no=CONTRACT, tranches=[("1000.00", date(2025, 3, 3))])
    return user, headers


def ledger_cells(response) -> list:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == XLSX
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    (row,) = list(sheet.iter_rows(min_row=3))
    return row


def assert_inert(row) -> None:
    texts = {cell.value for cell in row if cell.data_type == "s"}
    assert "'" + CONTRACT in texts
    assert "'" + HOSTILE["name"] in texts
    # Tab and CR first are formula triggers too; XML may fold the CR, the quote stays first.
    assert any(value.startswith("'\t=1+1") for value in texts)
    assert any(value.startswith("'") and "HYPERLINK" in value for value in texts)
    assert all(cell.data_type != "f" for cell in row)
    assert not any(looks_like_formula(value) for value in texts)


def test_the_api_ledger_neutralises_every_hostile_text(client, hostile_loan):
    _user, headers = hostile_loan
    assert_inert(ledger_cells(client.get("/api/v1/loans/export?format=xlsx", headers=headers)))


def test_the_web_ledger_neutralises_every_hostile_text(client, hostile_loan):
    user, _headers = hostile_loan
    with client.session_transaction() as session:
        session["_user_id"] = str(user.id)
        session["_fresh"] = True
        session["_pw_stamp"] = user.password_changed_at.isoformat()
    assert_inert(ledger_cells(client.get("/loans/export.xlsx")))


@pytest.mark.parametrize("url", ["/api/v1/loans/export?format=xlsx&q=%01%3D1%2B1", "/loans/export.xlsx?q=%01%3D1%2B1"])
def test_a_search_filter_with_a_control_character_still_exports(client, api_as, url, today):  # noqa: F811
    """Regression: the filter is echoed in the title row; a control character in it was a 500."""
    user, headers = api_as("admin")
    with client.session_transaction() as session:
        session["_user_id"] = str(user.id)
        session["_fresh"] = True
        session["_pw_stamp"] = user.password_changed_at.isoformat()
    response = client.get(url, headers=headers if url.startswith("/api/") else None)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    title = load_workbook(io.BytesIO(response.get_data())).active["A1"].value
    assert "关键字：=1+1" in title and "\x01" not in title
