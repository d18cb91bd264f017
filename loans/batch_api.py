"""Batch and tape API (api.md "Knowledge-value credit loans").

- ``POST /loans/batch`` and ``POST /loans/repayments/batch`` (bank liaison): a CSV or XLSX
  file (multipart ``file``) recorded for the liaison's own bank, all rows or none:
  201 ``{rows, created, duplicates, total_amount}``, or 422 whose ``errors`` maps every bad
  row number to its Chinese messages (``file`` when the file as a whole is unreadable).
- ``GET /loans/batch/template``: the empty template, CSV (UTF-8 with BOM) or XLSX.
- ``POST /banks/{id}/tapes`` (the liaison of that bank; another bank: 404), ``GET
  /banks/{id}/tapes`` and ``GET /tapes/{id}`` (everyone, a liaison only its own bank's).

Uploads are bounded by ``MAX_CONTENT_LENGTH`` (413 in the API's error shape).
"""
from __future__ import annotations

from functools import wraps
from typing import Any, Callable

import marshmallow as ma
from flask import Response
from flask_login import current_user
from flask_smorest import Blueprint
from flask_smorest.fields import Upload
from marshmallow import validate
from webargs.flaskparser import FlaskParser
from werkzeug.datastructures import CombinedMultiDict, FileStorage

from core.auth.models import ROLE_VALUES, Role
from core.auth.permissions import ensure_acts_for_own_bank, ensure_visible, roles_required
from core.db import db
from core.errors import NotFound
from core.i18n import _l
from core.money import AmountField
from loans import batch
from loans.batch_format import template_csv, template_xlsx
from parties.models import Bank

BEARER = [{"bearerAuth": []}]
MAX_PER_PAGE = 200
REQUIRED = {"required": _l("此字段为必填项"), "null": _l("此字段不能为空")}

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class MultipartParser(FlaskParser):
    """webargs with a ``multipart`` location: form fields and files of one multipart body.

    webargs reads ``form`` and ``files`` separately, and flask-smorest documents only one
    request body per operation; one location keeps the OpenAPI document right (a single
    ``multipart/form-data`` body with the file and the other fields).
    """

    __location_map__ = dict(multipart="load_multipart", **FlaskParser.__location_map__)

    def load_multipart(self, req: Any, schema: ma.Schema) -> Any:
        # Files first: a text field named like the file must not shadow the upload.
        return self._makeproxy(CombinedMultiDict([req.files, req.form]), schema)


class UploadBlueprint(Blueprint):
    ARGUMENTS_PARSER = MultipartParser()
    DEFAULT_LOCATION_CONTENT_TYPE_MAPPING = {
        **Blueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
        "multipart": "multipart/form-data",
    }


blueprint = UploadBlueprint(
    "loans_batch_api",
    __name__,
    description="批量导入放款与还款、银行月末贷款台账（银行联络员上传本行数据）",
)


# --------------------------------------------------------------------------------- schemas


