"""Jobs API payloads: a run request, the run record, the list filters."""
from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import validate

from core.i18n import _l
from core.jobs.models import RUN_STATUSES, JobRun
from core.jobs.queries import MAX_PER_PAGE
from core.jobs.runner import live_progress


class RunRequestSchema(ma.Schema):
    period = ma.fields.String(
        allow_none=True,
        load_default=None,
        metadata={
            "description": "`YYYY-MM` for a monthly job (default: the previous month), `YYYY-MM-DD` for a daily "
            "one (default: today)",
            "example": "2025-06",
        },
    )


class RunQuerySchema(ma.Schema):
    job = ma.fields.String(metadata={"description": "job name, e.g. `monthly-reconciliation`"})
    status = ma.fields.String(validate=validate.OneOf(RUN_STATUSES, error=_l("状态应为 running、succeeded、failed 或 skipped")))
    period = ma.fields.String()
    page = ma.fields.Integer(load_default=1, validate=validate.Range(min=1, error=_l("页码至少为 1")))
    per_page = ma.fields.Integer(
        load_default=50,
        validate=validate.Range(min=1, max=MAX_PER_PAGE, error=_l("每页条数应在 1 到 200 之间")),
    )


class JobRunSchema(ma.Schema):
    id = ma.fields.Integer(allow_none=True, metadata={"description": "null only while another runner is claiming it"})
    job = ma.fields.String()
    period = ma.fields.String()
    status = ma.fields.String(metadata={"description": "`running`, `succeeded`, `failed` or `skipped`"})
    outcome = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "what this request did (POST only): `ran`, `already_succeeded` (the period is done; "
            "nothing ran) or `already_running` (another runner holds it)"
        },
    )
    started_at = ma.fields.AwareDateTime(format="iso")
    finished_at = ma.fields.AwareDateTime(format="iso", allow_none=True)
    duration_ms = ma.fields.Integer(allow_none=True, metadata={"description": "how long the run took, in milliseconds"})
    error = ma.fields.String(allow_none=True)
    progress_done = ma.fields.Method("_done")
    progress_total = ma.fields.Method("_total", allow_none=True)
    result = ma.fields.Raw(allow_none=True, metadata={"description": "what the job reports (counts, differences...)"})
    triggered_by = ma.fields.String(metadata={"description": "`scheduler`, `cli` or the username"})
    attempts = ma.fields.Integer()

    def _done(self, run: JobRun) -> int:
        return live_progress(run)[0]

    def _total(self, run: JobRun) -> Any:
        return live_progress(run)[1]


class JobRunListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(JobRunSchema))
    total = ma.fields.Integer()
