"""The audit trail: every write recorded with before/after, secrets redacted, the hash chain verifiable,
the table append-only at the database, and the auditor's API and CLI.

Events are collected during the transaction and written into the chain at commit, so a test reads
them back after ``db.session.commit()`` (under the harness, a savepoint release into the test's
outer transaction, rolled back at the end). The PostgreSQL races are in test_audit_concurrency.py.
"""
from __future__ import annotations

import enum
import hashlib
import json
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from core import clock
from core.audit.models import AUDIT_GUARD_TRIGGERS, AuditEvent
from core.audit.trail import (
    REDACTED,
    acting_as,
    chain_head,
    event_hash,
    flush_pending_events,
    json_safe,
    record_event,
    verify_chain,
)
from core.auth.models import LoginFailure
from core.auth.tokens import issue_token
from core.db import db
from parties.models import Bank
from tests.core.tamper import alter_one_audit_row, audit_guard_lifted, delete_one_audit_row
from tests.factories import BankFactory, UserFactory


def events(**filters) -> list[AuditEvent]:
    return db.session.scalars(sa.select(AuditEvent).filter_by(**filters).order_by(AuditEvent.id)).all()


def count_events() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))


def bank_events(bank: Bank) -> list[AuditEvent]:
    return events(object_type="banks", object_id=str(bank.id))


def commit() -> None:
    """End the arranged transaction: the events are written into the chain now."""
    db.session.commit()


# --- what gets recorded ----------------------------------------------------------------------------


def test_create_update_delete_of_a_bank_are_recorded_with_before_and_after(app_ctx):
    bank = BankFactory(code="AUD1", name="审计银行")
    commit()
    [created] = bank_events(bank)
    assert (created.action, created.object_type, created.object_id) == ("create", "banks", str(bank.id))
    assert created.before is None
    assert created.after["id"] == bank.id
    assert created.after["code"] == "AUD1" and created.after["name"] == "审计银行"
    assert created.after["is_active"] is True
    assert created.after["created_at"] == bank.created_at.isoformat()
    assert created.username == "system" and created.user_id is None

    bank.name = "改名银行"
    db.session.flush()
    commit()
    updated = bank_events(bank)[-1]
    assert updated.action == "update"
    assert updated.before == {"name": "审计银行"} and updated.after == {"name": "改名银行"}  # only what changed

    bank_id = bank.id
    db.session.delete(bank)
    db.session.flush()
    commit()
    deleted = events(object_type="banks", object_id=str(bank_id))[-1]
    assert deleted.action == "delete" and deleted.after is None
    assert deleted.before["code"] == "AUD1" and deleted.before["name"] == "改名银行"
    assert [e.action for e in events(object_type="banks", object_id=str(bank_id))] == ["create", "update", "delete"]
    assert verify_chain().ok


def test_an_update_of_an_unloaded_attribute_still_knows_the_old_value(app_ctx):
    bank = BankFactory(name="旧名称")
    db.session.commit()  # expires every attribute: the old name is no longer in memory
    bank.name = "新名称"
    db.session.flush()
    commit()
    updated = bank_events(bank)[-1]
    assert updated.before == {"name": "旧名称"} and updated.after == {"name": "新名称"}


def test_an_assignment_that_changes_nothing_records_nothing(app_ctx):
    bank = BankFactory(name="不变")
    commit()
    before = count_events()
    bank.name = "不变"
    db.session.flush()
    commit()
    assert count_events() == before


def test_a_deleted_row_that_was_expired_is_recorded_whole(app_ctx):
    bank = BankFactory(code="EXP1")
    db.session.commit()
    db.session.delete(bank)
    db.session.flush()
    commit()
    deleted = events(action="delete", object_type="banks")[-1]
    assert deleted.before["code"] == "EXP1" and "created_at" in deleted.before


def test_creating_a_user_redacts_the_password_hash(app_ctx):
    user = UserFactory(role="auditor")
    commit()
    [created] = events(object_type="users", object_id=str(user.id))
    assert created.after["password_hash"] == REDACTED
    assert created.after["username"] == user.username
    assert user.password_hash not in json.dumps(created.after, ensure_ascii=False)

    user.password_hash = "another-hash"
    db.session.flush()
    commit()
    changed = events(object_type="users", object_id=str(user.id))[-1]
    assert changed.before == {"password_hash": REDACTED} and changed.after == {"password_hash": REDACTED}


