"""A stored document: one PDF file, immutable, one version of a series.

A *series* is what a document is about: its kind, its owner (a bank, a seed loan, a claim, a fund
or nothing) and its period (``YYYY-MM``, or none). Issuing the same document again adds the next
version of its series; an old version is never replaced, changed or deleted, so a copy an auditor
received can always be checked against the SHA-256 recorded here.

``UNIQUE(kind, owner_type, owner_id, period, version)`` is the rule as the specification states it;
SQL treats NULLs as distinct in a UNIQUE constraint, so for series without an owner or a period it
would not bite. ``series`` (the same four parts as one non-null text) with ``UNIQUE(series,
version)`` makes it hold for every document, on SQLite and PostgreSQL alike.

``bank_id`` is the bank the document belongs to for a liaison's scope (a bank statement, a claim's
notice, the contract the agent bank is party to); NULL: programme documents liaisons never see.
The bytes are deferred columns: a list never loads them.
"""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from core import clock
from core.db import UTCDateTime, db

KINDS = ("contract", "compensation_notice", "bank_statement", "fund_statement", "reconciliation", "progress")
OWNER_TYPES = ("bank", "seed_loan", "claim", "fund")


def series_key(kind: str, owner_type: str | None, owner_id: int | None, period: str | None) -> str:
    """``kind|owner_type|owner_id|period`` with empty parts for NULLs: the series a version belongs to."""
    return "|".join((kind, owner_type or "", "" if owner_id is None else str(owner_id), period or ""))


class Document(db.Model):
    __tablename__ = "documents"
    __table_args__ = (
        sa.UniqueConstraint("kind", "owner_type", "owner_id", "period", "version", name="uq_documents_version"),
        sa.UniqueConstraint("series", "version", name="uq_documents_series_version"),
        sa.CheckConstraint("version >= 1", name="positive_version"),
        sa.CheckConstraint("size > 0", name="positive_size"),
        sa.CheckConstraint("owner_id IS NULL OR owner_type IS NOT NULL", name="owner_has_type"),
        sa.Index("ix_documents_kind_period", "kind", "period"),
        sa.Index("ix_documents_bank_kind", "bank_id", "kind"),
        sa.Index("ix_documents_owner", "owner_type", "owner_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(32))
    title: Mapped[str] = mapped_column(sa.String(300))
    number: Mapped[str | None] = mapped_column(sa.String(64))  # 文件编号 printed in the footer
    period: Mapped[str | None] = mapped_column(sa.String(7))  # YYYY-MM
    # The date range a statement covers (a monthly one: the month; an on-demand one: any range).
    period_start: Mapped[date | None]
    period_end: Mapped[date | None]
    owner_type: Mapped[str | None] = mapped_column(sa.String(16))
    owner_id: Mapped[int | None]
    series: Mapped[str] = mapped_column(sa.String(120))
    bank_id: Mapped[int | None] = mapped_column(sa.ForeignKey("banks.id"))
    version: Mapped[int]
    sha256: Mapped[str] = mapped_column(sa.String(64))
    size: Mapped[int]
    content: Mapped[bytes] = deferred(mapped_column(sa.LargeBinary()))
    # A statement's underlying rows as an Excel workbook, stored with the PDF so both show one set of figures.
    rows_xlsx: Mapped[bytes | None] = deferred(mapped_column(sa.LargeBinary()))
    has_rows: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    created_by: Mapped[str] = mapped_column(sa.String(64))

    bank = relationship("Bank", lazy="joined")

    def __repr__(self) -> str:
        return f"<Document {self.id} {self.series} v{self.version}>"
