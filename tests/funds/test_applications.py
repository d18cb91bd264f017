"""Applications (domain.md §5): eligibility, limits, startup teams, the state machine, roles.

Every refusal is checked twice: status and body, and ``row_counts`` before and after (nothing
written).
"""
from __future__ import annotations

from datetime import date

import pytest

from core.db import db
from core.policy.models import DEFAULT_POLICY, Policy
from tests.funds.conftest import SUBMITTED, TODAY, assert_error, eligible_enterprise


def body_for(company: int | None, **overrides) -> dict:
    body = {"amount": "300000.00", "term_months": 12, "repayment": "monthly", "purpose": "研发样机", "on": SUBMITTED.isoformat()}
    if company is not None:
        body["enterprise_id"] = company
    body.update(overrides)
    return body


def test_an_eligible_enterprise_applies(seed, enterprise_id):
    created = seed.apply(enterprise_id, amount="300000.00", term=24, repayment="bullet")
    assert created["status"] == "submitted" and created["phase"] == "submitted"
    assert (created["amount"], created["term_months"], created["repayment"]) == ("300000.00", 24, "bullet")
    assert created["submitted_on"] == SUBMITTED.isoformat() and created["submitted_by"] == seed.officer.user.username
    assert created["allowed_actions"] == ["pass_initial_review", "fail_initial_review", "link_enterprise", "withdraw"]


@pytest.mark.parametrize(
    ("attrs", "reason"),
    [
        ({"registered_on": date(2020, 6, 1)}, "超过 5 年"),  # one day older than 5 years on 2025-06-02
        ({"is_science_tech": False}, "科技型企业"),
        ({"bad_credit": True}, "不良信用"),
        ({"dishonest": True}, "失信"),
    ],
)
def test_ineligible_enterprises_are_409_and_nothing_is_written(seed, app, row_counts, attrs, reason):
    enterprise_id = eligible_enterprise(app, **attrs)
    before = row_counts()
    body = assert_error(seed.post("/api/v1/seed/applications", body_for(enterprise_id), seed.officer), 409)
    assert reason in body["message"] and body["errors"]["enterprise_id"]
    assert row_counts() == before


def test_five_years_to_the_day_is_still_eligible(seed, app):
    enterprise_id = eligible_enterprise(app, registered_on=date(2020, 6, 2))
    assert seed.apply(enterprise_id)["status"] == "submitted"


def test_every_reason_is_named(seed, app, row_counts):
    enterprise_id = eligible_enterprise(app, is_science_tech=False, bad_credit=True, dishonest=True)
    before = row_counts()
    body = assert_error(seed.post("/api/v1/seed/applications", body_for(enterprise_id), seed.officer), 409)
    assert len(body["errors"]["enterprise_id"]) == 3
    assert row_counts() == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("amount", "300000.01"),
        ("amount", "0.00"),
        ("amount", 1000),
        ("amount", "1e5"),
        ("term_months", 0),
        ("term_months", 25),
        ("term_months", "12"),
        ("repayment", "quarterly"),
        ("on", "2026-01-01"),  # in the future
        ("on", "2025/06/02"),
        ("enterprise_id", "1"),
    ],
)
def test_limits_and_malformed_fields_are_422_and_write_nothing(seed, enterprise_id, row_counts, field, value):
    before = row_counts()
    body = assert_error(seed.post("/api/v1/seed/applications", body_for(enterprise_id, **{field: value}), seed.officer), 422)
    assert field in body["errors"]
    assert row_counts() == before


def test_the_limits_are_the_policy_of_the_application_date(seed, enterprise_id, app, row_counts):
    with app.app_context():
        db.session.add(Policy(**{**DEFAULT_POLICY, "effective_from": date(2025, 7, 1), "seed_max_amount": 200000,
                                 "seed_max_term_months": 12}))
        db.session.commit()
    assert seed.apply(enterprise_id, amount="300000.00", term=24)["status"] == "submitted"  # June: old policy
    before = row_counts()
    later = body_for(enterprise_id, on="2025-07-01", term_months=24)
    body = assert_error(seed.post("/api/v1/seed/applications", later, seed.officer), 422)
    assert {"amount", "term_months"} <= set(body["errors"])
    assert row_counts() == before


