"""Knowledge-value loans at scale for ``flask demo generate`` (config/generate.py calls this).

The loans are planned exactly as the demo's (``loans.demo``: renewals, second banks, tranches,
quarterly interest, early, partial and late repayments), borrower by borrower until the requested
number of loans is reached, with a share of the borrowers in default in every classification tier.
They are recorded through the product's services in date order: each day's repayments, grouped by
bank, through the batch import's bulk path (``record_repayments``), then its contracts one by one
(``create_loan``: the credit line, the rating, the risk pool's coverage decision), then its tranches
through ``record_disbursements``. The caller's ``commit`` runs at a day's end once enough events
have been recorded since the last one, so memory stays flat however many loans there are.
"""
from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Protocol

from loans.batch_format import DisbursementRow, RepaymentRow
from loans.demo import (
    CONTRACT_STYLES,
    DEFAULT_CONTRACT_STYLE,
    _Borrower,
    _Plan,
    _Planner,
    _Rating,
    _with_interest,
    peak_exposure,
)
from loans.dpd import Classification
from loans.services import create_loan, record_disbursements, record_repayments

__all__ = ["DEFAULT_PERCENT", "LoanPlan", "plan_loans", "record_loans"]

DEFAULT_PERCENT = 5  # borrowers whose last loan is in default today (at least MIN_DEFAULTERS)
# Tiers of the borrowers in default, in turn: mostly non-performing (past 90 days, what the risk pool
# compensates), some in special mention.
DEFAULT_TIERS = (
    Classification.SUBSTANDARD,
    Classification.DOUBTFUL,
    Classification.LOSS,
    Classification.SPECIAL_MENTION,
    Classification.SUBSTANDARD,
    Classification.DOUBTFUL,
)
MIN_DEFAULTERS = 10
# A tier that the calendar cannot place (the window is too short) is tried one step milder.
MILDER = {
    Classification.LOSS: Classification.DOUBTFUL,
    Classification.DOUBTFUL: Classification.SUBSTANDARD,
    Classification.SUBSTANDARD: Classification.SPECIAL_MENTION,
}


class RatingInput(Protocol):
    @property
    def grade(self) -> str: ...
    @property
    def rated_on(self) -> date: ...
    @property
    def valid_until(self) -> date: ...
    @property
    def credit_line(self) -> Decimal: ...


class BorrowerInput(Protocol):
    """What the planner needs of a recorded enterprise (``parties.generate.BorrowerRecord`` is one)."""

    @property
    def enterprise_id(self) -> int: ...
    @property
    def ratings(self) -> Sequence[RatingInput]: ...


@dataclass(frozen=True)
class LoanPlan:
    """The plans, the first contract day and the peak exposure (what the risk pool must cover)."""

    plans: list[_Plan]
    first_contract: date | None
    peak_exposure: Decimal


