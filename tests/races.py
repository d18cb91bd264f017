"""The PostgreSQL race harness shared by every ``test_races.py``.

Threads with their own app context, session and connection call the services at the same moment
and commit for real, in a fresh database created and dropped around the test (the audit trail they
write can never be deleted, so the suite's database stays clean). SQLite needs no such test:
``BEGIN IMMEDIATE`` (core/db.py) serialises every writer, so the races cannot happen there.
"""
from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from core import clock
from core.db import Session, db
from core.errors import BusinessRuleError
from tests.conftest import reset_schema


@contextmanager
def fresh_database(
    app, label: str, *, pool_size: int = 10, max_overflow: int = 30, schema: bool = True
) -> Iterator[sa.Engine]:
    """An engine on a brand-new database built like the suite's (left empty when not ``schema``);
    skips the test on SQLite."""
    with app.app_context():
        engine = db.engine
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers with BEGIN IMMEDIATE (core/db.py): these races cannot happen there")
    name = f"{engine.url.database}_{label}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(engine.url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    fresh = sa.create_engine(engine.url.set(database=name), pool_size=pool_size, max_overflow=max_overflow)
    try:
        if schema:
            reset_schema(fresh)
        yield fresh
    finally:
        clock.freeze(None)
        fresh.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def session_on(app, engine: sa.Engine) -> Iterator[Session]:
    """An app context whose ``db.session`` is a session of its own on ``engine`` (not the test harness's)."""
    with app.app_context():
        session = Session(db=db, bind=engine)
        db.session.registry.set(session)
        try:
            yield session
        finally:
            session.close()
            db.session.registry.clear()


def race(app, engine: sa.Engine, attempts: list[Callable[[], object]], *, hold_seconds: float) -> list[str]:
    """Run every attempt at once, each in its own thread and session; "ok" (committed) or "refused".

    Each winner keeps its locks ``hold_seconds`` before committing, so the others really wait on
    them. Anything but a BusinessRuleError fails the test.
    """
    barrier = threading.Barrier(len(attempts))
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def run(attempt: Callable[[], object]) -> None:
        try:
            with session_on(app, engine) as session:
                session.execute(sa.text("SET LOCAL lock_timeout = '60s'"))
                barrier.wait(timeout=30)
                try:
                    attempt()
                except BusinessRuleError:
                    session.rollback()
                    outcomes.append("refused")
                    return
                time.sleep(hold_seconds)
                session.commit()
                outcomes.append("ok")
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(attempt,)) for attempt in attempts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    return sorted(outcomes)


def assert_books_sound(app, engine: sa.Engine) -> dict[str, int]:
    """After a race: the audit chain verifies and every fund's trial balance balances, as committed.

    Returns, per object type, how many objects the audit trail mentions (a refused attempt must have
    left none).
    """
    from core.audit.models import AuditEvent
    from core.audit.trail import verify_chain
    from core.ledger.models import LedgerAccount
    from core.ledger.queries import trial_balance

    with session_on(app, engine) as session:
        verified = verify_chain()
        assert verified.ok, verified.reason
        for fund in session.scalars(sa.select(LedgerAccount.fund).distinct()):
            assert trial_balance(fund).balanced, fund
        return dict(
            session.execute(
                sa.select(AuditEvent.object_type, sa.func.count(AuditEvent.object_id.distinct())).group_by(AuditEvent.object_type)
            ).all()
        )
