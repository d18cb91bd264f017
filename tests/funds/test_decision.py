"""The fund manager's decision (domain.md §5): reviews, pass mark, ``available``, four eyes."""
from __future__ import annotations

from datetime import date

import pytest

from tests.funds.conftest import Person, assert_error, eligible_enterprise


def reviewed(seed, enterprise_id, scores=(70, 65, 80), amount="300000.00") -> int:
    app_id = seed.apply(enterprise_id, amount=amount)["id"]
    seed.initial_review(app_id)
    seed.expert_reviews(app_id, scores=scores)
    return app_id


def promote(seed, person: Person) -> None:
    """The admin makes an officer a fund manager: the same user id, now allowed to decide."""
    seed.client.patch(f"/api/v1/users/{person.id}", json={"role": "fund_manager"}, headers=seed.admin.headers)


def test_too_few_reviews_is_409_and_writes_nothing(seed, enterprise_id, row_counts):
    seed.contribute("1000000.00")
    app_id = reviewed(seed, enterprise_id, scores=(90, 95))
    before = row_counts()
    body = assert_error(seed.decide(app_id, expect=None), 409)
    assert "至少需要 3 份" in body["message"]
    assert row_counts() == before


def test_no_review_at_all_is_409(seed, enterprise_id, row_counts):
    seed.contribute("1000000.00")
    app_id = seed.apply(enterprise_id)["id"]
    seed.initial_review(app_id)
    before = row_counts()
    assert "专家评审不足" in assert_error(seed.decide(app_id, expect=None), 409)["message"]
    assert row_counts() == before


def test_an_average_below_the_pass_mark_is_409(seed, enterprise_id, row_counts):
    seed.contribute("1000000.00")
    app_id = reviewed(seed, enterprise_id, scores=(60, 60, 59))  # 59.67
    before = row_counts()
    body = assert_error(seed.decide(app_id, expect=None), 409)
    assert "59.67" in body["message"] and "60" in body["message"]
    assert row_counts() == before
    # Rejecting is always possible.
    rejected = seed.decide(app_id, approved=False).get_json()
    assert rejected["status"] == "rejected" and rejected["closed_on"] == "2025-06-13"
    assert seed.fund()["committed"] == "0.00"


def test_more_than_available_is_409(seed, enterprise_id, app, row_counts):
    seed.contribute("500000.00")
    first = reviewed(seed, enterprise_id)
    second = reviewed(seed, eligible_enterprise(app), amount="200000.01")
    seed.decide(first)
    assert seed.fund()["available"] == "200000.00"
    before = row_counts()
    body = assert_error(seed.decide(second, expect=None), 409)
    assert "可用余额不足" in body["message"] and "¥200,000.00" in body["message"]
    assert row_counts() == before


def test_exactly_available_is_approved(seed, enterprise_id):
    seed.contribute("300000.00")
    app_id = reviewed(seed, enterprise_id)
    assert seed.decide(app_id).get_json()["status"] == "approved"
    fund = seed.fund()
    assert (fund["cash"], fund["committed"], fund["available"]) == ("300000.00", "300000.00", "0.00")


@pytest.mark.parametrize("involvement", ["submitted", "initial_review", "expert_review"])
def test_four_eyes_nobody_decides_what_they_submitted_or_reviewed(seed, enterprise_id, row_counts, involvement):
    seed.contribute("1000000.00")
    app_id = seed.apply(enterprise_id)["id"]
    seed.initial_review(app_id)
    seed.expert_reviews(app_id, scores=(70, 70))
    seed.post(f"/api/v1/seed/applications/{app_id}/expert-reviews",
              {"expert_name": "专家9", "score": 90, "on": "2025-06-10"}, seed.officer, 201)
    # officer: submitted, did the initial review and recorded the third score; officer2 recorded two scores
    involved = seed.officer2 if involvement == "expert_review" else seed.officer
    promote(seed, involved)
    for approved in (True, False):
        before = row_counts()
        body = assert_error(seed.decide(app_id, approved=approved, who=involved, expect=None), 409)
        assert "四眼原则" in body["message"]
        assert row_counts() == before
    assert seed.decide(app_id).get_json()["status"] == "approved"  # an uninvolved manager may


def test_a_decision_is_taken_once(seed, enterprise_id, row_counts):
    seed.contribute("1000000.00")
    app_id = reviewed(seed, enterprise_id)
    seed.decide(app_id)
    before = row_counts()
    assert_error(seed.decide(app_id, who=seed.manager2, expect=None), 409)
    assert_error(seed.decide(app_id, approved=False, who=seed.manager2, expect=None), 409)
    assert row_counts() == before


def test_the_decision_may_not_come_before_the_reviews(seed, enterprise_id, row_counts):
    seed.contribute("1000000.00")
    app_id = reviewed(seed, enterprise_id)
    before = row_counts()
    assert_error(seed.post(f"/api/v1/seed/applications/{app_id}/decision", {"approved": True, "on": "2025-06-09"},
                           seed.manager), 409)
    assert row_counts() == before


def test_a_decision_in_the_future_is_422(seed, enterprise_id, row_counts):
    seed.contribute("1000000.00")
    app_id = reviewed(seed, enterprise_id)
    before = row_counts()
    body = assert_error(seed.post(f"/api/v1/seed/applications/{app_id}/decision",
                                  {"approved": True, "on": "2026-01-01"}, seed.manager), 422)
    assert "on" in body["errors"]
    assert row_counts() == before


@pytest.mark.parametrize("value", ["true", 1, None])
def test_approved_must_be_a_boolean(seed, enterprise_id, row_counts, value):
    app_id = reviewed(seed, enterprise_id)
    before = row_counts()
    assert "approved" in assert_error(seed.post(f"/api/v1/seed/applications/{app_id}/decision",
                                                {"approved": value}, seed.manager), 422)["errors"]
    assert row_counts() == before


def test_a_closed_month_refuses_every_step_dated_in_it(seed, enterprise_id, row_counts, monkeypatch):
    """The ledger's period guards (a month signed off) apply to every ``on`` date, posted or not."""
    from core.errors import BusinessRuleError
    from core.ledger import services as ledger

    def june_is_closed(day):
        if (day.year, day.month) == (2025, 6):
            raise BusinessRuleError("2025-06 已结账")

    monkeypatch.setattr(ledger, "period_guards", [june_is_closed])
    before = row_counts()
    body = assert_error(seed.post("/api/v1/seed/applications", {"enterprise_id": enterprise_id, "amount": "1000.00",
                                                                "term_months": 3, "repayment": "bullet", "on": "2025-06-02"},
                                  seed.officer), 409)
    assert "已结账" in body["message"]
    assert_error(seed.post("/api/v1/seed/contributions", {"amount": "1.00", "received_on": "2025-06-30"}, seed.admin), 409)
    assert row_counts() == before
    assert seed.apply(enterprise_id, on=date(2025, 7, 1))["status"] == "submitted"


def test_refusals_speak_english_when_asked(seed, enterprise_id):
    seed.contribute("1000000.00")
    app_id = reviewed(seed, enterprise_id, scores=(10, 20, 30))
    response = seed.client.post(f"/api/v1/seed/applications/{app_id}/decision", json={"approved": True},
                                headers={**seed.manager.headers, "Accept-Language": "en"})
    assert_error(response, 409)
    assert response.get_json()["message"] == "The average expert score 20.00 is below the pass mark 60"
