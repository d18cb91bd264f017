"""The loan API (api.md): contracts, tranches, repayments, state as of a day, scope and roles.

Every refusal is checked twice: the status and body, and ``row_counts`` before and after (nothing
written). Arrange with factories and commit, then act through HTTP.
"""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from core import clock
from core.db import db
from loans import services
from loans.models import Loan
from tests.factories import BankFactory, EnterpriseFactory
from tests.loans.test_loans import MATURITY, START, freeze_on, rated_enterprise, today  # noqa: F401 - fixture

D = Decimal
ERROR_KEYS = {"code", "status", "message", "errors"}


def assert_error(response, code: int) -> dict:
    assert response.status_code == code, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == ERROR_KEYS and body["code"] == code and body["message"]
    return body


def loan_body(enterprise_id: int, **overrides) -> dict:
    body = {
        "enterprise_id": enterprise_id,
        "contract_no": "HT-API-1",
        "principal": "1000000.00",
        "annual_rate": "0.0345",
        "start_date": START.isoformat(),
        "maturity_date": MATURITY.isoformat(),
        "purpose": "研发投入",
    }
    body.update(overrides)
    return body


@pytest.fixture
def liaison(api_as, today):  # noqa: F811 - the clock is frozen before the token is issued
    """A bank liaison (with its bank) and bearer headers."""
    return api_as("bank_liaison")


@pytest.fixture
def enterprise_id(app, today):  # noqa: F811
    with app.app_context():
        enterprise = rated_enterprise(line="4000000.00")
        db.session.commit()
        return enterprise.id


def arrange_loan(app, bank_id: int, enterprise_id: int, *, contract_no: str = "HT-1", principal: str = "1000000.00",
                 tranches=(), repayments=(), **overrides) -> int:
    """A loan made through the services (so totals and records agree), committed; returns its id."""
    with app.app_context():
        loan = services.create_loan(
            bank_id=bank_id, enterprise_id=enterprise_id, contract_no=contract_no, principal=D(principal),
            annual_rate=D("0.0345"), start_date=overrides.pop("start_date", START),
            maturity_date=overrides.pop("maturity_date", MATURITY), created_by="arrange",
        )
        for n, (amount, day) in enumerate(tranches):
            services.record_disbursement(loan, amount=D(amount), disbursed_on=day, bank_ref=f"{contract_no}-D{n}",
                                         created_by="arrange")
        for n, (amount, day) in enumerate(repayments):
            services.record_repayment(loan, principal=D(amount), interest=D("0.00"), paid_on=day,
                                      bank_ref=f"{contract_no}-R{n}", created_by="arrange")
        db.session.commit()
        return loan.id


# --------------------------------------------------------------------------------------------- create


def test_liaison_records_a_loan_for_its_own_bank(client, liaison, enterprise_id, app):
    user, headers = liaison
    response = client.post("/api/v1/loans", json=loan_body(enterprise_id), headers=headers)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "contracted" and body["lifecycle_status"] == "contracted"
    # Nothing is paid into the risk pool here, so the pool does not cover the loan (risk.services.coverage).
    assert body["covered"] is False and body["coverage_reason"] == "pool_underfunded"
    assert body["bank_id"] == user.bank_id
    assert (body["principal"], body["annual_rate"], body["disbursed_total"], body["outstanding_principal"]) == (
        "1000000.00", "0.0345", "0.00", "0.00",
    )
    assert (body["days_past_due"], body["classification"]) == (0, "normal")
    assert isinstance(body["id"], int) and body["created_by"] == user.username
    with app.app_context():
        loan = db.session.get(Loan, body["id"])
        assert loan.annual_rate == D("0.0345") and loan.bank_id == user.bank_id


