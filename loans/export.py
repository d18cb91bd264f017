"""The loan ledger (贷款台账) as an Excel workbook: the loans of the list page, one row each, as of a day.

Shared by ``GET /loans/export.xlsx`` (web) and ``GET /api/v1/loans/export?format=xlsx`` (API), with the
filters of the list (bank, enterprise, classification, status, search) and the caller's scope: a bank
liaison's ledger holds its own bank's loans only.

- :func:`ledger_rows` reads the loans in pages of :data:`CHUNK_SIZE` (one statement per page, the
  as-of figures computed in the same statement), never one query per loan;
- :func:`ledger_xlsx` turns rows into the workbook's bytes (a streaming ``write_only`` workbook):
  a title row (bank and as-of day), a bold header row, frozen and filtered, then one row per loan
  with amounts as numbers (``#,##0.00``, handed to openpyxl as ``Decimal``, never converted here;
  openpyxl writes 16 significant digits, so every amount below 10^13 yuan is stored as its exact
  decimal text, and Excel itself keeps 15) and dates as dates. Every text cell goes through :func:`core.tabular.spreadsheet_text`, so an
  enterprise named ``=cmd|' /C calc'!A0`` opens as plain text;
- :func:`ledger_download` is the HTTP response both routes return.
"""
from __future__ import annotations

import io
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from flask import Response
from flask_login import current_user
from sqlalchemy.orm import joinedload, lazyload

from core import clock
from core.db import db
from core.i18n import _, _l
from core.tabular import spreadsheet_text
from loans import queries
from loans.dpd import Classification
from loans.models import Loan
from loans.queries import LoanState
from parties.models import Bank, Enterprise

__all__ = ["CHUNK_SIZE", "XLSX_MIMETYPE", "LedgerRow", "ledger_download", "ledger_rows", "ledger_title", "ledger_xlsx"]

CHUNK_SIZE = 1000
"""Loans read per statement: 10,000 loans are ten statements, and a page's objects can be freed."""

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# The sheet's and the file's name. Not "贷款台账": in this interface that names the banks' month-end tapes.
LEDGER_NAME = _l("知识价值贷款台账")

# The list page's words for the status as of the day (loans.views.STATE_LABELS says the same).
STATE_LABELS = {
    "contracted": _l("已签约"),
    "active": _l("存续中"),
    "overdue": _l("逾期"),
    "repaid": _l("已结清"),
}

MONEY_FORMAT = "#,##0.00"
RATE_FORMAT = "0.00##%"  # 0.0345 shows 3.45%; up to four decimals of a percent, as the loan form accepts
DATE_FORMAT = "yyyy-mm-dd"
DAYS_FORMAT = "0"

FIRST_DATA_ROW = 3  # row 1 the title, row 2 the header


@dataclass(frozen=True)
class _Column:
    title: Any  # a lazy string: translated when the workbook is built
    attribute: str
    number_format: str | None  # None: text
    width: int


COLUMNS: tuple[_Column, ...] = (
    _Column(_l("合同编号"), "contract_no", None, 20),
    _Column(_l("银行"), "bank_name", None, 22),
    _Column(_l("企业名称"), "enterprise_name", None, 32),
    _Column(_l("统一社会信用代码"), "credit_code", None, 22),
    _Column(_l("乡镇"), "town", None, 12),
    _Column(_l("行业"), "industry", None, 22),
    _Column(_l("合同金额"), "principal", MONEY_FORMAT, 16),
    _Column(_l("年利率"), "annual_rate", RATE_FORMAT, 10),
    _Column(_l("起始日"), "start_date", DATE_FORMAT, 12),
    _Column(_l("到期日"), "maturity_date", DATE_FORMAT, 12),
    _Column(_l("累计放款"), "disbursed_total", MONEY_FORMAT, 16),
    _Column(_l("累计还本"), "repaid_principal", MONEY_FORMAT, 16),
    _Column(_l("贷款余额"), "outstanding_principal", MONEY_FORMAT, 16),
    _Column(_l("逾期天数"), "days_past_due", DAYS_FORMAT, 10),
    _Column(_l("五级分类"), "classification", None, 10),
    _Column(_l("状态"), "status", None, 10),
)