def test_api_token_hashes_are_redacted(app_ctx):
    user = UserFactory()
    raw, token = issue_token(user)
    commit()
    [created] = events(object_type="api_tokens", object_id=str(token.id))
    assert created.after["token_hash"] == REDACTED
    assert raw not in json.dumps(created.after) and token.token_hash not in json.dumps(created.after)


def test_a_model_can_redact_more_columns_or_opt_out(app_ctx, monkeypatch):
    monkeypatch.setattr(Bank, "__audit_redact__", ("name",), raising=False)
    bank = BankFactory(code="RED1", name="保密银行")
    commit()
    [created] = bank_events(bank)
    assert created.after["name"] == REDACTED and created.after["code"] == "RED1"

    monkeypatch.setattr(Bank, "__audit__", False, raising=False)
    quiet = BankFactory()
    commit()
    assert bank_events(quiet) == []


def test_failed_login_counters_are_not_audited(app_ctx):
    db.session.add(LoginFailure(username="nobody", address="127.0.0.1"))
    db.session.flush()
    commit()
    assert events(object_type="login_failures") == []


def test_values_become_json_safe_with_exact_digits():
    class Colour(enum.Enum):
        RED = "red"

    assert json_safe(Decimal("1000000.00")) == "1000000.00"
    assert json_safe(Decimal("0.0345")) == "0.0345"
    assert json_safe(Decimal("1E+2")) == "100"
    assert json_safe(date(2025, 6, 30)) == "2025-06-30"
    assert json_safe(datetime(2025, 6, 30, 8, 0, tzinfo=timezone.utc)) == "2025-06-30T08:00:00+00:00"
    assert json_safe(Colour.RED) == "red"
    assert json_safe(b"%PDF") == hashlib.sha256(b"%PDF").hexdigest()
    assert json_safe({"n": (1, Decimal("2.50"))}) == {"n": [1, "2.50"]}
    assert json_safe(True) is True and json_safe(None) is None


def test_acting_as_names_the_cli_or_job_actor(app_ctx):
    with acting_as("nightly-job"):
        bank = BankFactory()
    later = BankFactory()
    commit()  # after the block: the actor is the one at the time of the write, not of the commit
    assert bank_events(bank)[0].username == "nightly-job"
    assert bank_events(later)[0].username == "system"


def test_a_request_user_is_the_actor(client, api_as, app):
    admin, headers = api_as("admin")
    response = client.post(
        "/api/v1/users", json={"username": "new-auditor", "password": "a-long-password-1", "role": "auditor"}, headers=headers
    )
    assert response.status_code == 201, response.get_json()
    with app.app_context():
        [created] = events(object_type="users", object_id=str(response.get_json()["id"]))
        assert (created.username, created.user_id) == (admin.username, admin.id)
        assert created.after["password_hash"] == REDACTED


# --- explicit events ------------------------------------------------------------------------------


def test_record_event_without_pending_changes(app_ctx):
    record_event("auth.login", "users", 42, after={"address": "10.0.0.1", "password": "secret"})
    commit()
    [event] = events(action="auth.login")
    assert (event.object_type, event.object_id, event.before) == ("users", "42", None)
    assert event.after == {"address": "10.0.0.1", "password": REDACTED}
    assert verify_chain().ok


def test_record_event_with_pending_changes_comes_after_them(app_ctx):
    db.session.add(Bank(code="PEND", name="待写入银行"))  # not flushed yet
    record_event("reconciliation.signed_off", "reconciliations", "2025-06", after={"total": Decimal("1.50")})
    db.session.add(Bank(code="LATE", name="之后的银行"))  # flushed at the commit: after the event
    commit()
    bank_create, signed, late = events()[-3:]
    assert (bank_create.action, bank_create.after["code"]) == ("create", "PEND")
    assert signed.action == "reconciliation.signed_off" and signed.after == {"total": "1.50"}
    assert signed.prev_hash == bank_create.hash
    assert (late.action, late.after["code"], late.prev_hash) == ("create", "LATE", signed.hash)
    assert verify_chain().ok


