"""Partner-bank API payloads. Formats are checked by the service (one rule, one message); the
schemas check presence and types, with Chinese messages."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from core.i18n import _l
from parties.queries import MAX_PER_PAGE

REQUIRED = {"required": _l("此字段为必填项"), "null": _l("此字段不能为空")}


def _text(**kwargs) -> ma.fields.String:
    return ma.fields.String(error_messages={**REQUIRED, "invalid": _l("应为文本")}, **kwargs)


def _boolean(**kwargs) -> ma.fields.Boolean:
    return ma.fields.Boolean(error_messages={**REQUIRED, "invalid": _l("应为 true 或 false")}, **kwargs)


class BankSchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    code = ma.fields.String()
    is_active = ma.fields.Boolean()
    created_at = ma.fields.AwareDateTime(format="iso")


class BankListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(BankSchema))
    total = ma.fields.Integer()


class BankCreateSchema(ma.Schema):
    name = _text(required=True, metadata={"description": "Bank name, unique (e.g. 中国工商银行某县支行)"})
    code = _text(
        required=True,
        metadata={"description": "2-32 letters or digits, stored upper-case, unique (e.g. ICBC)", "example": "ICBC"},
    )


class BankUpdateSchema(ma.Schema):
    name = _text(metadata={"description": "New name, unique"})
    is_active = _boolean(metadata={"description": "false deactivates the bank (banks are never deleted)"})


class BankQuerySchema(ma.Schema):
    q = _text(load_default=None, metadata={"description": "Search in name and code"})
    is_active = _boolean(load_default=None)
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
