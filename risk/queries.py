"""Read side of the risk-compensation pool: figures for the API, the pages, the documents and the jobs.

* Money figures come from the ledger (fund ``risk``, ``risk.accounts``): paid-in capital, cash,
  compensation paid and recovered, each by city and county.
* Loan figures come from the loans package's as-of expressions, summed in SQL over covered loans
  (``loans.covered``) contracted on or before the day, so a figure as of a past day is what was
  true then:

  - **covered outstanding**: principal disbursed and not repaid as of the day;
  - **covered exposure** (what the leverage cap limits): covered outstanding plus the principal
    still to be drawn on loans not yet matured (a contracted loan counts in full from its contract
    date, exactly as a new loan's principal is counted when its coverage is decided);
  - **non-performing** principal: outstanding of covered loans classified substandard or worse
    (DPD at or above the ``substandard_from_dpd`` of the policy in force on the day).

* **Months of cover**: the cash not already owed to queued (approved-unpaid) claims, divided by the
  trailing default rate: the pool shares of the claims filed in the twelve months up to the day
  (rejected ones excepted), per month. ``None`` when there were none (no rate to divide by).

Functions named ``visible_*`` apply the caller's bank scope (a liaison sees only its own bank's
claims; another bank's claim is a 404); the others are unscoped (jobs, services, pages of managers).
"""
from __future__ import annotations

import bisect
import calendar
import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import lazyload

from core import clock
from core.auth.permissions import ensure_visible, scope_to_bank
from core.db import db
from core.errors import BusinessRuleError, NotFound
from core.i18n import _
from core.ledger.models import JournalEntry, JournalLine, LedgerAccount
from core.ledger.queries import balances
from core.money import Money
from core.policy.models import Policy
from core.policy.services import policy_in_force
from loans.models import Disbursement, Loan, LoanStatus, Repayment
from loans.queries import as_of_sums, dpd_sql, thresholds_on
from parties.models import Bank
from risk import rules
from risk.accounts import CASH, COMPENSATION, CONTRIBUTIONS, FUND, RECOVERIES
from risk.models import ClaimStatus, RiskBreaker, RiskBreakerEvent, RiskClaim, RiskContribution, RiskRecovery

__all__ = [
    "MAX_PER_PAGE",
    "BankRiskFigures",
    "BreakerView",
    "PoolFigures",
    "bank_figures",
    "breaker_events",
    "breaker_overview",
    "breaker_state_on",
    "breaker_view",
    "cash_available_from",
    "cash_history",
    "claims_by_bank",
    "contributions",
    "covered_exposure",
    "covered_outstanding",
    "get_claim",
    "ledger_figures",
    "months_before",
    "notices_pending",
    "policy_on",
    "pool_figures",
    "queued_claims",
    "trailing_claims",
    "visible_claim",
    "visible_claims",
]

MAX_PER_PAGE = 200
ZERO = Decimal("0.00")
_MONEY_ZERO = sa.literal(ZERO, Money())


# ------------------------------------------------------------------------------------------- dates


def months_before(day: date, months: int) -> date:
    """``day`` minus ``months`` calendar months, clamped to the month's end (2025-03-31 - 1 = 2025-02-28)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def policy_on(day: date) -> Policy:
    """The policy in force on ``day`` (the earliest version for a day before every version)."""
    try:
        return policy_in_force(day)
    except BusinessRuleError:
        earliest = db.session.scalars(sa.select(Policy).order_by(Policy.effective_from).limit(1)).first()
        if earliest is None:
            raise
        return earliest


# ------------------------------------------------------------------------------------------ ledger


@dataclass(frozen=True)
class LedgerFigures:
    """The pool's money on a day, from its accounts (every figure positive in its usual sense)."""

    cash: Decimal
    paid_in_city: Decimal
    paid_in_county: Decimal
    paid_out_city: Decimal
    paid_out_county: Decimal
    recovered_city: Decimal
    recovered_county: Decimal

    @property
    def paid_in(self) -> Decimal:
        return self.paid_in_city + self.paid_in_county

    @property
    def paid_out(self) -> Decimal:
        return self.paid_out_city + self.paid_out_county

    @property
    def recovered(self) -> Decimal:
        return self.recovered_city + self.recovered_county


