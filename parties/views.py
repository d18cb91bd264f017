"""Admin pages for partner banks: the list (with user counts), registering a bank, editing one.

A form re-rendered after a refusal answers with the refusal's status (409, 422), so the unit of
work rolls back anything the request might have flushed.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField
from wtforms.validators import DataRequired, Length, Regexp

from core.auth.models import Role
from core.auth.permissions import roles_required
from core.errors import DomainError
from core.i18n import _, _l
from parties import queries, services
from parties.services import NAME_MAX_LENGTH

blueprint = Blueprint("parties", __name__)

BANKS_PER_PAGE = 50


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _code(value: Any) -> Any:
    return services.normalise_code(value) if isinstance(value, str) else value


def _name_field() -> StringField:
    return StringField(
        _l("银行名称"),
        filters=[_strip],
        validators=[
            DataRequired(message=_l("请填写银行名称")),
            Length(max=NAME_MAX_LENGTH, message=_l("银行名称不能超过 %(max)d 个字符")),
        ],
        description=_l("全称，例如：中国工商银行某某县支行"),
    )


class BankCreateForm(FlaskForm):
    name = _name_field()
    code = StringField(
        _l("银行代码"),
        filters=[_code],
        validators=[
            DataRequired(message=_l("请填写银行代码")),
            Regexp(r"^[A-Z0-9]{2,32}$", message=_l("银行代码须为 2–32 位英文字母或数字，例如 ICBC")),
        ],
        description=_l("2–32 位英文字母或数字，用于台账文件和报表；创建后不可修改。"),
    )


class BankEditForm(FlaskForm):
    name = _name_field()
    is_active = BooleanField(_l("启用"), description=_l("停用的银行保留全部历史记录，不会被删除。"))


def _int_arg(name: str, default: int) -> int:
    try:
        return max(1, int(request.args.get(name, default)))
    except (TypeError, ValueError):
        return default


def _apply_refusal(form: FlaskForm, error: DomainError) -> None:
    """Show a service refusal under the fields it names (or above the form)."""
    placed = False
    for field_name, messages in error.errors.items():
        field = getattr(form, field_name, None)
        if field is not None and hasattr(field, "errors"):
            field.errors = list(field.errors) + list(messages)
            placed = True
    if not placed:
        form.form_errors.append(error.message)


@blueprint.get("/admin/banks")
@roles_required(Role.ADMIN)
def banks():
    search = (request.args.get("q") or "").strip() or None
    status = request.args.get("status") or ""
    active = {"active": True, "inactive": False}.get(status)
    page = _int_arg("page", 1)
    rows, total = queries.banks_with_user_counts(search=search, active=active, page=page, per_page=BANKS_PER_PAGE)
    return render_template(
        "banks/list.html", rows=rows, total=total, page=page, per_page=BANKS_PER_PAGE, search=search or "", status=status
    )


@blueprint.route("/admin/banks/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def bank_new():
    form = BankCreateForm()
    if form.validate_on_submit():
        try:
            bank = services.create_bank(form.name.data, form.code.data)
        except DomainError as error:
            _apply_refusal(form, error)
            return render_template("banks/form.html", form=form, bank=None), error.code
        flash(_("已登记合作银行：%(name)s（%(code)s）", name=bank.name, code=bank.code), "success")
        return redirect(url_for("parties.banks"))
    return render_template("banks/form.html", form=form, bank=None), 422 if form.errors else 200


@blueprint.route("/admin/banks/<int:bank_id>/edit", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def bank_edit(bank_id: int):
    bank = queries.get_bank(bank_id)
    form = BankEditForm(obj=bank)
    if form.validate_on_submit():
        try:
            services.update_bank(bank, name=form.name.data, is_active=form.is_active.data)
        except DomainError as error:
            _apply_refusal(form, error)
            return render_template("banks/form.html", form=form, bank=bank), error.code
        flash(_("已保存合作银行：%(name)s", name=bank.name), "success")
        return redirect(url_for("parties.banks"))
    return render_template("banks/form.html", form=form, bank=bank), 422 if form.errors else 200
