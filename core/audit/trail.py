"""The audit trail: every write is recorded automatically, and the records form a SHA-256 chain.

Rules (architecture.md, "an audit record for every write"):

* Every INSERT, UPDATE and DELETE the ORM flushes on a mapped model is recorded in the same
  transaction, so a rolled-back request leaves no event and a committed write always has one.
  Models opt out with ``__audit__ = False`` (the trail itself, failed-login counters).
* An update records only the columns that changed, before and after. Secrets never enter the trail:
  ``password_hash`` / ``token_hash`` (and a model's ``__audit_redact__`` columns) read ``"[redacted]"``.
* Each event's hash covers its content and the previous event's hash; the previous event is the one
  with the highest id. Ids are assigned by the writer under the chain lock (head id + 1, ...), so the
  id order *is* the chain order whatever the driver does with batches.
* ``verify_chain`` recomputes the chain in id order: an altered row fails its own hash, a deleted or
  inserted row breaks the next row's ``prev_hash``. (Truncating the newest events is only detectable
  against a published head: see ``chain_head``.)

When the chain is written, and why then: each flush only *collects* its events (the before-values
are captured in ``before_flush``, the new rows' ids resolved in ``after_flush``, ``record_event``
appends to the same list). The chain - lock, read the head, hash, insert - is written once per
transaction, in ``before_commit``. On PostgreSQL the writer holds an advisory transaction lock from
reading the head until commit, so chain order is commit order; taking it at commit makes it the last
lock a transaction takes, held only for the commit. (Taken at the first flush, it serialised every
writing transaction from its first write, and a service taking ``SELECT ... FOR UPDATE`` after a
flush could deadlock against a transaction that held the audit lock and waited for that row.) On
SQLite ``BEGIN IMMEDIATE`` (core/db.py) already serialises writers. Consequences:

* A transaction reading the trail sees only committed events, not its own pending ones; the rare
  caller that must read them back calls ``flush_pending_events`` first (and so takes the lock early).
* Events collected inside a savepoint that is rolled back (``begin_nested``) are dropped with it; a
  rollback of the whole transaction drops them all. A commit with no events takes no lock.
* An event's ``at`` is when its write was flushed (or ``record_event`` called), not the commit, so
  across concurrent transactions ``at`` need not grow with the id.

Writes made with Core ``insert()/update()/delete()`` statements bypass the ORM flush and are not
recorded: services change audited data through the ORM.
"""
from __future__ import annotations

import enum
import functools
import hashlib
import json
import logging
import math
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask import has_request_context
from sqlalchemy import event, insert, select
from sqlalchemy.orm import InstanceState, Mapper, SessionTransaction, UOWTransaction, scoped_session
from sqlalchemy.orm.attributes import instance_state
from sqlalchemy.orm.base import NO_VALUE, PASSIVE_NO_INITIALIZE

from core import clock
from core.audit.models import AuditEvent
from core.db import Session, db
from core.i18n import _

__all__ = [
    "AUDIT_LOCK_KEY",
    "REDACTED",
    "SYSTEM_ACTOR",
    "Actor",
    "VerifyResult",
    "acting_as",
    "chain_head",
    "current_actor",
    "event_hash",
    "flush_pending_events",
    "json_safe",
    "record_event",
    "verify_chain",
]

REDACTED = "[redacted]"
SYSTEM_ACTOR = "system"
# Column (and explicit-event key) names whose values never enter the trail, on every model.
REDACTED_KEYS = frozenset({"password_hash", "token_hash", "password", "token"})
# Tables never audited whatever their model says: the trail itself (it would recurse) and failed-login
# counters (security bookkeeping kept even when the request fails; they are not business writes).
NEVER_AUDITED_TABLES = frozenset({"audit_events", "login_failures"})
# pg_advisory_xact_lock key of the chain writer ("audit" in ASCII); other locks must use other keys.
AUDIT_LOCK_KEY = 0x6175646974

_table = AuditEvent.__table__
_FLUSH_KEY = "core.audit.flush"  # this flush's before-values (before_flush -> after_flush)
_EXPLICIT_KEY = "core.audit.explicit"  # record_event calls made during a flush
_PENDING_KEY = "core.audit.pending"  # this transaction's collected events, in order
_COMMITTING_KEY = "core.audit.committing"  # the root transaction whose chain before_commit has written

log = logging.getLogger(__name__)


# --- the actor -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    username: str


_acting_as: ContextVar[Actor | None] = ContextVar("core_audit_acting_as", default=None)


