"""Identity: users with one role each, API tokens, and failed-login bookkeeping.

A bank liaison is bound to exactly one bank (enforced by a CHECK constraint); every other
role has none. Passwords are stored only as argon2id hashes; API tokens only as SHA-256.
"""
from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core import clock
from core.db import UTCDateTime, db
from core.i18n import _l


class Role(str, enum.Enum):
    ADMIN = "admin"
    BANK_LIAISON = "bank_liaison"
    FUND_OFFICER = "fund_officer"
    FUND_MANAGER = "fund_manager"
    AUDITOR = "auditor"


ROLE_VALUES = tuple(role.value for role in Role)

# The roles' names as people read them (domain.md §2).
ROLE_LABELS = {
    Role.ADMIN.value: _l("系统管理员"),
    Role.BANK_LIAISON.value: _l("银行联络员"),
    Role.FUND_OFFICER.value: _l("基金经办"),
    Role.FUND_MANAGER.value: _l("基金管理人"),
    Role.AUDITOR.value: _l("财务审计"),
}


class User(UserMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (
        sa.CheckConstraint(
            "(role = 'bank_liaison' AND bank_id IS NOT NULL) OR (role <> 'bank_liaison' AND bank_id IS NULL)",
            name="liaison_has_bank",
        ),
        sa.CheckConstraint(f"role IN ({', '.join(repr(v) for v in ROLE_VALUES)})", name="known_role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(100), default="")
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(20))
    bank_id: Mapped[int | None] = mapped_column(sa.ForeignKey("banks.id"), index=True)
    is_active: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)

    bank = relationship("Bank", lazy="joined")

    # Flask-Login reads is_active; a deactivated user can neither log in nor use a token.
    def get_id(self) -> str:
        return str(self.id)

    def has_role(self, *roles: str | Role) -> bool:
        return self.role in {r.value if isinstance(r, Role) else r for r in roles}

    @property
    def is_liaison(self) -> bool:
        return self.role == Role.BANK_LIAISON.value

    @property
    def role_label(self) -> str:
        return str(ROLE_LABELS.get(self.role, self.role))

    def __repr__(self) -> str:
        return f"<User {self.username} {self.role}>"


class ApiToken(db.Model):
    """A bearer token for the API; only its SHA-256 is stored, so a database leak exposes no token."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())

    user = relationship(User, lazy="joined")


class LoginFailure(db.Model):
    """One failed login; counted per username and per address to answer 429 for a while."""

    __tablename__ = "login_failures"
    __table_args__ = (sa.Index("ix_login_failures_username_at", "username", "at"), sa.Index("ix_login_failures_address_at", "address", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64))
    address: Mapped[str] = mapped_column(sa.String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
