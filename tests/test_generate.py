"""``flask demo generate``: a synthetic data set recorded through the product's services.

Small sizes (60 loans over 24 months) on a frozen day, so the data are fixed for the seed: the books
balance, the audit chain verifies, the loans' running totals are the sums of their tranches and
repayments, the pool covers loans and holds claims in every state, the seed fund's four eyes hold,
the same seed gives the same data, and a database that already holds data is refused untouched.
"""
from __future__ import annotations

from datetime import date, datetime, time, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa

from config.generate import default_banks, default_enterprises
from core import clock
from core.audit.trail import verify_chain
from core.auth.models import User
from core.db import db
from core.ledger.models import LedgerAccount
from core.ledger.queries import trial_balance
from funds.models import SeedApplication, SeedLoan
from loans.models import Disbursement, Loan, Repayment
from parties.models import Bank, Enterprise, Rating
from risk.models import ClaimStatus, RiskClaim, RiskContribution, RiskRecovery

TODAY = date(2026, 6, 30)
SEED = 2
ARGS = ["demo", "generate", "--loans", "60", "--months", "24", "--enterprises", "60", "--seed", str(SEED)]


@pytest.fixture(autouse=True)
def frozen_day():
    clock.freeze(datetime.combine(TODAY, time(12, 0), tzinfo=clock.BUSINESS_TZ).astimezone(timezone.utc))
    yield
    clock.freeze(None)


def generate(runner, *extra: str):
    result = runner.invoke(args=[*ARGS, *extra])
    assert result.exit_code == 0, result.output
    return result


def totals() -> dict[str, object]:
    """What the same seed must reproduce (ids aside, which a database hands out)."""

    def total(column) -> object:
        return db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(column), 0)))

    def count(model) -> int:
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))

    return {
        "loans": count(Loan),
        "principal": total(Loan.principal),
        "disbursed": total(Disbursement.amount),
        "repaid": total(Repayment.principal),
        "interest": total(Repayment.interest),
        "enterprises": count(Enterprise),
        "ratings": count(Rating),
        "credit_codes": tuple(db.session.scalars(sa.select(Enterprise.credit_code).order_by(Enterprise.credit_code))),
        "contracts": tuple(db.session.scalars(sa.select(Loan.contract_no).order_by(Loan.contract_no))),
        "claims": tuple(sorted((c.status, c.pool_share) for c in db.session.scalars(sa.select(RiskClaim)))),
        "seed_loans": total(SeedLoan.principal),
    }


def test_generate_records_a_consistent_data_set_through_the_services(app, runner):
    result = generate(runner)
    assert "loans 60" in result.output

    with app.app_context():
        # Every fund's books balance, and the audit chain holds.
        funds = set(db.session.scalars(sa.select(LedgerAccount.fund).distinct()))
        assert {"risk", "seed"} <= funds
        for fund in funds:
            balance = trial_balance(fund)
            assert balance.balanced and balance.total_debit > 0, fund
        assert verify_chain().ok

        # Each loan's running totals are the sums of its tranches and repayments.
        loans = db.session.scalars(sa.select(Loan)).all()
        assert len(loans) == 60
        drawn = dict(db.session.execute(
            sa.select(Disbursement.loan_id, sa.func.sum(Disbursement.amount)).group_by(Disbursement.loan_id)).all())
        repaid = dict(db.session.execute(
            sa.select(Repayment.loan_id, sa.func.sum(Repayment.principal)).group_by(Repayment.loan_id)).all())
        for loan in loans:
            assert loan.disbursed_total == drawn.get(loan.id, Decimal("0.00")) <= loan.principal, loan.contract_no
            assert loan.repaid_principal == repaid.get(loan.id, Decimal("0.00")), loan.contract_no
        assert {"active", "repaid"} <= {loan.status for loan in loans}

        # Everything within the window ending today.
        earliest = date(2024, 6, 29)
        for column in (Rating.rated_on, Loan.start_date, Disbursement.disbursed_on, Repayment.paid_on,
                       RiskContribution.received_on):
            first, last = db.session.execute(sa.select(sa.func.min(column), sa.func.max(column))).one()
            assert earliest <= first <= last <= TODAY, column

        # The pool was funded before the first contract and covers loans; claims in every state.
        first_contract = db.session.scalar(sa.select(sa.func.min(Loan.start_date)))
        assert {c.source for c in db.session.scalars(sa.select(RiskContribution))} == {"city", "county"}
        assert db.session.scalar(sa.select(sa.func.max(RiskContribution.received_on))) < first_contract
        assert sum(loan.covered is True for loan in loans) >= 40
        claims = db.session.scalars(sa.select(RiskClaim)).all()
        assert {claim.status for claim in claims} == {status.value for status in ClaimStatus}
        assert all(claim.approved_by_id != claim.filed_by_id for claim in claims)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(RiskRecovery)) >= 1

        # The seed fund's applications: decided under four eyes, some became loans.
        applications = db.session.scalars(sa.select(SeedApplication)).all()
        assert len({application.status for application in applications}) >= 6
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SeedLoan)) >= 5
        managers = set(db.session.scalars(sa.select(User.id).where(User.role == "fund_manager")))
        assert len(managers) == 2
        liaisons = db.session.scalars(sa.select(User).where(User.role == "bank_liaison")).all()
        assert {user.bank_id for user in liaisons} == set(db.session.scalars(sa.select(Bank.id)))


def test_the_same_seed_gives_the_same_data(app, runner, db_connection):
    first_run = db_connection.begin_nested()  # undone below, so the second run finds an empty database
    generate(runner)
    with app.app_context():
        first = totals()
    with app.app_context():
        db.session.remove()
    first_run.rollback()

    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Loan)) == 0
    generate(runner)
    with app.app_context():
        assert totals() == first


def test_a_database_holding_data_is_refused_untouched(app, runner, row_counts):
    with app.app_context():
        db.session.add(Bank(name="已有银行", code="OLD", is_active=True))
        db.session.commit()
    before = row_counts()

    result = runner.invoke(args=ARGS)

    assert result.exit_code != 0
    assert "数据库中已有数据" in result.output
    assert row_counts() == before


def test_sizes_derived_from_the_number_of_loans():
    assert default_banks(60) == 3 and default_banks(20_000) == 11 and default_banks(100_000) == 43
    assert default_enterprises(60, 24) > 30  # room for the borrowers, plus firms that never borrow
    assert default_enterprises(100_000, 24) > default_enterprises(100_000, 60)
