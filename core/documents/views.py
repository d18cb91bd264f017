"""Document pages: the auditors' document library (filters, versions, SHA-256, downloads), a liaison's
own bank documents (the same page, scoped), and the auditors' on-demand statement form.

A form re-rendered after a refusal answers with the refusal's status, so the unit of work rolls back
anything the request flushed.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField
from wtforms.validators import InputRequired

from core import clock
from core.auth.models import ROLE_VALUES, Role
from core.auth.permissions import roles_required
from core.documents import queries
from core.documents.models import KINDS
from core.documents.responses import pdf_response, rows_response
from core.documents.statements import MAX_STATEMENT_DAYS, StatementRequest, build_statement, statement_funds
from core.documents.store import PERIOD_PATTERN
from core.errors import DomainError
from core.i18n import _, _l

blueprint = Blueprint("documents", __name__, url_prefix="/documents")

PER_PAGE = 50
READERS = ROLE_VALUES
STATEMENT_REQUESTERS = (Role.AUDITOR.value,)


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "").strip()
    return int(value) if value.isdigit() else None


def _filters() -> dict[str, Any]:
    """The list's filters from the query string; anything malformed is ignored, not an error page."""
    kind = request.args.get("kind") or None
    period = (request.args.get("period") or "").strip() or None
    return {
        "kind": kind if kind in KINDS else None,
        "period": period if period and PERIOD_PATTERN.fullmatch(period) else None,
        "bank_id": None if current_user.is_liaison else _int_arg("bank_id"),
        "q": (request.args.get("q") or "").strip()[:100] or None,
    }


@blueprint.get("/")
@roles_required(*READERS)
def index():
    """The library: every document the caller may see, newest first, with its version and SHA-256."""
    filters = _filters()
    page = max(1, _int_arg("page") or 1)
    items, total = queries.visible_documents(
        kind=filters["kind"], period=filters["period"], bank_id=filters["bank_id"], search=filters["q"],
        page=page, per_page=PER_PAGE,
    )
    return render_template(
        "documents/index.html",
        items=items,
        total=total,
        page=page,
        per_page=PER_PAGE,
        filters=filters,
        kinds=[(kind, queries.kind_label(kind)) for kind in KINDS],
        banks=[] if current_user.is_liaison else queries.bank_choices(),
        kind_label=queries.kind_label,
        can_request=current_user.role in STATEMENT_REQUESTERS,
    )


@blueprint.get("/<int:document_id>")
@roles_required(*READERS)
def detail(document_id: int):
    """One document: what it is, its SHA-256 to verify a copy with, and every version of its series."""
    document = queries.visible_document(document_id)
    return render_template(
        "documents/detail.html",
        document=document,
        versions=queries.series_versions(document),
        kind_label=queries.kind_label,
    )


@blueprint.get("/<int:document_id>/pdf")
@roles_required(*READERS)
def download(document_id: int):
    return pdf_response(queries.visible_document(document_id, with_content=True), inline=request.args.get("inline") == "1")


@blueprint.get("/<int:document_id>/rows.xlsx")
@roles_required(*READERS)
def rows(document_id: int):
    return rows_response(queries.visible_document(document_id, with_rows=True))


# ------------------------------------------------------------------------------------------- statements


class StatementForm(FlaskForm):
    target = SelectField(_l("报表对象"), validators=[InputRequired(message=_l("请选择银行或基金"))],
                         description=_l("合作银行的贷款报表，或创业种子基金、风险补偿资金池的资金报表。"))
    start = DateField(_l("起始日期"), validators=[InputRequired(message=_l("请填写日期"))], render_kw={"type": "date"})
    end = DateField(_l("截止日期"), validators=[InputRequired(message=_l("请填写日期"))], render_kw={"type": "date"},
                    description=_l("含当日；不晚于今天，最长 %(days)s 天。", days=MAX_STATEMENT_DAYS))


def _target_choices() -> list[tuple[str, str]]:
    funds = [(f"fund:{code}", name) for code, name in statement_funds().items()]
    banks = [(f"bank:{bank_id}", name) for bank_id, name in queries.bank_choices()]
    return [("", _("请选择"))] + funds + banks


@blueprint.route("/statements/new", methods=["GET", "POST"])
@roles_required(*STATEMENT_REQUESTERS)
def request_statement():
    """An auditor's statement of any bank or fund over any date range, rendered and stored now."""
    form = StatementForm()
    form.target.choices = _target_choices()
    status = 200
    if form.validate_on_submit():
        owner, _sep, value = form.target.data.partition(":")
        start, end = form.start.data, form.end.data
        problems = []
        if end < start:
            problems.append(_("截止日期不能早于起始日期"))
        elif end > clock.today():
            problems.append(_("截止日期不能晚于今天"))
        elif (end - start).days + 1 > MAX_STATEMENT_DAYS:
            problems.append(_("一次最多出具 %(days)s 天的报表", days=MAX_STATEMENT_DAYS))
        if problems:
            form.end.errors = list(form.end.errors) + problems
            status = 422
        else:
            try:
                document = build_statement(
                    StatementRequest(
                        start=start,
                        end=end,
                        bank_id=int(value) if owner == "bank" else None,
                        fund=value if owner == "fund" else None,
                        created_by=current_user.username,
                    )
                )
            except DomainError as refusal:
                flash(refusal.message, "error")
                status = refusal.code
            else:
                flash(_("报表已生成：%(title)s", title=document.title), "success")
                return redirect(url_for("documents.detail", document_id=document.id))
    elif form.is_submitted():
        status = 422
    if request.method == "GET" and not form.end.data:
        form.end.data = clock.today()
        form.start.data = clock.today().replace(day=1)
    return render_template("documents/statement_form.html", form=form), status
