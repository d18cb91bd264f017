"""Identity API (api.md "Authentication" and "Identity and set-up"): tokens, the caller, user management.

The blueprint is named ``auth_api`` because the web blueprint already owns the name ``auth``
(``auth.login`` is the login page); Flask refuses two blueprints with one name.
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import request
from flask_login import current_user
from flask_smorest import Blueprint

from core.audit.trail import acting_as, record_event
from core.auth.models import Role, User
from core.auth.permissions import public, roles_required
from core.auth.schemas import (
    OwnPasswordSchema,
    PasswordResetSchema,
    TokenRequestSchema,
    TokenSchema,
    UserCreateSchema,
    UserListSchema,
    UserQuerySchema,
    UserSchema,
    UserUpdateSchema,
)
from core.auth.services import authenticate, change_own_password, create_user, set_password, update_user
from core.auth.tokens import issue_token
from core.db import db
from core.errors import NotFound

blueprint = Blueprint("auth_api", __name__, description="身份：登录令牌、当前用户、用户管理（管理员）")

BEARER = [{"bearerAuth": []}]


def _user_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound()
    return user


@blueprint.route("/auth/token", methods=["POST"])
@public
@blueprint.doc(security=[], summary="Exchange username and password for a bearer token")
@blueprint.response(200, TokenSchema)
@blueprint.alt_response(401, response="UNAUTHORIZED")
@blueprint.alt_response(429, response="TOO_MANY_REQUESTS")
@blueprint.arguments(TokenRequestSchema)
def token(body: dict[str, Any]):
    """401 for a wrong username or password (one message for both); 429 after repeated failures."""
    user = authenticate(body["username"], body["password"], request.remote_addr)
    # Nobody is logged in on this request: attribute the token's row and event to its owner.
    with acting_as(user.username, user.id):
        raw, issued = issue_token(user)
        # The token itself never goes into the trail; its row id and expiry identify it.
        record_event("auth.token_issued", "user", user.id, after={"token_id": issued.id, "expires_at": issued.expires_at})
    return {"token": raw, "expires_at": issued.expires_at, "role": user.role}


@blueprint.route("/me", methods=["GET"])
@blueprint.doc(security=BEARER, summary="The caller")
@blueprint.response(200, UserSchema)
def me():
    return current_user._get_current_object()


@blueprint.route("/me/password", methods=["POST"])
@blueprint.doc(security=BEARER, summary="Change one's own password (every token of the caller is revoked)")
@blueprint.response(204)
@blueprint.alt_response(422, response="UNPROCESSABLE_ENTITY")
@blueprint.arguments(OwnPasswordSchema)
def my_password(body: dict[str, Any]):
    change_own_password(current_user._get_current_object(), body["current_password"], body["new_password"], request.remote_addr)
    return None


@blueprint.route("/users", methods=["POST"])
@blueprint.doc(security=BEARER, summary="Create a user (admin)")
@blueprint.response(201, UserSchema)
@blueprint.alt_response(409, response="CONFLICT")
@roles_required(Role.ADMIN)
@blueprint.arguments(UserCreateSchema)
def users_create(body: dict[str, Any]):
    return create_user(body["username"], body["password"], body["role"], body["bank_id"], body["display_name"])


@blueprint.route("/users", methods=["GET"])
@blueprint.doc(security=BEARER, summary="List users (admin; the auditor reads everything)")
@blueprint.response(200, UserListSchema)
@roles_required(Role.ADMIN, Role.AUDITOR)
@blueprint.arguments(UserQuerySchema, location="query")
def users_list(args: dict[str, Any]):
    query = sa.select(User)
    for field in ("role", "bank_id", "is_active"):
        if args.get(field) is not None:
            query = query.where(getattr(User, field) == args[field])
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    page, per_page = args["page"], args["per_page"]
    items = db.session.scalars(query.order_by(User.id).limit(per_page).offset((page - 1) * per_page)).all()
    return {"items": items, "total": total}


@blueprint.route("/users/<int:user_id>", methods=["GET"])
@blueprint.doc(security=BEARER, summary="One user (admin; the auditor reads everything)")
@blueprint.response(200, UserSchema)
@roles_required(Role.ADMIN, Role.AUDITOR)
def users_get(user_id: int):
    return _user_or_404(user_id)


@blueprint.route("/users/<int:user_id>", methods=["PATCH"])
@blueprint.doc(security=BEARER, summary="Change display name, role, bank or active flag (admin)")
@blueprint.response(200, UserSchema)
@blueprint.alt_response(409, response="CONFLICT")
@roles_required(Role.ADMIN)
@blueprint.arguments(UserUpdateSchema)
def users_update(body: dict[str, Any], user_id: int):
    return update_user(_user_or_404(user_id), **body)


@blueprint.route("/users/<int:user_id>/password", methods=["POST"])
@blueprint.doc(security=BEARER, summary="Reset a user's password (admin); the user's tokens are revoked")
@blueprint.response(204)
@roles_required(Role.ADMIN)
@blueprint.arguments(PasswordResetSchema)
def users_reset_password(body: dict[str, Any], user_id: int):
    set_password(_user_or_404(user_id), body["new_password"])
    return None