def test_the_bank_comes_from_the_user_never_the_body(client, liaison, enterprise_id, row_counts):
    _user, headers = liaison
    before = row_counts()
    body = assert_error(client.post("/api/v1/loans", json=loan_body(enterprise_id, bank_id=999), headers=headers), 422)
    assert "bank_id" in body["errors"]
    assert row_counts() == before


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("not_science_tech", "科技型企业"),
        ("no_rating", "没有有效的信用评级"),
        ("rating_expired", "已过期"),
        ("over_the_line", "超出授信额度"),
        ("term_too_long", "12 个月"),
        ("duplicate_contract", "合同编号"),
    ],
)
def test_refusals_are_409_and_write_nothing(client, liaison, app, row_counts, case, message):
    user, headers = liaison
    body = None
    with app.app_context():
        if case == "not_science_tech":
            enterprise = rated_enterprise(is_science_tech=False)
        elif case == "no_rating":
            enterprise = EnterpriseFactory()
        elif case == "rating_expired":
            enterprise = rated_enterprise(rated_on=date(2024, 2, 1))  # valid until 2025-01-31
        else:
            enterprise = rated_enterprise(line="1500000.00", grade="C")
        db.session.commit()
        enterprise_id = enterprise.id
    body = loan_body(enterprise_id)
    if case == "over_the_line":
        # another bank's loan to the same enterprise uses 600,000.00 of its 1,500,000.00 line
        with app.app_context():
            other_bank = BankFactory()
            db.session.commit()
            other_bank_id = other_bank.id
        arrange_loan(app, other_bank_id, enterprise_id, contract_no="OTHER", principal="600000.00")
        body["principal"] = "900000.01"
    elif case == "term_too_long":
        body["maturity_date"] = "2026-03-02"
    elif case == "duplicate_contract":
        arrange_loan(app, user.bank_id, enterprise_id, contract_no="HT-API-1", principal="100000.00")
    before = row_counts()
    error = assert_error(client.post("/api/v1/loans", json=body, headers=headers), 409)
    assert message in error["message"]
    assert row_counts() == before
    if case == "over_the_line":  # up to the line exactly is accepted
        body["principal"] = "900000.00"
        assert client.post("/api/v1/loans", json=body, headers=headers).status_code == 201


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("annual_rate", 0.0345),
        ("annual_rate", "1"),
        ("annual_rate", "1.0"),
        ("annual_rate", "0.1234567"),
        ("annual_rate", "3.45%"),
        ("annual_rate", "-0.01"),
        ("annual_rate", ".0345"),
        ("annual_rate", "0.0345 "),
        ("principal", "1e6"),
        ("principal", 1000000),
        ("principal", "0.00"),
        ("principal", "100.001"),
        ("start_date", "2025/03/01"),
        ("maturity_date", START.isoformat()),
        ("enterprise_id", "1"),
        ("contract_no", ""),
        ("contract_no", "X" * 65),
    ],
)
def test_malformed_fields_are_422_and_write_nothing(client, liaison, enterprise_id, row_counts, field, value):
    _user, headers = liaison
    before = row_counts()
    body = assert_error(client.post("/api/v1/loans", json={**loan_body(enterprise_id), field: value}, headers=headers), 422)
    assert field in body["errors"]
    assert row_counts() == before


def test_missing_fields_are_named(client, liaison, row_counts):
    _user, headers = liaison
    before = row_counts()
    body = assert_error(client.post("/api/v1/loans", json={}, headers=headers), 422)
    assert {"enterprise_id", "contract_no", "principal", "annual_rate", "start_date", "maturity_date"} <= set(body["errors"])
    assert row_counts() == before


def test_rate_with_six_decimals_is_kept_exactly(client, liaison, enterprise_id):
    _user, headers = liaison
    response = client.post("/api/v1/loans", json=loan_body(enterprise_id, annual_rate="0.034567"), headers=headers)
    assert response.status_code == 201 and response.get_json()["annual_rate"] == "0.034567"


# ------------------------------------------------------------------------------------- tranches, repayments


def test_tranches_up_to_the_principal_then_409(client, liaison, enterprise_id, app, row_counts):
    user, headers = liaison
    loan_id = arrange_loan(app, user.bank_id, enterprise_id)
    url = f"/api/v1/loans/{loan_id}/disbursements"
    first = client.post(url, json={"amount": "600000.00", "disbursed_on": "2025-03-01", "bank_ref": "D1"}, headers=headers)
    assert first.status_code == 201, first.get_json()
    assert first.get_json()["amount"] == "600000.00" and first.get_json()["loan_id"] == loan_id
    second = client.post(url, json={"amount": "400000.00", "disbursed_on": "2025-04-01", "bank_ref": "D2"}, headers=headers)
    assert second.status_code == 201
    before = row_counts()
    body = assert_error(client.post(url, json={"amount": "0.01", "disbursed_on": "2025-04-02", "bank_ref": "D3"}, headers=headers), 409)
    assert "超出合同本金" in body["message"] and "amount" in body["errors"]
    assert row_counts() == before
    loan = client.get(f"/api/v1/loans/{loan_id}", headers=headers).get_json()
    assert (loan["status"], loan["disbursed_total"], loan["outstanding_principal"]) == ("active", "1000000.00", "1000000.00")
    listed = client.get(url, headers=headers).get_json()
    assert listed["total"] == 2 and [i["bank_ref"] for i in listed["items"]] == ["D1", "D2"]


