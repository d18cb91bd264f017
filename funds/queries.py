"""Read side of the seed fund: the fund's figures, applications, seed loans as of a day.

For the API, the pages (queues, timelines, the decision page, the fund's overview and its charts)
and the documents. Every figure is summed in SQL (integer fen, exact on both backends) and
returned as ``Decimal``; lists cost a constant number of queries whatever their length.

- :func:`fund_figures` — size, paid-in, cash, committed, available, outstanding, cumulative
  disbursed (opening figure included), written off, recovered, from the ledger (fund ``seed``)
  and the sub-ledger; :func:`fund_series` the same at several dates, for charts.
- :func:`committed` — approved applications whose money is not disbursed yet (domain.md §5: the
  approval commits the amount, the disbursement turns it into outstanding principal).
- :func:`applications`, :func:`get_application`, :func:`timeline`, :func:`phase_counts`,
  :func:`review_summary` — the officers' queue and an application's page.
- :func:`loan_state`, :func:`loans`, :func:`overdue_loans`, :func:`get_loan` — seed loans with
  their schedule, days past due and classification (core.dpd, as for bank loans).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from core import clock
from core.db import db
from core.dpd import Classification, ClassificationThresholds, classify, days_past_due, overdue_principal
from core.errors import BusinessRuleError, NotFound
from core.i18n import _
from core.ledger.queries import balance_history, balances
from core.policy.models import Policy
from core.policy.services import policy_in_force
from funds.models import (
    SeedApplication,
    SeedApplicationEvent,
    SeedContribution,
    SeedInstalment,
    SeedLoan,
    SeedRepayment,
)
from funds.accounts import CASH, CONTRIBUTIONS, FUND, LOANS_RECEIVABLE, RECOVERIES, WRITTEN_OFF
from funds.states import PHASES, Status
from parties.models import Enterprise

__all__ = [
    "FundFigures",
    "LoanState",
    "ScheduleLine",
    "ReviewSummary",
    "applications",
    "committed",
    "contributions",
    "fund_figures",
    "fund_series",
    "get_application",
    "get_loan",
    "loan_state",
    "loans",
    "overdue_loans",
    "phase_counts",
    "review_summary",
    "thresholds_on",
    "timeline",
]

ZERO = Decimal("0.00")
MAX_PER_PAGE = 200
LOAN_STATES = ("contracted", "active", "overdue", "repaid", "written_off")


def _page(query: sa.Select, page: int, per_page: int) -> sa.Select:
    page, per_page = max(1, page), min(max(1, per_page), MAX_PER_PAGE)
    return query.limit(per_page).offset((page - 1) * per_page)


def _count(query: sa.Select) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery())) or 0


def _policy_on(day: date) -> Policy:
    """The policy in force on ``day``, or the earliest one for a day before any."""
    try:
        return policy_in_force(day)
    except BusinessRuleError:
        policy = db.session.scalars(sa.select(Policy).order_by(Policy.effective_from).limit(1)).first()
        if policy is None:
            raise
        return policy


def thresholds_on(day: date) -> ClassificationThresholds:
    """The DPD thresholds of the policy in force on ``day`` (the same ones bank loans use)."""
    policy = _policy_on(day)
    return ClassificationThresholds(
        policy.special_mention_from_dpd, policy.substandard_from_dpd, policy.doubtful_from_dpd, policy.loss_from_dpd
    )


# ------------------------------------------------------------------------------------ the fund


@dataclass(frozen=True)
class FundFigures:
    """The seed fund on a day (``as_of`` None: everything recorded so far)."""

    as_of: date | None
    size: Decimal
    paid_in: Decimal
    cash: Decimal
    committed: Decimal
    outstanding: Decimal
    opening_disbursed: Decimal
    disbursed: Decimal  # through this system
    repaid_total: Decimal
    written_off_total: Decimal
    recovered_total: Decimal

    @property
    def available(self) -> Decimal:
        """``cash − committed`` (domain.md §5): what a new approval may still commit."""
        return self.cash - self.committed

    @property
    def disbursed_cumulative(self) -> Decimal:
        """Everything ever lent, the opening figure of the years before the system included."""
        return self.opening_disbursed + self.disbursed


def _committed_query(as_of: date | None) -> sa.ScalarSelect:
    loan = aliased(SeedLoan)
    conditions: list[sa.ColumnElement[bool]] = [SeedApplication.decision_approved.is_(True)]
    if as_of is None:
        conditions += [SeedApplication.closed_on.is_(None), loan.disbursed_on.is_(None)]
    else:
        conditions += [
            SeedApplication.decided_on <= as_of,
            sa.or_(SeedApplication.closed_on.is_(None), SeedApplication.closed_on > as_of),
            sa.or_(loan.disbursed_on.is_(None), loan.disbursed_on > as_of),
        ]
    return (
        sa.select(sa.func.coalesce(sa.func.sum(SeedApplication.amount), 0))
        .select_from(SeedApplication)
        .outerjoin(loan, loan.application_id == SeedApplication.id)
        .where(*conditions)
        .scalar_subquery()
    )


def committed(as_of: date | None = None) -> Decimal:
    """Amounts approved and not yet disbursed (nor released by a withdrawal or an upheld objection).

    ``as_of`` None reads the current states (what the approval check uses, under the fund lock);
    a date reads the steps' own dates, for statements and charts.
    """
    return db.session.scalar(sa.select(_committed_query(as_of))) or ZERO


def fund_figures(as_of: date | None = None, *, ledger: dict[str, Decimal] | None = None) -> FundFigures:
    """The fund's figures from the ledger (balances of fund ``seed``) and the sub-ledger.

    Three queries: the balances (unless ``ledger`` gives them, as ``balances(FUND, as_of)`` would),
    the sub-ledger sums (one statement), the policy (size, opening).
    """
    if ledger is None:
        ledger = balances(FUND, as_of)
    repaid = sa.select(sa.func.coalesce(sa.func.sum(SeedRepayment.amount), 0))
    disbursed = sa.select(sa.func.coalesce(sa.func.sum(SeedLoan.principal), 0)).where(
        SeedLoan.disbursed_on.is_not(None)
    )
    if as_of is not None:
        repaid = repaid.where(SeedRepayment.paid_on <= as_of)
        disbursed = disbursed.where(SeedLoan.disbursed_on <= as_of)
    row = db.session.execute(
        sa.select(_committed_query(as_of), disbursed.scalar_subquery(), repaid.scalar_subquery())
    ).one()
    policy = _policy_on(as_of or clock.today())
    return FundFigures(
        as_of=as_of,
        size=policy.seed_fund_size,
        paid_in=-ledger.get(CONTRIBUTIONS, ZERO),
        cash=ledger.get(CASH, ZERO),
        committed=row[0],
        outstanding=ledger.get(LOANS_RECEIVABLE, ZERO),
        opening_disbursed=policy.seed_opening_disbursed,
        disbursed=row[1],
        repaid_total=row[2],
        written_off_total=ledger.get(WRITTEN_OFF, ZERO),
        recovered_total=-ledger.get(RECOVERIES, ZERO),
    )


def fund_series(days: Iterable[date]) -> list[FundFigures]:
    """The figures at each of ``days`` (e.g. month ends), for the overview's charts: the ledger's
    balances at every day from one pass over the fund's lines (``balance_history``), then the
    sub-ledger sums and the policy of each day (two small statements per day)."""
    days = list(days)
    ledgers = balance_history(FUND, days)
    return [fund_figures(day, ledger=ledgers[day]) for day in days]


def contributions(*, page: int = 1, per_page: int = 50) -> tuple[Sequence[SeedContribution], int]:
    """Contributions, newest first, and their count."""
    query = sa.select(SeedContribution)
    items = db.session.scalars(
        _page(query.order_by(SeedContribution.received_on.desc(), SeedContribution.id.desc()), page, per_page)
    ).all()
    return items, _count(query)


# ---------------------------------------------------------------------------------- applications


def get_application(application_id: int) -> SeedApplication:
    application = db.session.get(SeedApplication, application_id)
    if application is None:
        raise NotFound(_("种子基金申请不存在"))
    return application


def _phase_condition(phase: str, day: date) -> sa.ColumnElement[bool]:
    if phase == "public_notice":
        return sa.and_(SeedApplication.status == Status.APPROVED, SeedApplication.notice_ends_on >= day)
    if phase == "ready_to_contract":
        return sa.and_(SeedApplication.status == Status.APPROVED, SeedApplication.notice_ends_on < day)
    return SeedApplication.status == phase


def applications(
    *,
    status: str | None = None,
    phase: str | None = None,
    enterprise_id: int | None = None,
    q: str | None = None,
    as_of: date | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[Sequence[SeedApplication], int]:
    """One page of applications, newest first, and the total. ``phase`` is as of ``as_of`` (today)."""
    day = as_of or clock.today()
    query = sa.select(SeedApplication)
    if status:
        query = query.where(SeedApplication.status == status)
    if phase:
        query = query.where(_phase_condition(phase, day))
    if enterprise_id is not None:
        query = query.where(SeedApplication.enterprise_id == enterprise_id)
    if q and q.strip():
        pattern = "%" + q.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.outerjoin(Enterprise, Enterprise.id == SeedApplication.enterprise_id).where(
            sa.or_(
                Enterprise.name.ilike(pattern, escape="\\"),
                SeedApplication.team_name.ilike(pattern, escape="\\"),
                SeedApplication.purpose.ilike(pattern, escape="\\"),
            )
        )
    items = db.session.scalars(
        _page(query.order_by(SeedApplication.submitted_on.desc(), SeedApplication.id.desc()), page, per_page)
    ).all()
    return items, _count(query)


def phase_counts(as_of: date | None = None) -> dict[str, int]:
    """``{phase: number of applications}`` for every phase (zeros included), for the queue's tabs."""
    day = as_of or clock.today()
    phase = sa.case(
        (
            SeedApplication.status == Status.APPROVED,
            sa.case((SeedApplication.notice_ends_on >= day, "public_notice"), else_="ready_to_contract"),
        ),
        else_=SeedApplication.status,
    )
    counts = {name: count for name, count in db.session.execute(sa.select(phase, sa.func.count()).group_by(phase))}
    return {name: int(counts.get(name, 0)) for name in PHASES}


