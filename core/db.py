"""The database handle, the declarative base and the column types shared by every package.

Why a naming convention: Alembic can only drop or alter a constraint it can name, and
SQLite cannot name them by itself, so every constraint gets a predictable name.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class Session(FlaskSession):
    """Flask-SQLAlchemy's session, except that an explicit ``bind`` wins.

    The test suite pins every session to one connection inside an outer transaction
    (rolled back after each test); Flask-SQLAlchemy would otherwise always pick the engine.
    """

    def get_bind(self, mapper: Any = None, clause: Any = None, bind: Any = None, **kwargs: Any):
        if bind is None and self.bind is not None:
            return self.bind
        return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)


db = SQLAlchemy(model_class=Base, session_options={"class_": Session})


class UTCDateTime(sa.TypeDecorator):
    """An instant stored in UTC and always handed out timezone-aware.

    SQLite has no time zones; without this, the same row would read back naive there and
    aware on PostgreSQL, and the audit hash chain would differ between the two.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: store instants timezone-aware")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


@event.listens_for(Engine, "connect")
def _sqlite_connect(dbapi_connection: Any, connection_record: Any) -> None:
    """SQLite: enforce foreign keys, wait for locks instead of failing, and let SQLAlchemy own BEGIN."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        # pysqlite's own transaction handling defers BEGIN and breaks SAVEPOINT; we emit BEGIN ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        # WAL lets the pages read while a batch import writes.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin(conn: sa.Connection) -> None:
    """SQLite: take the write lock at BEGIN so check-then-write sequences are serialised.

    This is SQLite's equivalent of ``SELECT ... FOR UPDATE``: two writers can never both read
    the same balance and then both spend it.
    """
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def is_postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


class ScaledDecimal(sa.TypeDecorator):
    """An exact decimal with a fixed number of places, stored as a scaled integer.

    For rates and ratios (``0.0345`` is stored as 34500 millionths). SQLite keeps NUMERIC as
    binary floating point, so an integer column is the only exact choice on both backends.
    """

    impl = sa.BigInteger
    cache_ok = True

    def __init__(self, places: int = 6) -> None:
        super().__init__()
        self.places = places
        self._scale = 10**places

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> int | None:
        from decimal import Decimal

        if value is None:
            return None
        if isinstance(value, float) or not isinstance(value, (Decimal, int)):
            raise TypeError(f"ScaledDecimal takes Decimal or int, not {type(value).__name__}")
        scaled = Decimal(value) * self._scale
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{value} has more than {self.places} decimal places")
        return int(scaled)

    def process_result_value(self, value: Any, dialect: sa.Dialect):
        from decimal import Decimal

        if value is None:
            return None
        return (Decimal(int(value)) / self._scale).quantize(Decimal(1).scaleb(-self.places))


def engine_options(url: str) -> dict:
    """Connection options per backend.

    PostgreSQL: JIT compilation is off. This application's queries are short OLTP statements and
    page aggregates; the JIT's compile time (tens of ms, more on bloated tables) costs far more
    than it saves on them.
    """
    options: dict = {"pool_pre_ping": True}
    if url.startswith("postgresql"):
        options["connect_args"] = {"options": "-c jit=off"}
    return options
