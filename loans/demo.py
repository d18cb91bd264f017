"""Demonstration loans for ``flask demo load`` (config/demo.py calls this after ``parties.demo``).

About 120 knowledge-value loans by the partner banks to the rated science-tech enterprises of the
registry, over the two years before ``today``:

- each enterprise borrows from its usual bank (sometimes another), renews a few days to a few months
  after repaying, now and then holds a second bank's loan beside the first, and sometimes stops;
- terms of 6, 9 or 12 months; round principals (500,000.00, 1,200,000.00 ...) within the credit line the
  rating of the contract date grants, less what the enterprise's other loans use; rates by bank and grade;
- one to three tranches; interest settled quarterly on the 20th of March, June, September and December
  (actual/360) and with each repayment of principal;
- most loans repaid on or just before maturity, some repaid in part at maturity and the rest weeks later,
  a few repaid early, a few partly prepaid, and a few enterprises in default: loans overdue into each tier
  of the classification (special mention, substandard, doubtful, loss), some with a part repaid;
- the latest contracts still drawing their tranches, or not drawn yet;
- contract numbers in each bank's style (``ICBC-2025-0012``) and unique bank references.

Everything goes through ``loans.services`` in date order (repayments of a day before its contracts, so a
renewal on the day of repayment finds the line free), so every rule of the product holds for the demo.
Everything is drawn from the caller's seeded ``random.Random``; nothing is dated after ``today``.
"""
from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import NamedTuple, TypeVar

import sqlalchemy as sa

from core import clock
from core.db import db
from core.money import round_fen
from core.policy.services import policy_in_force
from loans.dpd import Classification
from loans.models import Loan
from loans.services import add_months, create_loan, record_disbursement, record_repayment
from parties.models import Bank, Enterprise

__all__ = ["load_loans_demo", "peak_exposure"]

T = TypeVar("T")

UNIT = 100_000  # principals and tranches are whole multiples of 100,000.00 yuan
ZERO = Decimal("0.00")
DAYS_IN_RATE_YEAR = 360  # Chinese banks' day count for loan interest (日利率 = 年利率 / 360)
SETTLEMENT_MONTHS = (3, 6, 9, 12)  # quarterly interest settlement (按季结息), on the 20th
SETTLEMENT_DAY = 20

# Principal (yuan) and how often a county tech firm borrows it; only those within the line are drawn.
PRINCIPAL_WEIGHTS = {
    300_000: 3,
    500_000: 10,
    600_000: 3,
    800_000: 8,
    1_000_000: 12,
    1_200_000: 5,
    1_500_000: 8,
    2_000_000: 6,
    2_500_000: 2,
    3_000_000: 3,
    3_500_000: 1,
    4_000_000: 1,
    5_000_000: 1,
}
TERM_WEIGHTS = {6: 4, 9: 3, 12: 5}  # months
TRANCHE_WEIGHTS = {1: 55, 2: 33, 3: 12}
BANK_WEIGHTS = {"ICBC": 4, "ABC": 3, "RCB": 4}  # other banks: 3
# Annual rate in hundredths of a percent: the bank's base (LPR-based), plus a margin by grade.
BASE_RATE_BP = {"ICBC": 320, "ABC": 330, "RCB": 385}  # other banks: 350
GRADE_MARGIN_BP = {"A": 0, "B": 10, "C": 20, "D": 40, "E": 60}
CONTRACT_STYLES = {"ICBC": "ICBC-{year}-{n:04d}", "ABC": "ABC-KJ-{year}-{n:04d}", "RCB": "RCB{year}ZS{n:04d}"}
DEFAULT_CONTRACT_STYLE = "{code}-{year}-{n:04d}"
PURPOSES = (
    "研发投入",
    "补充流动资金",
    "购置研发设备",
    "技术改造",
    "新产品试制",
    "原材料采购",
    "知识产权产业化",
    "生产线智能化改造",
    "研发中心建设",
    "市场推广与渠道建设",
)
# Enterprises in default, by tier (the classification of their last loan as of today), worst first.
DEFAULT_TIERS = (
    Classification.LOSS,
    Classification.DOUBTFUL,
    Classification.DOUBTFUL,
    Classification.SUBSTANDARD,
    Classification.SUBSTANDARD,
    Classification.SPECIAL_MENTION,
    Classification.SPECIAL_MENTION,
    Classification.SPECIAL_MENTION,
)
GRADE_DEFAULT_WEIGHTS = {"A": 1, "B": 2, "C": 4, "D": 6, "E": 6}  # weaker grades default more often


