"""Policy pages: every role reads the versions; the admin adds a version through a form prefilled
with the numbers in force, so only what changes needs typing.

A form re-rendered after a refusal answers with the refusal's status (409, 422), so the unit of
work rolls back anything the request might have flushed.
"""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, IntegerField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length

from core import clock
from core.auth.models import ROLE_VALUES, Role
from core.auth.permissions import roles_required
from core.errors import DomainError
from core.i18n import _, _l
from core.money import InvalidAmount, parse_decimal_text
from core.policy import services
from core.policy.models import POLICY_NUMBERS
from core.policy.schemas import POLICY_LABELS, label_of, policy_groups

blueprint = Blueprint("policy", __name__)

PER_PAGE = 50


class AmountInput(StringField):
    """An amount typed by a person: "5000000", "5,000,000.00" or "¥5,000,000" (at most two decimals)."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.data = None
        if valuelist and str(valuelist[0]).strip():
            try:
                self.data = parse_decimal_text(str(valuelist[0]))
            except InvalidAmount as refused:
                raise ValueError(refused.message) from None

    def _value(self) -> str:
        if self.raw_data:
            return str(self.raw_data[0])
        return "" if self.data is None else f"{self.data:f}"


class RatioInput(StringField):
    """A ratio typed by a person: "0.4" or "0.40" (between 0 and 1, at most six decimals)."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.data = None
        if valuelist and str(valuelist[0]).strip():
            try:
                self.data = Decimal(str(valuelist[0]).strip())
            except InvalidOperation:
                raise ValueError(_("比例应为 0 到 1 之间的小数，例如 0.40")) from None
            if not self.data.is_finite():
                raise ValueError(_("比例应为 0 到 1 之间的小数，例如 0.40"))

    def _value(self) -> str:
        if self.raw_data:
            return str(self.raw_data[0])
        return "" if self.data is None else f"{self.data.normalize():f}"


def _field_for(name: str):
    """The form field of one policy number (every number is required: the form is prefilled)."""
    label = POLICY_LABELS.get(name, name)
    required = InputRequired(message=_l("此字段为必填项"))
    if name in services.MONEY_FIELDS:
        return AmountInput(label, validators=[required], description=_l("单位：元，最多两位小数"))
    if name in services.DATE_FIELDS:
        return DateField(label, validators=[required])
    if name in services.RATIO_FIELDS:
        return RatioInput(label, validators=[required], description=_l("0 到 1 之间的小数（例如 0.40）"))
    if name in services.BOOLEAN_FIELDS:
        return BooleanField(label)
    return IntegerField(label, validators=[required])


class PolicyForm(FlaskForm):
    effective_from = DateField(
        _l("生效日期"),
        validators=[InputRequired(message=_l("请填写生效日期"))],
        description=_l("新版本从这一天起生效；此前日期的记录仍按原版本计算。"),
    )
    note = TextAreaField(
        _l("说明"),
        validators=[Length(max=services.NOTE_MAX_LENGTH, message=_l("说明不能超过 %(max)d 个字符"))],
        description=_l("例如：依据的文件名称和文号。"),
    )


for _name in POLICY_NUMBERS:  # one field per number, in the model's order, after the two above
    setattr(PolicyForm, _name, _field_for(_name))


def _first_of_next_month(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


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


@blueprint.get("/policies")
@roles_required(*ROLE_VALUES)
def index():
    today = clock.today()
    versions, total = services.list_policies(page=1, per_page=200)
    try:
        current = services.policy_in_force(today)
    except DomainError:
        current = None
    return render_template(
        "policies/list.html",
        versions=versions,
        total=total,
        current=current,
        today=today,
        groups=policy_groups(),
        label_of=label_of,
    )


@blueprint.get("/policies/<int:policy_id>")
@roles_required(*ROLE_VALUES)
def detail(policy_id: int):
    policy = services.get_policy(policy_id)
    return render_template(
        "policies/detail.html",
        policy=policy,
        in_force=policy.id == _current_id(),
        groups=policy_groups(),
        label_of=label_of,
    )


def _current_id() -> int | None:
    try:
        return services.policy_in_force(clock.today()).id
    except DomainError:
        return None


@blueprint.route("/policies/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def new():
    form = PolicyForm() if request.method == "POST" else PolicyForm(data=_prefill())
    if form.validate_on_submit():
        changes = {name: getattr(form, name).data for name in POLICY_NUMBERS}
        try:
            policy = services.create_policy_version(
                changes, form.effective_from.data, current_user.username, note=form.note.data or ""
            )
        except DomainError as error:
            _apply_refusal(form, error)
            return _render_form(form), error.code
        flash(_("已新增政策版本，自 %(day)s 起生效", day=policy.effective_from.isoformat()), "success")
        return redirect(url_for("policy.index"))
    return _render_form(form), 422 if form.errors else 200


def _prefill() -> dict[str, Any]:
    """The numbers in force today, so the admin changes only what changes; effective next month."""
    today = clock.today()
    try:
        numbers = services.policy_numbers(services.policy_in_force(today))
    except DomainError:
        numbers = {}
    return {**numbers, "effective_from": _first_of_next_month(today)}


def _render_form(form: PolicyForm) -> str:
    return render_template("policies/form.html", form=form, groups=policy_groups())
