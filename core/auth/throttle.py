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
"""
from __future__ import annotations

import math
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
    known = [w for w in waits if w is not None]
    if known:
        retry_after = max(known)
        minutes = max(1, math.ceil(retry_after / 60))
        raise TooManyRequests(_("登录失败次数过多，请 %(minutes)d 分钟后再试", minutes=minutes), retry_after=retry_after)


def record_failure(username: str, address: str | None) -> None:
    """Count one failed attempt and keep it through the error response's rollback."""
    db.session.add(LoginFailure(username=normalise_username(username), address=normalise_address(address), at=clock.now()))
    db.session.flush()
    keep_despite_error()


def clear_failures(username: str) -> None:
    """After a successful login: this username starts afresh (the address's other failures stay)."""
    db.session.execute(sa.delete(LoginFailure).where(LoginFailure.username == normalise_username(username)))


def purge_expired(before: datetime | None = None) -> int:
    """Delete failures older than the window (housekeeping for a scheduled job); returns how many."""
    cutoff = before or clock.now() - _window()
    result = db.session.execute(sa.delete(LoginFailure).where(LoginFailure.at <= cutoff))
    return result.rowcount or 0
