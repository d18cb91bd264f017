"""The permission matrix: every route of the application, called by every kind of caller.

``EXPECTED`` says, for each rule of ``app.url_map`` (each endpoint and method, web pages and /api/v1),
who may call it: nobody unless the route is public, otherwise the roles it admits, and whether a bank
liaison is confined to its own bank's record (domain.md §2). Each route is called as nobody, as each
role (the liaison of the record's bank), and as the liaison of another bank, against one world of
records owned by bank A; the answer must be the table's:

- nobody: 401 on the API, a redirect to the login page on the web;
- a role the route does not admit: 403;
- a liaison of another bank on a bank-scoped route: 404, as if the record did not exist (api.md);
- an admitted caller: a success, or 400/409/422 for the empty body of a write; never a 5xx. A liaison of
  another bank never finds bank A's loan contract number in what it is shown.

A refused write changes no row. A route without an entry, and an entry without a route, fail.
"""
from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from datetime import date

import pytest
import sqlalchemy as sa

from config import create_app, documents_jobs
from config.reconciliation import run_reconciliation
from core import clock
from core.db import db
from core.documents.models import Document
from core.jobs import runner
from core.policy.models import Policy
from funds import calendar
from loans import batch
from loans.models import Loan
from parties.models import Bank
from tests.conftest import make_user
from tests.factories import DEFAULT_PASSWORD
from tests.funds.conftest import SeedApi, eligible_enterprise, freeze_on
from tests.reconciliation.conftest import tape_csv
from tests.risk.conftest import RiskApi, fund_pool, make_loan
from tests.support import csrf_token_from, isolated_client

TODAY = date(2025, 12, 31)  # the world's claim is 91 days past due on 2025-11-30 (tests/risk/conftest.py)
PERIOD = "2025-11"  # the reconciled month, and the month of bank A's tape

AD, BL, FO, FM, AU = "admin", "bank_liaison", "fund_officer", "fund_manager", "auditor"
ROLES = (AD, BL, FO, FM, AU)
EVERYONE = frozenset(ROLES)
OTHER_BANK = "other_bank_liaison"  # a liaison of bank B calling for bank A's record
CALLERS = ("anonymous", *ROLES, OTHER_BANK)
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
# An admitted call of a write with an empty body: done, redirected, or refused by validation or a rule.
WRITE_OUTCOMES = frozenset({200, 201, 204, 302, 303, 400, 409, 422})


@dataclass(frozen=True)
class Access:
    """Who may call one route: ``roles`` (a set of role names); ``public``: nobody may too;
    ``bank_scoped``: the route names a record of one bank, which another bank's liaison may not see;
    ``ok``: the statuses of an admitted call (default: 200 for a read, ``WRITE_OUTCOMES`` for a write);
    ``body``: the JSON body of an API call (default: empty)."""

    roles: frozenset[str] = frozenset()
    public: bool = False
    bank_scoped: bool = False
    ok: frozenset[int] | None = None
    body: tuple[tuple[str, str], ...] = ()


def allow(
    *roles: str, bank_scoped: bool = False, ok: set[int] | None = None, body: dict[str, str] | None = None
) -> Access:
    """``body``: a valid JSON body, for an API write whose body is validated before the bank scope is
    judged (an empty one would be a 422 for any caller, so the scope would go untested)."""
    return Access(frozenset(roles), bank_scoped=bank_scoped, ok=frozenset(ok) if ok else None,
                  body=tuple((body or {}).items()))


def everyone(bank_scoped: bool = False, ok: set[int] | None = None) -> Access:
    return allow(*ROLES, bank_scoped=bank_scoped, ok=ok)


def public(ok: set[int] | None = None) -> Access:
    return Access(EVERYONE, public=True, ok=frozenset(ok) if ok else None)


PROGRAMME = (AD, FO, FM, AU)  # everyone but the banks: the seed fund's pages (liaisons have no part in it)
POOL_READERS = (AD, AU, FM)