def ledger_figures(as_of: date | None = None) -> LedgerFigures:
    """The pool's balances from posted entries dated on or before ``as_of`` (all when None). One query."""
    found = balances(FUND, as_of)

    def signed(code: str) -> Decimal:
        return found.get(code, ZERO)

    return LedgerFigures(
        cash=signed(CASH),
        paid_in_city=-signed(CONTRIBUTIONS["city"]),
        paid_in_county=-signed(CONTRIBUTIONS["county"]),
        paid_out_city=signed(COMPENSATION["city"]),
        paid_out_county=signed(COMPENSATION["county"]),
        recovered_city=-signed(RECOVERIES["city"]),
        recovered_county=-signed(RECOVERIES["county"]),
    )


def _cash_by_day(after: date | None = None) -> list[tuple[date, Decimal]]:
    """Net movement of the pool's cash per entry date (dated after ``after`` when given), oldest first."""
    query = (
        sa.select(JournalEntry.entry_date, sa.func.sum(JournalLine.amount))
        .join(JournalLine, JournalLine.entry_id == JournalEntry.id)
        .join(LedgerAccount, LedgerAccount.id == JournalLine.account_id)
        .where(JournalEntry.fund == FUND, JournalEntry.posted == sa.true(), LedgerAccount.code == CASH)
        .group_by(JournalEntry.entry_date)
        .order_by(JournalEntry.entry_date)
    )
    if after is not None:
        query = query.where(JournalEntry.entry_date > after)
    return [(day, amount) for day, amount in db.session.execute(query)]


def cash_available_from(day: date) -> Decimal:
    """The least cash the pool holds on ``day`` or on any later date (entries may be back-dated).

    A payment dated ``day`` lowers every later balance too, so it may use at most this much: then
    the pool's cash is never negative on any date, whatever order the paper arrives in.
    """
    running = ledger_figures(day).cash
    lowest = running
    for _day, amount in _cash_by_day(after=day):
        running += amount
        lowest = min(lowest, running)
    return lowest


def cash_history(start: date, end: date) -> list[tuple[date, Decimal]]:
    """The pool's cash at each month end from ``start``'s month to ``end``, and on ``end`` itself."""
    movements = _cash_by_day()
    days: list[date] = []
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month):
        month_end = date(year, month, calendar.monthrange(year, month)[1])
        days.append(min(month_end, end))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    history, running, index = [], ZERO, 0
    for day in days:
        while index < len(movements) and movements[index][0] <= day:
            running += movements[index][1]
            index += 1
        history.append((day, running))
    return history


# ------------------------------------------------------------------------------------- covered loans


def _covered_columns(as_of: date) -> tuple[sa.ColumnElement, sa.ColumnElement, sa.ColumnElement]:
    """(outstanding, exposure, non-performing) of one loan as of the day, as SQL over ``Loan``."""
    return _covered_expressions(as_of, thresholds_on(as_of).substandard_from)


@functools.lru_cache(maxsize=32)
def _covered_expressions(
    as_of: date, substandard_from: int
) -> tuple[sa.ColumnElement, sa.ColumnElement, sa.ColumnElement]:
    """The expressions of :func:`_covered_columns`, built once per day and threshold.

    Every loan contracted asks for the figures of its day (the coverage decision, the breaker), and
    building these trees costs more than running them; SQL expressions are immutable, so the same
    ones serve every statement of that day (the threshold is part of the key: a new policy version
    never meets a stale expression).
    """
    disbursed, repaid = as_of_sums(as_of)
    outstanding = disbursed - repaid
    undrawn = sa.case((Loan.maturity_date >= as_of, Loan.principal - disbursed), else_=_MONEY_ZERO)
    dpd = dpd_sql(as_of, disbursed, repaid)
    non_performing = sa.case((dpd >= substandard_from, outstanding), else_=_MONEY_ZERO)
    return outstanding, outstanding + undrawn, non_performing