def test_unknown_enterprise_is_422(seed, row_counts):
    before = row_counts()
    assert "enterprise_id" in assert_error(seed.post("/api/v1/seed/applications", body_for(999999), seed.officer), 422)["errors"]
    assert row_counts() == before


def test_neither_enterprise_nor_team_is_422(seed, row_counts):
    before = row_counts()
    body = assert_error(seed.post("/api/v1/seed/applications", body_for(None), seed.officer), 422)
    assert {"team_name", "contact_name", "contact_phone"} <= set(body["errors"])
    assert row_counts() == before


def test_a_startup_team_applies_and_must_register_before_the_contract(seed, app, row_counts):
    seed.contribute("1000000.00")
    team = seed.apply(None, team_name="智能灌溉创业团队", contact_name="张三", contact_phone="13800000000")
    assert team["enterprise_id"] is None and team["applicant_name"] == "智能灌溉创业团队"
    app_id = team["id"]
    seed.initial_review(app_id)
    seed.expert_reviews(app_id)
    seed.decide(app_id)
    before = row_counts()
    body = assert_error(seed.contract(app_id, expect=None), 409)
    assert "登记企业" in body["message"]
    assert row_counts() == before

    # An ineligible enterprise cannot be linked ...
    dishonest = eligible_enterprise(app, dishonest=True)
    before = row_counts()
    assert_error(seed.post(f"/api/v1/seed/applications/{app_id}/enterprise",
                           {"enterprise_id": dishonest, "on": "2025-06-21"}, seed.officer), 409)
    assert row_counts() == before
    # ... an eligible one is, registered after the application date (a new company).
    registered = eligible_enterprise(app, registered_on=date(2025, 6, 18))
    linked = seed.post(f"/api/v1/seed/applications/{app_id}/enterprise",
                       {"enterprise_id": registered, "on": "2025-06-21"}, seed.officer, 200).get_json()
    assert linked["enterprise_id"] == registered and linked["status"] == "approved"
    assert_error(seed.post(f"/api/v1/seed/applications/{app_id}/enterprise",
                           {"enterprise_id": registered, "on": "2025-06-21"}, seed.officer), 409)
    assert seed.contract(app_id).status_code == 201


# ------------------------------------------------------------------------------------ state machine


def test_illegal_transitions_are_409_and_write_nothing(seed, enterprise_id, row_counts):
    app_id = seed.apply(enterprise_id)["id"]
    url = f"/api/v1/seed/applications/{app_id}"
    refused = [
        (f"{url}/expert-reviews", {"expert_name": "专家", "score": 80, "on": "2025-06-03"}, seed.officer),
        (f"{url}/decision", {"approved": True, "on": "2025-06-03"}, seed.manager),
        (f"{url}/objections", {"text": "异议", "on": "2025-06-03"}, seed.officer),
        (f"{url}/contract", {"on": "2025-06-03"}, seed.officer),
    ]
    for path, body, who in refused:
        before = row_counts()
        error = assert_error(seed.post(path, body, who), 409)
        assert "已受理" in error["message"], error
        assert row_counts() == before
    seed.initial_review(app_id)
    before = row_counts()
    assert_error(seed.post(f"{url}/initial-review", {"passed": True, "on": "2025-06-04"}, seed.officer), 409)
    assert row_counts() == before


def test_a_failed_initial_review_rejects_and_ends_the_application(seed, enterprise_id, row_counts):
    app_id = seed.apply(enterprise_id)["id"]
    rejected = seed.initial_review(app_id, passed=False)
    assert rejected["status"] == "rejected" and rejected["closed_on"] == "2025-06-03" and rejected["allowed_actions"] == []
    for path, body in (("expert-reviews", {"expert_name": "专家", "score": 90}), ("withdrawal", {})):
        before = row_counts()
        assert_error(seed.post(f"/api/v1/seed/applications/{app_id}/{path}", body, seed.officer), 409)
        assert row_counts() == before


def test_the_same_expert_scores_once(seed, enterprise_id, row_counts):
    app_id = seed.apply(enterprise_id)["id"]
    seed.initial_review(app_id)
    seed.expert_reviews(app_id, scores=(80,))
    before = row_counts()
    body = assert_error(seed.post(f"/api/v1/seed/applications/{app_id}/expert-reviews",
                                  {"expert_name": "专家1", "score": 90}, seed.officer), 409)
    assert "expert_name" in body["errors"]
    assert row_counts() == before


