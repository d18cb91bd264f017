"""Documents API (api.md "Documents, jobs, reconciliation"): list, download, on-demand statements.

Everyone signed in may list and download; a bank liaison only its own bank's documents (another
bank's is absent from the list and a 404 by id). Auditors ask for a statement of any bank or fund
over any date range; it is rendered, stored as a new document version and listed like the others,
and its underlying rows download as Excel (formula-neutralised).
"""
from __future__ import annotations

from typing import Any

from flask_login import current_user
from flask_smorest import Blueprint

from core.auth.models import ROLE_VALUES, Role
from core.auth.permissions import roles_required
from core.documents import queries
from core.documents.rows import XLSX_MIMETYPE
from core.documents.responses import pdf_response, rows_response
from core.documents.schemas import DocumentListSchema, DocumentQuerySchema, DocumentSchema, StatementCreateSchema
from core.documents.statements import StatementRequest, build_statement

blueprint = Blueprint(
    "documents_api",
    __name__,
    description="文件：合同、代偿通知书、月度报表、对账报告、进度报告（PDF，含 SHA-256 与版本）；审计人员按需出具报表",
)

BEARER = [{"bearerAuth": []}]
READERS = ROLE_VALUES
STATEMENT_REQUESTERS = (Role.AUDITOR.value,)
PDF_CONTENT = {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}
XLSX_CONTENT = {XLSX_MIMETYPE: {"schema": {"type": "string", "format": "binary"}}}


@blueprint.route("/documents", methods=["GET"])
@blueprint.doc(
    security=BEARER,
    summary="Stored documents, newest first (a liaison: its own bank's only)",
    description=(
        "Filters: `kind`, `period` (YYYY-MM), `bank_id`, `owner_type`/`owner_id`, `q` (title or number). "
        "A contract's title contains its contract number; a statement's names its bank or fund and period. "
        "Every version of a document is listed: a new version never replaces an old one."
    ),
)
@blueprint.response(200, DocumentListSchema)
@roles_required(*READERS)
@blueprint.arguments(DocumentQuerySchema, location="query")
def documents_list(args: dict[str, Any]):
    items, total = queries.visible_documents(
        kind=args["kind"],
        period=args["period"],
        bank_id=args["bank_id"],
        owner_type=args["owner_type"],
        owner_id=args["owner_id"],
        search=args["q"],
        page=args["page"],
        per_page=args["per_page"],
    )
    return {"items": items, "total": total}


@blueprint.route("/documents/<int:document_id>", methods=["GET"])
@blueprint.doc(security=BEARER, summary="One document's record (404 for another bank's, to a liaison)")
@blueprint.response(200, DocumentSchema)
@roles_required(*READERS)
def documents_get(document_id: int):
    return queries.visible_document(document_id)


@blueprint.route("/documents/<int:document_id>/pdf", methods=["GET"])
@blueprint.doc(
    security=BEARER,
    summary="The document's PDF: the stored bytes, whose SHA-256 equals the listed `sha256`",
    responses={200: {"description": "The PDF (also `X-Content-SHA256` and `ETag`)", "content": PDF_CONTENT}},
)
@roles_required(*READERS)
def documents_pdf(document_id: int):
    return pdf_response(queries.visible_document(document_id, with_content=True))


@blueprint.route("/statements", methods=["POST"])
@blueprint.doc(
    security=BEARER,
    summary="A statement of any bank or fund over any date range, on demand (auditor)",
    description=(
        "Body: `bank_id` or `fund` (`seed`, `risk`), `start`, `end` (inclusive, not after today). The statement "
        "is rendered now, stored as a `bank_statement` or `fund_statement` document (period set when the range "
        "is exactly one calendar month, so it becomes the next version of that month's statement) and returned "
        "with its `pdf_url` and `rows_url` (its underlying rows as Excel). 422: no or both owners, an unknown "
        "bank or fund, a bad range."
    ),
)
@blueprint.response(201, DocumentSchema)
@roles_required(*STATEMENT_REQUESTERS)
@blueprint.arguments(StatementCreateSchema)
def statements_create(body: dict[str, Any]):
    return build_statement(
        StatementRequest(
            start=body["start"],
            end=body["end"],
            bank_id=body["bank_id"],
            fund=body["fund"],
            created_by=current_user.username,
        )
    )


@blueprint.route("/statements/<int:document_id>/rows.xlsx", methods=["GET"])
@blueprint.doc(
    security=BEARER,
    summary="A statement's underlying rows as Excel (every text cell formula-neutralised)",
    description="One sheet per table of the statement's PDF, amounts as numbers. 404 for a document without rows.",
    responses={200: {"description": "The workbook", "content": XLSX_CONTENT}},
)
@roles_required(*READERS)
def statements_rows(document_id: int):
    return rows_response(queries.visible_document(document_id, with_rows=True))