@functools.lru_cache(maxsize=32)
def _covered_on(as_of: date) -> tuple[sa.ColumnElement[bool], ...]:
    """The covered loans contracted by ``as_of`` that can count in the figures of that day.

    A loan settled for good (status repaid, and either wholly drawn or matured before the day) has
    nothing outstanding, undrawn or overdue as of the day when nothing of any loan is dated after the
    day (its totals are then those of the day), so it is left out; the database skips it on the
    status alone instead of computing its zero. When something is dated later (entered back in an
    open month), every loan counts, as the figures' expressions require.
    """
    first_day = sa.literal(date.min, sa.Date())
    nothing_later = sa.and_(
        sa.func.coalesce(sa.select(sa.func.max(Disbursement.disbursed_on)).scalar_subquery(), first_day) <= as_of,
        sa.func.coalesce(sa.select(sa.func.max(Repayment.paid_on)).scalar_subquery(), first_day) <= as_of,
    )
    settled = sa.and_(
        Loan.status == LoanStatus.REPAID.value,
        sa.or_(Loan.maturity_date < as_of, Loan.disbursed_total == Loan.principal),
    )
    return (Loan.covered.is_(True), Loan.start_date <= as_of, sa.not_(sa.and_(settled, nothing_later)))


@dataclass(frozen=True)
class BankRiskFigures:
    """A bank's covered loans as of a day: the breaker's inputs."""

    bank_id: int
    covered_outstanding: Decimal
    covered_exposure: Decimal
    non_performing: Decimal

    @property
    def npl_ratio(self) -> Decimal:
        return rules.npl_ratio(self.non_performing, self.covered_outstanding)


def bank_figures(as_of: date, bank_id: int | None = None) -> dict[int, BankRiskFigures]:
    """Covered figures per bank as of ``as_of`` (one bank when ``bank_id`` is given). One query."""
    outstanding, exposure, non_performing = _covered_columns(as_of)
    query = (
        sa.select(
            Loan.bank_id,
            sa.func.coalesce(sa.func.sum(outstanding), _MONEY_ZERO),
            sa.func.coalesce(sa.func.sum(exposure), _MONEY_ZERO),
            sa.func.coalesce(sa.func.sum(non_performing), _MONEY_ZERO),
        )
        .where(*_covered_on(as_of))
        .group_by(Loan.bank_id)
    )
    if bank_id is not None:
        query = query.where(Loan.bank_id == bank_id)
    return {
        bank: BankRiskFigures(bank, out, exp, npl) for bank, out, exp, npl in db.session.execute(query)
    }


def _covered_total(as_of: date, which: int) -> Decimal:
    column = _covered_columns(as_of)[which]
    total = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(column), _MONEY_ZERO)).where(*_covered_on(as_of))
    )
    return total if total is not None else ZERO


def covered_outstanding(as_of: date) -> Decimal:
    """Principal outstanding on covered loans as of ``as_of`` (all banks)."""
    return _covered_total(as_of, 0)


def covered_totals(as_of: date) -> tuple[Decimal, Decimal]:
    """(covered outstanding, covered exposure) as of ``as_of``: both in one pass over the covered loans."""
    outstanding, exposure, _non_performing = _covered_columns(as_of)
    row = db.session.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(outstanding), _MONEY_ZERO),
            sa.func.coalesce(sa.func.sum(exposure), _MONEY_ZERO),
        ).where(*_covered_on(as_of))
    ).one()
    return row[0], row[1]