# The one table. A new route needs an entry here: adding one is a security decision.
EXPECTED: dict[tuple[str, str], Access] = {
    # --- public: the login, the language switch, static files and the API's own description
    ("static", "GET"): public(),
    ("auth.login", "GET"): public(ok={200, 302}),  # someone logged in is sent home
    ("auth.login", "POST"): public(ok={422}),  # the empty form is refused, whoever sends it
    ("auth_api.token", "POST"): public(ok={422}),
    ("home.set_language", "GET"): public(ok={302}),
    ("api-docs.openapi_json", "GET"): public(),
    ("api-docs.openapi_swagger_ui", "GET"): public(),
    # --- anyone logged in: their home, their own account
    ("home.index", "GET"): everyone(),
    ("auth.logout", "POST"): everyone(ok={302}),
    ("auth.account_password", "GET"): everyone(),
    ("auth.account_password", "POST"): everyone(),
    ("auth_api.me", "GET"): everyone(),
    ("auth_api.my_password", "POST"): everyone(),
    # --- administration: users, banks, policies, the calendar (admin; domain.md §2)
    ("auth.users", "GET"): allow(AD),
    ("auth.user_new", "GET"): allow(AD),
    ("auth.user_new", "POST"): allow(AD),
    ("auth.user_edit", "GET"): allow(AD),
    ("auth.user_edit", "POST"): allow(AD),
    ("auth.user_password", "GET"): allow(AD),
    ("auth.user_password", "POST"): allow(AD),
    ("auth.user_unlock", "POST"): allow(AD),
    ("auth_api.users_list", "GET"): allow(AD, AU),  # domain.md: the auditor reads everything
    ("auth_api.users_create", "POST"): allow(AD),
    ("auth_api.users_get", "GET"): allow(AD, AU),
    ("auth_api.users_update", "PATCH"): allow(AD),
    ("auth_api.users_reset_password", "POST"): allow(AD),
    ("parties.banks", "GET"): allow(AD),
    ("parties.bank_new", "GET"): allow(AD),
    ("parties.bank_new", "POST"): allow(AD),
    ("parties.bank_edit", "GET"): allow(AD),
    ("parties.bank_edit", "POST"): allow(AD),
    ("banks.banks_create", "POST"): allow(AD),
    ("banks.banks_update", "PATCH"): allow(AD),
    ("banks.banks_list", "GET"): everyone(),  # a liaison's list holds its own bank only
    ("banks.banks_get", "GET"): everyone(bank_scoped=True),
    ("policy.index", "GET"): everyone(),
    ("policy.detail", "GET"): everyone(),
    ("policy.new", "GET"): allow(AD),
    ("policy.new", "POST"): allow(AD),
    ("policies.policies_list", "GET"): everyone(),
    ("policies.policies_current", "GET"): everyone(),
    ("policies.policies_get", "GET"): everyone(),
    ("policies.policies_create", "POST"): allow(AD),
    ("calendar_api.holidays_list", "GET"): everyone(),
    ("calendar_api.holidays_create", "POST"): allow(AD),
    ("calendar_api.holidays_delete", "DELETE"): allow(AD),
    ("calendar_api.workdays_list", "GET"): everyone(),
    ("calendar_api.workdays_create", "POST"): allow(AD),
    ("calendar_api.workdays_delete", "DELETE"): allow(AD),
    # --- enterprises: admin, fund officer and liaisons register; admin and fund officer edit and rate;
    # everyone reads (api.md)
    ("parties.enterprises", "GET"): everyone(),
    ("parties.enterprise", "GET"): everyone(),
    ("parties.enterprise_new", "GET"): allow(AD, FO, BL),
    ("parties.enterprise_new", "POST"): allow(AD, FO, BL),
    ("parties.enterprise_edit", "GET"): allow(AD, FO),
    ("parties.enterprise_edit", "POST"): allow(AD, FO),
    ("parties.enterprise_rate", "GET"): allow(AD, FO),
    ("parties.enterprise_rate", "POST"): allow(AD, FO),
    ("enterprises.enterprises_list", "GET"): everyone(),
    ("enterprises.enterprises_get", "GET"): everyone(),
    ("enterprises.enterprises_ratings", "GET"): everyone(),
    ("enterprises.enterprises_create", "POST"): allow(AD, FO, BL),
    ("enterprises.enterprises_update", "PATCH"): allow(AD, FO),
    ("enterprises.enterprises_rate", "POST"): allow(AD, FO),
    # --- knowledge-value loans: liaisons write for their own bank; everyone reads, liaisons their bank's
    ("loans.index", "GET"): everyone(),
    ("loans.detail", "GET"): everyone(bank_scoped=True),
    ("loans.new", "GET"): allow(BL),
    ("loans.new", "POST"): allow(BL),
    ("loans.disburse", "GET"): allow(BL, bank_scoped=True),
    ("loans.disburse", "POST"): allow(BL, bank_scoped=True),
    ("loans.repay", "GET"): allow(BL, bank_scoped=True),
    ("loans.repay", "POST"): allow(BL, bank_scoped=True),
    ("loans.export_ledger", "GET"): everyone(),
    ("loans_api.loans_list", "GET"): everyone(),
    ("loans_api.loans_export", "GET"): everyone(),
    ("loans_api.loans_create", "POST"): allow(BL),
    ("loans_api.loans_get", "GET"): everyone(bank_scoped=True),
    ("loans_api.disbursements_list", "GET"): everyone(bank_scoped=True),
    ("loans_api.disbursements_create", "POST"): allow(
        BL, bank_scoped=True, body={"amount": "1.00", "disbursed_on": "2025-12-01", "bank_ref": "PM-D-1"}),
    ("loans_api.repayments_list", "GET"): everyone(bank_scoped=True),
    ("loans_api.repayments_create", "POST"): allow(
        BL, bank_scoped=True,
        body={"principal": "1.00", "interest": "0.00", "paid_on": "2025-12-01", "bank_ref": "PM-R-1"}),
    ("loans_batch.batch_import", "GET"): allow(BL),
    ("loans_batch.batch_import", "POST"): allow(BL),
    ("loans_batch.batch_template", "GET"): everyone(),
    ("loans_batch.tapes", "GET"): everyone(),
    ("loans_batch.tape_upload", "POST"): allow(BL),
    ("loans_batch.tape_detail", "GET"): everyone(bank_scoped=True),
    ("loans_batch_api.batch_template", "GET"): everyone(),
    ("loans_batch_api.disbursements_batch", "POST"): allow(BL),
    ("loans_batch_api.repayments_batch", "POST"): allow(BL),
    ("loans_batch_api.tapes_list", "GET"): everyone(bank_scoped=True),
    ("loans_batch_api.tapes_upload", "POST"): allow(BL, bank_scoped=True),
    ("loans_batch_api.tapes_get", "GET"): everyone(bank_scoped=True),
    ("progress.index", "GET"): everyone(),
    ("program_progress.progress_get", "GET"): everyone(),
    ("program_progress.progress_timeline", "GET"): everyone(),
    # --- the risk-compensation pool: liaisons claim and recover for their bank, the fund manager decides,
    # the admin records contributions (api.md)
    ("risk.overview", "GET"): allow(*POOL_READERS),
    ("risk.queue", "GET"): allow(*POOL_READERS),
    ("risk.claims", "GET"): allow(*POOL_READERS, BL),
    ("risk.claim", "GET"): allow(*POOL_READERS, BL, bank_scoped=True),
    ("risk.new_claim", "GET"): allow(BL),
    ("risk.new_claim", "POST"): allow(BL),
    ("risk.approve", "POST"): allow(FM),
    ("risk.reject", "POST"): allow(FM),
    ("risk.recover", "POST"): allow(BL, FM, bank_scoped=True),
    ("risk.contribute", "POST"): allow(AD),
    ("risk.breaker", "GET"): allow(*POOL_READERS, BL, bank_scoped=True),
    ("risk.lift", "POST"): allow(FM),
    ("risk.stress_test", "GET"): allow(FM),
    ("risk.stress_test", "POST"): allow(FM),
    ("risk_api.pool_get", "GET"): everyone(),
    ("risk_api.contributions_list", "GET"): everyone(),
    ("risk_api.contributions_create", "POST"): allow(AD),
    ("risk_api.claims_list", "GET"): everyone(),
    ("risk_api.claims_get", "GET"): everyone(bank_scoped=True),
    ("risk_api.claims_create", "POST"): allow(BL, bank_scoped=True),
    ("risk_api.claims_approve", "POST"): allow(FM),
    ("risk_api.claims_reject", "POST"): allow(FM),
    ("risk_api.recoveries_create", "POST"): allow(
        BL, FM, bank_scoped=True, body={"amount": "1.00", "recovered_on": "2025-12-31"}),
    ("risk_api.breakers_list", "GET"): everyone(),
    ("risk_api.breaker_get", "GET"): everyone(bank_scoped=True),
    ("risk_api.breaker_lift", "POST"): allow(FM),
    ("risk_api.stress_run", "POST"): allow(FM),
    # --- the seed fund: officers take in and service, managers decide, the admin pays in; the pages are
    # the programme's, the API's fund and loan reads everyone's (api.md)
    ("seed.overview", "GET"): allow(*PROGRAMME),
    ("seed.applications", "GET"): allow(*PROGRAMME),
    ("seed.application", "GET"): allow(*PROGRAMME),
    ("seed.new_application", "GET"): allow(FO),
    ("seed.new_application", "POST"): allow(FO),
    ("seed.initial_review", "POST"): allow(FO),
    ("seed.expert_review", "POST"): allow(FO),
    ("seed.decide", "POST"): allow(FM),
    ("seed.raise_objection", "POST"): allow(FO),
    ("seed.resolve_objection", "POST"): allow(FM),
    ("seed.link_enterprise", "POST"): allow(FO),
    ("seed.withdraw", "POST"): allow(FO),
    ("seed.contract", "POST"): allow(FO),
    ("seed.decisions", "GET"): allow(*PROGRAMME),
    ("seed.loans", "GET"): allow(*PROGRAMME),
    ("seed.overdue", "GET"): allow(*PROGRAMME),
    ("seed.loan", "GET"): allow(*PROGRAMME),
    ("seed.disburse", "POST"): allow(FO),
    ("seed.repay", "POST"): allow(FO),
    ("seed.recover", "POST"): allow(FO),
    ("seed.propose_write_off", "POST"): allow(FO),
    ("seed.decide_write_off", "POST"): allow(FM),
    ("seed_api.fund_get", "GET"): everyone(),
    ("seed_api.contributions_list", "GET"): everyone(),
    ("seed_api.contributions_create", "POST"): allow(AD),
    ("seed_api.agent_bank_get", "GET"): everyone(),
    ("seed_api.agent_bank_put", "PUT"): allow(AD),
    ("seed_api.applications_list", "GET"): allow(*PROGRAMME),
    ("seed_api.applications_get", "GET"): allow(*PROGRAMME),
    ("seed_api.applications_create", "POST"): allow(FO),
    ("seed_api.initial_review", "POST"): allow(FO),
    ("seed_api.expert_reviews_create", "POST"): allow(FO),
    ("seed_api.decision", "POST"): allow(FM),
    ("seed_api.objections_create", "POST"): allow(FO),
    ("seed_api.objection_resolution", "POST"): allow(FM),
    ("seed_api.link_enterprise", "POST"): allow(FO),
    ("seed_api.withdrawal", "POST"): allow(FO),
    ("seed_api.contract", "POST"): allow(FO),
    ("seed_api.loans_list", "GET"): everyone(),
    ("seed_api.loans_overdue", "GET"): everyone(),
    ("seed_api.loans_get", "GET"): everyone(),
    ("seed_api.repayments_list", "GET"): everyone(),
    ("seed_api.disbursement", "POST"): allow(FO),
    ("seed_api.repayments_create", "POST"): allow(FO),
    ("seed_api.recoveries_create", "POST"): allow(FO),
    ("seed_api.write_off", "POST"): allow(FO, FM),
    # --- documents: everyone reads, a liaison its own bank's; the auditor requests statements
    ("documents.index", "GET"): everyone(),
    ("documents.detail", "GET"): everyone(bank_scoped=True),
    ("documents.download", "GET"): everyone(bank_scoped=True),
    ("documents.rows", "GET"): everyone(bank_scoped=True),
    ("documents.request_statement", "GET"): allow(AU),
    ("documents.request_statement", "POST"): allow(AU),
    ("documents_api.documents_list", "GET"): everyone(),
    ("documents_api.documents_get", "GET"): everyone(bank_scoped=True),
    ("documents_api.documents_pdf", "GET"): everyone(bank_scoped=True),
    ("documents_api.statements_rows", "GET"): everyone(bank_scoped=True),
    ("documents_api.statements_create", "POST"): allow(AU),
    # --- scheduled jobs (the admin runs, the auditor watches), reconciliation (the auditor signs off),
    # the audit trail (the auditor)
    ("jobs.index", "GET"): allow(AD, AU),
    ("jobs.run_detail", "GET"): allow(AD, AU),
    ("jobs.run_now", "POST"): allow(AD),
    ("jobs_api.runs", "GET"): allow(AD, AU),
    ("jobs_api.run_now", "POST"): allow(AD),
    ("reconciliation.index", "GET"): allow(AU, FM, AD),
    ("reconciliation.detail", "GET"): allow(AU, FM, AD),
    ("reconciliation.run", "POST"): allow(AU, AD),
    ("reconciliation.sign_off", "POST"): allow(AU),
    ("reconciliation_api.reconciliations_list", "GET"): allow(AU, FM, AD),
    ("reconciliation_api.reconciliation_get", "GET"): allow(AU, FM, AD),
    ("reconciliation_api.reconciliation_sign_off", "POST"): allow(AU),
    ("audit.audit_list", "GET"): allow(AU),
    ("audit.audit_verify", "GET"): allow(AU),
}