def plan_loans(
    borrowers: Sequence[BorrowerInput], bank_codes: list[str], *, loans: int, today: date, rng: random.Random
) -> LoanPlan:
    """Plan up to ``loans`` loans: borrower after borrower (each with a generator of its own, seeded
    from ``rng``), a chosen ``DEFAULT_PERCENT`` of them ending in default, until the count is reached.
    Fewer when the borrowers' ratings leave no room for more."""
    planner = _Planner(sorted(bank_codes), today)
    count = len(borrowers)
    defaulters = min(count, max(MIN_DEFAULTERS, count * DEFAULT_PERCENT // 100))
    in_default = dict(zip(rng.sample(range(count), defaulters), _cycle(DEFAULT_TIERS, defaulters)))
    plans: list[_Plan] = []
    for index, record in enumerate(borrowers):
        if len(plans) >= loans:
            break
        borrower = _Borrower(
            record.enterprise_id,
            tuple(_Rating(r.grade, r.rated_on, r.valid_until, r.credit_line) for r in record.ratings),
        )
        own = random.Random(rng.getrandbits(64))  # nosec B311  # reproducible demo data
        tier: Classification | None = in_default.get(index)
        chosen = None
        while tier is not None and chosen is None:
            chosen = planner.default_candidate(tier, [borrower], own)
            tier = MILDER.get(tier) if chosen is None else tier
        if chosen is not None and tier is not None:
            _borrower, final_start, term = chosen
            earlier = planner.chain(borrower, planner.entry(borrower, own), own, until=final_start)
            final = planner.overdue_loan(borrower, final_start, term, earlier, tier, own)
            own_plans = earlier + ([final] if final is not None else [])
        else:
            own_plans = planner.chain(borrower, planner.entry(borrower, own), own)
        plans += own_plans[: loans - len(plans)]
    for plan in plans:
        plan.repayments = _with_interest(plan, today)
    first = min((plan.start for plan in plans), default=None)
    return LoanPlan(plans, first, peak_exposure(plans))


def _cycle(values: Sequence[Classification], count: int) -> list[Classification]:
    return [values[index % len(values)] for index in range(count)]


# ------------------------------------------------------------------------------------------ recording

REPAYMENT, CONTRACT, TRANCHE = 0, 1, 2  # on a day: repayments, then contracts, then tranches


def record_loans(
    plans: list[_Plan],
    bank_ids: Mapping[str, int],
    *,
    created_by: str,
    commit: Callable[[], None],
    commit_every: int,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Record the plans through the services in date order (see the module's docstring); returns
    the counts. ``progress`` is told how many events each day recorded."""
    days: dict[date, list[tuple[int, int, int]]] = defaultdict(list)
    for index, plan in enumerate(plans):
        days[plan.start].append((CONTRACT, index, 0))
        for number, (day, _amount) in enumerate(plan.tranches):
            days[day].append((TRANCHE, index, number))
        for number, (day, _principal, _interest) in enumerate(plan.repayments):
            days[day].append((REPAYMENT, index, number))

    contract_numbers: dict[tuple[str, int], int] = {}
    references: dict[str, int] = {}
    contract_of: dict[int, str] = {}
    counts = {"loans": 0, "disbursements": 0, "repayments": 0}
    since_commit = 0

    def reference(code: str, kind: str, day: date) -> str:
        """e.g. ICBCFK2025031400012: bank, FK (放款) or HK (还款), date, the bank's running number."""
        references[code] = references.get(code, 0) + 1
        return f"{code}{kind}{day:%Y%m%d}{references[code]:05d}"

    for day in sorted(days):
        events = sorted(days.pop(day))
        repayments: dict[str, list[RepaymentRow]] = defaultdict(list)
        tranches: dict[str, list[tuple[int, Decimal]]] = defaultdict(list)
        contracts: list[int] = []
        for order, index, number in events:
            plan = plans[index]
            if order == REPAYMENT:
                _day, principal, interest = plan.repayments[number]
                rows = repayments[plan.bank_code]
                rows.append(RepaymentRow(len(rows) + 1, contract_of[index], principal, interest, day,
                                         reference(plan.bank_code, "HK", day)))
            elif order == CONTRACT:
                contracts.append(index)
            else:
                _day, amount = plan.tranches[number]
                tranches[plan.bank_code].append((index, amount))
        for code, rows in sorted(repayments.items()):
            counts["repayments"] += record_repayments(bank_ids[code], rows, created_by).created
        for index in contracts:
            plan = plans[index]
            code = plan.bank_code
            number = contract_numbers[(code, day.year)] = contract_numbers.get((code, day.year), 0) + 1
            contract_no = CONTRACT_STYLES.get(code, DEFAULT_CONTRACT_STYLE).format(code=code, year=day.year, n=number)
            create_loan(
                bank_id=bank_ids[code],
                enterprise_id=plan.enterprise_id,
                contract_no=contract_no,
                principal=plan.principal,
                annual_rate=plan.rate,
                start_date=plan.start,
                maturity_date=plan.maturity,
                purpose=plan.purpose,
                created_by=created_by,
            )
            contract_of[index] = contract_no
            counts["loans"] += 1
        for code, pending in sorted(tranches.items()):
            rows_out = [
                DisbursementRow(row, contract_of[index], amount, day, reference(code, "FK", day))
                for row, (index, amount) in enumerate(pending, start=1)
            ]
            counts["disbursements"] += record_disbursements(bank_ids[code], rows_out, created_by).created
        since_commit += len(events)
        if since_commit >= commit_every:
            commit()
            since_commit = 0
        if progress is not None:
            progress(len(events))
    return counts
