"""Reading uploaded tables (CSV and Excel .xlsx) and keeping exported ones harmless.

Domain-free: this module turns the bytes of an upload into a header and numbered rows
of plain Python values; what the columns mean is the importer's business.

What it guarantees, whatever the bytes:

* the only exception a bad upload raises is :class:`TableError`, whose message (Simplified
  Chinese) can be shown as is;
* every row keeps its spreadsheet row number (1-based, the header usually row 1), so an
  importer can say "第 5 行" and the user finds the row where Excel shows it;
* numbers from Excel become ``int`` or ``Decimal`` built from the text Excel stored, never
  a ``float`` that has been calculated with; dates become ``date``;
* the size is bounded: at most ``max_rows`` data rows, and a workbook whose contents
  decompress to more than :data:`MAX_XLSX_UNCOMPRESSED_BYTES` is refused before parsing.

CSV is decoded strictly as UTF-8 (with or without BOM) and else as GB18030, which is what
Excel writes for "CSV (逗号分隔)" on a Chinese Windows desktop; the delimiter (comma,
semicolon or tab) is read from the header line.
"""
from __future__ import annotations

import codecs
import csv
import io
import math
import re
import zipfile
from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import PurePath

from core.i18n import _

__all__ = [
    "DEFAULT_MAX_ROWS",
    "MAX_XLSX_UNCOMPRESSED_BYTES",
    "CellValue",
    "ErrorCell",
    "RowData",
    "Table",
    "TableError",
    "looks_like_formula",
    "neutralise_formula",
    "read_table",
    "spreadsheet_text",
]

DEFAULT_MAX_ROWS = 50_000

MAX_XLSX_UNCOMPRESSED_BYTES = 256 * 1024 * 1024
"""Refuse workbooks whose parts add up to more than this once unzipped (a "zip bomb").

The declared sizes are a real bound: Python's zipfile stops reading a member after its
declared size and checks the CRC, so a lying header yields an error, not more data.
"""

_CSV_DELIMITERS = (",", ";", "\t")
# Characters that make Excel or LibreOffice read a cell as a formula (OWASP "CSV
# injection"), plus their full-width forms, which some spreadsheet versions fold to ASCII.
_FORMULA_PREFIXES = frozenset("=+-@\t\r＝＋－＠")
# Text that starts with + or - but cannot run anything: a plain number ("-1,234.50", "+5",
# "-¥100.00") or the dash accounting formats show for zero ("-", " -   ").
_HARMLESS = re.compile(r"[+-]?[¥￥]?[0-9][0-9,]*(?:\.[0-9]+)?|[-\s]+")
# Control characters never found in a CSV that a person saved; their presence means the
# bytes are not text (a binary file that happened to decode).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# What XML 1.0 (so an xlsx part) cannot hold: the C0 controls except tab, LF and CR.
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
# What Excel writes into a CSV for a cell whose formula failed: an error, not data.
_EXCEL_ERRORS = frozenset(
    {"#N/A", "#VALUE!", "#REF!", "#DIV/0!", "#NUM!", "#NAME?", "#NULL!", "#SPILL!", "#CALC!", "#GETTING_DATA"}
)
_ZIP_MAGIC = b"PK\x03\x04"
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls, and password-protected .xlsx
# Signatures of files that are never a CSV, although their first bytes may decode as GB18030 text:
# PDF, PNG, JPEG, GIF, gzip, 7-Zip, RAR and Linux executables (a Windows one holds NUL bytes, refused below).
_BINARY_MAGICS = (b"%PDF-", b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"\x1f\x8b", b"7z\xbc\xaf\x27\x1c", b"Rar!", b"\x7fELF")


