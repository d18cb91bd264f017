"""How many SQL statements the hot paths run: a fixed number whatever the number of rows (no N+1),
under upper bounds so a regression shows here before it shows at 100,000 loans (bench/pages.py).

Each test counts the statements (``before_cursor_execute`` on the engine) of the same request over a
small book and over a book ten times larger: the counts must be equal (or, for a batch, grow by at
most a constant per row), and within the bound.
"""
from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from core.audit.trail import acting_as
from core.db import db
from loans.models import Disbursement, Loan, Repayment
from parties.models import Bank
from tests.factories import BankFactory, EnterpriseFactory, LoanFactory, RatingFactory
from tests.loans.test_loans import freeze_on

D = Decimal
TODAY = date(2025, 6, 30)
SMALL, LARGE = 5, 50


@pytest.fixture(autouse=True)
def today():
    """Today is 2025-06-30: every arranged record lies in the past."""
    freeze_on(TODAY)
    yield TODAY
    from core import clock

    clock.freeze(None)


@contextmanager
def counted(app) -> Iterator[list[str]]:
    """The statements sent to the database inside the block."""
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


def statements_of(app, request) -> int:
    """Statements of one call of ``request`` (run once before, so caches are warm on both sides)."""
    request()
    with counted(app) as statements:
        request()
    return len(statements)


def add_loans(app, bank_id: int, count: int, *, first: int = 0) -> list[int]:
    """``count`` active loans of the bank, each with two tranches and (every second) a repayment,
    every second covered by the pool, borrowers rated; written directly (the reads are under test)."""
    ids = []
    with app.app_context():
        bank = db.session.get(Bank, bank_id)
        for n in range(first, first + count):
            enterprise = EnterpriseFactory(town=("城关镇", "东港镇")[n % 2], industry=("软件", "制造业")[n % 2])
            RatingFactory(enterprise=enterprise, grade="ABCDE"[n % 5], rated_on=date(2024, 12, 1))
            repaid = D("100000.00") if n % 2 == 0 else D("0.00")
            loan = LoanFactory(bank=bank, enterprise=enterprise, contract_no=f"QC-{n:04d}", status="active",
                               start_date=date(2025, 1, 2), maturity_date=date(2025, 12, 31) if n % 3 else date(2025, 5, 31),
                               disbursed_total=D("600000.00"), repaid_principal=repaid, covered=n % 2 == 0)
            db.session.add_all([
                Disbursement(loan_id=loan.id, bank_id=bank.id, amount=D("400000.00"), disbursed_on=date(2025, 1, 5),
                             bank_ref=f"QC-D1-{n}"),
                Disbursement(loan_id=loan.id, bank_id=bank.id, amount=D("200000.00"), disbursed_on=date(2025, 3, 5),
                             bank_ref=f"QC-D2-{n}"),
            ])
            if repaid:
                db.session.add(Repayment(loan_id=loan.id, bank_id=bank.id, principal=repaid, interest=D("0.00"),
                                         paid_on=date(2025, 4, 5), bank_ref=f"QC-R-{n}"))
            ids.append(loan.id)
        db.session.commit()
    return ids


@pytest.fixture
def bank_id(app) -> int:
    with app.app_context():
        bank = BankFactory()
        db.session.commit()
        return bank.id


def grows_not(app, bank_id, request, bound: int) -> None:
    """The request's statements over SMALL loans and over LARGE loans: equal, and within ``bound``."""
    add_loans(app, bank_id, SMALL)
    small = statements_of(app, request)
    add_loans(app, bank_id, LARGE - SMALL, first=SMALL)
    large = statements_of(app, request)
    assert small == large, f"{small} statements over {SMALL} loans, {large} over {LARGE}: one per row somewhere"
    assert large <= bound, f"{large} statements, more than the {bound} this path needs"


def ok(response) -> None:
    assert response.status_code == 200, (response.status_code, response.get_data(as_text=True)[:300])


# ------------------------------------------------------------------------------------------- reads


@pytest.mark.parametrize(
    ("path", "role", "bound"),
    [
        ("/api/v1/program/progress", "fund_manager", 6),
        ("/api/v1/program/progress/timeline", "fund_manager", 5),
        ("/api/v1/risk/pool", "fund_manager", 10),
        ("/api/v1/seed/fund", "fund_manager", 6),
    ],
)
def test_json_reads_run_a_fixed_number_of_statements(app, client, api_as, bank_id, path, role, bound):
    _user, headers = api_as(role)
    grows_not(app, bank_id, lambda: ok(client.get(path, headers=headers)), bound)


def test_a_liaisons_progress_runs_as_many_statements_as_anyones(app, client, api_as):
    user, headers = api_as("bank_liaison")
    grows_not(app, user.bank_id, lambda: ok(client.get("/api/v1/program/progress", headers=headers)), 6)


