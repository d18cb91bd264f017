"""The migrations build exactly the schema the models declare (no drift), on the test's backend.

``flask db upgrade`` runs as operators run it (a subprocess with DATABASE_URL) against a fresh,
empty database; Alembic's comparison of that database with the models must find nothing, and
the database-level guards (ledger zero-sum, append-only audit trail) must exist.
"""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from core.audit.models import AUDIT_GUARD_TRIGGERS
from core.db import db
from core.ledger.models import LEDGER_GUARD_TRIGGERS

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def empty_database(app_ctx, tmp_path):
    """A brand-new database on the same backend as the suite, dropped afterwards."""
    url = db.engine.url
    if url.get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrated.db'}"
        return
    name = f"{url.database}_mig_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def flask_db(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": url, "APP_ENV": "development"}
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )


def trigger_names(engine: sa.Engine) -> set[str]:
    query = (
        "SELECT name FROM sqlite_master WHERE type = 'trigger'"
        if engine.dialect.name == "sqlite"
        else "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
    )
    with engine.connect() as conn:
        return set(conn.execute(sa.text(query)).scalars())


def test_migrations_match_the_models(empty_database):
    result = flask_db(empty_database, "upgrade")
    assert result.returncode == 0, result.stderr

    engine = sa.create_engine(empty_database.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences = compare_metadata(context, db.metadata)
        assert differences == [], f"models and migrations differ: {differences}"
        missing = (set(AUDIT_GUARD_TRIGGERS) | set(LEDGER_GUARD_TRIGGERS)) - trigger_names(engine)
        assert not missing, f"guards missing from the migrated schema: {missing}"
    finally:
        engine.dispose()

    # The history is reversible: downgrading to base leaves no table behind.
    result = flask_db(empty_database, "downgrade", "base")
    assert result.returncode == 0, result.stderr
    engine = sa.create_engine(empty_database.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
