"""Unit tests for core.tabular: reading uploaded CSV/XLSX tables, and formula neutralisation.

Domain-free tables are built in the tests (openpyxl writes the workbooks); the partner
banks' real sample files are exercised in tests/loans/test_batch_format.py.
"""
from __future__ import annotations

import io
import zipfile
from datetime import date, datetime, time
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import Workbook

from core import tabular
from core.tabular import (
    ErrorCell,
    RowData,
    Table,
    TableError,
    looks_like_formula,
    neutralise_formula,
    read_table,
)

D = Decimal
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the signature of legacy .xls and encrypted workbooks


def xlsx(
    *rows, sheet_title: str = "Sheet", extra_sheets: int = 0, text_cells: dict[str, str] | None = None
) -> bytes:
    """A workbook whose first sheet holds ``rows`` (None leaves a cell empty).

    ``text_cells`` places strings that openpyxl would otherwise store as formulas
    (a leading "="), forced to the text type as a user typing '=... would get.
    """
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = sheet_title
    for row in rows:
        sheet.append(list(row))
    for coordinate, text in (text_cells or {}).items():
        sheet[coordinate].value = text
        sheet[coordinate].data_type = "s"
    for index in range(extra_sheets):
        workbook.create_sheet(f"other{index}").append(["ignored"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# ------------------------------------------------------------------------------------- CSV


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_encodings(encoding):
    data = "合同编号,金额\r\nDJ-1,\"1,000.00\"\r\nDJ-2,￥5\r\n".encode(encoding)
    table = read_table(data, "batch.csv")
    assert table.headers == ["合同编号", "金额"]
    assert table.rows == [RowData(2, ("DJ-1", "1,000.00")), RowData(3, ("DJ-2", "￥5"))]
    assert table.header_row == 1


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_csv_delimiter_is_sniffed_from_the_header(delimiter):
    data = delimiter.join(["a", "b", "c"]) + "\n" + delimiter.join(["1,5", "x", "y"]) + "\n"
    if delimiter == ",":
        data = 'a,b,c\n"1,5",x,y\n'
    table = read_table(data.encode(), "t.csv")
    assert table.headers == ["a", "b", "c"]
    assert table.rows[0].cells == ("1,5", "x", "y")


def test_csv_single_column():
    table = read_table(b"only\nvalue\n", "t.csv")
    assert table.headers == ["only"]
    assert table.rows == [RowData(2, ("value",))]


def test_csv_row_numbers_count_blank_lines_and_multiline_cells_like_excel():
    data = 'h1,h2\n\na,"two\nlines"\n,\n  , \nb,c\n'.encode()
    table = read_table(data, "t.csv")
    # line 2 is blank, record 3 spans two lines, records 4 and 5 are blank cells only.
    assert [row.number for row in table.rows] == [3, 6]
    assert table.rows[0].cells == ("a", "two\nlines")


def test_csv_excel_error_literals_are_error_cells():
    table = read_table(b"h1,h2,h3\n#N/A, #div/0! ,#NA\n", "t.csv")
    assert table.rows[0].cells == (ErrorCell("#N/A"), ErrorCell("#DIV/0!"), "#NA")


def test_leading_blank_rows_move_the_header_down():
    table = read_table(b"\n\nh1,h2\nx,y\n", "t.csv")
    assert table.header_row == 3
    assert table.rows[0].number == 4


def test_trailing_blank_headers_are_dropped_but_cells_are_kept():
    table = read_table(b"h1,h2,,\nx,y,,z\n", "t.csv")
    assert table.headers == ["h1", "h2"]
    assert table.rows[0].cells == ("x", "y", None, "z")
    assert table.rows[0].cell(3) == "z"
    assert table.rows[0].cell(10) is None


def test_filename_extension_is_case_insensitive():
    assert read_table(b"h\nv\n", "BATCH.CSV").headers == ["h"]
    assert read_table(xlsx(["h"], ["v"]), "Batch.XLSX").headers == ["h"]


# ------------------------------------------------------------------------------------ XLSX


def test_xlsx_values_keep_their_types_without_float_arithmetic():
    data = xlsx(
        ["text", "int", "decimal", "tiny", "date", "datetime", "bool", "time"],
        ["DJ-1", 800000, 1234.56, 0.1, date(2025, 6, 30), datetime(2025, 6, 30, 0, 0), True, time(9, 30)],
        ["  DJ-2  ", -5, 1e16, 100.10, datetime(2025, 6, 30, 14, 5), None, False, None],
    )
    table = read_table(data, "t.xlsx")
    first, second = table.rows
    june_30 = date(2025, 6, 30)
    assert first.cells == ("DJ-1", 800000, D("1234.56"), D("0.1"), june_30, june_30, True, time(9, 30))
    assert type(first.cells[1]) is int and type(first.cells[5]) is date
    assert second.cells[:5] == ("  DJ-2  ", -5, D("1E+16"), D("100.1"), datetime(2025, 6, 30, 14, 5))
    assert not any(isinstance(cell, float) for row in table.rows for cell in row.cells)


def test_an_xlsx_number_beyond_double_range_is_an_error_cell():
    """Excel cannot store it; a writer that does produces text that reads back as infinity."""
    data = xlsx(["h"], [1.7976931348623157e308])
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        for item in source.infolist():
            content = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                content = content.replace(b"1.797693134862316e+308", b"1e+999")
            target.writestr(item, content)
    assert b"1e+999" in zipfile.ZipFile(buffer).read("xl/worksheets/sheet1.xml")
    assert read_table(buffer.getvalue(), "t.xlsx").rows[0].cells == (ErrorCell("#NUM!"),)


def test_xlsx_skips_empty_rows_and_keeps_spreadsheet_row_numbers():
    workbook = Workbook()
    sheet = workbook.active
    sheet["B3"] = "h1"
    sheet["C3"] = "h2"
    sheet["B5"] = "x"
    sheet["C9"] = "y"
    sheet["B7"] = "   "  # a blank text cell is an empty row
    buffer = io.BytesIO()
    workbook.save(buffer)
    table = read_table(buffer.getvalue(), "t.xlsx")
    assert table.header_row == 3
    assert table.headers == ["", "h1", "h2"]  # the sheet starts at column A
    assert [(row.number, row.cells) for row in table.rows] == [(5, (None, "x")), (9, (None, None, "y"))]


def test_xlsx_reads_the_first_worksheet():
    table = read_table(xlsx(["h"], ["first"], sheet_title="放款明细", extra_sheets=2), "t.xlsx")
    assert table.rows[0].cells == ("first",)


def test_xlsx_error_values_are_marked():
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["h"])
    sheet["A2"].value = "#N/A"
    sheet["A2"].data_type = "e"
    buffer = io.BytesIO()
    workbook.save(buffer)
    table = read_table(buffer.getvalue(), "t.xlsx")
    assert table.rows[0].cells == (ErrorCell("#N/A"),)
    assert str(table.rows[0].cells[0]) == "#N/A"


def test_xlsx_formula_text_is_kept_as_text_and_a_formula_is_never_evaluated():
    data = xlsx(["h", "f"], ["x", "=1+1"], text_cells={"A2": "=cmd|' /C calc'!A0"})
    table = read_table(data, "t.xlsx")
    # The real formula has no cached value (openpyxl wrote it, nothing computed it).
    assert table.rows[0].cells == ("=cmd|' /C calc'!A0", None)


# ---------------------------------------------------------------------------------- refusals


def not_a_workbook_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "not a workbook")
    return buffer.getvalue()