def test_idempotent_replay_is_200_with_the_first_record_and_writes_nothing(client, liaison, enterprise_id, app, row_counts):
    user, headers = liaison
    loan_id = arrange_loan(app, user.bank_id, enterprise_id)
    url = f"/api/v1/loans/{loan_id}/disbursements"
    event = {"amount": "600000.00", "disbursed_on": "2025-03-01", "bank_ref": "D1"}
    first = client.post(url, json=event, headers=headers)
    assert first.status_code == 201
    before = row_counts()
    replay = client.post(url, json=event, headers=headers)
    assert replay.status_code == 200 and replay.get_json() == first.get_json()
    assert row_counts() == before
    for changed in ({"amount": "600000.01"}, {"disbursed_on": "2025-03-02"}):
        body = assert_error(client.post(url, json={**event, **changed}, headers=headers), 409)
        assert "bank_ref" in body["errors"]
        assert row_counts() == before


def test_repayment_idempotency_and_lifecycle_to_repaid(client, liaison, enterprise_id, app, row_counts):
    user, headers = liaison
    loan_id = arrange_loan(app, user.bank_id, enterprise_id)
    repay_url = f"/api/v1/loans/{loan_id}/repayments"
    before = row_counts()
    body = assert_error(
        client.post(repay_url, json={"principal": "1.00", "interest": "0.00", "paid_on": "2025-03-02", "bank_ref": "R0"}, headers=headers),
        409,
    )
    assert "尚未放款" in body["message"] and row_counts() == before
    client.post(f"/api/v1/loans/{loan_id}/disbursements",
                json={"amount": "1000000.00", "disbursed_on": "2025-03-01", "bank_ref": "D1"}, headers=headers)
    event = {"principal": "400000.00", "interest": "3000.00", "paid_on": "2025-04-01", "bank_ref": "R1"}
    first = client.post(repay_url, json=event, headers=headers)
    assert first.status_code == 201 and first.get_json()["interest"] == "3000.00"
    before = row_counts()
    assert client.post(repay_url, json=event, headers=headers).status_code == 200
    assert row_counts() == before
    assert_error(client.post(repay_url, json={**event, "interest": "3000.01"}, headers=headers), 409)
    body = assert_error(
        client.post(repay_url, json={"principal": "600000.01", "paid_on": "2025-05-01", "bank_ref": "R2"}, headers=headers), 409
    )
    assert "principal" in body["errors"] and row_counts() == before
    done = client.post(repay_url, json={"principal": "600000.00", "paid_on": "2025-05-01", "bank_ref": "R2"}, headers=headers)
    assert done.status_code == 201 and done.get_json()["interest"] == "0.00"
    loan = client.get(f"/api/v1/loans/{loan_id}", headers=headers).get_json()
    assert (loan["status"], loan["lifecycle_status"], loan["outstanding_principal"]) == ("repaid", "repaid", "0.00")
    before = row_counts()
    for url, event in [
        (f"/api/v1/loans/{loan_id}/disbursements", {"amount": "1.00", "disbursed_on": "2025-05-02", "bank_ref": "D9"}),
        (repay_url, {"principal": "0.00", "interest": "1.00", "paid_on": "2025-05-02", "bank_ref": "R9"}),
    ]:
        assert "已结清" in assert_error(client.post(url, json=event, headers=headers), 409)["message"]
    assert row_counts() == before
    assert client.get(repay_url, headers=headers).get_json()["total"] == 2


@pytest.mark.parametrize(
    "event",
    [
        {"principal": "0.00", "interest": "0.00", "paid_on": "2025-04-01", "bank_ref": "R"},
        {"principal": "-1.00", "paid_on": "2025-04-01", "bank_ref": "R"},
        {"principal": "1.00", "paid_on": "2025-07-01", "bank_ref": "R"},  # in the future
        {"principal": "1.00", "paid_on": "2025-04-01"},
        {"principal": "1.00", "paid_on": "2025-04-01", "bank_ref": ""},
    ],
)
def test_malformed_repayments_are_422(client, liaison, enterprise_id, app, row_counts, event):
    user, headers = liaison
    loan_id = arrange_loan(app, user.bank_id, enterprise_id, tranches=[("1000.00", date(2025, 3, 1))])
    before = row_counts()
    assert_error(client.post(f"/api/v1/loans/{loan_id}/repayments", json=event, headers=headers), 422)
    assert row_counts() == before


# ------------------------------------------------------------------------------------------- as of a day


