"""Hostile files through every upload door: the batch imports and the bank tape, by API and by web form.

Each file is one a bank's clerk or an attacker could send: binary garbage, text in an encoding the
importer cannot read, a GBK CSV from Chinese Excel (read: GB18030 is a superset of GBK), a zip bomb,
a workbook with a broken structure, formula-injected cells, a huge cell, a very wide row, too many
rows, and a body over ``MAX_CONTENT_LENGTH``. Every one is refused cleanly: a 4xx (never a 5xx),
a Chinese message naming the row and column where there is one, and not one row written anywhere.

The parsers' own cases live in ``tests/core/test_tabular.py`` and ``tests/loans/test_batch_format.py``;
this module proves the doors (views, unit of work, error pages) hold for the same files.
"""
from __future__ import annotations

import io
import random
import re
import zipfile
from dataclasses import dataclass

import pytest
from openpyxl import Workbook

from core import tabular
from loans import batch
from tests.support import post_form

ERROR_KEYS = {"code", "status", "message", "errors"}
CJK = re.compile(r"[\u4e00-\u9fff]")
BATCH_HEADER = "合同编号,金额,放款日期,银行流水号"
REPAYMENT_HEADER = "合同编号,还款本金,利息,还款日期,银行流水号"
TAPE_HEADER = "合同编号,统一社会信用代码,累计放款,累计还本,贷款余额,逾期天数"
FORMULAS = ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1:A9)"]


@dataclass(frozen=True)
class Door:
    """One way in: ``kind`` picks the header the files are built on."""

    name: str
    kind: str  # "batch", "repayments" or "tape"
    web: bool

    def send(self, client, headers, bank_id: int, data: bytes, filename: str):
        file = (io.BytesIO(data), filename)
        if self.web:
            if self.kind == "tape":
                form = {"period": "2025-06", "file": file}
                return post_form(client, "/loans/tapes", form, content_type="multipart/form-data")
            kind = "repayments" if self.kind == "repayments" else "disbursements"
            return post_form(client, "/loans/batch", {"kind": kind, "file": file}, content_type="multipart/form-data")
        if self.kind == "tape":
            url, form = f"/api/v1/banks/{bank_id}/tapes", {"period": "2025-06", "file": file}
        else:
            url = "/api/v1/loans/batch" if self.kind == "batch" else "/api/v1/loans/repayments/batch"
            form = {"file": file}
        return client.post(url, data=form, headers=headers, content_type="multipart/form-data")


DOORS = [
    Door("api-batch", "batch", web=False),
    Door("api-repayments", "repayments", web=False),
    Door("api-tape", "tape", web=False),
    Door("web-batch", "batch", web=True),
    Door("web-repayments", "repayments", web=True),
    Door("web-tape", "tape", web=True),
]


def header_of(kind: str) -> str:
    return {"batch": BATCH_HEADER, "repayments": REPAYMENT_HEADER, "tape": TAPE_HEADER}[kind]


def good_row(kind: str, contract: str = "HT-NONE-1", ref: str = "REF-1") -> list[str]:
    """A well-formed row (its contract need not exist: the files below fail before that matters)."""
    if kind == "batch":
        return [contract, "1000.00", "2025-06-01", ref]
    if kind == "repayments":
        return [contract, "100.00", "1.00", "2025-06-01", ref]
    return [contract, "91350100MA2XXXXX0X", "1000.00", "0.00", "1000.00", "0"]


