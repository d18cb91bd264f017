"""PostgreSQL only: the pool's lock keeps cash from going negative and pays the queue in approval order.

Claims are filed, and then approved, at the same moment against a pool too small for all of them;
two claims filed at once on one loan create one. Each attempt runs in its own thread, app context,
session and connection, and commits for real, in a database created and dropped here (the audit
trail written can never be deleted). SQLite needs no such test: ``BEGIN IMMEDIATE`` (core/db.py)
serialises every writer.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from core.db import db
from core.ledger.models import JournalEntry
from core.ledger.queries import trial_balance
from loans import services as loan_services
from risk import queries, services
from risk.models import RiskClaim
from tests.races import assert_books_sound, fresh_database, session_on
from tests.races import race as run_race
from tests.factories import BankFactory, EnterpriseFactory, RatingFactory, UserFactory
from tests.loans.test_loans import freeze_on

D = Decimal
HOLD_SECONDS = 0.05  # each winner keeps its locks a moment, so the others really wait on them
APPROVED_ON = date(2025, 12, 10)


@pytest.fixture
def fresh_engine(app) -> Iterator[sa.Engine]:
    with fresh_database(app, "riskrace", pool_size=10, max_overflow=20) as engine:
        freeze_on(date(2025, 12, 31))
        yield engine


def race(app, engine: sa.Engine, attempts: list[Callable[[], object]]) -> list[str]:
    return run_race(app, engine, attempts, hold_seconds=HOLD_SECONDS)


def arrange(app, engine: sa.Engine, *, loans: int) -> tuple[list[int], list[int], int]:
    """1,000,000.00 paid in, ``loans`` covered loans of 375,000.00 (pool share 300,000.00 each) unpaid
    since 2025-08-31, a liaison and one manager per loan; committed. Returns (loan ids, manager ids, liaison id)."""
    with session_on(app, engine) as session:
        liaison = UserFactory(role="bank_liaison")
        managers = [UserFactory(role="fund_manager") for _ in range(loans)]
        session.flush()
        services.record_contribution(source="city", amount=D("400000.00"), received_on=date(2025, 1, 15), by_id=None)
        services.record_contribution(source="county", amount=D("600000.00"), received_on=date(2025, 1, 15), by_id=None)
        loan_ids = []
        for n in range(loans):
            enterprise = EnterpriseFactory()
            RatingFactory(enterprise=enterprise)
            session.flush()
            loan = loan_services.create_loan(
                bank_id=liaison.bank_id, enterprise_id=enterprise.id, contract_no=f"RACE-{n}",
                principal=D("375000.00"), annual_rate=D("0.0345"), start_date=date(2025, 3, 1),
                maturity_date=date(2025, 8, 31), created_by="arrange",
            )
            assert loan.covered is True
            loan_services.record_disbursement(
                loan, amount=D("375000.00"), disbursed_on=date(2025, 3, 2), bank_ref=f"RACE-{n}-D", created_by="arrange"
            )
            loan_ids.append(loan.id)
        session.commit()
        return loan_ids, [manager.id for manager in managers], liaison.id


def filing(loan_id: int, liaison_id: int) -> Callable[[], object]:
    return lambda: services.file_claim(loan_id, as_of=date(2025, 11, 30), by_id=liaison_id)


def approving(claim_id: int, manager_id: int) -> Callable[[], object]:
    return lambda: services.approve_claim(claim_id, on=APPROVED_ON, by_id=manager_id)


def contributing(amount: str) -> Callable[[], object]:
    return lambda: services.record_contribution(source="county", amount=D(amount), received_on=APPROVED_ON, by_id=None)


def claims_by_seq(app, engine) -> list[tuple[int, int | None, str]]:
    with session_on(app, engine):
        return [
            (row.id, row.approval_seq, row.status)
            for row in db.session.execute(
                sa.select(RiskClaim.id, RiskClaim.approval_seq, RiskClaim.status).order_by(RiskClaim.approval_seq)
            )
        ]


def payment_order(app, engine) -> list[int]:
    with session_on(app, engine):
        return [
            int(source_id)
            for source_id in db.session.scalars(
                sa.select(JournalEntry.source_id).where(JournalEntry.source_type == "risk_claim").order_by(JournalEntry.id)
            )
        ]


def cash_never_negative(app, engine) -> Decimal:
    """The pool's cash never went below zero, each paid claim was paid by exactly one entry, the
    books balance and the audit chain verifies; returns the cash left."""
    assert_books_sound(app, engine)
    with session_on(app, engine):
        assert trial_balance("risk").balanced
        history = queries.cash_history(date(2025, 1, 1), date(2025, 12, 31))
        assert all(cash >= 0 for _day, cash in history)
        paid = set(db.session.scalars(sa.select(RiskClaim.id).where(RiskClaim.status == "paid")))
        payments = payment_order(app, engine)
        assert sorted(payments) == sorted(paid)  # no claim paid twice, none paid without its entry
        return queries.ledger_figures().cash


def test_concurrent_filings_and_approvals_never_overdraw_the_pool(app, fresh_engine):
    loan_ids, manager_ids, liaison_id = arrange(app, fresh_engine, loans=6)
    assert race(app, fresh_engine, [filing(loan_id, liaison_id) for loan_id in loan_ids]) == ["ok"] * 6
    with session_on(app, fresh_engine):
        claim_ids = list(db.session.scalars(sa.select(RiskClaim.id).order_by(RiskClaim.id)))
    assert len(claim_ids) == 6

    # Six approvals of 300,000.00 at once against 1,000,000.00: three are paid, three wait.
    outcomes = race(app, fresh_engine, [approving(c, m) for c, m in zip(claim_ids, manager_ids)])
    assert outcomes == ["ok"] * 6
    ordered = claims_by_seq(app, fresh_engine)
    assert [seq for _id, seq, _status in ordered] == [1, 2, 3, 4, 5, 6]
    assert [status for _id, _seq, status in ordered] == ["paid"] * 3 + ["approved_unpaid"] * 3
    assert cash_never_negative(app, fresh_engine) == D("100000.00")

    # A contribution pays the waiting claims in approval order, as far as the cash goes.
    with session_on(app, fresh_engine) as session:
        _contribution, paid = services.record_contribution(
            source="county", amount=D("600000.00"), received_on=date(2025, 12, 20), by_id=None
        )
        assert [claim.id for claim in paid] == [ordered[3][0], ordered[4][0]]
        session.commit()
    with session_on(app, fresh_engine) as session:
        _contribution, paid = services.record_contribution(
            source="city", amount=D("200000.00"), received_on=date(2025, 12, 21), by_id=None
        )
        assert [claim.id for claim in paid] == [ordered[5][0]]
        session.commit()
    assert payment_order(app, fresh_engine) == [claim_id for claim_id, _seq, _status in ordered]
    assert cash_never_negative(app, fresh_engine) == D("0.00")


def test_approvals_racing_a_contribution_pay_a_prefix_of_the_approval_order(app, fresh_engine):
    loan_ids, manager_ids, liaison_id = arrange(app, fresh_engine, loans=6)
    with session_on(app, fresh_engine) as session:
        claim_ids = [services.file_claim(loan_id, as_of=date(2025, 11, 30), by_id=liaison_id).id for loan_id in loan_ids]
        session.commit()
    attempts = [approving(c, m) for c, m in zip(claim_ids, manager_ids)] + [contributing("300000.00")]
    assert race(app, fresh_engine, attempts) == ["ok"] * 7
    ordered = claims_by_seq(app, fresh_engine)
    # 1,300,000.00 in all pays four claims whatever the order the seven requests ran in: the first four approved.
    assert [status for _id, _seq, status in ordered] == ["paid"] * 4 + ["approved_unpaid"] * 2
    assert payment_order(app, fresh_engine) == [claim_id for claim_id, _seq, _status in ordered[:4]]
    assert cash_never_negative(app, fresh_engine) == D("100000.00")


def test_two_claims_filed_at_once_on_one_loan_create_one(app, fresh_engine):
    (loan_id,), _managers, liaison_id = arrange(app, fresh_engine, loans=1)
    assert race(app, fresh_engine, [filing(loan_id, liaison_id), filing(loan_id, liaison_id)]) == ["ok", "refused"]
    with session_on(app, fresh_engine):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(RiskClaim)) == 1


def test_two_banks_contracting_at_once_never_pass_the_leverage_cap_together(app, fresh_engine):
    with session_on(app, fresh_engine) as session:
        services.record_contribution(source="county", amount=D("1000000.00"), received_on=date(2025, 1, 15), by_id=None)
        banks = [BankFactory(), BankFactory()]
        enterprises = [EnterpriseFactory(), EnterpriseFactory(), EnterpriseFactory(), EnterpriseFactory()]
        session.flush()
        for enterprise in enterprises:
            RatingFactory(enterprise=enterprise, grade="A", credit_line=D("5000000.00"))
        session.flush()
        # 6,000,000.00 of the 10,000,000.00 cap is taken: room for one more loan of 4,000,000.00, not two.
        for n, enterprise in enumerate(enterprises[:2]):
            loan_services.create_loan(
                bank_id=banks[0].id, enterprise_id=enterprise.id, contract_no=f"CAP-{n}", principal=D("3000000.00"),
                annual_rate=D("0.0345"), start_date=date(2025, 3, 1), maturity_date=date(2026, 2, 28), created_by="arrange",
            )
        session.commit()
        bank_ids, enterprise_ids = [bank.id for bank in banks], [e.id for e in enterprises[2:]]

    def contracting(n: int) -> Callable[[], object]:
        return lambda: loan_services.create_loan(
            bank_id=bank_ids[n], enterprise_id=enterprise_ids[n], contract_no=f"CAP-RACE-{n}", principal=D("4000000.00"),
            annual_rate=D("0.0345"), start_date=date(2025, 3, 1), maturity_date=date(2026, 2, 28), created_by="race",
        )

    assert race(app, fresh_engine, [contracting(0), contracting(1)]) == ["ok", "ok"]  # both recorded...
    with session_on(app, fresh_engine):
        from loans.models import Loan

        decisions = db.session.execute(
            sa.select(Loan.covered, Loan.coverage_reason).where(Loan.contract_no.like("CAP-RACE-%"))
        ).all()
        assert sorted(decisions, key=str) == sorted([(True, None), (False, "leverage_cap")], key=str)  # ...one covered
        assert queries.covered_exposure(date(2025, 3, 1)) == D("10000000.00")