class FileUpload(Upload):
    """A multipart file part (a plain text field of the same name is refused, not read as a file)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> FileStorage:
        if not isinstance(value, FileStorage):
            raise ma.ValidationError(str(self.error_messages["invalid"]))
        return value


def _upload() -> FileUpload:
    return FileUpload(
        required=True,
        error_messages={**REQUIRED, "invalid": _l("应上传文件")},
        metadata={"description": "CSV (UTF-8 or GB18030) or Excel .xlsx"},
    )


class BatchUploadSchema(ma.Schema):
    file = _upload()


class TapeUploadSchema(ma.Schema):
    file = _upload()
    # Checked by the service (format, not in the future), so the message is the same everywhere.
    period = ma.fields.String(
        required=True,
        error_messages={**REQUIRED, "invalid": _l("应为文本")},
        metadata={"description": "Month of the tape, YYYY-MM, not in the future", "example": "2025-06"},
    )


class BatchResultSchema(ma.Schema):
    kind = ma.fields.String(metadata={"description": "disbursements or repayments"})
    rows = ma.fields.Integer(metadata={"description": "Data rows in the file"})
    created = ma.fields.Integer(metadata={"description": "Records written by this upload"})
    duplicates = ma.fields.Integer(metadata={"description": "Rows already recorded with the same bank_ref and content"})
    total_amount = AmountField(metadata={"description": "Sum of the file's amounts (repayments: principal)"})
    created_amount = AmountField(metadata={"description": "Sum of the amounts written by this upload"})
    total_interest = AmountField(allow_none=True, metadata={"description": "Repayments only: sum of the interest"})


class TemplateQuerySchema(ma.Schema):
    format = ma.fields.String(
        load_default="xlsx",
        validate=validate.OneOf(["csv", "xlsx"], error=_l("格式应为 csv 或 xlsx")),
    )
    kind = ma.fields.String(
        load_default="disbursements",
        validate=validate.OneOf(list(batch.TEMPLATE_LAYOUTS), error=_l("模板类型应为 disbursements、repayments 或 tape")),
    )
    lang = ma.fields.String(
        load_default="zh",
        validate=validate.OneOf(["zh", "en"], error=_l("表头语言应为 zh 或 en")),
    )


class TapeSchema(ma.Schema):
    id = ma.fields.Integer()
    bank_id = ma.fields.Integer()
    period = ma.fields.String()
    version = ma.fields.Integer()
    filename = ma.fields.String()
    sha256 = ma.fields.String()
    row_count = ma.fields.Integer()
    uploaded_by = ma.fields.String()
    uploaded_at = ma.fields.AwareDateTime(format="iso")


class TapeRowSchema(ma.Schema):
    row_number = ma.fields.Integer()
    contract_no = ma.fields.String()
    credit_code = ma.fields.String()
    disbursed_total = AmountField()
    repaid_principal = AmountField()
    outstanding_principal = AmountField()
    days_past_due = ma.fields.Integer()


class TapeDetailSchema(TapeSchema):
    rows = ma.fields.List(ma.fields.Nested(TapeRowSchema))


class TapeListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(TapeSchema))
    total = ma.fields.Integer()


class TapeQuerySchema(ma.Schema):
    period = ma.fields.String(
        load_default=None,
        validate=validate.Regexp(r"^[0-9]{4}-(0[1-9]|1[0-2])$", error=_l("期间应为 YYYY-MM 格式的月份，例如 2025-06")),
    )
    page = ma.fields.Integer(
        load_default=1,
        validate=validate.Range(min=1, error=_l("页码至少为 1")),
        error_messages={"invalid": _l("应为整数")},
    )
    per_page = ma.fields.Integer(
        load_default=50,
        validate=validate.Range(min=1, max=MAX_PER_PAGE, error=_l("每页条数应在 1 到 200 之间")),
        error_messages={"invalid": _l("应为整数")},
    )


# ------------------------------------------------------------------------------- helpers


def own_bank_only(view: Callable[..., Any]) -> Callable[..., Any]:
    """404 for a liaison acting on another bank, checked before the upload is read."""

    @wraps(view)
    def wrapper(*args: Any, bank_id: int, **kwargs: Any) -> Any:
        ensure_acts_for_own_bank(bank_id)
        return view(*args, bank_id=bank_id, **kwargs)

    return wrapper


def _bank_or_404(bank_id: int) -> Bank:
    """The bank, 404 when unknown or (for a liaison) not its own."""
    ensure_visible(bank_id)
    bank = db.session.get(Bank, bank_id)
    if bank is None:
        raise NotFound()
    return bank


def _uploaded(body: dict[str, Any]) -> tuple[bytes, str]:
    upload = body["file"]
    return upload.read(), upload.filename or ""


# -------------------------------------------------------------------------------- batches


@blueprint.route("/loans/batch", methods=["POST"])
@blueprint.doc(security=BEARER, summary="Import a batch of disbursements for the liaison's bank (all rows or none)")
@blueprint.response(201, BatchResultSchema)
@blueprint.alt_response(413, response="PAYLOAD_TOO_LARGE", description="Upload too large")
@roles_required(Role.BANK_LIAISON)
@blueprint.arguments(BatchUploadSchema, location="multipart")
def disbursements_batch(body: dict[str, Any]):
    data, filename = _uploaded(body)
    return batch.import_disbursements(current_user.bank_id, data, filename, current_user.username)


@blueprint.route("/loans/repayments/batch", methods=["POST"])
@blueprint.doc(security=BEARER, summary="Import a batch of repayments for the liaison's bank (all rows or none)")
@blueprint.response(201, BatchResultSchema)
@blueprint.alt_response(413, response="PAYLOAD_TOO_LARGE", description="Upload too large")
@roles_required(Role.BANK_LIAISON)
@blueprint.arguments(BatchUploadSchema, location="multipart")
def repayments_batch(body: dict[str, Any]):
    data, filename = _uploaded(body)
    return batch.import_repayments(current_user.bank_id, data, filename, current_user.username)


@blueprint.route("/loans/batch/template", methods=["GET"])
@blueprint.doc(
    security=BEARER,
    summary="Download an empty upload template (disbursements, repayments or loan tape)",
    responses={
        200: {
            "description": "The template file",
            "content": {
                CSV_TYPE: {"schema": {"type": "string"}},
                XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
)
@roles_required(*ROLE_VALUES)
@blueprint.arguments(TemplateQuerySchema, location="query")
def batch_template(args: dict[str, Any]):
    return template_response(args["kind"], args["format"], args["lang"])


def template_response(kind: str, file_format: str, lang: str) -> Response:
    """The template as a download (shared with the web page)."""
    layout = batch.TEMPLATE_LAYOUTS[kind]
    if file_format == "csv":
        body, mimetype = template_csv(layout, lang), CSV_TYPE
    else:
        body, mimetype = template_xlsx(layout, lang), XLSX_TYPE
    filename = f"{layout.name}-template-{lang}.{file_format}"
    response = Response(body, content_type=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# ---------------------------------------------------------------------------------- tapes


@blueprint.route("/banks/<int:bank_id>/tapes", methods=["POST"])
@blueprint.doc(security=BEARER, summary="Upload the bank's month-end loan tape (liaison of that bank)")
@blueprint.response(201, TapeSchema)
@blueprint.alt_response(413, response="PAYLOAD_TOO_LARGE", description="Upload too large")
@roles_required(Role.BANK_LIAISON)
@own_bank_only
@blueprint.arguments(TapeUploadSchema, location="multipart")
def tapes_upload(body: dict[str, Any], bank_id: int):
    data, filename = _uploaded(body)
    return batch.upload_tape(bank_id, body["period"], data, filename, current_user.username)


@blueprint.route("/banks/<int:bank_id>/tapes", methods=["GET"])
@blueprint.doc(security=BEARER, summary="The bank's uploaded tapes, newest first (a liaison: own bank only)")
@blueprint.response(200, TapeListSchema)
@roles_required(*ROLE_VALUES)
@blueprint.arguments(TapeQuerySchema, location="query")
def tapes_list(args: dict[str, Any], bank_id: int):
    _bank_or_404(bank_id)
    items, total = batch.list_tapes(bank_id, period=args["period"], page=args["page"], per_page=args["per_page"])
    return {"items": items, "total": total}


@blueprint.route("/tapes/<int:tape_id>", methods=["GET"])
@blueprint.doc(security=BEARER, summary="One tape with its rows (a liaison: own bank only)")
@blueprint.response(200, TapeDetailSchema)
@roles_required(*ROLE_VALUES)
def tapes_get(tape_id: int):
    tape = batch.get_tape(tape_id)
    ensure_visible(tape.bank_id)
    return tape