def truncated_xlsx() -> bytes:
    data = xlsx(["h"], ["v"])
    return data[: len(data) // 2]


def corrupt_sheet_xlsx() -> bytes:
    """A valid workbook whose sheet XML is replaced by garbage (fails while rows are read)."""
    source = zipfile.ZipFile(io.BytesIO(xlsx(["h"], ["v"])))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        for item in source.infolist():
            content = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                content = (
                    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                    b'<sheetData><row r="1"><c r="A1" t="n"><v>not a number</v></c></row></sheetData>'
                    b"</worksheet>"
                )
            target.writestr(item, content)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "filename", "fragment"),
    [
        pytest.param(b"h\nv\n", "batch.txt", "只支持", id="other extension"),
        pytest.param(b"h\nv\n", "batch.xls", "只支持", id="legacy extension"),
        pytest.param(b"h\nv\n", "", "只支持", id="no filename"),
        pytest.param(b"", "batch.csv", "文件是空的", id="empty csv"),
        pytest.param(b"", "batch.xlsx", "文件是空的", id="empty xlsx"),
        pytest.param(b"\n\n ,\n", "batch.csv", "没有表头", id="blank csv"),
        pytest.param(b"h1,h2\n,\n", "batch.csv", "只有表头", id="header only"),
        pytest.param(b"\xff\xfe\x00h\x00\n", "batch.csv", "编码", id="utf-16"),
        pytest.param(b"h\n\x81\n", "batch.csv", "编码", id="undecodable"),
        pytest.param(bytes(range(256)) * 4, "batch.csv", "编码", id="binary"),
        pytest.param(b'h1,h2\n"unclosed,x\n', "batch.csv", "CSV 格式错误", id="unclosed quote"),
        pytest.param(b"h\n" + b"x" * 200_000 + b"\n", "batch.csv", "CSV 格式错误", id="huge field"),
        pytest.param(xlsx(["h"], ["v"]), "batch.csv", "Excel 工作簿", id="xlsx named csv"),
        pytest.param(b"garbage that is not a zip" * 10, "batch.xlsx", "不是有效的 Excel", id="garbage xlsx"),
        pytest.param("合同编号,金额\n".encode(), "batch.xlsx", "不是有效的 Excel", id="csv named xlsx"),
        pytest.param(OLE2 + b"\0" * 600, "batch.xlsx", ".xls", id="legacy xls or encrypted"),
        pytest.param(not_a_workbook_zip(), "batch.xlsx", "不是有效的 Excel", id="zip, not xlsx"),
        pytest.param(truncated_xlsx(), "batch.xlsx", "Excel", id="truncated xlsx"),
        pytest.param(corrupt_sheet_xlsx(), "batch.xlsx", "损坏", id="corrupt sheet"),
        pytest.param(xlsx(), "batch.xlsx", "没有表头", id="workbook without rows"),
        pytest.param(xlsx(["h"]), "batch.xlsx", "只有表头", id="workbook with header only"),
    ],
)
def test_bad_uploads_raise_a_clean_table_error(data, filename, fragment):
    with pytest.raises(TableError) as caught:
        read_table(data, filename)
    assert fragment in caught.value.message
    assert isinstance(caught.value, ValueError)


