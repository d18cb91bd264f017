"""PostgreSQL only: the chain lock is taken at commit, so it cannot take part in a deadlock.

Two real transactions on two connections (not the harness's). The first test needs no commit and
runs on the suite's database, leaving nothing behind. The races that must commit audit rows (which
can never be deleted: the trail is append-only) run in a fresh database created and dropped here.
"""
from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session as PlainSession

from core.audit.models import AuditEvent
from core.audit.trail import AUDIT_LOCK_KEY, event_hash, flush_pending_events
from core.db import Session, db
from parties.models import Bank

LOCK_CLASSID, LOCK_OBJID = AUDIT_LOCK_KEY >> 32, AUDIT_LOCK_KEY & 0xFFFFFFFF


@pytest.fixture
def engine(app) -> sa.Engine:
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("SQLite serialises writers with BEGIN IMMEDIATE; the race cannot happen there")
        return db.engine


@pytest.fixture
def fresh_engine(engine) -> Iterator[sa.Engine]:
    """A brand-new database with the models' schema, dropped (with its audit rows) afterwards."""
    name = f"{engine.url.database}_audit_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(engine.url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    fresh = sa.create_engine(engine.url.set(database=name))
    try:
        db.metadata.create_all(fresh)
        yield fresh
    finally:
        fresh.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def audit_lock_holders(engine: sa.Engine) -> list[int]:
    """Backend pids holding the chain's advisory lock in this database."""
    with engine.connect() as conn:
        return list(
            conn.execute(
                sa.text(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
                    "AND classid = :classid AND objid = :objid "
                    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                ),
                {"classid": LOCK_CLASSID, "objid": LOCK_OBJID},
            ).scalars()
        )


def backend_pid(session: Session) -> int:
    return session.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()


def wait_until_blocked(engine: sa.Engine, pid: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            state = conn.execute(
                sa.text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
            ).scalar()
            if state == "Lock":
                return
            conn.rollback()
            time.sleep(0.02)
    raise AssertionError(f"backend {pid} never waited for a lock")


def chain(engine: sa.Engine) -> list[AuditEvent]:
    """The committed trail, checked link by link and hash by hash."""
    with engine.connect() as conn, PlainSession(bind=conn) as session:
        trail = session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id)).all()
        session.expunge_all()
    assert trail and trail[0].prev_hash is None
    for previous, current in zip(trail, trail[1:]):
        assert current.prev_hash == previous.hash and current.id == previous.id + 1
    assert all(event_hash(e.__dict__) == e.hash for e in trail)
    return trail


def test_a_flushed_writer_holds_no_audit_lock_so_the_other_waits_only_for_the_row(engine):
    """A has flushed audited changes and holds a row lock; B flushes its own audited changes freely and
    then waits for A's row - and for nothing else. Before, A held the chain lock from its first flush:
    B's flush waited for A, and A asking for a row B had locked was a deadlock. Nothing is committed."""
    scratch = f"audit_probe_{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE TABLE {scratch} (id integer PRIMARY KEY)"))
        conn.execute(sa.text(f"INSERT INTO {scratch} (id) VALUES (1)"))
    try:
        with engine.connect() as conn_a, engine.connect() as conn_b, \
                Session(bind=conn_a, db=db) as a, Session(bind=conn_b, db=db) as b:
            a.execute(sa.text("SET LOCAL lock_timeout = '5s'"))
            a.add(Bank(code=f"LKA{scratch[-8:]}", name=f"锁序A{scratch}"))
            a.flush()
            a.execute(sa.text(f"SELECT id FROM {scratch} WHERE id = 1 FOR UPDATE"))
            assert audit_lock_holders(engine) == []

            b.execute(sa.text("SET LOCAL lock_timeout = '300ms'"))
            b.add(Bank(code=f"LKB{scratch[-8:]}", name=f"锁序B{scratch}"))
            b.flush()  # waited for A's audit lock before: now nothing to wait for
            b.add(Bank(code=f"LKC{scratch[-8:]}", name=f"锁序C{scratch}"))
            b.flush()
            assert audit_lock_holders(engine) == []
            with pytest.raises(sa.exc.DBAPIError, match="lock timeout"):
                b.execute(sa.text(f"SELECT id FROM {scratch} WHERE id = 1 FOR UPDATE"))  # A's row
            b.rollback()

            # The lock is what writing the chain takes (the commit, or flush_pending_events early).
            assert flush_pending_events(a) == 1
            assert audit_lock_holders(engine) == [backend_pid(a)]
            a.rollback()
            assert audit_lock_holders(engine) == []
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE {scratch}"))


def test_a_row_lock_taken_after_a_flush_no_longer_deadlocks(fresh_engine):
    """A flushes, B locks a bank row and flushes, A asks for that row and waits; B commits (taking the
    chain lock, which nobody holds), then A gets the row and commits. Both succeed, in commit order."""
    with fresh_engine.begin() as conn:
        bank_id = conn.execute(
            sa.insert(Bank).values(code="ROW", name="争用银行").returning(Bank.id)  # Core: not audited
        ).scalar_one()
    errors: list[BaseException] = []
    with fresh_engine.connect() as conn_a, fresh_engine.connect() as conn_b, \
            Session(bind=conn_a, db=db) as a, Session(bind=conn_b, db=db) as b:
        for session in (a, b):
            session.execute(sa.text("SET LOCAL lock_timeout = '10s'"))
        a.add(Bank(code="A1", name="甲一"))
        a.flush()
        b.execute(sa.select(Bank.id).where(Bank.id == bank_id).with_for_update())
        b.add(Bank(code="B1", name="乙一"))
        b.flush()
        pid_a = backend_pid(a)

        def a_takes_the_row_then_commits() -> None:
            try:
                a.execute(sa.select(Bank.id).where(Bank.id == bank_id).with_for_update())
                a.add(Bank(code="A2", name="甲二"))
                a.commit()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        waiter = threading.Thread(target=a_takes_the_row_then_commits)
        waiter.start()
        try:
            wait_until_blocked(fresh_engine, pid_a)
            b.commit()
        finally:
            waiter.join(30)
    assert not waiter.is_alive() and errors == []
    trail = chain(fresh_engine)
    assert [e.after["code"] for e in trail] == ["B1", "A1", "A2"]  # commit order, each transaction whole


def test_concurrent_writers_keep_one_chain(app, fresh_engine):
    """Two transactions commit at the same time: the chain lock orders them; nothing collides."""
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []
    codes = [f"CONC{n}" for n in range(2)]

    def writer(code: str) -> None:
        try:
            with app.app_context(), fresh_engine.connect() as conn, Session(bind=conn, db=db) as session:
                session.add(Bank(code=code, name=f"并发{code}"))
                session.flush()
                session.add(Bank(code=code + "b", name=f"并发{code}b"))
                session.flush()
                barrier.wait()
                session.commit()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(code,)) for code in codes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    trail = chain(fresh_engine)
    assert len(trail) == 4
    # each transaction's two events (two flushes) are adjacent: chain order is commit order
    first, second = trail[0].after["code"], trail[2].after["code"]
    assert {first, second} == set(codes)
    assert [e.after["code"] for e in trail] == [first, first + "b", second, second + "b"]
