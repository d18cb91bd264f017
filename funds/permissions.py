"""Who may do what in the seed fund (domain.md §2, api.md "Seed fund").

- Fund officers (基金经办) do the paperwork: applications, initial and expert reviews, objections,
  contracts, disbursements, repayments, recoveries, write-off proposals.
- Fund managers (基金管理人) decide: approvals, objections' resolution, write-offs. Four eyes: a
  manager never decides an application they submitted or reviewed, nor approves a write-off they
  proposed (checked by user id, so a user whose role changed is still caught).
- Admins pay in contributions and keep the calendar and the agent bank; they approve nothing.
- Everyone reads the fund's figures and its loans; the applications are read by the fund's people,
  the admin and the auditor (bank liaisons have no part in the seed fund's paperwork).
"""
from __future__ import annotations

import sqlalchemy as sa

from core.auth.models import ROLE_VALUES, Role
from core.db import db
from core.errors import BusinessRuleError
from core.i18n import _

OFFICERS: tuple[str, ...] = (Role.FUND_OFFICER.value,)
MANAGERS: tuple[str, ...] = (Role.FUND_MANAGER.value,)
ADMINS: tuple[str, ...] = (Role.ADMIN.value,)
WRITE_OFF_ACTORS: tuple[str, ...] = (*OFFICERS, *MANAGERS)
FUND_READERS: tuple[str, ...] = ROLE_VALUES
APPLICATION_READERS: tuple[str, ...] = (
    Role.ADMIN.value,
    Role.FUND_OFFICER.value,
    Role.FUND_MANAGER.value,
    Role.AUDITOR.value,
)

# The steps that make a person part of the application, so not its judge.
INVOLVING_ACTIONS = ("submitted", "initial_review", "expert_review")


def involved_user_ids(application_id: int) -> set[int]:
    """Users who submitted or reviewed (initially or as recorder of an expert score) the application."""
    from funds.models import SeedApplicationEvent

    return set(
        db.session.scalars(
            sa.select(SeedApplicationEvent.by_id).where(
                SeedApplicationEvent.application_id == application_id,
                SeedApplicationEvent.action.in_(INVOLVING_ACTIONS),
                SeedApplicationEvent.by_id.is_not(None),
            )
        )
    )


def ensure_may_decide(application_id: int, user_id: int) -> None:
    """409 when ``user_id`` submitted or reviewed the application (four eyes)."""
    if user_id in involved_user_ids(application_id):
        raise BusinessRuleError(
            _("四眼原则：您提交或评审过该申请，不能对其作出决定"),
            {"decided_by": [_("提交人或评审人不能审批本申请")]},
        )


def ensure_not_proposer(proposed_by_id: int, user_id: int) -> None:
    """409 when the manager approving a write-off is the one who proposed it (four eyes)."""
    if proposed_by_id == user_id:
        raise BusinessRuleError(
            _("四眼原则：核销由您提议，不能由您审批"), {"approve": [_("提议人不能审批本核销")]}
        )