def timeline(application_id: int) -> Sequence[SeedApplicationEvent]:
    """The application's steps in the order they were recorded (dates never go back)."""
    return db.session.scalars(
        sa.select(SeedApplicationEvent)
        .where(SeedApplicationEvent.application_id == application_id)
        .order_by(SeedApplicationEvent.id)
    ).all()


@dataclass(frozen=True)
class ReviewSummary:
    """The expert scores of an application against its policy (minimum count, pass mark)."""

    count: int
    required: int
    total: int
    pass_mark: int

    @property
    def average(self) -> Decimal | None:
        """The average score to two decimals, half-up (for display; the rule compares exactly)."""
        if not self.count:
            return None
        return (Decimal(self.total) / self.count).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)

    @property
    def enough(self) -> bool:
        return self.count >= self.required

    @property
    def passes(self) -> bool:
        """Enough scores and an exact average at least the pass mark (total ≥ mark × count)."""
        return self.enough and self.count > 0 and self.total >= self.pass_mark * self.count


def review_summary(application: SeedApplication) -> ReviewSummary:
    scores = [review.score for review in application.expert_reviews]
    policy = application.policy
    return ReviewSummary(
        count=len(scores), required=policy.seed_min_expert_reviews, total=sum(scores), pass_mark=policy.seed_pass_mark
    )


