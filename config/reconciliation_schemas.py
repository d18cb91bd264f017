"""Reconciliation API payloads (api.md "Documents, jobs, reconciliation").

A result is ``{period, status, differences: [...]}`` plus what an auditor needs around it: the
checks with their figures, when and by whom it was run and signed off. Each difference is the stored
JSON object (its keys depend on its ``kind``: see ``config.reconciliation``; money as strings with
two decimals) with a ``message`` in the reader's language added.
"""
from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from core.i18n import _l
from core.periods import COMMENT_MAX_LENGTH
from core.reconciliation import MAX_PER_PAGE, RESULT_STATUSES


class Schema(ma.Schema):
    error_messages = {"unknown": _l("不接受此字段"), "type": _l("请求体应为 JSON 对象")}


class SignOffSchema(Schema):
    comment = ma.fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=COMMENT_MAX_LENGTH, error=_l("不能超过 {max} 个字符")),
        error_messages={"invalid": _l("应为文本")},
        metadata={"description": "The auditor's comment; required when the result has differences (422 without)"},
    )


class ReconciliationPageSchema(Schema):
    page = ma.fields.Integer(load_default=1, validate=validate.Range(min=1, error=_l("页码至少为 1")))
    per_page = ma.fields.Integer(
        load_default=50,
        validate=validate.Range(min=1, max=MAX_PER_PAGE, error=_l("每页条数应在 1 到 200 之间")),
    )


class ReconciliationSchema(Schema):
    period = ma.fields.String(metadata={"description": "YYYY-MM"})
    status = ma.fields.String(validate=validate.OneOf(RESULT_STATUSES), metadata={"description": "balanced / differences / signed_off"})
    status_label = ma.fields.String()
    difference_count = ma.fields.Integer()
    differences = ma.fields.List(
        ma.fields.Dict(),
        metadata={
            "description": "Every difference: `check` (journal, trial_balance, control_account, tape), `kind` "
            "(unposted_entry, too_few_lines, unbalanced_entry, trial_balance, control_account, missing_tape, "
            "missing_in_system, missing_on_tape, amount, dpd, credit_code), the figures of both sides and `message`"
        },
    )
    checks = ma.fields.List(ma.fields.Dict(), metadata={"description": "Each check with its figures and `ok`"})
    run_at = ma.fields.DateTime()
    run_by = ma.fields.String()
    runs = ma.fields.Integer(metadata={"description": "Runs of the month so far (a re-run replaces the result)"})
    document_id = ma.fields.Integer(allow_none=True, metadata={"description": "The report's PDF (GET /documents/{id}/pdf)"})
    signed_off_at = ma.fields.DateTime(allow_none=True)
    signed_off_by = ma.fields.String(allow_none=True)
    comment = ma.fields.String(allow_none=True)
    closed = ma.fields.Boolean(metadata={"description": "Whether the month is closed (no record dated in it is accepted)"})


class ReconciliationSummarySchema(Schema):
    period = ma.fields.String()
    status = ma.fields.String()
    status_label = ma.fields.String()
    difference_count = ma.fields.Integer()
    run_at = ma.fields.DateTime()
    signed_off_at = ma.fields.DateTime(allow_none=True)
    signed_off_by = ma.fields.String(allow_none=True)


class ReconciliationListSchema(Schema):
    items = ma.fields.List(ma.fields.Nested(ReconciliationSummarySchema))
    total = ma.fields.Integer()
