"""Initial review, expert reviews and the fund manager's decision (domain.md §5).

Rules:
- The officer's initial review passes the application on to the experts or rejects it.
- Experts score 0–100, each expert once per application; the officer records the scores.
- A fund manager decides. Approval is refused (409) when fewer than ``seed_min_expert_reviews``
  (3) scores are recorded, when their average is below ``seed_pass_mark`` (60, compared exactly),
  or when the amount exceeds the fund's ``available`` (cash − committed) at that moment. Four
  eyes, for approval and rejection alike: a manager who submitted the application or recorded
  any review of it may not decide it (409).
- Approval commits the amount and opens the public notice, which ends ``seed_notice_working_days``
  (5) working days after the decision's date (funds.calendar); the end date is stored.
- The approval check runs under the fund's lock (``lock_fund``), so concurrent approvals are
  judged one after the other and ``available`` never goes negative.
"""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from core.db import db
from core.errors import BusinessRuleError
from core.i18n import _
from core.money import format_cny
from funds.calendar import add_working_days
from funds.models import SeedApplication, SeedExpertReview
from funds.permissions import ensure_may_decide
from funds.queries import fund_figures, review_summary
from funds.services.common import (
    COMMENT_MAX_LENGTH,
    NAME_MAX_LENGTH,
    business_day,
    last_step_on,
    lock_application,
    not_before,
    raise_if,
    record_step,
    text,
)
from funds.services.fund import lock_fund
from funds.states import Action, target_of


def initial_review(
    application_id: int, *, passed: bool, comment: str = "", on: date | None = None, by_id: int
) -> SeedApplication:
    """The officer's initial review of a submitted application: passed, or rejected."""
    errors: dict[str, list[str]] = {}
    if not isinstance(passed, bool):
        errors["passed"] = [_("应为 true 或 false")]
    clean = text(comment, "comment", _("意见"), COMMENT_MAX_LENGTH, errors, required=False)
    raise_if(errors)
    day = business_day(on)
    application = lock_application(application_id)
    before = application.status
    target = target_of(before, Action.PASS_INITIAL_REVIEW if passed else Action.FAIL_INITIAL_REVIEW)
    not_before(day, last_step_on(application.id))
    application.status = target.value
    application.initial_review_passed = passed
    application.initial_review_on = day
    application.initial_review_comment = clean
    application.initial_reviewed_by_id = by_id
    if not passed:
        application.closed_on = day
    record_step(application, "initial_review", from_status=before, on=day, by_id=by_id, comment=clean)
    db.session.flush()
    return application


def record_expert_review(
    application_id: int, *, expert_name: str, score: int, comment: str = "", on: date | None = None, by_id: int
) -> SeedExpertReview:
    """Record one expert's score (0–100). 409: not under review, or that expert already scored it."""
    errors: dict[str, list[str]] = {}
    name = text(expert_name, "expert_name", _("专家姓名"), NAME_MAX_LENGTH, errors, required=True)
    if isinstance(score, bool) or not isinstance(score, int):
        errors["score"] = [_("评分应为 0 到 100 的整数")]
    elif not 0 <= score <= 100:
        errors["score"] = [_("评分应为 0 到 100 的整数")]
    clean = text(comment, "comment", _("意见"), COMMENT_MAX_LENGTH, errors, required=False)
    raise_if(errors)
    day = business_day(on)
    application = lock_application(application_id)
    before = application.status
    target = target_of(before, Action.RECORD_EXPERT_REVIEW)
    not_before(day, last_step_on(application.id))
    duplicate = BusinessRuleError(
        _("专家“%(name)s”已对该申请评分", name=name), {"expert_name": [_("该专家已评分")]}
    )
    taken = db.session.scalar(
        sa.select(SeedExpertReview.id).where(
            SeedExpertReview.application_id == application.id, SeedExpertReview.expert_name == name
        )
    )
    if taken is not None:
        raise duplicate
    review = SeedExpertReview(
        application_id=application.id, expert_name=name, score=score, comment=clean, reviewed_on=day, recorded_by_id=by_id
    )
    try:
        with db.session.begin_nested():
            db.session.add(review)
    except IntegrityError:
        raise duplicate from None
    application.status = target.value
    record_step(
        application, "expert_review", from_status=before, on=day, by_id=by_id, comment=f"{name}: {score}"
    )
    db.session.flush()
    return review


def decide(
    application_id: int, *, approved: bool, comment: str = "", on: date | None = None, by_id: int
) -> SeedApplication:
    """The fund manager's decision: approved (amount committed, public notice opened) or rejected.

    409: wrong status, four eyes, and for an approval too few scores, average below the pass mark,
    amount above ``available``. Nothing is written when refused.
    """
    errors: dict[str, list[str]] = {}
    if not isinstance(approved, bool):
        errors["approved"] = [_("应为 true 或 false")]
    clean = text(comment, "comment", _("意见"), COMMENT_MAX_LENGTH, errors, required=False)
    raise_if(errors)
    day = business_day(on)
    if approved:
        lock_fund()  # first, before the application row: the order every money step takes
    application = lock_application(application_id)
    before = application.status
    target = target_of(before, Action.APPROVE if approved else Action.REJECT)
    not_before(day, last_step_on(application.id))
    ensure_may_decide(application.id, by_id)
    policy = application.policy
    if approved:
        summary = review_summary(application)
        if not summary.enough:
            raise BusinessRuleError(
                _("专家评审不足：至少需要 %(required)d 份，已有 %(count)d 份", required=summary.required, count=summary.count),
                {"approved": [_("专家评审份数不足")]},
            )
        if not summary.passes:
            raise BusinessRuleError(
                _("专家评审平均分 %(average)s 低于及格分 %(mark)d", average=summary.average, mark=summary.pass_mark),
                {"approved": [_("平均分低于及格分")]},
            )
        available = fund_figures().available
        if application.amount > available:
            raise BusinessRuleError(
                _(
                    "基金可用余额不足：申请金额 %(amount)s，可用余额 %(available)s",
                    amount=format_cny(application.amount),
                    available=format_cny(available),
                ),
                {"approved": [_("基金可用余额不足")]},
            )
        application.notice_ends_on = add_working_days(day, policy.seed_notice_working_days)
    else:
        application.closed_on = day
    application.status = target.value
    application.decision_approved = approved
    application.decided_on = day
    application.decision_comment = clean
    application.decided_by_id = by_id
    record_step(application, "decision", from_status=before, on=day, by_id=by_id, comment=clean)
    db.session.flush()
    return application
