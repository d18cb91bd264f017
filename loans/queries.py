"""Read side of the knowledge-value loans: a loan's state as of any day, and scoped lists.

The state of a loan on a day (domain.md §3) is computed from its tranches and repayments dated on or
before that day (the running totals, which are "now", less what is dated later), so a report as of a
past month-end shows what was true then:

- disbursed, repaid and outstanding principal as of the day;
- days past due (DPD) for a bullet loan: everything disbursed is due at maturity, so DPD is the days
  since maturity while anything is outstanding (0 on the maturity date itself);
- the five-tier classification with the thresholds of the policy in force on the day;
- the status as of the day: ``contracted`` (nothing disbursed), ``active``, ``overdue`` (active and
  DPD > 0) or ``repaid`` (nothing outstanding and either the whole principal repaid or the loan past
  maturity, when no further tranche can come).

Lists compute this for a whole page in one statement (the as-of sums are correlated subqueries of the
page query) and filter by classification or status in SQL with the same rules, so a list costs a
constant number of queries whatever its length.

Functions named ``visible_*`` apply the caller's bank scope (a liaison sees only its own bank, and
another bank's loan is a 404); the others are unscoped (jobs, other packages).
"""
from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import joinedload, lazyload
from sqlalchemy.sql.functions import FunctionElement

from core import clock
from core.auth.permissions import ensure_visible, scope_to_bank
from core.db import db
from core.errors import BusinessRuleError, NotFound
from core.i18n import _
from core.money import Money
from core.policy.models import Policy
from core.policy.services import policy_in_force
from loans.dpd import (
    Classification,
    ClassificationThresholds,
    bullet_schedule,
    classify,
    days_past_due,
    is_non_performing,
    overdue_principal,
)
from loans.models import Disbursement, Loan, Repayment
from parties.models import Enterprise

__all__ = [
    "LOAN_STATES",
    "MAX_PER_PAGE",
    "LoanState",
    "all_loans",
    "dpd_history",
    "find_loan_by_contract",
    "get_loan",
    "loan_state",
    "loan_states",
    "state_from_totals",
    "thresholds_of",
    "thresholds_on",
    "visible_loan",
    "visible_loans",
]

MAX_PER_PAGE = 200
ZERO = Decimal("0.00")

# Statuses as of a day (the stored status has only the first, second and last; "overdue" is derived).
LOAN_STATES = ("contracted", "active", "overdue", "repaid")


@dataclass(frozen=True)
class LoanState:
    """A loan as of ``as_of``: its figures, days past due, classification and status on that day."""

    as_of: date
    disbursed_total: Decimal
    repaid_principal: Decimal
    outstanding_principal: Decimal
    overdue_principal: Decimal
    days_past_due: int
    classification: Classification
    status: str

    @property
    def is_overdue(self) -> bool:
        return self.days_past_due > 0

    @property
    def is_non_performing(self) -> bool:
        return is_non_performing(self.classification)


# ------------------------------------------------------------------------------------------ policy


def thresholds_of(policy: Policy | None) -> ClassificationThresholds:
    """The DPD thresholds a policy version sets (the domain defaults without one)."""
    if policy is None:
        return ClassificationThresholds()
    return ClassificationThresholds(
        policy.special_mention_from_dpd,
        policy.substandard_from_dpd,
        policy.doubtful_from_dpd,
        policy.loss_from_dpd,
    )


def thresholds_on(as_of: date) -> ClassificationThresholds:
    """The DPD thresholds of the policy in force on ``as_of`` (the earliest policy before any)."""
    try:
        return thresholds_of(policy_in_force(as_of))
    except BusinessRuleError:
        return thresholds_of(db.session.scalars(sa.select(Policy).order_by(Policy.effective_from).limit(1)).first())


# ------------------------------------------------------------------------------------ one loan's state


def state_from_totals(
    loan: Loan, disbursed: Decimal, repaid: Decimal, as_of: date, thresholds: ClassificationThresholds
) -> LoanState:
    """The state of ``loan`` on ``as_of`` from its principal disbursed and repaid up to that day.

    The one place these rules live in Python; :func:`_state_sql` and :func:`classification_sql` say
    the same in SQL for list filters.
    """
    outstanding = disbursed - repaid
    # Bank loans are bullet loans: all principal disbursed is due at maturity.
    schedule = bullet_schedule(disbursed, loan.maturity_date)
    repaid_by = lambda _day: repaid  # noqa: E731 - the cumulative repaid principal as of ``as_of``
    dpd = days_past_due(schedule, repaid_by, as_of)
    overdue = overdue_principal(schedule, repaid_by, as_of)
    if outstanding == 0 and (disbursed == loan.principal or as_of > loan.maturity_date):
        status = "repaid"
    elif disbursed == 0:
        status = "contracted"
    elif dpd > 0:
        status = "overdue"
    else:
        status = "active"
    return LoanState(
        as_of=as_of,
        disbursed_total=disbursed,
        repaid_principal=repaid,
        outstanding_principal=outstanding,
        overdue_principal=overdue,
        days_past_due=dpd,
        classification=classify(dpd, thresholds),
        status=status,
    )