# ------------------------------------------------------------------------------------- seed loans


@dataclass(frozen=True)
class ScheduleLine:
    """An instalment as of a day: what was due, what repayments (earliest first) have covered."""

    seq: int
    due_on: date
    principal: Decimal
    paid: Decimal

    @property
    def unpaid(self) -> Decimal:
        return self.principal - self.paid


@dataclass(frozen=True)
class LoanState:
    """A seed loan as of ``as_of``."""

    as_of: date
    status: str  # contracted, active, overdue, repaid, written_off (as of the day)
    repaid_principal: Decimal
    written_off_principal: Decimal
    recovered: Decimal
    outstanding: Decimal
    overdue_principal: Decimal
    days_past_due: int
    classification: Classification
    schedule: tuple[ScheduleLine, ...]


def loan_state(
    loan: SeedLoan, as_of: date | None = None, thresholds: ClassificationThresholds | None = None
) -> LoanState:
    """The loan on ``as_of`` (default today), from its schedule and the repayments dated up to then.

    Repayments cover instalments earliest first (core.dpd). Days past due count from the earliest
    instalment still unpaid; a written-off loan keeps the days past due and classification of its
    write-off date (it left the books then) and owes nothing to the books (outstanding 0).
    ``thresholds`` (those in force on ``as_of``) spares lists a policy query per loan.
    """
    day = as_of or clock.today()
    schedule = [(line.due_on, line.principal) for line in loan.instalments]
    repayments = [(r.paid_on, r.amount) for r in loan.repayments if r.paid_on <= day]
    repaid = sum((amount for _on, amount in repayments), ZERO)
    written_off = loan.written_off_on is not None and loan.written_off_on <= day
    recovered = sum((r.amount for r in loan.recoveries if r.recovered_on <= day), ZERO)
    lines = _covered(loan.instalments, repaid)
    if loan.disbursed_on is None or loan.disbursed_on > day:
        return LoanState(day, "contracted", ZERO, ZERO, ZERO, ZERO, ZERO, 0, Classification.NORMAL, lines)
    measured_on = loan.written_off_on if written_off else day
    dpd = days_past_due(schedule, repayments, measured_on)
    overdue = overdue_principal(schedule, repayments, measured_on)
    if thresholds is None or measured_on != day:
        thresholds = thresholds_on(measured_on)
    classification = classify(dpd, thresholds)
    if written_off:
        return LoanState(
            day, "written_off", repaid, loan.written_off_principal, recovered, ZERO, overdue, dpd, classification, lines
        )
    outstanding = loan.principal - repaid
    status = "repaid" if outstanding == 0 else ("overdue" if dpd > 0 else "active")
    return LoanState(day, status, repaid, ZERO, ZERO, outstanding, overdue, dpd, classification, lines)


