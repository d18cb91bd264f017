"""``risk.queries.covered_history`` (the pool page's month-end series, one statement) gives at every
day the covered figures that ``bank_figures`` computes loan by loan."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from core.db import db
from loans.models import Disbursement, Repayment
from risk import queries
from tests.factories import BankFactory, LoanFactory


def test_the_series_matches_the_figures_of_each_day(app_ctx):
    banks = [BankFactory(), BankFactory()]
    edges: list[date] = []  # the days a loan starts or matures, and the days either side
    for n in range(12):
        start = date(2024, 1, 1) + timedelta(days=29 * n)
        maturity = start + timedelta(days=120 if n % 3 == 0 else 400)
        principal = Decimal("1000000.00")
        edges += [day + timedelta(days=shift) for day in (start, maturity) for shift in (-1, 0, 1)]
        loan = LoanFactory(bank=banks[n % 2], start_date=start, maturity_date=maturity, principal=principal,
                           covered=n % 4 != 3, status="active")
        drawn = repaid = Decimal("0.00")
        for k, (offset, amount) in enumerate(((0, "300000.00"), (40, "250000.50"), (100, "100000.00"))):
            day = start + timedelta(days=offset)
            if day <= maturity:
                db.session.add(Disbursement(loan_id=loan.id, bank_id=loan.bank_id, amount=Decimal(amount),
                                            disbursed_on=day, bank_ref=f"H{n}-{k}"))
                drawn += Decimal(amount)
        if n % 2 == 0:
            db.session.add(Repayment(loan_id=loan.id, bank_id=loan.bank_id, principal=Decimal("50000.00"),
                                     interest=Decimal("0.00"), paid_on=start + timedelta(days=60), bank_ref=f"P{n}"))
            repaid = Decimal("50000.00")
        loan.disbursed_total, loan.repaid_principal = drawn, repaid
    db.session.flush()

    days = [date(2023, 12, 31)] + [date(2024, 1, 31) + timedelta(days=30 * m) for m in range(18)] + [date(2025, 6, 17)]
    days += sorted(set(edges) - set(days))
    series = queries.covered_history(days)
    for day in days:
        figures = queries.bank_figures(day).values()
        expected = (sum((f.covered_outstanding for f in figures), Decimal("0.00")),
                    sum((f.covered_exposure for f in figures), Decimal("0.00")))
        assert series[day] == expected, day
    assert series[date(2024, 6, 29)][0] > 0 and series[date(2023, 12, 31)] == (Decimal("0.00"), Decimal("0.00"))