# --- the chain -------------------------------------------------------------------------------------


def test_the_chain_links_every_event_and_hashes_the_canonical_json(app_ctx):
    BankFactory.create_batch(3)
    record_event("auth.logout", "users", 1)
    commit()
    trail = events()
    assert trail[0].prev_hash is None
    for previous, current in zip(trail, trail[1:]):
        assert current.prev_hash == previous.hash
    last = trail[-1]
    canonical = json.dumps(
        {
            "prev_hash": last.prev_hash,
            "at": last.at.astimezone(timezone.utc).isoformat(),
            "user_id": last.user_id,
            "username": last.username,
            "action": last.action,
            "object_type": last.object_type,
            "object_id": last.object_id,
            "before": last.before,
            "after": last.after,
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    assert last.hash == hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    assert chain_head() == (last.id, last.hash)
    result = verify_chain(chunk_size=2)  # several chunks
    assert (result.ok, result.events, result.first_bad_id) == (True, len(trail), None)


class AuditStatements:
    """The SQL the harness connection sends about the chain: head reads, inserts, lock requests."""

    def __init__(self, connection: sa.Connection) -> None:
        self.connection = connection
        self.seen: list[str] = []

    def __enter__(self) -> AuditStatements:
        sa.event.listen(self.connection, "before_cursor_execute", self._spy)
        return self

    def __exit__(self, *exc) -> None:
        sa.event.remove(self.connection, "before_cursor_execute", self._spy)

    def _spy(self, conn, cursor, statement, *args) -> None:
        if "audit_events" in statement or "pg_advisory" in statement:
            self.seen.append(" ".join(statement.split()).upper())

    def count(self, prefix: str) -> int:
        """Statements on audit_events starting with ``prefix`` (the lock request is counted apart)."""
        return sum(statement.startswith(prefix) and "AUDIT_EVENTS" in statement for statement in self.seen)

    @property
    def locks(self) -> int:
        return sum("PG_ADVISORY" in statement for statement in self.seen)


def test_flushes_only_collect_and_the_commit_writes_the_chain_once(app_ctx, db_connection):
    with AuditStatements(db_connection) as spy:
        for n in range(5):
            db.session.add(Bank(code=f"ONE{n}", name=f"一次{n}"))
        db.session.flush()
        db.session.add(Bank(code="ONE5", name="一次5"))
        db.session.flush()
        record_event("auth.login", "users", 1)
        assert spy.seen == []  # no head read, no insert, no lock before the commit
        commit()
    assert len(events(object_type="banks")) == 6 and len(events(action="auth.login")) == 1
    assert spy.count("SELECT") == 1 and spy.count("INSERT") == 1  # one head read, one batch
    assert spy.locks == (1 if db_connection.dialect.name == "postgresql" else 0)
    assert verify_chain().ok


def test_a_commit_without_events_takes_no_lock(app_ctx, db_connection):
    BankFactory()
    commit()
    with AuditStatements(db_connection) as spy:
        db.session.add(LoginFailure(username="nobody", address="127.0.0.1"))  # not audited
        db.session.flush()
        commit()
        db.session.scalar(sa.select(Bank.id).limit(1))  # a read-only transaction
        commit()
    assert spy.seen == []


def test_the_commit_flushes_first_so_unflushed_changes_are_chained(app_ctx):
    db.session.add(Bank(code="UNF1", name="未刷新银行"))  # neither flushed nor recorded before commit
    commit()
    [created] = events(object_type="banks")
    assert created.after["code"] == "UNF1" and verify_chain().ok


def test_pending_events_are_invisible_until_commit_or_flush_pending_events(app_ctx):
    BankFactory()
    commit()
    kept = count_events()
    BankFactory()
    record_event("auth.login", "users", 1)
    assert count_events() == kept and verify_chain().events == kept  # the trail shows committed data

    assert flush_pending_events(db.session) == 2
    assert count_events() == kept + 2 and verify_chain().ok
    assert flush_pending_events() == 0  # nothing left to write
    BankFactory()
    commit()  # the commit writes only what was not written yet
    assert count_events() == kept + 3 and verify_chain().ok


def test_a_rolled_back_transaction_leaves_no_events_and_the_chain_continues(app_ctx):
    BankFactory()
    commit()
    kept = count_events()
    head = chain_head()

    BankFactory()
    record_event("auth.login", "users", 1)
    db.session.rollback()
    commit()
    assert count_events() == kept and chain_head() == head

    BankFactory()
    record_event("auth.login", "users", 1)
    flush_pending_events()  # written, then rolled back with everything else
    assert count_events() == kept + 2
    db.session.rollback()
    assert count_events() == kept and chain_head() == head

    bank = BankFactory()
    commit()
    assert bank_events(bank)[0].prev_hash == head[1]
    assert verify_chain().ok


def test_events_of_a_rolled_back_savepoint_are_dropped_and_the_rest_kept(app_ctx):
    kept = BankFactory(code="KEEP1")
    savepoint = db.session.begin_nested()
    BankFactory(code="DROP1")
    record_event("auth.login", "users", 1)
    with db.session.begin_nested():  # released into the savepoint: shares its fate
        BankFactory(code="DROP2")
    savepoint.rollback()
    with db.session.begin_nested():  # a released savepoint keeps its events
        BankFactory(code="KEEP2")
    record_event("auth.logout", "users", 1)
    commit()
    assert [(e.action, (e.after or {}).get("code")) for e in events()] == [
        ("create", "KEEP1"),
        ("create", "KEEP2"),
        ("auth.logout", None),
    ]
    assert bank_events(kept)
    assert db.session.scalars(sa.select(Bank.code).order_by(Bank.code)).all() == ["KEEP1", "KEEP2"]
    assert verify_chain().ok


def test_a_savepoint_that_fails_to_flush_drops_only_its_own_events(app_ctx):
    BankFactory(code="DUP1")
    with pytest.raises(sa.exc.IntegrityError), db.session.begin_nested():
        record_event("auth.login", "users", 1)
        BankFactory(code="DUP1")  # the unique code fails the savepoint's flush
    commit()
    assert [(e.action, (e.after or {}).get("code")) for e in events()] == [("create", "DUP1")]
    assert verify_chain().ok


def test_events_written_inside_a_rolled_back_savepoint_are_written_again(app_ctx):
    """flush_pending_events inside a savepoint writes the outer events there too: its rollback undoes
    those rows but not the outer writes they describe, so those events are written again at commit."""
    BankFactory(code="OUT1")
    with pytest.raises(RuntimeError), db.session.begin_nested():
        BankFactory(code="IN1")
        assert flush_pending_events() == 2
        raise RuntimeError("the savepoint fails")
    assert count_events() == 0
    commit()
    assert [(e.action, e.after["code"]) for e in events()] == [("create", "OUT1")]
    assert verify_chain().ok


def test_writes_made_by_a_later_commit_hook_are_still_chained(app_ctx):
    """Another before_commit hook runs after the chain was written: its writes join the chain at once."""
    from core.db import Session

    def late_hook(session):
        if not session.info.get("late_hook_done"):
            session.info["late_hook_done"] = True
            session.add(Bank(code="HOOK", name="提交钩子银行"))
            record_event("hook.ran", "banks")
            session.add(Bank(code="HOOK2", name="提交钩子银行二"))  # flushed by the commit itself

    sa.event.listen(Session, "before_commit", late_hook)
    try:
        BankFactory(code="FIRST")
        commit()
    finally:
        sa.event.remove(Session, "before_commit", late_hook)
    assert [(e.action, (e.after or {}).get("code")) for e in events()] == [
        ("create", "FIRST"),
        ("create", "HOOK"),  # record_event flushed it first
        ("hook.ran", None),
        ("create", "HOOK2"),
    ]
    assert verify_chain().ok


def test_a_savepoint_release_does_not_write_the_chain(app_ctx, db_connection):
    with AuditStatements(db_connection) as spy:
        with db.session.begin_nested():
            BankFactory()
        assert spy.seen == []
        commit()
    assert spy.count("INSERT") == 1 and len(events(object_type="banks")) == 1


def test_altering_a_row_is_detected_at_that_row_and_the_cli_fails(app_ctx, runner):
    BankFactory.create_batch(4)
    db.session.commit()
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0

    altered = alter_one_audit_row()
    result = verify_chain()
    assert (result.ok, result.first_bad_id) == (False, altered)
    assert result.reason
    cli = runner.invoke(args=["audit", "verify"])
    assert cli.exit_code != 0
    assert f"#{altered}" in cli.output
    # the guards are back after the tampering
    with pytest.raises(DBAPIError), db.session.begin_nested():
        db.session.execute(sa.text("UPDATE audit_events SET username = 'x'"))


def test_deleting_a_middle_row_is_detected_at_the_next_row(app_ctx):
    BankFactory.create_batch(4)
    commit()
    ids = [e.id for e in events()]
    removed = delete_one_audit_row(ids[2])
    result = verify_chain()
    assert (result.ok, result.first_bad_id) == (False, ids[3])
    assert removed == ids[2]


def test_a_forged_row_is_detected(app_ctx):
    BankFactory.create_batch(3)
    commit()
    head_id, head_hash = chain_head()
    forged = {
        "id": head_id + 1,
        "at": clock.now(),
        "user_id": None,
        "username": "system",
        "action": "delete",
        "object_type": "banks",
        "object_id": "1",
        "before": {"code": "X"},
        "after": None,
        "prev_hash": head_hash,
        "hash": "0" * 64,  # the forger cannot produce a matching hash without recomputing it...
    }
    db.session.execute(sa.insert(AuditEvent.__table__), forged)
    assert verify_chain().first_bad_id == head_id + 1


def test_a_forged_row_with_a_valid_own_hash_breaks_the_next_link(app_ctx):
    BankFactory.create_batch(3)
    commit()
    first = events()[0]
    forged = {
        "id": first.id - 1,
        "at": clock.now(),
        "user_id": None,
        "username": "system",
        "action": "create",
        "object_type": "banks",
        "object_id": "999",
        "before": None,
        "after": {"code": "FAKE"},
        "prev_hash": None,
    }
    forged["hash"] = event_hash(forged)  # ...and even a self-consistent one cannot fit into the chain
    db.session.execute(sa.insert(AuditEvent.__table__), forged)
    result = verify_chain()
    assert (result.ok, result.first_bad_id) == (False, first.id)


def test_update_delete_and_truncate_are_refused_by_the_database(app_ctx, db_connection):
    BankFactory()
    commit()
    for statement in ("UPDATE audit_events SET username = 'x'", "DELETE FROM audit_events"):
        with pytest.raises(DBAPIError, match="append-only"), db.session.begin_nested():
            db.session.execute(sa.text(statement))
    if db_connection.dialect.name == "postgresql":
        with pytest.raises(DBAPIError, match="append-only"), db.session.begin_nested():
            db.session.execute(sa.text("TRUNCATE audit_events"))
    assert count_events() == 1 and verify_chain().ok


def test_the_guard_triggers_exist(app_ctx, db_connection):
    query = (
        "SELECT name FROM sqlite_master WHERE type = 'trigger'"
        if db_connection.dialect.name == "sqlite"
        else "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
    )
    assert set(AUDIT_GUARD_TRIGGERS) <= set(db.session.scalars(sa.text(query)))
    with audit_guard_lifted():
        pass  # and they come back after being lifted
    assert set(AUDIT_GUARD_TRIGGERS) <= set(db.session.scalars(sa.text(query)))


def test_a_refused_request_leaves_no_events(client, api_as, app):
    _admin, headers = api_as("admin")
    with app.app_context():
        before = count_events()
    response = client.post("/api/v1/users", json={"username": "x", "role": "auditor"}, headers=headers)  # no password
    assert response.status_code == 422
    with app.app_context():
        assert count_events() == before


# --- the API and the CLI ---------------------------------------------------------------------------


def test_auditor_lists_events_newest_first_with_filters(client, api_as, app):
    with app.app_context():
        bank = BankFactory(code="API1", name="接口银行")
        bank.name = "接口银行二"
        db.session.commit()
        bank_id = bank.id
    _auditor, headers = api_as("auditor")

    body = client.get("/api/v1/audit", headers=headers).get_json()
    assert body["total"] >= 4  # bank create + update, the auditor and their token
    ids = [item["id"] for item in body["items"]]
    assert ids == sorted(ids, reverse=True)
    assert set(body["items"][0]) >= {"id", "at", "user", "action", "object", "before", "after", "hash"}

    body = client.get(f"/api/v1/audit?object_type=banks&object_id={bank_id}", headers=headers).get_json()
    assert body["total"] == 2
    update, create = body["items"]
    assert (update["action"], update["object"], update["user"]) == ("update", f"banks:{bank_id}", "system")
    assert update["before"] == {"name": "接口银行"} and update["after"] == {"name": "接口银行二"}
    assert create["action"] == "create" and create["after"]["code"] == "API1"
    assert len(create["hash"]) == 64 and create["at"].endswith("+00:00")

    assert client.get("/api/v1/audit?action=update&object_type=banks", headers=headers).get_json()["total"] == 1
    assert client.get("/api/v1/audit?user=system&per_page=1", headers=headers).get_json()["total"] >= 2
    assert client.get("/api/v1/audit?user=nobody", headers=headers).get_json() == {"items": [], "total": 0}
    page = client.get("/api/v1/audit?per_page=1&page=2", headers=headers).get_json()
    assert len(page["items"]) == 1 and page["items"][0]["id"] == ids[1]
    assert client.get("/api/v1/audit?per_page=201", headers=headers).status_code == 422
    assert client.get("/api/v1/audit?since=2025-13-01", headers=headers).status_code == 422


def test_since_and_until_are_business_days_in_shanghai(client, api_as, app):
    _auditor, headers = api_as("auditor")
    try:
        with app.app_context():
            # 2025-03-01 23:30 UTC is already 2 March in Shanghai
            for instant, code in ((datetime(2025, 3, 1, 15, 30, tzinfo=timezone.utc), "DAY1"),
                                  (datetime(2025, 3, 1, 16, 30, tzinfo=timezone.utc), "DAY2")):
                clock.freeze(instant)
                BankFactory(code=code)
            db.session.commit()
    finally:
        clock.freeze(None)
    first = client.get("/api/v1/audit?object_type=banks&since=2025-03-01&until=2025-03-01", headers=headers).get_json()
    second = client.get("/api/v1/audit?object_type=banks&since=2025-03-02&until=2025-03-02", headers=headers).get_json()
    assert [i["after"]["code"] for i in first["items"]] == ["DAY1"]
    assert [i["after"]["code"] for i in second["items"]] == ["DAY2"]
    assert client.get("/api/v1/audit?since=2025-03-02&until=2025-03-01", headers=headers).status_code == 422


def test_auditor_verifies_the_chain_through_the_api(client, api_as, app):
    with app.app_context():
        BankFactory.create_batch(3)
        db.session.commit()
    _auditor, headers = api_as("auditor")
    body = client.get("/api/v1/audit/verify", headers=headers).get_json()
    assert body["ok"] is True and body["first_bad_id"] is None and body["events"] >= 5

    with app.app_context():
        altered = alter_one_audit_row()
    body = client.get("/api/v1/audit/verify", headers=headers).get_json()
    assert body["ok"] is False and body["first_bad_id"] == altered and body["reason"]


@pytest.mark.parametrize("role", ["admin", "fund_officer", "fund_manager", "bank_liaison"])
def test_other_roles_are_refused(client, api_as, role):
    _user, headers = api_as(role)
    for path in ("/api/v1/audit", "/api/v1/audit/verify"):
        response = client.get(path, headers=headers)
        assert response.status_code == 403 and response.get_json()["code"] == 403


def test_anonymous_is_refused(client):
    for path in ("/api/v1/audit", "/api/v1/audit/verify"):
        response = client.get(path)
        assert response.status_code == 401 and response.get_json()["code"] == 401


def test_the_openapi_document_describes_the_audit_endpoints(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "/api/v1/audit" in paths and "/api/v1/audit/verify" in paths


def test_cli_verify_prints_a_chinese_summary(app_ctx, runner):
    BankFactory()
    db.session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "审计链完整" in result.output