def _totals_on(loan: Loan, day: date) -> tuple[Decimal, Decimal]:
    """Principal disbursed and repaid on or before ``day``: the running totals less what is dated later
    (see :func:`as_of_sums`), from the loan's loaded tranches and repayments."""
    disbursed = loan.disbursed_total - sum((d.amount for d in loan.disbursements if d.disbursed_on > day), ZERO)
    repaid = loan.repaid_principal - sum((r.principal for r in loan.repayments if r.paid_on > day), ZERO)
    return disbursed, repaid


def loan_state(loan: Loan, as_of: date | None = None) -> LoanState:
    """The state of ``loan`` on ``as_of`` (default today), from its tranches and repayments up to that day."""
    as_of = as_of or clock.today()
    return state_from_totals(loan, *_totals_on(loan, as_of), as_of, thresholds_on(as_of))


def dpd_history(loan: Loan, until: date | None = None) -> list[LoanState]:
    """The loan's state at each month end from its start month to ``until`` (default today), and on
    ``until`` itself; newest first. Two queries (the policies, the loan's records) whatever the length."""
    until = until or clock.today()
    policies = db.session.scalars(sa.select(Policy).order_by(Policy.effective_from)).all()

    def thresholds(day: date) -> ClassificationThresholds:
        in_force = [p for p in policies if p.effective_from <= day] or policies[:1]
        return thresholds_of(in_force[-1] if in_force else None)

    days = [day for day in _month_ends(loan.start_date, until) if day < until] + [until]
    return [state_from_totals(loan, *_totals_on(loan, day), day, thresholds(day)) for day in reversed(days)]


def _month_ends(start: date, until: date) -> list[date]:
    ends = []
    year, month = start.year, start.month
    while (year, month) <= (until.year, until.month):
        ends.append(date(year, month, calendar.monthrange(year, month)[1]))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return ends


def loan_states(loans: Sequence[Loan], as_of: date | None = None) -> dict[int, LoanState]:
    """:func:`loan_state` for many loans with one aggregate query (plus the policy), never one per loan."""
    as_of = as_of or clock.today()
    ids = [loan.id for loan in loans]
    if not ids:
        return {}
    disbursed, repaid = as_of_sums(as_of)
    totals = {
        loan_id: (d, r)
        for loan_id, d, r in db.session.execute(sa.select(Loan.id, disbursed, repaid).where(Loan.id.in_(ids)))
    }
    thresholds = thresholds_on(as_of)
    return {
        loan.id: state_from_totals(loan, *totals.get(loan.id, (ZERO, ZERO)), as_of, thresholds) for loan in loans
    }


# ---------------------------------------------------------------------------------------- in SQL


class days_between(FunctionElement):
    """``later - earlier`` in whole days, for two DATE expressions, on PostgreSQL and SQLite."""

    type = sa.Integer()
    name = "days_between"
    inherit_cache = True


@compiles(days_between)
def _days_between_default(element: days_between, compiler: Any, **kw: Any) -> str:
    later, earlier = list(element.clauses)
    # PostgreSQL: date - date is an integer number of days.
    return f"(CAST({compiler.process(later, **kw)} AS DATE) - CAST({compiler.process(earlier, **kw)} AS DATE))"


@compiles(days_between, "sqlite")
def _days_between_sqlite(element: days_between, compiler: Any, **kw: Any) -> str:
    later, earlier = list(element.clauses)
    # Dates are ISO text in SQLite; julianday() of two midnights differs by a whole number.
    return f"CAST(julianday({compiler.process(later, **kw)}) - julianday({compiler.process(earlier, **kw)}) AS INTEGER)"


class month_of(FunctionElement):
    """The month of a DATE expression as ``YYYY-MM`` text, on PostgreSQL and SQLite."""

    type = sa.String()
    name = "month_of"
    inherit_cache = True


