"""Storing documents: the SHA-256, the next version of a series, never a replacement.

``store_document`` flushes and never commits (the request or the job that renders is the unit of
work). Two writers issuing the same series at once both compute the same next version; the UNIQUE
constraint on ``(series, version)`` then refuses the second at flush or commit, and nothing of it is
kept: it runs again and becomes the next version. A version is never overwritten.
"""
from __future__ import annotations

import calendar
import hashlib
import re
from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa

from core import clock
from core.db import db
from core.documents.models import KINDS, OWNER_TYPES, Document, series_key

__all__ = [
    "PERIOD_PATTERN",
    "documents_of",
    "latest_document",
    "next_version",
    "period_bounds",
    "period_of",
    "sha256_hex",
    "store_document",
]

PERIOD_PATTERN = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")


def period_bounds(period: str) -> tuple[date, date]:
    """``"2025-06"`` -> (2025-06-01, 2025-06-30); ValueError for anything but ``YYYY-MM``."""
    match = PERIOD_PATTERN.fullmatch(period or "")
    if match is None:
        raise ValueError(f"period must be YYYY-MM, got {period!r}")
    year, month = int(match.group(1)), int(match.group(2))
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def period_of(start: date, end: date) -> str | None:
    """The ``YYYY-MM`` period when ``start``–``end`` is exactly one calendar month, else None."""
    period = f"{start.year:04d}-{start.month:02d}"
    return period if (start, end) == period_bounds(period) else None


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def next_version(kind: str, owner_type: str | None = None, owner_id: int | None = None, period: str | None = None) -> int:
    """The version the next document of this series will get (1 for a new series)."""
    latest = db.session.scalar(
        sa.select(sa.func.max(Document.version)).where(Document.series == series_key(kind, owner_type, owner_id, period))
    )
    return (latest or 0) + 1


def store_document(
    *,
    kind: str,
    title: str,
    pdf_bytes: bytes,
    period: str | None = None,
    owner_type: str | None = None,
    owner_id: int | None = None,
    bank_id: int | None = None,
    created_by: str,
    number: str | None = None,
    version: int | None = None,
    period_start: date | None = None,
    period_end: date | None = None,
    rows_xlsx: bytes | None = None,
) -> Document:
    """Record ``pdf_bytes`` as the next version of its series (kind, owner, period) and flush.

    The SHA-256 and size are computed here, from the very bytes stored. ``version`` may be given when
    the renderer printed it in the document (from :func:`next_version`); it must still be the next
    one, or the UNIQUE constraint refuses it (a concurrent writer took it). A monthly ``period``
    fills ``period_start``/``period_end`` when they are not given.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown document kind {kind!r}")
    if owner_type is not None and owner_type not in OWNER_TYPES:
        raise ValueError(f"unknown owner type {owner_type!r}")
    if owner_id is not None and owner_type is None:
        raise ValueError("owner_id needs an owner_type")
    if not pdf_bytes.startswith(b"%PDF-"):
        raise ValueError("pdf_bytes is not a PDF file")
    if period is not None:
        first, last = period_bounds(period)
        period_start, period_end = period_start or first, period_end or last
    document = Document(
        kind=kind,
        title=title,
        number=number,
        period=period,
        period_start=period_start,
        period_end=period_end,
        owner_type=owner_type,
        owner_id=owner_id,
        series=series_key(kind, owner_type, owner_id, period),
        bank_id=bank_id,
        version=version if version is not None else next_version(kind, owner_type, owner_id, period),
        sha256=sha256_hex(pdf_bytes),
        size=len(pdf_bytes),
        content=pdf_bytes,
        rows_xlsx=rows_xlsx,
        has_rows=rows_xlsx is not None,
        created_at=clock.now(),
        created_by=str(created_by),
    )
    db.session.add(document)
    db.session.flush()
    return document


def latest_document(kind: str, owner_type: str | None, owner_id: int | None, period: str | None) -> Document | None:
    """The newest version of a series, or None when nothing was issued for it yet."""
    return db.session.scalar(
        sa.select(Document)
        .where(Document.series == series_key(kind, owner_type, owner_id, period))
        .order_by(Document.version.desc())
        .limit(1)
    )


def documents_of(kind: str, owner_type: str | None, owner_id: int | None, period: str | None) -> Sequence[Document]:
    """Every version of a series, newest first."""
    return db.session.scalars(
        sa.select(Document)
        .where(Document.series == series_key(kind, owner_type, owner_id, period))
        .order_by(Document.version.desc())
    ).all()
