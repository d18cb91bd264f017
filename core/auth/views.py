"""Web pages: logging in and out, one's own password, and user management for the admin.

Forms re-rendered after a refusal answer with the refusal's status (401, 409, 422, 429), so the
unit of work rolls back whatever a refused request might have flushed.
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm

from core.audit.trail import record_event
from core.auth.forms import ChangePasswordForm, LoginForm, PasswordResetForm, UserCreateForm, UserEditForm
from core.auth.loaders import stamp_session
from core.auth.models import ROLE_VALUES, Role, User
from core.auth.permissions import public, roles_required
from core.auth import throttle
from core.auth.services import (
    authenticate,
    bank_model,
    change_own_password,
    create_user,
    role_choices,
    set_password,
    unlock_account,
    update_user,
)
from core.db import db
from core.errors import DomainError, TooManyRequests, Unauthorized
from core.i18n import _
from core.redirects import safe_next

blueprint = Blueprint("auth", __name__)

USERS_PER_PAGE = 50
# Session keys that belong to the visitor rather than to the login, kept across login and logout.
SESSION_KEYS_KEPT = ("lang",)


def home_url() -> str:
    """The role's home page (``home.index``; a plain "/" if that page is not registered)."""
    return url_for("home.index") if "home.index" in current_app.view_functions else request.script_root + "/"


def _restart_session() -> None:
    """A fresh session (new CSRF secret, no pre-login state), keeping only the visitor's language."""
    kept = {key: session[key] for key in SESSION_KEYS_KEPT if key in session}
    session.clear()
    session.update(kept)


def _attach_errors(form: FlaskForm, error: DomainError) -> int:
    """Put a service's refusal onto the form (per field, else form-wide); returns its status."""
    for field, messages in error.errors.items():
        target = getattr(form, field, None)
        if target is not None and hasattr(target, "errors"):
            target.errors = list(target.errors) + list(messages)
        else:
            form.form_errors.extend(messages)
    if not error.errors:
        form.form_errors.append(error.message)
    return error.code


# --- logging in and out ----------------------------------------------------------------------------


@blueprint.route("/login", methods=["GET", "POST"])
@public
def login():
    form = LoginForm()
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(safe_next(request.args.get("next")) or home_url())
        form.next.data = safe_next(request.args.get("next")) or ""
        return render_template("auth/login.html", form=form, error=None)
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form, error=None), 422
    try:
        user = authenticate(form.username.data, form.password.data, request.remote_addr)
    except TooManyRequests as refused:
        page = render_template("auth/login.html", form=form, error=refused.message)
        return page, 429, {"Retry-After": str(refused.retry_after)}
    except Unauthorized as refused:
        return render_template("auth/login.html", form=form, error=refused.message), 401
    _restart_session()  # against session fixation: nothing from before the login survives it
    session.permanent = True  # re-signed on every request, refused after PERMANENT_SESSION_LIFETIME idle
    login_user(user)
    stamp_session(user)
    record_event("auth.login", "user", user.id)
    return redirect(safe_next(form.next.data) or home_url())


@blueprint.route("/logout", methods=["POST"])
def logout():
    """POST only, with the CSRF token: a link or an image on another site cannot log anybody out."""
    record_event("auth.logout", "user", current_user.id)  # while the actor is still known
    logout_user()
    _restart_session()
    flash(_("您已退出登录"), "info")
    return redirect(url_for("auth.login"))


@blueprint.route("/account/password", methods=["GET", "POST"])
def account_password():
    form = ChangePasswordForm()
    status = 200
    if form.validate_on_submit():
        user = current_user._get_current_object()
        try:
            change_own_password(user, form.current_password.data, form.new_password.data, request.remote_addr)
        except DomainError as refused:
            status = _attach_errors(form, refused)
        else:
            stamp_session(user)  # this session stays; every other session and token of the user ends
            flash(_("密码已修改；其他设备上的登录和所有 API 令牌已失效"), "success")
            return redirect(home_url())
    elif request.method == "POST":
        status = 422
    return render_template("auth/password.html", form=form, target=None), status


# --- user management (admin) -------------------------------------------------------------------------


