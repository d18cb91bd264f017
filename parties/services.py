"""Partner banks (合作银行): the rules for registering and maintaining them.

Rules:
- A bank's ``code`` is its short identifier in files, the CLI (``--bank CODE``) and statements:
  2–32 uppercase ASCII letters or digits. Input is trimmed and upper-cased first (``icbc`` is ``ICBC``),
  so two codes differing only in case cannot coexist. The code never changes once created:
  uploaded tapes and issued documents refer to it.
- A bank's ``name`` is required (at most 200 characters) and unique, as is its code; a duplicate is a
  business-rule refusal (409), a malformed value a validation failure (422).
- Banks are deactivated, never deleted: loans, users and documents keep pointing at them.

Services flush and never commit (core.unit_of_work); the audit trail records the writes itself.
"""
from __future__ import annotations

import re

import sqlalchemy as sa

from core.db import db
from core.errors import BusinessRuleError, ValidationFailed
from core.i18n import _
from parties.models import Bank

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
