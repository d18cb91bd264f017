"""The public notice (公示): objections and their resolution (domain.md §5).

Rules:
- An approved application is on public notice from its decision's date to ``notice_ends_on``
  (working days, funds.calendar). An officer records an objection only with an ``on`` date inside
  that window (409 otherwise); the application is then ``objection_raised``.
- An open objection blocks the contract until a fund manager resolves it with a written reason:
  dismissed (the application goes on; back to ``approved`` once no objection is open) or upheld
  (the application is rejected, its commitment released, its other open objections closed).
"""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from core.db import db
from core.errors import BusinessRuleError, NotFound
from core.i18n import _
from funds.models import SeedObjection
from funds.services.common import (
    COMMENT_MAX_LENGTH,
    business_day,
    close_open_objections,
    last_step_on,
    lock_application,
    not_before,
    raise_if,
    record_step,
    text,
)
from funds.states import Action, in_notice, target_of

OBJECTION_MAX_LENGTH = 4000


def raise_objection(application_id: int, *, content: str, on: date | None = None, by_id: int) -> SeedObjection:
    """Record an objection made during the public notice. 409 outside the notice or in another status."""
    errors: dict[str, list[str]] = {}
    clean = text(content, "text", _("异议内容"), OBJECTION_MAX_LENGTH, errors, required=True)
    raise_if(errors)
    day = business_day(on)
    application = lock_application(application_id)
    before = application.status
    target = target_of(before, Action.RAISE_OBJECTION)
    if not in_notice(application, day):
        raise BusinessRuleError(
            _(
                "只能在公示期内登记异议：公示期为 %(start)s 至 %(end)s",
                start=application.decided_on.isoformat(),
                end=application.notice_ends_on.isoformat(),
            ),
            {"on": [_("不在公示期内")]},
        )
    not_before(day, last_step_on(application.id))
    objection = SeedObjection(application_id=application.id, text=clean, raised_on=day, raised_by_id=by_id)
    db.session.add(objection)
    application.status = target.value
    record_step(application, "objection", from_status=before, on=day, by_id=by_id, comment=clean)
    db.session.flush()
    return objection


def resolve_objection(
    objection_id: int, *, upheld: bool, reason: str, on: date | None = None, by_id: int
) -> SeedObjection:
    """A fund manager resolves an open objection with a reason (422 without one).

    409: already resolved, or its application is no longer waiting on it.
    """
    errors: dict[str, list[str]] = {}
    if not isinstance(upheld, bool):
        errors["upheld"] = [_("应为 true 或 false")]
    clean = text(reason, "reason", _("处理理由"), COMMENT_MAX_LENGTH, errors, required=True)
    raise_if(errors)
    day = business_day(on)
    application_id = db.session.scalar(sa.select(SeedObjection.application_id).where(SeedObjection.id == objection_id))
    if application_id is None:
        raise NotFound(_("异议不存在"))
    application = lock_application(application_id)
    objection = db.session.get(SeedObjection, objection_id, populate_existing=True)
    if objection.status != "open":
        raise BusinessRuleError(_("该异议已处理"), {"objection": [_("该异议已处理")]})
    before = application.status
    target = target_of(before, Action.UPHOLD_OBJECTION if upheld else Action.DISMISS_OBJECTION)
    not_before(day, max(objection.raised_on, last_step_on(application.id) or objection.raised_on))
    objection.status = "upheld" if upheld else "dismissed"
    objection.resolution_reason = clean
    objection.resolved_on = day
    objection.resolved_by_id = by_id
    db.session.flush()
    if upheld:
        close_open_objections(application.id, day, by_id, except_id=objection.id)
        application.status = target.value
        application.closed_on = day
    else:
        still_open = db.session.scalar(
            sa.select(sa.func.count()).where(
                SeedObjection.application_id == application.id, SeedObjection.status == "open"
            )
        )
        if not still_open:
            application.status = target.value
    record_step(
        application, "objection_upheld" if upheld else "objection_dismissed", from_status=before, on=day,
        by_id=by_id, comment=clean,
    )
    db.session.flush()
    db.session.expire(objection, ["resolved_by"])  # loaded with the row, before the id was set
    return objection