class TableError(ValueError):
    """An uploaded table was refused as a whole; ``message`` (Chinese) says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class ErrorCell:
    """An Excel error value (``#N/A``, ``#VALUE!``, ``#REF!`` ...) in place of data."""

    code: str

    def __str__(self) -> str:
        return self.code


CellValue = str | int | Decimal | bool | date | datetime | time | timedelta | ErrorCell | None
"""A cell as read: CSV gives ``str``, ``None`` and ``ErrorCell``; Excel any of these. Blank text is ``None``.

``datetime`` only when Excel's value has a time of day; a date at midnight is a ``date``.
"""


@dataclass(frozen=True)
class RowData:
    """One data row: its spreadsheet row number and its cells, in column order.

    ``cells`` may be shorter than the header (trailing blanks) or longer (data in columns
    without a header: the importer decides whether that is an error).
    """

    number: int
    cells: tuple[CellValue, ...]

    def cell(self, index: int) -> CellValue:
        """The cell in column ``index`` (0-based), ``None`` past the end of the row."""
        return self.cells[index] if 0 <= index < len(self.cells) else None


@dataclass(frozen=True)
class Table:
    """A header and its data rows. Fully empty rows are not kept (their numbers are skipped)."""

    headers: list[str]
    rows: list[RowData] = field(default_factory=list)
    header_row: int = 1


# ----------------------------------------------------------------------------- formulas


def looks_like_formula(text: str) -> bool:
    """Whether a spreadsheet would take this text for a formula (``=``, ``+``, ``-``, ``@``, tab, CR).

    Leading spaces are looked through (`` =cmd|…`` is still refused on import); a plain
    number such as ``-1,234.50`` and a lone dash are not formulas. Use on imports to refuse such text.
    """
    if not isinstance(text, str):
        return False
    stripped = text.lstrip(" \u3000\n")
    if not stripped or stripped[0] not in _FORMULA_PREFIXES:
        return False
    return _HARMLESS.fullmatch(stripped) is None


def neutralise_formula(value: str) -> str:
    """Make a text cell safe to export: prefix ``'`` when a spreadsheet would run it as a formula.

    For text cells only; write numbers as numbers. Applied to every exported text cell,
    so a malicious value stored through some other path still opens as plain text.
    """
    return f"'{value}" if looks_like_formula(value) else value


def spreadsheet_text(value: str) -> str:
    """A text cell as an exported workbook may hold it: never a formula, never an XML-illegal character.

    The xlsx format (XML 1.0) cannot carry most control characters; openpyxl refuses them with an
    exception, so one stray character in a name or a search filter would fail the whole export.
    They carry no meaning in a cell, so they are dropped (before the formula check: ``"\x01=1+1"``
    must still come out as text).
    """
    return neutralise_formula(_XML_ILLEGAL.sub("", value))


# --------------------------------------------------------------------------------- reading


def read_table(data: bytes, filename: str, max_rows: int = DEFAULT_MAX_ROWS) -> Table:
    """Read a ``.csv`` or ``.xlsx`` upload into a :class:`Table`, or raise :class:`TableError`.

    The first non-empty row is the header; every later non-empty row is data. Refused:
    another extension, an empty file, undecodable or binary text, malformed CSV quoting, a
    file that is not a real workbook, a workbook without a worksheet, a table without a
    header or without data rows, and more than ``max_rows`` data rows.
    """
    suffix = PurePath(filename or "").suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise TableError(_("只支持 CSV（.csv）和 Excel（.xlsx）文件"))
    if not data:
        raise TableError(_("文件是空的"))
    rows = _csv_rows(data) if suffix == ".csv" else _xlsx_rows(data)
    try:
        return _build_table(rows, max_rows)
    finally:
        rows.close()  # releases the workbook at once when reading stopped early


def _build_table(rows: Iterable[tuple[int, tuple[CellValue, ...]]], max_rows: int) -> Table:
    """Header from the first non-empty row, then the non-empty rows; stop as soon as there are too many."""
    headers: list[str] | None = None
    header_row = 0
    data_rows: list[RowData] = []
    for number, cells in rows:
        if all(cell is None for cell in cells):
            continue
        if headers is None:
            headers, header_row = _headers(cells), number
            continue
        if len(data_rows) >= max_rows:
            raise TableError(
                _("数据超过 %(limit)d 行的上限，请拆分后分批上传", limit=max_rows)
            )
        data_rows.append(RowData(number, cells))
    if headers is None:
        raise TableError(_("表格是空的：没有表头，也没有数据"))
    if not data_rows:
        raise TableError(_("表格只有表头，没有数据行"))
    return Table(headers=headers, rows=data_rows, header_row=header_row)


def _headers(cells: Sequence[CellValue]) -> list[str]:
    """Header texts, trailing blank columns dropped (Excel often carries formatted empty columns)."""
    texts = ["" if cell is None else str(cell).strip() for cell in cells]
    while texts and not texts[-1]:
        texts.pop()
    return texts


def _text_cell(text: str) -> str | None:
    """Blank text is no value at all, so a row of blanks is an empty row."""
    return None if not text.strip() else text


# ------------------------------------------------------------------------------------- CSV


def _decode(data: bytes) -> str:
    """UTF-8 (BOM optional) strictly, else GB18030 strictly; binary content refused."""
    if data.startswith(_ZIP_MAGIC) or data.startswith(_OLE2_MAGIC):
        raise TableError(_("这是 Excel 工作簿，不是 CSV 文件：请以 .xlsx 扩展名上传，或另存为 CSV"))
    if data.startswith(_BINARY_MAGICS):
        raise TableError(_("文件内容不是 CSV 文本（可能是改了扩展名的 PDF、图片、压缩包或程序），请上传 CSV 或 Excel（.xlsx）文件"))
    # A UTF-8 byte-order mark declares the encoding: no second guess that would turn a
    # damaged UTF-8 file into GB18030 mojibake.
    encodings = ("utf-8-sig",) if data.startswith(codecs.BOM_UTF8) else ("utf-8-sig", "gb18030")
    for encoding in encodings:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _CONTROL.search(text):
            break
        return text
    raise TableError(
        _("无法识别文件的编码：CSV 文件应为 UTF-8 或 GB18030（Excel 的“CSV（逗号分隔）”）文本")
    )


def _sniff_delimiter(text: str) -> str:
    """The delimiter that splits the header line into the most columns; comma when in doubt."""
    # newline="": split at \r, \n and \r\n alike, as the csv module does.
    header_line = next((line for line in io.StringIO(text, newline="") if line.strip()), "")
    best, best_count = ",", 1
    for delimiter in _CSV_DELIMITERS:
        try:
            fields = next(csv.reader([header_line], delimiter=delimiter), [])
        except csv.Error:  # a malformed header is reported by the real read, with its line
            continue
        if len(fields) > best_count:
            best, best_count = delimiter, len(fields)
    return best


def _csv_rows(data: bytes) -> Generator[tuple[int, tuple[CellValue, ...]], None, None]:
    """Records numbered as Excel numbers rows: one per record, blank lines included."""
    text = _decode(data)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_sniff_delimiter(text), strict=True)
    number = 0
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error:
            raise TableError(
                _("CSV 格式错误（第 %(line)d 行附近）：引号不配对或字段过长", line=reader.line_num)
            ) from None
        number += 1
        yield number, tuple(_csv_value(value) for value in record)