@dataclass(frozen=True)
class _Rating:
    grade: str
    rated_on: date
    valid_until: date
    credit_line: Decimal


@dataclass(frozen=True)
class _Borrower:
    enterprise_id: int
    ratings: tuple[_Rating, ...]  # by date

    def rating_on(self, day: date) -> _Rating | None:
        """The rating governing ``day``, as parties.queries.rating_valid_on decides it."""
        earlier = [rating for rating in self.ratings if rating.rated_on <= day]
        return earlier[-1] if earlier and earlier[-1].valid_until >= day else None


@dataclass
class _Plan:
    enterprise_id: int
    bank_code: str
    start: date
    maturity: date
    principal: Decimal
    rate: Decimal
    purpose: str
    tranches: list[tuple[date, Decimal]] = field(default_factory=list)
    principal_payments: list[tuple[date, Decimal]] = field(default_factory=list)
    interest_until: date | None = None  # interest paid only up to this day (defaulters); None: to the end
    repayments: list[tuple[date, Decimal, Decimal]] = field(default_factory=list)  # (day, principal, interest)
    loan: Loan | None = None

    @property
    def free_on(self) -> date | None:
        """The day the whole principal is repaid (the loan stops using the line), or None."""
        repaid = ZERO
        for day, amount in sorted(self.principal_payments):
            repaid += amount
            if repaid == self.principal:
                return day
        return None

    def repaid_by(self, day: date) -> Decimal:
        return sum((amount for on, amount in self.principal_payments if on <= day), ZERO)


def load_loans_demo(
    banks: dict[str, Bank],
    *,
    today: date,
    rng: random.Random,
    created_by: str,
    before_recording: Callable[[date, Decimal], None] | None = None,
) -> dict[str, int]:
    """Lend to the registry's rated science-tech enterprises (bad-credit and dishonest-list ones
    excluded) through the services; returns ``{"loans": n, "disbursements": n, "repayments": n}``.

    ``banks`` maps bank codes to the lending banks. Flushes only (the caller commits). ``today`` is the
    last day anything may be dated and must not be after ``core.clock.today()`` (the services refuse
    dates in the future). ``before_recording`` is called with the first contract day and the
    :func:`peak_exposure` of the plans once they are made, before any loan is recorded (the risk
    pool's demo pays in the capital that covers them).
    """
    if today > clock.today():
        raise ValueError(f"today ({today}) is after the clock's today ({clock.today()})")
    if not banks:
        return {"loans": 0, "disbursements": 0, "repayments": 0}
    plans = _plan(_borrowers(), sorted(banks), today, rng)
    if before_recording is not None and plans:
        before_recording(min(plan.start for plan in plans), peak_exposure(plans))
    return _record(plans, banks, created_by)


def peak_exposure(plans: list[_Plan]) -> Decimal:
    """The most principal not yet repaid on any day, over all the planned loans: contracts add their
    principal, principal repayments take theirs away (a day's repayments before its contracts, as
    they are recorded). At least the covered exposure the risk pool's leverage cap ever measures."""
    movements = [(plan.start, CONTRACT, plan.principal) for plan in plans]
    movements += [(day, REPAYMENT, -amount) for plan in plans for day, amount in plan.principal_payments]
    running = peak = ZERO
    for _day, _order, amount in sorted(movements, key=lambda movement: (movement[0], movement[1])):
        running += amount
        peak = max(peak, running)
    return peak


# ------------------------------------------------------------------------------------------- planning


def _borrowers() -> list[_Borrower]:
    enterprises = db.session.scalars(
        sa.select(Enterprise)
        .where(Enterprise.is_science_tech.is_(True), Enterprise.bad_credit.is_(False), Enterprise.dishonest.is_(False))
        .order_by(Enterprise.id)
    ).all()
    borrowers = []
    for enterprise in enterprises:
        ratings = tuple(
            _Rating(r.grade, r.rated_on, r.valid_until, r.credit_line)
            for r in sorted(enterprise.ratings, key=lambda r: r.rated_on)
        )
        if ratings:
            borrowers.append(_Borrower(enterprise.id, ratings))
    return borrowers


