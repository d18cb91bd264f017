"""Who is calling: the session cookie on web pages, a bearer token on /api/, and nobody otherwise.

- Web pages: Flask-Login's session. A session is dropped when its user is deactivated or has
  changed password since the session was started (a stamp stored at login).
- The API (/api/...): only ``Authorization: Bearer <token>``. The session cookie is ignored there,
  which is what makes exempting the API from CSRF safe: a forged cross-site request carries the
  cookie but never the token.
- Default deny: every endpoint needs a user unless marked ``@public`` (core.auth.permissions), so
  a new endpoint is protected without anybody remembering to protect it.
"""
from __future__ import annotations

from typing import Any

from flask import Flask, current_app, g, redirect, request, session, url_for
from flask_login import AnonymousUserMixin, current_user

from core.auth.models import User
from core.auth.permissions import is_public
from core.auth.tokens import user_for_token
from core.db import db
from core.errors import DEFAULT_MESSAGES, Unauthorized, respond
from core.extensions import login_manager

# Session key holding the user's password_changed_at at login.
PASSWORD_STAMP_KEY = "_pw_stamp"  # nosec B105  # a session key name, not a password


class AnonymousUser(AnonymousUserMixin):
    """Nobody: answers the questions views and templates ask of a user, always with no."""

    id = None
    role = None
    bank_id = None
    is_liaison = False
    role_label = ""

    def has_role(self, *roles: Any) -> bool:
        return False


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def password_stamp(user: User) -> str:
    return user.password_changed_at.isoformat()


def stamp_session(user: User) -> None:
    """Tie the current web session to the user's current password (call after login or own change)."""
    session[PASSWORD_STAMP_KEY] = password_stamp(user)


def load_session_user(user_id: str) -> User | None:
    """Flask-Login's ``user_loader``: the session's user, on web pages only."""
    if is_api_request():
        return None
    try:
        user = db.session.get(User, int(user_id))
    except (TypeError, ValueError):
        return None
    if user is None or not user.is_active:
        return None
    # Every login stamps the session; a session without the stamp, or with an old one (the
    # password changed since), is not a login any more.
    if session.get(PASSWORD_STAMP_KEY) != password_stamp(user):
        return None
    return user


def load_token_user(req: Any) -> User | None:
    """Flask-Login's ``request_loader``: a bearer token, on /api/ only."""
    if not is_api_request():
        return None
    scheme, _, raw = req.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return user_for_token(raw.strip())


def login_redirect_target() -> str | None:
    """Where to come back after logging in: the current page when it was a plain GET."""
    if request.method != "GET":
        return None
    path = request.full_path
    return path[:-1] if path.endswith("?") else path


def redirect_to_login():
    return redirect(url_for("auth.login", next=login_redirect_target()))


def unauthorized():
    """Flask-Login's unauthorized handler: the 401 shape on the API, the login page on the web."""
    if is_api_request():
        return respond(401, str(DEFAULT_MESSAGES[401]), headers={"WWW-Authenticate": "Bearer"})
    return redirect_to_login()


def forget_previous_caller() -> None:
    """``before_request``: decide the caller afresh for every request.

    Flask-Login caches the user on ``g``, which lives on the app context; a request made inside an
    already pushed app context (the test harness, a command) would otherwise inherit the caller
    of the previous request.
    """
    g.pop("_login_user", None)


def require_login() -> None:
    """``before_request``: refuse anonymous callers everywhere except on ``@public`` endpoints."""
    if request.routing_exception is not None:
        return None  # unknown URL or method: let the 404/405 answer come through, it reveals nothing
    endpoint = request.endpoint
    view = current_app.view_functions.get(endpoint) if endpoint else None
    if is_public(endpoint, view, request.method):
        return None
    if current_user.is_authenticated:
        return None
    raise Unauthorized()


def register_login(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None  # the login page explains itself; no flashed English text
    login_manager.anonymous_user = AnonymousUser
    login_manager.user_loader(load_session_user)
    login_manager.request_loader(load_token_user)
    login_manager.unauthorized_handler(unauthorized)
    app.before_request(forget_previous_caller)
    app.before_request(require_login)