def test_a_workbook_that_unzips_too_large_is_refused_before_parsing(monkeypatch):
    data = xlsx(["h"], ["v"])
    unpacked = sum(item.file_size for item in zipfile.ZipFile(io.BytesIO(data)).infolist())
    monkeypatch.setattr(tabular, "MAX_XLSX_UNCOMPRESSED_BYTES", unpacked - 1)
    with pytest.raises(TableError) as caught:
        read_table(data, "t.xlsx")
    assert "过大" in caught.value.message
    monkeypatch.setattr(tabular, "MAX_XLSX_UNCOMPRESSED_BYTES", unpacked)
    assert read_table(data, "t.xlsx").rows[0].cells == ("v",)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_row_limit(fmt):
    rows = [["h"]] + [[f"r{index}"] for index in range(11)]
    data = "\n".join(row[0] for row in rows).encode() if fmt == "csv" else xlsx(*rows)
    assert len(read_table(data, f"t.{fmt}", max_rows=11).rows) == 11
    with pytest.raises(TableError) as caught:
        read_table(data, f"t.{fmt}", max_rows=10)
    assert "10 行" in caught.value.message


def test_row_limit_counts_data_rows_not_blank_ones():
    data = b"h\n" + b"\n" * 50 + b"a\nb\n"
    assert [row.number for row in read_table(data, "t.csv", max_rows=2).rows] == [52, 53]


@given(st.binary(max_size=300), st.sampled_from(["t.csv", "t.xlsx"]))
def test_any_bytes_give_a_table_or_a_table_error(data, filename):
    try:
        table = read_table(data, filename)
    except TableError:
        return
    assert isinstance(table, Table)
    assert table.rows and all(row.number > table.header_row for row in table.rows)


# ---------------------------------------------------------------------------------- formulas


@pytest.mark.parametrize(
    "text",
    [
        "=cmd|' /C calc'!A0",
        "=1+1",
        "+1+1",
        "-2+3",
        "@SUM(A1:A3)",
        "\t=1",
        "\r=1",
        "  =HYPERLINK(\"http://x\")",
        "＝1+1",
        "-cmd",
        "+",
    ],
)
def test_formulas_are_recognised_and_neutralised(text):
    assert looks_like_formula(text)
    assert neutralise_formula(text) == "'" + text
    assert not looks_like_formula(neutralise_formula(text))


@pytest.mark.parametrize(
    "text",
    ["DJNS-KV-2025-0001", "1,000.00", "-1,234.50", "+5", "-¥100.00", "-", " -  ", "", "a=b", "合同", "'=1+1"],
)
def test_ordinary_text_is_left_alone(text):
    assert not looks_like_formula(text)
    assert neutralise_formula(text) == text


def test_non_text_is_not_a_formula():
    assert not looks_like_formula(None)  # type: ignore[arg-type]
    assert not looks_like_formula(5)  # type: ignore[arg-type]


@given(st.text(max_size=30))
def test_neutralised_text_never_looks_like_a_formula(text):
    assert not looks_like_formula(neutralise_formula(text))
