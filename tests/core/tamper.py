"""Tampering with the audit trail the way an attacker with database access would, for tests only.

The append-only triggers are lifted inside the test's own transaction (DDL is transactional on
SQLite and PostgreSQL), the row is changed, the triggers are put back, and the change is released
into the test's outer transaction with a commit; the test's rollback undoes all of it.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from core.audit.models import AUDIT_GUARD_DDL, AUDIT_GUARD_TRIGGERS, AuditEvent
from core.db import db


@contextmanager
def audit_guard_lifted() -> Iterator[sa.Connection]:
    """The append-only triggers are off inside the block (only for this transaction)."""
    conn = db.session.connection()
    if conn.dialect.name == "postgresql":
        for name in AUDIT_GUARD_TRIGGERS:
            conn.execute(sa.text(f"ALTER TABLE audit_events DISABLE TRIGGER {name}"))
        yield conn
        for name in AUDIT_GUARD_TRIGGERS:
            conn.execute(sa.text(f"ALTER TABLE audit_events ENABLE TRIGGER {name}"))
    else:
        for name in AUDIT_GUARD_TRIGGERS:
            conn.execute(sa.text(f"DROP TRIGGER {name}"))
        yield conn
        for statement in AUDIT_GUARD_DDL["sqlite"]:
            conn.execute(sa.text(statement))


def _middle_event_id() -> int:
    ids = db.session.scalars(sa.select(AuditEvent.id).order_by(AuditEvent.id)).all()
    if len(ids) < 3:
        raise AssertionError("tampering needs at least three audit events")
    return ids[len(ids) // 2]


def alter_one_audit_row(event_id: int | None = None) -> int:
    """Rewrite who did it in one event (the middle one by default); returns its id."""
    event_id = event_id or _middle_event_id()
    with audit_guard_lifted() as conn:
        conn.execute(sa.text("UPDATE audit_events SET username = 'mallory' WHERE id = :id"), {"id": event_id})
    db.session.commit()
    return event_id


def delete_one_audit_row(event_id: int | None = None) -> int:
    """Remove one event (the middle one by default); returns its id."""
    event_id = event_id or _middle_event_id()
    with audit_guard_lifted() as conn:
        conn.execute(sa.text("DELETE FROM audit_events WHERE id = :id"), {"id": event_id})
    db.session.commit()
    return event_id
