"""Fixtures: the app (schema built once per session), per-test transaction rollback, clients and logins.

Every test runs inside one outer transaction on a single connection; the application's own
commits become savepoint releases, and everything is rolled back at the end of the test
(proven by ``tests/test_isolation.py``).

The database is ``TEST_DATABASE_URL`` when set (PostgreSQL in CI), else a fresh SQLite file.
"""
from __future__ import annotations

import os
import tempfile

os.environ["APP_ENV"] = "test"
if not os.environ.get("TEST_DATABASE_URL"):
    os.environ["TEST_DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp(prefix='cst-test-')}/test.db"

import pytest  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from config import create_app  # noqa: E402
from core.db import db  # noqa: E402
from tests.factories import DEFAULT_PASSWORD, UserFactory  # noqa: E402
from tests.support import isolated_client  # noqa: E402


def reset_schema(engine: sa.Engine) -> None:
    """Drop everything a previous run left behind (tables, triggers, functions), then build from the models."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
    else:
        stale = sa.MetaData()
        stale.reflect(engine)
        stale.drop_all(engine)
    db.metadata.create_all(engine)
    # The default policy is data the first loans migration inserts; the test schema needs it too.
    from core.policy.models import DEFAULT_POLICY, Policy

    with engine.begin() as conn:
        conn.execute(sa.insert(Policy), [{**DEFAULT_POLICY, "note": "默认政策", "created_by": "system"}])


@pytest.fixture(scope="session")
def app():
    app = create_app("test")
    with app.app_context():
        reset_schema(db.engine)
    return app


@pytest.fixture(autouse=True)
def db_connection(app):
    """The connection every session of this test is pinned to; rolled back afterwards.

    The app context is pushed only to set up and tear down: a context left pushed would be
    reused by every request of the test and carry ``g`` from one request into the next.
    """
    with app.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
        db.session.remove()
        db.session.configure(bind=connection, join_transaction_mode="create_savepoint")
    try:
        yield connection
    finally:
        with app.app_context():
            db.session.remove()
            db.session.configure(bind=None, join_transaction_mode="conditional_savepoint")
            if outer.is_active:
                outer.rollback()
            connection.close()


@pytest.fixture
def app_ctx(app):
    with app.app_context():
        yield app


@pytest.fixture
def client(app):
    """A test client whose every request runs in its own app context and session, as in production."""
    return isolated_client(app)


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def persist(obj):
    """Arrange, commit, act: release the arranged rows into the test's outer transaction.

    Under this harness a commit only releases a savepoint (the test still rolls back at the end);
    without it, the next context's session would not see an unreleased savepoint's rows safely,
    and a refused request's rollback could take the arranged rows with it.
    """
    db.session.commit()
    db.session.refresh(obj)
    db.session.expunge(obj)
    return obj


def make_user(app, role: str, **attrs):
    with app.app_context():
        return persist(UserFactory(role=role, **attrs))


@pytest.fixture
def login_as(app, client):
    """``login_as("fund_manager")`` creates a user of that role and logs the web ``client`` in as them."""

    def _login(role: str, **attrs):
        user = make_user(app, role, **attrs)
        with client.session_transaction() as session:
            session["_user_id"] = str(user.id)
            session["_fresh"] = True
            session["_pw_stamp"] = user.password_changed_at.isoformat()  # as the login page does
        return user

    return _login


@pytest.fixture
def api_headers(app):
    """``api_headers(user)`` issues a real bearer token for ``user`` and returns the request headers."""
    from core.auth.tokens import issue_token

    def _headers(user) -> dict[str, str]:
        with app.app_context():
            raw, _token = issue_token(db.session.merge(user))
            db.session.commit()
        return {"Authorization": f"Bearer {raw}"}

    return _headers


@pytest.fixture
def api_as(api_headers, app):
    """``api_as("auditor")`` creates a user of that role and returns ``(user, headers)``."""

    def _as(role: str, **attrs):
        user = make_user(app, role, **attrs)
        return user, api_headers(user)

    return _as


@pytest.fixture
def default_password() -> str:
    return DEFAULT_PASSWORD


@pytest.fixture
def row_counts(app):
    """``row_counts()`` returns {table: rows} for every table, to prove a refused request wrote nothing."""

    def _counts(*, ignore: tuple[str, ...] = ()) -> dict[str, int]:
        with app.app_context():
            return {
                table.name: db.session.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                for table in db.metadata.sorted_tables
                if table.name not in ignore
            }

    return _counts
