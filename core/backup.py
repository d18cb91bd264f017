"""Backing up the whole database and restoring it into an empty one, then proving the restore.

Everything the office keeps is in the database: the books, the audit trail, and every stored
document's bytes (``documents.content``, with its SHA-256 beside it). So a backup is one file:

* **SQLite**: a copy of the database file taken with SQLite's online backup
  (``sqlite3.Connection.backup``): consistent even while the application writes, because the copy
  is made page by page under SQLite's own locking and restarts if a page changes underneath it.
* **PostgreSQL**: ``pg_dump --format=custom`` (one consistent snapshot of the database), restored
  with ``pg_restore --clean --if-exists --no-owner`` in a single transaction, so a failed restore
  leaves the target as it was.

A restore refuses a target that already holds tables unless forced (restoring over live books by
mistake would replace them). Afterwards :func:`verify_database` checks what a restore must
preserve: the audit hash chain verifies, each fund's trial balance balances, and every stored
document's bytes still hash to the SHA-256 recorded when it was issued.
"""
from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from core.audit.trail import VerifyResult, chain_head, verify_chain
from core.db import db
from core.documents.models import Document
from core.documents.store import sha256_hex
from core.ledger.models import LedgerAccount
from core.ledger.queries import TrialBalance, trial_balance

__all__ = [
    "BackupError",
    "DatabaseCheck",
    "backup_format",
    "create_backup",
    "default_backup_name",
    "is_empty",
    "restore_backup",
    "verify_database",
]

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"
DOCUMENT_CHUNK = 50  # documents whose bytes are hashed per query (bounded memory)


class BackupError(Exception):
    """A backup or a restore that cannot be done; the message says why, for the operator."""


# ------------------------------------------------------------------------------------------ backup


def default_backup_name(url: sa.URL, stamp: str) -> str:
    """``backup-<stamp>.sqlite3`` or ``backup-<stamp>.dump`` (pg_dump's custom format)."""
    return f"backup-{stamp}.{'sqlite3' if url.get_backend_name() == 'sqlite' else 'dump'}"


def create_backup(url: sa.URL, output: Path) -> Path:
    """Write a consistent backup of the database at ``url`` to ``output``; returns ``output``."""
    output.parent.mkdir(parents=True, exist_ok=True)
    if output.exists():
        raise BackupError(f"备份文件已存在，不会覆盖：{output}")
    if url.get_backend_name() == "sqlite":
        _sqlite_copy(_sqlite_path(url), output)
    elif url.get_backend_name() == "postgresql":
        _pg_run("pg_dump", url, ["--format=custom", "--no-owner", "--file", str(output)])
    else:
        raise BackupError(f"不支持备份此类数据库：{url.get_backend_name()}")
    return output


def backup_format(path: Path) -> str:
    """``"sqlite"`` or ``"postgresql"``, read from the file's first bytes (never from its name)."""
    try:
        with path.open("rb") as file:
            head = file.read(len(SQLITE_MAGIC))
    except OSError as error:
        raise BackupError(f"无法读取备份文件 {path}：{error.strerror}") from None
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PG_DUMP_MAGIC):
        return "postgresql"
    raise BackupError(f"{path} 不是本系统的备份文件（既不是 SQLite 数据库，也不是 pg_dump 自定义格式）")


# ----------------------------------------------------------------------------------------- restore


def is_empty(engine: sa.Engine) -> bool:
    """Whether the database holds no table at all (a fresh ``createdb`` or a new SQLite file)."""
    with engine.connect() as connection:
        return not sa.inspect(connection).get_table_names()


def restore_backup(url: sa.URL, source: Path, *, force: bool = False) -> None:
    """Restore ``source`` into the database at ``url``, which must be empty unless ``force``.

    The caller verifies the result with :func:`verify_database` on a fresh connection.
    """
    kind = backup_format(source)
    backend = url.get_backend_name()
    if kind != backend:
        raise BackupError(f"备份文件是 {kind} 格式，不能恢复到 {backend} 数据库")
    if not force and not _target_is_empty(url):
        raise BackupError("目标数据库中已有数据表：恢复会替换其全部内容。确认无误后请加 --force 再运行。")
    if backend == "sqlite":
        _sqlite_copy(source, _sqlite_path(url))
    else:
        _pg_run(
            "pg_restore", url,
            [
                "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error",
                "--dbname", str(url.database), str(source),
            ],
        )


def _target_is_empty(url: sa.URL) -> bool:
    if url.get_backend_name() == "sqlite" and not _sqlite_path(url).exists():
        return True  # a new file
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        return is_empty(engine)
    finally:
        engine.dispose()