@pytest.mark.parametrize("score", [-1, 101, "80", 80.5, None])
def test_scores_are_integers_0_to_100(seed, enterprise_id, row_counts, score):
    app_id = seed.apply(enterprise_id)["id"]
    seed.initial_review(app_id)
    before = row_counts()
    assert "score" in assert_error(seed.post(f"/api/v1/seed/applications/{app_id}/expert-reviews",
                                             {"expert_name": "专家", "score": score}, seed.officer), 422)["errors"]
    assert row_counts() == before


def test_a_step_dated_before_the_previous_one_is_409(seed, enterprise_id, row_counts):
    app_id = seed.apply(enterprise_id)["id"]
    before = row_counts()
    body = assert_error(seed.post(f"/api/v1/seed/applications/{app_id}/initial-review",
                                  {"passed": True, "on": "2025-06-01"}, seed.officer), 409)
    assert "on" in body["errors"]
    assert row_counts() == before


def test_steps_default_to_today(seed, enterprise_id):
    created = seed.post("/api/v1/seed/applications", {k: v for k, v in body_for(enterprise_id).items() if k != "on"},
                        seed.officer, 201).get_json()
    assert created["submitted_on"] == TODAY.isoformat()


def test_withdrawal_releases_the_commitment(seed, enterprise_id):
    seed.contribute("1000000.00")
    app_id = seed.approved_application(enterprise_id)
    assert seed.fund()["committed"] == "300000.00"
    withdrawn = seed.post(f"/api/v1/seed/applications/{app_id}/withdrawal", {"reason": "企业放弃", "on": "2025-06-16"},
                          seed.officer, 200).get_json()
    assert withdrawn["status"] == "withdrawn" and withdrawn["closed_on"] == "2025-06-16"
    fund = seed.fund()
    assert (fund["committed"], fund["available"]) == ("0.00", "1000000.00")
    # As of a day before the withdrawal the amount was still committed.
    assert seed.get("/api/v1/seed/fund?as_of=2025-06-15")["committed"] == "300000.00"


# ---------------------------------------------------------------------------------- roles and reads


@pytest.mark.parametrize("role", ["fund_manager", "admin", "auditor", "bank_liaison"])
def test_only_officers_take_applications_in(seed, enterprise_id, api_as, row_counts, role):
    _user, headers = api_as(role)
    before = row_counts()
    response = seed.client.post("/api/v1/seed/applications", json=body_for(enterprise_id), headers=headers)
    assert_error(response, 403)
    assert row_counts() == before


def test_only_managers_decide(seed, enterprise_id, row_counts):
    app_id = seed.apply(enterprise_id)["id"]
    seed.initial_review(app_id)
    seed.expert_reviews(app_id)
    for who in (seed.officer, seed.admin, seed.auditor):
        before = row_counts()
        assert_error(seed.post(f"/api/v1/seed/applications/{app_id}/decision", {"approved": True}, who), 403)
        assert row_counts() == before


def test_anonymous_is_401(client):
    assert_error(client.get("/api/v1/seed/fund"), 401)
    assert_error(client.post("/api/v1/seed/applications", json={}), 401)


def test_the_list_filters_and_paginates(seed, app):
    ids = [seed.apply(eligible_enterprise(app))["id"] for _ in range(3)]
    seed.initial_review(ids[0])
    listing = seed.get("/api/v1/seed/applications?per_page=2")
    assert listing["total"] == 3 and len(listing["items"]) == 2
    assert [a["id"] for a in seed.get("/api/v1/seed/applications?status=initial_review_passed")["items"]] == [ids[0]]
    assert seed.get("/api/v1/seed/applications?phase=submitted")["total"] == 2
    assert seed.get("/api/v1/seed/applications?status=bogus", expect=422)
    assert seed.get(f"/api/v1/seed/applications/{ids[0]}")["timeline"][0]["action"] == "submitted"
    assert seed.get("/api/v1/seed/applications/999999", expect=404)


def test_bank_liaisons_do_not_read_applications(seed, enterprise_id, api_as):
    seed.apply(enterprise_id)
    _user, headers = api_as("bank_liaison")
    assert seed.client.get("/api/v1/seed/applications", headers=headers).status_code == 403
    assert seed.client.get("/api/v1/seed/fund", headers=headers).status_code == 200
