"""The grade stored on each tranche (``Disbursement.grade``) and its borrower (``enterprise_id``).

Rule (loans.progress): the grade of a tranche is the grade of the borrower's latest rating dated on
or before the disbursement day; a tranche with no earlier rating is unrated (NULL). Stored so the
progress breakdowns read one table; kept right by two mapper events, whatever code path writes:

- a tranche inserted without them gets them in the same INSERT (one lookup of its loan's borrower
  and that borrower's rating); a batch stamps all its tranches beforehand with ``stamp_tranches``
  (one statement for the whole batch);
- a rating inserted dated on or before tranches already recorded (ratings may be dated back in an
  open month) re-grades the borrower's tranches from its day up to the borrower's next rating, in
  the same transaction.
"""
from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from datetime import date

import sqlalchemy as sa
from sqlalchemy import event

from core.db import db
from loans.models import Disbursement, Loan
from parties.models import Rating

__all__ = ["grade_on", "stamp_tranches"]


def grade_on(enterprise_id: int, day: date) -> str | None:
    """The enterprise's grade on ``day``: its latest rating dated on or before it (None: unrated)."""
    return db.session.scalar(sa.select(_latest_grade(sa.literal(enterprise_id), day)))


def _latest_grade(enterprise_id: sa.ColumnElement[int], day: date) -> sa.ScalarSelect:
    return (
        sa.select(Rating.grade)
        .where(Rating.enterprise_id == enterprise_id, Rating.rated_on <= day)
        .order_by(Rating.rated_on.desc())
        .limit(1)
        .scalar_subquery()
    )


def stamp_tranches(tranches: Iterable[Disbursement], enterprise_of: Mapping[int, int]) -> None:
    """Set ``enterprise_id`` and ``grade`` on new tranches (``enterprise_of``: loan id -> borrower),
    reading every borrower's ratings in one statement."""
    tranches = list(tranches)
    borrowers = {enterprise_of[tranche.loan_id] for tranche in tranches}
    ratings: dict[int, tuple[list[date], list[str]]] = {}
    if borrowers:
        rows = db.session.execute(
            sa.select(Rating.enterprise_id, Rating.rated_on, Rating.grade)
            .where(Rating.enterprise_id.in_(borrowers))
            .order_by(Rating.enterprise_id, Rating.rated_on)
        )
        for enterprise_id, rated_on, grade in rows:
            days, grades = ratings.setdefault(enterprise_id, ([], []))
            days.append(rated_on)
            grades.append(grade)
    for tranche in tranches:
        tranche.enterprise_id = enterprise_of[tranche.loan_id]
        days, grades = ratings.get(tranche.enterprise_id, ([], []))
        index = bisect.bisect_right(days, tranche.disbursed_on)
        tranche.grade = grades[index - 1] if index else None


@event.listens_for(Disbursement, "before_insert")
def _stamp_one(mapper, connection: sa.Connection, tranche: Disbursement) -> None:
    if tranche.enterprise_id is not None:
        return  # stamped beforehand (a batch)
    loan_id = tranche.loan_id if tranche.loan_id is not None else tranche.loan.id
    enterprise_id, grade = connection.execute(
        sa.select(Loan.enterprise_id, _latest_grade(Loan.enterprise_id, tranche.disbursed_on)).where(Loan.id == loan_id)
    ).one()
    tranche.enterprise_id, tranche.grade = enterprise_id, grade


@event.listens_for(Rating, "after_insert")
def _regrade(mapper, connection: sa.Connection, rating: Rating) -> None:
    later = sa.select(sa.func.min(Rating.rated_on)).where(
        Rating.enterprise_id == rating.enterprise_id, Rating.rated_on > rating.rated_on
    ).scalar_subquery()
    table = Disbursement.__table__
    connection.execute(
        table.update()
        .where(
            table.c.enterprise_id == rating.enterprise_id,
            table.c.disbursed_on >= rating.rated_on,
            sa.or_(later.is_(None), table.c.disbursed_on < later),
        )
        .values(grade=rating.grade)
    )
