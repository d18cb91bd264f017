"""PostgreSQL only: the fund's lock keeps ``available`` from going negative under concurrency.

Thirty fund managers approve thirty applications of 300,000.00 at the same moment, against a fund
with 2,000,000.00 available: exactly six succeed, the others are refused (409), and the ledger
still balances. Each attempt runs in its own thread, app context, session and connection, and
commits for real, in a database created and dropped here (the audit trail written can never be
deleted). SQLite needs no such test: ``BEGIN IMMEDIATE`` (core/db.py) serialises every writer.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from core.db import db
from core.ledger.queries import trial_balance
from funds import queries, services
from funds.models import SeedApplication, SeedLoan, SeedRepayment
from tests.races import fresh_database, session_on
from tests.races import race as run_race
from tests.factories import BankFactory, EnterpriseFactory, UserFactory

D = Decimal
HOLD_SECONDS = 0.05  # each winner keeps its locks a moment, so the others really wait on them


@pytest.fixture
def fresh_engine(app) -> Iterator[sa.Engine]:
    with fresh_database(app, "seedrace", pool_size=10, max_overflow=30) as engine:
        yield engine


def race(app, engine: sa.Engine, attempts: list[Callable[[], object]]) -> list[str]:
    return run_race(app, engine, attempts, hold_seconds=HOLD_SECONDS)


def arrange(app, engine: sa.Engine, *, applications: int, cash: str) -> tuple[list[int], list[int]]:
    """An agent bank, ``cash`` paid in, ``applications`` reviewed applications of 300,000.00 (3 scores
    of 80 each), one manager per application; committed. Returns (application ids, manager ids)."""
    with session_on(app, engine) as session:
        admin, officer = UserFactory(role="admin"), UserFactory(role="fund_officer")
        managers = [UserFactory(role="fund_manager") for _ in range(applications)]
        bank = BankFactory()
        session.flush()
        services.set_agent_bank(bank.id, by_id=admin.id)
        services.record_contribution(amount=D(cash), received_on=date(2025, 5, 1), by_id=admin.id)
        ids = []
        for _ in range(applications):
            enterprise = EnterpriseFactory(registered_on=date(2023, 1, 1))
            session.flush()
            application = services.submit_application(
                enterprise_id=enterprise.id, amount=D("300000.00"), term_months=3, repayment="monthly",
                on=date(2025, 6, 2), by_id=officer.id,
            )
            services.initial_review(application.id, passed=True, on=date(2025, 6, 3), by_id=officer.id)
            for n in range(3):
                services.record_expert_review(application.id, expert_name=f"专家{n}", score=80, on=date(2025, 6, 4), by_id=officer.id)
            ids.append(application.id)
        session.commit()
        return ids, [manager.id for manager in managers]


def approving(application_id: int, manager_id: int) -> Callable[[], object]:
    def attempt() -> object:
        return services.decide(application_id, approved=True, on=date(2025, 6, 13), by_id=manager_id)

    return attempt


def test_thirty_concurrent_approvals_never_take_available_below_zero(app, fresh_engine):
    application_ids, manager_ids = arrange(app, fresh_engine, applications=30, cash="2000000.00")
    outcomes = race(app, fresh_engine, [approving(a, m) for a, m in zip(application_ids, manager_ids)])
    assert outcomes.count("ok") == 6 and outcomes.count("refused") == 24
    with session_on(app, fresh_engine):
        statuses = db.session.scalars(sa.select(SeedApplication.status)).all()
        assert sorted(statuses).count("approved") == 6
        figures = queries.fund_figures()
        assert (figures.cash, figures.committed, figures.available) == (D("2000000.00"), D("1800000.00"), D("200000.00"))
        assert trial_balance("seed").balanced


def test_concurrent_repayments_never_exceed_the_outstanding(app, fresh_engine):
    (application_id,), (manager_id,) = arrange(app, fresh_engine, applications=1, cash="300000.00")
    with session_on(app, fresh_engine) as session:
        officer_id = db.session.scalar(sa.select(SeedApplication.submitted_by_id))
        services.decide(application_id, approved=True, on=date(2025, 6, 13), by_id=manager_id)
        loan = services.sign_contract(application_id, on=date(2025, 6, 23), by_id=officer_id)
        services.disburse(loan.id, disbursed_on=date(2025, 6, 24), bank_ref="FK", by_id=officer_id)
        loan_id = loan.id
        session.commit()

    def repaying(ref: str) -> Callable[[], object]:
        def attempt() -> object:
            return services.record_repayment(loan_id, amount=D("200000.00"), paid_on=date(2025, 7, 24), bank_ref=ref, by_id=officer_id)

        return attempt

    assert race(app, fresh_engine, [repaying("A"), repaying("B"), repaying("C")]) == ["ok", "refused", "refused"]
    with session_on(app, fresh_engine):
        assert db.session.scalar(sa.select(sa.func.sum(SeedRepayment.amount))) == D("200000.00")
        assert db.session.scalar(sa.select(SeedLoan.repaid_principal)) == D("200000.00")
        figures = queries.fund_figures()
        assert (figures.cash, figures.outstanding, figures.available) == (D("200000.00"), D("100000.00"), D("200000.00"))
        assert trial_balance("seed").balanced


def test_concurrent_contracts_get_distinct_numbers(app, fresh_engine):
    application_ids, manager_ids = arrange(app, fresh_engine, applications=4, cash="1200000.00")
    with session_on(app, fresh_engine) as session:
        officer_id = db.session.scalar(sa.select(SeedApplication.submitted_by_id).limit(1))
        for application_id, manager_id in zip(application_ids, manager_ids):
            services.decide(application_id, approved=True, on=date(2025, 6, 13), by_id=manager_id)
        session.commit()

    def contracting(application_id: int) -> Callable[[], object]:
        return lambda: services.sign_contract(application_id, on=date(2025, 6, 23), by_id=officer_id)

    assert race(app, fresh_engine, [contracting(a) for a in application_ids]) == ["ok"] * 4
    with session_on(app, fresh_engine):
        numbers = sorted(db.session.scalars(sa.select(SeedLoan.contract_no)))
        assert numbers == [f"ZZJJ-2025-000{n}" for n in range(1, 5)]
