"""The public notice (domain.md §5): working days, objections, their resolution, the contract."""
from __future__ import annotations

from datetime import date

import pytest

from funds import queries
from funds.states import phase_of
from tests.funds.conftest import DECIDED, NOTICE_ENDS, assert_error, eligible_enterprise


@pytest.fixture
def approved(seed, enterprise_id) -> int:
    seed.contribute("1000000.00")
    return seed.approved_application(enterprise_id)


def holiday(seed, day: str, name: str = "端午节") -> None:
    seed.post("/api/v1/holidays", {"date": day, "name": name}, seed.admin, 201)


def notice_end_after(seed, app, decided_on: date) -> str:
    app_id = seed.apply(eligible_enterprise(app), amount="1000.00", on=date(2025, 5, 20))["id"]
    seed.initial_review(app_id, on=date(2025, 5, 21))
    seed.expert_reviews(app_id, on=date(2025, 5, 22))
    return seed.decide(app_id, on=decided_on).get_json()["notice_ends_on"]


def test_five_working_days_skip_the_weekend(seed, app):
    seed.contribute("100000.00")
    assert notice_end_after(seed, app, date(2025, 6, 13)) == "2025-06-20"  # Fri -> next Fri
    assert notice_end_after(seed, app, date(2025, 6, 11)) == "2025-06-18"  # Wed -> next Wed


def test_a_holiday_pushes_the_end_and_a_make_up_saturday_pulls_it(seed, app):
    seed.contribute("100000.00")
    holiday(seed, "2025-06-18", "测试假日")
    assert notice_end_after(seed, app, date(2025, 6, 13)) == "2025-06-23"  # Mon 16, Tue 17, Thu 19, Fri 20, Mon 23
    seed.post("/api/v1/workdays", {"date": "2025-06-14", "name": "调休上班"}, seed.admin, 201)
    assert notice_end_after(seed, app, date(2025, 6, 13)) == "2025-06-20"  # Sat 14 counts


def test_the_dragon_boat_festival(seed, app):
    seed.contribute("100000.00")
    for day in ("2025-05-31", "2025-06-01", "2025-06-02"):
        holiday(seed, day)
    assert notice_end_after(seed, app, date(2025, 5, 29)) == "2025-06-06"


def test_the_stored_end_does_not_move_with_a_later_holiday(seed, approved):
    holiday(seed, "2025-06-17")
    assert seed.get(f"/api/v1/seed/applications/{approved}")["notice_ends_on"] == NOTICE_ENDS.isoformat()


def test_objections_only_during_the_notice(seed, approved, row_counts):
    url = f"/api/v1/seed/applications/{approved}/objections"
    for day in ("2025-06-21", "2025-12-01"):
        before = row_counts()
        body = assert_error(seed.post(url, {"text": "群众举报", "on": day}, seed.officer), 409)
        assert "公示期" in body["message"]
        assert row_counts() == before
    for day in (DECIDED.isoformat(), NOTICE_ENDS.isoformat()):  # the first and the last day count
        objection = seed.post(url, {"text": f"异议 {day}", "on": day}, seed.officer, 201).get_json()
        assert objection["status"] == "open" and objection["application_status"] == "objection_raised"


def test_an_objection_needs_text(seed, approved, row_counts):
    before = row_counts()
    assert "text" in assert_error(seed.post(f"/api/v1/seed/applications/{approved}/objections",
                                            {"text": "  ", "on": "2025-06-16"}, seed.officer), 422)["errors"]
    assert row_counts() == before


def test_the_contract_waits_for_the_end_of_the_notice(seed, approved, row_counts):
    for day in ("2025-06-13", NOTICE_ENDS.isoformat()):
        before = row_counts()
        body = assert_error(seed.contract(approved, on=date.fromisoformat(day), expect=None), 409)
        assert "公示期" in body["message"]
        assert row_counts() == before
    assert seed.get(f"/api/v1/seed/applications/{approved}")["phase"] == "ready_to_contract"
    assert seed.contract(approved, on=date(2025, 6, 21)).status_code == 201  # the day after, a Saturday


def test_the_phase_is_public_notice_while_it_runs(seed, approved):
    assert seed.get("/api/v1/seed/applications?phase=public_notice&as_of=2025-06-16")["total"] == 1
    assert seed.get("/api/v1/seed/applications?phase=ready_to_contract")["total"] == 1
    with seed.app.app_context():
        application = queries.get_application(approved)
        assert phase_of(application, date(2025, 6, 16)) == "public_notice"
        assert phase_of(application, date(2025, 6, 21)) == "ready_to_contract"
        assert queries.phase_counts(date(2025, 6, 16))["public_notice"] == 1
        assert queries.phase_counts()["ready_to_contract"] == 1