def _plan(borrowers: list[_Borrower], bank_codes: list[str], today: date, rng: random.Random) -> list[_Plan]:
    """Every loan with its tranches and repayments, decided before anything is recorded."""
    planner = _Planner(bank_codes, today)
    plans: list[_Plan] = []
    remaining = list(borrowers)
    # The enterprises in default first: their last loan must mature a given number of days ago.
    for tier in DEFAULT_TIERS:
        chosen = planner.default_candidate(tier, remaining, rng)
        if chosen is None:
            continue
        borrower, final_start, term = chosen
        remaining.remove(borrower)
        own = random.Random(rng.getrandbits(64))  # nosec B311  # reproducible demo data
        earlier = planner.chain(borrower, planner.entry(borrower, own), own, until=final_start)
        plans += earlier
        final = planner.overdue_loan(borrower, final_start, term, earlier, tier, own)
        if final is not None:
            plans.append(final)
    for borrower in remaining:
        # One generator per enterprise, seeded from the shared one: how many loans fit before today
        # depends on the calendar, and must not shift the draws of every later enterprise.
        own = random.Random(rng.getrandbits(64))  # nosec B311  # reproducible demo data
        plans += planner.chain(borrower, planner.entry(borrower, own), own)
    for plan in plans:
        plan.repayments = _with_interest(plan, today)
    return plans