def covered_exposure(as_of: date) -> Decimal:
    """What the leverage cap limits: covered outstanding plus undrawn principal of unmatured covered loans."""
    return _covered_total(as_of, 1)


def covered_history(days: Sequence[date]) -> dict[date, tuple[Decimal, Decimal]]:
    """(covered outstanding, covered exposure) of all banks at each of ``days`` - the figures
    ``bank_figures(day)`` sums - from ONE statement of five sums by date, whatever the number of days.

    Over the covered loans, with every tranche dated within its loan's start..maturity (the services
    refuse any other):

    - outstanding(D) = tranches dated ≤ D − repayments dated ≤ D;
    - undrawn(D) = Σ principal − tranches of the loans started by D and not matured before D
      = [principal by start date ≤ D − principal by maturity date < D]
      − [tranches dated ≤ D − tranches by their loan's maturity date < D]
      (a loan matured before D had all its tranches before D);
    - exposure(D) = outstanding(D) + undrawn(D).

    Each sum is grouped by one date (a few hundred rows per year of history), then accumulated
    here, instead of one pass over every covered loan per day asked.
    """
    covered = Loan.covered.is_(True)

    def by_day(kind: str, day: Any, amount: Any, *joins: Any) -> sa.Select:
        query = sa.select(sa.literal(kind).label("kind"), day.label("day"), sa.func.sum(amount).label("amount"))
        for model in joins:
            query = query.select_from(model).join(Loan, Loan.id == model.loan_id)
        return query.where(covered).group_by(day)

    statement = sa.union_all(
        by_day("tranches", Disbursement.disbursed_on, Disbursement.amount, Disbursement),
        by_day("repaid", Repayment.paid_on, Repayment.principal, Repayment),
        by_day("started", Loan.start_date, Loan.principal),
        by_day("matured", Loan.maturity_date, Loan.principal),
        by_day("matured_tranches", Loan.maturity_date, Disbursement.amount, Disbursement),
    )
    series: dict[str, tuple[list[date], list[Decimal]]] = {
        kind: ([], []) for kind in ("tranches", "repaid", "started", "matured", "matured_tranches")
    }
    for row in sorted(db.session.execute(statement), key=lambda row: (row.kind, row.day)):
        dates, running = series[row.kind]
        dates.append(row.day)
        running.append((running[-1] if running else ZERO) + row.amount)

    def up_to(kind: str, day: date, *, inclusive: bool = True) -> Decimal:
        dates, running = series[kind]
        index = (bisect.bisect_right if inclusive else bisect.bisect_left)(dates, day)
        return running[index - 1] if index else ZERO

    figures = {}
    for day in days:
        tranches = up_to("tranches", day)
        outstanding = tranches - up_to("repaid", day)
        principal = up_to("started", day) - up_to("matured", day, inclusive=False)
        drawn = tranches - up_to("matured_tranches", day, inclusive=False)
        figures[day] = (outstanding, outstanding + principal - drawn)
    return figures


# ----------------------------------------------------------------------------------------- claims


def queued_claims() -> Sequence[RiskClaim]:
    """Approved-unpaid claims in approval order (the order they are paid in)."""
    return db.session.scalars(
        sa.select(RiskClaim)
        .where(RiskClaim.status == ClaimStatus.APPROVED_UNPAID.value)
        .order_by(RiskClaim.approval_seq)
    ).all()


def _queued_total() -> tuple[Decimal, int]:
    total, count = db.session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(RiskClaim.pool_share), _MONEY_ZERO), sa.func.count()).where(
            RiskClaim.status == ClaimStatus.APPROVED_UNPAID.value
        )
    ).one()
    return total, count


def trailing_claims(as_of: date) -> Decimal:
    """Pool shares of the claims (not rejected) filed in the twelve months up to ``as_of``."""
    total = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(RiskClaim.pool_share), _MONEY_ZERO)).where(
            RiskClaim.status != ClaimStatus.REJECTED.value,
            RiskClaim.as_of > months_before(as_of, 12),
            RiskClaim.as_of <= as_of,
        )
    )
    return total if total is not None else ZERO


