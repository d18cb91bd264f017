"""PostgreSQL: the database connection dies in the middle of a write.

The application under test is a second app on a fresh database, served exactly as in production
(each request's session on the app's own engine, the unit of work committing at the end), not on
the test harness's single connection. A listener kills the request's backend with
``pg_terminate_backend`` right after its first INSERT of a tranche, as a restart or a failover
would. The client must get a clean 503 (the documented JSON error body for the API, the error page
for the web), nothing of the request may be stored, and once the database is back the next request
succeeds on connections the pool checked first (``pool_pre_ping``), even though every connection
it held was killed meanwhile.
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from core.auth.tokens import issue_token
from core.db import db
from loans import services
from loans.models import Disbursement, Loan
from tests.factories import DEFAULT_PASSWORD, EnterpriseFactory, RatingFactory, UserFactory
from tests.faults.conftest import TODAY, serving
from tests.loans.test_loans import freeze_on
from tests.races import assert_books_sound, fresh_database
from tests.support import csrf_token_from, isolated_client, web_login

D = Decimal
TRANCHE = {"amount": "300000.00", "disbursed_on": "2026-07-01"}


class BackendKiller:
    """After the first INSERT into ``table`` once armed, terminate that connection's backend (and wait
    until it is gone): the rest of the request's transaction meets a dead connection."""

    def __init__(self, engine: sa.Engine, admin: sa.Engine, table: str) -> None:
        self.admin = admin
        self.prefix = f"INSERT INTO {table} "
        self.armed = False
        self.killed: list[int] = []
        sa.event.listen(engine, "after_cursor_execute", self.after_execute)

    def after_execute(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if self.armed and statement.startswith(self.prefix):
            self.armed = False
            pid = conn.connection.dbapi_connection.info.backend_pid
            with self.admin.connect() as admin:
                assert admin.scalar(sa.text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
            self.killed.append(pid)


def engine_of(app) -> sa.Engine:
    with app.app_context():
        return db.engine


def terminate_every_connection(admin: sa.Engine, database: str) -> int:
    """What a database restart does to the pool: every connection to ``database`` is gone."""
    with admin.connect() as conn:
        return len(conn.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": database},
        ).all())


@pytest.fixture
def served(app) -> Iterator[tuple]:
    """(app, fresh engine, admin engine, liaison username, token, loan id) on a fresh database."""
    with fresh_database(app, "outage") as engine:
        freeze_on(TODAY)
        admin = sa.create_engine(engine.url.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        try:
            with serving(app, engine) as served_app:
                with served_app.app_context():
                    liaison = UserFactory(role="bank_liaison")
                    enterprise = EnterpriseFactory()
                    RatingFactory(enterprise=enterprise, rated_on=date(2026, 5, 1), credit_line=D("4000000.00"))
                    db.session.flush()
                    loan = services.create_loan(
                        bank_id=liaison.bank_id, enterprise_id=enterprise.id, contract_no="OUTAGE-1",
                        principal=D("1000000.00"), annual_rate=D("0.0345"), start_date=date(2026, 6, 1),
                        maturity_date=date(2027, 5, 31), created_by="arrange",
                    )
                    raw_token, _token = issue_token(liaison)
                    arranged = (liaison.username, raw_token, loan.id)
                    db.session.commit()
                yield (served_app, engine, admin, *arranged)
        finally:
            admin.dispose()


def stored(engine: sa.Engine, loan_id: int) -> tuple:
    """(tranche references, the loan's disbursed total, audit events), read on a new connection."""
    engine.dispose()  # the test's own pooled connections die with the others
    with engine.connect() as conn:
        refs = sorted(conn.scalars(sa.select(Disbursement.bank_ref)))
        total = conn.scalar(sa.select(Loan.disbursed_total).where(Loan.id == loan_id))
        events = conn.scalar(sa.text("SELECT count(*) FROM audit_events"))
    return refs, total, events


def test_an_api_write_whose_connection_dies_is_a_clean_503_and_the_next_one_succeeds(served):
    served_app, engine, admin, _username, token, loan_id = served
    client = isolated_client(served_app)
    headers = {"Authorization": f"Bearer {token}"}
    url = f"/api/v1/loans/{loan_id}/disbursements"
    assert client.get(url, headers=headers).status_code == 200  # the pool holds a live connection
    killer = BackendKiller(engine_of(served_app), admin, "disbursements")
    before = stored(engine, loan_id)

    killer.armed = True
    response = client.post(url, json={**TRANCHE, "bank_ref": "LOST"}, headers=headers)
    assert killer.killed, "the listener never saw the tranche's INSERT"
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    body = response.get_json()
    assert set(body) == {"code", "status", "message", "errors"} and body["code"] == 503
    assert body["status"] == "Service Unavailable" and body["message"]
    assert stored(engine, loan_id) == before  # the INSERT died with its transaction

    # Reads work again at once (a new connection), and leave it in the pool...
    assert client.get(url, headers=headers).status_code == 200
    # ...where it dies with every other when the database "restarts" while no request is running.
    assert terminate_every_connection(admin, engine.url.database) >= 1
    retried = client.post(url, json={**TRANCHE, "bank_ref": "KEPT"}, headers=headers)
    assert retried.status_code == 201, retried.get_json()
    refs, total, events = stored(engine, loan_id)
    assert (refs, total) == (["KEPT"], D("300000.00")) and events > before[2]
    assert_books_sound(served_app, engine)


def test_a_web_form_whose_connection_dies_shows_the_error_page_and_keeps_nothing(served):
    served_app, engine, admin, username, _token, loan_id = served
    client = isolated_client(served_app)
    assert web_login(client, username, DEFAULT_PASSWORD).status_code == 302
    url = f"/loans/{loan_id}/disbursements/new"
    token = csrf_token_from(client, url)
    killer = BackendKiller(engine_of(served_app), admin, "disbursements")
    before = stored(engine, loan_id)

    killer.armed = True
    response = client.post(url, data={**TRANCHE, "bank_ref": "LOST", "csrf_token": token})
    assert killer.killed
    assert response.status_code == 503 and response.mimetype == "text/html"
    assert "503" in response.get_data(as_text=True) and "不可用" in response.get_data(as_text=True)
    assert stored(engine, loan_id) == before

    token = csrf_token_from(client, url)  # the form again: a new connection, left in the pool
    terminate_every_connection(admin, engine.url.database)
    saved = client.post(url, data={**TRANCHE, "bank_ref": "KEPT", "csrf_token": token})
    assert saved.status_code == 302, saved.get_data(as_text=True)[:500]
    assert stored(engine, loan_id)[:2] == (["KEPT"], D("300000.00"))
    assert_books_sound(served_app, engine)