def application_routes(app) -> dict[tuple[str, str], str]:
    """(endpoint, method) → rule, for every rule of the application (HEAD and OPTIONS are Flask's own)."""
    routes: dict[tuple[str, str], str] = {}
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            routes.setdefault((rule.endpoint, method), rule.rule)
    return routes


# Collected from an application of its own, so that a route the table lacks still gets its test ids.
ROUTES = sorted(set(application_routes(create_app("test"))) | set(EXPECTED))


def test_every_route_has_an_entry_and_every_entry_a_route(app):
    routes = application_routes(app)
    missing = sorted(f"{method} {endpoint}" for endpoint, method in set(routes) - set(EXPECTED))
    stale = sorted(f"{method} {endpoint}" for endpoint, method in set(EXPECTED) - set(routes))
    assert not missing, f"new endpoint(s) with no entry in the permission matrix: {', '.join(missing)}"
    assert not stale, f"permission matrix entries for routes that no longer exist: {', '.join(stale)}"
    public_routes = sorted(endpoint for (endpoint, _method), access in EXPECTED.items() if access.public)
    assert "static" in public_routes


# ------------------------------------------------------------------------------------------ the world


@dataclass(frozen=True)
class World:
    """One record of each kind, owned by bank A where a record has a bank, and bank B beside it."""

    bank_a: int
    bank_b: int
    loan_id: int
    contract_no: str  # bank A's loan: never shown to bank B's liaison
    enterprise_id: int
    tape_id: int
    claim_id: int
    seed_loan_id: int
    application_id: int
    objection_id: int
    document_id: int
    run_id: int
    user_id: int
    policy_id: int
    holiday_id: int
    workday_id: int

    def url_values(self, rule) -> dict[str, object]:
        """Values for the rule's variables: bank A's record of the kind the variable names."""
        seed = "/seed/" in rule.rule
        values = {
            "bank_id": self.bank_a,
            "loan_id": self.seed_loan_id if seed else self.loan_id,
            "enterprise_id": self.enterprise_id,
            "tape_id": self.tape_id,
            "claim_id": self.claim_id,
            "application_id": self.application_id,
            "objection_id": self.objection_id,
            "document_id": self.document_id,
            "run_id": self.run_id,
            "name": "contracts",
            "period": PERIOD,
            "user_id": self.user_id,
            "policy_id": self.policy_id,
            "day_id": self.holiday_id if "/holidays/" in rule.rule else self.workday_id,
            "code": "en",
            "filename": "css/app.css",
        }
        unknown = sorted(set(rule.arguments) - set(values))
        assert not unknown, f"{rule.endpoint}: the permission matrix has no record for {unknown}"
        return {name: values[name] for name in rule.arguments}


