"""The audit trail's table: one row per write or explicit event, chained by SHA-256, append-only.

Append-only is enforced where the data lives: triggers refuse every UPDATE and DELETE on
``audit_events`` (and TRUNCATE on PostgreSQL), so even a bug or a hand-typed SQL statement
cannot rewrite history. ``metadata.create_all`` installs them through the ``after_create``
listeners below; the Alembic migration copies ``AUDIT_GUARD_DDL`` verbatim (``op.execute``
each statement) and ``AUDIT_GUARD_DROP_DDL`` for its downgrade.

The hash chain (``core.audit.trail``) makes any change that slips past the triggers (a superuser
disabling them) detectable: ``verify_chain`` recomputes every hash in id order.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import DDL, event
from sqlalchemy.orm import Mapped, mapped_column

from core import clock
from core.db import UTCDateTime, db

# none_as_null: a missing before/after is SQL NULL, not the JSON text 'null'.
# Plain JSON (not JSONB) on PostgreSQL keeps the stored text exactly as written.
AuditJSON = sa.JSON(none_as_null=True)


class AuditEvent(db.Model):
    """One audited write (create / update / delete of a row) or explicit event (``auth.login`` ...)."""

    __tablename__ = "audit_events"
    __table_args__ = (
        sa.Index("ix_audit_events_object", "object_type", "object_id"),
        sa.Index("ix_audit_events_at", "at"),
    )
    # The trail never audits itself (it would recurse) - see core.audit.trail.
    __audit__ = False

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    # No ON DELETE action on purpose: the trail is append-only, so a user who acted can only be deactivated.
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    # Copied, so the trail still names the actor after a rename; "system" or the CLI/job actor otherwise.
    username: Mapped[str] = mapped_column(sa.String(64))
    action: Mapped[str] = mapped_column(sa.String(64))
    object_type: Mapped[str] = mapped_column(sa.String(64))
    object_id: Mapped[str | None] = mapped_column(sa.String(64))
    before: Mapped[Any | None] = mapped_column(AuditJSON)
    after: Mapped[Any | None] = mapped_column(AuditJSON)
    prev_hash: Mapped[str | None] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64), unique=True)

    @property
    def object_ref(self) -> str:
        """``"type:id"`` as the API shows it (just ``"type"`` for an event about no single row)."""
        return self.object_type if self.object_id is None else f"{self.object_type}:{self.object_id}"

    def __repr__(self) -> str:
        return f"<AuditEvent {self.id} {self.action} {self.object_ref}>"


# The guards present on every backend (what a schema check looks for).
AUDIT_GUARD_TRIGGERS: tuple[str, ...] = ("audit_events_no_update", "audit_events_no_delete")
# PostgreSQL also refuses TRUNCATE (SQLite has no TRUNCATE; its DELETE trigger covers "DELETE FROM" too).
AUDIT_GUARD_TRIGGERS_POSTGRESQL: tuple[str, ...] = AUDIT_GUARD_TRIGGERS + ("audit_events_no_truncate",)

# Exact SQL, one statement per item (Alembic: ``for stmt in AUDIT_GUARD_DDL[dialect]: op.execute(stmt)``).
# No '%' and no ':name' in the texts: DDL() formats with '%' and text() would read ':name' as a parameter.
AUDIT_GUARD_DDL: dict[str, list[str]] = {
    "sqlite": [
        "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
        "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only, UPDATE refused'); END",
        "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events "
        "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only, DELETE refused'); END",
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "BEGIN\n"
        "  RAISE EXCEPTION USING MESSAGE = 'audit_events is append-only, ' || TG_OP || ' refused';\n"
        "END;\n"
        "$$",
        "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
        "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()",
        "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events "
        "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()",
        "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()",
    ],
}

# The downgrade of the same migration (dropping the table drops its triggers; the function stays otherwise).
AUDIT_GUARD_DROP_DDL: dict[str, list[str]] = {
    "sqlite": [f"DROP TRIGGER IF EXISTS {name}" for name in AUDIT_GUARD_TRIGGERS],
    "postgresql": [f"DROP TRIGGER IF EXISTS {name} ON audit_events" for name in AUDIT_GUARD_TRIGGERS_POSTGRESQL]
    + ["DROP FUNCTION IF EXISTS audit_events_append_only()"],
}

for _dialect, _statements in AUDIT_GUARD_DDL.items():
    for _statement in _statements:
        event.listen(AuditEvent.__table__, "after_create", DDL(_statement).execute_if(dialect=_dialect))
event.listen(
    AuditEvent.__table__,
    "after_drop",
    DDL(AUDIT_GUARD_DROP_DDL["postgresql"][-1]).execute_if(dialect="postgresql"),
)