# ------------------------------------------------------------------------------------------ checks


@dataclass(frozen=True)
class DatabaseCheck:
    """What a restored database must show: an intact audit chain, balanced books, intact documents."""

    audit: VerifyResult
    head: tuple[int, str] | None  # (id, hash) of the newest audit event
    trial_balances: dict[str, TrialBalance]
    documents: int
    bad_documents: list[int] = field(default_factory=list)  # ids whose bytes no longer match their SHA-256

    @property
    def ok(self) -> bool:
        return self.audit.ok and all(tb.balanced for tb in self.trial_balances.values()) and not self.bad_documents


def verify_database() -> DatabaseCheck:
    """Check the database of ``db.session``: audit chain, each fund's trial balance, document hashes."""
    funds = list(db.session.scalars(sa.select(LedgerAccount.fund).distinct().order_by(LedgerAccount.fund)))
    bad: list[int] = []
    count = 0
    last_id = 0
    while True:
        rows = db.session.execute(
            sa.select(Document.id, Document.sha256, Document.content)
            .where(Document.id > last_id)
            .order_by(Document.id)
            .limit(DOCUMENT_CHUNK)
        ).all()
        if not rows:
            break
        for row in rows:
            count += 1
            if row.content is None or sha256_hex(bytes(row.content)) != row.sha256:
                bad.append(row.id)
        last_id = rows[-1].id
    return DatabaseCheck(
        audit=verify_chain(),
        head=chain_head(),
        trial_balances={fund: trial_balance(fund) for fund in funds},
        documents=count,
        bad_documents=bad,
    )


# ----------------------------------------------------------------------------------------- helpers


def _sqlite_path(url: sa.URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("内存中的 SQLite 数据库无法备份或恢复")
    return Path(url.database)


def _sqlite_copy(source: Path, target: Path) -> None:
    """SQLite's online backup from ``source`` into ``target`` (created, or its content replaced)."""
    if not source.is_file():
        raise BackupError(f"找不到 SQLite 数据库文件：{source}")
    target.parent.mkdir(parents=True, exist_ok=True)
    reader = sqlite3.connect(source)
    writer = sqlite3.connect(target)
    try:
        reader.execute("PRAGMA busy_timeout = 10000")  # wait for a writer's lock rather than fail
        reader.backup(writer)
    except sqlite3.Error as error:
        raise BackupError(f"SQLite 备份失败：{error}") from None
    finally:
        writer.close()
        reader.close()


def _pg_environment(url: sa.URL) -> dict[str, str]:
    """libpq's variables for ``url``: the password never appears on a command line."""
    env = dict(os.environ)
    for variable, value in (
        ("PGHOST", url.host),
        ("PGPORT", url.port),
        ("PGUSER", url.username),
        ("PGPASSWORD", url.password),
        ("PGDATABASE", url.database),
        ("PGSSLMODE", url.query.get("sslmode")),
    ):
        if value is not None:
            env[variable] = str(value)
    return env


def _major(text: str) -> int | None:
    match = re.search(r"(\d+)(?:\.\d+)?", text)
    return int(match.group(1)) if match else None


def _pg_run(tool: str, url: sa.URL, arguments: list[str]) -> None:
    """Run ``pg_dump`` / ``pg_restore`` against ``url``; a clear BackupError when it is missing, older
    than the server, or fails."""
    program = shutil.which(tool)
    if program is None:
        raise BackupError(f"未找到 {tool}：请安装与服务器同一主版本的 PostgreSQL 客户端工具（Debian：postgresql-client）")
    # An argument list without a shell; the program is the PostgreSQL tool found on PATH.
    client = _major(subprocess.run([program, "--version"], capture_output=True, text=True, check=False).stdout)  # nosec B603
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            server = int(connection.scalar(sa.text("SHOW server_version_num"))) // 10000
    except sa.exc.OperationalError as error:
        raise BackupError(f"无法连接数据库：{error.orig}") from None
    finally:
        engine.dispose()
    if client is not None and client < server:
        raise BackupError(f"{tool} 的版本（{client}）低于数据库服务器（{server}）：请安装 PostgreSQL {server} 的客户端工具")
    completed = subprocess.run(  # nosec B603  # argument list, no shell; arguments are paths and options this module builds
        [program, *arguments], env=_pg_environment(url), capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise BackupError(f"{tool} 失败（退出码 {completed.returncode}）：{completed.stderr.strip()}")
