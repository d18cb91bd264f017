"""Identity rules: who may log in, and how users are created, changed and given new passwords.

Every function here flushes and never commits: the request (or CLI command) is the unit of work.
Refusals are ``DomainError`` subclasses, raised before anything is written.
"""
from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from core import clock
from core.audit.trail import record_event
from core.auth import throttle
from core.auth.models import ROLE_LABELS, ROLE_VALUES, Role, User
from core.auth.passwords import dummy_verify, hash_password, needs_rehash, password_problems, verify_password
from core.auth.tokens import revoke_tokens
from core.db import db
from core.errors import BusinessRuleError, ValidationFailed, Unauthorized
from core.i18n import _, _l

# One message for every way a login can fail, so the answer does not reveal which usernames exist.
LOGIN_FAILED = _l("用户名或密码错误")

# Letters, digits and . _ @ - ; the display name carries the person's Chinese name.
USERNAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{1,63}")
DISPLAY_NAME_MAX = 100
UPDATABLE_FIELDS = frozenset({"display_name", "role", "bank_id", "is_active"})

ErrorDict = dict[str, list[str]]


def bank_model() -> Any:
    """The partner-bank model, reached through ``User.bank`` (core imports no domain package)."""
    return sa.inspect(User).relationships["bank"].mapper.class_


def find_bank_by_code(code: str) -> Any:
    Bank = bank_model()
    return db.session.scalar(sa.select(Bank).where(Bank.code == code))


def find_user(username: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.username == (username or "").strip()))


# --- logging in ------------------------------------------------------------------------------


def authenticate(username: str, password: str, address: str | None) -> User:
    """The active user with this username and password.

    Refuses with TooManyRequests (checked before the password, so nothing is learnt while locked
    out), or Unauthorized with one generic message whether the username is unknown, the password
    wrong or the user deactivated. An unknown username still costs one hash verification, so
    timing does not tell the cases apart either. A failure is counted (and kept); a success clears
    the username's counter and upgrades the hash when the cost settings changed.
    """
    throttle.check_allowed(username, address)
    user = find_user(username)
    if user is None:
        dummy_verify(password or "")
        ok = False
    else:
        ok = verify_password(user.password_hash, password or "") and user.is_active
    if not ok:
        throttle.record_failure(username, address)
        raise Unauthorized(str(LOGIN_FAILED))
    assert user is not None
    throttle.clear_failures(username)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)  # same password, new cost: not a password change
    db.session.flush()
    return user


# --- validation helpers ------------------------------------------------------------------------


def _invalid(errors: ErrorDict) -> ValidationFailed:
    return ValidationFailed(_("提交的数据有误：%(fields)s", fields="、".join(sorted(errors))), errors)


def _role_and_bank_problems(role: str, bank_id: int | None, current_bank_id: int | None = None) -> ErrorDict:
    """A bank liaison belongs to exactly one active bank; every other role to none.

    A liaison keeping its current bank is not refused because that bank was deactivated since.
    """
    errors: ErrorDict = {}
    if role not in ROLE_VALUES:
        errors["role"] = [_("未知角色：%(role)s", role=role)]
        return errors
    if role == Role.BANK_LIAISON.value:
        if bank_id is None:
            errors["bank_id"] = [_("银行联络员必须指定所属银行")]
        elif bank_id != current_bank_id:
            bank = db.session.get(bank_model(), bank_id)
            if bank is None or not bank.is_active:
                errors["bank_id"] = [_("所属银行不存在或已停用")]
    elif bank_id is not None:
        errors["bank_id"] = [_("只有银行联络员可以指定所属银行")]
    return errors


def _display_name_problems(display_name: str) -> ErrorDict:
    if len(display_name) > DISPLAY_NAME_MAX:
        return {"display_name": [_("姓名不能超过 %(n)d 个字符", n=DISPLAY_NAME_MAX)]}
    return {}


def _username_taken(username: str, except_id: int | None = None) -> bool:
    """Case-insensitive: ``Zhang`` and ``zhang`` would be two accounts nobody can tell apart."""
    query = sa.select(sa.func.count()).select_from(User).where(sa.func.lower(User.username) == username.lower())
    if except_id is not None:
        query = query.where(User.id != except_id)
    return bool(db.session.scalar(query))


# --- managing users ------------------------------------------------------------------------------


