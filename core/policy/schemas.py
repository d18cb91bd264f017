"""Policy API payloads and the Chinese name of every policy number.

The fields are built from ``POLICY_NUMBERS``, so a number a later issue adds to the model and its
defaults appears in the API without touching this module (its label goes into ``POLICY_LABELS``).
Money crosses as strings with two decimals ("5000000.00"), never JSON numbers.
"""
from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import validate

from core.i18n import _l
from core.money import AmountField
from core.policy.models import GRADES, POLICY_NUMBERS
from core.policy.services import (
    BOOLEAN_FIELDS,
    CREDIT_LINE_FIELDS,
    DATE_FIELDS,
    DPD_TIER_FIELDS,
    MONEY_FIELDS,
    NOTE_MAX_LENGTH,
)

MAX_PER_PAGE = 200
REQUIRED = {"required": _l("此字段为必填项"), "null": _l("此字段不能为空")}
DATE_INVALID = _l("应为 YYYY-MM-DD 格式的日期")

POLICY_LABELS: dict[str, Any] = {
    "credit_line_a": _l("A 级授信额度"),
    "credit_line_b": _l("B 级授信额度"),
    "credit_line_c": _l("C 级授信额度"),
    "credit_line_d": _l("D 级授信额度"),
    "credit_line_e": _l("E 级授信额度"),
    "rating_valid_months": _l("评级有效期（月）"),
    "max_term_months": _l("贷款期限上限（月）"),
    "special_mention_from_dpd": _l("关注类起始逾期天数"),
    "substandard_from_dpd": _l("次级类起始逾期天数"),
    "doubtful_from_dpd": _l("可疑类起始逾期天数"),
    "loss_from_dpd": _l("损失类起始逾期天数"),
    "program_target": _l("累计贷款目标"),
    "program_target_date": _l("目标截止日期"),
    "program_opening": _l("期初累计贷款额"),
    "program_opening_enterprises": _l("期初贷款企业数"),
    "count_opening_toward_target": _l("期初累计额计入目标"),
    "science_tech_baseline": _l("科技型企业基数"),
    "science_tech_target": _l("科技型企业目标"),
    "high_tech_baseline": _l("高新技术企业基数"),
    "high_tech_target": _l("高新技术企业目标"),
}

# How the pages group the numbers; a number in no group is shown under 其他.
POLICY_GROUPS: tuple[tuple[Any, tuple[str, ...]], ...] = (
    (_l("授信额度（按评级）"), CREDIT_LINE_FIELDS),
    (_l("贷款规则"), ("rating_valid_months", "max_term_months")),
    (_l("风险分类（逾期天数）"), DPD_TIER_FIELDS),
    (
        _l("项目目标"),
        (
            "program_target",
            "program_target_date",
            "program_opening",
            "program_opening_enterprises",
            "count_opening_toward_target",
            "science_tech_baseline",
            "science_tech_target",
            "high_tech_baseline",
            "high_tech_target",
        ),
    ),
)


def policy_groups() -> list[tuple[Any, tuple[str, ...]]]:
    """``POLICY_GROUPS`` plus a group for any number not placed in one."""
    placed = {name for _label, names in POLICY_GROUPS for name in names}
    rest = tuple(name for name in POLICY_NUMBERS if name not in placed)
    return [*POLICY_GROUPS, *([(_l("其他"), rest)] if rest else [])]


def label_of(name: str) -> str:
    return str(POLICY_LABELS.get(name, name))


class Schema(ma.Schema):
    """Refusals in Chinese for the body as a whole (an unknown field, a body that is not an object)."""

    error_messages = {"unknown": _l("不是政策参数，不接受此字段"), "type": _l("请求体应为 JSON 对象")}


def _number_field(name: str) -> ma.fields.Field:
    """The marshmallow field of one policy number (optional on input: omitted numbers are copied)."""
    metadata = {"description": str(POLICY_LABELS.get(name, name))}
    if name in MONEY_FIELDS:
        return AmountField(allow_zero=name == "program_opening", error_messages=REQUIRED, metadata=metadata)
    if name in DATE_FIELDS:
        return ma.fields.Date(error_messages={**REQUIRED, "invalid": DATE_INVALID}, metadata=metadata)
    if name in BOOLEAN_FIELDS:
        return ma.fields.Boolean(error_messages={**REQUIRED, "invalid": _l("应为 true 或 false")}, metadata=metadata)
    return ma.fields.Integer(strict=True, error_messages={**REQUIRED, "invalid": _l("应为整数")}, metadata=metadata)


def _credit_lines(policy: Any) -> dict[str, str]:
    return {grade: f"{policy.credit_line_for(grade):f}" for grade in GRADES}


PolicySchema = type(
    "PolicySchema",
    (Schema,),
    {
        "id": ma.fields.Integer(),
        "effective_from": ma.fields.Date(metadata={"description": "First day this version is in force"}),
        **{name: _number_field(name) for name in POLICY_NUMBERS},
        "credit_lines": ma.fields.Function(
            _credit_lines,
            metadata={"description": "Credit line per grade A–E (the same figures as credit_line_a…e)"},
        ),
        "note": ma.fields.String(),
        "created_by": ma.fields.String(),
        "created_at": ma.fields.AwareDateTime(format="iso"),
    },
)
PolicySchema.__doc__ = "A policy version: every number of domain.md, money as strings with two decimals."


PolicyCreateSchema = type(
    "PolicyCreateSchema",
    (Schema,),
    {
        "effective_from": ma.fields.Date(
            required=True,
            error_messages={**REQUIRED, "invalid": DATE_INVALID},
            metadata={"description": "First day the new version is in force (one version per day)"},
        ),
        **{name: _number_field(name) for name in POLICY_NUMBERS},
        "note": ma.fields.String(
            load_default="",
            validate=validate.Length(max=NOTE_MAX_LENGTH, error=_l("说明不能超过 {max} 个字符")),
            error_messages={**REQUIRED, "invalid": _l("应为文本")},
            metadata={"description": "Why the numbers change (e.g. the document that decided it)"},
        ),
    },
)
PolicyCreateSchema.__doc__ = "Any subset of the policy numbers and effective_from; the others are copied."


class PolicyListSchema(Schema):
    items = ma.fields.List(ma.fields.Nested(PolicySchema))
    total = ma.fields.Integer()


class PolicyOnQuerySchema(Schema):
    on = ma.fields.Date(
        load_default=None,
        error_messages={"invalid": DATE_INVALID},
        metadata={"description": "The day asked about (default today)"},
    )


class PolicyListQuerySchema(Schema):
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