def _user_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


def _int_arg(name: str) -> int | None:
    try:
        return int(request.args[name]) if request.args.get(name) else None
    except ValueError:
        return None


@blueprint.route("/admin/users")
@roles_required(Role.ADMIN)
def users():
    role = request.args.get("role") or None
    bank_id = _int_arg("bank_id")
    page = max(1, _int_arg("page") or 1)
    query = sa.select(User)
    if role in ROLE_VALUES:
        query = query.where(User.role == role)
    if bank_id is not None:
        query = query.where(User.bank_id == bank_id)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    rows = db.session.scalars(
        query.order_by(User.username).limit(USERS_PER_PAGE).offset((page - 1) * USERS_PER_PAGE)
    ).all()
    Bank = bank_model()
    banks = db.session.scalars(sa.select(Bank).order_by(Bank.code)).all()
    return render_template(
        "admin/users.html",
        users=rows,
        locked=_locked_users(),
        total=total,
        page=page,
        per_page=USERS_PER_PAGE,
        roles=role_choices(),
        banks=banks,
        selected_role=role,
        selected_bank_id=bank_id,
    )


def _locked_users() -> list[tuple[User, throttle.AccountLock]]:
    """Every existing user locked out by failed logins (failures against unknown usernames are not listed)."""
    locks = throttle.locked_accounts()
    if not locks:
        return []
    users = db.session.scalars(
        sa.select(User).where(sa.func.lower(User.username).in_(list(locks))).order_by(User.username)
    ).all()
    return [(user, locks[throttle.normalise_username(user.username)]) for user in users]


@blueprint.route("/admin/users/<int:user_id>/unlock", methods=["POST"])
@roles_required(Role.ADMIN)
def user_unlock(user_id: int):
    user = _user_or_404(user_id)
    unlock_account(user)  # 409 (error page, nothing written) when it was not locked
    flash(_("已解除用户 %(username)s 的登录锁定", username=user.username), "success")
    return redirect(url_for("auth.users"))


@blueprint.route("/admin/users/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def user_new():
    form = UserCreateForm()
    form.fill_choices()
    status = 200
    if form.validate_on_submit():
        try:
            user = create_user(
                form.username.data, form.password.data, form.role.data, form.bank_id.data, form.display_name.data or ""
            )
        except DomainError as refused:
            status = _attach_errors(form, refused)
        else:
            flash(_("已创建用户 %(username)s", username=user.username), "success")
            return redirect(url_for("auth.users"))
    elif request.method == "POST":
        status = 422
    return render_template("admin/user_form.html", form=form, user=None), status


@blueprint.route("/admin/users/<int:user_id>/edit", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def user_edit(user_id: int):
    user = _user_or_404(user_id)
    form = UserEditForm(obj=user)
    form.fill_choices(current_bank_id=user.bank_id)
    status = 200
    if form.validate_on_submit():
        changes: dict[str, Any] = {
            "display_name": form.display_name.data or "",
            "role": form.role.data,
            "bank_id": form.bank_id.data,
            "is_active": form.is_active.data,
        }
        try:
            update_user(user, **changes)
        except DomainError as refused:
            status = _attach_errors(form, refused)
        else:
            flash(_("已保存用户 %(username)s", username=user.username), "success")
            return redirect(url_for("auth.users"))
    elif request.method == "POST":
        status = 422
    return render_template("admin/user_form.html", form=form, user=user), status


@blueprint.route("/admin/users/<int:user_id>/password", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def user_password(user_id: int):
    user = _user_or_404(user_id)
    form = PasswordResetForm()
    status = 200
    if form.validate_on_submit():
        try:
            set_password(user, form.new_password.data)
        except DomainError as refused:
            status = _attach_errors(form, refused)
        else:
            if user.id == current_user.id:
                stamp_session(user)  # an admin resetting their own password stays logged in here
            flash(_("已重置用户 %(username)s 的密码；其原有登录和 API 令牌均已失效", username=user.username), "success")
            return redirect(url_for("auth.users"))
    elif request.method == "POST":
        status = 422
    return render_template("auth/password.html", form=form, target=user), status