def create_user(username: str, password: str, role: str, bank_id: int | None = None, display_name: str = "") -> User:
    """A new active user.

    422 (ValidationFailed, per field) for a malformed username, an unknown role, a liaison without
    an existing active bank or another role with one, a password breaking the rules; 409
    (BusinessRuleError) for a username already taken.
    """
    username = (username or "").strip()
    display_name = (display_name or "").strip()
    role = role.value if isinstance(role, Role) else (role or "")
    errors: ErrorDict = {}
    if not USERNAME_PATTERN.fullmatch(username):
        errors["username"] = [_("用户名须为 2–64 个字符，由字母、数字和 . _ @ - 组成，并以字母或数字开头")]
    errors.update(_role_and_bank_problems(role, bank_id))
    problems = password_problems(password or "", username)
    if problems:
        errors["password"] = problems
    errors.update(_display_name_problems(display_name))
    if errors:
        raise _invalid(errors)
    if _username_taken(username):
        message = _("用户名 %(username)s 已被使用", username=username)
        raise BusinessRuleError(message, {"username": [message]})
    now = clock.now()
    user = User(
        username=username,
        display_name=display_name or username,
        password_hash=hash_password(password),
        role=role,
        bank_id=bank_id,
        is_active=True,
        password_changed_at=now,
        created_at=now,
    )
    db.session.add(user)
    db.session.flush()
    return user


def _active_admins_besides(user: User) -> int:
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(User)
        .where(User.role == Role.ADMIN.value, User.is_active.is_(True), User.id != user.id)
    ) or 0


def update_user(user: User, **changes: Any) -> User:
    """Change ``display_name``, ``role``, ``bank_id`` or ``is_active``.

    The role/bank rule of ``create_user`` applies to the result; moving a liaison to another role
    drops its bank unless a bank is given (then 422). The last active admin can be neither
    deactivated nor given another role (409): nobody could manage users any more.
    """
    unknown = set(changes) - UPDATABLE_FIELDS
    if unknown:
        raise _invalid({field: [_("该字段不可修改")] for field in sorted(unknown)})
    role = changes.get("role", user.role)
    role = role.value if isinstance(role, Role) else role
    if "bank_id" in changes:
        bank_id = changes["bank_id"]
    else:
        bank_id = user.bank_id if role == Role.BANK_LIAISON.value else None
    display_name = (changes.get("display_name", user.display_name) or "").strip()
    is_active = bool(changes.get("is_active", user.is_active))
    errors = _role_and_bank_problems(role, bank_id, current_bank_id=user.bank_id)
    errors.update(_display_name_problems(display_name))
    if errors:
        raise _invalid(errors)
    losing_admin = user.role == Role.ADMIN.value and user.is_active and (role != Role.ADMIN.value or not is_active)
    if losing_admin and _active_admins_besides(user) == 0:
        raise BusinessRuleError(_("不能停用或更改最后一位有效的系统管理员"))
    user.role = role
    user.bank_id = bank_id
    user.display_name = display_name or user.username
    user.is_active = is_active
    db.session.flush()
    return user


def set_password(user: User, new_password: str, field: str = "new_password") -> None:
    """Give ``user`` a new password (rules as for creation); every API token and every other web
    session of the user stops working (``password_changed_at`` moves to now)."""
    problems = password_problems(new_password or "", user.username)
    if problems:
        raise _invalid({field: problems})
    user.password_hash = hash_password(new_password)
    user.password_changed_at = clock.now()
    revoke_tokens(user)
    db.session.flush()
    record_event("auth.password_changed", "user", user.id)


def change_own_password(user: User, current: str, new: str, address: str | None = None) -> None:
    """The user changes their own password, proving the current one first.

    A wrong current password is 422 on ``current_password`` and counts as a failed login (so a
    stolen session cannot be used to guess the password); the login throttle applies.
    """
    throttle.check_allowed(user.username, address)
    if not verify_password(user.password_hash, current or ""):
        throttle.record_failure(user.username, address)
        raise _invalid({"current_password": [_("当前密码不正确")]})
    if (new or "") == (current or ""):
        raise _invalid({"new_password": [_("新密码不能与当前密码相同")]})
    set_password(user, new)


def unlock_account(user: User) -> int:
    """The admin lifts a lockout early: the user's failed logins are forgotten (audited with their count).

    409 when the account is not locked, so the trail records only unlocks that changed something.
    """
    lock = throttle.account_lock(user.username)
    if lock is None:
        raise BusinessRuleError(_("该账户未被锁定"))
    forgotten = throttle.clear_failures(user.username)
    record_event(
        "auth.unlocked",
        "user",
        user.id,
        before={"failures": lock.failures, "last_failure_at": lock.last_failure_at, "locked_until": lock.locked_until},
    )
    return forgotten


def role_choices() -> list[tuple[str, str]]:
    """(value, Chinese label) for every role, in the order of ``Role``."""
    return [(value, str(ROLE_LABELS[value])) for value in ROLE_VALUES]