@pytest.fixture
def overdue_loan_id(app, api_as):
    """As the liaison of its bank: 1,000,000.00 drawn 2025-03-01, 400,000.00 repaid 2025-12-01, due 2026-02-28."""
    freeze_on(date(2027, 6, 30))
    user, headers = api_as("bank_liaison")
    with app.app_context():
        enterprise = rated_enterprise()
        db.session.commit()
        enterprise_id = enterprise.id
    loan_id = arrange_loan(app, user.bank_id, enterprise_id, tranches=[("1000000.00", date(2025, 3, 1))],
                           repayments=[("400000.00", date(2025, 12, 1))])
    yield loan_id, headers
    clock.freeze(None)


@pytest.mark.parametrize(
    ("days", "classification"),
    [(0, "normal"), (1, "special_mention"), (90, "special_mention"), (91, "substandard"), (270, "substandard"),
     (271, "doubtful"), (360, "doubtful"), (361, "loss")],
)
def test_dpd_and_classification_as_of_a_day(client, overdue_loan_id, days, classification):
    loan_id, headers = overdue_loan_id
    as_of = (MATURITY + timedelta(days=days)).isoformat()
    body = client.get(f"/api/v1/loans/{loan_id}", query_string={"as_of": as_of}, headers=headers).get_json()
    assert (body["as_of"], body["days_past_due"], body["classification"]) == (as_of, days, classification)
    assert body["outstanding_principal"] == "600000.00"
    assert body["status"] == ("overdue" if days else "active")
    assert body["overdue_principal"] == ("600000.00" if days else "0.00")
    listed = client.get("/api/v1/loans", query_string={"as_of": as_of, "classification": classification}, headers=headers)
    assert [item["id"] for item in listed.get_json()["items"]] == [loan_id]
    other = "loss" if classification != "loss" else "normal"
    assert client.get("/api/v1/loans", query_string={"as_of": as_of, "classification": other}, headers=headers).get_json()["total"] == 0


def test_as_of_before_a_repayment_and_today(client, overdue_loan_id):
    loan_id, headers = overdue_loan_id
    before = client.get(f"/api/v1/loans/{loan_id}?as_of=2025-11-30", headers=headers).get_json()
    assert (before["outstanding_principal"], before["repaid_principal"]) == ("1000000.00", "0.00")
    now = client.get(f"/api/v1/loans/{loan_id}", headers=headers).get_json()  # today: 2027-06-30
    assert now["as_of"] == "2027-06-30" and now["days_past_due"] == (date(2027, 6, 30) - MATURITY).days
    assert now["classification"] == "loss"
    assert client.get("/api/v1/loans?status=overdue", headers=headers).get_json()["total"] == 1
    assert_error(client.get(f"/api/v1/loans/{loan_id}?as_of=2027-13-01", headers=headers), 422)
    assert_error(client.get("/api/v1/loans?classification=bad", headers=headers), 422)


# ------------------------------------------------------------------------------------------ scope, roles


def test_another_banks_liaison_gets_404_and_never_sees_the_loan(client, liaison, enterprise_id, app, api_as, row_counts):
    user, headers = liaison
    loan_id = arrange_loan(app, user.bank_id, enterprise_id, tranches=[("1000.00", date(2025, 3, 1))])
    _other, other_headers = api_as("bank_liaison")
    before = row_counts(ignore=("api_tokens", "audit_events"))
    for path in ("", "/disbursements", "/repayments"):
        assert_error(client.get(f"/api/v1/loans/{loan_id}{path}", headers=other_headers), 404)
    assert_error(client.post(f"/api/v1/loans/{loan_id}/disbursements",
                             json={"amount": "1.00", "disbursed_on": "2025-03-02", "bank_ref": "X"}, headers=other_headers), 404)
    assert_error(client.post(f"/api/v1/loans/{loan_id}/repayments",
                             json={"principal": "1.00", "paid_on": "2025-03-02", "bank_ref": "X"}, headers=other_headers), 404)
    listed = client.get("/api/v1/loans", headers=other_headers).get_json()
    assert listed == {"items": [], "total": 0}
    assert client.get(f"/api/v1/loans?bank_id={user.bank_id}", headers=other_headers).get_json()["total"] == 0
    assert client.get("/api/v1/loans", headers=headers).get_json()["total"] == 1
    assert row_counts(ignore=("api_tokens", "audit_events")) == before
    assert_error(client.get("/api/v1/loans/999999", headers=headers), 404)


