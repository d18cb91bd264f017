"""Audit API payloads: the query filters and the event as an auditor reads it."""
from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import validate

from core.i18n import _l

MAX_PER_PAGE = 200


class AuditQuerySchema(ma.Schema):
    """Filters of ``GET /audit``; ``since`` / ``until`` are business dates (Asia/Shanghai), both inclusive."""

    action = ma.fields.String(metadata={"description": "exact action, e.g. `update` or `auth.login`"})
    object_type = ma.fields.String(metadata={"description": "table name, e.g. `banks`"})
    object_id = ma.fields.String()
    user = ma.fields.String(metadata={"description": "username of the actor (`system` for unattended writes)"})
    since = ma.fields.Date(error_messages={"invalid": _l("日期格式应为 YYYY-MM-DD")})
    until = ma.fields.Date(error_messages={"invalid": _l("日期格式应为 YYYY-MM-DD")})
    page = ma.fields.Integer(load_default=1, validate=validate.Range(min=1, error=_l("页码至少为 1")))
    per_page = ma.fields.Integer(
        load_default=50,
        validate=validate.Range(min=1, max=MAX_PER_PAGE, error=_l("每页条数应在 1 到 200 之间")),
    )

    @ma.validates_schema
    def _period_in_order(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise ma.ValidationError(_l("起始日期不能晚于截止日期"), "until")


class AuditEventSchema(ma.Schema):
    id = ma.fields.Integer()
    at = ma.fields.AwareDateTime(format="iso")
    user = ma.fields.String(attribute="username", metadata={"description": "who acted (copied at the time)"})
    user_id = ma.fields.Integer(allow_none=True)
    action = ma.fields.String()
    object = ma.fields.String(attribute="object_ref", metadata={"description": '"type:id", e.g. "banks:3"'})
    object_type = ma.fields.String()
    object_id = ma.fields.String(allow_none=True)
    before = ma.fields.Raw(allow_none=True, metadata={"description": "changed columns before (update, delete)"})
    after = ma.fields.Raw(allow_none=True, metadata={"description": "changed columns after (create, update)"})
    prev_hash = ma.fields.String(allow_none=True)
    hash = ma.fields.String()


class AuditListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(AuditEventSchema))
    total = ma.fields.Integer()


class VerifySchema(ma.Schema):
    ok = ma.fields.Boolean()
    events = ma.fields.Integer(metadata={"description": "events checked"})
    first_bad_id = ma.fields.Integer(allow_none=True)
    reason = ma.fields.String()
