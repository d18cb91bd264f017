"""Partner banks (合作银行) and enterprises (企业): the rules for registering and maintaining them.

Rules:
- A bank's ``code`` is its short identifier in files, the CLI (``--bank CODE``) and statements:
  2–32 uppercase ASCII letters or digits. Input is trimmed and upper-cased first (``icbc`` is ``ICBC``),
  so two codes differing only in case cannot coexist. The code never changes once created:
  uploaded tapes and issued documents refer to it.
- A bank's ``name`` is required (at most 200 characters) and unique, as is its code; a duplicate is a
  business-rule refusal (409), a malformed value a validation failure (422).
- Banks are deactivated, never deleted: loans, users and documents keep pointing at them.

Enterprises and ratings (domain.md §2–3):
- An enterprise is identified by its unified social credit code (GB 32100-2015, check character
  verified by ``parties.credit_code``): stored normalised, unique (409 for a second one), never
  changed once registered (loans, tapes and documents refer to it). Name, registration date
  (not in the future), town and industry are required; the four flags are booleans.
- A rating records the city's grade A–E on a date (never in the future, never before the
  enterprise was registered, one per enterprise and day). Its credit line and validity come
  from the policy in force on the rating date and are stored with it, so a later policy version
  never changes an earlier rating: valid from ``rated_on`` for ``rating_valid_months`` months,
  i.e. through the day before the same day N months later (a rating of 2025-01-02 is valid
  through 2026-01-01). A newer rating supersedes the older ones from its date.

Services flush and never commit (core.unit_of_work); the audit trail records the writes itself.
"""
from __future__ import annotations

import calendar
import re
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from core import clock
from core.db import db
from core.errors import BusinessRuleError, ValidationFailed
from core.i18n import _
from core.periods import ensure_open
from core.policy.models import GRADES
from core.policy.services import policy_in_force
from parties.credit_code import InvalidCreditCode, validate_credit_code
from parties.models import Bank, Enterprise, Rating

CODE_PATTERN = re.compile(r"[A-Z0-9]{2,32}")
NAME_MAX_LENGTH = 200


def normalise_code(code: str) -> str:
    return code.strip().upper()


def create_bank(name: str, code: str) -> Bank:
    """Register a partner bank. 422 for a missing/malformed field, 409 when the name or code is taken."""
    errors: dict[str, list[str]] = {}
    clean_name = _check_name(name, errors)
    clean_code = _check_code(code, errors)
    if errors:
        raise ValidationFailed(_("提交的数据有误：%(fields)s", fields="、".join(sorted(errors))), errors)
    _ensure_unique(name=clean_name, code=clean_code)
    bank = Bank(name=clean_name, code=clean_code, is_active=True)
    db.session.add(bank)
    db.session.flush()
    return bank


def update_bank(bank: Bank, *, name: str | None = None, is_active: bool | None = None) -> Bank:
    """Rename and/or (de)activate a bank; None leaves a field as it is. Same checks as ``create_bank``."""
    if name is not None:
        errors: dict[str, list[str]] = {}
        clean_name = _check_name(name, errors)
        if errors:
            raise ValidationFailed(_("提交的数据有误：%(fields)s", fields="、".join(sorted(errors))), errors)
        if clean_name != bank.name:
            _ensure_unique(name=clean_name, exclude_id=bank.id)
            bank.name = clean_name
    if is_active is not None:
        if not isinstance(is_active, bool):
            raise ValidationFailed(errors={"is_active": [_("应为 true 或 false")]})
        bank.is_active = is_active
    db.session.flush()
    return bank


def _check_name(name: object, errors: dict[str, list[str]]) -> str:
    if not isinstance(name, str) or not name.strip():
        errors["name"] = [_("请填写银行名称")]
        return ""
    clean = " ".join(name.split())  # no leading/trailing or doubled spaces to make near-duplicates
    if len(clean) > NAME_MAX_LENGTH:
        errors["name"] = [_("银行名称不能超过 %(max)d 个字符", max=NAME_MAX_LENGTH)]
    return clean


def _check_code(code: object, errors: dict[str, list[str]]) -> str:
    if not isinstance(code, str) or not code.strip():
        errors["code"] = [_("请填写银行代码")]
        return ""
    clean = normalise_code(code)
    if not CODE_PATTERN.fullmatch(clean):
        errors["code"] = [_("银行代码须为 2–32 位英文字母或数字，例如 ICBC")]
    return clean


def _ensure_unique(*, name: str | None = None, code: str | None = None, exclude_id: int | None = None) -> None:
    """409 when another bank already uses this name or code (the UNIQUE constraints back this up)."""
    errors: dict[str, list[str]] = {}
    if code is not None and _taken(Bank.code == code, exclude_id):
        errors["code"] = [_("银行代码 %(code)s 已被使用", code=code)]
    if name is not None and _taken(Bank.name == name, exclude_id):
        errors["name"] = [_("银行名称“%(name)s”已被使用", name=name)]
    if errors:
        message = errors.get("code", errors.get("name"))[0]
        raise BusinessRuleError(message, errors)


