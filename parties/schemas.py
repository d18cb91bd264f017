"""Partner-bank and enterprise API payloads. Formats are checked by the service (one rule, one
message); the schemas check presence and types, with Chinese messages. Money is a string with
two decimals ("4000000.00")."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from core.i18n import _l
from core.money import AmountField
from core.policy.models import GRADES
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


# ------------------------------------------------------------------------------------ enterprises

DATE_INVALID = _l("应为 YYYY-MM-DD 格式的日期")


class StrictSchema(ma.Schema):
    """Refusals in Chinese for the body as a whole (an unknown field, a body that is not an object)."""

    error_messages = {"unknown": _l("不接受此字段"), "type": _l("请求体应为 JSON 对象")}


def _date(**kwargs) -> ma.fields.Date:
    return ma.fields.Date(error_messages={**REQUIRED, "invalid": DATE_INVALID}, **kwargs)


def _page() -> ma.fields.Integer:
    return ma.fields.Integer(
        load_default=1, validate=validate.Range(min=1, error=_l("页码至少为 1")), error_messages={"invalid": _l("应为整数")}
    )


def _per_page() -> ma.fields.Integer:
    return ma.fields.Integer(
        load_default=50,
        validate=validate.Range(min=1, max=MAX_PER_PAGE, error=_l("每页条数应在 1 到 200 之间")),
        error_messages={"invalid": _l("应为整数")},
    )


class EnterpriseSchema(StrictSchema):
    """An enterprise with its credit position as of today (grade and line null without a valid rating)."""

    id = ma.fields.Integer()
    name = ma.fields.String()
    credit_code = ma.fields.String()
    registered_on = ma.fields.Date()
    town = ma.fields.String()
    industry = ma.fields.String()
    is_science_tech = ma.fields.Boolean()
    is_high_tech = ma.fields.Boolean()
    bad_credit = ma.fields.Boolean()
    dishonest = ma.fields.Boolean()
    created_at = ma.fields.AwareDateTime(format="iso")
    grade = ma.fields.String(allow_none=True, metadata={"description": "Grade of the rating valid today, or null"})
    rated_on = ma.fields.Date(allow_none=True, metadata={"description": "Date of the rating valid today"})
    credit_line = AmountField(allow_none=True, metadata={"description": "Credit line of the rating valid today"})
    rating_valid_until = ma.fields.Date(allow_none=True, metadata={"description": "Last day that rating is valid"})
    outstanding_principal = AmountField(
        metadata={
            "description": "What the enterprise's loans not yet repaid use of its line: "
            "Σ (principal − repaid principal), contracted principal counting in full"
        }
    )
    disbursed_outstanding = AmountField(
        metadata={"description": "Σ (disbursed − repaid principal) of those loans: what is actually owed"}
    )
    available_line = AmountField(
        metadata={"description": "max(0, credit_line − outstanding_principal); 0.00 without a valid rating"}
    )


class EnterpriseListSchema(StrictSchema):
    items = ma.fields.List(ma.fields.Nested(EnterpriseSchema))
    total = ma.fields.Integer()


def _enterprise_text(description: str, **kwargs) -> ma.fields.String:
    return _text(metadata={"description": description}, **kwargs)


def _flag(description: str, **kwargs) -> ma.fields.Boolean:
    return _boolean(metadata={"description": description}, **kwargs)


class EnterpriseCreateSchema(StrictSchema):
    name = _enterprise_text("Registered name (企业名称)", required=True)
    credit_code = _enterprise_text(
        "Unified social credit code, 18 characters with a valid check character", required=True,
    )
    registered_on = _date(required=True, metadata={"description": "Registration date (注册日期)"})
    town = _enterprise_text("Town or sub-district (乡镇/街道)", required=True)
    industry = _enterprise_text("Industry (所属行业)", required=True)
    is_science_tech = _flag("Registered science-tech enterprise (科技型企业)", load_default=False)
    is_high_tech = _flag("High-tech enterprise (高新技术企业)", load_default=False)
    bad_credit = _flag("Has a bad-credit record", load_default=False)
    dishonest = _flag("On the dishonest-debtor list (失信名单)", load_default=False)


class EnterpriseUpdateSchema(StrictSchema):
    name = _enterprise_text("Registered name")
    credit_code = _enterprise_text("Immutable: accepted only when equal to the registered code")
    registered_on = _date(metadata={"description": "Registration date"})
    town = _enterprise_text("Town or sub-district")
    industry = _enterprise_text("Industry")
    is_science_tech = _flag("Registered science-tech enterprise")
    is_high_tech = _flag("High-tech enterprise")
    bad_credit = _flag("Has a bad-credit record")
    dishonest = _flag("On the dishonest-debtor list")


class EnterpriseQuerySchema(StrictSchema):
    q = _enterprise_text("Part of the name, or the start of the credit code", load_default=None)
    credit_code = _enterprise_text("Exact credit code", load_default=None)
    town = _enterprise_text("Exact town", load_default=None)
    industry = _enterprise_text("Exact industry", load_default=None)
    is_science_tech = _boolean(load_default=None)
    is_high_tech = _boolean(load_default=None)
    bad_credit = _boolean(load_default=None)
    dishonest = _boolean(load_default=None)
    page = _page()
    per_page = _per_page()


class RatingSchema(StrictSchema):
    id = ma.fields.Integer()
    enterprise_id = ma.fields.Integer()
    grade = ma.fields.String()
    rated_on = ma.fields.Date()
    valid_until = ma.fields.Date(metadata={"description": "Last day the rating is valid"})
    credit_line = AmountField(metadata={"description": "Credit line under the policy in force on rated_on"})
    policy_id = ma.fields.Integer(metadata={"description": "The policy version that fixed the line and validity"})
    created_by = ma.fields.String()
    created_at = ma.fields.AwareDateTime(format="iso")


class RatingListSchema(StrictSchema):
    items = ma.fields.List(ma.fields.Nested(RatingSchema))
    total = ma.fields.Integer()


class RatingCreateSchema(StrictSchema):
    grade = _text(
        required=True,
        validate=validate.OneOf(GRADES, error=_l("评级须为 A、B、C、D、E 之一")),
        metadata={"description": "Grade A–E from the city's evaluation", "enum": list(GRADES)},
    )
    rated_on = _date(load_default=None, metadata={"description": "Rating date, not in the future (default today)"})


class RatingQuerySchema(StrictSchema):
    page = _page()
    per_page = _per_page()