def _csv_value(text: str) -> CellValue:
    """Text as it is, blank as None, and Excel's error literals (``#N/A`` ...) as :class:`ErrorCell`."""
    stripped = text.strip()
    if stripped.upper() in _EXCEL_ERRORS:
        return ErrorCell(stripped.upper())
    return _text_cell(text)


# ------------------------------------------------------------------------------------ XLSX


def _xlsx_rows(data: bytes) -> Generator[tuple[int, tuple[CellValue, ...]], None, None]:
    """Rows of the first worksheet, read-only and with cached values (formulas are never evaluated)."""
    if data.startswith(_OLE2_MAGIC):
        raise TableError(_("这是旧版 Excel（.xls）或加密的工作簿：请去掉密码并另存为 .xlsx"))
    buffer = io.BytesIO(data)
    if not zipfile.is_zipfile(buffer):
        raise TableError(_("不是有效的 Excel（.xlsx）文件"))
    try:
        with zipfile.ZipFile(buffer) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
            is_workbook = unpacked <= MAX_XLSX_UNCOMPRESSED_BYTES and _declares_a_workbook(archive)
    except (zipfile.BadZipFile, OSError, ValueError):
        raise TableError(_("不是有效的 Excel（.xlsx）文件")) from None
    finally:
        buffer.seek(0)
    if unpacked > MAX_XLSX_UNCOMPRESSED_BYTES:
        raise TableError(_("Excel 文件解压后过大，请拆分后分批上传"))
    if not is_workbook:
        raise TableError(_("不是有效的 Excel（.xlsx）文件：内容不是工作簿，可能是改了扩展名的其他文件"))
    return _iterate_workbook(buffer)