class _Planner:
    def __init__(self, bank_codes: list[str], today: date) -> None:
        self.bank_codes = bank_codes
        self.today = today
        policy = policy_in_force(today)
        # Days past due of each tier below normal (a loss is shown a few months into the tier).
        self.tiers = {
            Classification.SPECIAL_MENTION: (policy.special_mention_from_dpd, policy.substandard_from_dpd - 1),
            Classification.SUBSTANDARD: (policy.substandard_from_dpd, policy.doubtful_from_dpd - 1),
            Classification.DOUBTFUL: (policy.doubtful_from_dpd, policy.loss_from_dpd - 1),
            Classification.LOSS: (policy.loss_from_dpd, policy.loss_from_dpd + 90),
        }

    # -- who borrows when

    def entry(self, borrower: _Borrower, rng: random.Random) -> date:
        """The first contract: a few days to a few weeks after the first rating (never after today)."""
        return min(borrower.ratings[0].rated_on + timedelta(days=rng.randint(3, 40)), self.today)

    def default_candidate(
        self, tier: Classification, borrowers: list[_Borrower], rng: random.Random
    ) -> tuple[_Borrower, date, int] | None:
        """An enterprise whose last loan can be overdue into ``tier`` today: (borrower, start, term)."""
        low, high = self.tiers[tier]
        # Keep clear of the tier's edges: maturity clamping at month ends moves a date by up to 3 days.
        low, high = low + 5, high - 5
        if low > high:
            return None
        days_past_due = rng.randint(low, high)
        due = self.today - timedelta(days=days_past_due)
        options = []
        for term in (12, 9, 6):
            start = add_months(due, -term)
            for borrower in borrowers:
                rating = borrower.rating_on(start)
                if rating is not None and start >= borrower.ratings[0].rated_on + timedelta(days=3):
                    options.append((borrower, start, term, rating.grade))
        if not options:
            return None
        borrower, start, term, _grade = rng.choices(
            options, weights=[GRADE_DEFAULT_WEIGHTS[grade] for *_rest, grade in options]
        )[0]
        return borrower, start, term

    def chain(
        self, borrower: _Borrower, entry: date, rng: random.Random, *, until: date | None = None
    ) -> list[_Plan]:
        """The enterprise's loans one after the other from ``entry``: each renewed after the previous
        one is repaid, until the rating lapses, the enterprise stops, or today. With ``until``, only
        loans repaid by that day (the one its last, defaulted loan is contracted)."""
        plans: list[_Plan] = []
        bank = self._bank(rng)
        start = entry
        while start <= self.today:
            rating = borrower.rating_on(start)
            if rating is None:
                break
            term = _weighted(TERM_WEIGHTS, rng)
            if until is not None:
                fitting = [t for t in sorted(TERM_WEIGHTS, reverse=True) if add_months(start, t) <= until]
                if not fitting:
                    break
                term = min(term, fitting[0])
            plan = self._loan(borrower, plans, bank, start, term, rng, repaid_by=until)
            if plan is None:
                break
            plans.append(plan)
            free_on = plan.free_on
            if free_on is None:
                break  # still running (or in default): no renewal yet
            second = self._second_bank_loan(borrower, plans, plan, rng)
            if second is not None:
                plans.append(second)
                free_on = max(free_on, second.free_on or free_on)
            if rng.randrange(100) < 5:
                break  # the enterprise stops borrowing
            start = free_on + timedelta(days=_gap(rng))
            if rng.randrange(100) < 25:
                bank = self._bank(rng)  # moves to another bank (or stays, by chance)
        return plans

    def overdue_loan(
        self,
        borrower: _Borrower,
        start: date,
        term: int,
        earlier: list[_Plan],
        tier: Classification,
        rng: random.Random,
    ) -> _Plan | None:
        """The defaulted loan: fully drawn, matured ``tier``-many days ago, principal (mostly) unpaid;
        interest paid to maturity (special mention) or stopped months before it."""
        bank = earlier[-1].bank_code if earlier else self._bank(rng)
        plan = self._new_plan(borrower, earlier, bank, start, term, rng)
        if plan is None:
            return None
        maturity = plan.maturity
        stopped_paying = 0 if tier == Classification.SPECIAL_MENTION else rng.choice((0, 90, 180))
        plan.interest_until = maturity - timedelta(days=stopped_paying)
        if rng.randrange(100) < 40:
            days_past_due = (self.today - maturity).days
            paid_on = maturity + timedelta(days=rng.randint(0, min(30, days_past_due - 1)))
            units = _units(plan.principal)
            part = max(1, units * rng.randint(10, 40) // 100)
            if part < units and paid_on > plan.tranches[-1][0]:
                plan.principal_payments.append((paid_on, _amount(part)))
        return plan

    # -- one loan

    def _loan(
        self,
        borrower: _Borrower,
        plans: list[_Plan],
        bank: str,
        start: date,
        term: int,
        rng: random.Random,
        *,
        repaid_by: date | None,
    ) -> _Plan | None:
        plan = self._new_plan(borrower, plans, bank, start, term, rng)
        if plan is None:
            return None
        maturity, today = plan.maturity, self.today
        drawn = sum((amount for _day, amount in plan.tranches), ZERO)
        last_tranche = plan.tranches[-1][0] if plan.tranches else None
        if maturity >= today:
            # Still running: now and then part of it prepaid, or all of it (the enterprise renews).
            if repaid_by is None and drawn == plan.principal and last_tranche is not None:
                roll = rng.randrange(100)
                if roll < 6 and (today - last_tranche).days > 60:
                    paid_on = last_tranche + timedelta(days=rng.randint(60, (today - last_tranche).days))
                    plan.principal_payments.append((paid_on, plan.principal))
                elif roll < 20 and (today - last_tranche).days > 30 and _units(plan.principal) > 1:
                    paid_on = last_tranche + timedelta(days=rng.randint(30, (today - last_tranche).days))
                    units = _units(plan.principal)
                    part = min(units - 1, max(1, units * rng.randint(20, 40) // 100))
                    plan.principal_payments.append((paid_on, _amount(part)))
            return plan
        if repaid_by is None and (today - maturity).days > 61 and rng.randrange(100) < 10:
            # Repaid in part at maturity, the rest some weeks late (special mention in the meantime).
            units = _units(plan.principal)
            part = max(1, units * rng.randint(30, 70) // 100)
            if part < units:
                late = maturity + timedelta(days=rng.randint(8, 60))
                plan.principal_payments += [(maturity, _amount(part)), (late, plan.principal - _amount(part))]
                return plan
        early = rng.choice((0, 0, 0, 0, 0, 0, 1, 2, 3, 5, 7, 10, 15))
        plan.principal_payments.append((maturity - timedelta(days=early), plan.principal))
        return plan

    def _new_plan(
        self, borrower: _Borrower, plans: list[_Plan], bank: str, start: date, term: int, rng: random.Random
    ) -> _Plan | None:
        """A contract on ``start`` with its tranches, or None when the line leaves too little."""
        rating = borrower.rating_on(start)
        if rating is None:
            return None
        available = rating.credit_line - _exposure(plans, start)
        principal = _principal(available, rng)
        if principal is None:
            return None
        maturity = add_months(start, term)
        plan = _Plan(
            enterprise_id=borrower.enterprise_id,
            bank_code=bank,
            start=start,
            maturity=maturity,
            principal=principal,
            rate=_rate(bank, rating.grade, rng),
            purpose=rng.choice(PURPOSES),
        )
        # Tranches due after today are simply not drawn yet.
        tranches = _tranches(principal, start, maturity, rng)
        plan.tranches = [(day, amount) for day, amount in tranches if day <= self.today]
        return plan

    def _second_bank_loan(
        self, borrower: _Borrower, plans: list[_Plan], main: _Plan, rng: random.Random
    ) -> _Plan | None:
        """Sometimes a second bank lends beside the first, within what the line leaves, maturing no
        later than the first loan (so both are repaid before the renewal), repaid on time."""
        others = [code for code in self.bank_codes if code != main.bank_code]
        if not others or not main.tranches or rng.randrange(100) >= 35:
            return None
        # After the first loan's first tranche: an undrawn matured loan would be settled as repaid.
        start = main.tranches[0][0] + timedelta(days=rng.randint(5, 50))
        terms = [t for t in sorted(TERM_WEIGHTS, reverse=True) if add_months(start, t) <= main.maturity]
        if start > self.today or not terms:
            return None
        return self._loan(borrower, plans, rng.choice(others), start, terms[0], rng, repaid_by=main.maturity)

    def _bank(self, rng: random.Random) -> str:
        weights = [BANK_WEIGHTS.get(code, 3) for code in self.bank_codes]
        return rng.choices(self.bank_codes, weights=weights)[0]


def _exposure(plans: list[_Plan], day: date) -> Decimal:
    """What the enterprise's planned loans use of its line on ``day`` (before a contract that day):
    principal less repaid principal of those contracted and not yet wholly repaid, as the services
    count it (a day's repayments are recorded before its contracts)."""
    total = ZERO
    for plan in plans:
        free_on = plan.free_on
        if plan.start <= day and (free_on is None or free_on > day):
            total += plan.principal - plan.repaid_by(day)
    return total


def _principal(available: Decimal, rng: random.Random) -> Decimal | None:
    choices = {amount: weight for amount, weight in PRINCIPAL_WEIGHTS.items() if amount <= available}
    if not choices:
        return None
    return Decimal(_weighted(choices, rng)).quantize(Decimal("0.01"))


def _rate(bank: str, grade: str, rng: random.Random) -> Decimal:
    """e.g. 0.0345: the bank's base, the grade's margin and a little negotiation, in 0.05% steps."""
    hundredths_of_percent = BASE_RATE_BP.get(bank, 350) + GRADE_MARGIN_BP[grade] + rng.choice((0, 5, 10, 15))
    return Decimal(hundredths_of_percent) / Decimal(10000)


def _tranches(principal: Decimal, start: date, maturity: date, rng: random.Random) -> list[tuple[date, Decimal]]:
    """One to three tranches of whole hundred-thousands: the first on or just after the contract date,
    the next every few weeks, all at least 40 days before maturity."""
    units = _units(principal)
    count = _weighted(TRANCHE_WEIGHTS, rng)
    while count > 1 and units < 2 * count:
        count -= 1
    parts = []
    left = units
    for index in range(count - 1):
        part = max(1, left * rng.randint(40, 65) // 100)
        part = min(part, left - (count - 1 - index))
        parts.append(part)
        left -= part
    parts.append(left)
    day = start + timedelta(days=rng.choice((0, 0, 0, 1, 2, 3, 5, 7, 10)))
    tranches: list[tuple[date, int]] = []
    for part in parts:
        if tranches and day > maturity - timedelta(days=40):
            previous_day, previous = tranches[-1]
            tranches[-1] = (previous_day, previous + part)  # drawn with the previous tranche instead
        else:
            tranches.append((day, part))
        day += timedelta(days=rng.randint(20, 75))
    return [(on, _amount(part)) for on, part in tranches]


def _with_interest(plan: _Plan, today: date) -> list[tuple[date, Decimal, Decimal]]:
    """The repayments of the plan: its principal payments, each with the interest accrued since the
    last settlement, and the quarterly interest settlements in between (up to today, up to
    ``interest_until`` for a loan in default, whose principal payments then carry no interest)."""
    if not plan.tranches:
        return []
    first_tranche = plan.tranches[0][0]
    last_day = plan.free_on or today
    if plan.interest_until is not None:
        last_day = min(last_day, plan.interest_until)
    settlements = set(_settlement_days(first_tranche, min(last_day, today)))
    principal_days = {day for day, _amount in plan.principal_payments}
    paying_interest = settlements | {day for day in principal_days if day <= last_day}
    changes = plan.tranches + [(day, -amount) for day, amount in plan.principal_payments]
    repayments = []
    since = first_tranche
    for day in sorted(paying_interest | principal_days):
        principal = sum((amount for on, amount in plan.principal_payments if on == day), ZERO)
        interest = ZERO
        if day in paying_interest and day > since:
            interest = _interest(changes, plan.rate, since, day)
            since = day
        if principal > 0 or interest > 0:
            repayments.append((day, principal, interest))
    return repayments


def _settlement_days(after: date, until: date) -> list[date]:
    """The 20ths of March, June, September and December in (after, until]."""
    days = []
    for year in range(after.year, until.year + 1):
        for month in SETTLEMENT_MONTHS:
            day = date(year, month, SETTLEMENT_DAY)
            if after < day <= until:
                days.append(day)
    return days


def _interest(changes: list[tuple[date, Decimal]], rate: Decimal, since: date, until: date) -> Decimal:
    """Interest on the balance over the days ``since`` .. ``until`` − 1 (actual/360), to the fen.

    The balance of a day counts the tranches and principal payments dated on or before it.
    """
    bounds = sorted({since, until} | {day for day, _amount in changes if since < day < until})
    balance_days = ZERO
    for begin, end in zip(bounds, bounds[1:]):
        balance = sum((amount for day, amount in changes if day <= begin), ZERO)
        balance_days += balance * (end - begin).days
    return round_fen(balance_days * rate / DAYS_IN_RATE_YEAR)


def _gap(rng: random.Random) -> int:
    """Days between repaying a loan and the next contract: usually a quick renewal (续贷)."""
    roll = rng.randrange(100)
    if roll < 55:
        return rng.randint(0, 10)
    if roll < 90:
        return rng.randint(11, 90)
    return rng.randint(91, 200)


def _units(amount: Decimal) -> int:
    return int(amount) // UNIT


def _amount(units: int) -> Decimal:
    return Decimal(units * UNIT).quantize(Decimal("0.01"))


def _weighted(weights: Mapping[T, int], rng: random.Random) -> T:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


# ------------------------------------------------------------------------------------------ recording


class _Event(NamedTuple):
    day: date
    order: int  # on a day: repayments, then contracts, then tranches
    plan: int  # index of the plan
    number: int  # of the plan's tranches or repayments


REPAYMENT, CONTRACT, TRANCHE = 0, 1, 2


def _record(plans: list[_Plan], banks: dict[str, Bank], created_by: str) -> dict[str, int]:
    """Record the plans through the services in date order; on a day, repayments first (a renewal finds
    the line freed), then contracts, then tranches. Contract numbers run per bank and year in contract
    order, references per bank."""
    events = []
    for index, plan in enumerate(plans):
        events.append(_Event(plan.start, CONTRACT, index, 0))
        events += [_Event(day, TRANCHE, index, n) for n, (day, _amount) in enumerate(plan.tranches)]
        events += [_Event(day, REPAYMENT, index, n) for n, (day, _p, _i) in enumerate(plan.repayments)]
    events.sort()

    contracts: dict[tuple[str, int], int] = {}
    references: dict[str, int] = {}
    counts = {"loans": 0, "disbursements": 0, "repayments": 0}

    def reference(code: str, kind: str, day: date) -> str:
        """e.g. ICBCFK2025031400012: bank, FK (放款) or HK (还款), date, the bank's running number."""
        references[code] = references.get(code, 0) + 1
        return f"{code}{kind}{day:%Y%m%d}{references[code]:05d}"

    for event in events:
        plan, day = plans[event.plan], event.day
        code = plan.bank_code
        if event.order == CONTRACT:
            number = contracts[(code, day.year)] = contracts.get((code, day.year), 0) + 1
            style = CONTRACT_STYLES.get(code, DEFAULT_CONTRACT_STYLE)
            plan.loan = create_loan(
                bank_id=banks[code].id,
                enterprise_id=plan.enterprise_id,
                contract_no=style.format(code=code, year=day.year, n=number),
                principal=plan.principal,
                annual_rate=plan.rate,
                start_date=plan.start,
                maturity_date=plan.maturity,
                purpose=plan.purpose,
                created_by=created_by,
            )
            counts["loans"] += 1
        elif event.order == TRANCHE:
            assert plan.loan is not None  # its contract sorts first
            _day, amount = plan.tranches[event.number]
            record_disbursement(
                plan.loan, amount=amount, disbursed_on=day, bank_ref=reference(code, "FK", day), created_by=created_by
            )
            counts["disbursements"] += 1
        else:
            assert plan.loan is not None
            _day, principal, interest = plan.repayments[event.number]
            record_repayment(
                plan.loan,
                principal=principal,
                interest=interest,
                paid_on=day,
                bank_ref=reference(code, "HK", day),
                created_by=created_by,
            )
            counts["repayments"] += 1
    return counts
