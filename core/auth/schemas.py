"""Identity API payloads. Passwords are load-only and no hash ever appears in an output schema."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from core.auth.models import ROLE_VALUES
from core.auth.passwords import MAX_PASSWORD_LENGTH
from core.i18n import _l

MAX_PER_PAGE = 200

# Chinese first: the messages a caller sees for a missing or empty field.
REQUIRED = {"required": _l("此字段为必填项"), "null": _l("此字段不能为空")}


class Schema(ma.Schema):
    """Refusals in Chinese for the body as a whole (an unknown field, a body that is not an object)."""

    error_messages = {"unknown": _l("不接受此字段"), "type": _l("请求体应为 JSON 对象")}


def _text(**kwargs) -> ma.fields.String:
    return ma.fields.String(error_messages={**REQUIRED, "invalid": _l("应为文本")}, **kwargs)


def _password(**kwargs) -> ma.fields.String:
    # Length is bounded here only against absurd bodies; the real rules live in the service.
    return _text(load_only=True, validate=validate.Length(max=1024, error=_l("密码过长")), **kwargs)


class TokenRequestSchema(Schema):
    username = _text(required=True, validate=validate.Length(min=1, max=64, error=_l("用户名长度应为 1–64 个字符")))
    password = _password(required=True)


class TokenSchema(Schema):
    token = ma.fields.String(metadata={"description": "Bearer token; send as `Authorization: Bearer <token>`"})
    expires_at = ma.fields.AwareDateTime(format="iso")
    role = ma.fields.String()


class BankRefSchema(Schema):
    id = ma.fields.Integer()
    code = ma.fields.String()
    name = ma.fields.String()


class UserSchema(Schema):
    id = ma.fields.Integer()
    username = ma.fields.String()
    display_name = ma.fields.String()
    role = ma.fields.String()
    role_label = ma.fields.String()
    bank_id = ma.fields.Integer(allow_none=True)
    bank = ma.fields.Nested(BankRefSchema, allow_none=True)
    is_active = ma.fields.Boolean()
    password_changed_at = ma.fields.AwareDateTime(format="iso")
    created_at = ma.fields.AwareDateTime(format="iso")


class UserListSchema(Schema):
    items = ma.fields.List(ma.fields.Nested(UserSchema))
    total = ma.fields.Integer()


def _role(**kwargs) -> ma.fields.String:
    return _text(validate=validate.OneOf(ROLE_VALUES, error=_l("角色须为以下之一：{choices}")), **kwargs)


def _bank_id(**kwargs) -> ma.fields.Integer:
    return ma.fields.Integer(
        allow_none=True, strict=True, error_messages={**REQUIRED, "invalid": _l("应为整数")}, **kwargs
    )


class UserCreateSchema(Schema):
    username = _text(required=True)
    password = _text(required=True, load_only=True, validate=validate.Length(max=MAX_PASSWORD_LENGTH))
    role = _role(required=True)
    bank_id = _bank_id(load_default=None)
    display_name = _text(load_default="")


class UserUpdateSchema(Schema):
    display_name = _text()
    role = _role()
    bank_id = _bank_id()
    is_active = ma.fields.Boolean(error_messages={**REQUIRED, "invalid": _l("应为 true 或 false")})


class OwnPasswordSchema(Schema):
    current_password = _password(required=True)
    new_password = _password(required=True)


class PasswordResetSchema(Schema):
    new_password = _password(required=True)


class UserQuerySchema(Schema):
    page = ma.fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = ma.fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PER_PAGE))
    role = _role()
    bank_id = ma.fields.Integer()
    is_active = ma.fields.Boolean()