def build_world(app) -> World:
    """Arranged through the API and the services as the fund's, the pool's and the banks' people would."""
    client = isolated_client(app)

    def api_as(role: str, **attrs):
        user = make_user(app, role, **attrs)
        response = client.post("/api/v1/auth/token", json={"username": user.username, "password": DEFAULT_PASSWORD})
        assert response.status_code == 200, response.get_data(as_text=True)
        return user, {"Authorization": f"Bearer {response.get_json()['token']}"}

    seed = SeedApi(app, client, api_as)
    risk = RiskApi(app, client, api_as)
    seed.contribute("1000000.00")
    app_id = seed.approved_application(eligible_enterprise(app))
    seed_loan_id = seed.contract(app_id).get_json()["loan_id"]
    seed.disburse(seed_loan_id)
    seed.repay(seed_loan_id, "25000.00", date(2025, 7, 24), "HK-0001")
    in_notice = seed.approved_application(eligible_enterprise(app))  # decided 2025-06-13, notice to 06-20
    objection = seed.post(f"/api/v1/seed/applications/{in_notice}/objections",
                          {"text": "申请材料与实际不符", "on": "2025-06-16"}, seed.officer, 201).get_json()

    fund_pool(app, "1000000.00")
    loan_id = make_loan(app, risk.bank_id)
    claim = risk.claim(loan_id)
    risk.approve(claim["id"])

    with app.app_context():
        loan = db.session.get(Loan, loan_id)
        tape = batch.upload_tape(risk.bank_id, PERIOD, tape_csv([
            (loan.contract_no, loan.enterprise.credit_code, "1000000.00", "0.00", "1000000.00", 91),
        ]), f"{loan.contract_no}.csv", "arrange")  # named after the loan, so a tape list shows the marker too
        holiday = calendar.add_holiday(date(2025, 10, 1), "国庆节", by_id=None)
        workday = calendar.add_workday(date(2025, 9, 28), "国庆调休", by_id=None)
        db.session.commit()
        world = dict(
            loan_id=loan_id, contract_no=loan.contract_no, enterprise_id=loan.enterprise_id, tape_id=tape.id,
            holiday_id=holiday.id, workday_id=workday.id,
            policy_id=db.session.scalar(sa.select(Policy.id).order_by(Policy.effective_from)),
        )
    with app.app_context():
        run = runner.run_job("contracts", triggered_by="arrange")  # renders the contract and the notice
        world["run_id"] = run.id
    with app.app_context():
        documents_jobs.generate_monthly_statements(PERIOD)
        run_reconciliation(PERIOD)
        db.session.commit()
    with app.app_context():
        world["document_id"] = db.session.scalar(
            sa.select(Document.id).where(Document.bank_id == risk.bank_id, Document.kind == "bank_statement")
        )
    return World(
        bank_a=risk.bank_id, bank_b=risk.liaison_b.bank_id, claim_id=claim["id"], seed_loan_id=seed_loan_id,
        application_id=in_notice, objection_id=objection["id"], user_id=risk.liaison.id, **world,
    )


