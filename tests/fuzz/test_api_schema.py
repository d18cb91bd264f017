"""Every operation of the published OpenAPI document, fuzzed with schemathesis against the WSGI app.

For each operation, a caller whose role may reach it sends generated requests (valid and invalid
bodies, query strings and ids, some aimed at records that exist). The API must never answer 5xx;
every refusal carries the documented error shape as JSON; documented responses match their schema;
and a refused write leaves every table exactly as it was (api.md: "A refused request changes nothing").

Bounded for CI: a few examples per operation, derandomised so every run sends the same requests.
Each operation is its own test inside the autouse ``db_connection`` transaction: the writes its
accepted examples make are seen by the next examples of that operation (as in production) and are
all rolled back when the test ends, so no operation sees another's data.
"""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from config import create_app
from core import clock
from core.db import db
from loans import services as loan_services
from parties.models import Bank
from tests.factories import BankFactory, UserFactory
from tests.loans.test_loans import freeze_on, rated_enterprise

SCHEMA_PATH = "/api/v1/openapi.json"
TODAY = date(2025, 6, 30)
ERROR_KEYS = {"code", "status", "message", "errors"}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# Roles tried in this order: reads by the widest reader, writes by the person who does the work.
READ_PREFERENCE = ("admin", "auditor", "fund_manager", "fund_officer", "bank_liaison")
WRITE_PREFERENCE = ("bank_liaison", "fund_officer", "fund_manager", "auditor", "admin")
# Tables a refused request may legitimately write: the failed-login counter survives its own 401
# (README, "Unit of work"), and the audit trail records the refused login; a wrong current
# password when changing one's own counts as a failed login too.
REFUSALS_THAT_WRITE = {
    "/api/v1/auth/token": ("login_failures", "audit_events"),
    "/api/v1/me/password": ("login_failures", "audit_events"),
}
EXAMPLES = 12


def _operations() -> list[tuple[str, str]]:
    """(METHOD, path) of every operation in the published document, read once at collection."""
    app = create_app("test")
    document = app.test_client().get(SCHEMA_PATH).get_json()
    return [
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    ]


OPERATIONS = _operations()


def allowed_roles(app, method: str, path: str) -> frozenset[str] | None:
    """The roles the view behind ``method path`` admits (``roles_required``), or None when it names none."""
    flask_path = path.replace("{", "<").replace("}", ">")
    for rule in app.url_map.iter_rules():
        if _same_shape(rule.rule, flask_path) and method in rule.methods:
            return getattr(app.view_functions[rule.endpoint], "allowed_roles", None)
    raise AssertionError(f"no Flask rule serves {method} {path}")


def _same_shape(rule: str, path: str) -> bool:
    """``/loans/<int:loan_id>`` and ``/loans/<loan_id>`` are the same route."""
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"<\1>", rule) == path


def pick_role(app, method: str, path: str) -> str:
    allowed = allowed_roles(app, method, path)
    preference = READ_PREFERENCE if method in SAFE_METHODS else WRITE_PREFERENCE
    if not allowed:
        return preference[0]
    return next(role for role in preference if role in allowed)


@pytest.fixture
def world(app):
    """One bank, a rated enterprise and a disbursed loan of that bank, committed (today frozen at 2025-06-30).

    Path parameters are sometimes pointed at these records so the fuzzed bodies reach the rules,
    not only the 404 for an unknown id.
    """
    freeze_on(TODAY)
    with app.app_context():
        bank = BankFactory()
        enterprise = rated_enterprise()
        db.session.flush()
        loan = loan_services.create_loan(
            bank_id=bank.id, enterprise_id=enterprise.id, contract_no="HT-FUZZ-001", principal=Decimal("500000.00"),
            annual_rate=Decimal("0.0345"), start_date=date(2025, 3, 1), maturity_date=date(2026, 2, 28),
            created_by="arrange",
        )
        loan_services.record_disbursement(
            loan, amount=Decimal("500000.00"), disbursed_on=date(2025, 3, 2), bank_ref="FUZZ-D1", created_by="arrange",
        )
        db.session.commit()
        ids = {"bank_id": bank.id, "enterprise_id": enterprise.id, "loan_id": loan.id}
    yield ids
    clock.freeze(None)


def headers_for(app, api_headers, role: str, bank_id: int) -> dict[str, str]:
    with app.app_context():
        attrs = {"bank": db.session.get(Bank, bank_id)} if role == "bank_liaison" else {}
        user = UserFactory(role=role, **attrs)
        db.session.commit()
        db.session.refresh(user)
        db.session.expunge(user)
    return api_headers(user)


def assert_error_shape(response, case) -> None:
    """api.md: every 4xx is JSON ``{code, status, message, errors}`` with ``code`` the status."""
    where = f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:500]}"
    content_type = (response.headers.get("content-type") or [""])[0]
    assert content_type.startswith("application/json"), where
    body = response.json()
    assert isinstance(body, dict) and set(body) == ERROR_KEYS, where
    assert body["code"] == response.status_code, where
    assert isinstance(body["status"], str) and body["status"], where
    assert isinstance(body["message"], str) and body["message"].strip(), where
    assert isinstance(body["errors"], dict), where
    for messages in body["errors"].values():
        assert isinstance(messages, list) and all(isinstance(m, str) for m in messages), where


@pytest.fixture(scope="module")
def api_schema(app):
    """The document as the app serves it, loaded once for the module (building it takes a while)."""
    return schemathesis.openapi.from_wsgi(SCHEMA_PATH, app)


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_operation_never_fails_and_refusals_change_nothing(
    app, api_schema, world, api_headers, row_counts, method, path
):
    operation = api_schema[path][method]
    role = pick_role(app, method, path)
    headers = headers_for(app, api_headers, role, world["bank_id"])
    known = {p.name: world[p.name] for p in operation.path_parameters if p.name in world}
    strategies = [
        operation.as_strategy(generation_mode=mode, headers=headers)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    ]
    if known:
        strategies.append(operation.as_strategy(headers=headers, path_parameters=known))
    ignored = REFUSALS_THAT_WRITE.get(path, ())

    @settings(
        max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=st.one_of(strategies))
    def exercise(case):
        writes = method not in SAFE_METHODS
        before = row_counts(ignore=ignored) if writes else None
        response = case.call()
        case.validate_response(
            response,
            checks=[not_a_server_error, status_code_conformance, content_type_conformance,
                    response_schema_conformance],
        )
        if 400 <= response.status_code < 500:
            assert_error_shape(response, case)
            if writes:
                assert row_counts(ignore=ignored) == before, f"{case.method} {case.formatted_path} wrote rows"

    exercise()
