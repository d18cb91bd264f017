"""Enterprises and ratings: the services' rules, the read side the loans use (rating_valid_on,
enterprise_exposure), the API contract (api.md) and the pages."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa

from core import clock
from core.db import db
from core.errors import BusinessRuleError, ValidationFailed
from core.policy.services import create_policy_version
from parties import queries, services
from parties.models import Enterprise, Rating
from tests.conftest import persist
from tests.factories import EnterpriseFactory, LoanFactory, RatingFactory, credit_code_for
from tests.support import post_form
from tests.test_interface import assert_csp_clean, english_catalog  # noqa: F401 - a fixture

ERROR_KEYS = {"code", "status", "message", "errors"}
ROLES = ("admin", "bank_liaison", "fund_officer", "fund_manager", "auditor")
TODAY = date(2025, 6, 15)
VALID_CODE = "91350100M000100Y43"  # domain.md §2
BAD_CHECK = "91350100M000100Y44"


@pytest.fixture(autouse=True)
def frozen_today():
    """Today is 2025-06-15 in Shanghai for every test here."""
    clock.freeze(datetime(2025, 6, 15, 4, 0, tzinfo=timezone.utc))
    yield TODAY
    clock.freeze(None)


def assert_error(response, code: int) -> dict:
    assert response.status_code == code, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == ERROR_KEYS and body["code"] == code and body["message"]
    return body


def make(app, factory, **attrs):
    with app.app_context():
        return persist(factory(**attrs))


def payload(**changes) -> dict:
    return {
        "name": "县智造科技有限公司",
        "credit_code": VALID_CODE,
        "registered_on": "2019-05-20",
        "town": "城关镇",
        "industry": "智能制造",
        "is_science_tech": True,
        "is_high_tech": False,
        **changes,
    }


def enterprise_kwargs(**changes) -> dict:
    return {
        "name": "县智造科技有限公司",
        "credit_code": VALID_CODE,
        "registered_on": date(2019, 5, 20),
        "town": "城关镇",
        "industry": "智能制造",
        "is_science_tech": True,
        "is_high_tech": False,
        **changes,
    }


# -------------------------------------------------------------------- read side used by the loans


def test_rating_valid_on_covers_exactly_the_validity_period(app_ctx):
    rating = RatingFactory(rated_on=date(2025, 1, 2))
    enterprise_id = rating.enterprise.id
    assert rating.valid_until == date(2026, 1, 1)
    assert queries.rating_valid_on(enterprise_id, date(2025, 1, 1)) is None
    assert queries.rating_valid_on(enterprise_id, date(2025, 1, 2)) == rating
    assert queries.rating_valid_on(enterprise_id, date(2026, 1, 1)) == rating
    assert queries.rating_valid_on(enterprise_id, date(2026, 1, 2)) is None
    assert queries.rating_valid_on(enterprise_id + 1000, date(2025, 6, 1)) is None


def test_a_newer_rating_supersedes_the_older_from_its_date(app_ctx):
    older = RatingFactory(rated_on=date(2024, 9, 1), grade="C", credit_line=Decimal("3000000.00"))
    newer = RatingFactory(enterprise=older.enterprise, rated_on=date(2025, 3, 1), grade="A")
    enterprise_id = older.enterprise.id
    assert queries.rating_valid_on(enterprise_id, date(2025, 2, 28)) == older
    assert queries.rating_valid_on(enterprise_id, date(2025, 3, 1)) == newer
    assert queries.rating_valid_on(enterprise_id, date(2026, 2, 28)) == newer
    batch = queries.ratings_valid_on([enterprise_id], date(2025, 2, 28))
    assert batch == {enterprise_id: older}


def test_an_expired_newer_rating_does_not_revive_an_older_one(app_ctx):
    older = RatingFactory(rated_on=date(2025, 1, 2))  # valid through 2026-01-01
    newer = RatingFactory(enterprise=older.enterprise, rated_on=date(2025, 2, 1), valid_until=date(2025, 4, 30))
    enterprise_id = older.enterprise.id
    assert queries.rating_valid_on(enterprise_id, date(2025, 4, 30)) == newer
    assert queries.rating_valid_on(enterprise_id, date(2025, 5, 1)) is None
    assert queries.ratings_valid_on([enterprise_id], date(2025, 5, 1)) == {}


def test_exposure_sums_principal_less_repaid_over_loans_not_repaid(app_ctx):
    enterprise = EnterpriseFactory()
    other = EnterpriseFactory()
    assert queries.enterprise_exposure(enterprise.id) == Decimal("0.00")
    LoanFactory(enterprise=enterprise, principal=Decimal("1000000.00"))  # contracted, nothing disbursed
    LoanFactory(
        enterprise=enterprise,
        status="active",
        principal=Decimal("800000.00"),
        disbursed_total=Decimal("500000.00"),
        repaid_principal=Decimal("120000.50"),
    )
    LoanFactory(
        enterprise=enterprise,
        status="repaid",
        principal=Decimal("300000.00"),
        disbursed_total=Decimal("300000.00"),
        repaid_principal=Decimal("300000.00"),
    )
    LoanFactory(enterprise=other, overdue=True)
    exposure = queries.enterprise_exposure(enterprise.id)
    assert exposure == Decimal("1679999.50") and isinstance(exposure, Decimal)
    totals = queries.loan_totals([enterprise.id, other.id])
    assert totals[enterprise.id].outstanding == Decimal("379999.50")
    assert totals[other.id] == queries.LoanTotals(Decimal("1000000.00"), Decimal("1000000.00"))


def test_credit_position_as_of_a_day(app_ctx):
    rating = RatingFactory(rated_on=date(2025, 1, 2))
    LoanFactory(enterprise=rating.enterprise, principal=Decimal("3500000.00"))
    position = queries.credit_position(rating.enterprise.id, TODAY)
    assert (position.grade, position.credit_line, position.exposure) == ("B", Decimal("4000000.00"), Decimal("3500000.00"))
    assert position.available_line == Decimal("500000.00")
    LoanFactory(enterprise=rating.enterprise, principal=Decimal("1000000.00"))  # over the line (entered directly)
    assert queries.credit_position(rating.enterprise.id, TODAY).available_line == Decimal("0.00")
    lapsed = queries.credit_position(rating.enterprise.id, date(2026, 1, 2))
    assert (lapsed.rating, lapsed.credit_line, lapsed.available_line) == (None, None, Decimal("0.00"))


# ---------------------------------------------------------------------------------- rating services


@pytest.mark.parametrize(
    "rated_on, months, valid_until",
    [
        (date(2025, 1, 2), 12, date(2026, 1, 1)),
        (date(2025, 1, 1), 12, date(2025, 12, 31)),
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
        (date(2024, 3, 1), 12, date(2025, 2, 28)),
        (date(2025, 1, 31), 1, date(2025, 2, 28)),
        (date(2025, 1, 28), 1, date(2025, 2, 27)),
        (date(2025, 8, 31), 6, date(2026, 2, 28)),
        (date(2025, 12, 15), 24, date(2027, 12, 14)),
    ],
)
def test_rating_validity_runs_to_the_day_before_the_same_day_n_months_later(rated_on, months, valid_until):
    assert services.rating_valid_until(rated_on, months) == valid_until


def test_rating_takes_line_and_validity_from_the_policy_of_its_date(app_ctx):
    enterprise = EnterpriseFactory()
    rating = services.rate_enterprise(enterprise, "a", date(2025, 3, 10), "officer1")
    assert (rating.grade, rating.credit_line, rating.valid_until) == ("A", Decimal("5000000.00"), date(2026, 3, 9))
    assert rating.created_by == "officer1" and rating.policy_id is not None
    assert queries.rating_valid_on(enterprise.id, TODAY) == rating


def test_a_later_policy_version_does_not_change_an_earlier_rating(app_ctx):
    enterprise = EnterpriseFactory()
    earlier = services.rate_enterprise(enterprise, "B", date(2025, 1, 10), "officer1")
    new_policy = create_policy_version(
        {"credit_line_b": Decimal("4500000.00"), "rating_valid_months": 6}, date(2025, 4, 1), "admin1"
    )
    db.session.expire_all()
    earlier = db.session.get(Rating, earlier.id)
    assert (earlier.credit_line, earlier.valid_until) == (Decimal("4000000.00"), date(2026, 1, 9))
    assert earlier.policy_id != new_policy.id
    # a rating dated on or after the new version's date follows it
    later = services.rate_enterprise(enterprise, "B", date(2025, 4, 1), "officer1")
    assert (later.credit_line, later.valid_until, later.policy_id) == (Decimal("4500000.00"), date(2025, 9, 30), new_policy.id)


@pytest.mark.parametrize(
    "grade, rated_on, field",
    [
        ("F", date(2025, 3, 1), "grade"),
        ("", date(2025, 3, 1), "grade"),
        ("B", date(2025, 6, 16), "rated_on"),  # tomorrow
        ("B", date(2020, 2, 29), "rated_on"),  # the day before registration
        ("B", "2025-03-01", "rated_on"),
    ],
)
def test_invalid_ratings_are_refused(app_ctx, grade, rated_on, field):
    enterprise = EnterpriseFactory()  # registered 2020-03-01
    with pytest.raises(ValidationFailed) as refused:
        services.rate_enterprise(enterprise, grade, rated_on, "officer1")
    assert field in refused.value.errors
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Rating)) == 0


def test_a_second_rating_on_the_same_day_is_refused(app_ctx):
    enterprise = EnterpriseFactory()
    services.rate_enterprise(enterprise, "B", date(2025, 3, 1), "officer1")
    with pytest.raises(BusinessRuleError) as refused:
        services.rate_enterprise(enterprise, "A", date(2025, 3, 1), "officer1")
    assert "rated_on" in refused.value.errors


# ------------------------------------------------------------------------------ enterprise services


def test_create_enterprise_normalises_code_and_text(app_ctx):
    enterprise = services.create_enterprise(
        **enterprise_kwargs(name="  县智造  科技有限公司 ", credit_code=" ９１３５０１００m０００１００y４３ ", town=" 城关镇 ")
    )
    assert (enterprise.name, enterprise.credit_code, enterprise.town) == ("县智造 科技有限公司", VALID_CODE, "城关镇")
    assert (enterprise.is_science_tech, enterprise.bad_credit, enterprise.dishonest) == (True, False, False)
    assert queries.find_enterprise_by_credit_code(VALID_CODE.lower()) == enterprise


def test_create_enterprise_reports_every_bad_field(app_ctx):
    with pytest.raises(ValidationFailed) as refused:
        services.create_enterprise(
            name=" ", credit_code=BAD_CHECK, registered_on=date(2025, 6, 16), town="", industry="x" * 65,
            is_science_tech="yes",
        )
    assert set(refused.value.errors) == {"name", "credit_code", "registered_on", "town", "industry", "is_science_tech"}
    assert "校验位不正确" in refused.value.errors["credit_code"][0]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Enterprise)) == 0


def test_duplicate_credit_code_is_a_business_refusal(app_ctx):
    services.create_enterprise(**enterprise_kwargs())
    with pytest.raises(BusinessRuleError) as refused:
        services.create_enterprise(**enterprise_kwargs(name="另一家公司", credit_code=VALID_CODE.lower()))
    assert "credit_code" in refused.value.errors


def test_update_enterprise_keeps_the_credit_code(app_ctx):
    enterprise = services.create_enterprise(**enterprise_kwargs())
    services.update_enterprise(enterprise, name="新名称", is_high_tech=True, dishonest=True, credit_code=VALID_CODE)
    assert (enterprise.name, enterprise.is_high_tech, enterprise.dishonest) == ("新名称", True, True)
    with pytest.raises(ValidationFailed) as refused:
        services.update_enterprise(enterprise, credit_code=credit_code_for(5), name="再改名")
    assert set(refused.value.errors) == {"credit_code"}
    assert (enterprise.credit_code, enterprise.name) == (VALID_CODE, "新名称")
    with pytest.raises(ValidationFailed) as refused:
        services.update_enterprise(enterprise, colour="red")
    assert "colour" in refused.value.errors


def test_registration_date_cannot_move_after_the_first_rating(app_ctx):
    rating = RatingFactory(rated_on=date(2025, 1, 2))
    with pytest.raises(ValidationFailed) as refused:
        services.update_enterprise(rating.enterprise, registered_on=date(2025, 2, 1))
    assert "registered_on" in refused.value.errors


def test_search_filters_and_paginates(app_ctx):
    EnterpriseFactory(name="甲科技", town="城关镇", industry="软件", is_high_tech=True)
    EnterpriseFactory(name="乙制造", town="河口镇", industry="制造", is_science_tech=False)
    EnterpriseFactory(name="丙科技", town="河口镇", industry="软件", dishonest=True, credit_code=VALID_CODE)
    names = lambda **filters: [e.name for e in queries.search_enterprises(**filters)[0]]  # noqa: E731
    assert sorted(names(q="科技")) == ["丙科技", "甲科技"]
    assert names(q="91350100m0") == ["丙科技"]
    assert names(credit_code=VALID_CODE.lower()) == ["丙科技"]
    assert sorted(names(town="河口镇")) == ["丙科技", "乙制造"]
    assert names(industry="软件", dishonest=False) == ["甲科技"]
    assert names(is_science_tech=False) == ["乙制造"]
    assert names(is_high_tech=True) == ["甲科技"]
    assert names(q="%") == []
    items, total = queries.search_enterprises(per_page=2, page=2)
    assert total == 3 and len(items) == 1
    assert queries.enterprise_towns() == sorted({"城关镇", "河口镇"})


# ------------------------------------------------------------------------------------------------ API


@pytest.mark.parametrize("role", ["admin", "fund_officer", "bank_liaison"])
def test_registrars_create_an_enterprise(client, api_as, role):
    _user, headers = api_as(role)
    response = client.post("/api/v1/enterprises", json=payload(bad_credit=True), headers=headers)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert isinstance(body["id"], int)
    assert body | {"id": None, "created_at": None} == {
        "id": None,
        "created_at": None,
        "name": "县智造科技有限公司",
        "credit_code": VALID_CODE,
        "registered_on": "2019-05-20",
        "town": "城关镇",
        "industry": "智能制造",
        "is_science_tech": True,
        "is_high_tech": False,
        "bad_credit": True,
        "dishonest": False,
        "grade": None,
        "rated_on": None,
        "credit_line": None,
        "rating_valid_until": None,
        "outstanding_principal": "0.00",
        "disbursed_outstanding": "0.00",
        "available_line": "0.00",
    }


@pytest.mark.parametrize("role", ["fund_manager", "auditor"])
def test_other_roles_cannot_create_enterprises(client, api_as, role, row_counts):
    _user, headers = api_as(role)
    before = row_counts()
    assert_error(client.post("/api/v1/enterprises", json=payload(), headers=headers), 403)
    assert row_counts() == before


def test_a_bad_credit_code_is_422_and_writes_nothing(client, api_as, row_counts):
    _user, headers = api_as("bank_liaison")
    before = row_counts()
    for code in (BAD_CHECK, "91350100M000100Y4", "91350100M000100I43", ""):
        body = assert_error(client.post("/api/v1/enterprises", json=payload(credit_code=code), headers=headers), 422)
        assert list(body["errors"]) == ["credit_code"] and body["errors"]["credit_code"][0]
    assert row_counts() == before


def test_a_duplicate_credit_code_is_409_and_writes_nothing(client, api_as, app, row_counts):
    make(app, EnterpriseFactory, credit_code=VALID_CODE, name="原有企业")
    _user, headers = api_as("fund_officer")
    before = row_counts()
    body = assert_error(
        client.post("/api/v1/enterprises", json=payload(credit_code=VALID_CODE.lower()), headers=headers), 409
    )
    assert "credit_code" in body["errors"] and "原有企业" in body["message"]
    assert row_counts() == before


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"name": None}, "name"),
        ({"registered_on": "20/05/2019"}, "registered_on"),
        ({"registered_on": "2025-06-16"}, "registered_on"),
        ({"town": "  "}, "town"),
        ({"is_science_tech": "maybe"}, "is_science_tech"),
        ({"credit_code": 913501}, "credit_code"),
        ({"grade": "A"}, "grade"),
    ],
)
def test_invalid_fields_are_422_and_write_nothing(client, api_as, row_counts, changes, field):
    _user, headers = api_as("admin")
    before = row_counts()
    body = assert_error(client.post("/api/v1/enterprises", json=payload(**changes), headers=headers), 422)
    assert field in body["errors"]
    missing = payload()
    missing.pop("industry")
    assert "industry" in assert_error(client.post("/api/v1/enterprises", json=missing, headers=headers), 422)["errors"]
    assert row_counts() == before


def test_detail_shows_grade_line_outstanding_and_available(client, api_as, app):
    with app.app_context():
        rating = RatingFactory(rated_on=date(2025, 1, 2))
        LoanFactory(
            enterprise=rating.enterprise,
            status="active",
            principal=Decimal("1500000.00"),
            disbursed_total=Decimal("1000000.00"),
            repaid_principal=Decimal("250000.00"),
        )
        enterprise = persist(rating.enterprise)
    for role in ROLES:
        _user, headers = api_as(role)
        body = client.get(f"/api/v1/enterprises/{enterprise.id}", headers=headers).get_json()
        assert (body["grade"], body["credit_line"], body["rated_on"], body["rating_valid_until"]) == (
            "B", "4000000.00", "2025-01-02", "2026-01-01"
        )
        assert (body["outstanding_principal"], body["disbursed_outstanding"], body["available_line"]) == (
            "1250000.00", "750000.00", "2750000.00"
        )
    assert_error(client.get("/api/v1/enterprises/999999", headers=headers), 404)


def test_list_filters_and_paginates(client, api_as, app):
    with app.app_context():
        RatingFactory(enterprise=EnterpriseFactory(name="甲科技", town="城关镇"), grade="A", credit_line=Decimal("5000000.00"))
        EnterpriseFactory(name="乙科技", town="河口镇", is_high_tech=True)
        EnterpriseFactory(name="丙制造", town="河口镇", is_science_tech=False)
        db.session.commit()
    _user, headers = api_as("bank_liaison")
    listed = client.get("/api/v1/enterprises?q=科技", headers=headers).get_json()
    assert listed["total"] == 2
    by_name = {item["name"]: item for item in listed["items"]}
    assert by_name["甲科技"]["grade"] == "A" and by_name["甲科技"]["available_line"] == "5000000.00"
    assert by_name["乙科技"]["grade"] is None
    assert [e["name"] for e in client.get("/api/v1/enterprises?town=河口镇&is_science_tech=false", headers=headers).get_json()["items"]] == ["丙制造"]
    assert client.get("/api/v1/enterprises?is_high_tech=true", headers=headers).get_json()["total"] == 1
    page = client.get("/api/v1/enterprises?per_page=2&page=2", headers=headers).get_json()
    assert page["total"] == 3 and len(page["items"]) == 1
    assert_error(client.get("/api/v1/enterprises?per_page=201", headers=headers), 422)


@pytest.mark.parametrize("role", ["admin", "fund_officer"])
def test_editors_update_an_enterprise(client, api_as, app, role, row_counts):
    enterprise = make(app, EnterpriseFactory, credit_code=VALID_CODE)
    _user, headers = api_as(role)
    response = client.patch(
        f"/api/v1/enterprises/{enterprise.id}", json={"name": "改名后", "bad_credit": True}, headers=headers
    )
    assert response.status_code == 200, response.get_json()
    assert (response.get_json()["name"], response.get_json()["bad_credit"]) == ("改名后", True)
    before = row_counts()
    body = assert_error(
        client.patch(f"/api/v1/enterprises/{enterprise.id}", json={"credit_code": credit_code_for(99)}, headers=headers), 422
    )
    assert "credit_code" in body["errors"]
    assert_error(client.patch(f"/api/v1/enterprises/{enterprise.id}", json={"town": ""}, headers=headers), 422)
    assert_error(client.patch("/api/v1/enterprises/999999", json={"town": "河口镇"}, headers=headers), 404)
    assert row_counts() == before


@pytest.mark.parametrize("role", ["bank_liaison", "fund_manager", "auditor"])
def test_other_roles_cannot_edit_or_rate(client, api_as, app, role, row_counts):
    enterprise = make(app, EnterpriseFactory)
    _user, headers = api_as(role)
    before = row_counts()
    assert_error(client.patch(f"/api/v1/enterprises/{enterprise.id}", json={"name": "x"}, headers=headers), 403)
    assert_error(
        client.post(
            f"/api/v1/enterprises/{enterprise.id}/ratings", json={"grade": "A", "rated_on": "2025-06-01"}, headers=headers
        ),
        403,
    )
    assert row_counts() == before


@pytest.mark.parametrize("role", ["admin", "fund_officer"])
def test_rating_sets_the_credit_line_from_the_policy(client, api_as, app, role):
    enterprise = make(app, EnterpriseFactory)
    user, headers = api_as(role)
    response = client.post(
        f"/api/v1/enterprises/{enterprise.id}/ratings", json={"grade": "C", "rated_on": "2025-05-20"}, headers=headers
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["grade"], body["rated_on"], body["valid_until"], body["credit_line"]) == (
        "C", "2025-05-20", "2026-05-19", "3000000.00"
    )
    assert body["enterprise_id"] == enterprise.id and body["created_by"] == user.username
    detail = client.get(f"/api/v1/enterprises/{enterprise.id}", headers=headers).get_json()
    assert (detail["grade"], detail["credit_line"], detail["available_line"]) == ("C", "3000000.00", "3000000.00")
    history = client.get(f"/api/v1/enterprises/{enterprise.id}/ratings", headers=headers).get_json()
    assert history["total"] == 1 and history["items"][0]["id"] == body["id"]


def test_rating_without_a_date_is_dated_today(client, api_as, app):
    enterprise = make(app, EnterpriseFactory)
    _user, headers = api_as("fund_officer")
    response = client.post(f"/api/v1/enterprises/{enterprise.id}/ratings", json={"grade": "E"}, headers=headers)
    assert response.status_code == 201
    assert (response.get_json()["rated_on"], response.get_json()["credit_line"]) == ("2025-06-15", "800000.00")


def test_ratings_follow_the_policy_version_of_their_date_through_the_api(client, api_as, app):
    enterprise = make(app, EnterpriseFactory)
    _admin, headers = api_as("admin")
    first = client.post(
        f"/api/v1/enterprises/{enterprise.id}/ratings", json={"grade": "A", "rated_on": "2025-02-01"}, headers=headers
    ).get_json()
    created = client.post(
        "/api/v1/policies", json={"effective_from": "2025-03-01", "credit_line_a": "6000000.00"}, headers=headers
    )
    assert created.status_code == 201
    history = client.get(f"/api/v1/enterprises/{enterprise.id}/ratings", headers=headers).get_json()
    assert history["items"][0]["credit_line"] == first["credit_line"] == "5000000.00"
    second = client.post(
        f"/api/v1/enterprises/{enterprise.id}/ratings", json={"grade": "A", "rated_on": "2025-03-01"}, headers=headers
    ).get_json()
    assert second["credit_line"] == "6000000.00" and second["policy_id"] == created.get_json()["id"]
    detail = client.get(f"/api/v1/enterprises/{enterprise.id}", headers=headers).get_json()
    assert detail["credit_line"] == "6000000.00"


@pytest.mark.parametrize(
    "body, code, field",
    [
        ({"grade": "A", "rated_on": "2025-06-16"}, 422, "rated_on"),
        ({"grade": "G", "rated_on": "2025-06-01"}, 422, "grade"),
        ({"rated_on": "2025-06-01"}, 422, "grade"),
        ({"grade": "A", "rated_on": "2025-06-01", "credit_line": "9000000.00"}, 422, "credit_line"),
        ({"grade": "A", "rated_on": "2025-01-02"}, 409, "rated_on"),
    ],
)
def test_refused_ratings_write_nothing(client, api_as, app, row_counts, body, code, field):
    rating = make(app, RatingFactory, rated_on=date(2025, 1, 2))
    _user, headers = api_as("fund_officer")
    before = row_counts()
    refused = assert_error(
        client.post(f"/api/v1/enterprises/{rating.enterprise_id}/ratings", json=body, headers=headers), code
    )
    assert field in refused["errors"]
    assert_error(client.post("/api/v1/enterprises/999999/ratings", json={"grade": "A"}, headers=headers), 404)
    assert row_counts() == before


def test_enterprises_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/enterprises"])
    assert {"get", "patch"} <= set(paths["/api/v1/enterprises/{enterprise_id}"])
    assert {"get", "post"} <= set(paths["/api/v1/enterprises/{enterprise_id}/ratings"])


# ---------------------------------------------------------------------------------------- web pages


@pytest.mark.parametrize("role", ROLES)
def test_list_page_renders_in_chinese_for_everyone(client, login_as, app, role):
    with app.app_context():
        RatingFactory(enterprise=EnterpriseFactory(name="列表科技有限公司", is_high_tech=True))
        db.session.commit()
    login_as(role)
    response = client.get("/enterprises")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<html lang="zh-CN">' in html and "列表科技有限公司" in html and "高新技术企业" in html
    assert "¥4,000,000.00" in html and ">企业</a>" in html
    assert ("登记企业" in html) is (role in ("admin", "fund_officer", "bank_liaison"))
    assert_csp_clean(html)
    filtered = client.get("/enterprises?q=没有这家&science_tech=1").get_data(as_text=True)
    assert "没有符合条件的企业" in filtered


def test_detail_page_shows_flags_ratings_and_lines(client, login_as, app):
    with app.app_context():
        enterprise = EnterpriseFactory(name="详情科技有限公司", is_high_tech=True, dishonest=True)
        RatingFactory(enterprise=enterprise, rated_on=date(2024, 1, 2), grade="D", credit_line=Decimal("1600000.00"))
        RatingFactory(enterprise=enterprise, rated_on=date(2025, 1, 2))
        LoanFactory(enterprise=enterprise, principal=Decimal("1000000.00"))
        enterprise = persist(enterprise)
    login_as("fund_officer")
    response = client.get(f"/enterprises/{enterprise.id}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "详情科技有限公司" in html and enterprise.credit_code in html
    assert "科技型企业" in html and "高新技术企业" in html and "失信名单" in html
    assert "评级记录" in html and "当前有效" in html and "已过期" in html
    assert "¥4,000,000.00" in html and "¥1,000,000.00" in html and "¥3,000,000.00" in html
    assert "记录评级" in html and "2026-01-01" in html
    assert_csp_clean(html)
    for url in (f"/enterprises/{enterprise.id}/edit", f"/enterprises/{enterprise.id}/ratings/new", "/enterprises/new"):
        assert_csp_clean(client.get(url).get_data(as_text=True))
    assert client.get("/enterprises/999999").status_code == 404


def test_liaison_registers_an_enterprise_through_the_form(client, login_as, app):
    login_as("bank_liaison")
    data = {
        "name": "表单科技有限公司",
        "credit_code": VALID_CODE.lower(),
        "registered_on": "2018-08-08",
        "town": "城关镇",
        "industry": "软件",
        "is_science_tech": "y",
    }
    response = post_form(client, "/enterprises/new", data)
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        enterprise = queries.find_enterprise_by_credit_code(VALID_CODE)
        assert (enterprise.name, enterprise.is_science_tech, enterprise.is_high_tech) == ("表单科技有限公司", True, False)
    assert response.headers["Location"] == f"/enterprises/{enterprise.id}"
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "已登记企业：表单科技有限公司" in html
    assert "记录评级" not in html  # liaisons do not rate


def test_form_refusals_are_chinese_and_write_nothing(client, login_as, app, row_counts):
    make(app, EnterpriseFactory, credit_code=credit_code_for(7))
    login_as("fund_officer")
    data = {"name": "某公司", "registered_on": "2018-08-08", "town": "城关镇", "industry": "软件"}
    before = row_counts()
    response = post_form(client, "/enterprises/new", {**data, "credit_code": BAD_CHECK})
    assert response.status_code == 422 and "校验位不正确" in response.get_data(as_text=True)
    response = post_form(client, "/enterprises/new", {**data, "credit_code": credit_code_for(7)})
    assert response.status_code == 409 and "该统一社会信用代码已登记" in response.get_data(as_text=True)
    response = post_form(client, "/enterprises/new", {**data, "credit_code": VALID_CODE, "name": ""})
    assert response.status_code == 422 and "请填写企业名称" in response.get_data(as_text=True)
    response = client.post("/enterprises/new", data={**data, "credit_code": VALID_CODE})  # no CSRF token
    assert response.status_code == 400
    assert row_counts() == before


@pytest.mark.parametrize("role", ["fund_manager", "auditor"])
def test_web_registration_is_for_registrars(client, login_as, role):
    login_as(role)
    assert client.get("/enterprises/new").status_code == 403


def test_edit_and_rate_pages_are_for_editors(client, login_as, app):
    enterprise = make(app, EnterpriseFactory)
    login_as("bank_liaison")
    assert client.get(f"/enterprises/{enterprise.id}/edit").status_code == 403
    assert client.get(f"/enterprises/{enterprise.id}/ratings/new").status_code == 403


def test_officer_edits_an_enterprise_through_the_form(client, login_as, app):
    enterprise = make(app, EnterpriseFactory, credit_code=VALID_CODE)
    login_as("fund_officer")
    url = f"/enterprises/{enterprise.id}/edit"
    page = client.get(url).get_data(as_text=True)
    assert enterprise.name in page and VALID_CODE in page and "统一社会信用代码登记后不可修改" in page
    data = {"name": "编辑后科技", "registered_on": "2020-03-01", "town": "河口镇", "industry": "软件", "bad_credit": "y"}
    response = post_form(client, url, data)
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        saved = db.session.get(Enterprise, enterprise.id)
        assert (saved.name, saved.town, saved.bad_credit, saved.is_science_tech, saved.credit_code) == (
            "编辑后科技", "河口镇", True, False, VALID_CODE
        )


def test_officer_rates_through_the_form(client, login_as, app, row_counts):
    enterprise = make(app, EnterpriseFactory)
    login_as("fund_officer")
    url = f"/enterprises/{enterprise.id}/ratings/new"
    assert 'value="2025-06-15"' in client.get(url).get_data(as_text=True)
    before = row_counts()
    response = post_form(client, url, {"grade": "B", "rated_on": "2025-06-16"})
    assert response.status_code == 422 and "评级日期不能晚于今天" in response.get_data(as_text=True)
    response = post_form(client, url, {"grade": "", "rated_on": "2025-06-01"})
    assert response.status_code == 422 and "评级须为 A、B、C、D、E 之一" in response.get_data(as_text=True)
    assert row_counts() == before
    response = post_form(client, url, {"grade": "D", "rated_on": "2025-06-01"})
    assert response.status_code == 302
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "已记录评级 D，授信额度 ¥1,600,000.00，有效期至 2026-05-31" in html
    with app.app_context():
        assert queries.rating_valid_on(enterprise.id, TODAY).credit_line == Decimal("1600000.00")


# ------------------------------------------------------------------------------------- concurrency


def test_a_concurrent_duplicate_credit_code_is_409_not_500(client, api_as, app, row_counts, monkeypatch):
    """Another request registered the code between our check and our insert: the UNIQUE constraint answers."""
    make(app, EnterpriseFactory, credit_code=VALID_CODE)
    monkeypatch.setattr(services, "_ensure_credit_code_free", lambda code: None)
    _user, headers = api_as("admin")
    before = row_counts()
    body = assert_error(client.post("/api/v1/enterprises", json=payload(), headers=headers), 409)
    assert "credit_code" in body["errors"]
    assert row_counts() == before


def test_a_concurrent_rating_on_the_same_day_is_409_not_500(client, api_as, app, row_counts, monkeypatch):
    rating = make(app, RatingFactory, rated_on=date(2025, 1, 2))
    monkeypatch.setattr(services, "_rated_that_day", lambda enterprise_id, day: False)
    _user, headers = api_as("fund_officer")
    before = row_counts()
    body = assert_error(
        client.post(
            f"/api/v1/enterprises/{rating.enterprise_id}/ratings", json={"grade": "A", "rated_on": "2025-01-02"}, headers=headers
        ),
        409,
    )
    assert "rated_on" in body["errors"]
    assert row_counts() == before


def test_the_web_form_shows_a_concurrent_duplicate(client, login_as, app, row_counts, monkeypatch):
    make(app, EnterpriseFactory, credit_code=VALID_CODE)
    monkeypatch.setattr(services, "_ensure_credit_code_free", lambda code: None)
    login_as("fund_officer")
    data = {"name": "某公司", "credit_code": VALID_CODE, "registered_on": "2018-08-08", "town": "城关镇", "industry": "软件"}
    before = row_counts()
    response = post_form(client, "/enterprises/new", data)
    assert response.status_code == 409 and "该统一社会信用代码已登记" in response.get_data(as_text=True)
    assert row_counts() == before


def test_pages_switch_to_english(client, login_as, english_catalog):
    login_as("fund_officer")
    client.get("/lang/en?next=/enterprises")
    html = client.get("/enterprises").get_data(as_text=True)
    assert "Register an enterprise" in html and "Available line" in html and "登记企业" not in html
    html = client.get("/policies").get_data(as_text=True)
    assert "Credit line, grade A" in html and "Version in force" in html
