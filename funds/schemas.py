"""Seed-fund API payloads (api.md "Seed fund").

Money crosses as strings with two decimals (``AmountField``), dates as ``YYYY-MM-DD``. Every
state-changing body accepts the optional ``on`` date (default today; never in the future, never in
a closed month). The schemas check presence and formats with Chinese messages; the rules are the
services'. Output payloads are built as dicts by ``funds.api`` and described here.
"""
from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import validate

from core.dpd import Classification
from core.i18n import _l
from core.money import AmountField
from funds.models import APPLICATION_STATUSES, LOAN_STATUSES, REPAYMENT_KINDS
from funds.queries import LOAN_STATES, MAX_PER_PAGE
from funds.services.common import BANK_REF_MAX_LENGTH, COMMENT_MAX_LENGTH, NAME_MAX_LENGTH
from funds.states import PHASES

REQUIRED = {"required": _l("此字段为必填项"), "null": _l("此字段不能为空")}
DATE_ERRORS = {**REQUIRED, "invalid": _l("日期格式不正确，应为 YYYY-MM-DD")}
INT_ERRORS = {**REQUIRED, "invalid": _l("应为整数")}
BOOL_ERRORS = {**REQUIRED, "invalid": _l("应为 true 或 false")}
ON_DESCRIPTION = "The day the step happened on paper (default today); never in the future nor in a closed month"


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