@pytest.mark.parametrize(
    ("path", "role", "bound"),
    [
        ("/progress", "fund_manager", 8),
        ("/risk", "fund_manager", 24),
        # Two small statements per month of its charts (the sub-ledger and the policy of each month end):
        # it grows with the months shown, never with the records.
        ("/seed", "fund_manager", 20),
        ("/loans", "fund_manager", 7),
        ("/loans", "bank_liaison", 6),
    ],
)
def test_pages_run_a_fixed_number_of_statements(app, client, login_as, bank_id, path, role, bound):
    user = login_as(role)
    grows_not(app, user.bank_id or bank_id, lambda: ok(client.get(path)), bound)


def test_a_loan_page_runs_as_many_statements_whatever_its_tranches(app, client, login_as, bank_id):
    login_as("fund_manager")
    (loan_id,) = add_loans(app, bank_id, 1)
    small = statements_of(app, lambda: ok(client.get(f"/loans/{loan_id}")))
    with app.app_context():
        for n in range(10):
            db.session.add(Repayment(loan_id=loan_id, bank_id=bank_id, principal=D("1000.00"), interest=D("10.00"),
                                     paid_on=date(2025, 5, 1 + n), bank_ref=f"QC-more-{n}"))
        loan = db.session.get(Loan, loan_id)
        loan.repaid_principal += D("10000.00")
        db.session.commit()
    large = statements_of(app, lambda: ok(client.get(f"/loans/{loan_id}")))
    assert small == large
    assert large <= 9


# ------------------------------------------------------------------------------------------ writes


def test_a_disbursement_through_the_api_runs_a_fixed_number_of_statements(app, client, api_as):
    user, headers = api_as("bank_liaison")
    bank_id = user.bank_id
    add_loans(app, bank_id, LARGE)
    with app.app_context():
        enterprise = EnterpriseFactory()
        RatingFactory(enterprise=enterprise, grade="A", rated_on=date(2024, 12, 1))
        loan = LoanFactory(bank=db.session.get(Bank, bank_id), enterprise=enterprise, contract_no="QC-POST", principal=D("1000000.00"),
                           start_date=date(2025, 1, 2), maturity_date=date(2025, 12, 31))
        db.session.commit()
        loan_id = loan.id

    def post(n: int) -> int:
        body = {"amount": "1000.00", "disbursed_on": "2025-06-0%d" % (n + 1), "bank_ref": f"QC-POST-{n}"}
        with counted(app) as statements:
            response = client.post(f"/api/v1/loans/{loan_id}/disbursements", json=body, headers=headers)
        assert response.status_code == 201, response.get_data(as_text=True)
        return len(statements)

    first, later = post(0), [post(n) for n in range(1, 5)]
    assert all(count == later[0] for count in later), later  # the tranches before it cost nothing
    assert max(first, *later) <= 14
    with app.app_context():
        grades = db.session.scalars(sa.select(Disbursement.grade).where(Disbursement.loan_id == loan_id)).all()
    assert grades == ["A"] * 5


def batch_csv(numbers: range) -> bytes:
    lines = ["contract_no,amount,disbursed_on,bank_ref"]
    lines += [f"QC-{n:04d},1000.00,2025-05-10,QC-B-{n}" for n in numbers]
    return ("\n".join(lines) + "\n").encode()


def test_a_batch_import_runs_a_constant_number_of_statements_plus_its_inserts(app, client, api_as):
    """The checks read every loan, reference and rating of the batch at once: beyond a fixed number,
    a batch costs at most one INSERT per row (SQLite; PostgreSQL batches them: no growth at all) -
    never a lookup per row."""
    user, headers = api_as("bank_liaison")
    bank_id = user.bank_id
    add_loans(app, bank_id, 60)

    def upload(numbers: range) -> int:
        data = {"file": (io.BytesIO(batch_csv(numbers)), "batch.csv")}
        with counted(app) as statements:
            response = client.post("/api/v1/loans/batch", data=data, headers=headers, content_type="multipart/form-data")
        assert response.status_code == 201, response.get_data(as_text=True)[:500]
        return len(statements)

    small, large = upload(range(SMALL)), upload(range(SMALL, SMALL + LARGE))
    per_row = (large - small) / (LARGE - SMALL)
    assert per_row <= 1, f"{small} statements for {SMALL} rows, {large} for {LARGE}: {per_row:.1f} per row"
    assert small <= 15
    with app.app_context():
        ungraded = db.session.scalar(
            sa.select(sa.func.count()).select_from(Disbursement)
            .where(Disbursement.bank_ref.like("QC-B-%"), Disbursement.grade.is_(None))
        )
    assert ungraded == 0


def test_the_reconciliation_runs_a_fixed_number_of_statements(app, bank_id):
    from config.reconciliation import run_reconciliation

    freeze_on(date(2025, 7, 10))

    def run() -> None:
        with app.app_context(), acting_as("auditor"):
            run_reconciliation("2025-06")
            db.session.commit()

    grows_not(app, bank_id, run, 23)
