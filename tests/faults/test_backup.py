"""``flask backup create`` / ``flask backup restore`` on both databases: books with committed data (both
funds' money, loans, the audit trail and a stored reconciliation PDF) are backed up and restored into an
EMPTY new database, each command run by an app configured for its database alone (as ``DATABASE_URL``
would), and the restored books are the same: every table's row count, every account's balance, the audit
chain (verifying, same head hash) and every document's bytes."""
from __future__ import annotations

import hashlib
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.backup import BackupError, backup_format, create_backup, restore_backup, verify_database
from core.audit.trail import acting_as
from core.db import db
from core.documents.models import Document
from core.ledger.models import JournalEntry
from core.ledger.queries import balances
from funds.services import fund as seed_fund
from tests.faults.conftest import TODAY, load_books, serving, wait_for
from tests.races import fresh_database, session_on

D = Decimal


def books(app, engine: sa.Engine) -> dict:
    """What a restore must preserve, read independently of the backup module where it can be."""
    engine.dispose()  # no pooled connection from before a restore
    with session_on(app, engine) as session:
        check = verify_database()
        documents = session.execute(sa.select(Document.id, Document.sha256, Document.content).order_by(Document.id)).all()
        return {
            "counts": {
                table.name: session.scalar(sa.select(sa.func.count()).select_from(table))
                for table in db.metadata.sorted_tables
            },
            "balances": {fund: balances(fund) for fund in check.trial_balances},
            "balanced": {fund: tb.balanced for fund, tb in check.trial_balances.items()},
            "audit": (check.audit.ok, check.audit.events, check.head),
            "documents": [(row.id, row.sha256, hashlib.sha256(row.content).hexdigest()) for row in documents],
        }


def flask_backup(app, engine: sa.Engine, *arguments: str):
    """``flask backup ARGUMENTS`` run by an app configured for ``engine``'s database (its own engine)."""
    with serving(app, engine) as served:
        return served.test_cli_runner().invoke(args=["backup", *arguments])


def assert_restored(app, source: sa.Engine, target: sa.Engine, backup: Path) -> dict:
    before = books(app, source)
    assert before["audit"][0] is True and before["documents"] and before["balances"]["seed"]
    created = flask_backup(app, source, "create", "--output", str(backup))
    assert created.exit_code == 0, created.output
    assert before["audit"][2][1] in created.output  # the head hash is printed, for comparing later

    restored = flask_backup(app, target, "restore", str(backup))
    assert restored.exit_code == 0, restored.output
    assert "校验通过" in restored.output and before["audit"][2][1] in restored.output
    after = books(app, target)
    assert after == before
    assert all(stored == recomputed for _id, stored, recomputed in after["documents"])
    assert all(after["balanced"].values())

    # The target now holds the books: restoring over it needs --force, and nothing changes without it.
    refused = flask_backup(app, target, "restore", str(backup))
    assert refused.exit_code == 1 and "--force" in refused.output
    assert books(app, target) == before
    return before


def test_a_postgresql_backup_restores_into_an_empty_database(app, tmp_path):
    with fresh_database(app, "backupsrc") as source, fresh_database(app, "backupdst", schema=False) as target:
        load_books(app, source)
        before = assert_restored(app, source, target, tmp_path / "books.dump")
        assert backup_format(tmp_path / "books.dump") == "postgresql"

        # --force replaces the books in place (pg_restore --clean drops the tables, triggers and all).
        target.dispose()
        restore_backup(target.url, tmp_path / "books.dump", force=True)
        assert books(app, target) == before


def test_a_sqlite_backup_restores_into_a_new_file(app, sqlite_engine, tmp_path):
    load_books(app, sqlite_engine)
    target = sa.create_engine(f"sqlite:///{tmp_path / 'restored' / 'books.db'}")  # no such file yet
    assert_restored(app, sqlite_engine, target, tmp_path / "books.sqlite3")
    assert backup_format(tmp_path / "books.sqlite3") == "sqlite"


def test_a_restore_reports_a_document_whose_bytes_changed(app, sqlite_engine, tmp_path):
    load_books(app, sqlite_engine)
    with sqlite_engine.begin() as conn:
        document_id = conn.scalar(sa.select(sa.func.min(Document.id)))
        conn.execute(sa.update(Document).where(Document.id == document_id).values(content=b"%PDF-1.7 altered"))
    create_backup(sqlite_engine.url, tmp_path / "b.sqlite3")
    target = sa.create_engine(f"sqlite:///{tmp_path / 'new.db'}")
    restored = flask_backup(app, target, "restore", str(tmp_path / "b.sqlite3"))
    assert restored.exit_code == 1
    assert f"#{document_id}" in restored.output and "未通过校验" in restored.output
    with session_on(app, target):
        assert verify_database().bad_documents == [document_id]


def test_a_file_that_is_no_backup_is_refused(tmp_path):
    junk = tmp_path / "notes.txt"
    junk.write_text("不是备份")
    with pytest.raises(BackupError, match="不是本系统的备份文件"):
        backup_format(junk)


def test_a_sqlite_backup_taken_while_money_is_recorded_is_consistent(app, sqlite_engine, tmp_path):
    """The online backup copies a snapshot: taken again and again while another thread commits
    contributions (a journal entry and audit events each), every copy verifies on its own."""
    load_books(app, sqlite_engine, reconcile=False)
    stop = threading.Event()
    committed: list[int] = []
    errors: list[BaseException] = []

    def record_money() -> None:
        try:
            with session_on(app, sqlite_engine) as session, acting_as("writer"):
                while not stop.is_set():
                    seed_fund.record_contribution(amount=D("1000.00"), received_on=TODAY, source="县财政", by_id=None)
                    session.commit()
                    committed.append(1)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    writer = threading.Thread(target=record_money)
    writer.start()
    copies = []
    try:
        wait_for(lambda: len(committed) >= 3, timeout=20, what="the writer to commit")
        for n in range(4):
            copies.append(create_backup(sqlite_engine.url, tmp_path / f"copy-{n}.sqlite3"))
            time.sleep(0.05)
    finally:
        stop.set()
        writer.join(30)
    assert errors == [] and len(committed) > 3
    entries = set()
    for copy in copies:
        engine = sa.create_engine(f"sqlite:///{copy}")
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        with session_on(app, engine) as session:
            check = verify_database()
            assert check.ok and check.audit.ok
            entries.add(session.scalar(sa.select(sa.func.count()).select_from(JournalEntry)))
        engine.dispose()
    assert len(entries) > 1  # the copies were taken while the books grew
