"""Pages of the registry: partner banks (admin: list with user counts, register, edit) and
enterprises (everyone: list with search and filters, detail with ratings and credit line;
admin, fund officers and liaisons register; admin and fund officers edit and rate).

A form re-rendered after a refusal answers with the refusal's status (409, 422), so the unit of
work rolls back anything the request might have flushed.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Regexp

from core import clock
from core.auth.models import ROLE_VALUES, Role
from core.auth.permissions import roles_required
from core.errors import DomainError
from core.i18n import _, _l
from core.policy.models import GRADES
from core.money import format_cny
from parties import queries, services
from parties.credit_code import normalise_credit_code
from parties.services import ENTERPRISE_NAME_MAX_LENGTH, NAME_MAX_LENGTH, PLACE_MAX_LENGTH

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


# ------------------------------------------------------------------------------------ enterprises

ENTERPRISES_PER_PAGE = 50
REGISTRARS = (Role.ADMIN, Role.FUND_OFFICER, Role.BANK_LIAISON)
EDITORS = (Role.ADMIN, Role.FUND_OFFICER)
# The list's flag filters: query argument -> (service keyword, label).
FLAG_FILTERS = {
    "science_tech": ("is_science_tech", _l("科技型企业")),
    "high_tech": ("is_high_tech", _l("高新技术企业")),
    "bad_credit": ("bad_credit", _l("有不良信用记录")),
    "dishonest": ("dishonest", _l("列入失信名单")),
}


def _credit_code(value: Any) -> Any:
    return normalise_credit_code(value) if isinstance(value, str) else value


class EnterpriseEditForm(FlaskForm):
    name = StringField(
        _l("企业名称"),
        filters=[_strip],
        validators=[
            DataRequired(message=_l("请填写企业名称")),
            Length(max=ENTERPRISE_NAME_MAX_LENGTH, message=_l("不能超过 %(max)d 个字符")),
        ],
    )
    registered_on = DateField(_l("注册日期"), validators=[InputRequired(message=_l("请填写注册日期（YYYY-MM-DD）"))])
    town = StringField(
        _l("所在乡镇（街道）"),
        filters=[_strip],
        validators=[
            DataRequired(message=_l("请填写所在乡镇（街道）")),
            Length(max=PLACE_MAX_LENGTH, message=_l("不能超过 %(max)d 个字符")),
        ],
    )
    industry = StringField(
        _l("所属行业"),
        filters=[_strip],
        validators=[
            DataRequired(message=_l("请填写所属行业")),
            Length(max=PLACE_MAX_LENGTH, message=_l("不能超过 %(max)d 个字符")),
        ],
    )
    is_science_tech = BooleanField(_l("科技型企业"), description=_l("已入库的科技型中小企业，方可申请知识价值信用贷款。"))
    is_high_tech = BooleanField(_l("高新技术企业"))
    bad_credit = BooleanField(_l("有不良信用记录"))
    dishonest = BooleanField(_l("列入失信被执行人名单"))


class EnterpriseCreateForm(EnterpriseEditForm):
    credit_code = StringField(
        _l("统一社会信用代码"),
        filters=[_credit_code],
        validators=[DataRequired(message=_l("统一社会信用代码不能为空"))],
        description=_l("18 位，系统校验最后一位校验码；登记后不可修改。"),
    )


class RatingForm(FlaskForm):
    grade = SelectField(
        _l("评级"),
        choices=[SelectChoice("", _l("请选择"))] + [SelectChoice(grade) for grade in GRADES],
        validators=[DataRequired(message=_l("评级须为 A、B、C、D、E 之一"))],
        description=_l("市级知识价值信用评价结果；授信额度和有效期按评级日期当日生效的政策确定。"),
    )
    rated_on = DateField(_l("评级日期"), validators=[InputRequired(message=_l("请填写评级日期"))])


def _enterprise_fields(form: EnterpriseEditForm) -> dict[str, Any]:
    return {name: getattr(form, name).data for name in services.ENTERPRISE_EDITABLE}


def _flag_filter(value: str | None) -> bool | None:
    return {"1": True, "0": False}.get(value or "")


@blueprint.get("/enterprises")
@roles_required(*ROLE_VALUES)
def enterprises():
    args = request.args
    filters = {
        "q": (args.get("q") or "").strip() or None,
        "town": args.get("town") or None,
        "industry": args.get("industry") or None,
    }
    flags = {argument: args.get(argument, "") for argument in FLAG_FILTERS}
    for argument, (keyword, _label) in FLAG_FILTERS.items():
        filters[keyword] = _flag_filter(flags[argument])
    page = _int_arg("page", 1)
    items, total = queries.search_enterprises(**filters, page=page, per_page=ENTERPRISES_PER_PAGE)
    positions = queries.credit_positions([e.id for e in items], clock.today())
    return render_template(
        "enterprises/list.html",
        rows=[(enterprise, positions[enterprise.id]) for enterprise in items],
        total=total,
        page=page,
        per_page=ENTERPRISES_PER_PAGE,
        search=filters["q"] or "",
        town=filters["town"] or "",
        industry=filters["industry"] or "",
        flags=flags,
        flag_filters=FLAG_FILTERS,
        towns=queries.enterprise_towns(),
        industries=queries.enterprise_industries(),
        filtered=any(value for value in (filters["q"], filters["town"], filters["industry"], *flags.values())),
        can_register=current_user.has_role(*REGISTRARS),
    )


@blueprint.route("/enterprises/new", methods=["GET", "POST"])
@roles_required(*REGISTRARS)
def enterprise_new():
    form = EnterpriseCreateForm()
    if form.validate_on_submit():
        try:
            enterprise = services.create_enterprise(credit_code=form.credit_code.data, **_enterprise_fields(form))
        except DomainError as error:
            _apply_refusal(form, error)
            return _enterprise_form(form, None), error.code
        flash(_("已登记企业：%(name)s", name=enterprise.name), "success")
        return redirect(url_for("parties.enterprise", enterprise_id=enterprise.id))
    return _enterprise_form(form, None), 422 if form.errors else 200


@blueprint.get("/enterprises/<int:enterprise_id>")
@roles_required(*ROLE_VALUES)
def enterprise(enterprise_id: int):
    found = queries.get_enterprise(enterprise_id)
    today = clock.today()
    return render_template(
        "enterprises/detail.html",
        enterprise=found,
        position=queries.credit_position(found.id, today),
        ratings=queries.ratings_of(found.id),
        today=today,
        can_edit=current_user.has_role(*EDITORS),
    )


@blueprint.route("/enterprises/<int:enterprise_id>/edit", methods=["GET", "POST"])
@roles_required(*EDITORS)
def enterprise_edit(enterprise_id: int):
    found = queries.get_enterprise(enterprise_id)
    form = EnterpriseEditForm(obj=found)
    if form.validate_on_submit():
        try:
            services.update_enterprise(found, **_enterprise_fields(form))
        except DomainError as error:
            _apply_refusal(form, error)
            return _enterprise_form(form, found), error.code
        flash(_("已保存企业信息：%(name)s", name=found.name), "success")
        return redirect(url_for("parties.enterprise", enterprise_id=found.id))
    return _enterprise_form(form, found), 422 if form.errors else 200


def _enterprise_form(form: EnterpriseEditForm, enterprise: Any) -> str:
    return render_template(
        "enterprises/form.html",
        form=form,
        enterprise=enterprise,
        towns=queries.enterprise_towns(),
        industries=queries.enterprise_industries(),
    )


@blueprint.route("/enterprises/<int:enterprise_id>/ratings/new", methods=["GET", "POST"])
@roles_required(*EDITORS)
def enterprise_rate(enterprise_id: int):
    found = queries.get_enterprise(enterprise_id)
    form = RatingForm() if request.method == "POST" else RatingForm(data={"rated_on": clock.today()})
    if form.validate_on_submit():
        try:
            rating = services.rate_enterprise(found, form.grade.data, form.rated_on.data, current_user.username)
        except DomainError as error:
            _apply_refusal(form, error)
            return render_template("enterprises/rate.html", form=form, enterprise=found), error.code
        flash(
            _(
                "已记录评级 %(grade)s，授信额度 %(line)s，有效期至 %(day)s",
                grade=rating.grade,
                line=format_cny(rating.credit_line),
                day=rating.valid_until.isoformat(),
            ),
            "success",
        )
        return redirect(url_for("parties.enterprise", enterprise_id=found.id))
    return render_template("enterprises/rate.html", form=form, enterprise=found), 422 if form.errors else 200
