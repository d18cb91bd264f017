"""Monthly reconciliation results and their sign-off (domain.md §7), without knowing any domain.

The checks themselves are the application's (``config.reconciliation`` compares the ledger with
the sub-ledgers and the banks' tapes); this module keeps what they found and the auditor's word:

* :func:`save_result` stores one result per month - the differences, the checks' figures and a
  *digest* of the month's inputs - and a run before sign-off **replaces** it (same row, never a
  second one). A month that is closed refuses a new run (409).
* :func:`sign_off` is the auditor's sign-off. It needs a stored result (409 otherwise), refuses a
  second sign-off (409), needs a comment when there are differences (422), refuses a result that
  is stale - the month's inputs changed since the run, so the auditor would sign figures that are
  no longer true (409: run it again) - and refuses while an earlier reconciled month still awaits
  sign-off (409: months close in order). Then it closes the month (``core.periods.close_period``)
  and marks the result ``signed_off``.

Differences are stored as JSON (plain values: strings for money, ISO dates); the caller knows
their shape and how to describe them. The rows opt out of the automatic audit (a month's
differences can run to thousands of lines); each run and each sign-off is an explicit audit event
instead, and the month's closing is audited with its ``ClosedPeriod`` row.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, defer, mapped_column

from core import clock
from core.audit.trail import record_event
from core.db import UTCDateTime, db
from core.errors import BusinessRuleError, ValidationFailed
from core.i18n import _
from core.periods import close_period, ensure_period_open, lock_for_closing, parse_period

__all__ = [
    "RESULT_STATUSES",
    "ReconciliationResult",
    "attach_document",
    "get_result",
    "results",
    "save_result",
    "sign_off",
]

BALANCED = "balanced"
DIFFERENCES = "differences"
SIGNED_OFF = "signed_off"
RESULT_STATUSES = (BALANCED, DIFFERENCES, SIGNED_OFF)
MAX_PER_PAGE = 200

JSONType = sa.JSON(none_as_null=True)


class ReconciliationResult(db.Model):
    """One month's reconciliation: what the last run found and, once signed off, who signed it."""

    __tablename__ = "reconciliation_results"
    __table_args__ = (
        sa.CheckConstraint(f"status IN ({', '.join(repr(s) for s in RESULT_STATUSES)})", name="known_status"),
        sa.CheckConstraint("length(period) = 7", name="period_format"),
        sa.CheckConstraint("difference_count >= 0", name="count_not_negative"),
        sa.CheckConstraint(
            "(status = 'signed_off') = (signed_off_at IS NOT NULL)", name="signed_off_dated"
        ),
    )
    __audit__ = False  # explicit events (reconciliation.run / reconciliation.sign_off) instead

    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(sa.String(7), unique=True)  # YYYY-MM
    status: Mapped[str] = mapped_column(sa.String(12))
    run_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    run_by: Mapped[str] = mapped_column(sa.String(64), default="system")
    runs: Mapped[int] = mapped_column(default=1)  # how many runs this row has seen (re-runs replace)
    difference_count: Mapped[int] = mapped_column(default=0)
    differences: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    checks: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    digest: Mapped[str] = mapped_column(sa.String(64), default="")
    document_id: Mapped[int | None]  # the report's PDF (core.documents), once rendered
    signed_off_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    signed_off_by: Mapped[str | None] = mapped_column(sa.String(64))
    sign_off_comment: Mapped[str | None] = mapped_column(sa.Text())

    def __repr__(self) -> str:
        return f"<ReconciliationResult {self.period} {self.status}>"


# ------------------------------------------------------------------------------------------- reads


def get_result(period: str) -> ReconciliationResult | None:
    """The stored result of ``period`` (``YYYY-MM``), or None when the month was never reconciled."""
    return db.session.scalar(sa.select(ReconciliationResult).where(ReconciliationResult.period == period))


