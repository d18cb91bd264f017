"""PostgreSQL only: a sign-off never slips between a writer's closed-month check and its commit.

Writers take the closing lock *shared* with their first check and keep it to the end of their
transaction; the sign-off takes it *exclusively*. So a sign-off waits for the writers in flight, and
a writer arriving during a sign-off is refused at once (409, retry) instead of waiting - it can never
be part of a lock cycle with the row locks writers hold. SQLite needs none of it: ``BEGIN IMMEDIATE``
serialises every writing transaction (core/db.py).
"""
from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from core.db import db
from core.errors import BusinessRuleError
from core.periods import LOCK_ID, LOCK_NAMESPACE, ensure_open, lock_for_closing


@pytest.fixture
def engine(app):
    with app.app_context():
        engine = db.engine
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers with BEGIN IMMEDIATE (core/db.py)")
    return engine


def test_a_writer_is_refused_while_a_sign_off_holds_the_lock(app, engine, today):
    with engine.connect() as signing:
        with signing.begin():
            signing.execute(sa.select(sa.func.pg_advisory_xact_lock(LOCK_NAMESPACE, LOCK_ID)))
            with app.app_context():
                with pytest.raises(BusinessRuleError, match="正在办理月度结账签核"):
                    ensure_open(date(2025, 7, 1))
                db.session.rollback()
    with app.app_context():
        ensure_open(date(2025, 7, 1))  # the sign-off ended: the writer goes ahead


def test_a_sign_off_waits_for_the_writers_in_flight(app, engine, today):
    with engine.connect() as writing:
        with writing.begin():
            assert writing.execute(sa.select(sa.func.pg_try_advisory_xact_lock_shared(LOCK_NAMESPACE, LOCK_ID))).scalar()
            with app.app_context():
                db.session.execute(sa.text("SET LOCAL lock_timeout = '300ms'"))
                with pytest.raises(OperationalError, match="lock timeout"):
                    lock_for_closing()
                db.session.rollback()
    with app.app_context():
        lock_for_closing()  # the writer committed: the sign-off proceeds
        db.session.rollback()


def test_writers_do_not_wait_for_each_other(app, engine, today):
    with engine.connect() as writing:
        with writing.begin():
            assert writing.execute(sa.select(sa.func.pg_try_advisory_xact_lock_shared(LOCK_NAMESPACE, LOCK_ID))).scalar()
            with app.app_context():
                ensure_open(date(2025, 7, 1))  # shared with the other writer
                db.session.rollback()