def _taken(condition: sa.ColumnElement[bool], exclude_id: int | None) -> bool:
    query = sa.select(Bank.id).where(condition)
    if exclude_id is not None:
        query = query.where(Bank.id != exclude_id)
    return db.session.scalar(query.limit(1)) is not None


# ------------------------------------------------------------------------------------ enterprises

ENTERPRISE_NAME_MAX_LENGTH = 200
PLACE_MAX_LENGTH = 64  # town and industry
ENTERPRISE_FLAGS = ("is_science_tech", "is_high_tech", "bad_credit", "dishonest")
ENTERPRISE_EDITABLE = ("name", "registered_on", "town", "industry", *ENTERPRISE_FLAGS)  # all but the code


def create_enterprise(
    *,
    name: str,
    credit_code: str,
    registered_on: date,
    town: str,
    industry: str,
    is_science_tech: bool = False,
    is_high_tech: bool = False,
    bad_credit: bool = False,
    dishonest: bool = False,
) -> Enterprise:
    """Register an enterprise. 422 naming every missing or invalid field (``credit_code`` for a code
    whose check character is wrong); 409 when the credit code is already registered."""
    errors: dict[str, list[str]] = {}
    values = {
        "name": _check_text(name, "name", _("请填写企业名称"), ENTERPRISE_NAME_MAX_LENGTH, errors),
        "credit_code": _check_credit_code(credit_code, errors),
        "registered_on": _check_registered_on(registered_on, errors),
        "town": _check_text(town, "town", _("请填写所在乡镇（街道）"), PLACE_MAX_LENGTH, errors),
        "industry": _check_text(industry, "industry", _("请填写所属行业"), PLACE_MAX_LENGTH, errors),
    }
    flags = {
        "is_science_tech": is_science_tech,
        "is_high_tech": is_high_tech,
        "bad_credit": bad_credit,
        "dishonest": dishonest,
    }
    for flag, value in flags.items():
        _check_flag(flag, value, errors)
    if errors:
        raise _invalid(errors)
    _ensure_credit_code_free(values["credit_code"])
    enterprise = Enterprise(**values, **flags)
    _insert_unique(enterprise, _credit_code_taken(values["credit_code"]))
    return enterprise


def update_enterprise(enterprise: Enterprise, **changes: Any) -> Enterprise:
    """Change the given fields (None leaves a field as it is); same checks as ``create_enterprise``.

    The credit code cannot change: giving a different one is a 422 on ``credit_code``.
    """
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}
    for key, value in changes.items():
        if value is None:
            continue
        if key == "credit_code":
            if not isinstance(value, str) or _normalised_or_none(value) != enterprise.credit_code:
                errors["credit_code"] = [_("统一社会信用代码登记后不可修改")]
        elif key == "name":
            clean[key] = _check_text(value, "name", _("请填写企业名称"), ENTERPRISE_NAME_MAX_LENGTH, errors)
        elif key == "registered_on":
            clean[key] = _check_registered_on(value, errors)
        elif key == "town":
            clean[key] = _check_text(value, "town", _("请填写所在乡镇（街道）"), PLACE_MAX_LENGTH, errors)
        elif key == "industry":
            clean[key] = _check_text(value, "industry", _("请填写所属行业"), PLACE_MAX_LENGTH, errors)
        elif key in ENTERPRISE_FLAGS:
            clean[key] = _check_flag(key, value, errors)
        else:
            errors[key] = [_("不接受此字段")]
    if "registered_on" in clean and "registered_on" not in errors:
        first_rating = min((rating.rated_on for rating in enterprise.ratings), default=None)
        if first_rating is not None and clean["registered_on"] > first_rating:
            errors["registered_on"] = [
                _("注册日期不能晚于该企业最早的评级日期（%(day)s）", day=first_rating.isoformat())
            ]
    if errors:
        raise _invalid(errors)
    for key, value in clean.items():
        setattr(enterprise, key, value)
    db.session.flush()
    return enterprise


