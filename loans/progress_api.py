"""Programme progress API (api.md "Knowledge-value credit loans"): everyone logged in may read it.

``GET /api/v1/program/progress`` answers the dashboard's figures; ``.../timeline`` the cumulative
amount at each month's end (the chart's line). Both take an optional ``as_of`` (default today).
A bank liaison sees its own bank by name and the other banks as one line (loans.progress.visible_progress).
"""
from __future__ import annotations

from dataclasses import asdict
from typing import Any

import marshmallow as ma
from flask_smorest import Blueprint

from core import clock
from core.auth.models import ROLE_VALUES
from core.auth.permissions import roles_required
from core.i18n import _l
from core.money import AmountField
from core.replica import reads_from_replica
from loans.progress import program_timeline, visible_progress

blueprint = Blueprint(
    "program_progress",
    __name__,
    description="项目进度：知识价值信用贷款累计放款对 3 亿元目标的进度、分项统计与达成日期预测（全部角色）",
)

BEARER = [{"bearerAuth": []}]


def _percent(description: str) -> ma.fields.Decimal:
    return ma.fields.Decimal(
        as_string=True, places=2, metadata={"type": "string", "example": "45.12", "description": description}
    )


class ProgressAsOfQuerySchema(ma.Schema):
    as_of = ma.fields.Date(
        load_default=None,
        error_messages={"invalid": _l("日期格式应为 YYYY-MM-DD")},
        metadata={"description": "Figures as of the end of this day (default: today, Asia/Shanghai)"},
    )


class ProgressBreakdownSchema(ma.Schema):
    key = ma.fields.String(
        metadata={"description": 'Stable key: a year ("2023") or "opening", a bank code or "others", '
                  'a town, an industry, a grade "A"–"E" or "unrated"'}
    )
    label = ma.fields.String(metadata={"description": "Chinese label, e.g. 2020年及以前, 未评级"})
    amount = AmountField()
    share = _percent("Percentage of the list's total")
    disbursements = ma.fields.Integer(allow_none=True, metadata={"description": "Tranches (null for the opening)"})
    enterprises = ma.fields.Integer(allow_none=True, metadata={"description": "Distinct enterprises"})


class ProgressIndicatorSchema(ma.Schema):
    label = ma.fields.String()
    count = ma.fields.Integer(metadata={"description": "Flagged enterprises registered on or before as_of"})
    baseline = ma.fields.Integer(metadata={"description": "The 2020 figure (policy)"})
    target = ma.fields.Integer(metadata={"description": "The 2025 target (policy)"})
    percent = _percent("count ÷ target × 100")


class ProgressIndicatorsSchema(ma.Schema):
    science_tech = ma.fields.Nested(ProgressIndicatorSchema)
    high_tech = ma.fields.Nested(ProgressIndicatorSchema)


class ProgramProgressSchema(ma.Schema):
    as_of = ma.fields.Date()
    policy_id = ma.fields.Integer()
    target = AmountField()
    target_date = ma.fields.Date(metadata={"description": "The deadline (policy)"})
    opening = AmountField(metadata={"description": "Opening figure of the policy (reached before the records)"})
    opening_counted = ma.fields.Boolean(metadata={"description": "Whether the opening counts toward the target"})
    opening_enterprises = ma.fields.Integer()
    disbursed = AmountField(metadata={"description": "Tranches recorded up to as_of, without the opening"})
    disbursements = ma.fields.Integer()
    enterprises = ma.fields.Integer()
    cumulative_disbursed = AmountField(metadata={"description": "Counts toward the target: opening (if counted) + tranches"})
    remaining = AmountField(allow_zero=True)
    percent = _percent("cumulative_disbursed ÷ target × 100")
    target_reached = ma.fields.Boolean()
    trailing_12m_from = ma.fields.Date(metadata={"description": "First day of the pace window [trailing_12m_from, as_of]"})
    trailing_12m_disbursed = AmountField()
    daily_pace = AmountField(metadata={"description": "trailing_12m_disbursed per day of the window"})
    pace_completion_date = ma.fields.Date(
        allow_none=True, metadata={"description": "Where the pace leads, even after the deadline; null without pace"}
    )
    projected_completion_date = ma.fields.Date(
        allow_none=True, metadata={"description": "Day the trailing-12-month pace reaches the target; null when not by the deadline"}
    )
    will_not_reach_by_deadline = ma.fields.Boolean()
    by_year = ma.fields.List(ma.fields.Nested(ProgressBreakdownSchema))
    by_bank = ma.fields.List(ma.fields.Nested(ProgressBreakdownSchema))
    by_town = ma.fields.List(ma.fields.Nested(ProgressBreakdownSchema))
    by_industry = ma.fields.List(ma.fields.Nested(ProgressBreakdownSchema))
    by_grade = ma.fields.List(ma.fields.Nested(ProgressBreakdownSchema))
    indicators = ma.fields.Nested(ProgressIndicatorsSchema)


class ProgressTimelinePointSchema(ma.Schema):
    month = ma.fields.String(metadata={"example": "2024-06"})
    disbursed = AmountField(metadata={"description": "Tranches of the month"})
    cumulative = AmountField(metadata={"description": "Counts toward the target at the month's end"})


class ProgressTimelineSchema(ma.Schema):
    as_of = ma.fields.Date()
    target = AmountField()
    target_date = ma.fields.Date()
    opening = AmountField()
    opening_counted = ma.fields.Boolean()
    items = ma.fields.List(ma.fields.Nested(ProgressTimelinePointSchema))
    total = ma.fields.Integer()


@blueprint.route("/program/progress", methods=["GET"])
@blueprint.doc(security=BEARER, summary="Progress toward the programme's cumulative target (everyone)")
@blueprint.response(200, ProgramProgressSchema)
@roles_required(*ROLE_VALUES)
@blueprint.arguments(ProgressAsOfQuerySchema, location="query")
@reads_from_replica
def progress_get(args: dict[str, Any]):
    return visible_progress(args["as_of"] or clock.today())


@blueprint.route("/program/progress/timeline", methods=["GET"])
@blueprint.doc(security=BEARER, summary="Cumulative progress at each month's end (everyone)")
@blueprint.response(200, ProgressTimelineSchema)
@roles_required(*ROLE_VALUES)
@blueprint.arguments(ProgressAsOfQuerySchema, location="query")
@reads_from_replica
def progress_timeline(args: dict[str, Any]):
    timeline = program_timeline(args["as_of"] or clock.today())
    return {**asdict(timeline), "total": len(timeline.items)}
