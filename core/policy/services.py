"""Which policy version governs a given day."""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from core.db import db
from core.errors import BusinessRuleError
from core.i18n import _
from core.policy.models import Policy


def policy_in_force(on: date) -> Policy:
    """The version with the latest ``effective_from`` on or before ``on``.

    Every check is made as of the record's own date (domain.md §3), so callers pass the
    contract, rating or claim date, never today by default.
    """
    policy = db.session.scalars(
        sa.select(Policy).where(Policy.effective_from <= on).order_by(Policy.effective_from.desc()).limit(1)
    ).first()
    if policy is None:
        raise BusinessRuleError(_("%(day)s 没有生效的政策版本", day=on.isoformat()))
    return policy