# The package's content types must declare an Excel workbook; a Word or PowerPoint file (also a
# zip of XML parts) or a macro-enabled workbook renamed to .xlsx declares something else.
_WORKBOOK_CONTENT_TYPES = (
    b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
    b"application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml",
)
_MAX_CONTENT_TYPES_BYTES = 1024 * 1024


def _declares_a_workbook(archive: zipfile.ZipFile) -> bool:
    """Content sniffing: the package's ``[Content_Types].xml`` names an OOXML workbook part."""
    try:
        info = archive.getinfo("[Content_Types].xml")
        if info.file_size > _MAX_CONTENT_TYPES_BYTES:
            return False
        declared = archive.read(info)
    except (KeyError, zipfile.BadZipFile, OSError, ValueError, RuntimeError, NotImplementedError):
        return False
    return any(content_type in declared for content_type in _WORKBOOK_CONTENT_TYPES)


def _iterate_workbook(buffer: io.BytesIO) -> Generator[tuple[int, tuple[CellValue, ...]], None, None]:
    # openpyxl reports a damaged workbook through many exception types (KeyError for a
    # missing part, ValueError, XML syntax errors, zipfile errors ...), lazily while
    # rows are read as well as on opening; all of them mean "not a workbook we can read".
    from openpyxl import load_workbook  # imported here: only uploads of Excel files need it

    # openpyxl's warnings (unknown extensions, no default style ...) are left alone:
    # silencing them with warnings.catch_warnings() would change process-wide filters
    # under other threads of the same worker.
    try:
        workbook = load_workbook(buffer, read_only=True, data_only=True)
    except Exception:
        raise TableError(_("不是有效的 Excel（.xlsx）文件")) from None
    try:
        sheets = [sheet for sheet in workbook.worksheets if hasattr(sheet, "iter_rows")]
        if not sheets:
            raise TableError(_("工作簿中没有工作表"))
        sheet = sheets[0]
        # Some writers record wrong dimensions; without them every cell is read.
        sheet.reset_dimensions()
        # Rows come in order with missing ones filled in, so the count is the row number.
        for number, row in enumerate(sheet.iter_rows(), start=1):
            yield number, tuple(_xlsx_value(cell) for cell in row)
    except TableError:
        raise
    except Exception:
        raise TableError(_("Excel 文件已损坏，无法读取")) from None
    finally:
        workbook.close()


def _xlsx_value(cell: object) -> CellValue:
    """A cell's value in the types of :data:`CellValue`, numbers without float arithmetic."""
    value = getattr(cell, "value", None)
    if value is None:
        return None
    if getattr(cell, "data_type", None) == "e":
        return ErrorCell(str(value))
    if isinstance(value, str):
        return _text_cell(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            # Excel cannot hold these; a stored number too large for a double reads as inf.
            return ErrorCell("#NUM!")
        # openpyxl turned the stored text into a float; repr of a float is the shortest
        # text that reads back as the same float, i.e. the digits Excel wrote ("1234.56").
        return Decimal(repr(value))
    if isinstance(value, datetime):
        return value.date() if value.time() == time(0) else value
    if isinstance(value, (date, time, timedelta)):
        return value
    return str(value)