def get_claim(claim_id: int) -> RiskClaim:
    """Unscoped lookup; 404 when unknown."""
    claim = db.session.get(RiskClaim, claim_id)
    if claim is None:
        raise NotFound(_("代偿申请不存在"))
    return claim


def visible_claim(claim_id: int) -> RiskClaim:
    """The claim, or 404 (also for a liaison asking about another bank's claim)."""
    claim = get_claim(claim_id)
    ensure_visible(claim.bank_id)
    return claim


def visible_claims(
    *,
    status: str | None = None,
    bank_id: int | None = None,
    loan_id: int | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[Sequence[RiskClaim], int]:
    """One page of the claims the caller may see (newest first) and their total.

    ``status="queue"`` lists the managers' queue: submitted claims, oldest first.
    """
    query = scope_to_bank(sa.select(RiskClaim), RiskClaim.bank_id)
    order = [RiskClaim.id.desc()]
    if status == "queue":
        query = query.where(RiskClaim.status == ClaimStatus.SUBMITTED.value)
        order = [RiskClaim.id]
    elif status == ClaimStatus.APPROVED_UNPAID.value:
        query = query.where(RiskClaim.status == status)
        order = [RiskClaim.approval_seq]
    elif status:
        query = query.where(RiskClaim.status == status)
    if bank_id is not None:
        query = query.where(RiskClaim.bank_id == bank_id)
    if loan_id is not None:
        query = query.where(RiskClaim.loan_id == loan_id)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    page, per_page = max(1, page), min(max(1, per_page), MAX_PER_PAGE)
    items = db.session.scalars(query.order_by(*order).limit(per_page).offset((page - 1) * per_page)).all()
    return items, total


def notices_pending() -> Sequence[RiskClaim]:
    """Approved claims whose compensation notice (代偿通知书) the documents module has not issued yet."""
    return db.session.scalars(
        sa.select(RiskClaim).where(RiskClaim.notice_pending.is_(True)).order_by(RiskClaim.approval_seq)
    ).all()


def claims_by_bank() -> list[dict]:
    """Per bank: claims filed, principal claimed, pool shares paid and queued, pool's recoveries. Two queries."""
    paid = ClaimStatus.PAID.value
    queued = ClaimStatus.APPROVED_UNPAID.value
    rows = db.session.execute(
        sa.select(
            Bank.id,
            Bank.name,
            sa.func.count(RiskClaim.id),
            sa.func.coalesce(sa.func.sum(RiskClaim.principal), _MONEY_ZERO),
            sa.func.coalesce(
                sa.func.sum(sa.case((RiskClaim.status == paid, RiskClaim.pool_share), else_=_MONEY_ZERO)), _MONEY_ZERO
            ),
            sa.func.coalesce(
                sa.func.sum(sa.case((RiskClaim.status == queued, RiskClaim.pool_share), else_=_MONEY_ZERO)), _MONEY_ZERO
            ),
        )
        .join(RiskClaim, RiskClaim.bank_id == Bank.id)
        .where(RiskClaim.status != ClaimStatus.REJECTED.value)
        .group_by(Bank.id, Bank.name)
        .order_by(Bank.name)
    ).all()
    recovered = dict(
        db.session.execute(
            sa.select(RiskClaim.bank_id, sa.func.sum(RiskRecovery.pool_part))
            .join(RiskRecovery, RiskRecovery.claim_id == RiskClaim.id)
            .group_by(RiskClaim.bank_id)
        ).all()
    )
    return [
        {
            "bank_id": bank_id,
            "bank_name": name,
            "claims": count,
            "principal": principal,
            "paid": paid_total,
            "queued": queued_total,
            "recovered": recovered.get(bank_id, ZERO),
        }
        for bank_id, name, count, principal, paid_total, queued_total in rows
    ]


def contributions(*, page: int = 1, per_page: int = 50) -> tuple[Sequence[RiskContribution], int]:
    """Contributions newest first, and their count."""
    page, per_page = max(1, page), min(max(1, per_page), MAX_PER_PAGE)
    items = db.session.scalars(
        sa.select(RiskContribution)
        .order_by(RiskContribution.received_on.desc(), RiskContribution.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    total = db.session.scalar(sa.select(sa.func.count()).select_from(RiskContribution)) or 0
    return items, total


# ----------------------------------------------------------------------------------------- the pool


@dataclass(frozen=True)
class PoolFigures:
    """The pool on a day (GET /risk/pool and the overview page)."""

    as_of: date
    committed: Decimal
    ledger: LedgerFigures
    min_paid_in: Decimal
    covered_outstanding: Decimal
    covered_exposure: Decimal
    leverage_multiple: int
    queued_unpaid: Decimal
    queued_count: int
    trailing_claims: Decimal

    @property
    def paid_in(self) -> Decimal:
        return self.ledger.paid_in

    @property
    def cash(self) -> Decimal:
        return self.ledger.cash

    @property
    def covering(self) -> bool:
        """Whether the pool is paid in enough to cover new loans (domain.md §4: at least 10%)."""
        return self.paid_in > 0 and self.paid_in >= self.min_paid_in

    @property
    def leverage_cap(self) -> Decimal:
        return self.paid_in * self.leverage_multiple

    @property
    def leverage(self) -> Decimal | None:
        """Covered outstanding ÷ paid-in capital (times), two places; None before anything is paid in."""
        if self.paid_in <= 0:
            return None
        return (self.covered_outstanding / self.paid_in).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)

    @property
    def exposure_leverage(self) -> Decimal | None:
        """Covered exposure ÷ paid-in capital (what the cap compares with the multiple)."""
        if self.paid_in <= 0:
            return None
        return (self.covered_exposure / self.paid_in).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)

    @property
    def monthly_claims(self) -> Decimal:
        """The trailing default rate: pool shares claimed per month over the last twelve months."""
        return (self.trailing_claims / 12).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)

    @property
    def months_of_cover(self) -> Decimal | None:
        """Months of claims the free cash pays at the trailing rate, one decimal; None without claims."""
        if self.trailing_claims <= 0:
            return None
        free = max(self.cash - self.queued_unpaid, ZERO)
        return (free * 12 / self.trailing_claims).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def pool_figures(as_of: date | None = None) -> PoolFigures:
    """The pool's figures as of ``as_of`` (default today). A handful of queries, none per loan or claim."""
    as_of = as_of or clock.today()
    policy = policy_on(as_of)
    queued_total, queued_count = _queued_total()
    outstanding, exposure = covered_totals(as_of)
    return PoolFigures(
        as_of=as_of,
        committed=policy.risk_pool_commitment,
        ledger=ledger_figures(as_of),
        min_paid_in=policy.risk_pool_commitment * policy.risk_min_paid_in_ratio,
        covered_outstanding=outstanding,
        covered_exposure=exposure,
        leverage_multiple=policy.risk_leverage_multiple,
        queued_unpaid=queued_total,
        queued_count=queued_count,
        trailing_claims=trailing_claims(as_of),
    )


