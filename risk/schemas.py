"""Risk-pool API payloads (api.md "Risk-compensation pool").

Money crosses as strings with two decimals (``AmountField``), ratios as decimal strings ("0.80",
``RatioField``), dates as ``YYYY-MM-DD``. Every state-changing body accepts the optional ``on`` date
(default today; never in the future, never in a closed month). The schemas check presence and
formats with Chinese messages; the rules are the services'. Output payloads are built as dicts by
``risk.api`` and described here.
"""
from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import validate

from core.i18n import _l
from core.money import AmountField
from core.policy.schemas import RatioField
from risk.models import BREAKER_STATES, CLAIM_STATUSES, SOURCES
from risk.queries import MAX_PER_PAGE
from risk.services.common import NOTE_MAX_LENGTH, REASON_MAX_LENGTH

REQUIRED = {"required": _l("此字段为必填项"), "null": _l("此字段不能为空")}
DATE_ERRORS = {**REQUIRED, "invalid": _l("日期格式不正确，应为 YYYY-MM-DD")}
INT_ERRORS = {**REQUIRED, "invalid": _l("应为整数")}
ON_DESCRIPTION = "The day the step happened on paper (default today); never in the future nor in a closed month"
MAX_STRESS_MONTHS = 600


class Schema(ma.Schema):
    """Refusals in Chinese for the body as a whole."""

    error_messages = {"unknown": _l("不接受此字段"), "type": _l("请求体应为 JSON 对象")}


def _text(max_length: int, **kwargs: Any) -> ma.fields.String:
    return ma.fields.String(
        validate=validate.Length(max=max_length, error=_l("不能超过 {max} 个字符")),
        error_messages={**REQUIRED, "invalid": _l("应为文本")},
        **kwargs,
    )


def _date(**kwargs: Any) -> ma.fields.Date:
    return ma.fields.Date(error_messages=DATE_ERRORS, **kwargs)


def _on() -> ma.fields.Date:
    return _date(load_default=None, metadata={"description": ON_DESCRIPTION})


def _ratio_out(description: str) -> ma.fields.Decimal:
    return ma.fields.Decimal(as_string=True, metadata={"description": description})


class RiskPageSchema(Schema):
    page = ma.fields.Integer(
        load_default=1, validate=validate.Range(min=1, error=_l("页码至少为 1")), error_messages=INT_ERRORS
    )
    per_page = ma.fields.Integer(
        load_default=50,
        validate=validate.Range(min=1, max=MAX_PER_PAGE, error=_l("每页条数应在 1 到 200 之间")),
        error_messages=INT_ERRORS,
    )


class RiskAsOfSchema(Schema):
    as_of = _date(load_default=None, metadata={"description": "The day asked about (default today)"})


# ---------------------------------------------------------------------------------- contributions


class RiskContributionCreateSchema(Schema):
    source = ma.fields.String(
        required=True,
        validate=validate.OneOf(SOURCES, error=_l("应为以下之一：{choices}")),
        error_messages={**REQUIRED, "invalid": _l("应为文本")},
        metadata={"description": "Who pays in: `city` (市级) or `county` (县级)"},
    )
    amount = AmountField(required=True, error_messages=REQUIRED)
    received_on = _date(load_default=None, metadata={"description": "The day the money arrived (default today)"})
    on = _on()
    note = _text(NOTE_MAX_LENGTH, load_default="")


class RiskContributionSchema(Schema):
    id = ma.fields.Integer()
    source = ma.fields.String()
    source_label = ma.fields.String()
    amount = AmountField()
    received_on = ma.fields.Date()
    note = ma.fields.String()
    created_by = ma.fields.String(allow_none=True)
    created_at = ma.fields.AwareDateTime(format="iso")
    paid_claim_ids = ma.fields.List(
        ma.fields.Integer(), metadata={"description": "Queued claims this contribution paid, in approval order"}
    )


class RiskContributionListSchema(Schema):
    items = ma.fields.List(ma.fields.Nested(RiskContributionSchema))
    total = ma.fields.Integer()


# --------------------------------------------------------------------------------------- the pool


