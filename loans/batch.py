"""Batch imports of disbursements and repayments, and the banks' month-end loan tapes (issue 3 item 6).

Rules:

* **All or nothing.** A batch file is read (:func:`core.tabular.read_table`), parsed
  (:mod:`loans.batch_format`), every contract number resolved to a loan *of the uploading
  bank*, and every row applied through the same service as a single API call
  (:func:`loans.services.record_disbursement` / :func:`~loans.services.record_repayment`),
  so a batch obeys exactly the rules of one request. If any row fails, the whole file is
  refused with :class:`~core.errors.ValidationFailed` (422) whose ``errors`` maps each bad
  row number to its Chinese messages, and nothing of the file stays in the session.
* **Every bad row at once.** Rows are applied even after a failure, each inside its own
  SAVEPOINT, so a business refusal of row 7 is reported together with that of row 12
  and row 12 is judged as if row 7 had not been there.
* **Idempotent.** A row whose ``bank_ref`` was already recorded with the same content is a
  replay: it counts as a duplicate, not an error, so re-sending a file is harmless.
* **Tapes** are validated completely before anything is stored; an upload for the same
  bank and period adds the next version (the reconciliation reads the latest).

Services flush, never commit (the request's unit of work commits once).
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import lazyload

from core import clock
from core.db import db
from core.errors import BusinessRuleError, NotFound, ValidationFailed
from core.i18n import _
from core.tabular import Table, TableError, read_table
from loans.batch_format import (
    DISBURSEMENT_LAYOUT,
    REPAYMENT_LAYOUT,
    TAPE_LAYOUT,
    DisbursementRow,
    Layout,
    RepaymentRow,
    RowError,
    errors_by_row,
    parse_disbursement_rows,
    parse_repayment_rows,
    parse_tape_rows,
)
from loans.models import BankTape, BankTapeRow, Loan
from loans.services import record_disbursement, record_repayment
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

_LOOKUP_CHUNK = 500  # contract numbers per IN (...) query: far below every database's parameter limit
_PERIOD = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")


# ------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class BatchLine:
    """One applied row: what it recorded (or found already recorded)."""

    row: int
    contract_no: str
    bank_ref: str
    on: date
    amount: Decimal  # the disbursed amount, or the repaid principal
    interest: Decimal | None  # repayments only
    created: bool  # False: an idempotent replay of a record made earlier
    loan_id: int
    record_id: int


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
    apply: Callable[[Loan, Any, str], tuple[Any, bool]]
    amount: Callable[[Any], Decimal]
    on: Callable[[Any], date]
    interest: Callable[[Any], Decimal | None]


def _apply_disbursement(loan: Loan, row: DisbursementRow, created_by: str) -> tuple[Any, bool]:
    return record_disbursement(
        loan, amount=row.amount, disbursed_on=row.disbursed_on, bank_ref=row.bank_ref, created_by=created_by
    )


def _apply_repayment(loan: Loan, row: RepaymentRow, created_by: str) -> tuple[Any, bool]:
    return record_repayment(
        loan,
        principal=row.principal,
        interest=row.interest,
        paid_on=row.paid_on,
        bank_ref=row.bank_ref,
        created_by=created_by,
    )


BATCH_KINDS: dict[str, BatchKind] = {
    "disbursements": BatchKind(
        name="disbursements",
        layout=DISBURSEMENT_LAYOUT,
        parse=parse_disbursement_rows,
        apply=_apply_disbursement,
        amount=lambda row: row.amount,
        on=lambda row: row.disbursed_on,
        interest=lambda row: None,
    ),
    "repayments": BatchKind(
        name="repayments",
        layout=REPAYMENT_LAYOUT,
        parse=parse_repayment_rows,
        apply=_apply_repayment,
        amount=lambda row: row.principal,
        on=lambda row: row.paid_on,
        interest=lambda row: row.interest,
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
    the layout, or any row is bad; flushes the records otherwise.
    """
    spec = BATCH_KINDS[kind]
    table = _read(data, filename, MAX_BATCH_ROWS)
    parsed, errors = _parse(spec.parse, table)
    errors = list(errors)
    # Locks first (before this request flushes anything), in contract-number order, so
    # two batches touching the same loans queue instead of deadlocking.
    loans = _lock_loans(bank_id, {row.contract_no for row in parsed})

    lines: list[BatchLine] = []
    # The whole file in one savepoint: a refusal leaves the session as it found it, even
    # for a caller without a request's unit of work (a command, a job).
    whole_file = db.session.begin_nested()
    try:
        # In date order, as the events happened (a tranche before the repayment that
        # follows it); the report stays in row order.
        for row in sorted(parsed, key=lambda row: (spec.on(row), row.row)):
            loan = loans.get(row.contract_no)
            if loan is None:
                errors.append(_unknown_contract(row.row, row.contract_no))
                continue
            savepoint = db.session.begin_nested()
            try:
                record, created = spec.apply(loan, row, created_by)
            except (BusinessRuleError, ValidationFailed) as error:
                savepoint.rollback()
                reason = _reason(error, spec.layout)
                errors.append(RowError(row.row, _("第 %(row)d 行：%(reason)s", row=row.row, reason=reason)))
                continue
            savepoint.commit()
            lines.append(
                BatchLine(
                    row=row.row,
                    contract_no=row.contract_no,
                    bank_ref=row.bank_ref,
                    on=spec.on(row),
                    amount=spec.amount(row),
                    interest=spec.interest(row),
                    created=created,
                    loan_id=loan.id,
                    record_id=record.id,
                )
            )
        if errors:
            raise _file_refused(errors)
    except BaseException:
        whole_file.rollback()
        raise
    whole_file.commit()

    lines.sort(key=lambda line: line.row)
    created_lines = [line for line in lines if line.created]
    interests = [line.interest for line in lines if line.interest is not None]
    return BatchResult(
        kind=kind,
        rows=len(table.rows),
        created=len(created_lines),
        duplicates=len(lines) - len(created_lines),
        total_amount=_sum(line.amount for line in lines),
        created_amount=_sum(line.amount for line in created_lines),
        total_interest=_sum(interests) if kind == "repayments" else None,
        lines=lines,
    )