# ---------------------------------------------------------------------------------------- breakers


def breaker_state_on(bank_id: int, day: date) -> str:
    """The bank's recorded breaker state on ``day``: the last change dated on or before it (normal before any)."""
    state = db.session.scalar(
        sa.select(RiskBreakerEvent.state)
        .where(RiskBreakerEvent.bank_id == bank_id, RiskBreakerEvent.changed_on <= day)
        .order_by(RiskBreakerEvent.changed_on.desc(), RiskBreakerEvent.id.desc())
        .limit(1)
    )
    return state or rules.NORMAL


def breaker_events(bank_id: int | None = None, *, limit: int = 200) -> Sequence[RiskBreakerEvent]:
    """Changes of breaker state, newest first (one bank's, or every bank's)."""
    query = sa.select(RiskBreakerEvent).order_by(RiskBreakerEvent.changed_on.desc(), RiskBreakerEvent.id.desc())
    if bank_id is not None:
        query = query.where(RiskBreakerEvent.bank_id == bank_id)
    return db.session.scalars(query.limit(limit)).all()


@dataclass(frozen=True)
class BreakerView:
    """A bank's breaker as of a day: its ratio, the state it is in, what is recorded, the thresholds."""

    bank_id: int
    as_of: date
    figures: BankRiskFigures
    state: str
    recorded_state: str
    lifted: bool
    evaluated_on: date | None
    warning: Decimal
    suspend: Decimal
    events: Sequence[RiskBreakerEvent] = field(default_factory=tuple)

    @property
    def npl_ratio(self) -> Decimal:
        return self.figures.npl_ratio


