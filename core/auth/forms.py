"""Web forms for logging in, changing a password and managing users (CSRF-protected by Flask-WTF).

The forms check presence and confirmation only; the rules (password strength, role and bank)
live in ``core.auth.services`` and come back as field errors.
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, PasswordField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from core.auth.services import bank_model, role_choices
from core.db import db
from core.i18n import _l

REQUIRED = _l("此项为必填项")


def optional_int(value: Any) -> int | None:
    """SelectField coercion for an optional id ('' means none)."""
    if value in (None, "", "None"):
        return None
    return int(value)


def bank_choices(include_id: int | None = None) -> list[tuple[Any, str]]:
    """'No bank' and every active bank (plus ``include_id`` when it is inactive but current)."""
    Bank = bank_model()
    query = sa.select(Bank).where(Bank.is_active.is_(True))
    if include_id is not None:
        query = sa.select(Bank).where(sa.or_(Bank.is_active.is_(True), Bank.id == include_id))
    banks = db.session.scalars(query.order_by(Bank.code)).all()
    return [("", str(_l("（无，仅银行联络员需要）")))] + [(bank.id, f"{bank.name}（{bank.code}）") for bank in banks]


class LoginForm(FlaskForm):
    username = StringField(_l("用户名"), validators=[DataRequired(REQUIRED), Length(max=64)])
    password = PasswordField(_l("密码"), validators=[DataRequired(REQUIRED), Length(max=1024)])
    next = HiddenField()
    submit = SubmitField(_l("登录"))


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(_l("当前密码"), validators=[DataRequired(REQUIRED)])
    new_password = PasswordField(_l("新密码"), validators=[DataRequired(REQUIRED)])
    confirm = PasswordField(
        _l("再次输入新密码"), validators=[DataRequired(REQUIRED), EqualTo("new_password", _l("两次输入的新密码不一致"))]
    )
    submit = SubmitField(_l("修改密码"))


class PasswordResetForm(FlaskForm):
    new_password = PasswordField(_l("新密码"), validators=[DataRequired(REQUIRED)])
    confirm = PasswordField(
        _l("再次输入新密码"), validators=[DataRequired(REQUIRED), EqualTo("new_password", _l("两次输入的新密码不一致"))]
    )
    submit = SubmitField(_l("重置密码"))


class UserFormBase(FlaskForm):
    display_name = StringField(_l("姓名"), validators=[Optional(), Length(max=100)])
    role = SelectField(_l("角色"), validators=[DataRequired(REQUIRED)])
    bank_id = SelectField(_l("所属银行"), coerce=optional_int, validate_choice=True)

    def fill_choices(self, current_bank_id: int | None = None) -> None:
        self.role.choices = role_choices()
        self.bank_id.choices = bank_choices(current_bank_id)


class UserCreateForm(UserFormBase):
    username = StringField(_l("用户名"), validators=[DataRequired(REQUIRED), Length(max=64)])
    password = PasswordField(_l("初始密码"), validators=[DataRequired(REQUIRED)])
    confirm = PasswordField(
        _l("再次输入密码"), validators=[DataRequired(REQUIRED), EqualTo("password", _l("两次输入的密码不一致"))]
    )
    submit = SubmitField(_l("创建用户"))


class UserEditForm(UserFormBase):
    is_active = BooleanField(_l("启用（可以登录）"))
    submit = SubmitField(_l("保存"))
