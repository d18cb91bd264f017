"""Reading documents with the caller's scope: the list, one document, its bytes.

A bank liaison sees only the documents of its own bank (``bank_id``); another bank's document, or a
programme document (no bank), is absent from its list and a 404 when asked for by id, exactly as if
it did not exist (api.md). Every other role sees every document.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import undefer

from core.auth.permissions import ensure_visible, scope_to_bank
from core.db import db
from core.documents.models import Document
from core.errors import NotFound
from core.i18n import _, _l

__all__ = [
    "KIND_LABELS",
    "MAX_PER_PAGE",
    "bank_choices",
    "kind_label",
    "series_versions",
    "visible_document",
    "visible_documents",
]

MAX_PER_PAGE = 200

KIND_LABELS: dict[str, Any] = {
    "contract": _l("借款合同"),
    "compensation_notice": _l("代偿通知书"),
    "bank_statement": _l("合作银行月度报表"),
    "fund_statement": _l("基金月度报表"),
    "reconciliation": _l("月度对账报告"),
    "progress": _l("项目进度报告"),
}


def kind_label(kind: str | None) -> str:
    label = KIND_LABELS.get(kind or "")
    return str(label) if label is not None else (kind or "")


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def visible_documents(
    *,
    kind: str | None = None,
    period: str | None = None,
    bank_id: int | None = None,
    owner_type: str | None = None,
    owner_id: int | None = None,
    search: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[Sequence[Document], int]:
    """One page of the documents the caller may see, newest first, and their total. Two queries.

    Filters: ``kind``, ``period`` (YYYY-MM), ``bank_id``, the owner, ``search`` in title and number.
    """
    query = scope_to_bank(sa.select(Document), Document.bank_id)
    if kind:
        query = query.where(Document.kind == kind)
    if period:
        query = query.where(Document.period == period)
    if bank_id is not None:
        query = query.where(Document.bank_id == bank_id)
    if owner_type:
        query = query.where(Document.owner_type == owner_type)
    if owner_id is not None:
        query = query.where(Document.owner_id == owner_id)
    if search and search.strip():
        pattern = f"%{_escape_like(search.strip())}%"
        query = query.where(
            sa.or_(Document.title.ilike(pattern, escape="\\"), Document.number.ilike(pattern, escape="\\"))
        )
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery())) or 0
    page, per_page = max(1, page), min(max(1, per_page), MAX_PER_PAGE)
    items = db.session.scalars(
        query.order_by(Document.created_at.desc(), Document.id.desc()).limit(per_page).offset((page - 1) * per_page)
    ).all()
    return items, total


def visible_document(document_id: int, *, with_content: bool = False, with_rows: bool = False) -> Document:
    """The document, or 404 (unknown, or not the liaison's bank). The bytes are loaded only when asked."""
    options = []
    if with_content:
        options.append(undefer(Document.content))
    if with_rows:
        options.append(undefer(Document.rows_xlsx))
    document = db.session.scalar(sa.select(Document).where(Document.id == document_id).options(*options))
    if document is None:
        raise NotFound(_("文件不存在"))
    ensure_visible(document.bank_id)
    return document


def series_versions(document: Document) -> Sequence[Document]:
    """Every version of the document's series the caller may see, newest first."""
    query = scope_to_bank(sa.select(Document).where(Document.series == document.series), Document.bank_id)
    return db.session.scalars(query.order_by(Document.version.desc())).all()


def bank_choices() -> list[tuple[int, str]]:
    """``(id, name)`` of every bank, by name, for the filters (read through the mapped relationship:
    core does not import the parties package)."""
    bank = Document.bank.property.mapper.class_
    return [(row.id, row.name) for row in db.session.execute(sa.select(bank.id, bank.name).order_by(bank.name))]
