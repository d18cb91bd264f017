"""The floor bench/api.py measures the product's disbursement endpoint against: a minimal Flask-SQLAlchemy app.

One POST endpoint that inserts one row and commits: JSON in, ``201 {"id": ...}`` out, no
authentication, no validation beyond reading the fields, no audit, no ledger. It is what a write
endpoint costs with the same framework, ORM, driver and gunicorn settings and nothing else.

Served by gunicorn (``gunicorn --chdir bench minimal_app:app``), with ``MINIMAL_DATABASE_URL`` naming
its database (bench/api.py creates its table first). On SQLite it uses the product's connection settings
(WAL, a busy timeout) so both sides wait for the file lock the same way.
"""
from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from flask import Flask, jsonify, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import Mapped, mapped_column

db = SQLAlchemy()


class Record(db.Model):
    __tablename__ = "records"

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_ref: Mapped[str] = mapped_column(sa.String(64), unique=True)
    amount: Mapped[int]  # fen
    created_at: Mapped[datetime] = mapped_column(default=lambda: datetime.now(timezone.utc))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()


def create_app(database_url: str, *, create_tables: bool = False) -> Flask:
    """The app; ``create_tables`` once, before the workers start (bench/api.py does it)."""
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = database_url
    db.init_app(app)
    with app.app_context():
        sa.event.listen(db.engine, "connect", _sqlite_pragmas)
        if create_tables:
            db.create_all()

    @app.post("/records")
    def create_record():
        body = request.get_json()
        record = Record(bank_ref=body["bank_ref"], amount=int(body["amount"].replace(".", "")))
        db.session.add(record)
        db.session.commit()
        return jsonify(id=record.id), 201

    return app


app = create_app(os.environ["MINIMAL_DATABASE_URL"]) if "MINIMAL_DATABASE_URL" in os.environ else None