def csv_bytes(kind: str, rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    lines = [header_of(kind)] + [",".join(row) for row in rows]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def xlsx_bytes(kind: str, rows: list[list[str]], *, formulas: bool = False) -> bytes:
    """A workbook of text cells; with ``formulas``, text starting with ``=`` is written as a real formula
    (openpyxl's default, no cached value: nothing computed it), else as a string cell, as a clerk
    typing ``'=...`` or an attacker editing the XML would store it."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header_of(kind).split(","))
    for row in rows:
        sheet.append(row)
    if not formulas:
        for line in sheet.iter_rows(min_row=2):
            for cell in line:
                if isinstance(cell.value, str):
                    cell.data_type = "s"
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()


def zip_bomb(kind: str) -> bytes:
    """A real workbook whose one sheet unzips to more than the importer's ceiling (256 MB from about 0.3 MB)."""
    base = zipfile.ZipFile(io.BytesIO(xlsx_bytes(kind, [good_row(kind)])))
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as bomb:
        for item in base.infolist():
            content = base.read(item.filename)
            if item.filename != "xl/worksheets/sheet1.xml":
                bomb.writestr(item.filename, content)
                continue
            head, tail = content.split(b"<sheetData>", 1)
            with bomb.open(item.filename, "w", force_zip64=True) as sheet:
                sheet.write(head + b"<sheetData>")
                chunk = b" " * (8 * 1024 * 1024)
                for _ in range(tabular.MAX_XLSX_UNCOMPRESSED_BYTES // len(chunk) + 1):
                    sheet.write(chunk)
                sheet.write(tail)
    return output.getvalue()


def broken_workbook(kind: str) -> bytes:
    """A zip that claims to be a workbook (content types, workbook part) whose sheet is not XML."""
    base = zipfile.ZipFile(io.BytesIO(xlsx_bytes(kind, [good_row(kind)])))
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as broken:
        for item in base.infolist():
            content = base.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                content = b"<worksheet><sheetData><row r='1'><c r='A1' t='s'><v>99</v></c>" + b"\x00\xff" * 50
            broken.writestr(item.filename, content)
    return output.getvalue()


def binary_garbage() -> bytes:
    noise = random.Random(20261201)
    return bytes(noise.randrange(256) for _ in range(4096))


def assert_refused(response, door: Door, status: int = 422, *needles: str) -> str:
    """4xx, Chinese, in the door's own shape (JSON error for the API, an error page for the web)."""
    text = response.get_data(as_text=True)
    assert response.status_code == status, text[:800]
    if door.web:
        assert response.mimetype == "text/html"
        page = re.sub(r"<[^>]+>", "", text)
        for needle in needles:
            assert needle in page, (needle, page[-3000:])
        return page
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == ERROR_KEYS and body["code"] == status
    assert CJK.search(body["message"]), body
    shown = body["message"] + " " + " ".join(m for messages in body["errors"].values() for m in messages)
    for needle in needles:
        assert needle in shown, (needle, body)
    return shown


@pytest.fixture
def liaison(api_as, client):
    """A bank liaison with bearer headers for the API, and the web ``client`` logged in as the same person."""
    user, headers = api_as("bank_liaison")
    with client.session_transaction() as session:  # as the login page does (see ``login_as``)
        session["_user_id"] = str(user.id)
        session["_fresh"] = True
        session["_pw_stamp"] = user.password_changed_at.isoformat()
    return user, headers


def send_as(door: Door, client, liaison, data: bytes, filename: str):
    user, headers = liaison
    return door.send(client, headers, user.bank_id, data, filename)


# ------------------------------------------------------------------------------- unreadable bytes


@pytest.mark.parametrize("door", DOORS, ids=lambda door: door.name)
@pytest.mark.parametrize(
    ("make", "filename", "needle"),
    [
        pytest.param(lambda kind: binary_garbage(), "upload.csv", "CSV", id="binary-garbage"),
        pytest.param(lambda kind: csv_bytes(kind, [good_row(kind)], "utf-16-le"), "upload.csv", "编码",
                     id="utf-16-without-bom"),
        pytest.param(lambda kind: csv_bytes(kind, [good_row(kind)], "utf-32"), "upload.csv", "编码", id="utf-32"),
        pytest.param(lambda kind: binary_garbage(), "upload.xlsx", "Excel", id="garbage-named-xlsx"),
        pytest.param(broken_workbook, "upload.xlsx", "Excel", id="xlsx-broken-structure"),
        pytest.param(lambda kind: xlsx_bytes(kind, [good_row(kind)])[:-200], "upload.xlsx", "Excel",
                     id="xlsx-truncated"),
    ],
)
def test_unreadable_files_are_refused_and_write_nothing(client, liaison, row_counts, door, make, filename,
                                                        needle):
    data = make(door.kind)
    before = row_counts()

    response = send_as(door, client, liaison, data, filename)

    assert_refused(response, door, 422, needle)
    assert row_counts() == before


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """One bomb serves every door: it is refused by its unpacked size, before any header is read."""
    return zip_bomb("batch")


@pytest.mark.parametrize("door", DOORS, ids=lambda door: door.name)
def test_a_zip_bomb_is_refused_before_it_is_unpacked(client, liaison, row_counts, bomb, door):
    data = bomb
    assert len(data) < 2 * 1024 * 1024  # small on the wire (far below the upload limit), over 256 MB unpacked
    before = row_counts()

    response = send_as(door, client, liaison, data, "bomb.xlsx")

    assert_refused(response, door, 422, "过大")
    assert row_counts() == before


# --------------------------------------------------------------------------------- GBK from Excel


@pytest.mark.parametrize("door", DOORS, ids=lambda door: door.name)
def test_a_gbk_csv_from_chinese_excel_is_read(client, liaison, row_counts, door):
    """GBK is decoded (GB18030 contains it): the refusal is about the row's content, not the encoding."""
    data = csv_bytes(door.kind, [good_row(door.kind, contract="HT-未登记-1")], "gbk")
    before = row_counts()

    response = send_as(door, client, liaison, data, "导入.csv")

    shown = assert_refused(response, door, 422, "第 2 行")
    assert "编码" not in shown
    if door.kind != "tape":
        assert "HT-未登记-1" in shown  # the Chinese text came through intact
    assert row_counts() == before


# ------------------------------------------------------------------------------ formula injection


@pytest.mark.parametrize("door", DOORS, ids=lambda door: door.name)
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("formula", FORMULAS, ids=["dde", "plus", "minus", "at"])
def test_a_formula_in_a_text_cell_is_refused_naming_row_and_column(client, liaison, row_counts, door,
                                                                   fmt, formula):
    rows = [good_row(door.kind, contract="HT-1", ref="R-1"), good_row(door.kind, contract=formula, ref="R-2")]
    if fmt == "csv":
        data = csv_bytes(door.kind, [[f'"{cell}"' for cell in row] for row in rows])
    else:
        data = xlsx_bytes(door.kind, rows)
    before = row_counts()

    response = send_as(door, client, liaison, data, f"upload.{fmt}")

    assert_refused(response, door, 422, "第 3 行", "合同编号", "公式")
    assert row_counts() == before


@pytest.mark.parametrize("door", DOORS, ids=lambda door: door.name)
def test_a_real_formula_cell_is_never_evaluated_and_its_row_is_refused(client, liaison, row_counts, door):
    """A workbook is read for the values Excel saved; a formula nothing computed has none: the row is
    refused by its column, and the formula never runs here."""
    rows = [good_row(door.kind, contract=FORMULAS[0], ref="R-2")]
    data = xlsx_bytes(door.kind, rows, formulas=True)
    before = row_counts()

    response = send_as(door, client, liaison, data, "upload.xlsx")

    assert_refused(response, door, 422, "第 2 行", "合同编号")
    assert row_counts() == before


# ----------------------------------------------------------------------------------- sheer size


@pytest.mark.parametrize("door", DOORS, ids=lambda door: door.name)
def test_a_huge_cell_is_refused(client, liaison, row_counts, door):
    row = good_row(door.kind)
    row[0] = "H" * 300_000
    before = row_counts()

    response = send_as(door, client, liaison, csv_bytes(door.kind, [row]), "upload.csv")

    assert_refused(response, door, 422)
    assert row_counts() == before


@pytest.mark.parametrize("door", DOORS, ids=lambda door: door.name)
def test_a_very_wide_row_is_refused_naming_its_row(client, liaison, row_counts, door):
    row = good_row(door.kind) + [f"x{index}" for index in range(5000)]
    before = row_counts()

    response = send_as(door, client, liaison, csv_bytes(door.kind, [row]), "upload.csv")

    assert_refused(response, door, 422, "第 2 行")
    assert row_counts() == before


@pytest.mark.parametrize("door", DOORS, ids=lambda door: door.name)
def test_too_many_rows_are_refused_naming_the_limit(client, liaison, row_counts, door, monkeypatch):
    limit = 200  # the real ceilings are 20,000 / 50,000 rows; the rule is the same
    monkeypatch.setattr(batch, "MAX_BATCH_ROWS", limit)
    monkeypatch.setattr(batch, "MAX_TAPE_ROWS", limit)
    rows = [good_row(door.kind, contract=f"HT-{index}", ref=f"R-{index}") for index in range(limit + 1)]
    before = row_counts()

    response = send_as(door, client, liaison, csv_bytes(door.kind, rows), "upload.csv")

    assert_refused(response, door, 422, f"{limit} 行")
    assert row_counts() == before


@pytest.mark.parametrize("door", DOORS, ids=lambda door: door.name)
def test_a_body_over_the_upload_limit_is_413(app, client, liaison, row_counts, door):
    limit = app.config["MAX_CONTENT_LENGTH"]
    rows = [good_row(door.kind, contract=f"HT-{index:07d}", ref=f"R-{index:07d}") for index in range(limit // 40)]
    data = csv_bytes(door.kind, rows)
    assert len(data) > limit
    before = row_counts()

    response = send_as(door, client, liaison, data, "upload.csv")

    assert response.status_code == 413
    if not door.web:
        body = response.get_json()
        assert set(body) == ERROR_KEYS and body["code"] == 413 and CJK.search(body["message"])
    assert row_counts() == before