@pytest.mark.parametrize("role", ["admin", "fund_officer", "fund_manager", "auditor"])
def test_other_roles_read_everything_and_write_nothing(client, liaison, enterprise_id, app, api_as, row_counts, role):
    user, _headers = liaison
    loan_id = arrange_loan(app, user.bank_id, enterprise_id, tranches=[("1000.00", date(2025, 3, 1))])
    _reader, headers = api_as(role)
    assert client.get(f"/api/v1/loans/{loan_id}", headers=headers).status_code == 200
    assert client.get("/api/v1/loans", headers=headers).get_json()["total"] == 1
    assert client.get(f"/api/v1/loans?bank_id={user.bank_id}", headers=headers).get_json()["total"] == 1
    before = row_counts()
    assert_error(client.post("/api/v1/loans", json=loan_body(enterprise_id, contract_no="X"), headers=headers), 403)
    assert_error(client.post(f"/api/v1/loans/{loan_id}/disbursements",
                             json={"amount": "1.00", "disbursed_on": "2025-03-02", "bank_ref": "X"}, headers=headers), 403)
    assert_error(client.post(f"/api/v1/loans/{loan_id}/repayments",
                             json={"principal": "1.00", "paid_on": "2025-03-02", "bank_ref": "X"}, headers=headers), 403)
    assert_error(client.post("/api/v1/loans", json={}, headers=headers), 403)  # the role is checked before the body
    assert row_counts() == before


def test_anonymous_is_401(client):
    assert_error(client.get("/api/v1/loans"), 401)
    assert_error(client.post("/api/v1/loans", json={}), 401)


# ------------------------------------------------------------------------------------------ list, N+1


class StatementCounter:
    def __init__(self, engine):
        self.engine, self.count = engine, 0

    def __enter__(self):
        sa.event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc):
        sa.event.remove(self.engine, "before_cursor_execute", self._count)

    def _count(self, *args, **kwargs):
        self.count += 1


def arrange_many(app, count: int, start: int = 0) -> None:
    """``count`` loans over three banks and as many enterprises, each with a tranche and a repayment."""
    with app.app_context():
        banks = [BankFactory() for _ in range(3)]
        for n in range(start, start + count):
            enterprise = rated_enterprise()
            loan = services.create_loan(
                bank_id=banks[n % 3].id, enterprise_id=enterprise.id, contract_no=f"N{n:03d}", principal=D("100000.00"),
                annual_rate=D("0.04"), start_date=START, maturity_date=MATURITY, created_by="arrange",
            )
            services.record_disbursement(loan, amount=D("100000.00"), disbursed_on=START, bank_ref=f"N{n}D", created_by="x")
            services.record_repayment(loan, principal=D("1000.00"), interest=D("1.00"), paid_on=date(2025, 4, 1),
                                      bank_ref=f"N{n}R", created_by="x")
        db.session.commit()


def test_the_list_uses_a_constant_number_of_queries(client, app, api_as, today):  # noqa: F811
    _user, headers = api_as("auditor")
    arrange_many(app, 3)
    with app.app_context():
        engine = db.engine
    with StatementCounter(engine) as few:
        small = client.get("/api/v1/loans?per_page=50&as_of=2026-04-01", headers=headers)
    assert small.get_json()["total"] == 3
    arrange_many(app, 27, start=3)
    with StatementCounter(engine) as many:
        large = client.get("/api/v1/loans?per_page=50&as_of=2026-04-01", headers=headers)
    body = large.get_json()
    assert body["total"] == 30 and len(body["items"]) == 30
    assert all(item["days_past_due"] == 32 and item["classification"] == "special_mention" for item in body["items"])
    assert 0 < few.count <= 8, few.count
    assert many.count == few.count, (few.count, many.count)
    with StatementCounter(engine) as filtered:
        result = client.get("/api/v1/loans?per_page=50&as_of=2026-04-01&classification=special_mention", headers=headers)
    assert result.get_json()["total"] == 30 and filtered.count == few.count


def test_pagination(client, app, api_as, today):  # noqa: F811
    _user, headers = api_as("fund_manager")
    arrange_many(app, 5)
    page = client.get("/api/v1/loans?per_page=2&page=3", headers=headers).get_json()
    assert page["total"] == 5 and len(page["items"]) == 1
    assert_error(client.get("/api/v1/loans?per_page=201", headers=headers), 422)


def test_openapi_describes_the_loan_endpoints(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    paths = spec["paths"]
    for path, methods in {
        "/api/v1/loans": {"get", "post"},
        "/api/v1/loans/{loan_id}": {"get"},
        "/api/v1/loans/{loan_id}/disbursements": {"get", "post"},
        "/api/v1/loans/{loan_id}/repayments": {"get", "post"},
    }.items():
        assert methods <= set(paths[path]), path
    assert "covered: false" in paths["/api/v1/loans"]["post"]["description"]
    assert "200" in paths["/api/v1/loans/{loan_id}/disbursements"]["post"]["responses"]
    rate = spec["components"]["schemas"]["LoanCreate"]["properties"]["annual_rate"]
    assert rate["type"] == "string"

