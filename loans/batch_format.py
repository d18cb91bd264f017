"""Column layouts of the files partner banks upload, and their parsing into typed rows.

Three layouts (docs/api.md, "Knowledge-value credit loans"):

* the disbursement batch (``POST /api/v1/loans/batch``): 合同编号, 金额, 放款日期, 银行流水号;
* the repayment batch (``POST /api/v1/loans/repayments/batch``): 合同编号, 还款本金, 利息,
  还款日期, 银行流水号;
* the month-end loan tape (``POST /api/v1/banks/{id}/tapes``): 合同编号, 统一社会信用代码,
  累计放款, 累计还本, 贷款余额, 逾期天数.

Headers may be the Chinese names or the English keys. Parsing only: nothing is looked up
or written. The caller reads the upload with :func:`core.tabular.read_table`, then
:func:`parse_disbursement_rows`, :func:`parse_repayment_rows` or :func:`parse_tape_rows` returns the good rows and
**every** bad row with its spreadsheet row number and a Chinese message, so the bank
fixes its file once; the services refuse the whole file when any row is bad.

Cell rules: text is trimmed and must not look like a formula (CSV injection); amounts
are text as :func:`core.money.parse_decimal_text` reads it ("1,000,000.00", "¥500") or
Excel numbers, with at most two decimals; dates are Excel dates or the texts
``2025-06-30``, ``2025/6/30``, ``2025.6.30`` and ``2025年6月30日``; DPD is a whole number
of days, 0 or more; credit codes are checked by :mod:`parties.credit_code`.
"""
from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar

from core.i18n import _, _l
from core.money import MAX_AMOUNT, InvalidAmount, format_cny, from_fen, parse_decimal_text, to_fen
from core.tabular import CellValue, ErrorCell, RowData, Table, TableError, looks_like_formula
from parties.credit_code import InvalidCreditCode, validate_credit_code

__all__ = [
    "DISBURSEMENT_LAYOUT",
    "MAX_DAYS_PAST_DUE",
    "MAX_TEXT_LENGTH",
    "REPAYMENT_LAYOUT",
    "TAPE_LAYOUT",
    "Column",
    "DisbursementRow",
    "HeaderError",
    "Kind",
    "Layout",
    "RepaymentRow",
    "RowError",
    "TapeRow",
    "errors_by_row",
    "map_headers",
    "parse_disbursement_rows",
    "parse_repayment_rows",
    "parse_tape_rows",
    "template_csv",
    "template_xlsx",
]

MAX_TEXT_LENGTH = 64
"""Longest contract number or bank reference accepted (the columns that store them)."""

MAX_DAYS_PAST_DUE = 36_500
"""A DPD above a hundred years is a typing or export error, and would not fit an integer column."""


class Kind(Enum):
    """What a column holds, which decides how its cells are read."""

    TEXT = "text"
    CREDIT_CODE = "credit_code"
    AMOUNT = "amount"  # strictly positive
    BALANCE = "balance"  # zero allowed (a tape's repaid or outstanding principal)
    DATE = "date"
    DAYS = "days"


@dataclass(frozen=True)
class Column:
    """One column: its key (the English header and the field name), its Chinese header and its kind.

    ``label`` is the name used in messages (translated with the interface); ``zh`` is the
    header literal and is never translated, because files are matched against it.
    """

    key: str
    zh: str
    kind: Kind
    label: Any  # a lazy string: str() gives the name in the current locale


@dataclass(frozen=True)
class Layout:
    """An ordered set of columns, all of them required."""

    name: str
    sheet_title: str
    columns: tuple[Column, ...]

    @property
    def keys(self) -> list[str]:
        return [column.key for column in self.columns]

    def column(self, key: str) -> Column:
        return next(column for column in self.columns if column.key == key)


DISBURSEMENT_LAYOUT = Layout(
    name="disbursements",
    sheet_title="放款明细",
    columns=(
        Column("contract_no", "合同编号", Kind.TEXT, _l("合同编号")),
        Column("amount", "金额", Kind.AMOUNT, _l("金额")),
        Column("disbursed_on", "放款日期", Kind.DATE, _l("放款日期")),
        Column("bank_ref", "银行流水号", Kind.TEXT, _l("银行流水号")),
    ),
)

