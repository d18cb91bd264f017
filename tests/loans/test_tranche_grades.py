"""The borrower and grade stored on each tranche (loans.tranche_grades) follow the rule of the
progress breakdowns: the borrower's latest rating dated on or before the tranche's day."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from core.db import db
from loans.models import Disbursement
from loans.progress import program_progress
from loans.tranche_grades import grade_on, stamp_tranches
from tests.factories import EnterpriseFactory, LoanFactory, RatingFactory


def tranche(loan, amount: str, on: date) -> Disbursement:
    row = Disbursement(loan_id=loan.id, bank_id=loan.bank_id, amount=Decimal(amount), disbursed_on=on,
                       bank_ref=f"G-{loan.id}-{on}")
    db.session.add(row)
    db.session.flush()
    return row


def stored(*tranches: Disbursement) -> list[tuple[int, str | None]]:
    ids = [t.id for t in tranches]
    rows = dict(
        (row.id, (row.enterprise_id, row.grade))
        for row in db.session.execute(sa.select(Disbursement.id, Disbursement.enterprise_id, Disbursement.grade)
                                      .where(Disbursement.id.in_(ids)))
    )
    return [rows[i] for i in ids]


def test_a_tranche_gets_its_borrower_and_the_grade_of_its_day(app_ctx):
    enterprise = EnterpriseFactory()
    RatingFactory(enterprise=enterprise, grade="B", rated_on=date(2023, 1, 10))
    RatingFactory(enterprise=enterprise, grade="A", rated_on=date(2024, 1, 10))
    loan = LoanFactory(enterprise=enterprise, principal=Decimal("3000000.00"))
    before, first, rated_day, second = (tranche(loan, "1.00", day) for day in
                                        (date(2023, 1, 9), date(2023, 6, 1), date(2024, 1, 10), date(2024, 5, 1)))
    assert stored(before, first, rated_day, second) == [
        (enterprise.id, None), (enterprise.id, "B"), (enterprise.id, "A"), (enterprise.id, "A")
    ]
    assert grade_on(enterprise.id, date(2023, 12, 31)) == "B"


def test_a_rating_dated_back_regrades_the_tranches_up_to_the_next_rating(app_ctx):
    enterprise = EnterpriseFactory()
    other = EnterpriseFactory()
    RatingFactory(enterprise=enterprise, grade="C", rated_on=date(2023, 1, 1))
    RatingFactory(enterprise=enterprise, grade="A", rated_on=date(2024, 1, 1))
    loan = LoanFactory(enterprise=enterprise, principal=Decimal("3000000.00"))
    other_loan = LoanFactory(enterprise=other, principal=Decimal("3000000.00"))
    early, middle, late = (tranche(loan, "100.00", day) for day in (date(2023, 2, 1), date(2023, 8, 1), date(2024, 2, 1)))
    elsewhere = tranche(other_loan, "100.00", date(2023, 8, 1))
    assert stored(early, middle, late, elsewhere) == [
        (enterprise.id, "C"), (enterprise.id, "C"), (enterprise.id, "A"), (other.id, None)
    ]

    RatingFactory(enterprise=enterprise, grade="D", rated_on=date(2023, 6, 1))  # recorded later, dated back

    assert stored(early, middle, late, elsewhere) == [
        (enterprise.id, "C"), (enterprise.id, "D"), (enterprise.id, "A"), (other.id, None)
    ]
    grades = {line.key: line.amount for line in program_progress(date(2024, 12, 31)).by_grade}
    assert grades == {"A": Decimal("100.00"), "C": Decimal("100.00"), "D": Decimal("100.00"), "unrated": Decimal("100.00")}


def test_a_batch_is_stamped_from_one_read_of_the_ratings(app_ctx):
    enterprise = EnterpriseFactory()
    RatingFactory(enterprise=enterprise, grade="E", rated_on=date(2023, 1, 1))
    loan = LoanFactory(enterprise=enterprise, principal=Decimal("3000000.00"))
    rows = [Disbursement(loan_id=loan.id, bank_id=loan.bank_id, amount=Decimal("1.00"), disbursed_on=day,
                         bank_ref=f"B-{day}") for day in (date(2022, 12, 31), date(2023, 1, 1))]
    db.session.flush()
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        stamp_tranches(rows, {loan.id: enterprise.id})
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    assert len(statements) == 1
    assert [(row.enterprise_id, row.grade) for row in rows] == [(enterprise.id, None), (enterprise.id, "E")]
