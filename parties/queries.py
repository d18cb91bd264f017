"""Read side for partner banks and enterprises: lists for the pages and the API, lookups for other packages.

Functions named ``visible_*`` apply the caller's bank scope (a liaison sees only its own bank)
and so must run inside a request; the others are unscoped (CLI, jobs, other services).
Enterprises are the registry every role reads, so their queries are unscoped.

Other packages call :func:`rating_valid_on` and :func:`enterprise_exposure` for the loan rules
(domain.md §3); keep their signatures.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Iterable, Sequence

import sqlalchemy as sa

from core.auth.models import User
from core.auth.permissions import ensure_visible, scope_to_bank
from core.db import db
from core.errors import NotFound
from core.money import Money
from parties.credit_code import normalise_credit_code
from parties.models import Bank, Enterprise, Rating

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


# ------------------------------------------------------------------------------------ enterprises

ZERO = Decimal("0.00")

# parties may not import loans (the dependency rule), so the loans table is described here with
# only the columns the exposure reads. Typed Money, so sums come back as Decimal yuan, not fen.
_loans = sa.table(
    "loans",
    sa.column("enterprise_id", sa.Integer()),
    sa.column("status", sa.String()),
    sa.column("principal", Money()),
    sa.column("disbursed_total", Money()),
    sa.column("repaid_principal", Money()),
)
_REPAID = "repaid"  # loans.models.LoanStatus.REPAID: a repaid loan no longer uses the line


def rating_valid_on(enterprise_id: int, on: date) -> Rating | None:
    """The rating that governs ``on``: the latest one dated on or before ``on``, if still valid on ``on``.

    A newer rating supersedes the older ones from its own date, so when it has expired the
    enterprise has no valid rating even if an older rating's validity would still run (possible
    only when a policy shortened the validity in between). Unscoped; callers pass the record's
    own date (a loan's contract date), never today by default.
    """
    latest = db.session.scalars(
        sa.select(Rating)
        .where(Rating.enterprise_id == enterprise_id, Rating.rated_on <= on)
        .order_by(Rating.rated_on.desc())
        .limit(1)
    ).first()
    return latest if latest is not None and latest.valid_until >= on else None


def ratings_valid_on(enterprise_ids: Iterable[int], on: date) -> dict[int, Rating]:
    """:func:`rating_valid_on` for many enterprises in one query (lists); enterprises without one are absent."""
    ids = list(set(enterprise_ids))
    if not ids:
        return {}
    latest = (
        sa.select(Rating.enterprise_id, sa.func.max(Rating.rated_on).label("rated_on"))
        .where(Rating.enterprise_id.in_(ids), Rating.rated_on <= on)
        .group_by(Rating.enterprise_id)
        .subquery()
    )
    query = sa.select(Rating).join(
        latest, sa.and_(Rating.enterprise_id == latest.c.enterprise_id, Rating.rated_on == latest.c.rated_on)
    ).where(Rating.valid_until >= on)
    return {rating.enterprise_id: rating for rating in db.session.scalars(query)}


def enterprise_exposure(enterprise_id: int) -> Decimal:
    """What the enterprise's loans use of its credit line now: Σ (principal − repaid principal) over
    its loans not yet repaid, computed in SQL.

    The contracted principal counts in full, disbursed or not: a signed contract commits the
    bank to lend it, so the line must already cover it (domain.md §3, "the sum of outstanding
    principal never exceeds the credit line"). Current state, not as of a date: the line check
    of a new loan is against everything still owed. The caller takes any row lock it needs.
    """
    return loan_totals([enterprise_id]).get(enterprise_id, LoanTotals()).exposure


@dataclass(frozen=True)
class LoanTotals:
    """An enterprise's programme loans not yet repaid: ``exposure`` (principal − repaid, what the
    credit line covers) and ``outstanding`` (disbursed − repaid, what is actually owed)."""

    exposure: Decimal = ZERO
    outstanding: Decimal = ZERO


def loan_totals(enterprise_ids: Iterable[int]) -> dict[int, LoanTotals]:
    """:class:`LoanTotals` per enterprise, one grouped query; enterprises without open loans are absent."""
    ids = list(set(enterprise_ids))
    if not ids:
        return {}
    query = (
        sa.select(
            _loans.c.enterprise_id,
            sa.func.sum(_loans.c.principal - _loans.c.repaid_principal),
            sa.func.sum(_loans.c.disbursed_total - _loans.c.repaid_principal),
        )
        .where(_loans.c.enterprise_id.in_(ids), _loans.c.status != _REPAID)
        .group_by(_loans.c.enterprise_id)
    )
    return {
        enterprise_id: LoanTotals(exposure=exposure or ZERO, outstanding=outstanding or ZERO)
        for enterprise_id, exposure, outstanding in db.session.execute(query)
    }


@dataclass(frozen=True)
class CreditPosition:
    """An enterprise's credit line as of a day: the rating in force (or None), what its loans use, what is left."""

    rating: Rating | None
    exposure: Decimal
    outstanding: Decimal

    @property
    def grade(self) -> str | None:
        return self.rating.grade if self.rating else None

    @property
    def credit_line(self) -> Decimal | None:
        return self.rating.credit_line if self.rating else None

    @property
    def valid_until(self) -> date | None:
        return self.rating.valid_until if self.rating else None

    @property
    def available_line(self) -> Decimal:
        """max(0, line − exposure); zero without a valid rating (nothing may be lent then)."""
        if self.rating is None:
            return ZERO
        return max(ZERO, self.rating.credit_line - self.exposure)


def credit_positions(enterprise_ids: Iterable[int], on: date) -> dict[int, CreditPosition]:
    """:class:`CreditPosition` of each enterprise as of ``on`` (every id present), in two queries."""
    ids = list(set(enterprise_ids))
    ratings = ratings_valid_on(ids, on)
    totals = loan_totals(ids)
    return {
        enterprise_id: CreditPosition(
            rating=ratings.get(enterprise_id),
            exposure=totals.get(enterprise_id, LoanTotals()).exposure,
            outstanding=totals.get(enterprise_id, LoanTotals()).outstanding,
        )
        for enterprise_id in ids
    }


def credit_position(enterprise_id: int, on: date) -> CreditPosition:
    return credit_positions([enterprise_id], on)[enterprise_id]


def get_enterprise(enterprise_id: int, *, for_update: bool = False) -> Enterprise:
    """Lookup by id; 404 when unknown. ``for_update`` takes a row lock (PostgreSQL) so a check on the
    enterprise's credit line and the write that depends on it cannot interleave with another request's."""
    if for_update:
        enterprise = db.session.scalars(
            sa.select(Enterprise).where(Enterprise.id == enterprise_id).with_for_update()
        ).first()
    else:
        enterprise = db.session.get(Enterprise, enterprise_id)
    if enterprise is None:
        raise NotFound()
    return enterprise


def find_enterprise_by_credit_code(code: str) -> Enterprise | None:
    """Lookup by unified social credit code (normalised first: full-width, lower case, spaces)."""
    return db.session.scalar(sa.select(Enterprise).where(Enterprise.credit_code == normalise_credit_code(code)))


def ratings_of(enterprise_id: int) -> Sequence[Rating]:
    """Rating history, newest first."""
    return db.session.scalars(
        sa.select(Rating).where(Rating.enterprise_id == enterprise_id).order_by(Rating.rated_on.desc())
    ).all()


def search_enterprises(
    *,
    q: str | None = None,
    credit_code: str | None = None,
    town: str | None = None,
    industry: str | None = None,
    is_science_tech: bool | None = None,
    is_high_tech: bool | None = None,
    bad_credit: bool | None = None,
    dishonest: bool | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[Sequence[Enterprise], int]:
    """One page of enterprises by name, and the total count.

    ``q`` matches a part of the name or the start of the credit code; ``credit_code`` is exact
    (after normalisation); town and industry are exact; a flag left None does not filter.
    """
    query = sa.select(Enterprise)
    if q and q.strip():
        text = q.strip()
        query = query.where(
            sa.or_(
                Enterprise.name.ilike(f"%{_escape_like(text)}%", escape="\\"),
                Enterprise.credit_code.like(f"{_escape_like(normalise_credit_code(text))}%", escape="\\"),
            )
        )
    if credit_code and credit_code.strip():
        query = query.where(Enterprise.credit_code == normalise_credit_code(credit_code))
    if town and town.strip():
        query = query.where(Enterprise.town == town.strip())
    if industry and industry.strip():
        query = query.where(Enterprise.industry == industry.strip())
    for column, wanted in (
        (Enterprise.is_science_tech, is_science_tech),
        (Enterprise.is_high_tech, is_high_tech),
        (Enterprise.bad_credit, bad_credit),
        (Enterprise.dishonest, dishonest),
    ):
        if wanted is not None:
            query = query.where(column.is_(wanted))
    items = db.session.scalars(_page(query.order_by(Enterprise.name, Enterprise.id), page, per_page)).all()
    return items, _count(query)


def enterprise_towns() -> list[str]:
    """The towns in the registry, for the filter of the list page."""
    return list(db.session.scalars(sa.select(Enterprise.town).distinct().order_by(Enterprise.town)))


def enterprise_industries() -> list[str]:
    """The industries in the registry, for the filter of the list page."""
    return list(db.session.scalars(sa.select(Enterprise.industry).distinct().order_by(Enterprise.industry)))
