"""Taking applications in, registering a startup team's enterprise, withdrawing (domain.md §5).

Rules:
- An application names an enterprise, or is made by a startup team (team name, contact person and
  phone) that has no enterprise yet; the team must register one (:func:`link_enterprise`) before
  the contract.
- Eligibility of an enterprise, as of the application date (``on``): registered at most
  ``seed_max_enterprise_age_years`` (5) years before it, a registered science-tech enterprise, no
  bad-credit record, not on the dishonest-debtor list. Not eligible: 409, every reason named.
- Amount at most ``seed_max_amount`` (300,000.00), term ``seed_min_term_months`` ..
  ``seed_max_term_months`` (1–24) months, repayment ``bullet`` or ``monthly``: otherwise 422. The
  application keeps the policy in force on its date; every later step uses that version.
- Before the contract the applicant may withdraw; open objections end with it.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from core.db import db
from core.errors import BusinessRuleError
from core.i18n import _
from core.money import format_cny
from core.policy.models import Policy
from core.policy.services import policy_in_force
from funds.models import REPAYMENT_KINDS, SeedApplication
from funds.services.common import (
    COMMENT_MAX_LENGTH,
    NAME_MAX_LENGTH,
    amount_error,
    business_day,
    close_open_objections,
    invalid,
    last_step_on,
    lock_application,
    not_before,
    raise_if,
    record_step,
    text,
)
from funds.states import Action, Status, target_of
from parties.models import Enterprise

PURPOSE_MAX_LENGTH = 2000
TEAM_NAME_MAX_LENGTH = 200
PHONE_MAX_LENGTH = 32


def years_before(day: date, years: int) -> date:
    """The same calendar day ``years`` earlier (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def eligibility_problems(enterprise: Enterprise, on: date, policy: Policy) -> list[str]:
    """Why ``enterprise`` may not have a seed loan applied for on ``on`` (empty when it may)."""
    problems: list[str] = []
    oldest = years_before(on, policy.seed_max_enterprise_age_years)
    if enterprise.registered_on < oldest:
        problems.append(
            _(
                "企业成立于 %(registered)s，申请日 %(on)s 时已超过 %(years)d 年",
                registered=enterprise.registered_on.isoformat(),
                on=on.isoformat(),
                years=policy.seed_max_enterprise_age_years,
            )
        )
    if not enterprise.is_science_tech:
        problems.append(_("不是已登记的科技型企业"))
    if enterprise.bad_credit:
        problems.append(_("有不良信用记录"))
    if enterprise.dishonest:
        problems.append(_("已被列入失信被执行人名单"))
    return problems


def ensure_eligible(enterprise: Enterprise, on: date, policy: Policy) -> None:
    """409 naming every reason when the enterprise is not eligible on ``on``."""
    problems = eligibility_problems(enterprise, on, policy)
    if problems:
        raise BusinessRuleError(
            _("%(name)s 不符合种子基金申请条件：%(reasons)s", name=enterprise.name, reasons="；".join(problems)),
            {"enterprise_id": problems},
        )


def ensure_still_eligible(enterprise: Enterprise) -> None:
    """At the contract: the enterprise's flags today (science-tech, no bad credit, not dishonest).

    The flags have no history, so they are read as they stand; the age was judged on the
    application date and is not judged again.
    """
    problems = [
        problem
        for flag, problem in (
            (not enterprise.is_science_tech, _("不是已登记的科技型企业")),
            (enterprise.bad_credit, _("有不良信用记录")),
            (enterprise.dishonest, _("已被列入失信被执行人名单")),
        )
        if flag
    ]
    if problems:
        raise BusinessRuleError(
            _("%(name)s 目前不符合签约条件：%(reasons)s", name=enterprise.name, reasons="；".join(problems)),
            {"enterprise_id": problems},
        )


def _enterprise(enterprise_id: object, field: str = "enterprise_id") -> Enterprise:
    enterprise = (
        db.session.get(Enterprise, enterprise_id)
        if isinstance(enterprise_id, int) and not isinstance(enterprise_id, bool)
        else None
    )
    if enterprise is None:
        raise invalid({field: [_("企业不存在，请先登记企业")]})
    return enterprise


def check_terms(amount: Decimal, term_months: int, repayment: str, policy: Policy, errors: dict[str, list[str]]) -> None:
    """The policy's amount and term limits (422 with the field named)."""
    if "amount" not in errors and amount > policy.seed_max_amount:
        errors["amount"] = [_("单笔借款不能超过 %(max)s", max=format_cny(policy.seed_max_amount))]
    if "term_months" not in errors and not policy.seed_min_term_months <= term_months <= policy.seed_max_term_months:
        errors["term_months"] = [
            _(
                "借款期限应为 %(min)d 到 %(max)d 个月",
                min=policy.seed_min_term_months,
                max=policy.seed_max_term_months,
            )
        ]
    if not errors and repayment == "monthly" and amount * 100 < term_months:
        errors["amount"] = [_("金额不足以按月分期（每期至少 0.01 元）")]


def submit_application(
    *,
    enterprise_id: int | None = None,
    team_name: str | None = None,
    contact_name: str | None = None,
    contact_phone: str | None = None,
    amount: Decimal,
    term_months: int,
    repayment: str,
    purpose: str = "",
    on: date | None = None,
    by_id: int,
) -> SeedApplication:
    """Take an application in (status ``submitted``), dated ``on`` (default today).

    422: a field missing or malformed, neither an enterprise nor a team, amount over the policy's
    maximum, term outside its range, unknown enterprise. 409: the enterprise is not eligible.
    """
    errors: dict[str, list[str]] = {}
    if (problem := amount_error(amount)) is not None:
        errors["amount"] = [problem]
    if isinstance(term_months, bool) or not isinstance(term_months, int):
        errors["term_months"] = [_("应为整数")]
    if repayment not in REPAYMENT_KINDS:
        errors["repayment"] = [_("还款方式应为 bullet（到期一次还本）或 monthly（按月等额还本）")]
    clean_purpose = text(purpose, "purpose", _("借款用途"), PURPOSE_MAX_LENGTH, errors, required=False)
    team = contact = phone = None
    if enterprise_id is None:
        team = text(team_name, "team_name", _("创业团队名称"), TEAM_NAME_MAX_LENGTH, errors, required=True)
        contact = text(contact_name, "contact_name", _("联系人"), NAME_MAX_LENGTH, errors, required=True)
        phone = text(contact_phone, "contact_phone", _("联系电话"), PHONE_MAX_LENGTH, errors, required=True)
        if "team_name" in errors and team_name is None:
            errors["enterprise_id"] = [_("请选择申请企业，或填写创业团队信息")]
    else:
        team = text(team_name, "team_name", _("创业团队名称"), TEAM_NAME_MAX_LENGTH, errors, required=False) or None
        contact = text(contact_name, "contact_name", _("联系人"), NAME_MAX_LENGTH, errors, required=False) or None
        phone = text(contact_phone, "contact_phone", _("联系电话"), PHONE_MAX_LENGTH, errors, required=False) or None
    raise_if(errors)
    day = business_day(on)
    policy = policy_in_force(day)
    check_terms(amount, term_months, repayment, policy, errors)
    raise_if(errors)

    enterprise = None
    if enterprise_id is not None:
        enterprise = _enterprise(enterprise_id)
        ensure_eligible(enterprise, day, policy)

    application = SeedApplication(
        enterprise_id=enterprise.id if enterprise is not None else None,
        team_name=team,
        contact_name=contact,
        contact_phone=phone,
        amount=amount,
        term_months=term_months,
        repayment=repayment,
        purpose=clean_purpose,
        status=Status.SUBMITTED.value,
        policy_id=policy.id,
        submitted_on=day,
        submitted_by_id=by_id,
    )
    db.session.add(application)
    db.session.flush()
    record_step(application, "submitted", from_status=None, on=day, by_id=by_id)
    db.session.flush()
    return application


def link_enterprise(application_id: int, *, enterprise_id: int, on: date | None = None, by_id: int) -> SeedApplication:
    """A startup team registered its enterprise: link it, judged as of the application date.

    409: the application already has an enterprise, is closed or contracted, or the enterprise is
    not eligible. 422: unknown enterprise.
    """
    day = business_day(on)
    application = lock_application(application_id)
    target_of(application.status, Action.LINK_ENTERPRISE)
    if application.enterprise_id is not None:
        raise BusinessRuleError(_("该申请已登记企业"), {"enterprise_id": [_("该申请已登记企业")]})
    not_before(day, last_step_on(application.id))
    enterprise = _enterprise(enterprise_id)
    ensure_eligible(enterprise, application.submitted_on, application.policy)
    application.enterprise_id = enterprise.id
    record_step(
        application, "enterprise_linked", from_status=application.status, on=day, by_id=by_id, comment=enterprise.name
    )
    db.session.flush()
    return application


def withdraw(application_id: int, *, reason: str = "", on: date | None = None, by_id: int) -> SeedApplication:
    """The applicant withdraws before the contract; any commitment is released, open objections close.

    409 once contracted, rejected or withdrawn already.
    """
    errors: dict[str, list[str]] = {}
    clean = text(reason, "reason", _("撤回原因"), COMMENT_MAX_LENGTH, errors, required=False)
    raise_if(errors)
    day = business_day(on)
    application = lock_application(application_id)
    before = application.status
    target = target_of(before, Action.WITHDRAW)
    not_before(day, last_step_on(application.id))
    application.status = target.value
    close_open_objections(application.id, day, by_id)
    application.closed_on = day
    record_step(application, "withdrawn", from_status=before, on=day, by_id=by_id, comment=clean)
    db.session.flush()
    return application