class PoolSchema(Schema):
    as_of = ma.fields.Date()
    committed = AmountField(metadata={"description": "The pool's commitment (policy in force)"})
    paid_in = AmountField(metadata={"description": "Contributions received (city + county)"})
    paid_in_city = AmountField()
    paid_in_county = AmountField()
    cash = AmountField(metadata={"description": "The pool's bank balance (ledger: risk.cash)"})
    paid_out_total = AmountField(metadata={"description": "Compensation paid (city + county parts)"})
    paid_out_city = AmountField()
    paid_out_county = AmountField()
    recovered_total = AmountField(metadata={"description": "Recoveries returned to the pool"})
    recovered_city = AmountField()
    recovered_county = AmountField()
    queued_unpaid = AmountField(metadata={"description": "Pool shares of approved claims waiting for cash"})
    queued_count = ma.fields.Integer()
    covered_outstanding = AmountField(metadata={"description": "Outstanding principal of covered loans"})
    covered_exposure = AmountField(
        metadata={"description": "Covered outstanding plus undrawn principal of unmatured covered loans (what the cap limits)"}
    )
    leverage_multiple = ma.fields.Integer(metadata={"description": "Policy cap: exposure <= multiple x paid-in"})
    leverage_cap = AmountField(metadata={"description": "leverage_multiple x paid_in"})
    leverage = ma.fields.Decimal(
        as_string=True, allow_none=True, metadata={"description": "covered_outstanding / paid_in (times); null before any paid-in"}
    )
    exposure_leverage = ma.fields.Decimal(as_string=True, allow_none=True)
    min_paid_in = AmountField(metadata={"description": "Paid-in needed before the pool covers loans"})
    covering = ma.fields.Boolean(metadata={"description": "Whether new loans can be covered (paid-in at the minimum)"})
    trailing_monthly_claims = AmountField(
        metadata={"description": "Pool shares of claims of the last 12 months, per month (the trailing default rate)"}
    )
    months_of_cover = ma.fields.Decimal(
        as_string=True,
        allow_none=True,
        metadata={"description": "(cash - queued) / trailing monthly claims, one decimal; null without claims"},
    )


# ----------------------------------------------------------------------------------------- claims


class ClaimCreateSchema(Schema):
    as_of = _date(
        load_default=None,
        metadata={"description": "The day the claim is judged on: DPD and overdue principal as of it (default today)"},
    )
    on = _on()


class ClaimQuerySchema(RiskPageSchema):
    status = ma.fields.String(
        load_default=None,
        validate=validate.OneOf((*CLAIM_STATUSES, "queue"), error=_l("应为以下之一：{choices}")),
        metadata={"description": "A status, or `queue` for the managers' queue (submitted, oldest first)"},
    )
    bank_id = ma.fields.Integer(load_default=None, error_messages=INT_ERRORS)
    loan_id = ma.fields.Integer(load_default=None, error_messages=INT_ERRORS)


class ClaimDecisionSchema(Schema):
    on = _on()


class ClaimRejectionSchema(Schema):
    reason = _text(REASON_MAX_LENGTH, required=True, metadata={"description": "Why the claim is rejected"})
    on = _on()


class RiskRecoveryCreateSchema(Schema):
    amount = AmountField(required=True, error_messages=REQUIRED)
    recovered_on = _date(load_default=None, metadata={"description": "The day the money was recovered (default today)"})
    on = _on()


class RiskRecoverySchema(Schema):
    id = ma.fields.Integer()
    claim_id = ma.fields.Integer()
    amount = AmountField()
    within_principal = AmountField(metadata={"description": "Part counting toward the compensated principal"})
    pool_part = AmountField(metadata={"description": "Returned to the pool's cash"})
    bank_part = AmountField(metadata={"description": "The bank's (its share, and anything beyond the principal)"})
    city_part = AmountField()
    county_part = AmountField()
    recovered_on = ma.fields.Date()
    created_by = ma.fields.String(allow_none=True)
    created_at = ma.fields.AwareDateTime(format="iso")


class ClaimSchema(Schema):
    id = ma.fields.Integer()
    loan_id = ma.fields.Integer()
    contract_no = ma.fields.String()
    enterprise_name = ma.fields.String()
    bank_id = ma.fields.Integer()
    bank_name = ma.fields.String()
    policy_id = ma.fields.Integer(metadata={"description": "The loan's policy version (its contract date)"})
    status = ma.fields.String(metadata={"description": "submitted, paid, approved_unpaid, rejected"})
    status_label = ma.fields.String()
    as_of = ma.fields.Date()
    days_past_due = ma.fields.Integer()
    principal = AmountField(metadata={"description": "Overdue unrecovered principal as of as_of"})
    pool_share = AmountField()
    bank_share = AmountField()
    city_share = AmountField()
    county_share = AmountField()
    pool_ratio = RatioField()
    city_ratio = RatioField()
    filed_by = ma.fields.String(allow_none=True)
    filed_at = ma.fields.AwareDateTime(format="iso")
    approval_seq = ma.fields.Integer(allow_none=True, metadata={"description": "Order of approval (queue order)"})
    queue_position = ma.fields.Integer(allow_none=True, metadata={"description": "1 = next to be paid; null unless queued"})
    approved_on = ma.fields.Date(allow_none=True)
    approved_by = ma.fields.String(allow_none=True)
    paid_on = ma.fields.Date(allow_none=True)
    rejected_on = ma.fields.Date(allow_none=True)
    rejected_by = ma.fields.String(allow_none=True)
    rejection_reason = ma.fields.String(allow_none=True)
    notice_pending = ma.fields.Boolean(metadata={"description": "A compensation notice is due (documents module)"})
    recovered_total = AmountField()
    recovered_pool = AmountField()
    recovered_bank = AmountField()
    recoveries = ma.fields.List(ma.fields.Nested(RiskRecoverySchema))