@contextmanager
def acting_as(username: str, user_id: int | None = None) -> Iterator[None]:
    """Attribute the writes made inside the block to ``username`` (CLI commands, scheduled jobs).

    A logged-in request user always wins over this; outside both, writes are by ``"system"``.
    """
    token = _acting_as.set(Actor(user_id, username))
    try:
        yield
    finally:
        _acting_as.reset(token)


def current_actor() -> Actor:
    """Who is writing now: the authenticated request user, else the ``acting_as`` name, else "system"."""
    if has_request_context():
        from flask_login import current_user

        # Reading current_user may load the user (a SELECT); that is harmless inside before_flush.
        user = current_user._get_current_object()
        if user is not None and user.is_authenticated:
            return Actor(user.id, user.username)
    return _acting_as.get() or Actor(None, SYSTEM_ACTOR)


# --- values into JSON ------------------------------------------------------------------------------


def json_safe(value: Any) -> Any:
    """A JSON-safe copy of ``value`` that reads back identically (the hash is computed over it).

    Decimal keeps its exact digits ("1000000.00"), dates and instants are ISO 8601, an Enum is its
    value, bytes are their SHA-256 (a trail is no place for file contents).
    """
    kind = type(value)
    # Exact-type fast paths for what rows hold (a write of 10,000 rows converts ~100,000 values); an
    # exact bool/int/str/Decimal/date/datetime is never an Enum, so the results are those below.
    if value is None or kind is str or kind is int or kind is bool:
        return value
    if kind is Decimal:
        return format(value, "f")
    if kind is date or kind is datetime:
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return json_safe(value.value)
    if isinstance(value, (int, str)):  # subclasses (Markup, IntFlag...) as their plain value
        return int(value) if isinstance(value, int) else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return f"PT{value.total_seconds()}S"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return hashlib.sha256(bytes(value)).hexdigest()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((json_safe(v) for v in value), key=_canonical)
    return str(value)


def _redacted(values: Mapping[str, Any] | None, extra: frozenset[str] = frozenset()) -> dict[str, Any] | None:
    if values is None:
        return None
    hidden = REDACTED_KEYS | extra if extra else REDACTED_KEYS
    return {str(k): REDACTED if k in hidden else json_safe(v) for k, v in values.items()}


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _utc(instant: datetime) -> datetime:
    return instant.astimezone(timezone.utc)


