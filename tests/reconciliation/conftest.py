"""Fixtures of the reconciliation tests: today is 2025-07-10, so June 2025 is over and may be
reconciled; a balanced June built through the services (loans with their tranches and repayments,
the seed fund's and the pool's contributions, the bank's tape), and helpers for tapes and runs."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from core import clock
from core.db import db
from funds import services as seed_services
from loans import batch
from loans import services as loan_services
from parties.models import Bank
from risk import services as pool_services
from tests.factories import BankFactory
from tests.loans.test_loans import freeze_on, rated_enterprise

D = Decimal
JUNE = "2025-06"
JUNE_END = date(2025, 6, 30)
TODAY = date(2025, 7, 10)
TAPE_HEADER = "contract_no,credit_code,disbursed_total,repaid_principal,outstanding_principal,days_past_due"


@pytest.fixture
def today():
    """Today is 2025-07-10 (June is over, July open); released afterwards."""
    freeze_on(TODAY)
    yield TODAY
    clock.freeze(None)


def tape_csv(rows) -> bytes:
    """A tape file: rows of (contract, credit code, disbursed, repaid, outstanding, DPD)."""
    lines = [TAPE_HEADER] + [",".join(str(value) for value in row) for row in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


def upload_tape(bank_id: int, rows, period: str = JUNE):
    return batch.upload_tape(bank_id, period, tape_csv(rows), "tape.csv", "liaison")


def make_loan(bank_id: int, enterprise_id: int, contract_no: str, principal: str, start: date, maturity: date,
              tranches=(), repayments=()):
    """A loan through the services, so its running totals and its dated records agree."""
    loan = loan_services.create_loan(
        bank_id=bank_id, enterprise_id=enterprise_id, contract_no=contract_no, principal=D(principal),
        annual_rate=D("0.0345"), start_date=start, maturity_date=maturity, created_by="arrange",
    )
    for n, (amount, day) in enumerate(tranches):
        loan_services.record_disbursement(loan, amount=D(amount), disbursed_on=day, bank_ref=f"{contract_no}-D{n}",
                                          created_by="arrange")
    for n, (amount, day) in enumerate(repayments):
        loan_services.record_repayment(loan, principal=D(amount), interest=D("0.00"), paid_on=day,
                                       bank_ref=f"{contract_no}-R{n}", created_by="arrange")
    return loan


def build_balanced_june(bank: Bank | None = None) -> dict:
    """June 2025 whose books, sub-ledgers and tape all agree (call in an app context, then commit).

    KV-1: 600,000 disbursed in March, 100,000 repaid in May (outstanding 500,000, not overdue);
    KV-2: 500,000 past its maturity of 2025-06-10 (20 days past due on June 30);
    KV-3: contracted on June 20, disbursed only on July 2 (nothing outstanding at the month end,
    so the tape may leave it off). Seed fund: 1,000,000 paid in on May 6; pool: 400,000 from the
    city on April 1. The bank's tape lists KV-1 and KV-2 with the same figures.
    """
    bank = bank or BankFactory(name="星城银行")
    enterprise = rated_enterprise(rated_on=date(2024, 11, 1))
    kv1 = make_loan(bank.id, enterprise.id, "KV-1", "1000000.00", date(2025, 3, 1), date(2026, 2, 28),
                    tranches=[("600000.00", date(2025, 3, 5))], repayments=[("100000.00", date(2025, 5, 10))])
    kv2 = make_loan(bank.id, enterprise.id, "KV-2", "500000.00", date(2024, 12, 1), date(2025, 6, 10),
                    tranches=[("500000.00", date(2024, 12, 2))])
    kv3 = make_loan(bank.id, enterprise.id, "KV-3", "200000.00", date(2025, 6, 20), date(2026, 6, 19),
                    tranches=[("200000.00", date(2025, 7, 2))])
    seed_services.record_contribution(amount=D("1000000.00"), received_on=date(2025, 5, 6), by_id=None)
    pool_services.record_contribution(source="city", amount=D("400000.00"), received_on=date(2025, 4, 1), by_id=None)
    code = enterprise.credit_code
    tape = upload_tape(bank.id, [
        ("KV-1", code, "600000.00", "100000.00", "500000.00", 0),
        ("KV-2", code, "500000.00", "0.00", "500000.00", 20),
    ])
    return {"bank_id": bank.id, "enterprise_id": enterprise.id, "credit_code": code, "tape_id": tape.id,
            "loan_ids": {"KV-1": kv1.id, "KV-2": kv2.id, "KV-3": kv3.id}}


@pytest.fixture
def balanced_june(app, today):
    with app.app_context():
        built = build_balanced_june()
        db.session.commit()
    return built


def run(app, period: str = JUNE, progress=None) -> dict:
    """Run the reconciliation of ``period`` in its own app context and commit, as the job does."""
    from config.reconciliation import run_reconciliation

    with app.app_context():
        outcome = run_reconciliation(period, progress)
        db.session.commit()
    return outcome
