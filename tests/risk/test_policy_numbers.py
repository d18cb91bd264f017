"""The pool's numbers are policy numbers: defaults of domain.md §4, exact ratios, rules in Python and in CHECKs."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from core.db import db
from core.errors import ValidationFailed
from core.policy.models import DEFAULT_POLICY, Policy
from core.policy.services import create_policy_version, policy_in_force
from tests.risk.conftest import assert_error

D = Decimal


def test_the_defaults_of_the_domain(risk, client):
    body = client.get("/api/v1/policies/current", headers=risk.auditor.headers).get_json()
    assert {name: body[name] for name in body if name.startswith("risk_")} == {
        "risk_pool_commitment": "10000000.00",
        "risk_city_share": "0.40",
        "risk_county_share": "0.60",
        "risk_pool_share": "0.80",
        "risk_min_paid_in_ratio": "0.10",
        "risk_claim_trigger_dpd": 91,
        "risk_breaker_warning": "0.05",
        "risk_breaker_suspend": "0.08",
        "risk_leverage_multiple": 10,
    }


def test_admin_changes_the_pools_numbers(risk, client, app):
    response = client.post(
        "/api/v1/policies",
        json={"effective_from": "2026-01-01", "risk_city_share": "0.5", "risk_county_share": "0.5",
              "risk_breaker_warning": "0.045", "risk_pool_share": "0.7"},
        headers=risk.admin.headers,
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["risk_city_share"], body["risk_breaker_warning"], body["risk_pool_share"]) == ("0.50", "0.045", "0.70")
    with app.app_context():
        policy = policy_in_force(date(2026, 1, 1))
        assert (policy.risk_city_share, policy.risk_county_share) == (D("0.5"), D("0.5"))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"risk_city_share": "0.5"}, "risk_county_share"),  # 0.5 + 0.6 is not 1
        ({"risk_pool_share": "1.5"}, "risk_pool_share"),
        ({"risk_pool_share": 0.8}, "risk_pool_share"),  # a JSON number, not a string
        ({"risk_pool_share": "0.1234567"}, "risk_pool_share"),
        ({"risk_breaker_suspend": "0.04"}, "risk_breaker_suspend"),  # below the warning level
        ({"risk_breaker_warning": "0"}, "risk_breaker_warning"),
        ({"risk_claim_trigger_dpd": 0}, "risk_claim_trigger_dpd"),
        ({"risk_leverage_multiple": 0}, "risk_leverage_multiple"),
        ({"risk_pool_commitment": "0.00"}, "risk_pool_commitment"),
    ],
)
def test_bad_pool_numbers_are_refused_and_write_nothing(risk, client, row_counts, changes, field):
    before = row_counts()
    response = client.post("/api/v1/policies", json={"effective_from": "2026-01-01", **changes}, headers=risk.admin.headers)
    assert field in assert_error(response, 422)["errors"]
    assert row_counts() == before


def test_services_refuse_floats_for_ratios(app_ctx):
    with pytest.raises(ValidationFailed) as refused:
        create_policy_version({"risk_pool_share": 0.8}, date(2026, 1, 1), "admin")
    assert "risk_pool_share" in refused.value.errors


def test_the_database_checks_the_ratios_too(app_ctx):
    numbers = {**DEFAULT_POLICY, "effective_from": date(2030, 1, 1), "risk_county_share": D("0.7")}
    with pytest.raises(IntegrityError):
        with db.session.begin_nested():
            db.session.add(Policy(**numbers))
    assert db.session.scalar(sa.select(Policy.id).where(Policy.effective_from == date(2030, 1, 1))) is None
