"""Fixtures of the seed-fund tests: a frozen today, the fund's people, an agent bank, an API helper.

Today is Wednesday 2025-12-31 unless a test moves it (``freeze_on``). The helper ``seed`` drives the
API as the officer, the manager and the admin, and can take an application to any status.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from decimal import Decimal
from typing import Any

import pytest

from core import clock
from core.db import db
from tests.factories import BankFactory, EnterpriseFactory

D = Decimal
TODAY = date(2025, 12, 31)  # a Wednesday: the June–November steps below are in the past
SUBMITTED = date(2025, 6, 2)
DECIDED = date(2025, 6, 13)  # a Friday: the 5 working days of notice end on Friday 2025-06-20
NOTICE_ENDS = date(2025, 6, 20)
CONTRACTED = date(2025, 6, 23)
DISBURSED = date(2025, 6, 24)
ERROR_KEYS = {"code", "status", "message", "errors"}


def freeze_on(day: date) -> None:
    """Make ``clock.today()`` answer ``day`` (noon in Shanghai)."""
    clock.freeze(datetime.combine(day, time(12, 0), tzinfo=clock.BUSINESS_TZ).astimezone(timezone.utc))


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


def eligible_enterprise(app, **attrs) -> int:
    """A science-tech enterprise registered 2023-01-01 (young enough), committed; returns its id."""
    with app.app_context():
        enterprise = EnterpriseFactory(registered_on=attrs.pop("registered_on", date(2023, 1, 1)), **attrs)
        db.session.commit()
        return enterprise.id


@dataclass
class Person:
    user: Any
    headers: dict[str, str]

    @property
    def id(self) -> int:
        return self.user.id


class SeedApi:
    """The seed-fund API as the fund's people use it; every call asserts the expected status."""

    def __init__(self, app, client, api_as):
        self.app, self.client = app, client
        self.officer = Person(*api_as("fund_officer"))
        self.officer2 = Person(*api_as("fund_officer"))
        self.manager = Person(*api_as("fund_manager"))
        self.manager2 = Person(*api_as("fund_manager"))
        self.admin = Person(*api_as("admin"))
        self.auditor = Person(*api_as("auditor"))
        with app.app_context():
            self.bank_id = BankFactory(code="AGENT", name="县农村商业银行（代理行）").id
            db.session.commit()
        self.put("/api/v1/seed/agent-bank", {"bank_id": self.bank_id}, self.admin, 200)

    # -- raw calls
    def post(self, url: str, body: dict | None, who: Person, expect: int | None = None):
        response = self.client.post(url, json=body if body is not None else {}, headers=who.headers)
        if expect is not None:
            assert response.status_code == expect, response.get_data(as_text=True)
        return response

    def put(self, url: str, body: dict, who: Person, expect: int | None = None):
        response = self.client.put(url, json=body, headers=who.headers)
        if expect is not None:
            assert response.status_code == expect, response.get_data(as_text=True)
        return response

    def get(self, url: str, who: Person | None = None, expect: int | None = 200) -> Any:
        response = self.client.get(url, headers=(who or self.auditor).headers)
        if expect is not None:
            assert response.status_code == expect, response.get_data(as_text=True)
        return response.get_json()

    def fund(self) -> dict[str, str]:
        return self.get("/api/v1/seed/fund")

    # -- steps
    def contribute(self, amount: str, on: date = date(2025, 5, 1)) -> dict:
        return self.post("/api/v1/seed/contributions", {"amount": amount, "received_on": on.isoformat()}, self.admin, 201).get_json()

    def apply(self, enterprise_id: int | None = None, *, amount: str = "300000.00", term: int = 12,
              repayment: str = "monthly", on: date = SUBMITTED, **extra) -> dict:
        body = {"amount": amount, "term_months": term, "repayment": repayment, "purpose": "研发样机", "on": on.isoformat(), **extra}
        if enterprise_id is not None:
            body["enterprise_id"] = enterprise_id
        return self.post("/api/v1/seed/applications", body, self.officer, 201).get_json()

    def initial_review(self, app_id: int, passed: bool = True, on: date = date(2025, 6, 3)):
        return self.post(f"/api/v1/seed/applications/{app_id}/initial-review",
                         {"passed": passed, "comment": "材料齐全", "on": on.isoformat()}, self.officer, 200).get_json()

    def expert_reviews(self, app_id: int, scores=(70, 65, 80), on: date = date(2025, 6, 10), who: Person | None = None):
        for n, score in enumerate(scores):
            self.post(f"/api/v1/seed/applications/{app_id}/expert-reviews",
                      {"expert_name": f"专家{n + 1}", "score": score, "on": on.isoformat()}, who or self.officer2, 201)

    def decide(self, app_id: int, approved: bool = True, on: date = DECIDED, who: Person | None = None, expect: int | None = 200):
        return self.post(f"/api/v1/seed/applications/{app_id}/decision",
                         {"approved": approved, "comment": "同意", "on": on.isoformat()}, who or self.manager, expect)

    def contract(self, app_id: int, on: date = CONTRACTED, expect: int | None = 201):
        return self.post(f"/api/v1/seed/applications/{app_id}/contract", {"on": on.isoformat()}, self.officer, expect)

    def disburse(self, loan_id: int, on: date = DISBURSED, ref: str | None = None, expect: int | None = 201):
        return self.post(f"/api/v1/seed/loans/{loan_id}/disbursement",
                         {"disbursed_on": on.isoformat(), "bank_ref": ref or f"FK-{loan_id}"}, self.officer, expect)

    def repay(self, loan_id: int, amount: str, on: date, ref: str, expect: int | None = 201):
        return self.post(f"/api/v1/seed/loans/{loan_id}/repayments",
                         {"amount": amount, "paid_on": on.isoformat(), "bank_ref": ref}, self.officer, expect)

    def approved_application(self, enterprise_id: int, **apply_kwargs) -> int:
        app_id = self.apply(enterprise_id, **apply_kwargs)["id"]
        self.initial_review(app_id)
        self.expert_reviews(app_id)
        self.decide(app_id)
        return app_id

    def contracted_loan(self, enterprise_id: int, **apply_kwargs) -> int:
        app_id = self.approved_application(enterprise_id, **apply_kwargs)
        return self.contract(app_id).get_json()["loan_id"]

    def disbursed_loan(self, enterprise_id: int, on: date = DISBURSED, **apply_kwargs) -> int:
        loan_id = self.contracted_loan(enterprise_id, **apply_kwargs)
        self.disburse(loan_id, on=on)
        return loan_id


@pytest.fixture
def seed(app, client, api_as) -> SeedApi:
    return SeedApi(app, client, api_as)


@pytest.fixture
def enterprise_id(app) -> int:
    return eligible_enterprise(app)
