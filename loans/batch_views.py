"""Pages for bank liaisons: batch imports (放款、还款) and the month-end loan tapes (贷款台账).

A refused upload re-renders its page with the refusal's status (422), so the unit of work
rolls back anything the request flushed; the page lists every bad row (行号, 错误).
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Regexp

from core import clock
from core.auth.models import ROLE_VALUES, Role
from core.auth.permissions import ensure_visible, roles_required
from core.errors import ValidationFailed
from core.i18n import _, _l
from loans import batch
from loans.batch_api import template_response

blueprint = Blueprint("loans_batch", __name__)

TAPES_PER_PAGE = 50
SHOWN_LINES = 1000  # a 10,000-row batch is summarised, not listed in full on the result page
KIND_LABELS = {"disbursements": _l("放款"), "repayments": _l("还款"), "tape": _l("贷款台账")}
_ALLOWED = FileAllowed(["csv", "xlsx"], message=_l("只支持 CSV（.csv）和 Excel（.xlsx）文件"))


class BatchUploadForm(FlaskForm):
    kind = SelectField(
        _l("导入内容"),
        choices=[SelectChoice("disbursements", _l("放款明细")), SelectChoice("repayments", _l("还款明细"))],
        default="disbursements",
        validators=[DataRequired(message=_l("请选择导入内容"))],
    )
    file = FileField(
        _l("文件"),
        validators=[FileRequired(message=_l("请选择要上传的文件")), _ALLOWED],
        description=_l("CSV（UTF-8 或 Excel 另存的 GB18030）或 Excel（.xlsx），表头可用中文或英文；全部行无误才会导入。"),
    )


class TapeUploadForm(FlaskForm):
    period = StringField(
        _l("台账月份"),
        validators=[
            DataRequired(message=_l("请选择台账月份")),
            Regexp(r"^[0-9]{4}-(0[1-9]|1[0-2])$", message=_l("期间应为 YYYY-MM 格式的月份，例如 2025-06")),
        ],
        description=_l("月末台账所属月份；同一月份再次上传会生成新版本。"),
    )
    file = FileField(
        _l("台账文件"),
        validators=[FileRequired(message=_l("请选择要上传的文件")), _ALLOWED],
        description=_l("CSV 或 Excel（.xlsx），列：合同编号、统一社会信用代码、累计放款、累计还本、贷款余额、逾期天数。"),
    )


def _split_errors(errors: dict[str, Any]) -> tuple[list[tuple[int, list[str]]], list[str]]:
    """Row-numbered errors (行号, messages) in row order, and the file-level ones."""
    rows: list[tuple[int, list[str]]] = []
    general: list[str] = []
    for key, messages in errors.items():
        texts = [str(message) for message in (messages if isinstance(messages, (list, tuple)) else [messages])]
        if str(key).isdigit():
            rows.append((int(key), texts))
        else:
            general.extend(texts)
    rows.sort(key=lambda item: item[0])
    return rows, general


def _int_arg(name: str, default: int) -> int:
    try:
        return max(1, int(request.args.get(name, default)))
    except (TypeError, ValueError):
        return default


def _template_links() -> list[dict[str, Any]]:
    return [
        {"kind": kind, "label": KIND_LABELS[kind]}
        for kind in ("disbursements", "repayments")
    ]


# --------------------------------------------------------------------------------- batches


@blueprint.route("/loans/batch", methods=["GET", "POST"])
@roles_required(Role.BANK_LIAISON)
def batch_import():
    form = BatchUploadForm()
    if form.validate_on_submit():
        upload = form.file.data
        kind = form.kind.data
        try:
            result = batch.import_batch(
                kind, current_user.bank_id, upload.read(), upload.filename or "", current_user.username
            )
        except ValidationFailed as refusal:
            rows, general = _split_errors(refusal.errors)
            return (
                render_template(
                    "loans/batch_result.html",
                    result=None,
                    kind=kind,
                    kind_label=KIND_LABELS[kind],
                    filename=upload.filename,
                    message=refusal.message,
                    error_rows=rows,
                    general_errors=general,
                    shown_lines=SHOWN_LINES,
                ),
                422,
            )
        return render_template(
            "loans/batch_result.html",
            result=result,
            kind=kind,
            kind_label=KIND_LABELS[kind],
            filename=upload.filename,
            message=None,
            error_rows=[],
            general_errors=[],
            shown_lines=SHOWN_LINES,
        )
    return (
        render_template("loans/batch.html", form=form, templates=_template_links()),
        422 if form.errors else 200,
    )


@blueprint.get("/loans/batch/template")
@roles_required(*ROLE_VALUES)
def batch_template():
    kind = request.args.get("kind", "disbursements")
    file_format = request.args.get("format", "xlsx")
    lang = request.args.get("lang", "zh")
    if kind not in batch.TEMPLATE_LAYOUTS or file_format not in ("csv", "xlsx") or lang not in ("zh", "en"):
        raise ValidationFailed(_("模板参数有误"))
    return template_response(kind, file_format, lang)


# ----------------------------------------------------------------------------------- tapes


def _tapes_page(form: TapeUploadForm, status: int = 200, refusal: ValidationFailed | None = None):
    period = (request.args.get("period") or "").strip() or None
    page = _int_arg("page", 1)
    # A liaison sees its own bank's tapes; the other roles read every bank's.
    bank_id = current_user.bank_id if current_user.is_liaison else None
    tapes, total = batch.list_tapes(bank_id, period=period, page=page, per_page=TAPES_PER_PAGE)
    rows, general = _split_errors(refusal.errors) if refusal is not None else ([], [])
    if refusal is not None:
        # Field problems (the period) are shown under the field, not in the row table.
        for message in refusal.errors.get("period", []):
            form.period.errors = list(form.period.errors) + [message]
        general = [message for message in general if message not in refusal.errors.get("period", [])]
    return (
        render_template(
            "loans/tapes.html",
            form=form,
            tapes=tapes,
            total=total,
            page=page,
            per_page=TAPES_PER_PAGE,
            period=period or "",
            can_upload=current_user.is_liaison,
            refusal=refusal,
            error_rows=rows,
            general_errors=general,
            this_month=clock.today().strftime("%Y-%m"),
        ),
        status,
    )


@blueprint.get("/loans/tapes")
@roles_required(*ROLE_VALUES)
def tapes():
    form = TapeUploadForm(formdata=None)
    return _tapes_page(form)


@blueprint.post("/loans/tapes")
@roles_required(Role.BANK_LIAISON)
def tape_upload():
    form = TapeUploadForm()
    if not form.validate_on_submit():
        return _tapes_page(form, 422)
    upload = form.file.data
    try:
        tape = batch.upload_tape(
            current_user.bank_id, form.period.data, upload.read(), upload.filename or "", current_user.username
        )
    except ValidationFailed as refusal:
        return _tapes_page(form, 422, refusal)
    flash(
        _(
            "已上传 %(period)s 贷款台账第 %(version)d 版，共 %(rows)d 行",
            period=tape.period,
            version=tape.version,
            rows=tape.row_count,
        ),
        "success",
    )
    return redirect(url_for("loans_batch.tape_detail", tape_id=tape.id))


@blueprint.get("/loans/tapes/<int:tape_id>")
@roles_required(*ROLE_VALUES)
def tape_detail(tape_id: int):
    tape = batch.get_tape(tape_id)
    ensure_visible(tape.bank_id)
    totals = {
        "disbursed_total": sum((row.disbursed_total for row in tape.rows), start=Decimal("0.00")),
        "repaid_principal": sum((row.repaid_principal for row in tape.rows), start=Decimal("0.00")),
        "outstanding_principal": sum((row.outstanding_principal for row in tape.rows), start=Decimal("0.00")),
        "overdue": sum(1 for row in tape.rows if row.days_past_due > 0),
    }
    return render_template("loans/tapes_detail.html", tape=tape, totals=totals)
