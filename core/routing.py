"""Ids in paths are database keys, so a number no key column can hold is simply not found (404).

Werkzeug's ``<int:...>`` accepts any length of digits, and such a number reached the database:
SQLite refuses to bind an integer beyond 64 bits (``OverflowError``) and PostgreSQL refuses to
compare an ``integer`` key with a value beyond 32 bits ("integer out of range"), both a 500 for
``/api/v1/loans/99999999999`` (and the same web pages). The check runs on the matched values,
not in the converter: a converter refusing a value makes Werkzeug answer 405 when another rule
has the same path for another method, and an unknown id is a 404 whatever the method.
"""
from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.exceptions import NotFound

# Every key a path names is an INTEGER column (32-bit signed on PostgreSQL).
MAX_DATABASE_ID = 2**31 - 1


def refuse_ids_beyond_any_key(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """``url_value_preprocessor``: 404 before the view when an integer path value cannot be a key."""
    for value in (values or {}).values():
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_DATABASE_ID:
            raise NotFound()


def register_id_bounds(app: Flask) -> None:
    app.url_value_preprocessor(refuse_ids_beyond_any_key)
