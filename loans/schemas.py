"""Loan API payloads (api.md "Knowledge-value credit loans").

Money crosses as strings with two decimals (``AmountField``); the annual rate as a decimal string
("0.0345") parsed exactly; dates as ISO ``YYYY-MM-DD``. The schemas check presence and formats with
Chinese messages; the rules are the services'.
"""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import marshmallow as ma
from marshmallow import validate

from core.i18n import _l
from core.money import AmountField
from loans.dpd import Classification
from loans.queries import LOAN_STATES, MAX_PER_PAGE
from loans.services import BANK_REF_MAX_LENGTH, CONTRACT_NO_MAX_LENGTH, PURPOSE_MAX_LENGTH, RATE_PLACES

REQUIRED = {"required": _l("此字段为必填项"), "null": _l("此字段不能为空")}
DATE_ERRORS = {**REQUIRED, "invalid": _l("日期格式不正确，应为 YYYY-MM-DD")}
INT_ERRORS = {**REQUIRED, "invalid": _l("应为整数")}

# "0", "0.0345", at most six decimals: 0 <= rate < 1 by construction. Plain ASCII digits only.
_RATE = re.compile(r"0(?:\.[0-9]{1,%d})?" % RATE_PLACES)


class RateField(ma.fields.Field):
    """An annual rate as a decimal string, parsed exactly into ``Decimal`` (never a float)."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = {
            "type": "string",
            "example": "0.0345",
            "description": "Annual rate as a decimal string, 0 <= rate < 1, at most 6 decimals (0.0345 = 3.45%)",
            **kwargs.pop("metadata", {}),
        }
        super().__init__(metadata=metadata, error_messages=REQUIRED, **kwargs)

    def _serialize(self, value: Decimal | None, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        return format(value.normalize(), "f")  # 0.034500 -> "0.0345"; never exponent notation

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        if not isinstance(value, str) or not _RATE.fullmatch(value):
            raise ma.ValidationError(str(_l('年利率应为 0 到 1 之间、最多 6 位小数的字符串，例如 "0.0345"')))
        return Decimal(value)


def _text(max_length: int, **kwargs: Any) -> ma.fields.String:
    return ma.fields.String(
        validate=validate.Length(max=max_length, error=_l("不能超过 {max} 个字符")),
        error_messages={**REQUIRED, "invalid": _l("应为文本")},
        **kwargs,
    )


def _date(**kwargs: Any) -> ma.fields.Date:
    return ma.fields.Date(error_messages=DATE_ERRORS, **kwargs)


def _id(*, strict: bool = True, **kwargs: Any) -> ma.fields.Integer:
    """An id: strict (a JSON integer, not "1") in bodies; query strings are text by nature."""
    return ma.fields.Integer(strict=strict, error_messages=INT_ERRORS, **kwargs)


# ------------------------------------------------------------------------------------------- input


class LoanCreateSchema(ma.Schema):
    enterprise_id = _id(required=True, metadata={"description": "The borrowing enterprise (a registered science-tech enterprise)"})
    contract_no = _text(CONTRACT_NO_MAX_LENGTH, required=True, metadata={"description": "Contract number, unique per bank"})
    principal = AmountField(required=True, error_messages=REQUIRED, metadata={"description": "Contract principal"})
    annual_rate = RateField(required=True)
    start_date = _date(required=True, metadata={"description": "Contract (start) date: every check is made as of this day"})
    maturity_date = _date(required=True, metadata={"description": "Maturity: after the start, at most 12 months later (policy)"})
    purpose = _text(PURPOSE_MAX_LENGTH, load_default="", metadata={"description": "Purpose of the loan (用途)"})


class DisbursementCreateSchema(ma.Schema):
    amount = AmountField(required=True, error_messages=REQUIRED)
    disbursed_on = _date(required=True, metadata={"description": "Within start..maturity, not in the future"})
    bank_ref = _text(
        BANK_REF_MAX_LENGTH,
        required=True,
        metadata={"description": "The bank's own reference: the same reference with the same content is the same event"},
    )


class RepaymentCreateSchema(ma.Schema):
    principal = AmountField(required=True, allow_zero=True, error_messages=REQUIRED, metadata={"description": "Principal repaid"})
    interest = AmountField(
        allow_zero=True,
        load_default=Decimal("0.00"),
        error_messages=REQUIRED,
        metadata={"description": "Interest paid (the bank's; recorded, default 0.00)"},
    )
    paid_on = _date(required=True, metadata={"description": "Not before the first tranche, not in the future"})
    bank_ref = _text(BANK_REF_MAX_LENGTH, required=True, metadata={"description": "The bank's own reference"})


class AsOfSchema(ma.Schema):
    as_of = _date(load_default=None, metadata={"description": "State as of this day (default today)"})


class LoanQuerySchema(AsOfSchema):
    bank_id = _id(strict=False, load_default=None)
    enterprise_id = _id(strict=False, load_default=None)
    classification = ma.fields.String(
        load_default=None,
        validate=validate.OneOf([c.value for c in Classification], error=_l("应为以下之一：{choices}")),
        metadata={"description": "Five-tier classification as of the day (computed in SQL)"},
    )
    status = ma.fields.String(
        load_default=None,
        validate=validate.OneOf(LOAN_STATES, error=_l("应为以下之一：{choices}")),
        metadata={"description": "Status as of the day: contracted, active, overdue, repaid"},
    )
    q = ma.fields.String(load_default=None, metadata={"description": "Search in contract number, enterprise name and credit code"})
    page = ma.fields.Integer(
        load_default=1, validate=validate.Range(min=1, error=_l("页码至少为 1")), error_messages={"invalid": _l("应为整数")}
    )
    per_page = ma.fields.Integer(
        load_default=50,
        validate=validate.Range(min=1, max=MAX_PER_PAGE, error=_l("每页条数应在 1 到 200 之间")),
        error_messages={"invalid": _l("应为整数")},
    )


class PageSchema(ma.Schema):
    page = ma.fields.Integer(
        load_default=1, validate=validate.Range(min=1, error=_l("页码至少为 1")), error_messages={"invalid": _l("应为整数")}
    )
    per_page = ma.fields.Integer(
        load_default=MAX_PER_PAGE,
        validate=validate.Range(min=1, max=MAX_PER_PAGE, error=_l("每页条数应在 1 到 200 之间")),
        error_messages={"invalid": _l("应为整数")},
    )


# ------------------------------------------------------------------------------------------ output


class LoanSchema(ma.Schema):
    id = ma.fields.Integer()
    bank_id = ma.fields.Integer()
    bank_code = ma.fields.String()
    bank_name = ma.fields.String()
    enterprise_id = ma.fields.Integer()
    enterprise_name = ma.fields.String()
    credit_code = ma.fields.String()
    enterprise_bad_credit = ma.fields.Boolean(metadata={"description": "Shown, not refused: bank loans have no such rule"})
    enterprise_dishonest = ma.fields.Boolean()
    contract_no = ma.fields.String()
    principal = AmountField()
    annual_rate = RateField()
    start_date = ma.fields.Date()
    maturity_date = ma.fields.Date()
    purpose = ma.fields.String()
    status = ma.fields.String(metadata={"description": "As of the day: contracted, active, overdue, repaid"})
    lifecycle_status = ma.fields.String(metadata={"description": "Stored lifecycle: contracted, active, repaid"})
    policy_id = ma.fields.Integer(metadata={"description": "Policy version in force on the contract date"})
    as_of = ma.fields.Date()
    disbursed_total = AmountField()
    repaid_principal = AmountField()
    outstanding_principal = AmountField()
    overdue_principal = AmountField()
    days_past_due = ma.fields.Integer()
    classification = ma.fields.String(metadata={"description": "normal, special_mention, substandard, doubtful, loss"})
    classification_label = ma.fields.String()
    covered = ma.fields.Boolean(
        metadata={"description": "Covered by the risk-compensation pool (decided once, as of the contract date)"}
    )
    coverage_reason = ma.fields.String(
        allow_none=True,
        metadata={"description": "Why not covered: pool_underfunded, bank_suspended or leverage_cap; null when covered"},
    )
    created_by = ma.fields.String()
    created_at = ma.fields.AwareDateTime(format="iso")


class LoanListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(LoanSchema))
    total = ma.fields.Integer()


class DisbursementSchema(ma.Schema):
    id = ma.fields.Integer()
    loan_id = ma.fields.Integer()
    amount = AmountField()
    disbursed_on = ma.fields.Date()
    bank_ref = ma.fields.String()
    created_by = ma.fields.String()
    created_at = ma.fields.AwareDateTime(format="iso")


class DisbursementListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(DisbursementSchema))
    total = ma.fields.Integer()


class RepaymentSchema(ma.Schema):
    id = ma.fields.Integer()
    loan_id = ma.fields.Integer()
    principal = AmountField()
    interest = AmountField()
    paid_on = ma.fields.Date()
    bank_ref = ma.fields.String()
    created_by = ma.fields.String()
    created_at = ma.fields.AwareDateTime(format="iso")


class RepaymentListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(RepaymentSchema))
    total = ma.fields.Integer()