REPAYMENT_LAYOUT = Layout(
    name="repayments",
    sheet_title="还款明细",
    columns=(
        Column("contract_no", "合同编号", Kind.TEXT, _l("合同编号")),
        # Zero allowed in either column (an interest-only or a principal-only payment);
        # the row check refuses a payment of nothing at all.
        Column("principal", "还款本金", Kind.BALANCE, _l("还款本金")),
        Column("interest", "利息", Kind.BALANCE, _l("利息")),
        Column("paid_on", "还款日期", Kind.DATE, _l("还款日期")),
        Column("bank_ref", "银行流水号", Kind.TEXT, _l("银行流水号")),
    ),
)

TAPE_LAYOUT = Layout(
    name="loan_tape",
    sheet_title="贷款台账",
    columns=(
        Column("contract_no", "合同编号", Kind.TEXT, _l("合同编号")),
        Column("credit_code", "统一社会信用代码", Kind.CREDIT_CODE, _l("统一社会信用代码")),
        Column("disbursed_total", "累计放款", Kind.BALANCE, _l("累计放款")),
        Column("repaid_principal", "累计还本", Kind.BALANCE, _l("累计还本")),
        Column("outstanding_principal", "贷款余额", Kind.BALANCE, _l("贷款余额")),
        Column("days_past_due", "逾期天数", Kind.DAYS, _l("逾期天数")),
    ),
)


@dataclass(frozen=True)
class DisbursementRow:
    row: int
    contract_no: str
    amount: Decimal
    disbursed_on: date
    bank_ref: str


@dataclass(frozen=True)
class RepaymentRow:
    row: int
    contract_no: str
    principal: Decimal
    interest: Decimal
    paid_on: date
    bank_ref: str


@dataclass(frozen=True)
class TapeRow:
    row: int
    contract_no: str
    credit_code: str
    disbursed_total: Decimal
    repaid_principal: Decimal
    outstanding_principal: Decimal
    days_past_due: int


@dataclass(frozen=True)
class RowError:
    """One problem with one row; ``message`` is complete ("第 5 行：金额「abc」不是有效金额")."""

    row: int
    message: str
    column: str | None = None  # the layout key, when the problem is one cell


class HeaderError(TableError):
    """The header row does not match the layout; the lists name the offending columns."""

    def __init__(self, message: str, *, missing: list[str], unknown: list[str], duplicate: list[str]) -> None:
        super().__init__(message)
        self.missing = missing
        self.unknown = unknown
        self.duplicate = duplicate


def errors_by_row(errors: Sequence[RowError]) -> dict[str, list[str]]:
    """Row errors grouped for the API's ``errors`` object: ``{"5": ["第 5 行：…", …]}``, in row order."""
    grouped: dict[str, list[str]] = {}
    for error in sorted(errors, key=lambda error: error.row):
        grouped.setdefault(str(error.row), []).append(error.message)
    return grouped


# ------------------------------------------------------------------------------- headers

_UNIT_SUFFIX = re.compile(r"\((?:元|人民币元|天|日)\)$")


def _header_forms(header: str) -> tuple[str, str]:
    """(Chinese form, English form) of a header cell, for comparison with the layout.

    NFKC folds full-width letters, spaces and brackets; a unit suffix such as "（元）" is
    dropped; the Chinese form ignores all spaces, the English form is lower case with
    spaces and hyphens read as underscores ("Contract No" -> contract_no).
    """
    text = unicodedata.normalize("NFKC", header).replace("\ufeff", "").replace("\u200b", "").strip()
    text = _UNIT_SUFFIX.sub("", text).strip()
    chinese = re.sub(r"\s+", "", text)
    english = re.sub(r"[\s\-]+", "_", text.casefold())
    return chinese, english


def map_headers(headers: Sequence[str], layout: Layout) -> dict[str, int]:
    """Map each column key of ``layout`` to its 0-based position in ``headers``.

    Blank headers are ignored (a column without a header must then be empty, which the
    row parsers check). Raises :class:`HeaderError` listing every missing, unknown and
    duplicate column at once.
    """
    by_name: dict[str, str] = {}
    for column in layout.columns:
        by_name[column.zh] = column.key
        by_name[column.key] = column.key
    positions: dict[str, int] = {}
    unknown: list[str] = []
    duplicate: list[str] = []
    for index, header in enumerate(headers):
        if not header or not header.strip():
            continue
        chinese, english = _header_forms(header)
        key = by_name.get(chinese) or by_name.get(english)
        if key is None:
            unknown.append(header.strip())
        elif key in positions:
            duplicate.append(header.strip())
        else:
            positions[key] = index
    missing = [column.zh for column in layout.columns if column.key not in positions]
    if missing or unknown or duplicate:
        problems = []
        if missing:
            problems.append(_("缺少列：%(columns)s", columns="、".join(missing)))
        if unknown:
            problems.append(_("无法识别的列：%(columns)s", columns="、".join(unknown)))
        if duplicate:
            problems.append(_("重复的列：%(columns)s", columns="、".join(duplicate)))
        expected = "、".join(column.zh for column in layout.columns)
        message = _(
            "表头与模板不符（%(problems)s）。应有这些列：%(expected)s",
            problems="；".join(problems),
            expected=expected,
        )
        raise HeaderError(message, missing=missing, unknown=unknown, duplicate=duplicate)
    return positions


