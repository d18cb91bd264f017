"""Issue 3 acceptance: the progress page renders its charts in a real browser (screenshot in
artifacts/e2e/), and every figure it shows equals ``GET /api/v1/program/progress``.

The page and the API are asked for the same day (the page's ``as_of`` field), so a run across
midnight cannot compare two different days.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from core.money import format_cny
from core.templating import EMPTY

CANVASES = ("chart-cumulative", "chart-year", "chart-bank", "chart-town", "chart-industry", "chart-grade")
BREAKDOWNS = {"year": "chart-year", "bank": "chart-bank", "town": "chart-town", "industry": "chart-industry", "grade": "chart-grade"}

# Per canvas: the data it was given, the Chart.js instance drawn on it, and how many pixels it inked.
CANVAS_STATE = """() => Array.from(document.querySelectorAll("canvas[data-chart]")).map((canvas) => {
  const given = JSON.parse(canvas.getAttribute("data-chart"));
  const chart = window.Chart ? window.Chart.getChart(canvas) : undefined;
  let inked = 0;
  if (!canvas.hidden && canvas.width && canvas.height) {
    const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 3; i < pixels.length; i += 4) { if (pixels[i] !== 0) { inked++; } }
  }
  return {
    id: canvas.id,
    labels: (given.labels || []).length,
    hidden: canvas.hidden,
    shown: canvas.getBoundingClientRect().width > 0,
    type: chart ? chart.config.type : null,
    chartLabels: chart ? chart.data.labels : [],
    exact: chart ? chart.data.datasets.map((dataset) => dataset.exact || null) : [],
    inked: inked,
  };
})"""

TABLE_ROWS = """(root) => Array.from(root.querySelectorAll("tbody tr[data-key]")).map((row) => ({
  key: row.getAttribute("data-key"),
  cells: [row.querySelector("th").innerText.trim()].concat(
    Array.from(row.querySelectorAll("td")).map((cell) => cell.innerText.trim())),
}))"""

MONTHLY_ROWS = """(root) => Array.from(root.querySelectorAll("tbody tr")).map((row) =>
  [row.querySelector("th").innerText.trim()].concat(Array.from(row.querySelectorAll("td")).map((cell) => cell.innerText.trim())))"""


def cny(text: str) -> str:
    """An API amount ("1234.50") as the page shows it (¥1,234.50)."""
    return format_cny(Decimal(text))


def count(value: int | None) -> str:
    return EMPTY if value is None else str(value)


def expected_rows(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A breakdown of the API as the table under its chart shows it."""
    return [
        {"key": line["key"], "cells": [line["label"], cny(line["amount"]), f"{line['share']}%",
                                        count(line["disbursements"]), count(line["enterprises"])]}
        for line in lines
    ]


def expected_projection(api: dict[str, Any]) -> str:
    if api["target_reached"]:
        return "已达成目标"
    if api["will_not_reach_by_deadline"]:
        return "无法按期达成"
    return api["projected_completion_date"]


def test_the_progress_page_draws_its_charts_and_shows_the_apis_figures(page_as, pages, live_server):
    page = page_as("auditor")
    page.goto("/progress")
    page.wait_for_selector("body[data-charts-ready='1']", state="attached")
    as_of = page.input_value("#as_of")

    # --- the charts are drawn: a Chart.js instance on every canvas that has data, pixels on it
    canvases = {state["id"]: state for state in page.evaluate(CANVAS_STATE)}
    assert set(canvases) == set(CANVASES)
    for name, state in canvases.items():
        if state["labels"]:
            assert state["type"] and not state["hidden"] and state["shown"], state
            assert state["inked"] > 500, f"{name} is blank: {state}"
        else:  # nothing to plot (e.g. no tranche yet): the script hides the canvas, the table says so
            assert state["hidden"] and state["type"] is None, state
    assert canvases["chart-cumulative"]["type"] == "line" and canvases["chart-cumulative"]["inked"] > 500
    assert canvases["chart-year"]["type"] == "bar"  # the opening figure is always a year line

    # --- a clean page: no script error, no console error, nothing asked of another host
    watch = pages.watch(page)
    assert watch.console_errors == [] and watch.page_errors == []
    assert watch.foreign_requests == []
    assert any(url.endswith("/static/vendor/chartjs/chart.umd.min.js") for url in watch.requests)
    shot = pages.screenshot(page)
    assert shot.stat().st_size > 20_000

    # --- the API, for the same user and the same day
    token = live_server.token("auditor")
    api = live_server.get_json(f"/api/v1/program/progress?as_of={as_of}", token=token)
    timeline = live_server.get_json(f"/api/v1/program/progress/timeline?as_of={as_of}", token=token)
    assert api["as_of"] == as_of

    # --- the figures shown equal the API's
    assert page.inner_text("[data-testid=stat-target] .stat-value").strip() == cny(api["target"])
    assert page.inner_text("[data-testid=stat-cumulative] .stat-value").strip() == cny(api["cumulative_disbursed"])
    cumulative_hint = page.inner_text("[data-testid=stat-cumulative] .stat-hint")
    assert f"{api['percent']}%" in cumulative_hint and cny(api["remaining"]) in cumulative_hint
    assert page.inner_text("[data-testid=percent]").strip() == f"{api['percent']}%"
    assert page.get_attribute(".progress[data-progress]", "aria-valuenow") == api["percent"]
    assert page.inner_text("[data-testid=projected-completion]").strip() == expected_projection(api)

    for dimension, canvas in BREAKDOWNS.items():
        lines = api[f"by_{dimension}"]
        shown = page.locator(f"[data-testid=by-{dimension}]").evaluate(TABLE_ROWS)
        assert shown == expected_rows(lines), dimension
        if lines:  # the table's total, and the chart's exact amounts (its tooltips)
            total = sum((Decimal(line["amount"]) for line in lines), Decimal("0.00"))
            assert page.inner_text(f"[data-testid=by-{dimension}] tfoot td.money").strip() == format_cny(total)
            assert canvases[canvas]["chartLabels"] == [line["label"] for line in lines], dimension
            assert canvases[canvas]["exact"][0] == [line["amount"] for line in lines], dimension

    # The line chart and the monthly table follow the timeline API to the last cent.
    months = page.locator("[data-testid=monthly]").evaluate(MONTHLY_ROWS)
    assert months == [[point["month"], cny(point["disbursed"]), cny(point["cumulative"])] for point in timeline["items"]]
    actual = canvases["chart-cumulative"]["exact"][0]
    assert [value for value in actual if value is not None] == [point["cumulative"] for point in timeline["items"]]
    assert timeline["items"][-1]["cumulative"] == api["cumulative_disbursed"]