@dataclass(frozen=True)
class LedgerRow:
    """One loan of the ledger as of a day: plain values, no ORM object (the pages can be freed)."""

    contract_no: str
    bank_name: str
    enterprise_name: str
    credit_code: str
    town: str
    industry: str
    principal: Decimal
    annual_rate: Decimal  # a fraction: 0.0345 is 3.45%
    start_date: date
    maturity_date: date
    disbursed_total: Decimal
    repaid_principal: Decimal
    outstanding_principal: Decimal
    days_past_due: int
    classification: str  # the label, as the list page shows it
    status: str  # the label of the status as of the day

    @classmethod
    def of(cls, loan: Loan, state: LoanState) -> LedgerRow:
        return cls(
            contract_no=loan.contract_no,
            bank_name=loan.bank.name,
            enterprise_name=loan.enterprise.name,
            credit_code=loan.enterprise.credit_code,
            town=loan.enterprise.town,
            industry=loan.enterprise.industry,
            principal=loan.principal,
            annual_rate=loan.annual_rate,
            start_date=loan.start_date,
            maturity_date=loan.maturity_date,
            disbursed_total=state.disbursed_total,
            repaid_principal=state.repaid_principal,
            outstanding_principal=state.outstanding_principal,
            days_past_due=state.days_past_due,
            classification=str(state.classification.label),
            status=str(STATE_LABELS[state.status]),
        )


# ----------------------------------------------------------------------------------------- reading


def ledger_rows(
    *,
    as_of: date,
    bank_id: int | None = None,
    enterprise_id: int | None = None,
    classification: str | None = None,
    status: str | None = None,
    search: str | None = None,
    chunk_size: int | None = None,
) -> Iterator[LedgerRow]:
    """The loans the caller may see (a liaison: its own bank's), filtered as the list page filters them,
    each as of ``as_of``; in the list's order (newest contracts first).

    Read in pages of ``chunk_size`` (default :data:`CHUNK_SIZE`) by keyset (start date, id), one
    statement per page, plus the policy of the day: the queries grow with the pages, never the loans.
    """
    chunk_size = chunk_size or CHUNK_SIZE
    thresholds = queries.thresholds_on(as_of)
    # The list page's own query, so the ledger and the list can never disagree on what a filter means.
    query, disbursed, repaid = queries.list_query(
        as_of=as_of,
        thresholds=thresholds,
        bank_id=bank_id,
        enterprise_id=enterprise_id,
        classification=classification,
        status=status,
        search=search,
        scoped=True,
    )
    statement = (
        query.add_columns(disbursed, repaid)
        .options(
            joinedload(Loan.bank),
            joinedload(Loan.enterprise).lazyload(Enterprise.ratings),
            lazyload(Loan.disbursements),
            lazyload(Loan.repayments),
        )
        .order_by(Loan.start_date.desc(), Loan.id.desc())
        .limit(chunk_size)
    )
    after: tuple[date, int] | None = None
    while True:
        page = statement
        if after is not None:
            last_start, last_id = after
            page = statement.where(
                sa.or_(Loan.start_date < last_start, sa.and_(Loan.start_date == last_start, Loan.id < last_id))
            )
        rows = db.session.execute(page).all()
        for loan, disbursed_as_of, repaid_as_of in rows:
            yield LedgerRow.of(loan, queries.state_from_totals(loan, disbursed_as_of, repaid_as_of, as_of, thresholds))
        if len(rows) < chunk_size:
            return
        last = rows[-1][0]
        after = (last.start_date, last.id)


# ----------------------------------------------------------------------------------------- writing


def ledger_title(bank_name: str | None, as_of: date, filters: Iterable[str] = ()) -> str:
    """The first row: whose ledger, as of which day, and the filters that narrowed it (if any)."""
    title = _("%(bank)s 知识价值信用贷款台账（截至 %(day)s）", bank=bank_name or _("全部合作银行"), day=as_of.isoformat())
    narrowed = [item for item in filters if item]
    if narrowed:
        title += " " + _("筛选条件：%(filters)s", filters="；".join(narrowed))
    return title