@pytest.fixture(scope="module")
def matrix_world(app):
    """The world, built once on a connection of its own inside a transaction rolled back after the module."""
    freeze_on(TODAY)
    with app.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
        db.session.remove()
        db.session.configure(bind=connection, join_transaction_mode="create_savepoint")
    try:
        yield connection, build_world(app)
    finally:
        with app.app_context():
            db.session.remove()
            db.session.configure(bind=None, join_transaction_mode="conditional_savepoint")
            if outer.is_active:
                outer.rollback()
            connection.close()
        clock.freeze(None)


@pytest.fixture(autouse=True)
def db_connection(app, matrix_world):
    """The suite's rollback harness one level down: each test runs in a savepoint of the world's
    transaction, rolled back at its end, so what a call did never reaches the next test."""
    connection, _world = matrix_world
    freeze_on(TODAY)
    with app.app_context():
        db.session.remove()
        savepoint = connection.begin_nested()
    try:
        yield connection
    finally:
        with app.app_context():
            db.session.remove()
            if savepoint.is_active:
                savepoint.rollback()


@pytest.fixture
def world(matrix_world) -> World:
    return matrix_world[1]


# ------------------------------------------------------------------------------------------ the calls


def shown_text(response) -> str:
    """What the caller is shown: the body as text, an Excel workbook's XML parts included."""
    data = response.get_data()
    if data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "".join(archive.read(name).decode("utf-8", "replace") for name in archive.namelist())
    return data.decode("utf-8", "replace")


