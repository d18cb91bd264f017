"""Batch imports of disbursements and repayments, and the banks' month-end loan tapes (issue 3 item 6).

Rules:

* **All or nothing.** A batch file is read (:func:`core.tabular.read_table`), parsed
  (:mod:`loans.batch_format`) and handed whole to the bulk services
  (:func:`loans.services.record_disbursements` / :func:`~loans.services.record_repayments`),
  which apply the rules of a single request (the same pure functions over each loan's
  position) to every row. A contract number that is not a loan *of the uploading bank*
  is a row error. If any row fails, the whole file is refused with
  :class:`~core.errors.ValidationFailed` (422) whose ``errors`` maps each bad row number
  to its Chinese messages, and nothing of the file is written.
* **Every bad row at once.** Unreadable rows and rows refused by the rules are reported
  together; a refused row changes no loan's position, so the rows after it are judged as
  if it had not been there.
* **One request, quickly.** Each loan is locked and read once, the bank's references once,
  and the new records are inserted in one flush: a 10,000-row file takes a few seconds
  (``bench/batch_import.py``), not one round of queries per row.
* **Idempotent.** A row whose ``bank_ref`` was already recorded with the same content is a
  replay: it counts as a duplicate, not an error, so re-sending a file is harmless.
* **Tapes** are validated completely before anything is stored; an upload for the same
  bank and period adds the next version (the reconciliation reads the latest).

Services flush, never commit (the request's unit of work commits once).
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import lazyload

from core import clock
from core.db import db
from core.errors import NotFound, ValidationFailed
from core.i18n import _
from core.periods import ensure_period_open
from core.tabular import Table, TableError, read_table
from loans.batch_format import (
    DISBURSEMENT_LAYOUT,
    REPAYMENT_LAYOUT,
    TAPE_LAYOUT,
    Layout,
    RowError,
    errors_by_row,
    parse_disbursement_rows,
    parse_repayment_rows,
    parse_tape_rows,
)
from loans.models import BankTape, BankTapeRow
from loans.services import BulkLine, BulkResult, record_disbursements, record_repayments
from parties.models import Bank

__all__ = [
    "BATCH_KINDS",
    "BatchKind",
    "BatchLine",
    "BatchResult",
    "MAX_BATCH_ROWS",
    "MAX_TAPE_ROWS",
    "TEMPLATE_LAYOUTS",
    "check_period",
    "get_tape",
    "import_batch",
    "import_disbursements",
    "import_repayments",
    "list_tapes",
    "upload_tape",
]

MAX_BATCH_ROWS = 20_000
"""Rows one batch file may hold: a month of a busy bank with room to spare, and one request's work."""

MAX_TAPE_ROWS = 50_000
"""Rows one loan tape may hold (every loan a bank reports at a month end)."""

FILE_FIELD = "file"  # the multipart field: file-level problems are reported under its name

_PERIOD = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")


# ------------------------------------------------------------------------------- results


BatchLine = BulkLine
"""One applied row: what it recorded (or found already recorded)."""


@dataclass(frozen=True)
class BatchResult:
    """What a batch recorded. ``total_amount`` covers every row of the file (new and replayed)."""

    kind: str
    rows: int
    created: int
    duplicates: int
    total_amount: Decimal
    created_amount: Decimal
    total_interest: Decimal | None = None  # repayments only
    lines: list[BatchLine] = field(default_factory=list)


@dataclass(frozen=True)
class BatchKind:
    """What differs between a disbursement batch and a repayment batch."""

    name: str
    layout: Layout
    parse: Callable[[Table], tuple[Sequence[Any], list[RowError]]]
    record: Callable[..., BulkResult]  # (bank_id, rows, created_by, *, rejected) -> BulkResult


BATCH_KINDS: dict[str, BatchKind] = {
    "disbursements": BatchKind(
        name="disbursements",
        layout=DISBURSEMENT_LAYOUT,
        parse=parse_disbursement_rows,
        record=record_disbursements,
    ),
    "repayments": BatchKind(
        name="repayments",
        layout=REPAYMENT_LAYOUT,
        parse=parse_repayment_rows,
        record=record_repayments,
    ),
}


TEMPLATE_LAYOUTS: dict[str, Layout] = {
    "disbursements": DISBURSEMENT_LAYOUT,
    "repayments": REPAYMENT_LAYOUT,
    "tape": TAPE_LAYOUT,
}
"""The downloadable templates, by the name the API and the pages use."""


# ------------------------------------------------------------------------------- batches


def import_disbursements(bank_id: int, data: bytes, filename: str, created_by: str) -> BatchResult:
    """Record every disbursement of the file for ``bank_id``, or none (422 naming every bad row)."""
    return import_batch("disbursements", bank_id, data, filename, created_by)


def import_repayments(bank_id: int, data: bytes, filename: str, created_by: str) -> BatchResult:
    """Record every repayment of the file for ``bank_id``, or none (422 naming every bad row)."""
    return import_batch("repayments", bank_id, data, filename, created_by)