def event_hash(row: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of an event's content and its predecessor's hash."""
    payload = {
        "prev_hash": row["prev_hash"],
        "at": _utc(row["at"]).isoformat(),
        "user_id": row["user_id"],
        "username": row["username"],
        "action": row["action"],
        "object_type": row["object_type"],
        "object_id": row["object_id"],
        "before": row["before"],
        "after": row["after"],
    }
    return hashlib.sha256(_canonical(payload).encode("utf-8", "surrogatepass")).hexdigest()


# --- the chain writer ------------------------------------------------------------------------------


@dataclass
class _Draft:
    """An event waiting for its place in the chain (it gets its id and hashes when written)."""

    action: str
    object_type: str
    object_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    actor: Actor
    at: datetime  # when the write was flushed or the event recorded, not when the chain is written


@dataclass
class _Pending:
    """A collected draft, the (sub)transaction whose rollback would undo it, and where it was written."""

    owner: SessionTransaction  # the savepoint or root transaction that was current when it was collected
    draft: _Draft
    # The savepoint/root inside which its row was inserted (``flush_pending_events`` or the commit);
    # None while only collected. Rolling back that savepoint takes the row away: it is pending again.
    written_in: SessionTransaction | None = None


def _write(connection: sa.Connection, drafts: list[_Draft]) -> None:
    """Chain ``drafts`` after the current head and insert them, on the caller's transaction."""
    if not drafts:
        return
    if connection.dialect.name == "postgresql":
        # Held until commit/rollback: the next writer reads the head only after this chain is committed.
        # Taken at commit (or by flush_pending_events), never at a flush: see the module docstring.
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": AUDIT_LOCK_KEY})
    head = connection.execute(select(_table.c.id, _table.c.hash).order_by(_table.c.id.desc()).limit(1)).first()
    next_id, prev_hash = (head.id + 1, head.hash) if head else (1, None)
    rows = []
    for draft in drafts:
        row = {
            "id": next_id,
            "at": draft.at,
            "user_id": draft.actor.user_id,
            "username": draft.actor.username,
            "action": draft.action,
            "object_type": draft.object_type,
            "object_id": draft.object_id,
            "before": draft.before,
            "after": draft.after,
            "prev_hash": prev_hash,
        }
        row["hash"] = prev_hash = event_hash(row)
        rows.append(row)
        next_id += 1
    connection.execute(insert(_table), rows)


def _unit(transaction: SessionTransaction) -> SessionTransaction:
    """The savepoint or root a (sub)transaction belongs to: what one rollback undoes as a whole."""
    while transaction.parent is not None and not transaction.nested:
        transaction = transaction.parent
    return transaction


def _inside(transaction: SessionTransaction | None, unit: SessionTransaction) -> bool:
    """Whether ``transaction`` is ``unit`` or nested (at any depth) inside it."""
    while transaction is not None:
        if transaction is unit:
            return True
        transaction = transaction.parent
    return False


def _current_unit(session: Session) -> SessionTransaction:
    if not session.in_transaction():
        session.begin()  # no SQL yet: the connection is only taken when something is written
    return session.get_nested_transaction() or session.get_transaction()


def _pending(session: Session) -> list[_Pending]:
    return session.info.setdefault(_PENDING_KEY, [])


def _collect(session: Session, drafts: list[_Draft]) -> None:
    """Queue ``drafts`` for the chain write at commit, in the order they happened."""
    if not drafts:
        return
    unit = _current_unit(session)
    _pending(session).extend(_Pending(unit, draft) for draft in drafts)
    if session.info.get(_COMMITTING_KEY) is session.get_transaction():
        # A write made after our before_commit hook already wrote the chain (a later hook or the
        # commit's own final flush): it is still in this transaction, so chain it now.
        _write_pending(session)


def _write_pending(session: Session) -> int:
    """Write every collected, unwritten event of this transaction now (taking the chain lock)."""
    entries = [entry for entry in session.info.get(_PENDING_KEY, ()) if entry.written_in is None]
    if not entries:
        return 0
    unit = _current_unit(session)
    _write(session.connection(), [entry.draft for entry in entries])
    for entry in entries:
        entry.written_in = unit
    return len(entries)


def flush_pending_events(session: Session | scoped_session | None = None) -> int:
    """Flush ``session`` and write its collected events into the chain now, before the commit.

    Events are normally written once, at commit, so a transaction reading the trail sees only
    committed events. The few callers that must read their own events back inside the transaction
    call this first; it takes the chain lock (PostgreSQL) and holds it until commit or rollback, so
    call it as late as possible and take no row lock after it. Returns the number of events written.
    """
    session = session if session is not None else db.session
    if isinstance(session, scoped_session):
        session = session()
    session.flush()
    return _write_pending(session)


def record_event(
    action: str,
    object_type: str,
    object_id: Any = None,
    before: dict | None = None,
    after: dict | None = None,
) -> None:
    """Append an explicit event (login, logout, token issued, sign-off...) to the audit trail.

    It joins the current transaction (a rolled-back request or savepoint takes it away) and is
    written into the chain at commit with the automatic events. The session's pending writes are
    flushed first, so the trail keeps the order things happened in.
    """
    session = db.session()
    draft = _Draft(
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        before=_redacted(before),
        after=_redacted(after),
        actor=current_actor(),
        at=_utc(clock.now()),
    )
    if getattr(session, "_flushing", False):
        # Called from another flush hook: ride along after the events of the flush in progress.
        session.info.setdefault(_EXPLICIT_KEY, []).append(draft)
        return
    session.flush()
    _collect(session, [draft])


# --- the transaction's life: write at commit, forget on rollback ---------------------------------


def _before_commit(session: Session) -> None:
    """Write the transaction's events into the chain: the last thing a committing transaction does.

    ``before_commit`` also fires when a savepoint is released; only the outermost commit writes
    (under the test harness that outermost commit is itself a savepoint release - same thing here).
    """
    if session.get_nested_transaction() is not None:
        return  # a savepoint release: its events now belong to the enclosing transaction
    # The commit flushes only after this hook: flush here so the last changes are chained too.
    for _guard in range(100):
        if not (session.new or session.dirty or session.deleted):
            break
        session.flush()
    _write_pending(session)
    session.info[_COMMITTING_KEY] = session.get_transaction()


def _after_soft_rollback(session: Session, previous_transaction: SessionTransaction) -> None:
    """A rollback undid ``previous_transaction``'s savepoint (or root): drop what it took away."""
    entries = session.info.get(_PENDING_KEY)
    if not entries:
        return
    undone = _unit(previous_transaction)
    kept = []
    for entry in entries:
        if _inside(entry.owner, undone):
            continue  # the write it describes is gone
        if entry.written_in is not None and _inside(entry.written_in, undone):
            entry.written_in = None  # its row is gone but the write it describes is not: write it again
        kept.append(entry)
    entries[:] = kept


def _after_commit(session: Session) -> None:
    if session.get_nested_transaction() is not None:
        return  # a savepoint release (after_commit fires for those too): the events are still to come
    lost = [entry for entry in session.info.get(_PENDING_KEY, ()) if entry.written_in is None]
    if lost:  # only possible if the root was committed with a savepoint still open (never done here)
        log.error("audit: %d event(s) collected but not written before the commit", len(lost))


def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the whole transaction is over: committed (written) or undone
        session.info.pop(_PENDING_KEY, None)
        session.info.pop(_COMMITTING_KEY, None)


# --- automatic recording of ORM writes -------------------------------------------------------------


@dataclass
class _FlushCapture:
    actor: Actor
    at: datetime = field(default_factory=lambda: _utc(clock.now()))
    # Pre-flush column values of the rows about to be updated or deleted, keyed by instance state.
    before: dict[InstanceState, dict[str, Any]] = field(default_factory=dict)


def _is_audited(mapper: Mapper) -> bool:
    table = mapper.local_table
    return getattr(mapper.class_, "__audit__", True) and getattr(table, "name", None) not in NEVER_AUDITED_TABLES


@functools.cache
def _columns(mapper: Mapper) -> list[tuple[str, sa.Column]]:
    """(attribute key, table column) of every column-mapped attribute (not SQL expressions)."""
    tables = set(mapper.tables)
    return [
        (prop.key, prop.columns[0])
        for prop in mapper.column_attrs
        if isinstance(prop.columns[0], sa.Column) and prop.columns[0].table in tables
    ]


def _redact_set(mapper: Mapper) -> frozenset[str]:
    return frozenset(getattr(mapper.class_, "__audit_redact__", ()))


@functools.cache
def _primary_key_attributes(mapper: Mapper) -> tuple[str, ...]:
    return tuple(mapper.get_property_by_column(col).key for col in mapper.primary_key)


def _object_id(state: InstanceState) -> str | None:
    if state.key is not None:
        values = state.key[1]
    else:  # inserted by this flush: the identity is registered only after after_flush
        values = tuple(state.dict.get(key) for key in _primary_key_attributes(state.mapper))
    if any(v is None for v in values):
        return None
    return ",".join(str(json_safe(v)) for v in values)


def _snapshot(session: Session, state: InstanceState, whole_row: bool) -> dict[str, Any]:
    """The committed (pre-flush) values: every changed column, or the whole row for a delete.

    An attribute assigned without having been loaded has no old value in memory; it is read from the
    database here, before the flush overwrites it.
    """
    mapper = state.mapper
    values: dict[str, Any] = {}
    unknown: list[tuple[str, sa.Column]] = []
    # Only an attribute with an entry in ``committed_state`` can have changed (SQLAlchemy records the
    # old value there on the first change); the others' history is "unchanged", and an update's event
    # reads the snapshot only for changed columns. So an update snapshots just those (a delete, the
    # whole row): the same events, without reading the history of every column of every dirty row.
    modified = state.committed_state
    for key, column in _columns(mapper):
        if not whole_row and key not in modified:
            continue
        history = state.get_history(key, PASSIVE_NO_INITIALIZE)  # what state.attrs[key].history reads; never loads
        if history.deleted:
            values[key] = history.deleted[0]
        elif history.unchanged:
            values[key] = history.unchanged[0]
        elif history.added or whole_row:
            unknown.append((key, column))
    if unknown and state.key is not None:
        where = [col == value for col, value in zip(mapper.primary_key, state.key[1])]
        row = (
            session.connection(bind_arguments={"mapper": mapper})
            .execute(select(*(column for _key, column in unknown)).where(*where))
            .first()
        )
        if row is not None:
            values.update({key: row[i] for i, (key, _column) in enumerate(unknown)})
    return values


def _before_flush(session: Session, flush_context: UOWTransaction, instances: Any) -> None:
    capture = _FlushCapture(actor=current_actor())
    deleted = list(session.deleted)
    for obj, whole_row in [(o, False) for o in session.dirty] + [(o, True) for o in deleted]:
        state = instance_state(obj)
        if _is_audited(state.mapper):
            capture.before[state] = _snapshot(session, state, whole_row)
    session.info[_FLUSH_KEY] = capture


def _after_flush(session: Session, flush_context: UOWTransaction) -> None:
    """Turn the flushed changes into events; new rows have their ids by now, history is still intact."""
    capture: _FlushCapture = session.info.pop(_FLUSH_KEY, None) or _FlushCapture(actor=current_actor())
    drafts: list[_Draft] = []
    for obj in session.new:
        state = instance_state(obj)
        mapper = state.mapper
        if not _is_audited(mapper):
            continue
        object_id = _object_id(state)
        if object_id is None:  # not part of a partial flush
            continue
        values = state.dict
        after = {key: values[key] for key, _col in _columns(mapper) if key in values}
        drafts.append(_draft(capture, "create", mapper, object_id, None, after))
    for obj in session.dirty:
        state = instance_state(obj)
        mapper = state.mapper
        if not _is_audited(mapper):
            continue
        known = capture.before.get(state, {})
        before: dict[str, Any] = {}
        after = {}
        modified = state.committed_state  # history is still intact here; only these can have changed
        values = state.dict
        for key, _col in _columns(mapper):
            if key not in modified:
                continue
            history = state.get_history(key, PASSIVE_NO_INITIALIZE)
            new = values.get(key, NO_VALUE)
            if not history.has_changes() or new is NO_VALUE:  # NO_VALUE: expired by a server-side default
                continue
            old = known[key] if key in known else (history.deleted[0] if history.deleted else None)
            if json_safe(old) != json_safe(new):
                before[key], after[key] = old, new
        if after:
            drafts.append(_draft(capture, "update", mapper, _object_id(state), before, after))
    for obj in session.deleted:
        state = instance_state(obj)
        mapper = state.mapper
        if not _is_audited(mapper):
            continue
        before = capture.before.get(state) or {
            key: state.dict[key] for key, _col in _columns(mapper) if key in state.dict
        }
        drafts.append(_draft(capture, "delete", mapper, _object_id(state), before, None))
    drafts.extend(session.info.pop(_EXPLICIT_KEY, []))
    _collect(session, drafts)  # written at commit: no chain lock is taken by a flush


def _after_flush_postexec(session: Session, flush_context: UOWTransaction) -> None:
    # An explicit event recorded by a hook that ran after ours must not be lost.
    _collect(session, session.info.pop(_EXPLICIT_KEY, []))


def _draft(
    capture: _FlushCapture,
    action: str,
    mapper: Mapper,
    object_id: str | None,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
) -> _Draft:
    hidden = _redact_set(mapper)
    return _Draft(
        action=action,
        object_type=mapper.local_table.name,
        object_id=object_id,
        before=_redacted(before, hidden),
        after=_redacted(after, hidden),
        actor=capture.actor,
        at=capture.at,
    )


event.listen(Session, "before_flush", _before_flush)
event.listen(Session, "after_flush", _after_flush)
event.listen(Session, "after_flush_postexec", _after_flush_postexec)
event.listen(Session, "before_commit", _before_commit)
event.listen(Session, "after_commit", _after_commit)
event.listen(Session, "after_soft_rollback", _after_soft_rollback)
event.listen(Session, "after_transaction_end", _after_transaction_end)


# --- verification ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    events: int  # events checked: all of them, or up to and including the first bad one
    first_bad_id: int | None
    reason: str


def verify_chain(chunk_size: int = 1000) -> VerifyResult:
    """Recompute every hash in id order, ``chunk_size`` rows at a time (memory stays flat).

    A row whose content does not match its hash was altered; a row whose ``prev_hash`` is not its
    predecessor's hash follows a deleted or inserted row (or is itself forged). It reads the table as
    it is: the current transaction's collected events are not there before its commit.
    """
    columns = [_table.c[name] for name in ("id", "at", "user_id", "username", "action", "object_type",
                                           "object_id", "before", "after", "prev_hash", "hash")]
    checked = 0
    last_id: int | None = None
    prev_hash: str | None = None
    while True:
        query = select(*columns).order_by(_table.c.id).limit(chunk_size)
        if last_id is not None:
            query = query.where(_table.c.id > last_id)
        rows = db.session.execute(query).all()
        if not rows:
            break
        for row in rows:
            checked += 1
            if row.prev_hash != prev_hash:
                return VerifyResult(False, checked, row.id, _(
                    "事件 #%(id)s 的前序哈希与上一条事件不符：其前有事件被删除或插入", id=row.id))
            if event_hash(row._mapping) != row.hash:
                return VerifyResult(False, checked, row.id, _(
                    "事件 #%(id)s 的内容与其哈希不符：该记录已被改动", id=row.id))
            prev_hash = row.hash
        last_id = rows[-1].id
    return VerifyResult(True, checked, None, _("审计链完整：%(count)s 条事件的哈希全部校验通过", count=checked))


def chain_head() -> tuple[int, str] | None:
    """``(id, hash)`` of the newest event: publish it (e.g. in a monthly report) to pin the chain's end."""
    row = db.session.execute(select(_table.c.id, _table.c.hash).order_by(_table.c.id.desc()).limit(1)).first()
    return (row.id, row.hash) if row else None
