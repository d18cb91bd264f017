"""Read side for partner banks: lists for the pages and the API, lookups for other packages.

Functions named ``visible_*`` apply the caller's bank scope (a liaison sees only its own bank)
and so must run inside a request; the others are unscoped (CLI, jobs, other services).
"""
from __future__ import annotations

from typing import Sequence

import sqlalchemy as sa

from core.auth.models import User
from core.auth.permissions import ensure_visible, scope_to_bank
from core.db import db
from core.errors import NotFound
from parties.models import Bank

MAX_PER_PAGE = 200


def _filtered(query: sa.Select, *, search: str | None = None, active: bool | None = None) -> sa.Select:
    if search:
        pattern = f"%{_escape_like(search.strip())}%"
        query = query.where(sa.or_(Bank.name.ilike(pattern, escape="\\"), Bank.code.ilike(pattern, escape="\\")))
    if active is not None:
        query = query.where(Bank.is_active.is_(active))
    return query


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _page(query: sa.Select, page: int, per_page: int) -> sa.Select:
    page = max(1, page)
    per_page = min(max(1, per_page), MAX_PER_PAGE)
    return query.limit(per_page).offset((page - 1) * per_page)


def _count(query: sa.Select) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery())) or 0


def visible_banks(
    *, search: str | None = None, active: bool | None = None, page: int = 1, per_page: int = 50
) -> tuple[Sequence[Bank], int]:
    """One page of the banks the caller may see, by code, and the total count."""
    query = _filtered(scope_to_bank(sa.select(Bank), Bank.id), search=search, active=active)
    items = db.session.scalars(_page(query.order_by(Bank.code), page, per_page)).all()
    return items, _count(query)


def visible_bank(bank_id: int) -> Bank:
    """The bank with this id, or 404 (also for a liaison asking about another bank)."""
    bank = db.session.get(Bank, bank_id)
    if bank is None:
        raise NotFound()
    ensure_visible(bank.id)
    return bank


def banks_with_user_counts(
    *, search: str | None = None, active: bool | None = None, page: int = 1, per_page: int = 50
) -> tuple[list[tuple[Bank, int]], int]:
    """The admin list: each bank with the number of its active user accounts (its liaisons)."""
    users = (
        sa.select(User.bank_id, sa.func.count(User.id).label("users"))
        .where(User.is_active.is_(True), User.bank_id.is_not(None))
        .group_by(User.bank_id)
        .subquery()
    )
    base = _filtered(sa.select(Bank), search=search, active=active)
    query = base.add_columns(sa.func.coalesce(users.c.users, 0)).outerjoin(users, users.c.bank_id == Bank.id)
    rows = db.session.execute(_page(query.order_by(Bank.code), page, per_page)).all()
    return [(bank, int(count)) for bank, count in rows], _count(base)


def get_bank(bank_id: int) -> Bank:
    """Unscoped lookup by id; 404 when unknown."""
    bank = db.session.get(Bank, bank_id)
    if bank is None:
        raise NotFound()
    return bank


def find_bank_by_code(code: str) -> Bank | None:
    """Unscoped lookup by code (case-insensitive input, codes are stored upper-case)."""
    return db.session.scalar(sa.select(Bank).where(Bank.code == code.strip().upper()))


def active_bank_choices() -> list[tuple[int, str]]:
    """``(id, "name (CODE)")`` of the active banks, for select fields in other forms."""
    banks = db.session.scalars(sa.select(Bank).where(Bank.is_active.is_(True)).order_by(Bank.code)).all()
    return [(bank.id, f"{bank.name}（{bank.code}）") for bank in banks]