class ClaimListSchema(Schema):
    items = ma.fields.List(ma.fields.Nested(ClaimSchema))
    total = ma.fields.Integer()


# ---------------------------------------------------------------------------------------- breaker


class BreakerEventSchema(Schema):
    id = ma.fields.Integer()
    bank_id = ma.fields.Integer()
    previous_state = ma.fields.String()
    state = ma.fields.String()
    state_label = ma.fields.String()
    npl_ratio = _ratio_out("NPL ratio when the state changed")
    on = ma.fields.Date()
    by = ma.fields.String(allow_none=True, metadata={"description": "The manager who lifted; null when automatic"})
    automatic = ma.fields.Boolean()
    reason = ma.fields.String()
    created_at = ma.fields.AwareDateTime(format="iso")


class BreakerSchema(Schema):
    bank_id = ma.fields.Integer()
    bank_name = ma.fields.String()
    as_of = ma.fields.Date()
    npl_ratio = _ratio_out("Non-performing covered principal / covered outstanding, six decimals")
    state = ma.fields.String(
        validate=validate.OneOf(BREAKER_STATES), metadata={"description": "normal, warning or suspended"}
    )
    state_label = ma.fields.String()
    recorded_state = ma.fields.String(metadata={"description": "The state as last recorded by an evaluation"})
    evaluated_on = ma.fields.Date(allow_none=True)
    lifted = ma.fields.Boolean(metadata={"description": "A manager's lift holds until the ratio falls below warning"})
    covered_outstanding = AmountField()
    non_performing = AmountField()
    warning_level = _ratio_out("Warning at or above this ratio (policy)")
    suspend_level = _ratio_out("Suspended at or above this ratio (policy)")
    events = ma.fields.List(ma.fields.Nested(BreakerEventSchema))


class BreakerLiftSchema(Schema):
    reason = _text(REASON_MAX_LENGTH, required=True, metadata={"description": "Why the suspension is lifted"})
    on = _on()


# ------------------------------------------------------------------------------------------ stress


class StressCreateSchema(Schema):
    annual_default_rate = RatioField(
        required=True, error_messages=REQUIRED, metadata={"description": "Share of the exposure defaulting per year"}
    )
    recovery_rate = RatioField(
        load_default=None, metadata={"description": "Share of the pool's payments recovered (default 0)"}
    )
    pool_share = RatioField(
        load_default=None, metadata={"description": "Pool's share of a default (default: the policy's, 0.80)"}
    )
    months = ma.fields.Integer(
        load_default=36,
        strict=True,
        validate=validate.Range(min=1, max=MAX_STRESS_MONTHS, error=_l("月数应在 {min} 到 {max} 之间")),
        error_messages=INT_ERRORS,
    )
    recovery_lag_months = ma.fields.Integer(
        load_default=0,
        strict=True,
        validate=validate.Range(min=0, max=MAX_STRESS_MONTHS, error=_l("月数应在 {min} 到 {max} 之间")),
        error_messages=INT_ERRORS,
        metadata={"description": "Months between a payment and its recovery (default 0: the same month)"},
    )
    cash = AmountField(
        load_default=None, allow_zero=True, metadata={"description": "Starting cash (default: the pool's cash today)"}
    )
    exposure = AmountField(
        load_default=None,
        allow_zero=True,
        metadata={"description": "Covered exposure (default: covered outstanding today)"},
    )


class StressMonthSchema(Schema):
    month = ma.fields.Integer()
    period = ma.fields.String(metadata={"description": "YYYY-MM"})
    defaults = AmountField()
    claims = AmountField()
    recoveries = AmountField()
    cash = AmountField(metadata={"description": "End of the month; negative is a shortfall"})
    short = ma.fields.Boolean(metadata={"description": "The pool cannot pay this month's claims in full"})


class StressSchema(Schema):
    as_of = ma.fields.Date()
    start_cash = AmountField()
    exposure = AmountField()
    annual_default_rate = RatioField()
    recovery_rate = RatioField()
    pool_share = RatioField()
    months = ma.fields.Integer()
    recovery_lag_months = ma.fields.Integer()
    monthly_claims = AmountField()
    lowest_cash = AmountField()
    runs_out_month = ma.fields.Integer(allow_none=True, metadata={"description": "First month short; null if never"})
    runs_out_period = ma.fields.String(allow_none=True, metadata={"description": "YYYY-MM of that month"})
    projection = ma.fields.List(ma.fields.Nested(StressMonthSchema))