def _view(bank_id: int, as_of: date, figures: BankRiskFigures, row: RiskBreaker | None, policy: Policy,
          events: Sequence[RiskBreakerEvent] = ()) -> BreakerView:
    recorded = row.state if row is not None else rules.NORMAL
    lifted = bool(row is not None and row.lifted)
    if row is not None and row.evaluated_on is not None and as_of < row.evaluated_on:
        state = breaker_state_on(bank_id, as_of)  # a past day: what was recorded then
    else:
        # Today or later than the last evaluation: the state the next evaluation will record.
        state = rules.breaker_state(
            figures.non_performing,
            figures.covered_outstanding,
            warning=policy.risk_breaker_warning,
            suspend=policy.risk_breaker_suspend,
            lifted=lifted,
        )
    return BreakerView(
        bank_id=bank_id,
        as_of=as_of,
        figures=figures,
        state=state,
        recorded_state=recorded,
        lifted=lifted,
        evaluated_on=row.evaluated_on if row is not None else None,
        warning=policy.risk_breaker_warning,
        suspend=policy.risk_breaker_suspend,
        events=events,
    )


def breaker_view(bank_id: int, as_of: date | None = None, *, with_events: bool = True) -> BreakerView:
    """The bank's breaker as of ``as_of`` (default today). Reads only: evaluating is a service's job."""
    as_of = as_of or clock.today()
    if db.session.get(Bank, bank_id) is None:
        raise NotFound(_("合作银行不存在"))
    figures = bank_figures(as_of, bank_id).get(bank_id) or BankRiskFigures(bank_id, ZERO, ZERO, ZERO)
    row = db.session.scalar(sa.select(RiskBreaker).where(RiskBreaker.bank_id == bank_id))
    events = breaker_events(bank_id) if with_events else ()
    return _view(bank_id, as_of, figures, row, policy_on(as_of), events)


def breaker_overview(as_of: date | None = None) -> list[tuple[Bank, BreakerView]]:
    """Every bank's breaker as of a day, by bank name. Four queries whatever the number of banks."""
    as_of = as_of or clock.today()
    policy = policy_on(as_of)
    figures = bank_figures(as_of)
    rows = {row.bank_id: row for row in db.session.scalars(sa.select(RiskBreaker).options(lazyload("*")))}
    banks = db.session.scalars(sa.select(Bank).order_by(Bank.name)).all()
    overview = []
    for bank in banks:
        own = figures.get(bank.id) or BankRiskFigures(bank.id, ZERO, ZERO, ZERO)
        row = rows.get(bank.id)
        if row is not None and row.evaluated_on is not None and as_of < row.evaluated_on:
            overview.append((bank, breaker_view(bank.id, as_of, with_events=False)))
        else:
            overview.append((bank, _view(bank.id, as_of, own, row, policy)))
    return overview