# ---------------------------------------------------------------------------------- cells

# [0-9], not \d: \d also matches digits of other scripts, which int() would accept.
_ISO_LIKE_DATE = re.compile(
    r"([0-9]{4})([-/.])([0-9]{1,2})\2([0-9]{1,2})"
    r"(?:\s+[0-9]{1,2}:[0-9]{2}(?::[0-9]{2})?)?"  # a time of day, as Excel writes datetimes to CSV
)
_CHINESE_DATE = re.compile(r"([0-9]{4})\s*年\s*([0-9]{1,2})\s*月\s*([0-9]{1,2})\s*日")
_DAYS = re.compile(r"[0-9]+")
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # Unicode category Cc
_SHOWN_LENGTH = 40


class _CellError(Exception):
    """A cell was refused; ``reason`` completes "第 n 行：<列名>「<值>」…"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _shown(value: CellValue) -> str:
    """The cell as quoted in a message, shortened so one bad cell cannot flood the report."""
    text = str(value)
    return text if len(text) <= _SHOWN_LENGTH else text[: _SHOWN_LENGTH - 1] + "…"


def _read_text(value: CellValue) -> str:
    """A text cell; Excel whole numbers are accepted as their digits (contract number 20250001)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise _CellError(_("应为文本（请把该列设置为文本格式，数字格式会丢失位数）"))
    text = value.strip()
    if _CONTROL_CHARACTERS.search(text):
        raise _CellError(_("含有换行符或控制字符"))
    if len(text) > MAX_TEXT_LENGTH:
        raise _CellError(_("超过 %(limit)d 个字符", limit=MAX_TEXT_LENGTH))
    return text


def _read_credit_code(value: CellValue) -> str:
    if not isinstance(value, str):
        raise _CellError(_("应为文本（请把该列设置为文本格式，数字格式会丢失位数）"))
    try:
        return validate_credit_code(value)
    except InvalidCreditCode as error:
        raise _CellError(_("无效：%(reason)s", reason=error.message)) from None


def _read_amount(value: CellValue, *, positive: bool) -> Decimal:
    """Decimal with two places from text or an Excel number; never rounded."""
    if isinstance(value, str):
        try:
            amount = parse_decimal_text(value)
        except InvalidAmount:
            raise _CellError(
                _("不是有效金额（应为最多两位小数的数字，例如 1,000,000.00）")
            ) from None
    elif isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        try:
            # Through fen and back: exactly two decimals, and a third decimal is refused,
            # not rounded (the bank's own figure must be the one we record).
            amount = from_fen(to_fen(value))
        except (ValueError, TypeError):
            raise _CellError(_("不是有效金额（最多两位小数）")) from None
    else:
        raise _CellError(_("不是有效金额"))
    if positive and amount <= 0:
        raise _CellError(_("必须大于零"))
    if amount < 0:
        raise _CellError(_("不能为负数"))
    if amount > MAX_AMOUNT:
        raise _CellError(_("超过上限 %(limit)s", limit=format_cny(MAX_AMOUNT)))
    return amount


