"""API bearer tokens: random, stored only as SHA-256, expiring, and void after a password change.

A token is 32 random bytes (urlsafe base64); the database holds its SHA-256 digest only, so a
leaked backup exposes no usable token. Lookup by digest needs no constant-time comparison: the
attacker would have to find a preimage of a digest they do not know.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from core import clock
from core.auth.models import ApiToken, User
from core.db import db

TOKEN_BYTES = 32


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def issue_token(user: User) -> tuple[str, ApiToken]:
    """A new token for ``user``, valid for ``TOKEN_TTL_HOURS``; returns the raw value (shown once) and the row.

    Flushes only; the caller's unit of work commits.
    """
    raw = secrets.token_urlsafe(TOKEN_BYTES)
    issued_at = clock.now()
    token = ApiToken(
        user_id=user.id,
        token_hash=hash_token(raw),
        created_at=issued_at,
        expires_at=issued_at + timedelta(hours=current_app.config["TOKEN_TTL_HOURS"]),
    )
    db.session.add(token)
    db.session.flush()
    return raw, token


def user_for_token(raw: str | None) -> User | None:
    """The user a raw token belongs to, or None when the token is unknown, expired, issued
    before the user's last password change, or the user is deactivated."""
    if not raw or len(raw) > 256:
        return None
    token = db.session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == hash_token(raw)))
    if token is None:
        return None
    user = token.user
    if token.expires_at <= clock.now():
        return None
    if not user.is_active:
        return None
    if token.created_at < user.password_changed_at:
        return None
    return user


def revoke_tokens(user: User) -> int:
    """Delete every token of ``user`` (after a password change or reset); returns how many.

    Deleted one by one through the session, so the audit hook sees each row go.
    """
    tokens = db.session.scalars(sa.select(ApiToken).where(ApiToken.user_id == user.id)).all()
    for token in tokens:
        db.session.delete(token)
    db.session.flush()
    return len(tokens)


def purge_expired_tokens() -> int:
    """Delete tokens past their expiry (housekeeping for a scheduled job); returns how many.

    A bulk delete: expired tokens authenticate nobody, so their removal is not an audited change.
    """
    result = db.session.execute(sa.delete(ApiToken).where(ApiToken.expires_at <= clock.now()))
    return result.rowcount or 0