class StrictBoolean(ma.fields.Boolean):
    """JSON ``true`` / ``false`` only: ``1``, ``"true"`` or ``"yes"`` are not a decision."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


def _bool(**kwargs: Any) -> ma.fields.Boolean:
    return StrictBoolean(error_messages=BOOL_ERRORS, **kwargs)


def _id(*, strict: bool = True, **kwargs: Any) -> ma.fields.Integer:
    return ma.fields.Integer(strict=strict, error_messages=INT_ERRORS, **kwargs)


class SeedPageSchema(Schema):
    page = ma.fields.Integer(
        load_default=1, validate=validate.Range(min=1, error=_l("页码至少为 1")), error_messages={"invalid": _l("应为整数")}
    )
    per_page = ma.fields.Integer(
        load_default=50,
        validate=validate.Range(min=1, max=MAX_PER_PAGE, error=_l("每页条数应在 1 到 200 之间")),
        error_messages={"invalid": _l("应为整数")},
    )


class SeedAsOfSchema(Schema):
    as_of = _date(load_default=None, metadata={"description": "Figures as of this day (default: everything recorded)"})


# ------------------------------------------------------------------------------------ the fund


class ContributionCreateSchema(Schema):
    amount = AmountField(required=True, error_messages=REQUIRED)
    received_on = _date(load_default=None, metadata={"description": "The day the money arrived (default today)"})
    on = _on()
    source = _text(100, load_default="", metadata={"description": "Where the money comes from (e.g. 县财政)"})
    note = _text(COMMENT_MAX_LENGTH, load_default="")


class ContributionSchema(Schema):
    id = ma.fields.Integer()
    amount = AmountField()
    received_on = ma.fields.Date()
    source = ma.fields.String()
    note = ma.fields.String()
    created_by = ma.fields.String(allow_none=True)
    created_at = ma.fields.AwareDateTime(format="iso")


class ContributionListSchema(Schema):
    items = ma.fields.List(ma.fields.Nested(ContributionSchema))
    total = ma.fields.Integer()


class FundSchema(Schema):
    as_of = ma.fields.Date(allow_none=True)
    size = AmountField(metadata={"description": "Fund size (policy)"})
    paid_in = AmountField(metadata={"description": "Contributions received (ledger: seed.contributions)"})
    cash = AmountField(metadata={"description": "The fund's bank balance (ledger: seed.cash)"})
    committed = AmountField(metadata={"description": "Approved, not yet disbursed (derived from the applications)"})
    available = AmountField(metadata={"description": "cash − committed: the most a new approval may commit"})
    outstanding = AmountField(metadata={"description": "Seed loans' principal owed (ledger: seed.loans_receivable)"})
    disbursed_cumulative = AmountField(metadata={"description": "All seed loans ever disbursed, opening figure included"})
    opening_disbursed = AmountField(metadata={"description": "Disbursed before the system (policy, 6,200,000.00)"})
    repaid_total = AmountField()
    written_off_total = AmountField(metadata={"description": "Principal written off (ledger: seed.written_off)"})
    recovered_total = AmountField(metadata={"description": "Recovered after write-off (ledger: seed.recoveries)"})


class AgentBankUpdateSchema(Schema):
    bank_id = _id(required=True, metadata={"description": "The partner bank that disburses and collects seed loans"})


class AgentBankSchema(Schema):
    bank_id = ma.fields.Integer(allow_none=True)
    bank_code = ma.fields.String(allow_none=True)
    bank_name = ma.fields.String(allow_none=True)


# ---------------------------------------------------------------------------------- applications


class ApplicationCreateSchema(Schema):
    enterprise_id = _id(load_default=None, metadata={"description": "The applying enterprise; omit for a startup team"})
    team_name = _text(200, load_default=None, metadata={"description": "Startup team without an enterprise"})
    contact_name = _text(NAME_MAX_LENGTH, load_default=None)
    contact_phone = _text(32, load_default=None)
    amount = AmountField(required=True, error_messages=REQUIRED, metadata={"description": "At most the policy's maximum (300,000.00)"})
    term_months = _id(required=True, metadata={"description": "Policy range (1–24 months)"})
    repayment = ma.fields.String(
        required=True,
        validate=validate.OneOf(REPAYMENT_KINDS, error=_l("应为以下之一：{choices}")),
        error_messages=REQUIRED,
        metadata={"description": "bullet (single payment at maturity) or monthly (equal instalments)"},
    )
    purpose = _text(2000, load_default="")
    on = _on()


class InitialReviewSchema(Schema):
    passed = _bool(required=True)
    comment = _text(COMMENT_MAX_LENGTH, load_default="")
    on = _on()


class ExpertReviewCreateSchema(Schema):
    expert_name = _text(NAME_MAX_LENGTH, required=True)
    score = _id(required=True, metadata={"description": "0–100"})
    comment = _text(COMMENT_MAX_LENGTH, load_default="")
    on = _on()


class SeedDecisionSchema(Schema):
    approved = _bool(required=True)
    comment = _text(COMMENT_MAX_LENGTH, load_default="")
    on = _on()


class ObjectionCreateSchema(Schema):
    text = _text(4000, required=True)
    on = _on()


class ObjectionResolutionSchema(Schema):
    upheld = _bool(required=True, metadata={"description": "true: the application is rejected; false: dismissed"})
    reason = _text(COMMENT_MAX_LENGTH, required=True)
    on = _on()


class LinkEnterpriseSchema(Schema):
    enterprise_id = _id(required=True)
    on = _on()


class WithdrawalSchema(Schema):
    reason = _text(COMMENT_MAX_LENGTH, load_default="")
    on = _on()


class SeedContractCreateSchema(Schema):
    agent_bank_id = _id(load_default=None, metadata={"description": "Default: the fund's agent bank"})
    on = _on()


class ApplicationQuerySchema(SeedPageSchema):
    status = ma.fields.String(load_default=None, validate=validate.OneOf(APPLICATION_STATUSES, error=_l("应为以下之一：{choices}")))
    phase = ma.fields.String(
        load_default=None,
        validate=validate.OneOf(PHASES, error=_l("应为以下之一：{choices}")),
        metadata={"description": "Status refined by the notice window: public_notice, ready_to_contract, ..."},
    )
    enterprise_id = _id(strict=False, load_default=None)
    q = ma.fields.String(load_default=None)
    as_of = _date(load_default=None)


class ExpertReviewSchema(Schema):
    id = ma.fields.Integer()
    application_id = ma.fields.Integer()
    expert_name = ma.fields.String()
    score = ma.fields.Integer()
    comment = ma.fields.String()
    reviewed_on = ma.fields.Date()
    recorded_by = ma.fields.String()
    created_at = ma.fields.AwareDateTime(format="iso")


class ObjectionSchema(Schema):
    id = ma.fields.Integer()
    application_id = ma.fields.Integer()
    text = ma.fields.String()
    raised_on = ma.fields.Date()
    raised_by = ma.fields.String()
    status = ma.fields.String(metadata={"description": "open, dismissed, upheld, closed"})
    resolution_reason = ma.fields.String()
    resolved_on = ma.fields.Date(allow_none=True)
    resolved_by = ma.fields.String(allow_none=True)
    application_status = ma.fields.String()


class SeedEventSchema(Schema):
    id = ma.fields.Integer()
    action = ma.fields.String()
    from_status = ma.fields.String(allow_none=True)
    to_status = ma.fields.String()
    on = ma.fields.Date()
    by = ma.fields.String(allow_none=True)
    comment = ma.fields.String()
    created_at = ma.fields.AwareDateTime(format="iso")


class ApplicationSchema(Schema):
    id = ma.fields.Integer()
    status = ma.fields.String(metadata={"description": "Stored status: " + ", ".join(APPLICATION_STATUSES)})
    status_label = ma.fields.String()
    phase = ma.fields.String(metadata={"description": "As of today: the status, or public_notice / ready_to_contract"})
    phase_label = ma.fields.String()
    enterprise_id = ma.fields.Integer(allow_none=True)
    enterprise_name = ma.fields.String(allow_none=True)
    team_name = ma.fields.String(allow_none=True)
    contact_name = ma.fields.String(allow_none=True)
    contact_phone = ma.fields.String(allow_none=True)
    applicant_name = ma.fields.String()
    amount = AmountField()
    term_months = ma.fields.Integer()
    repayment = ma.fields.String()
    purpose = ma.fields.String()
    policy_id = ma.fields.Integer()
    submitted_on = ma.fields.Date()
    submitted_by = ma.fields.String(allow_none=True)
    initial_review_passed = ma.fields.Boolean(allow_none=True)
    initial_review_on = ma.fields.Date(allow_none=True)
    initial_review_comment = ma.fields.String()
    initial_reviewed_by = ma.fields.String(allow_none=True)
    review_count = ma.fields.Integer()
    reviews_required = ma.fields.Integer()
    average_score = ma.fields.String(allow_none=True, metadata={"description": "Two decimals, e.g. \"72.33\""})
    pass_mark = ma.fields.Integer()
    decision_approved = ma.fields.Boolean(allow_none=True)
    decided_on = ma.fields.Date(allow_none=True)
    decision_comment = ma.fields.String()
    decided_by = ma.fields.String(allow_none=True)
    notice_starts_on = ma.fields.Date(allow_none=True)
    notice_ends_on = ma.fields.Date(allow_none=True)
    open_objections = ma.fields.Integer()
    closed_on = ma.fields.Date(allow_none=True)
    loan_id = ma.fields.Integer(allow_none=True)
    contract_no = ma.fields.String(allow_none=True)
    allowed_actions = ma.fields.List(ma.fields.String())
    created_at = ma.fields.AwareDateTime(format="iso")


class ApplicationDetailSchema(ApplicationSchema):
    expert_reviews = ma.fields.List(ma.fields.Nested(ExpertReviewSchema))
    objections = ma.fields.List(ma.fields.Nested(ObjectionSchema))
    timeline = ma.fields.List(ma.fields.Nested(SeedEventSchema))


class ApplicationListSchema(Schema):
    items = ma.fields.List(ma.fields.Nested(ApplicationSchema))
    total = ma.fields.Integer()


class SeedContractSchema(Schema):
    loan_id = ma.fields.Integer()
    contract_no = ma.fields.String(metadata={"example": "ZZJJ-2025-0007"})
    application_id = ma.fields.Integer()
    principal = AmountField()
    contracted_on = ma.fields.Date()
    agent_bank_id = ma.fields.Integer()
    agent_bank_name = ma.fields.String()


# -------------------------------------------------------------------------------------- seed loans


class SeedDisbursementCreateSchema(Schema):
    disbursed_on = _date(required=True, metadata={"description": "On or after the contract date, not in the future"})
    bank_ref = _text(BANK_REF_MAX_LENGTH, required=True, metadata={"description": "The agent bank's reference"})
    on = _on()


class SeedRepaymentCreateSchema(Schema):
    amount = AmountField(required=True, error_messages=REQUIRED)
    paid_on = _date(required=True, metadata={"description": "On or after the disbursement, not in the future"})
    bank_ref = _text(BANK_REF_MAX_LENGTH, required=True)
    on = _on()


class SeedRecoveryCreateSchema(Schema):
    amount = AmountField(required=True, error_messages=REQUIRED)
    recovered_on = _date(required=True)
    bank_ref = _text(BANK_REF_MAX_LENGTH, required=True)
    note = _text(COMMENT_MAX_LENGTH, load_default="")
    on = _on()


class SeedWriteOffRequestSchema(Schema):
    reason = _text(COMMENT_MAX_LENGTH, load_default="", metadata={"description": "Officer: required; manager: comment"})
    approve = _bool(load_default=None, metadata={"description": "Manager: true approves the open proposal, false rejects it"})
    on = _on()


class SeedScheduleLineSchema(Schema):
    seq = ma.fields.Integer()
    due_on = ma.fields.Date()
    principal = AmountField()
    paid = AmountField()
    unpaid = AmountField()


class SeedRepaymentSchema(Schema):
    id = ma.fields.Integer()
    loan_id = ma.fields.Integer()
    amount = AmountField()
    paid_on = ma.fields.Date()
    bank_ref = ma.fields.String()
    created_by = ma.fields.String(allow_none=True)
    created_at = ma.fields.AwareDateTime(format="iso")


class SeedRepaymentListSchema(Schema):
    items = ma.fields.List(ma.fields.Nested(SeedRepaymentSchema))
    total = ma.fields.Integer()


class SeedRecoverySchema(SeedRepaymentSchema):
    recovered_on = ma.fields.Date()
    note = ma.fields.String()


class SeedWriteOffSchema(Schema):
    id = ma.fields.Integer()
    loan_id = ma.fields.Integer()
    status = ma.fields.String(metadata={"description": "proposed, approved, rejected"})
    reason = ma.fields.String()
    proposed_on = ma.fields.Date()
    proposed_by = ma.fields.String(allow_none=True)
    amount = AmountField(allow_none=True)
    decided_on = ma.fields.Date(allow_none=True)
    decided_by = ma.fields.String(allow_none=True)
    decision_comment = ma.fields.String()


class SeedLoanSchema(Schema):
    id = ma.fields.Integer()
    application_id = ma.fields.Integer()
    contract_no = ma.fields.String()
    enterprise_id = ma.fields.Integer()
    enterprise_name = ma.fields.String()
    agent_bank_id = ma.fields.Integer()
    agent_bank_name = ma.fields.String()
    principal = AmountField()
    term_months = ma.fields.Integer()
    repayment = ma.fields.String()
    purpose = ma.fields.String()
    contracted_on = ma.fields.Date()
    disbursed_on = ma.fields.Date(allow_none=True)
    bank_ref = ma.fields.String(allow_none=True, metadata={"description": "The disbursement's agent-bank reference"})
    maturity_date = ma.fields.Date(allow_none=True)
    status = ma.fields.String(metadata={"description": "As of the day: " + ", ".join(LOAN_STATES)})
    lifecycle_status = ma.fields.String(metadata={"description": "Stored: " + ", ".join(LOAN_STATUSES)})
    as_of = ma.fields.Date()
    repaid_principal = AmountField()
    outstanding = AmountField()
    overdue_principal = AmountField()
    days_past_due = ma.fields.Integer()
    classification = ma.fields.String(metadata={"description": ", ".join(c.value for c in Classification)})
    classification_label = ma.fields.String()
    written_off_principal = AmountField()
    recovered = AmountField()
    schedule = ma.fields.List(ma.fields.Nested(SeedScheduleLineSchema))
    write_offs = ma.fields.List(ma.fields.Nested(SeedWriteOffSchema))


class SeedLoanListSchema(Schema):
    items = ma.fields.List(ma.fields.Nested(SeedLoanSchema))
    total = ma.fields.Integer()


class SeedLoanQuerySchema(SeedPageSchema):
    status = ma.fields.String(load_default=None, validate=validate.OneOf(LOAN_STATES, error=_l("应为以下之一：{choices}")))
    classification = ma.fields.String(
        load_default=None,
        validate=validate.OneOf([c.value for c in Classification], error=_l("应为以下之一：{choices}")),
    )
    overdue = ma.fields.Boolean(load_default=None)
    enterprise_id = _id(strict=False, load_default=None)
    as_of = _date(load_default=None)


class SeedLoanAsOfSchema(Schema):
    as_of = _date(load_default=None, metadata={"description": "State as of this day (default today)"})


class SeedOverdueQuerySchema(SeedPageSchema):
    as_of = _date(load_default=None)


# ------------------------------------------------------------------------------------ the calendar


class CalendarDayCreateSchema(Schema):
    date = _date(required=True)
    name = _text(64, required=True)


class CalendarDaySchema(Schema):
    id = ma.fields.Integer()
    date = ma.fields.Date(attribute="day")
    name = ma.fields.String()
    created_at = ma.fields.AwareDateTime(format="iso")


class CalendarDayListSchema(Schema):
    items = ma.fields.List(ma.fields.Nested(CalendarDaySchema))
    total = ma.fields.Integer()


class CalendarQuerySchema(SeedPageSchema):
    year = ma.fields.Integer(load_default=None, validate=validate.Range(min=1900, max=2999), error_messages={"invalid": _l("应为整数")})