def _covered(instalments: Sequence[SeedInstalment], repaid: Decimal) -> tuple[ScheduleLine, ...]:
    left, lines = repaid, []
    for line in sorted(instalments, key=lambda i: (i.due_on, i.seq)):
        paid = min(line.principal, left)
        left -= paid
        lines.append(ScheduleLine(line.seq, line.due_on, line.principal, paid))
    return tuple(lines)


def get_loan(loan_id: int) -> SeedLoan:
    loan = db.session.get(SeedLoan, loan_id)
    if loan is None:
        raise NotFound(_("种子基金借款不存在"))
    return loan


def _earliest_unpaid_due(day: date) -> sa.ScalarSelect:
    """Correlated to ``seed_loans``: the due date of the earliest instalment not covered by the
    repayments dated up to ``day`` (NULL when all are covered) — core.dpd's rule, in SQL."""
    later, earlier = aliased(SeedInstalment), aliased(SeedInstalment)
    repaid = (
        sa.select(sa.func.coalesce(sa.func.sum(SeedRepayment.amount), 0))
        .where(SeedRepayment.loan_id == SeedLoan.id, SeedRepayment.paid_on <= day)
        .correlate(SeedLoan)  # two levels down: explicit, or it would sum every loan's repayments
        .scalar_subquery()
    )
    due_through = (
        sa.select(sa.func.sum(earlier.principal))
        .where(earlier.loan_id == later.loan_id, earlier.seq <= later.seq)
        .scalar_subquery()
    )
    return (
        sa.select(sa.func.min(later.due_on))
        .where(later.loan_id == SeedLoan.id, due_through > repaid)
        .correlate(SeedLoan)
        .scalar_subquery()
    )


