"""Fixtures of the risk-pool tests: a frozen today, the pool's people, loans made through the services.

Today is 2025-12-31 unless a test moves it. Loans are contracted on 2025-03-01 and mature on
2025-08-31 (bullet), so a loan left unpaid is 91 days past due (non-performing) on 2025-11-30.
Loans are made through ``loans.services.create_loan``, so the pool's coverage hook decides them as
in production; arrange, commit, then act through HTTP.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from core import clock
from core.db import db
from loans import services as loan_services
from loans.models import Loan
from risk import services
from tests.factories import BankFactory
from tests.loans.test_loans import freeze_on, rated_enterprise

D = Decimal
TODAY = date(2025, 12, 31)
FUNDED = date(2025, 1, 15)
START = date(2025, 3, 1)
DISBURSED = date(2025, 3, 2)
MATURITY = date(2025, 8, 31)
DPD_90 = date(2025, 11, 29)
DPD_91 = date(2025, 11, 30)
ERROR_KEYS = {"code", "status", "message", "errors"}

_contracts = itertools.count(1)


@pytest.fixture(autouse=True)
def today():
    freeze_on(TODAY)
    yield TODAY
    clock.freeze(None)


def assert_error(response, code: int) -> dict:
    assert response.status_code == code, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == ERROR_KEYS and body["code"] == code and body["message"]
    return body


def contribute(app, amount: str, *, source: str = "county", on: date = FUNDED) -> None:
    """Money paid into the pool through the service, committed."""
    with app.app_context():
        services.record_contribution(source=source, amount=D(amount), received_on=on, by_id=None)
        db.session.commit()


def fund_pool(app, amount: str = "1000000.00", on: date = FUNDED) -> None:
    """The pool paid in by the city (40%) and the county (60%)."""
    total = D(amount)
    city = (total * D("0.4")).quantize(D("0.01"))
    contribute(app, f"{city:f}", source="city", on=on)
    contribute(app, f"{total - city:f}", source="county", on=on)


def make_loan(
    app,
    bank_id: int,
    principal: str = "1000000.00",
    *,
    start: date = START,
    maturity: date = MATURITY,
    disbursed: str | None = None,
    disbursed_on: date | None = None,
    repayments: tuple[tuple[str, date], ...] = (),
    line: str = "4000000.00",
) -> int:
    """A loan of ``bank_id`` made through the services (coverage decided by the hook), fully disbursed
    by default and left unpaid unless ``repayments`` are given; committed. Returns its id."""
    with app.app_context():
        enterprise = rated_enterprise(line=line)
        db.session.flush()
        contract_no = f"HT-R-{next(_contracts):05d}"
        loan = loan_services.create_loan(
            bank_id=bank_id, enterprise_id=enterprise.id, contract_no=contract_no, principal=D(principal),
            annual_rate=D("0.0345"), start_date=start, maturity_date=maturity, created_by="arrange",
        )
        amount = D(disbursed if disbursed is not None else principal)
        if amount:
            loan_services.record_disbursement(
                loan, amount=amount, disbursed_on=disbursed_on or start + timedelta(days=1),
                bank_ref=f"{contract_no}-D", created_by="arrange",
            )
        for n, (repaid, day) in enumerate(repayments):
            loan_services.record_repayment(
                loan, principal=D(repaid), interest=D("0.00"), paid_on=day, bank_ref=f"{contract_no}-R{n}",
                created_by="arrange",
            )
        db.session.commit()
        return loan.id


def coverage_of(app, loan_id: int) -> tuple[bool | None, str | None]:
    with app.app_context():
        loan = db.session.get(Loan, loan_id)
        return loan.covered, loan.coverage_reason


@dataclass
class Person:
    user: Any
    headers: dict[str, str]

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def bank_id(self) -> int | None:
        return self.user.bank_id


class RiskApi:
    """The pool's API as its people use it; every call asserts the expected status and returns the body."""

    def __init__(self, app, client, api_as):
        self.app, self.client = app, client
        self.admin = Person(*api_as("admin"))
        self.manager = Person(*api_as("fund_manager"))
        self.manager2 = Person(*api_as("fund_manager"))
        self.auditor = Person(*api_as("auditor"))
        self.officer = Person(*api_as("fund_officer"))
        self.liaison = Person(*api_as("bank_liaison"))
        self.liaison_b = Person(*api_as("bank_liaison"))

    @property
    def bank_id(self) -> int:
        return self.liaison.bank_id

    def _call(self, method: str, url: str, who: Person, expect: int, body: dict | None = None) -> dict:
        response = self.client.open(url, method=method, json=body, headers=who.headers)
        assert response.status_code == expect, response.get_data(as_text=True)
        return response.get_json()

    def contribute(self, amount: str, source: str = "county", *, on: date | None = None, expect: int = 201, who=None):
        body: dict[str, Any] = {"source": source, "amount": amount}
        if on is not None:
            body["received_on"] = on.isoformat()
        return self._call("POST", "/api/v1/risk/contributions", who or self.admin, expect, body)

    def claim(self, loan_id: int, as_of: date | None = DPD_91, *, who=None, expect: int = 201):
        body = {} if as_of is None else {"as_of": as_of.isoformat()}
        return self._call("POST", f"/api/v1/loans/{loan_id}/claims", who or self.liaison, expect, body)

    def approve(self, claim_id: int, *, who=None, expect: int = 200, on: date | None = None):
        body = {} if on is None else {"on": on.isoformat()}
        return self._call("POST", f"/api/v1/risk/claims/{claim_id}/approve", who or self.manager, expect, body)

    def reject(self, claim_id: int, reason: str | None = "材料不全", *, who=None, expect: int = 200):
        body = {} if reason is None else {"reason": reason}
        return self._call("POST", f"/api/v1/risk/claims/{claim_id}/reject", who or self.manager, expect, body)

    def recover(self, claim_id: int, amount: str, on: date = TODAY, *, who=None, expect: int = 201):
        body = {"amount": amount, "recovered_on": on.isoformat()}
        return self._call("POST", f"/api/v1/risk/claims/{claim_id}/recoveries", who or self.liaison, expect, body)

    def get_claim(self, claim_id: int, *, who=None, expect: int = 200):
        return self._call("GET", f"/api/v1/risk/claims/{claim_id}", who or self.manager, expect)

    def pool(self, as_of: date | None = None, *, who=None):
        url = "/api/v1/risk/pool" + (f"?as_of={as_of.isoformat()}" if as_of else "")
        return self._call("GET", url, who or self.auditor, 200)

    def breaker(self, bank_id: int, as_of: date | None = None, *, who=None, expect: int = 200):
        url = f"/api/v1/risk/banks/{bank_id}/breaker" + (f"?as_of={as_of.isoformat()}" if as_of else "")
        return self._call("GET", url, who or self.manager, expect)

    def lift(self, bank_id: int, reason: str | None = "经领导小组研究同意恢复", *, on: date | None = None, who=None,
             expect: int = 200):
        body: dict[str, Any] = {} if reason is None else {"reason": reason}
        if on is not None:
            body["on"] = on.isoformat()
        return self._call("POST", f"/api/v1/risk/banks/{bank_id}/breaker/lift", who or self.manager, expect, body)

    def loan(self, loan_id: int) -> dict:
        return self._call("GET", f"/api/v1/loans/{loan_id}", self.manager, 200)


@pytest.fixture
def risk(app, client, api_as) -> RiskApi:
    return RiskApi(app, client, api_as)


def other_bank(app) -> int:
    with app.app_context():
        bank = BankFactory()
        db.session.commit()
        return bank.id


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))
