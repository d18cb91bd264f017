"""Policy API payloads and the Chinese name of every policy number.

The fields are built from ``POLICY_NUMBERS``, so a number a later issue adds to the model and its
defaults appears in the API without touching this module (its label goes into ``POLICY_LABELS``).
Money crosses as strings with two decimals ("5000000.00"), never JSON numbers.
"""
from __future__ import annotations

import re
from decimal import Decimal
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
    RATIO_FIELDS,
    RATIO_PLACES,
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
    "seed_fund_size": _l("种子基金规模"),
    "seed_opening_disbursed": _l("种子基金期初累计放款"),
    "seed_max_amount": _l("种子基金单笔借款上限"),
    "seed_min_term_months": _l("种子基金最短期限（月）"),
    "seed_max_term_months": _l("种子基金最长期限（月）"),
    "seed_max_enterprise_age_years": _l("申请企业成立年限上限（年）"),
    "seed_min_expert_reviews": _l("最少专家评审份数"),
    "seed_pass_mark": _l("专家评审及格分"),
    "seed_notice_working_days": _l("公示期（工作日）"),
    "risk_pool_commitment": _l("风险补偿资金池认缴规模"),
    "risk_city_share": _l("市级出资比例"),
    "risk_county_share": _l("县级出资比例"),
    "risk_pool_share": _l("资金池代偿比例"),
    "risk_min_paid_in_ratio": _l("开始补偿所需最低到位比例"),
    "risk_claim_trigger_dpd": _l("代偿申请起始逾期天数"),
    "risk_breaker_warning": _l("熔断预警不良率"),
    "risk_breaker_suspend": _l("熔断暂停不良率"),
    "risk_leverage_multiple": _l("放大倍数上限"),
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
    (
        _l("创业种子基金"),
        (
            "seed_fund_size",
            "seed_opening_disbursed",
            "seed_max_amount",
            "seed_min_term_months",
            "seed_max_term_months",
            "seed_max_enterprise_age_years",
            "seed_min_expert_reviews",
            "seed_pass_mark",
            "seed_notice_working_days",
        ),
    ),
    (
        _l("风险补偿资金池"),
        (
            "risk_pool_commitment",
            "risk_city_share",
            "risk_county_share",
            "risk_pool_share",
            "risk_min_paid_in_ratio",
            "risk_claim_trigger_dpd",
            "risk_breaker_warning",
            "risk_breaker_suspend",
            "risk_leverage_multiple",
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


# "0", "1", "0.4", "0.080000": a ratio between 0 and 1 with at most six decimals, plain ASCII digits.
_RATIO = re.compile(r"(?:0(?:\.[0-9]{1,%d})?|1(?:\.0{1,%d})?)" % (RATIO_PLACES, RATIO_PLACES))


class RatioField(ma.fields.Field):
    """A ratio as a decimal string ("0.40"), parsed exactly into ``Decimal`` (never a float)."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = {
            "type": "string",
            "example": "0.40",
            **kwargs.pop("metadata", {}),
        }
        super().__init__(metadata=metadata, **kwargs)

    def _serialize(self, value: Decimal | None, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        # At least two decimals, no trailing zeros beyond them: 0.400000 -> "0.40", 0.123450 -> "0.12345".
        two_places = value.quantize(Decimal("0.01"))
        return format(two_places if two_places == value else value.normalize(), "f")

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        if not isinstance(value, str) or not _RATIO.fullmatch(value):
            raise ma.ValidationError(str(_l('比例应为 0 到 1 之间、最多 6 位小数的字符串，例如 "0.40"')))
        return Decimal(value)


def _number_field(name: str) -> ma.fields.Field:
    """The marshmallow field of one policy number (optional on input: omitted numbers are copied)."""
    metadata = {"description": str(POLICY_LABELS.get(name, name))}
    if name in MONEY_FIELDS:
        allow_zero = name in ("program_opening", "seed_opening_disbursed")
        return AmountField(allow_zero=allow_zero, error_messages=REQUIRED, metadata=metadata)
    if name in DATE_FIELDS:
        return ma.fields.Date(error_messages={**REQUIRED, "invalid": DATE_INVALID}, metadata=metadata)
    if name in RATIO_FIELDS:
        return RatioField(error_messages=REQUIRED, metadata=metadata)
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