def _on_books(day: date) -> sa.ColumnElement[bool]:
    """Disbursed by ``day`` and not written off by then (repaid loans drop out: no unpaid instalment)."""
    return sa.and_(
        SeedLoan.disbursed_on.is_not(None),
        SeedLoan.disbursed_on <= day,
        sa.or_(SeedLoan.written_off_on.is_(None), SeedLoan.written_off_on > day),
    )


def loans(
    *,
    status: str | None = None,
    classification: str | None = None,
    enterprise_id: int | None = None,
    overdue: bool | None = None,
    as_of: date | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[tuple[SeedLoan, LoanState]], int]:
    """One page of seed loans with their state as of ``as_of`` (default today), and the total.

    Filters run in SQL with the same rules as :func:`loan_state`: ``overdue`` (some principal due
    before the day unpaid), ``classification`` (of loans with principal outstanding that day: the
    DPD thresholds become due-date thresholds), ``status`` as of the day. With ``overdue=True``
    the worst (earliest unpaid due date) come first.
    """
    day = as_of or clock.today()
    earliest = _earliest_unpaid_due(day)
    query = sa.select(SeedLoan)
    if enterprise_id is not None:
        query = query.where(SeedLoan.enterprise_id == enterprise_id)
    if overdue is not None:
        is_overdue = sa.and_(_on_books(day), earliest.is_not(None), earliest < day)
        query = query.where(is_overdue if overdue else sa.not_(is_overdue))
    if status:
        query = query.where(_status_condition(status, day, earliest))
    if classification:
        # Loans with principal outstanding that day (a repaid loan has no unpaid instalment).
        query = query.where(_on_books(day), earliest.is_not(None), _classification_condition(classification, day, earliest))
    ordering = (
        (earliest.asc(), SeedLoan.id) if overdue else (SeedLoan.contracted_on.desc(), SeedLoan.id.desc())
    )
    rows = db.session.scalars(_page(query.order_by(*ordering), page, per_page)).all()
    thresholds = thresholds_on(day)
    return [(loan, loan_state(loan, day, thresholds)) for loan in rows], _count(query)


def _status_condition(status: str, day: date, earliest: sa.ScalarSelect) -> sa.ColumnElement[bool]:
    not_disbursed = sa.or_(SeedLoan.disbursed_on.is_(None), SeedLoan.disbursed_on > day)
    written_off = SeedLoan.written_off_on <= day
    if status == "contracted":
        return not_disbursed
    if status == "written_off":
        return written_off
    if status == "repaid":
        return sa.and_(_on_books(day), earliest.is_(None))
    if status == "overdue":
        return sa.and_(_on_books(day), earliest < day)
    if status == "active":
        return sa.and_(_on_books(day), earliest >= day)
    return sa.false()


def _classification_condition(name: str, day: date, earliest: sa.ScalarSelect) -> sa.ColumnElement[bool]:
    """DPD ≥ n  ⇔  the earliest unpaid due date ≤ day − n: the tiers as due-date ranges."""
    t = thresholds_on(day)

    def dpd_at_least(n: int) -> sa.ColumnElement[bool]:
        return earliest <= day - timedelta(days=n)

    def dpd_below(n: int) -> sa.ColumnElement[bool]:
        return sa.or_(earliest.is_(None), earliest > day - timedelta(days=n))

    tiers = {
        Classification.NORMAL.value: dpd_below(t.special_mention_from),
        Classification.SPECIAL_MENTION.value: sa.and_(dpd_at_least(t.special_mention_from), dpd_below(t.substandard_from)),
        Classification.SUBSTANDARD.value: sa.and_(dpd_at_least(t.substandard_from), dpd_below(t.doubtful_from)),
        Classification.DOUBTFUL.value: sa.and_(dpd_at_least(t.doubtful_from), dpd_below(t.loss_from)),
        Classification.LOSS.value: dpd_at_least(t.loss_from),
    }
    return tiers.get(name, sa.false())


def overdue_loans(
    as_of: date | None = None, *, page: int = 1, per_page: int = 50
) -> tuple[list[tuple[SeedLoan, LoanState]], int]:
    """The officers' overdue list: loans with principal due before the day still unpaid, most
    days past due first."""
    return loans(overdue=True, as_of=as_of, page=page, per_page=per_page)
