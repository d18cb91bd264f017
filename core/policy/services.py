"""Which policy version governs a given day, and how the admin adds a version.

Rules (domain.md preamble):
- Every number of domain.md is a field of a policy version that takes effect from its
  ``effective_from`` date; the version in force on a day is the one with the latest
  ``effective_from`` on or before it.
- A new version names only the numbers that change; every other number is copied from the
  version in force on its ``effective_from``, so a version is always complete on its own.
- Versions are never edited or deleted: records keep the id of the version of their own date
  (a rating its rating date, a loan its contract date), so a later version never rewrites them.
- One version per effective date (409 for a second one; the UNIQUE constraint backs this up).
- The numbers must make sense together, as the CHECK constraints of ``policies`` require:
  credit lines A ≥ B ≥ C ≥ D ≥ E > 0, DPD tiers strictly ascending from at least 1, positive
  terms. They are checked here first so the admin reads which field is wrong, in Chinese.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from core.db import db
from core.errors import BusinessRuleError, NotFound, ValidationFailed
from core.i18n import _
from core.money import FEN, MAX_AMOUNT
from core.policy.models import DEFAULT_POLICY, GRADES, POLICY_NUMBERS, Policy

NOTE_MAX_LENGTH = 500
MAX_INTEGER = 2_147_483_647  # INTEGER columns on PostgreSQL; larger numbers are typing errors anyway

CREDIT_LINE_FIELDS = tuple(f"credit_line_{grade.lower()}" for grade in GRADES)
DPD_TIER_FIELDS = ("special_mention_from_dpd", "substandard_from_dpd", "doubtful_from_dpd", "loss_from_dpd")
SEED_MONEY_FIELDS = ("seed_fund_size", "seed_opening_disbursed", "seed_max_amount")
MONEY_FIELDS = (*CREDIT_LINE_FIELDS, "program_target", "program_opening", *SEED_MONEY_FIELDS, "risk_pool_commitment")
DATE_FIELDS = ("program_target_date",)
BOOLEAN_FIELDS = ("count_opening_toward_target",)
# Exact ratios between 0 and 1 with at most RATIO_PLACES decimals (ScaledDecimal columns).
RATIO_FIELDS = (
    "risk_city_share",
    "risk_county_share",
    "risk_pool_share",
    "risk_min_paid_in_ratio",
    "risk_breaker_warning",
    "risk_breaker_suspend",
)
RATIO_PLACES = 6


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


def policy_numbers(policy: Policy) -> dict[str, Any]:
    """Every number of a version, by field name (what a new version copies)."""
    return {name: getattr(policy, name) for name in POLICY_NUMBERS}


def list_policies(*, page: int = 1, per_page: int = 50) -> tuple[Sequence[Policy], int]:
    """Versions newest effective date first, and their total count."""
    page, per_page = max(1, page), min(max(1, per_page), 200)
    items = db.session.scalars(
        sa.select(Policy).order_by(Policy.effective_from.desc()).limit(per_page).offset((page - 1) * per_page)
    ).all()
    total = db.session.scalar(sa.select(sa.func.count()).select_from(Policy)) or 0
    return items, total


def get_policy(policy_id: int) -> Policy:
    """Lookup by id; 404 when unknown."""
    policy = db.session.get(Policy, policy_id)
    if policy is None:
        raise NotFound()
    return policy


def create_policy_version(
    changes: Mapping[str, Any], effective_from: date, created_by: str, note: str = ""
) -> Policy:
    """A new version from ``effective_from``: ``changes`` over the version in force on that day.

    422 for an unknown field, a value of the wrong type or numbers that break the rules above
    (every bad field is named); 409 when a version already takes effect on that day.
    Flushes, never commits.
    """
    if not isinstance(effective_from, date):
        raise ValidationFailed(errors={"effective_from": [_("生效日期应为 YYYY-MM-DD 格式的日期")]})
    errors: dict[str, list[str]] = {}
    for name in changes:
        if name not in POLICY_NUMBERS:
            errors[name] = [_("不是政策参数")]
    for name, value in changes.items():
        if name in POLICY_NUMBERS and (message := _type_error(name, value)):
            errors[name] = [message]
    if not isinstance(note, str):
        errors["note"] = [_("应为文本")]
    elif len(note.strip()) > NOTE_MAX_LENGTH:
        errors["note"] = [_("说明不能超过 %(max)d 个字符", max=NOTE_MAX_LENGTH)]
    if errors:
        raise _refusal(errors)

    base = _numbers_in_force(effective_from)
    numbers = {**base, **changes}
    errors = policy_rule_errors(numbers)
    if errors:
        raise _refusal(errors)
    same_day = BusinessRuleError(
        _("%(day)s 已有生效的政策版本，同一天只能有一个版本", day=effective_from.isoformat()),
        {"effective_from": [_("该日期已有政策版本，同一天只能有一个版本")]},
    )
    if _version_exists(effective_from):
        raise same_day
    policy = Policy(effective_from=effective_from, note=note.strip(), created_by=created_by, **numbers)
    try:
        # A savepoint: a concurrent version for the same day (UNIQUE, reported by PostgreSQL at the
        # flush) becomes this 409 and the session stays usable to show it.
        with db.session.begin_nested():
            db.session.add(policy)
    except IntegrityError:
        raise same_day from None
    return policy


def _version_exists(effective_from: date) -> bool:
    return db.session.scalar(sa.select(Policy.id).where(Policy.effective_from == effective_from)) is not None


def _numbers_in_force(on: date) -> dict[str, Any]:
    """The numbers a new version copies: the version in force on ``on``, else (before the first
    version) the programme defaults of domain.md."""
    policy = db.session.scalars(
        sa.select(Policy).where(Policy.effective_from <= on).order_by(Policy.effective_from.desc()).limit(1)
    ).first()
    if policy is None:
        return {name: DEFAULT_POLICY[name] for name in POLICY_NUMBERS}
    return policy_numbers(policy)


def _refusal(errors: dict[str, list[str]]) -> ValidationFailed:
    return ValidationFailed(_("提交的数据有误：%(fields)s", fields="、".join(sorted(errors))), errors)


def _type_error(name: str, value: Any) -> str | None:
    """Why ``value`` cannot be the policy number ``name``, or None. (The API schema already parses
    text; this guards other callers: float never becomes money, True never becomes a count.)"""
    if name in MONEY_FIELDS:
        if isinstance(value, bool) or not isinstance(value, (Decimal, int)) or (
            isinstance(value, Decimal) and (not value.is_finite() or value != value.quantize(FEN))
        ):
            return _("应为最多两位小数的金额")
        if value > MAX_AMOUNT:
            return _("金额过大")
    elif name in DATE_FIELDS:
        if not isinstance(value, date):
            return _("应为 YYYY-MM-DD 格式的日期")
    elif name in BOOLEAN_FIELDS:
        if not isinstance(value, bool):
            return _("应为 true 或 false")
    elif name in RATIO_FIELDS:
        if (
            isinstance(value, bool)
            or not isinstance(value, (Decimal, int))
            or not Decimal(value).is_finite()
            or not 0 <= value <= 1
            or Decimal(value) != Decimal(value).quantize(Decimal(1).scaleb(-RATIO_PLACES))
        ):
            return _("应为 0 到 1 之间、最多 6 位小数的比例")
    elif isinstance(value, bool) or not isinstance(value, int):
        return _("应为整数")
    elif abs(value) > MAX_INTEGER:
        return _("数值过大")
    return None


def policy_rule_errors(numbers: Mapping[str, Any]) -> dict[str, list[str]]:
    """The rules a complete set of numbers must follow, in Python (mirror of the CHECK constraints
    plus the obvious signs), as ``{field: [message]}``; empty when all is well."""
    errors: dict[str, list[str]] = {}
    lines = [numbers[name] for name in CREDIT_LINE_FIELDS]
    for index, name in enumerate(CREDIT_LINE_FIELDS):
        grade = GRADES[index]
        if lines[index] <= 0:
            errors.setdefault(name, []).append(_("%(grade)s 级授信额度必须大于零", grade=grade))
        elif index > 0 and lines[index] > lines[index - 1]:
            errors.setdefault(name, []).append(
                _("%(grade)s 级授信额度不能高于 %(better)s 级", grade=grade, better=GRADES[index - 1])
            )
    tiers = [numbers[name] for name in DPD_TIER_FIELDS]
    if tiers[0] < 1:
        errors.setdefault(DPD_TIER_FIELDS[0], []).append(_("关注类的起始逾期天数至少为 1 天"))
    labels = (_("关注"), _("次级"), _("可疑"), _("损失"))
    for index in range(1, len(DPD_TIER_FIELDS)):
        if tiers[index] <= tiers[index - 1]:
            errors.setdefault(DPD_TIER_FIELDS[index], []).append(
                _(
                    "%(tier)s类的起始逾期天数必须大于%(previous)s类（%(days)d 天）",
                    tier=labels[index],
                    previous=labels[index - 1],
                    days=tiers[index - 1],
                )
            )
    for name in ("rating_valid_months", "max_term_months"):
        if numbers[name] < 1:
            errors.setdefault(name, []).append(_("月数至少为 1"))
    if numbers["program_target"] <= 0:
        errors.setdefault("program_target", []).append(_("目标金额必须大于零"))
    if numbers["program_opening"] < 0:
        errors.setdefault("program_opening", []).append(_("金额不能为负数"))
    for name in (
        "program_opening_enterprises",
        "science_tech_baseline",
        "science_tech_target",
        "high_tech_baseline",
        "high_tech_target",
    ):
        if numbers[name] < 0:
            errors.setdefault(name, []).append(_("不能为负数"))
    errors_of_seed_fund(numbers, errors)
    errors_of_risk_pool(numbers, errors)
    return errors


def errors_of_seed_fund(numbers: Mapping[str, Any], errors: dict[str, list[str]]) -> None:
    """The seed fund's numbers (domain.md §5), mirror of the ``seed_rules`` CHECK constraint."""
    for name in ("seed_fund_size", "seed_max_amount"):
        if numbers[name] <= 0:
            errors.setdefault(name, []).append(_("金额必须大于零"))
    if numbers["seed_opening_disbursed"] < 0:
        errors.setdefault("seed_opening_disbursed", []).append(_("金额不能为负数"))
    if numbers["seed_min_term_months"] < 1:
        errors.setdefault("seed_min_term_months", []).append(_("月数至少为 1"))
    elif numbers["seed_max_term_months"] < numbers["seed_min_term_months"]:
        errors.setdefault("seed_max_term_months", []).append(_("最长期限不能短于最短期限"))
    if numbers["seed_min_expert_reviews"] < 1:
        errors.setdefault("seed_min_expert_reviews", []).append(_("至少需要 1 份专家评审"))
    if not 0 <= numbers["seed_pass_mark"] <= 100:
        errors.setdefault("seed_pass_mark", []).append(_("及格分应在 0 到 100 之间"))
    for name in ("seed_max_enterprise_age_years", "seed_notice_working_days"):
        if numbers[name] < 0:
            errors.setdefault(name, []).append(_("不能为负数"))