def ledger_xlsx(rows: Iterable[LedgerRow], *, title: str) -> bytes:
    """The ledger workbook's bytes: ``title`` in row 1, the header in row 2 (bold, frozen, auto filter),
    one row per :class:`LedgerRow` from row 3. Rows are streamed to the sheet as they come."""
    from openpyxl import Workbook  # imported here: only exports need it
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.filters import AutoFilter

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(str(LEDGER_NAME))
    # A write-only sheet takes its columns and panes before the first row.
    for index, column in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    sheet.freeze_panes = f"A{FIRST_DATA_ROW}"

    def styled(value: Any, *, font: Font | None = None, number_format: str | None = None) -> WriteOnlyCell:
        cell = WriteOnlyCell(sheet, value=spreadsheet_text(str(value)) if number_format is None else value)
        if font is not None:
            cell.font = font
        if number_format is not None:
            cell.number_format = number_format
        return cell

    sheet.append([styled(title, font=Font(bold=True, size=14))])
    bold = Font(bold=True)
    sheet.append([styled(column.title, font=bold) for column in COLUMNS])

    count = 0
    for row in rows:
        # Plain text goes in as a str (the sheet reuses one cell for those: cheaper than a cell each).
        sheet.append([
            spreadsheet_text(str(value)) if column.number_format is None
            else styled(value, number_format=column.number_format)
            for column, value in ((column, getattr(row, column.attribute)) for column in COLUMNS)
        ])
        count += 1

    last_row = FIRST_DATA_ROW - 1 + count
    sheet.auto_filter = AutoFilter(ref=f"A{FIRST_DATA_ROW - 1}:{get_column_letter(len(COLUMNS))}{last_row}")
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()


# -------------------------------------------------------------------------------------------- HTTP


def ledger_download(
    *,
    as_of: date | None = None,
    bank_id: int | None = None,
    enterprise_id: int | None = None,
    classification: str | None = None,
    status: str | None = None,
    search: str | None = None,
) -> Response:
    """The ledger of the caller's loans matching the filters, as an ``.xlsx`` attachment."""
    as_of = as_of or clock.today()
    search = (search or "").strip() or None
    bank_name, bank_code = _ledger_bank(bank_id)
    rows = ledger_rows(
        as_of=as_of,
        bank_id=bank_id,
        enterprise_id=enterprise_id,
        classification=classification,
        status=status,
        search=search,
    )
    filters = [
        _("五级分类：%(value)s", value=Classification(classification).label) if classification else "",
        _("状态：%(value)s", value=STATE_LABELS[status]) if status else "",
        _("关键字：%(value)s", value=search) if search else "",
    ]
    body = ledger_xlsx(rows, title=ledger_title(bank_name, as_of, filters))
    name = "-".join(part for part in (str(LEDGER_NAME), bank_code, as_of.isoformat()) if part) + ".xlsx"
    fallback = "-".join(part for part in ("loan-ledger", bank_code, as_of.isoformat()) if part) + ".xlsx"
    response = Response(body, mimetype=XLSX_MIMETYPE)
    # RFC 6266: the Chinese name for browsers (filename*), a readable ASCII one for older clients.
    response.headers.set(
        "Content-Disposition",
        "attachment",
        filename=unicodedata.normalize("NFKD", fallback).encode("ascii", "ignore").decode("ascii"),
        **{"filename*": "UTF-8''" + quote(name, safe="!#$&+-.^_`|~")},
    )
    response.headers["Cache-Control"] = "no-store"  # a bank's loans: not for shared caches
    return response


def _ledger_bank(bank_id: int | None) -> tuple[str | None, str | None]:
    """Name and code of the bank the ledger is about: a liaison's own, the one filtered on, or
    (None, None) for every bank."""
    if current_user.is_liaison:
        bank = current_user.bank
    elif bank_id is None:
        return None, None
    else:
        bank = db.session.get(Bank, bank_id)
    if bank is None:  # an unknown bank filtered on: an empty ledger, not "every bank"
        return _("未知银行"), None
    return bank.name, bank.code