def results(*, page: int = 1, per_page: int = 50) -> tuple[list[ReconciliationResult], int]:
    """Results newest month first, and their count. The differences stay unloaded (they may be large)."""
    page, per_page = max(1, page), min(max(1, per_page), MAX_PER_PAGE)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(ReconciliationResult)) or 0
    rows = db.session.scalars(
        sa.select(ReconciliationResult)
        .options(defer(ReconciliationResult.differences), defer(ReconciliationResult.checks))
        .order_by(ReconciliationResult.period.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return list(rows), total


def _locked(period: str) -> ReconciliationResult | None:
    return db.session.execute(
        sa.select(ReconciliationResult)
        .where(ReconciliationResult.period == period)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


# ------------------------------------------------------------------------------------------ writes


def save_result(
    period: str,
    *,
    differences: list[dict[str, Any]],
    checks: list[dict[str, Any]],
    digest: str,
    run_by: str = "system",
) -> ReconciliationResult:
    """Store what a run of ``period`` found, replacing the previous run's result (one row per month).

    409 when the month is closed or its result already signed off. Flushes, never commits.
    """
    period = parse_period(period)
    ensure_period_open(period)
    result = _locked(period)
    if result is not None and result.status == SIGNED_OFF:
        raise BusinessRuleError(_("%(period)s 的对账结果已签核，不能重新对账", period=period))
    before = None if result is None else {"status": result.status, "differences": result.difference_count}
    values = {
        "status": DIFFERENCES if differences else BALANCED,
        "run_at": clock.now(),
        "run_by": run_by,
        "difference_count": len(differences),
        "differences": differences,
        "checks": checks,
        "digest": digest,
        "document_id": None,
    }
    if result is None:
        result = ReconciliationResult(period=period, runs=1, **values)
        try:
            with db.session.begin_nested():
                db.session.add(result)
                db.session.flush()
        except IntegrityError as error:  # a concurrent first run of the month (the job lock prevents it)
            raise BusinessRuleError(_("%(period)s 正在被另一进程对账，请稍后重试", period=period)) from error
    else:
        for key, value in values.items():
            setattr(result, key, value)
        result.runs = result.runs + 1
        db.session.flush()
    record_event(
        "reconciliation.run",
        "reconciliation",
        period,
        before=before,
        after={"status": result.status, "differences": result.difference_count, "digest": digest, "runs": result.runs},
    )
    return result


def attach_document(result: ReconciliationResult, document_id: int) -> None:
    """Link the rendered report (a ``core.documents`` row) to the result."""
    result.document_id = document_id
    db.session.flush()


def sign_off(
    period: str, *, by: str, comment: str | None, current_digest: Callable[[str], str]
) -> ReconciliationResult:
    """The auditor signs off ``period``'s result, which closes the month (and every month before it).

    ``current_digest(period)`` recomputes the digest of the month's inputs; it is called after the
    closing lock is taken, so nothing can change between the comparison and the close.

    409: never reconciled, already signed off, an earlier reconciled month not signed off yet, the
    month's data changed since the run (run it again), the month not over. 422: no comment while
    there are differences, a comment over 2,000 characters. Flushes, never commits.
    """
    period = parse_period(period)
    clean = (comment or "").strip()
    # Wait for the writers in flight, then read: what we compare is what will be closed.
    lock_for_closing()
    result = _locked(period)
    if result is None:
        raise BusinessRuleError(_("%(period)s 尚未对账，不能签核", period=period))
    if result.status == SIGNED_OFF:
        raise BusinessRuleError(_("%(period)s 的对账结果已签核", period=period))
    if result.status == DIFFERENCES and not clean:
        message = _("存在对账差异时，签核必须填写意见")
        raise ValidationFailed(message, {"comment": [message]})
    waiting = db.session.scalar(
        sa.select(sa.func.min(ReconciliationResult.period)).where(
            ReconciliationResult.period < period, ReconciliationResult.status != SIGNED_OFF
        )
    )
    if waiting is not None:
        raise BusinessRuleError(
            _("请先签核 %(earlier)s 的对账结果：月份按顺序结账", earlier=waiting)
        )
    if current_digest(period) != result.digest:
        raise BusinessRuleError(
            _("%(period)s 的数据在对账之后有变动，请重新对账后再签核", period=period)
        )
    closed = close_period(period, by, clean)
    result.status = SIGNED_OFF
    result.signed_off_at = closed.signed_off_at
    result.signed_off_by = by
    result.sign_off_comment = closed.comment
    db.session.flush()
    record_event(
        "reconciliation.sign_off",
        "reconciliation",
        period,
        before={"status": DIFFERENCES if result.difference_count else BALANCED},
        after={"status": SIGNED_OFF, "comment": closed.comment, "differences": result.difference_count},
    )
    return result
