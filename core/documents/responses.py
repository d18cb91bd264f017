"""HTTP responses for a stored document: the PDF's bytes and a statement's rows, as downloads.

The body is the stored bytes as they are (their SHA-256 is the listed one; nothing is re-rendered),
with the digest repeated in ``X-Content-SHA256`` and the ``ETag`` so a client can check a copy.
"""
from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

from flask import Response

from core.documents.models import Document
from core.documents.rows import XLSX_MIMETYPE
from core.errors import NotFound
from core.i18n import _

__all__ = ["pdf_response", "rows_response"]

_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


def _disposition(response: Response, name: str, fallback: str, *, inline: bool = False) -> None:
    """RFC 6266: the Chinese name for browsers (filename*), a readable ASCII one for older clients."""
    ascii_name = unicodedata.normalize("NFKD", fallback).encode("ascii", "ignore").decode("ascii") or "document"
    response.headers.set(
        "Content-Disposition",
        "inline" if inline else "attachment",
        filename=ascii_name,
        **{"filename*": "UTF-8''" + quote(_UNSAFE.sub("-", name), safe="!#$&+-.^_`|~")},
    )


def _names(document: Document, extension: str, suffix: str = "") -> tuple[str, str]:
    version = f"（第{document.version}版）" if document.version > 1 else ""
    name = f"{document.title}{suffix}{version}.{extension}"
    reference = document.number or str(document.id)
    fallback = f"{document.kind}-{reference}-v{document.version}{'-rows' if suffix else ''}.{extension}"
    return name, fallback


def pdf_response(document: Document, *, inline: bool = False) -> Response:
    """The stored PDF, ``application/pdf``; as an attachment unless ``inline``."""
    response = Response(document.content, mimetype="application/pdf")
    _disposition(response, *_names(document, "pdf"), inline=inline)
    response.headers["X-Content-SHA256"] = document.sha256
    response.set_etag(document.sha256)
    response.headers["Cache-Control"] = "private, no-store"  # a bank's or a fund's papers: no shared caches
    return response


def rows_response(document: Document) -> Response:
    """The statement's underlying rows (``.xlsx``); 404 for a document that has none."""
    if not document.has_rows or document.rows_xlsx is None:
        raise NotFound(_("该文件没有可下载的明细数据"))
    response = Response(document.rows_xlsx, mimetype=XLSX_MIMETYPE)
    _disposition(response, *_names(document, "xlsx", _("明细")))
    response.headers["Cache-Control"] = "private, no-store"
    return response