def errors_of_risk_pool(numbers: Mapping[str, Any], errors: dict[str, list[str]]) -> None:
    """The risk pool's numbers (domain.md §4), mirror of the ``risk_rules`` CHECK constraint."""
    if numbers["risk_pool_commitment"] <= 0:
        errors.setdefault("risk_pool_commitment", []).append(_("金额必须大于零"))
    for name in RATIO_FIELDS:
        if not 0 <= numbers[name] <= 1:
            errors.setdefault(name, []).append(_("比例应在 0 到 1 之间"))
    if "risk_city_share" not in errors and "risk_county_share" not in errors:
        if numbers["risk_city_share"] + numbers["risk_county_share"] != 1:
            errors.setdefault("risk_county_share", []).append(_("市级与县级出资比例之和必须为 1"))
    if numbers["risk_claim_trigger_dpd"] < 1:
        errors.setdefault("risk_claim_trigger_dpd", []).append(_("逾期天数至少为 1 天"))
    if "risk_breaker_warning" not in errors and numbers["risk_breaker_warning"] <= 0:
        errors.setdefault("risk_breaker_warning", []).append(_("预警线必须大于零"))
    if (
        "risk_breaker_warning" not in errors
        and "risk_breaker_suspend" not in errors
        and numbers["risk_breaker_suspend"] < numbers["risk_breaker_warning"]
    ):
        errors.setdefault("risk_breaker_suspend", []).append(_("暂停线不能低于预警线"))
    if numbers["risk_leverage_multiple"] < 1:
        errors.setdefault("risk_leverage_multiple", []).append(_("放大倍数至少为 1"))