@compiles(month_of)
def _month_of_default(element: month_of, compiler: Any, **kw: Any) -> str:
    (day,) = list(element.clauses)
    return f"to_char({compiler.process(day, **kw)}, 'YYYY-MM')"


@compiles(month_of, "sqlite")
def _month_of_sqlite(element: month_of, compiler: Any, **kw: Any) -> str:
    (day,) = list(element.clauses)
    # Dates are ISO text in SQLite: the first seven characters, without parsing the date per row
    # (strftime costs a grouping over every tranche more than twice as much).
    return f"substr({compiler.process(day, **kw)}, 1, 7)"


def as_of_sums(as_of: date) -> tuple[sa.ColumnElement[Decimal], sa.ColumnElement[Decimal]]:
    """Principal disbursed and repaid on or before ``as_of``, as expressions over ``Loan``.

    The running totals less the tranches and repayments dated after the day (correlated subqueries):
    the same figure as summing those dated up to the day, since the services keep the totals equal
    to the sums. Each correlated subquery sits behind a guard - is anything at all dated after the
    day? - an uncorrelated subquery the database evaluates once per statement from the date index,
    so the usual question (as of today, nothing is dated later) costs no lookup per loan.
    """
    zero = sa.literal(ZERO, Money())

    def later(model: Any, amount: Any, day: Any) -> sa.ColumnElement[Decimal]:
        anything_later = sa.select(sa.func.max(day)).scalar_subquery() > as_of
        per_loan = (
            sa.select(sa.func.sum(amount)).where(model.loan_id == Loan.id, day > as_of).correlate(Loan).scalar_subquery()
        )
        return sa.case((anything_later, sa.func.coalesce(per_loan, zero)), else_=zero)

    disbursed = Loan.disbursed_total - later(Disbursement, Disbursement.amount, Disbursement.disbursed_on)
    repaid = Loan.repaid_principal - later(Repayment, Repayment.principal, Repayment.paid_on)
    return disbursed.label("disbursed_as_of"), repaid.label("repaid_as_of")


def dpd_sql(as_of: date, disbursed: sa.ColumnElement, repaid: sa.ColumnElement) -> sa.ColumnElement[int]:
    """DPD of a bullet loan: as_of − maturity while principal is outstanding after maturity, else 0."""
    day = sa.literal(as_of, sa.Date())
    return sa.case(
        (sa.and_((disbursed - repaid) > 0, Loan.maturity_date < day), days_between(day, Loan.maturity_date)),
        else_=0,
    )


def classification_sql(dpd: sa.ColumnElement[int], thresholds: ClassificationThresholds) -> sa.ColumnElement[str]:
    """:func:`loans.dpd.classify` as a CASE over the thresholds of the day's policy."""
    return sa.case(
        (dpd >= thresholds.loss_from, Classification.LOSS.value),
        (dpd >= thresholds.doubtful_from, Classification.DOUBTFUL.value),
        (dpd >= thresholds.substandard_from, Classification.SUBSTANDARD.value),
        (dpd >= thresholds.special_mention_from, Classification.SPECIAL_MENTION.value),
        else_=Classification.NORMAL.value,
    )


def _state_sql(as_of: date, disbursed: sa.ColumnElement, repaid: sa.ColumnElement) -> sa.ColumnElement[str]:
    """The status as of the day, as :func:`state_from_totals` decides it."""
    day = sa.literal(as_of, sa.Date())
    outstanding = disbursed - repaid
    return sa.case(
        (sa.and_(outstanding == 0, sa.or_(disbursed == Loan.principal, Loan.maturity_date < day)), "repaid"),
        (disbursed == 0, "contracted"),
        (sa.and_(outstanding > 0, Loan.maturity_date < day), "overdue"),
        else_="active",
    )


# ------------------------------------------------------------------------------------------- lists


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_query(
    *,
    as_of: date,
    thresholds: ClassificationThresholds,
    bank_id: int | None,
    enterprise_id: int | None,
    classification: str | None,
    status: str | None,
    search: str | None,
    scoped: bool,
) -> tuple[sa.Select, sa.ColumnElement, sa.ColumnElement]:
    disbursed, repaid = as_of_sums(as_of)
    query = sa.select(Loan)
    if scoped:
        query = scope_to_bank(query, Loan.bank_id)
    if bank_id is not None:
        query = query.where(Loan.bank_id == bank_id)
    if enterprise_id is not None:
        query = query.where(Loan.enterprise_id == enterprise_id)
    if search:
        pattern = f"%{_escape_like(search.strip())}%"
        names = sa.select(Enterprise.id).where(
            sa.or_(Enterprise.name.ilike(pattern, escape="\\"), Enterprise.credit_code.ilike(pattern, escape="\\"))
        )
        query = query.where(sa.or_(Loan.contract_no.ilike(pattern, escape="\\"), Loan.enterprise_id.in_(names)))
    if classification:
        dpd = dpd_sql(as_of, disbursed, repaid)
        query = query.where(classification_sql(dpd, thresholds) == classification)
    if status:
        query = query.where(_state_sql(as_of, disbursed, repaid) == status)
    return query, disbursed, repaid