def test_an_open_objection_blocks_the_contract_until_dismissed(seed, approved, row_counts):
    first = seed.post(f"/api/v1/seed/applications/{approved}/objections", {"text": "一", "on": "2025-06-16"},
                      seed.officer, 201).get_json()["id"]
    second = seed.post(f"/api/v1/seed/applications/{approved}/objections", {"text": "二", "on": "2025-06-17"},
                       seed.officer, 201).get_json()["id"]
    before = row_counts()
    assert "异议" in assert_error(seed.contract(approved, expect=None), 409)["message"]
    assert row_counts() == before

    resolution = f"/api/v1/seed/objections/{first}/resolution"
    # A reason is required; officers do not resolve.
    assert "reason" in assert_error(seed.post(resolution, {"upheld": False, "reason": ""}, seed.manager), 422)["errors"]
    assert_error(seed.post(resolution, {"upheld": False, "reason": "不实"}, seed.officer), 403)
    assert row_counts() == before

    dismissed = seed.post(resolution, {"upheld": False, "reason": "经核实不属实", "on": "2025-06-19"}, seed.manager, 200).get_json()
    assert dismissed["status"] == "dismissed" and dismissed["application_status"] == "objection_raised"  # one still open
    assert_error(seed.post(resolution, {"upheld": False, "reason": "再次"}, seed.manager), 409)  # resolved already
    assert_error(seed.contract(approved, expect=None), 409)
    seed.post(f"/api/v1/seed/objections/{second}/resolution", {"upheld": False, "reason": "不属实", "on": "2025-06-19"},
              seed.manager, 200)
    assert seed.get(f"/api/v1/seed/applications/{approved}")["status"] == "approved"
    assert seed.fund()["committed"] == "300000.00"
    assert seed.contract(approved).status_code == 201


def test_an_upheld_objection_rejects_and_releases_the_commitment(seed, approved):
    first = seed.post(f"/api/v1/seed/applications/{approved}/objections", {"text": "一", "on": "2025-06-16"},
                      seed.officer, 201).get_json()["id"]
    second = seed.post(f"/api/v1/seed/applications/{approved}/objections", {"text": "二", "on": "2025-06-16"},
                       seed.officer, 201).get_json()["id"]
    assert seed.fund()["committed"] == "300000.00"
    upheld = seed.post(f"/api/v1/seed/objections/{first}/resolution", {"upheld": True, "reason": "材料造假", "on": "2025-06-18"},
                       seed.manager, 200).get_json()
    assert upheld["status"] == "upheld" and upheld["application_status"] == "rejected"
    detail = seed.get(f"/api/v1/seed/applications/{approved}")
    assert {o["id"]: o["status"] for o in detail["objections"]} == {first: "upheld", second: "closed"}
    assert detail["closed_on"] == "2025-06-18"
    fund = seed.fund()
    assert (fund["committed"], fund["available"]) == ("0.00", "1000000.00")
    assert_error(seed.contract(approved, expect=None), 409)


# --------------------------------------------------------------------------------------- calendar API


def test_the_calendar_is_kept_by_the_admin(seed, row_counts):
    created = seed.post("/api/v1/holidays", {"date": "2025-10-01", "name": "国庆节"}, seed.admin, 201).get_json()
    assert created["date"] == "2025-10-01" and created["name"] == "国庆节"
    before = row_counts()
    assert_error(seed.post("/api/v1/holidays", {"date": "2025-10-01", "name": "重复"}, seed.admin), 409)
    assert_error(seed.post("/api/v1/holidays", {"date": "2025-10-02", "name": "国庆节"}, seed.officer), 403)
    seed.post("/api/v1/holidays", {"date": "2025-10-04", "name": "国庆节"}, seed.admin, 201)
    before = row_counts()
    assert_error(seed.post("/api/v1/workdays", {"date": "2025-10-04", "name": "冲突"}, seed.admin), 409)
    assert "date" in assert_error(seed.post("/api/v1/workdays", {"date": "2025-09-30", "name": "周二"}, seed.admin), 422)["errors"]
    assert "name" in assert_error(seed.post("/api/v1/holidays", {"date": "2025-10-03"}, seed.admin), 422)["errors"]
    assert row_counts() == before
    listing = seed.get("/api/v1/holidays?year=2025", seed.officer)
    assert listing["total"] == 2 and listing["items"][0]["date"] == "2025-10-01"
    assert seed.get("/api/v1/holidays?year=2024")["total"] == 0
    assert seed.client.delete(f"/api/v1/holidays/{created['id']}", headers=seed.officer.headers).status_code == 403
    assert seed.client.delete(f"/api/v1/holidays/{created['id']}", headers=seed.admin.headers).status_code == 204
    assert seed.get("/api/v1/holidays")["total"] == 1
    assert seed.client.delete(f"/api/v1/holidays/{created['id']}", headers=seed.admin.headers).status_code == 404
