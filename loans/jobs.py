"""Scheduled work of the loans package: the daily DPD snapshots.

``store_dpd_snapshots(day)`` records, for every loan with principal outstanding on ``day``, its days
past due and five-tier classification on that day (domain.md §3, the thresholds of the policy in
force on the day), with its bank and outstanding principal, in ``loan_dpd_snapshots``.

Why in SQL: at 100,000 loans a loop in Python (one state per loan) costs minutes and a query per
loan; here the figures come from the SQL expressions the loan lists filter with (``loans.queries``:
the DPD and the classification over the principal disbursed and repaid as of the day), and each chunk
of loans is one ``INSERT ... SELECT``. The number of statements is one per ``chunk_size`` loans plus
two (the policy, the loan ids), whatever the size of a chunk. ``bench/dpd_snapshots.py`` measures it
at 100,000 loans.

Idempotent per day: ``UNIQUE (loan_id, day)`` turns a second run for the same day into an update of
the same rows (``ON CONFLICT DO UPDATE``), so a day never has two snapshots of a loan. Flushes only;
the job runner commits.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from core.db import db, is_postgresql
from core.money import Money
from loans.models import Disbursement, Loan, LoanDpdSnapshot, Repayment
from loans.queries import classification_sql, dpd_sql, thresholds_on

__all__ = ["SNAPSHOT_CHUNK", "store_dpd_snapshots"]

SNAPSHOT_CHUNK = 5000

SNAPSHOT_COLUMNS = ("loan_id", "day", "dpd", "classification", "bank_id", "outstanding_principal")


def _as_of_totals(day: date, first_id: int, last_id: int) -> tuple[sa.ColumnElement, sa.ColumnElement, sa.FromClause]:
    """Principal disbursed and repaid on or before ``day`` for the loans with ids in a range, and the
    FROM clause they need: the running totals less what is dated later (as ``loans.queries`` computes
    them), the later sums joined once per chunk rather than one correlated subquery per use, since the
    DPD and classification expressions repeat them."""
    zero = sa.literal(Decimal("0.00"), Money())
    later_disbursed = (
        sa.select(Disbursement.loan_id, sa.func.sum(Disbursement.amount).label("amount"))
        .where(Disbursement.loan_id.between(first_id, last_id), Disbursement.disbursed_on > day)
        .group_by(Disbursement.loan_id)
        .subquery("later_disbursed")
    )
    later_repaid = (
        sa.select(Repayment.loan_id, sa.func.sum(Repayment.principal).label("amount"))
        .where(Repayment.loan_id.between(first_id, last_id), Repayment.paid_on > day)
        .group_by(Repayment.loan_id)
        .subquery("later_repaid")
    )
    joined = sa.outerjoin(Loan, later_disbursed, later_disbursed.c.loan_id == Loan.id).outerjoin(
        later_repaid, later_repaid.c.loan_id == Loan.id
    )
    disbursed = Loan.disbursed_total - sa.func.coalesce(later_disbursed.c.amount, zero)
    repaid = Loan.repaid_principal - sa.func.coalesce(later_repaid.c.amount, zero)
    return disbursed, repaid, joined


def store_dpd_snapshots(
    day: date, progress: Callable[[int, int], None] | None = None, *, chunk_size: int = SNAPSHOT_CHUNK
) -> int:
    """Store the DPD and classification on ``day`` of every loan with principal outstanding that day;
    returns the number of snapshots written. ``progress(done, total)`` is told after each chunk, in
    loans examined (those started by the day with something disbursed)."""
    thresholds = thresholds_on(day)
    ids = db.session.scalars(
        sa.select(Loan.id).where(Loan.start_date <= day, Loan.disbursed_total > 0).order_by(Loan.id)
    ).all()
    total = len(ids)
    if progress is not None:
        progress(0, total)

    table = LoanDpdSnapshot.__table__
    insert = postgresql.insert if is_postgresql() else sqlite.insert

    written = 0
    for start in range(0, total, chunk_size):
        chunk = ids[start : start + chunk_size]
        disbursed, repaid, later = _as_of_totals(day, chunk[0], chunk[-1])
        outstanding = disbursed - repaid
        dpd = dpd_sql(day, disbursed, repaid)
        rows = (
            sa.select(Loan.id, sa.literal(day, sa.Date()), dpd, classification_sql(dpd, thresholds), Loan.bank_id, outstanding)
            .select_from(later)
            .where(Loan.id.between(chunk[0], chunk[-1]), Loan.start_date <= day, Loan.disbursed_total > 0, outstanding > 0)
        )
        statement = insert(table).from_select(SNAPSHOT_COLUMNS, rows)
        statement = statement.on_conflict_do_update(
            index_elements=[table.c.loan_id, table.c.day],
            set_={name: statement.excluded[name] for name in ("dpd", "classification", "bank_id", "outstanding_principal")},
        )
        # preserve_rowcount: SQLAlchemy otherwise leaves an INSERT's rowcount to the driver (-1 on psycopg).
        written += db.session.execute(statement.execution_options(preserve_rowcount=True)).rowcount or 0
        if progress is not None:
            progress(start + len(chunk), total)
    return written