def _loans_with_states(
    *,
    as_of: date | None,
    bank_id: int | None,
    enterprise_id: int | None,
    classification: str | None,
    status: str | None,
    search: str | None,
    page: int,
    per_page: int,
    scoped: bool,
) -> tuple[list[tuple[Loan, LoanState]], int]:
    as_of = as_of or clock.today()
    thresholds = thresholds_on(as_of)
    query, disbursed, repaid = list_query(
        as_of=as_of,
        thresholds=thresholds,
        bank_id=bank_id,
        enterprise_id=enterprise_id,
        classification=classification,
        status=status,
        search=search,
        scoped=scoped,
    )
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    page = max(1, page)
    per_page = min(max(1, per_page), MAX_PER_PAGE)
    rows = db.session.execute(
        query.add_columns(disbursed, repaid)
        .options(
            # The page needs the bank and the enterprise (joined into this statement), never the
            # tranches, repayments or ratings collections: loading those would cost queries per page.
            joinedload(Loan.bank),
            joinedload(Loan.enterprise).lazyload(Enterprise.ratings),
            lazyload(Loan.disbursements),
            lazyload(Loan.repayments),
        )
        .order_by(Loan.start_date.desc(), Loan.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return [(loan, state_from_totals(loan, d, r, as_of, thresholds)) for loan, d, r in rows], total


def visible_loans(
    *,
    as_of: date | None = None,
    bank_id: int | None = None,
    enterprise_id: int | None = None,
    classification: str | None = None,
    status: str | None = None,
    search: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[tuple[Loan, LoanState]], int]:
    """One page of the loans the caller may see, each with its state as of ``as_of``, and the total.

    Filters: bank, enterprise, classification and status as of the day (computed in SQL), ``search``
    in contract number, enterprise name and credit code. Newest contracts first. Three queries
    (count, page, policy) whatever the page size.
    """
    return _loans_with_states(
        as_of=as_of,
        bank_id=bank_id,
        enterprise_id=enterprise_id,
        classification=classification,
        status=status,
        search=search,
        page=page,
        per_page=per_page,
        scoped=True,
    )


def all_loans(
    *,
    as_of: date | None = None,
    bank_id: int | None = None,
    enterprise_id: int | None = None,
    classification: str | None = None,
    status: str | None = None,
    search: str | None = None,
    page: int = 1,
    per_page: int = MAX_PER_PAGE,
) -> tuple[list[tuple[Loan, LoanState]], int]:
    """:func:`visible_loans` without the caller's scope (jobs, reports, other packages)."""
    return _loans_with_states(
        as_of=as_of,
        bank_id=bank_id,
        enterprise_id=enterprise_id,
        classification=classification,
        status=status,
        search=search,
        page=page,
        per_page=per_page,
        scoped=False,
    )


def get_loan(loan_id: int) -> Loan:
    """Unscoped lookup by id; 404 when unknown."""
    loan = db.session.get(Loan, loan_id)
    if loan is None:
        raise NotFound(_("贷款不存在"))
    return loan


def visible_loan(loan_id: int, *, row_only: bool = False) -> Loan:
    """The loan with this id, or 404 (also for a liaison asking about another bank's loan).

    ``row_only``: the loan's row without its eager relationships (its tranches, repayments, borrower
    and the borrower's ratings), which then load on use. A write locks and re-reads the row anyway,
    and loading every tranche of the loan to record one more made each tranche slower than the last.
    """
    if row_only:
        loan = db.session.scalar(sa.select(Loan).where(Loan.id == loan_id).options(lazyload("*")))
    else:
        loan = db.session.get(Loan, loan_id)
    if loan is None:
        raise NotFound(_("贷款不存在"))
    ensure_visible(loan.bank_id)
    return loan


def find_loan_by_contract(bank_id: int, contract_no: str) -> Loan | None:
    """Unscoped lookup of a bank's loan by contract number (batch imports, tapes)."""
    return db.session.scalar(sa.select(Loan).where(Loan.bank_id == bank_id, Loan.contract_no == contract_no.strip()))
