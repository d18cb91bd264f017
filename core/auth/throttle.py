"""Failed-login bookkeeping: too many failures for one username or from one address means 429 for a while.

Rules:
- refused (429, ``Retry-After``) when, within ``LOGIN_FAILURE_WINDOW_MINUTES``, the username has
  ``LOGIN_FAILURE_LIMIT`` failures or the address has ``LOGIN_FAILURE_LIMIT_PER_ADDRESS``;
- the check runs BEFORE the password is verified, so a locked-out guesser learns nothing, not
  even whether a guess was right; a refused attempt is not recorded (a refusal writes nothing);
- a failure is the one write a refused login keeps (``keep_despite_error``), otherwise the 401's
  rollback would erase the counter;
- a successful login clears that username's failures only; other usernames' failures from the
  same address keep counting against the address.

Account lockout: a username at its limit is *locked* until enough failures leave the window; the
user is told so, the admin sees the lock on the users page (count, last failure, until when) and
may lift it early (``core.auth.services.unlock_account``, audited). The lock expires by itself so that nobody who merely
knows a username can keep its owner out for good.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from core import clock
from core.auth.models import LoginFailure
from core.db import db
from core.errors import TooManyRequests
from core.i18n import _
from core.unit_of_work import keep_despite_error

KEY_LENGTH = 64  # the columns' width


def normalise_username(username: str) -> str:
    """The throttling key for a username: case and surrounding blanks do not open a new counter."""
    return (username or "").strip().lower()[:KEY_LENGTH]


def normalise_address(address: str | None) -> str:
    return (address or "unknown")[:KEY_LENGTH]


def _window() -> timedelta:
    return timedelta(minutes=current_app.config["LOGIN_FAILURE_WINDOW_MINUTES"])


def _recent(column: sa.ColumnElement, value: str, since: datetime) -> list[datetime]:
    return list(
        db.session.scalars(
            sa.select(LoginFailure.at).where(column == value, LoginFailure.at > since).order_by(LoginFailure.at)
        )
    )


def _seconds_until_below(failures: list[datetime], limit: int, now: datetime, window: timedelta) -> int | None:
    """None when fewer than ``limit`` failures; else seconds until enough of them leave the window."""
    if len(failures) < limit:
        return None
    # Once the (n - limit + 1)-th oldest failure leaves the window, only limit - 1 remain.
    freeing = failures[len(failures) - limit]
    return max(1, math.ceil((freeing + window - now).total_seconds()))


def check_allowed(username: str, address: str | None) -> None:
    """Raise TooManyRequests when this username or address has failed too often recently."""
    config = current_app.config
    now = clock.now()
    window = _window()
    since = now - window
    waits = [
        _seconds_until_below(
            _recent(LoginFailure.username, normalise_username(username), since), config["LOGIN_FAILURE_LIMIT"], now, window
        )
    ]
    if address is not None:  # None: no network address (e.g. a command), judge by the username only
        waits.append(
            _seconds_until_below(
                _recent(LoginFailure.address, normalise_address(address), since),
                config["LOGIN_FAILURE_LIMIT_PER_ADDRESS"],
                now,
                window,
            )
        )
    account_wait = waits[0]
    known = [w for w in waits if w is not None]
    if known:
        retry_after = max(known)
        minutes = max(1, math.ceil(retry_after / 60))
        if account_wait is not None:
            message = _(
                "该账户因连续多次登录失败已被暂时锁定，请 %(minutes)d 分钟后再试，或联系系统管理员解锁", minutes=minutes
            )
        else:
            message = _("登录失败次数过多，请 %(minutes)d 分钟后再试", minutes=minutes)
        raise TooManyRequests(message, retry_after=retry_after)


def record_failure(username: str, address: str | None) -> None:
    """Count one failed attempt and keep it through the error response's rollback."""
    db.session.add(LoginFailure(username=normalise_username(username), address=normalise_address(address), at=clock.now()))
    db.session.flush()
    keep_despite_error()


def clear_failures(username: str) -> int:
    """After a successful login or an admin's unlock: this username starts afresh (the address's
    other failures stay); returns how many failures were forgotten."""
    result = db.session.execute(sa.delete(LoginFailure).where(LoginFailure.username == normalise_username(username)))
    return result.rowcount or 0


def purge_expired(before: datetime | None = None) -> int:
    """Delete failures older than the window (housekeeping for a scheduled job); returns how many."""
    cutoff = before or clock.now() - _window()
    result = db.session.execute(sa.delete(LoginFailure).where(LoginFailure.at <= cutoff))
    return result.rowcount or 0


@dataclass(frozen=True)
class AccountLock:
    """A username at its failure limit: how many failures, the last one, and when the lock lifts by itself."""

    username: str
    failures: int
    last_failure_at: datetime
    locked_until: datetime


def locked_accounts(usernames: list[str] | None = None) -> dict[str, AccountLock]:
    """The locked usernames (normalised), optionally only among ``usernames``; one query."""
    config = current_app.config
    limit = config["LOGIN_FAILURE_LIMIT"]
    now = clock.now()
    window = _window()
    recent = LoginFailure.at > now - window
    # Only the usernames at their limit are read in detail: a spray of guesses at many names stays cheap.
    at_limit = (
        sa.select(LoginFailure.username)
        .where(recent)
        .group_by(LoginFailure.username)
        .having(sa.func.count() >= limit)
    )
    if usernames is not None:
        at_limit = at_limit.where(LoginFailure.username.in_([normalise_username(name) for name in usernames]))
    query = sa.select(LoginFailure.username, LoginFailure.at).where(recent, LoginFailure.username.in_(at_limit))
    by_username: dict[str, list[datetime]] = {}
    for username, at in db.session.execute(query.order_by(LoginFailure.username, LoginFailure.at)):
        by_username.setdefault(username, []).append(at)
    locks: dict[str, AccountLock] = {}
    for username, failures in by_username.items():
        wait = _seconds_until_below(failures, limit, now, window)
        if wait is not None:
            locks[username] = AccountLock(username, len(failures), failures[-1], now + timedelta(seconds=wait))
    return locks


def account_lock(username: str) -> AccountLock | None:
    return locked_accounts([username]).get(normalise_username(username))

