"""Audit API (api.md): the trail for auditors, newest first, and the hash-chain check."""
from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from flask_smorest import Blueprint

from core.audit.models import AuditEvent
from core.audit.schemas import AuditListSchema, AuditQuerySchema, VerifySchema
from core.audit.trail import verify_chain
from core.auth.models import Role
from core.auth.permissions import roles_required
from core.clock import BUSINESS_TZ
from core.db import db

blueprint = Blueprint("audit", __name__, description="审计日志：所有写操作的哈希链记录（审计员）")

BEARER = [{"bearerAuth": []}]


def _start_of(day: Any) -> datetime:
    """The instant a business day begins (midnight in Asia/Shanghai)."""
    return datetime.combine(day, time.min, tzinfo=BUSINESS_TZ)


@blueprint.route("/audit", methods=["GET"])
@blueprint.doc(security=BEARER, summary="Audit events, newest first (auditor)")
@blueprint.response(200, AuditListSchema)
@roles_required(Role.AUDITOR)
@blueprint.arguments(AuditQuerySchema, location="query")
def audit_list(args: dict[str, Any]):
    query = sa.select(AuditEvent)
    for name, column in (
        ("action", AuditEvent.action),
        ("object_type", AuditEvent.object_type),
        ("object_id", AuditEvent.object_id),
        ("user", AuditEvent.username),
    ):
        if args.get(name) is not None:
            query = query.where(column == args[name])
    if args.get("since"):
        query = query.where(AuditEvent.at >= _start_of(args["since"]))
    if args.get("until"):
        query = query.where(AuditEvent.at < _start_of(args["until"] + timedelta(days=1)))
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    page, per_page = args["page"], args["per_page"]
    items = db.session.scalars(query.order_by(AuditEvent.id.desc()).limit(per_page).offset((page - 1) * per_page)).all()
    return {"items": items, "total": total}


@blueprint.route("/audit/verify", methods=["GET"])
@blueprint.doc(security=BEARER, summary="Recompute the audit hash chain (auditor)")
@blueprint.response(200, VerifySchema)
@roles_required(Role.AUDITOR)
def audit_verify():
    """``ok`` false names the first event that fails and why; the chain is read in chunks."""
    return verify_chain()
