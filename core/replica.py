"""Reports read from a PostgreSQL read replica when one is configured.

Reports (programme progress, pool and fund overviews, statements' figures) are the heaviest reads and
tolerate a few seconds of replication lag; recording money never does. A view marked
``@reads_from_replica`` runs its queries on ``REPORTS_DATABASE_URL`` when that is set and on the
primary otherwise, so one code path serves a single-host deployment and a scaled-out one.

Only GET views that write nothing may carry the mark: a hot standby refuses writes, which is the
guard that a report never records anything by accident.
"""
from __future__ import annotations

import threading
from functools import wraps
from typing import Any, Callable, TypeVar

import sqlalchemy as sa
from flask import current_app

from core.db import db, engine_options

F = TypeVar("F", bound=Callable[..., Any])

_ENGINE_KEY = "reports_engine"
_lock = threading.Lock()


def reports_engine() -> sa.Engine | None:
    """The replica's engine, created on first use; ``None`` when no replica is configured."""
    url = current_app.config.get("REPORTS_DATABASE_URL")
    if not url:
        return None
    engines = current_app.extensions
    if _ENGINE_KEY not in engines:
        with _lock:
            if _ENGINE_KEY not in engines:
                engines[_ENGINE_KEY] = sa.create_engine(url, **engine_options(url))
    return engines[_ENGINE_KEY]


def reads_from_replica(view: F) -> F:
    """Run this read-only view's queries on the reports replica, when there is one.

    The caller is already authenticated on the primary (``before_request``), so the replica serves
    only the report's own reads; the previous bind is restored afterwards.
    """

    @wraps(view)
    def on_replica(*args: Any, **kwargs: Any) -> Any:
        engine = reports_engine()
        if engine is None:
            return view(*args, **kwargs)
        session = db.session()
        previous = session.bind
        session.bind = engine
        try:
            return view(*args, **kwargs)
        finally:
            session.bind = previous

    return on_replica  # type: ignore[return-value]