def _read_date(value: CellValue) -> date:
    """An Excel date (a timestamp gives its day) or one of the accepted date texts."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = unicodedata.normalize("NFKC", value).strip()
        match = _ISO_LIKE_DATE.fullmatch(text)
        parts = (match[1], match[3], match[4]) if match else None
        if parts is None and (chinese := _CHINESE_DATE.fullmatch(text)):
            parts = (chinese[1], chinese[2], chinese[3])
        if parts is not None:
            try:
                return date(*(int(part) for part in parts))
            except ValueError:
                raise _CellError(_("不是存在的日期")) from None
    raise _CellError(_("不是有效日期（应为 2025-06-30、2025/6/30 或 2025年6月30日）"))


def _read_days(value: CellValue) -> int:
    """A whole number of days, 0 or more ("15", 15, or 15.0 from Excel)."""
    if isinstance(value, bool):
        raise _CellError(_("应为 0 或正整数天数"))
    if isinstance(value, int):
        days = value
    elif isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        days = int(value)
    elif isinstance(value, str) and _DAYS.fullmatch(value.strip()):
        digits = value.strip()
        # Bounded before int(): Python refuses to convert thousands of digits.
        days = int(digits) if len(digits) <= 9 else MAX_DAYS_PAST_DUE + 1
    else:
        raise _CellError(_("应为 0 或正整数天数"))
    if days < 0:
        raise _CellError(_("应为 0 或正整数天数"))
    if days > MAX_DAYS_PAST_DUE:
        raise _CellError(_("超过上限 %(limit)d 天", limit=MAX_DAYS_PAST_DUE))
    return days


_READERS: dict[Kind, Callable[[CellValue], object]] = {
    Kind.TEXT: _read_text,
    Kind.CREDIT_CODE: _read_credit_code,
    Kind.AMOUNT: lambda value: _read_amount(value, positive=True),
    Kind.BALANCE: lambda value: _read_amount(value, positive=False),
    Kind.DATE: _read_date,
    Kind.DAYS: _read_days,
}


# ------------------------------------------------------------------------------------ rows


def _row_error(row: RowData, column: Column | None, reason: str, value: CellValue = None) -> RowError:
    if column is None:
        return RowError(row.number, _("第 %(row)d 行：%(reason)s", row=row.number, reason=reason))
    if value is None:
        message = _(
            "第 %(row)d 行：%(column)s%(reason)s", row=row.number, column=str(column.label), reason=reason
        )
    else:
        message = _(
            "第 %(row)d 行：%(column)s「%(value)s」%(reason)s",
            row=row.number,
            column=str(column.label),
            value=_shown(value),
            reason=reason,
        )
    return RowError(row.number, message, column.key)


def _parse_row(
    row: RowData, layout: Layout, positions: dict[str, int]
) -> tuple[dict[str, Any], list[RowError]]:
    """The typed values of the cells that could be read, and every problem of the row."""
    values: dict[str, Any] = {}
    errors: list[RowError] = []
    for column in layout.columns:
        cell = row.cell(positions[column.key])
        if cell is None:
            errors.append(_row_error(row, column, _("不能为空")))
        elif isinstance(cell, ErrorCell):
            errors.append(_row_error(row, column, _("是 Excel 错误值，不是数据"), cell))
        elif isinstance(cell, str) and looks_like_formula(cell):
            errors.append(_row_error(row, column, _("看起来像公式，出于安全原因拒绝导入"), cell))
        else:
            try:
                values[column.key] = _READERS[column.kind](cell)
            except _CellError as error:
                errors.append(_row_error(row, column, error.reason, cell))
    mapped = set(positions.values())
    for index, cell in enumerate(row.cells):
        if cell is not None and index not in mapped:
            # Only blank-header columns (and columns past the header) are unmapped:
            # map_headers refuses unknown headers. Data there would be silently lost.
            reason = _("第 %(position)d 列没有表头，却有内容「%(value)s」", position=index + 1, value=_shown(cell))
            errors.append(_row_error(row, None, reason))
    return values, errors


_Row = TypeVar("_Row", DisbursementRow, RepaymentRow, TapeRow)


def _parse_rows(
    table: Table,
    layout: Layout,
    unique_key: str,
    build: Callable[[RowData, dict[str, Any]], _Row],
    check: Callable[[RowData, dict[str, Any]], list[RowError]] | None = None,
) -> tuple[list[_Row], list[RowError]]:
    """Parse every row; a row is kept only when all its cells, ``check`` and the uniqueness pass.

    A repeated ``unique_key`` is reported on every later row that repeats it, even when
    those rows have other problems too, so one upload lists everything to fix.
    """
    positions = map_headers(table.headers, layout)
    unique_column = layout.column(unique_key)
    first_seen: dict[str, int] = {}
    rows: list[_Row] = []
    errors: list[RowError] = []
    for row in table.rows:
        values, row_errors = _parse_row(row, layout, positions)
        if not row_errors and check is not None:
            row_errors = check(row, values)
        key_value = values.get(unique_key)
        if key_value is not None:
            if key_value in first_seen:
                reason = _("与第 %(first)d 行重复", first=first_seen[key_value])
                row_errors.append(_row_error(row, unique_column, reason, key_value))
            else:
                first_seen[key_value] = row.number
        if row_errors:
            errors.extend(row_errors)
        else:
            rows.append(build(row, values))
    return rows, errors


def parse_disbursement_rows(table: Table) -> tuple[list[DisbursementRow], list[RowError]]:
    """Typed disbursements and the errors of every bad row (nothing is looked up or written).

    Header problems raise :class:`HeaderError`. A ``bank_ref`` used twice in the file is
    an error on the later row (the same reference twice is the same event, so a file
    that repeats one is wrong); the same contract may appear on several rows (tranches).
    """

    def build(row: RowData, values: dict[str, Any]) -> DisbursementRow:
        return DisbursementRow(row=row.number, **values)

    return _parse_rows(table, DISBURSEMENT_LAYOUT, "bank_ref", build)


def parse_repayment_rows(table: Table) -> tuple[list[RepaymentRow], list[RowError]]:
    """Typed repayments and the errors of every bad row (nothing is looked up or written).

    Same rules as the disbursement batch (a ``bank_ref`` used twice in the file is an
    error on the later row); principal and interest may each be zero, not both.
    """

    def build(row: RowData, values: dict[str, Any]) -> RepaymentRow:
        return RepaymentRow(row=row.number, **values)

    def check(row: RowData, values: dict[str, Any]) -> list[RowError]:
        if values["principal"] + values["interest"] > 0:
            return []
        return [_row_error(row, None, _("还款本金和利息不能同时为零"))]

    return _parse_rows(table, REPAYMENT_LAYOUT, "bank_ref", build, check)


def parse_tape_rows(table: Table) -> tuple[list[TapeRow], list[RowError]]:
    """Typed loan-tape rows and the errors of every bad row (nothing is looked up or written).

    Header problems raise :class:`HeaderError`. A contract appears once per tape; and
    each row must add up: 累计放款 − 累计还本 = 贷款余额.
    """

    def build(row: RowData, values: dict[str, Any]) -> TapeRow:
        return TapeRow(row=row.number, **values)

    def check(row: RowData, values: dict[str, Any]) -> list[RowError]:
        if values["disbursed_total"] - values["repaid_principal"] == values["outstanding_principal"]:
            return []
        return [_row_error(row, None, _("累计放款减累计还本不等于贷款余额"))]

    return _parse_rows(table, TAPE_LAYOUT, "contract_no", build, check)


# ------------------------------------------------------------------------------- templates


def template_csv(layout: Layout, lang: str = "zh") -> bytes:
    """The header line of ``layout`` as a CSV file, in UTF-8 with a BOM so Excel reads the Chinese."""
    if lang not in ("zh", "en"):
        raise ValueError(f"lang must be 'zh' or 'en', not {lang!r}")
    headers = [column.zh if lang == "zh" else column.key for column in layout.columns]
    return ("\ufeff" + ",".join(headers) + "\r\n").encode("utf-8")


_XLSX_FORMATS = {
    Kind.TEXT: "@",  # text, so contract numbers and credit codes keep every digit
    Kind.CREDIT_CODE: "@",
    Kind.AMOUNT: "#,##0.00",
    Kind.BALANCE: "#,##0.00",
    Kind.DATE: "yyyy-mm-dd",
    Kind.DAYS: "0",
}
_TEMPLATE_ROWS = 1000  # rows pre-formatted below the header


def template_xlsx(layout: Layout, lang: str = "zh") -> bytes:
    """An Excel template: headers (Chinese, or the English keys) in bold, frozen, each column formatted for its kind."""
    from openpyxl import Workbook  # imported here: only template downloads need it
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    if lang not in ("zh", "en"):
        raise ValueError(f"lang must be 'zh' or 'en', not {lang!r}")
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = layout.sheet_title
    bold = Font(bold=True)
    for index, column in enumerate(layout.columns, start=1):
        title = column.zh if lang == "zh" else column.key
        header = sheet.cell(row=1, column=index, value=title)
        header.font = bold
        letter = get_column_letter(index)
        # A Chinese character is about two Latin characters wide.
        sheet.column_dimensions[letter].width = max(14, (2 if lang == "zh" else 1) * len(title) + 4)
        # Cell formats on the first rows (a column-wide style is not honoured by every
        # spreadsheet); Excel carries the format on as rows are added below.
        for row in range(2, _TEMPLATE_ROWS + 2):
            sheet.cell(row=row, column=index).number_format = _XLSX_FORMATS[column.kind]
    sheet.freeze_panes = "A2"
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()