def import_batch(kind: str, bank_id: int, data: bytes, filename: str, created_by: str) -> BatchResult:
    """Read, check and apply a batch file of ``kind`` ("disbursements" or "repayments").

    A contract number that is not a loan of ``bank_id`` is a row error (a bank never
    reaches another bank's loan, not even to learn that it exists). Raises
    :class:`ValidationFailed` when the file cannot be read, its header does not match
    the layout, or any row is bad (the unreadable rows and the rows the rules refuse,
    together); flushes the records otherwise. Nothing is flushed before the refusal, so
    a caller without a request's unit of work (a command, a job) keeps a clean session.
    """
    spec = BATCH_KINDS[kind]
    table = _read(data, filename, MAX_BATCH_ROWS)
    parsed, errors = _parse(spec.parse, table)
    result = spec.record(bank_id, parsed, created_by, rejected=errors)
    return BatchResult(
        kind=kind,
        rows=len(table.rows),
        created=result.created,
        duplicates=result.duplicates,
        total_amount=result.total_amount,
        created_amount=result.created_amount,
        total_interest=result.total_interest,
        lines=result.lines,
    )


def _file_refused(errors: Sequence[RowError]) -> ValidationFailed:
    grouped = errors_by_row(errors)
    return ValidationFailed(
        _("文件中有 %(count)d 行有误，未导入任何记录；请更正后重新上传整个文件", count=len(grouped)),
        errors=grouped,
    )


# ---------------------------------------------------------------------------------- files


def _read(data: bytes, filename: str, max_rows: int) -> Table:
    """The upload as a table, or 422 with the reason under ``file``."""
    try:
        return read_table(data, filename, max_rows=max_rows)
    except TableError as error:
        raise ValidationFailed(error.message, errors={FILE_FIELD: [error.message]}) from None


Parser = Callable[[Table], tuple[Sequence[Any], list[RowError]]]


def _parse(parse: Parser, table: Table) -> tuple[Sequence[Any], list[RowError]]:
    """Typed rows and row errors; a header that does not match the layout refuses the file."""
    try:
        return parse(table)
    except TableError as error:  # HeaderError: the columns are wrong, no row can be read
        raise ValidationFailed(error.message, errors={FILE_FIELD: [error.message]}) from None


# ---------------------------------------------------------------------------------- tapes


def check_period(period: str | None) -> str:
    """``YYYY-MM`` of the current month or earlier (a month-end tape cannot come from the future)."""
    text = (period or "").strip()
    match = _PERIOD.fullmatch(text)
    if match is None:
        message = _("期间应为 YYYY-MM 格式的月份，例如 2025-06")
        raise ValidationFailed(message, errors={"period": [message]})
    today = clock.today()
    if (int(match[1]), int(match[2])) > (today.year, today.month):
        message = _("期间 %(period)s 尚未到来：只能上传本月及以前月份的台账", period=text)
        raise ValidationFailed(message, errors={"period": [message]})
    return text


def upload_tape(bank_id: int, period: str, data: bytes, filename: str, uploaded_by: str) -> BankTape:
    """Store a bank's month-end loan tape for ``period`` as the next version, or refuse it whole.

    The file must be readable, carry the tape layout and every row must be valid (422 with
    every bad row by number otherwise, nothing stored). Rows are stored as the bank
    reported them: comparing them with our loans is the monthly reconciliation's job.

    A tape is not a dated business record but the evidence of one month's reconciliation; once
    that month is signed off (closed) its result is final, so a new version for it is refused
    (409, core.periods) - a correction belongs in the open month's tape.
    """
    period = check_period(period)
    ensure_period_open(period, "period")  # a closed month's reconciliation is final: no new tape (409)
    table = _read(data, filename, MAX_TAPE_ROWS)
    rows, errors = _parse(parse_tape_rows, table)
    if errors:
        raise _file_refused(errors)

    # The bank's row serialises uploads for the bank, so two of them cannot both take the
    # same version number (the UNIQUE constraint would turn the loser into a 409).
    bank = db.session.execute(sa.select(Bank).where(Bank.id == bank_id).with_for_update()).scalar_one_or_none()
    if bank is None:
        raise NotFound()
    latest = db.session.scalar(
        sa.select(sa.func.max(BankTape.version)).where(BankTape.bank_id == bank_id, BankTape.period == period)
    )
    tape = BankTape(
        bank_id=bank_id,
        period=period,
        version=(latest or 0) + 1,
        filename=(filename or "")[:255],
        sha256=hashlib.sha256(data).hexdigest(),
        row_count=len(rows),
        uploaded_by=uploaded_by,
        uploaded_at=clock.now(),
    )
    tape.rows = [
        BankTapeRow(
            row_number=row.row,
            contract_no=row.contract_no,
            credit_code=row.credit_code,
            disbursed_total=row.disbursed_total,
            repaid_principal=row.repaid_principal,
            outstanding_principal=row.outstanding_principal,
            days_past_due=row.days_past_due,
        )
        for row in rows
    ]
    db.session.add(tape)
    db.session.flush()
    return tape


def list_tapes(
    bank_id: int | None = None, *, period: str | None = None, page: int = 1, per_page: int = 50
) -> tuple[list[BankTape], int]:
    """Tapes newest period and version first; ``bank_id`` None lists every bank's (callers scope it)."""
    query = sa.select(BankTape)
    if bank_id is not None:
        query = query.where(BankTape.bank_id == bank_id)
    if period:
        query = query.where(BankTape.period == period)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    items = (
        db.session.execute(
            query.order_by(BankTape.period.desc(), BankTape.version.desc(), BankTape.id.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
            # The rows are not needed in a list (a tape may hold tens of thousands).
            .options(lazyload(BankTape.rows))
        )
        .unique()
        .scalars()
        .all()
    )
    return list(items), total


def get_tape(tape_id: int) -> BankTape:
    """One tape with its rows, or 404 (the caller checks the bank scope)."""
    tape = db.session.get(BankTape, tape_id)
    if tape is None:
        raise NotFound()
    return tape
