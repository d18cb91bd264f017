"""PostgreSQL only: the row locks hold the principal and the credit line under real concurrency.

Two (or three) threads, each with its own app context, session and connection, call the services at
the same moment and commit for real, in a fresh database created and dropped here (the audit trail
they write can never be deleted, so the suite's database stays clean). SQLite needs no such test:
``BEGIN IMMEDIATE`` (core/db.py) serialises every writer, so the race cannot happen there.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from core.db import db
from loans import services
from loans.models import Disbursement, Loan
from tests.races import assert_books_sound, fresh_database, session_on
from tests.races import race as run_race
from tests.factories import BankFactory, EnterpriseFactory, RatingFactory
from tests.loans.test_loans import freeze_on

D = Decimal
START, MATURITY, TRANCHE_DAY = date(2026, 6, 1), date(2027, 5, 31), date(2026, 7, 1)
HOLD_SECONDS = 0.3  # each winner keeps its locks a moment, so the others really wait on them


@pytest.fixture
def fresh_engine(app) -> Iterator[sa.Engine]:
    with fresh_database(app, "loanrace", pool_size=5, max_overflow=10) as engine:
        freeze_on(date(2026, 12, 1))
        yield engine


def race(app, engine: sa.Engine, attempts: list[Callable[[], object]]) -> list[str]:
    return run_race(app, engine, attempts, hold_seconds=HOLD_SECONDS)


def arrange(app, engine: sa.Engine, *, line: str = "4000000.00", loans: int = 1) -> tuple[list[int], int, int]:
    """Banks, one rated enterprise and ``loans`` contracted loans of 1,000,000.00 (one bank each), committed."""
    with session_on(app, engine) as session:
        enterprise = EnterpriseFactory()
        RatingFactory(enterprise=enterprise, rated_on=date(2026, 5, 1), credit_line=D(line))
        banks = [BankFactory() for _ in range(max(loans, 2))]
        session.flush()
        loan_ids = []
        for n in range(loans):
            loan = services.create_loan(
                bank_id=banks[0].id, enterprise_id=enterprise.id, contract_no=f"RACE-{n}", principal=D("1000000.00"),
                annual_rate=D("0.0345"), start_date=START, maturity_date=MATURITY, created_by="arrange",
            )
            loan_ids.append(loan.id)
        session.commit()
        return loan_ids, enterprise.id, banks[1].id


def disbursing(loan_id: int, amount: str, ref: str) -> Callable[[], object]:
    def attempt() -> object:
        loan = db.session.get(Loan, loan_id)
        return services.record_disbursement(loan, amount=D(amount), disbursed_on=TRANCHE_DAY, bank_ref=ref, created_by="race")

    return attempt


def committed(engine: sa.Engine, query: sa.Select):
    with engine.connect() as conn:
        return conn.execute(query).all()


def test_concurrent_tranches_never_exceed_the_principal(app, fresh_engine):
    (loan_id,), _enterprise_id, _bank = arrange(app, fresh_engine)
    outcomes = race(app, fresh_engine, [disbursing(loan_id, "600000.00", "T1"), disbursing(loan_id, "600000.00", "T2")])
    assert outcomes == ["ok", "refused"]
    ((disbursed, status),) = committed(fresh_engine, sa.select(Loan.disbursed_total, Loan.status).where(Loan.id == loan_id))
    assert (disbursed, status) == (D("600000.00"), "active")
    amounts = [row.amount for row in committed(fresh_engine, sa.select(Disbursement.amount))]
    assert amounts == [D("600000.00")]


def test_three_tranches_racing_fill_the_principal_exactly(app, fresh_engine):
    (loan_id,), _enterprise_id, _bank = arrange(app, fresh_engine)
    outcomes = race(app, fresh_engine, [disbursing(loan_id, "500000.00", f"T{n}") for n in range(3)])
    assert outcomes == ["ok", "ok", "refused"]
    ((disbursed,),) = committed(fresh_engine, sa.select(Loan.disbursed_total).where(Loan.id == loan_id))
    assert disbursed == D("1000000.00")
    assert sum(row.amount for row in committed(fresh_engine, sa.select(Disbursement.amount))) == disbursed


def test_the_same_reference_on_two_loans_at_once_is_recorded_once(app, fresh_engine):
    (first, second), _enterprise_id, _bank = arrange(app, fresh_engine, loans=2)
    outcomes = race(app, fresh_engine, [disbursing(first, "1000.00", "SAME"), disbursing(second, "2000.00", "SAME")])
    assert outcomes == ["ok", "refused"]  # the UNIQUE constraint catches what the check could not see
    assert len(committed(fresh_engine, sa.select(Disbursement.id))) == 1


def test_two_loans_racing_for_one_credit_line(app, fresh_engine):
    _loans, enterprise_id, other_bank_id = arrange(app, fresh_engine, line="1000000.00", loans=0)
    with session_on(app, fresh_engine) as session:
        bank_ids = [BankFactory().id, other_bank_id]
        session.commit()

    def contracting(bank_id: int, n: int) -> Callable[[], object]:
        def attempt() -> object:
            return services.create_loan(
                bank_id=bank_id, enterprise_id=enterprise_id, contract_no=f"LINE-{n}", principal=D("600000.00"),
                annual_rate=D("0.04"), start_date=START, maturity_date=MATURITY, created_by="race",
            )

        return attempt

    outcomes = race(app, fresh_engine, [contracting(bank_id, n) for n, bank_id in enumerate(bank_ids)])
    assert outcomes == ["ok", "refused"]
    principals = [row.principal for row in committed(fresh_engine, sa.select(Loan.principal).where(Loan.enterprise_id == enterprise_id))]
    assert principals == [D("600000.00")] and sum(principals) <= D("1000000.00")


def test_ten_tranches_racing_for_one_principal_record_exactly_those_acknowledged(app, fresh_engine):
    (loan_id,), _enterprise_id, _bank = arrange(app, fresh_engine)
    events_before = assert_books_sound(app, fresh_engine)
    outcomes = run_race(
        app, fresh_engine, [disbursing(loan_id, "300000.00", f"T{n}") for n in range(10)], hold_seconds=0.05
    )
    assert outcomes == ["ok"] * 3 + ["refused"] * 7  # 3 x 300,000.00 fit in 1,000,000.00, a fourth does not
    refs = sorted(row.bank_ref for row in committed(fresh_engine, sa.select(Disbursement.bank_ref)))
    assert len(refs) == len(set(refs)) == outcomes.count("ok")  # acknowledged == stored, none twice
    ((disbursed,),) = committed(fresh_engine, sa.select(Loan.disbursed_total).where(Loan.id == loan_id))
    assert disbursed == D("900000.00") == sum(row.amount for row in committed(fresh_engine, sa.select(Disbursement.amount)))
    events = assert_books_sound(app, fresh_engine)
    # The trail knows the three stored tranches; the seven refused attempts left nothing, not even there.
    assert events.get("disbursements", 0) - events_before.get("disbursements", 0) == 3


def test_ten_loans_racing_for_one_credit_line_never_exceed_it(app, fresh_engine):
    _loans, enterprise_id, _bank = arrange(app, fresh_engine, line="1000000.00", loans=0)
    with session_on(app, fresh_engine) as session:
        bank_ids = [BankFactory().id for _ in range(10)]
        session.commit()

    def contracting(n: int) -> Callable[[], object]:
        return lambda: services.create_loan(
            bank_id=bank_ids[n], enterprise_id=enterprise_id, contract_no=f"LINE10-{n}", principal=D("300000.00"),
            annual_rate=D("0.04"), start_date=START, maturity_date=MATURITY, created_by="race",
        )

    outcomes = run_race(app, fresh_engine, [contracting(n) for n in range(10)], hold_seconds=0.05)
    assert outcomes == ["ok"] * 3 + ["refused"] * 7
    principals = [row.principal for row in committed(fresh_engine, sa.select(Loan.principal).where(Loan.enterprise_id == enterprise_id))]
    assert len(principals) == 3 and sum(principals) == D("900000.00") <= D("1000000.00")
    assert assert_books_sound(app, fresh_engine).get("loans") == 3