def rate_enterprise(enterprise: Enterprise, grade: str, rated_on: date, created_by: str) -> Rating:
    """Record the city's grade A–E for ``enterprise`` on ``rated_on``.

    The credit line and the validity are those of the policy in force on ``rated_on`` and are
    stored with the rating (with the policy's id). 422 for an unknown grade or a date in the
    future or before the registration date; 409 when the enterprise already has a rating that day
    or ``rated_on`` lies in a closed month (core.periods).
    """
    ensure_open(rated_on, "rated_on")
    errors: dict[str, list[str]] = {}
    clean_grade = grade.strip().upper() if isinstance(grade, str) else ""
    if clean_grade not in GRADES:
        errors["grade"] = [_("评级须为 A、B、C、D、E 之一")]
    if not isinstance(rated_on, date):
        errors["rated_on"] = [_("应为 YYYY-MM-DD 格式的日期")]
    elif rated_on > clock.today():
        errors["rated_on"] = [_("评级日期不能晚于今天")]
    elif rated_on < enterprise.registered_on:
        errors["rated_on"] = [
            _("评级日期不能早于企业注册日期（%(day)s）", day=enterprise.registered_on.isoformat())
        ]
    if errors:
        raise _invalid(errors)
    same_day = BusinessRuleError(
        _("该企业在 %(day)s 已有评级记录", day=rated_on.isoformat()), {"rated_on": [_("该日期已有评级")]}
    )
    if _rated_that_day(enterprise.id, rated_on):
        raise same_day
    policy = policy_in_force(rated_on)
    rating = Rating(
        enterprise_id=enterprise.id,
        grade=clean_grade,
        rated_on=rated_on,
        valid_until=rating_valid_until(rated_on, policy.rating_valid_months),
        credit_line=policy.credit_line_for(clean_grade),
        policy_id=policy.id,
        created_by=created_by,
    )
    _insert_unique(rating, same_day)
    db.session.expire(enterprise, ["ratings"])  # the history now includes this rating
    return rating


def rating_valid_until(rated_on: date, months: int) -> date:
    """Last day of validity: the day before the same day ``months`` months later.

    When that month has no such day (a rating of 31 January for one month, of 29 February for a
    year) the period runs to the end of that month, so a rating never loses a day to the calendar.
    """
    month_index = rated_on.month - 1 + months
    year, month = rated_on.year + month_index // 12, month_index % 12 + 1
    if rated_on.day > calendar.monthrange(year, month)[1]:
        return date(year, month, calendar.monthrange(year, month)[1])
    return date(year, month, rated_on.day) - timedelta(days=1)


def _rated_that_day(enterprise_id: int, day: date) -> bool:
    query = sa.select(Rating.id).where(Rating.enterprise_id == enterprise_id, Rating.rated_on == day)
    return db.session.scalar(query.limit(1)) is not None


def _invalid(errors: dict[str, list[str]]) -> ValidationFailed:
    return ValidationFailed(_("提交的数据有误：%(fields)s", fields="、".join(sorted(errors))), errors)


def _check_text(value: object, field: str, missing: str, max_length: int, errors: dict[str, list[str]]) -> str:
    if not isinstance(value, str) or not value.strip():
        errors[field] = [missing]
        return ""
    clean = " ".join(value.split())  # no leading/trailing or doubled spaces to make near-duplicates
    if len(clean) > max_length:
        errors[field] = [_("不能超过 %(max)d 个字符", max=max_length)]
    return clean


def _check_credit_code(code: object, errors: dict[str, list[str]]) -> str:
    try:
        return validate_credit_code(code)  # type: ignore[arg-type]  # refuses non-text itself
    except InvalidCreditCode as refused:
        errors["credit_code"] = [refused.message]
        return ""


def _normalised_or_none(code: str) -> str | None:
    try:
        return validate_credit_code(code)
    except InvalidCreditCode:
        return None


def _check_registered_on(value: object, errors: dict[str, list[str]]) -> date | None:
    if not isinstance(value, date):
        errors["registered_on"] = [_("请填写注册日期（YYYY-MM-DD）")]
        return None
    if value > clock.today():
        errors["registered_on"] = [_("注册日期不能晚于今天")]
    return value


def _check_flag(field: str, value: object, errors: dict[str, list[str]]) -> bool:
    if not isinstance(value, bool):
        errors[field] = [_("应为 true 或 false")]
        return False
    return value


def _ensure_credit_code_free(code: str) -> None:
    """409 when the code is registered already (the UNIQUE constraint backs this up under concurrency)."""
    existing = db.session.scalar(sa.select(Enterprise).where(Enterprise.credit_code == code))
    if existing is not None:
        raise _credit_code_taken(code, existing.name)


def _credit_code_taken(code: str, name: str | None = None) -> BusinessRuleError:
    message = (
        _("统一社会信用代码 %(code)s 已登记（%(name)s）", code=code, name=name)
        if name
        else _("统一社会信用代码 %(code)s 已登记", code=code)
    )
    return BusinessRuleError(message, {"credit_code": [_("该统一社会信用代码已登记")]})


def _insert_unique(row: object, refusal: BusinessRuleError) -> None:
    """Insert ``row`` in a savepoint; ``refusal`` (409) when a UNIQUE constraint refuses it.

    The check before the insert answers the usual case with a precise message; this covers a
    concurrent request that inserted the same key between that check and this insert (PostgreSQL
    reports it at the flush, not at the commit). The savepoint keeps the session usable, so the
    refusal can still be rendered (a form re-rendered with the message) before the request rolls back.
    """
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:
        raise refusal from None