def _lock_loans(bank_id: int, contract_nos: Iterable[str]) -> dict[str, Loan]:
    """The bank's loans with these contract numbers, row-locked, keyed by contract number."""
    numbers = sorted(set(contract_nos))
    found: dict[str, Loan] = {}
    for start in range(0, len(numbers), _LOOKUP_CHUNK):
        chunk = numbers[start : start + _LOOKUP_CHUNK]
        statement = (
            sa.select(Loan)
            .where(Loan.bank_id == bank_id, Loan.contract_no.in_(chunk))
            .order_by(Loan.contract_no)
            # OF loans: the eagerly joined bank and enterprise are read, not locked (and
            # PostgreSQL refuses FOR UPDATE on the outer side of a join).
            .with_for_update(of=Loan)
            # The tranches and repayments are the service's to read, under its own lock.
            .options(lazyload(Loan.disbursements), lazyload(Loan.repayments))
        )
        for loan in db.session.execute(statement).unique().scalars():
            found[loan.contract_no] = loan
    return found


def _unknown_contract(row: int, contract_no: str) -> RowError:
    return RowError(
        row,
        _("第 %(row)d 行：合同编号「%(contract)s」不是本行登记的贷款", row=row, contract=contract_no),
        "contract_no",
    )


def _reason(error: BusinessRuleError | ValidationFailed, layout: Layout) -> str:
    """A service refusal as one Chinese sentence for the row report.

    A business refusal's message is the full sentence; a validation refusal's message only
    names fields, so its field messages are given, each after its column's name.
    """
    if isinstance(error, BusinessRuleError) or not error.errors:
        return error.message
    labels = {column.key: str(column.label) for column in layout.columns}
    parts = []
    for key, messages in error.errors.items():
        for message in messages if isinstance(messages, (list, tuple)) else [messages]:
            label = labels.get(key)
            parts.append(f"{label}：{message}" if label else str(message))
    return "；".join(parts)


def _file_refused(errors: Sequence[RowError]) -> ValidationFailed:
    grouped = errors_by_row(errors)
    return ValidationFailed(
        _("文件中有 %(count)d 行有误，未导入任何记录；请更正后重新上传整个文件", count=len(grouped)),
        errors=grouped,
    )


def _sum(amounts: Iterable[Decimal]) -> Decimal:
    return sum(amounts, Decimal("0.00"))


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
    """
    period = check_period(period)
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
