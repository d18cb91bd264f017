"""Shared set-up of the fault tests: real databases with committed data (outside the harness's rolled-back
transaction), and the application on them as in production: the ``flask`` command as a separate process
(:func:`run_flask`, :func:`start_flask`), or a second app of their own (:func:`serving`), each with its own
engine and connections."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from config import create_app
from config.settings import PROJECT_ROOT
from core import clock
from core.audit.trail import acting_as
from core.db import db
from core.jobs.runner import run_job
from funds.services import fund as seed_fund
from loans import services as loan_services
from risk import services as pool
from tests.conftest import reset_schema
from tests.factories import BankFactory, EnterpriseFactory, RatingFactory
from tests.loans.test_loans import freeze_on
from tests.races import session_on

TODAY = date(2026, 12, 1)
RECONCILED_PERIOD = "2026-10"  # over, whether the clock is frozen on TODAY or real
D = Decimal


def url_of(engine: sa.Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def flask_env(url: str) -> dict[str, str]:
    """The environment of a ``flask`` process on the database at ``url``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("FLASK_", "TEST_DATABASE"))}
    env.update(APP_ENV="development", DATABASE_URL=url, PYTHONUNBUFFERED="1", SCHEDULER_IN_PROCESS="0")
    return env


def flask_command(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "flask", "--app", "wsgi", *arguments]


def run_flask(url: str, *arguments: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """``flask ARGUMENTS`` against ``url`` in a process of its own, to the end."""
    return subprocess.run(
        flask_command(*arguments), cwd=PROJECT_ROOT, env=flask_env(url), capture_output=True, text=True, timeout=timeout
    )


def start_flask(url: str, *arguments: str, stderr=subprocess.PIPE) -> subprocess.Popen:
    """``flask ARGUMENTS`` against ``url``, started and left running."""
    return subprocess.Popen(
        flask_command(*arguments), cwd=PROJECT_ROOT, env=flask_env(url), stdout=subprocess.PIPE, stderr=stderr, text=True
    )


def load_books(app, engine: sa.Engine, *, loans: int = 4, reconcile: bool = True) -> None:
    """Books with money in both funds, committed through the services: seed fund and pool
    contributions, ``loans`` disbursed knowledge-value loans, and a reconciliation
    of ``RECONCILED_PERIOD`` (a stored PDF)."""
    freeze_on(TODAY)
    with session_on(app, engine) as session, acting_as("arrange"):
        seed_fund.record_contribution(amount=D("3000000.00"), received_on=date(2026, 1, 10), source="县财政", by_id=None)
        pool.record_contribution(source="city", amount=D("400000.00"), received_on=date(2026, 1, 15), by_id=None)
        pool.record_contribution(source="county", amount=D("600000.00"), received_on=date(2026, 1, 15), by_id=None)
        bank = BankFactory()
        session.flush()
        for n in range(loans):
            enterprise = EnterpriseFactory()
            RatingFactory(enterprise=enterprise, rated_on=date(2026, 1, 5), credit_line=D("2000000.00"))
            session.flush()
            loan = loan_services.create_loan(
                bank_id=bank.id, enterprise_id=enterprise.id, contract_no=f"BOOKS-{n}", principal=D("500000.00"),
                annual_rate=D("0.0345"), start_date=date(2026, 2, 1), maturity_date=date(2027, 1, 31),
                created_by="arrange",
            )
            loan_services.record_disbursement(
                loan, amount=D("500000.00"), disbursed_on=date(2026, 2, 2), bank_ref=f"BOOKS-{n}-D", created_by="arrange"
            )
        session.commit()
        if reconcile:
            assert run_job("monthly-reconciliation", RECONCILED_PERIOD, triggered_by="cli").status == "succeeded"


def wait_for(condition, *, timeout: float, what: str, interval: float = 0.05):
    """Poll ``condition()`` until it returns something true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


@pytest.fixture
def sqlite_engine(tmp_path) -> Iterator[sa.Engine]:
    """A fresh SQLite database file with the suite's schema."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'books.db'}")
    try:
        reset_schema(engine)
        yield engine
    finally:
        clock.freeze(None)
        engine.dispose()


@contextmanager
def serving(app, engine: sa.Engine) -> Iterator:
    """A second app on ``engine``'s database whose sessions use its own engine, as in production.

    The harness pins every session to the suite's one connection; this unpins it for the rest of the
    test (the harness's teardown resets it anyway).
    """
    with app.app_context():
        db.session.remove()
        db.session.configure(bind=None, join_transaction_mode="conditional_savepoint")
    served = create_app("test", SQLALCHEMY_DATABASE_URI=url_of(engine))
    try:
        yield served
    finally:
        with served.app_context():
            db.session.remove()
            db.engine.dispose()
