"""The programme progress dashboard (/progress, everyone): stat cards, charts and, under each
chart, a table with the same figures for auditors and for printing.

The figures come from the same functions as ``GET /api/v1/program/progress``, so the page and the
API always agree. The charts read their data from ``data-chart`` attributes (JSON, amounts as
two-decimal strings) rendered here; static/js/progress.js draws them (no inline script: CSP).
"""
from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from flask import Blueprint, flash, render_template, request

from core import clock
from core.auth.models import ROLE_VALUES
from core.auth.permissions import roles_required
from core.i18n import _
from core.money import FEN
from core.replica import reads_from_replica
from loans.progress import Breakdown, Progress, Timeline, TimelinePoint, program_timeline, visible_progress

blueprint = Blueprint("progress", __name__)


def _as_of_from_request() -> date:
    """``?as_of=YYYY-MM-DD`` or today; a malformed date falls back to today with a message."""
    raw = (request.args.get("as_of") or "").strip()
    if not raw:
        return clock.today()
    try:
        return date.fromisoformat(raw)
    except ValueError:
        flash(_("日期格式应为 YYYY-MM-DD，已显示截至今天的数据。"), "warning")
        return clock.today()


def _money(amount: Decimal) -> str:
    return f"{amount:.2f}"


def _month_end(year: int, month: int) -> date:
    following = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return following - timedelta(days=1)


def _months_after(as_of: date, until: date) -> list[tuple[int, int]]:
    """(year, month) of every month after ``as_of``'s, up to and including ``until``'s."""
    months = []
    year, month = as_of.year, as_of.month
    while (year, month) < (until.year, until.month):
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        months.append((year, month))
    return months


def cumulative_chart(progress: Progress, timeline: Timeline) -> dict[str, Any]:
    """The line chart: month-end cumulative, the target line and, up to the deadline, where the
    trailing-12-month pace leads (an illustration: the projected date itself is computed exactly
    by loans.progress)."""
    labels = [point.month for point in timeline.items]
    actual: list[str | None] = [_money(point.cumulative) for point in timeline.items]
    projected: list[str | None] = []
    future = [] if progress.target_reached else _months_after(progress.as_of, progress.target_date)
    if future:
        pace = progress.trailing_12m_disbursed / ((progress.as_of - progress.trailing_12m_from).days + 1)
        projected = [None] * (len(labels) - 1) + [_money(progress.cumulative_disbursed)]
        for year, month in future:
            days = (min(_month_end(year, month), progress.target_date) - progress.as_of).days
            reach = (progress.cumulative_disbursed + pace * days).quantize(FEN, rounding=ROUND_HALF_UP)
            labels.append(f"{year:04d}-{month:02d}")
            actual.append(None)
            projected.append(_money(min(reach, progress.target)))
    return {
        "labels": labels,
        "values": actual,
        "projection": projected,
        "target": _money(progress.target),
        "series_label": _("累计放款"),
        "projection_label": _("按近 12 个月速度推算"),
        "target_label": _("目标"),
    }


def year_end_points(timeline: Timeline) -> list[TimelinePoint]:
    """The cumulative at each December (and at the last month shown): the line chart's table."""
    items = timeline.items
    return [point for index, point in enumerate(items) if point.month.endswith("-12") or index == len(items) - 1]


def _series(lines: list[Breakdown]) -> dict[str, Any]:
    return {"labels": [line.label for line in lines], "values": [_money(line.amount) for line in lines]}


def chart_data(progress: Progress, timeline: Timeline) -> dict[str, dict[str, Any]]:
    """What each canvas draws (amounts as strings in yuan; the script scales them to 万元)."""
    charts = {
        "cumulative": cumulative_chart(progress, timeline),
        "year": {**_series(progress.by_year), "series_label": _("放款金额")},
        "bank": {**_series(progress.by_bank), "series_label": _("放款金额")},
        "town": _series(progress.by_town),
        "industry": _series(progress.by_industry),
        "grade": {**_series(progress.by_grade), "series_label": _("放款金额")},
    }
    unit = _("万元")  # the axis title; the script itself carries no interface text
    return {name: {**chart, "unit": unit} for name, chart in charts.items()}


@blueprint.get("/progress")
@roles_required(*ROLE_VALUES)
@reads_from_replica
def index():
    as_of = _as_of_from_request()
    progress = visible_progress(as_of)
    timeline = program_timeline(as_of)
    return render_template(
        "loans/progress.html",
        progress=progress,
        timeline=timeline,
        year_ends=year_end_points(timeline),
        charts=chart_data(progress, timeline),
        today=clock.today(),
    )