def db_bank(app, bank_id: int) -> Bank:
    """Bank ``bank_id`` as a detached object, to bind a new liaison to it."""
    with app.app_context():
        bank = db.session.get(Bank, bank_id)
        db.session.expunge(bank)
        return bank


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("route", ROUTES, ids=[f"{endpoint}:{method}" for endpoint, method in ROUTES])
def test_the_route_answers_each_caller_as_the_matrix_says(
    app, client, login_as, api_as, row_counts, world, route, caller
):
    endpoint, method = route
    access = EXPECTED.get(route)
    assert access is not None, f"new endpoint {method} {endpoint} has no entry in the permission matrix"
    rules = [rule for rule in app.url_map.iter_rules(endpoint) if method in rule.methods]
    assert rules, f"the permission matrix lists {method} {endpoint}, which no longer exists"
    rule = rules[0]
    url = app.url_map.bind("localhost").build(endpoint, world.url_values(rule), method=method)
    is_api = rule.rule.startswith("/api/")

    role = BL if caller == OTHER_BANK else caller
    bank = world.bank_b if caller == OTHER_BANK else world.bank_a
    attrs = {"bank": db_bank(app, bank)} if role == BL else {}
    kwargs: dict = {}
    if is_api:
        if caller != "anonymous":
            kwargs["headers"] = api_as(role, **attrs)[1]
        if method in WRITES:
            kwargs["json"] = dict(access.body)
    else:
        if caller != "anonymous":
            login_as(role, **attrs)
        if method in WRITES:  # a real CSRF token, so that a refusal is the permission's, not the CSRF check's
            form_page = "/login" if caller == "anonymous" else "/account/password"
            kwargs["data"] = {"csrf_token": csrf_token_from(client, form_page)}

    if caller == OTHER_BANK and method == "GET":
        kwargs["query_string"] = {"bank_id": world.bank_a}  # a list filtered by bank A shows bank B's liaison nothing
    before = row_counts() if method in WRITES else None
    response = client.open(url, method=method, **kwargs)
    status = response.status_code
    where = f"{method} {url} ({endpoint}) as {caller}: {status} {response.get_data()[:300].decode('utf-8', 'replace')}"
    assert status < 500, where

    admitted = access.public or (caller != "anonymous" and role in access.roles)
    hidden = admitted and caller == OTHER_BANK and access.bank_scoped
    if not admitted:
        if caller == "anonymous":
            if is_api:
                assert status == 401 and response.get_json()["code"] == 401, where
            else:
                assert status == 302 and response.headers["Location"].startswith("/login"), where
        else:
            assert status == 403, where
            if is_api:
                assert response.get_json()["code"] == 403, where
    elif hidden:
        assert status == 404, where
        if is_api:
            assert response.get_json()["code"] == 404, where
    else:
        ok = access.ok or (WRITE_OUTCOMES if method in WRITES else frozenset({200}))
        if not is_api:
            ok -= {400}  # a web form answers its own errors in the page; a 400 is the CSRF check refusing
        assert status in ok, where
        if caller == OTHER_BANK and status < 300:
            assert world.contract_no not in shown_text(response), f"{where}: shows bank A's loan to bank B"
    if before is not None and (not admitted or hidden or status in (400, 409, 422)):
        assert row_counts() == before, f"{where}: a refused call changed rows"
