"""The application state machine, in one table (domain.md §5 workflow).

Every step of an application is an :class:`Action`; :data:`TRANSITIONS` says, for each status,
which actions it accepts and the status they lead to. Anything not in the table is refused with
409 by :func:`target_of`, whoever asks, so no service can move an application along a path the
table does not name.

Statuses (stored):

- ``submitted`` — the officer took the application in;
- ``initial_review_passed`` — the officer's initial review passed (a failed one rejects it);
- ``expert_review`` — expert scores are being collected (the first score moves it here);
- ``approved`` — a fund manager approved it; the public notice runs from the decision's date to
  ``notice_ends_on`` (a number of working days later); the amount is committed;
- ``objection_raised`` — an objection made during the notice is waiting for a manager;
- ``contracted`` — the contract is signed and the seed loan exists (its own lifecycle follows);
- ``rejected`` — by the initial review, by the decision, or because an objection was upheld;
- ``withdrawn`` — the applicant withdrew before the contract.

``public_notice`` is not stored: it is the *phase* of an approved (or objected) application on a
day inside its notice window (:func:`phase_of`). The steps are entered with their own ``on``
dates, which may be earlier than today (paper comes before data entry); a stored status could not
say whether an objection dated last week fell inside the notice, the dates can.
"""
from __future__ import annotations

import enum
from datetime import date
from typing import TYPE_CHECKING

from core.errors import BusinessRuleError
from core.i18n import _, _l

if TYPE_CHECKING:  # pragma: no cover
    from funds.models import SeedApplication


class Status(enum.StrEnum):
    SUBMITTED = "submitted"
    INITIAL_REVIEW_PASSED = "initial_review_passed"
    EXPERT_REVIEW = "expert_review"
    APPROVED = "approved"
    OBJECTION_RAISED = "objection_raised"
    CONTRACTED = "contracted"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class Action(enum.StrEnum):
    PASS_INITIAL_REVIEW = "pass_initial_review"  # nosec B105  # a state name, not a password
    FAIL_INITIAL_REVIEW = "fail_initial_review"
    RECORD_EXPERT_REVIEW = "record_expert_review"
    APPROVE = "approve"
    REJECT = "reject"
    RAISE_OBJECTION = "raise_objection"
    DISMISS_OBJECTION = "dismiss_objection"
    UPHOLD_OBJECTION = "uphold_objection"
    LINK_ENTERPRISE = "link_enterprise"
    CONTRACT = "contract"
    WITHDRAW = "withdraw"


S, A = Status, Action

# Before the contract, the applicant may still register its enterprise or withdraw.
_OPEN = (S.SUBMITTED, S.INITIAL_REVIEW_PASSED, S.EXPERT_REVIEW, S.APPROVED, S.OBJECTION_RAISED)

TRANSITIONS: dict[Status, dict[Action, Status]] = {
    S.SUBMITTED: {
        A.PASS_INITIAL_REVIEW: S.INITIAL_REVIEW_PASSED,
        A.FAIL_INITIAL_REVIEW: S.REJECTED,
    },
    S.INITIAL_REVIEW_PASSED: {
        A.RECORD_EXPERT_REVIEW: S.EXPERT_REVIEW,
        # Approving is then refused for too few scores (a clearer answer than "wrong state").
        A.APPROVE: S.APPROVED,
        A.REJECT: S.REJECTED,
    },
    S.EXPERT_REVIEW: {
        A.RECORD_EXPERT_REVIEW: S.EXPERT_REVIEW,
        A.APPROVE: S.APPROVED,
        A.REJECT: S.REJECTED,
    },
    S.APPROVED: {
        A.RAISE_OBJECTION: S.OBJECTION_RAISED,
        A.CONTRACT: S.CONTRACTED,
    },
    S.OBJECTION_RAISED: {
        A.RAISE_OBJECTION: S.OBJECTION_RAISED,
        # Back to approved once no objection is open (the service stays here while others are).
        A.DISMISS_OBJECTION: S.APPROVED,
        A.UPHOLD_OBJECTION: S.REJECTED,
    },
    S.CONTRACTED: {},
    S.REJECTED: {},
    S.WITHDRAWN: {},
}
for _status in _OPEN:
    TRANSITIONS[_status][A.LINK_ENTERPRISE] = _status
    TRANSITIONS[_status][A.WITHDRAW] = S.WITHDRAWN

# Statuses whose amount is committed (approved, not yet disbursed; see funds.queries.committed).
COMMITTING = (S.APPROVED, S.OBJECTION_RAISED, S.CONTRACTED)
TERMINAL = tuple(status for status, actions in TRANSITIONS.items() if not actions)

STATUS_LABELS = {
    S.SUBMITTED: _l("已受理"),
    S.INITIAL_REVIEW_PASSED: _l("初审通过"),
    S.EXPERT_REVIEW: _l("专家评审中"),
    S.APPROVED: _l("已批准"),
    S.OBJECTION_RAISED: _l("公示有异议"),
    S.CONTRACTED: _l("已签约"),
    S.REJECTED: _l("未通过"),
    S.WITHDRAWN: _l("已撤回"),
}
PHASE_LABELS = {
    **STATUS_LABELS,
    "public_notice": _l("公示中"),
    "ready_to_contract": _l("公示期满，待签约"),
}
PHASES = (
    "submitted",
    "initial_review_passed",
    "expert_review",
    "public_notice",
    "objection_raised",
    "ready_to_contract",
    "contracted",
    "rejected",
    "withdrawn",
)
ACTION_LABELS = {
    A.PASS_INITIAL_REVIEW: _l("初审通过"),
    A.FAIL_INITIAL_REVIEW: _l("初审不通过"),
    A.RECORD_EXPERT_REVIEW: _l("登记专家评审"),
    A.APPROVE: _l("批准"),
    A.REJECT: _l("否决"),
    A.RAISE_OBJECTION: _l("登记公示异议"),
    A.DISMISS_OBJECTION: _l("驳回异议"),
    A.UPHOLD_OBJECTION: _l("异议成立"),
    A.LINK_ENTERPRISE: _l("登记企业"),
    A.CONTRACT: _l("签订合同"),
    A.WITHDRAW: _l("撤回申请"),
}


def status_label(status: str) -> str:
    return str(PHASE_LABELS.get(status, status))


def allowed_actions(status: str) -> tuple[Action, ...]:
    """What may be done to an application in ``status`` (for pages: which forms to show)."""
    return tuple(TRANSITIONS.get(Status(status), {}))


def target_of(status: str, action: Action) -> Status:
    """The status ``action`` leads to from ``status``; 409 when the table has no such transition."""
    target = TRANSITIONS.get(Status(status), {}).get(action)
    if target is None:
        raise BusinessRuleError(
            _(
                "申请当前状态为“%(status)s”，不能%(action)s",
                status=status_label(status),
                action=str(ACTION_LABELS[action]),
            ),
            {"status": [status_label(status)]},
        )
    return target


def in_notice(application: SeedApplication, day: date) -> bool:
    """Whether ``day`` falls inside the public notice: from the decision's date to its last day."""
    return (
        application.decided_on is not None
        and application.notice_ends_on is not None
        and application.decided_on <= day <= application.notice_ends_on
    )


def phase_of(application: SeedApplication, day: date) -> str:
    """The stored status refined by the notice window as of ``day``: ``public_notice`` while the
    notice runs, ``ready_to_contract`` once it is over (approved, no objection open)."""
    if application.status == Status.APPROVED:
        if application.notice_ends_on is not None and day > application.notice_ends_on:
            return "ready_to_contract"
        return "public_notice"
    return application.status
