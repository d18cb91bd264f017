"""Programme progress toward the cumulative target (domain.md §1 and §3): the read side behind
``GET /api/v1/program/progress``, its timeline and the dashboard page.

Rules:

- The target, its deadline, the opening figure (reached before the programme's records begin)
  and the registry targets come from the policy version in force on ``as_of``.
- Cumulative disbursed = the opening figure (unless the policy says it does not count toward the
  target) + every tranche disbursed on or before ``as_of``. Repayments do not reduce it: the
  target counts credit extended, not credit outstanding.
- Breakdowns by year, bank, town, industry and grade. The grade of a tranche is the grade of the
  enterprise's latest rating dated on or before the disbursement day, which is the rating valid
  that day when there is one (a rating is valid from its own date) and the last expired one
  otherwise; a tranche with no earlier rating is "未评级".
- Projection: the pace is what was disbursed in the 12 months up to ``as_of`` (the window
  ``[as_of − 1 year + 1 day, as_of]``, 365 or 366 days) per day; the target is reached after ``ceil(remaining ÷ pace)``
  more days. A date after the policy's deadline, or no pace at all, is reported as "will not be
  reached by the deadline" with no projected date.

Performance: every sum is a GROUP BY in the database, in a fixed number of statements whatever
the number of loans (the page must stay fast at 100,000 loans): ``program_progress`` runs three
(the policy, one UNION ALL of every breakdown over one pass of the tranches, the registry
counts), ``program_timeline`` two. The pass reads only the covering index of the tranches (their
borrower and grade are stored on them, loans.tranche_grades), with no join per tranche. Python
only loops over grouped rows (a few dozen), never over tranches.

A bank liaison sees its own bank by name and every other bank as one line
(``visible_progress``): a liaison never sees another bank's figures, the programme totals stay whole.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Sequence

import sqlalchemy as sa
from flask_login import current_user

from core.db import db
from core.i18n import _, _l
from core.money import FEN, to_fen
from core.policy.models import GRADES, Policy
from core.policy.services import policy_in_force
from loans.models import Disbursement
from loans.queries import month_of
from parties.models import Bank, Enterprise

ZERO = Decimal("0.00")
HUNDREDTH = Decimal("0.01")

OPENING_KEY = "opening"
OPENING_LABEL = _l("2020年及以前")  # domain.md §1: the figure reached by the end of 2020
UNRATED_KEY = "unrated"
UNRATED_LABEL = _l("未评级")
OTHER_BANKS_KEY = "others"
OTHER_BANKS_LABEL = _l("其他合作银行")
INDICATOR_LABELS = {"science_tech": _l("科技型企业"), "high_tech": _l("高新技术企业")}


# ------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Breakdown:
    """One line of a breakdown: ``key`` is stable (a year, a bank code, a grade letter), ``label``
    is what people read. ``share`` is the line's percentage of its list's total (2 places)."""

    key: str
    label: str
    amount: Decimal
    share: Decimal
    disbursements: int | None  # tranches (None for the opening figure: it predates the records)
    enterprises: int | None  # distinct enterprises among them (None where it cannot be exact)


@dataclass(frozen=True)
class Indicator:
    """A registry count (enterprises flagged today, registered on or before ``as_of``) against
    the policy's 2020 baseline and its target; ``percent`` = count ÷ target."""

    key: str
    label: str
    count: int
    baseline: int
    target: int
    percent: Decimal


@dataclass(frozen=True)
class Progress:
    as_of: date
    policy_id: int
    target: Decimal
    target_date: date
    opening: Decimal  # the policy's opening figure, whether or not it counts
    opening_counted: bool
    opening_enterprises: int
    disbursed: Decimal  # tranches recorded in the system up to as_of (without the opening)
    disbursements: int  # how many tranches
    enterprises: int  # distinct enterprises that received them
    cumulative_disbursed: Decimal  # what counts toward the target
    remaining: Decimal  # never negative
    percent: Decimal  # cumulative ÷ target × 100, 2 places, half-up
    target_reached: bool
    trailing_12m_from: date  # first day of the pace window [trailing_12m_from, as_of]
    trailing_12m_disbursed: Decimal
    daily_pace: Decimal  # trailing ÷ days of the window, rounded to the fen (display only)
    pace_completion_date: date | None  # where the pace leads, even past the deadline
    projected_completion_date: date | None  # the same, only when on or before the deadline
    will_not_reach_by_deadline: bool
    by_year: list[Breakdown]
    by_bank: list[Breakdown]
    by_town: list[Breakdown]
    by_industry: list[Breakdown]
    by_grade: list[Breakdown]
    indicators: dict[str, Indicator]


@dataclass(frozen=True)
class TimelinePoint:
    month: str  # YYYY-MM
    disbursed: Decimal  # tranches of that month
    cumulative: Decimal  # what counts toward the target at the month's end (or at as_of)


@dataclass(frozen=True)
class Timeline:
    as_of: date
    target: Decimal
    target_date: date
    opening: Decimal
    opening_counted: bool
    items: list[TimelinePoint]


# ------------------------------------------------------------------------------- arithmetic


def percent_of(part: Decimal, whole: Decimal) -> Decimal:
    """``part ÷ whole × 100`` with 2 places, half-up; 0.00 when ``whole`` is zero."""
    if not whole:
        return ZERO
    return (Decimal(part) * 100 / Decimal(whole)).quantize(HUNDREDTH, rounding=ROUND_HALF_UP)


def one_year_before(day: date) -> date:
    """The same calendar day a year earlier (29 February falls back to the 28th)."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


def project_completion(
    *, as_of: date, remaining: Decimal, trailing: Decimal, window_days: int
) -> date | None:
    """The day the pace ``trailing / window_days`` per day covers ``remaining``, or None without pace.

    Exact integer arithmetic in fen: days = ceil(remaining × window_days ÷ trailing), so the
    projected day is the first one on which the target is met, not one before it.
    """
    if remaining <= 0:
        return as_of
    trailing_fen = to_fen(trailing)
    if trailing_fen <= 0 or window_days <= 0:
        return None
    days = -(-to_fen(remaining) * window_days // trailing_fen)
    if days > (date.max - as_of).days:
        return None  # a pace so slow the calendar ends first
    return as_of + timedelta(days=days)


# ------------------------------------------------------------------------------- queries


def _tranche_groups(as_of: date, window_opens: date) -> Any:
    """The tranches up to ``as_of`` summed per bank, borrower, grade and year - one pass over the
    covering index ``ix_disbursements_progress`` (the tranche's borrower and grade are stored on it,
    see loans.tranche_grades), a few thousand groups whatever the number of tranches - then joined
    to the enterprises (town, industry) and banks (code, name) the breakdowns group by.

    Grouping by borrower keeps the distinct-enterprise counts exact in every breakdown.
    """
    year = sa.cast(sa.extract("year", Disbursement.disbursed_on), sa.Integer)
    groups = (
        sa.select(
            Disbursement.bank_id.label("bank_id"),
            Disbursement.enterprise_id.label("enterprise_id"),
            Disbursement.grade.label("grade"),
            year.label("year"),
            sa.func.sum(Disbursement.amount).label("amount"),
            sa.func.count().label("tranches"),
            # No ELSE: SUM skips the NULLs, and no literal of another type enters a sum of fen.
            sa.func.sum(sa.case((Disbursement.disbursed_on >= window_opens, Disbursement.amount))).label("trailing"),
        )
        .where(Disbursement.disbursed_on <= as_of)
        .group_by(Disbursement.bank_id, Disbursement.enterprise_id, Disbursement.grade, year)
        .subquery("tranche_groups")
    )
    return (
        sa.select(
            groups,
            Bank.code.label("bank_code"),
            Bank.name.label("bank_name"),
            Enterprise.town.label("town"),
            Enterprise.industry.label("industry"),
        )
        .join(Enterprise, Enterprise.id == groups.c.enterprise_id)
        .join(Bank, Bank.id == groups.c.bank_id)
        .cte("tranche_facts")
    )


def _aggregates(as_of: date, window_opens: date) -> dict[str, list[sa.Row]]:
    """Every breakdown and the totals in ONE statement: the tranche groups (a CTE, materialised once
    because every branch reads it) rolled up per dimension, the branches joined by UNION ALL.

    Rows: (dimension, key, label, amount, tranches, enterprises, trailing); dimension is "year",
    "bank", "town", "industry", "grade" or "total" (one row, even without tranches).
    """
    facts = _tranche_groups(as_of, window_opens)
    text = sa.String()
    no_text = sa.cast(sa.null(), text)
    year = sa.cast(facts.c.year, text)

    def branch(dimension: str, key: Any, label: Any, *group_by: Any) -> sa.Select:
        return sa.select(
            sa.cast(sa.literal(dimension), text).label("dimension"),
            key.label("key"),
            label.label("label"),
            sa.func.sum(facts.c.amount).label("amount"),
            sa.func.coalesce(sa.func.sum(facts.c.tranches), 0).label("tranches"),
            sa.func.count(sa.distinct(facts.c.enterprise_id)).label("enterprises"),
            sa.func.sum(facts.c.trailing).label("trailing"),
        ).group_by(*group_by)

    statement = sa.union_all(
        branch("total", no_text, no_text),
        branch("year", year, no_text, year),
        branch("bank", facts.c.bank_code, facts.c.bank_name, facts.c.bank_code, facts.c.bank_name),
        branch("town", facts.c.town, no_text, facts.c.town),
        branch("industry", facts.c.industry, no_text, facts.c.industry),
        branch("grade", facts.c.grade, no_text, facts.c.grade),
    )
    rows: dict[str, list[sa.Row]] = {"total": [], "year": [], "bank": [], "town": [], "industry": [], "grade": []}
    for row in db.session.execute(statement):
        rows[row.dimension].append(row)
    return rows


def _registry_counts(as_of: date) -> tuple[int, int]:
    """(science-tech, high-tech) enterprises registered on or before ``as_of``, in one statement."""
    def flagged(column: Any) -> Any:
        return sa.func.coalesce(sa.func.sum(sa.case((column.is_(True), 1), else_=0)), 0)

    science_tech, high_tech = db.session.execute(
        sa.select(flagged(Enterprise.is_science_tech), flagged(Enterprise.is_high_tech)).where(
            Enterprise.registered_on <= as_of
        )
    ).one()
    return int(science_tech), int(high_tech)


# ------------------------------------------------------------------------------- assembly


Line = tuple[str, str, Decimal, int | None, int | None]  # key, label, amount, tranches, enterprises


def _lines(rows: list[Line]) -> list[Breakdown]:
    total = sum((row[2] for row in rows), ZERO)
    return [
        Breakdown(key=key, label=label, amount=amount, share=percent_of(amount, total), disbursements=count, enterprises=ents)
        for key, label, amount, count, ents in rows
    ]


def _by_amount(rows: list[Line]) -> list[Breakdown]:
    """Largest first; ties by label, so the order is stable."""
    return _lines(sorted(rows, key=lambda row: (-row[2], row[1])))


def _simple_lines(rows: Sequence[sa.Row]) -> list[Breakdown]:
    """Town or industry lines: the key is the label; largest first."""
    return _by_amount([(row.key, row.key, row.amount, int(row.tranches), int(row.enterprises)) for row in rows])


def _year_lines(as_of: date, policy: Policy, rows: Sequence[sa.Row]) -> list[Breakdown]:
    """The opening line first (when it counts), then every calendar year up to ``as_of``'s,
    gaps filled with zero so a bar chart shows a quiet year as a quiet year."""
    found = {int(row.key): (row.amount, row.tranches, row.enterprises) for row in rows}
    lines: list[Line] = []
    if policy.count_opening_toward_target:
        lines.append((OPENING_KEY, str(OPENING_LABEL), policy.program_opening, None, policy.program_opening_enterprises))
    if found:
        for year in range(min(found), max(max(found), as_of.year) + 1):
            amount, count, ents = found.get(year, (ZERO, 0, 0))
            lines.append((str(year), _("%(year)s年", year=year), amount, int(count), int(ents)))
    return _lines(lines)


def _grade_lines(rows: Sequence[sa.Row]) -> list[Breakdown]:
    """A to E in order, then the unrated tranches."""
    found = {row.key: (row.amount, row.tranches, row.enterprises) for row in rows}
    lines: list[Line] = []
    for grade in (*GRADES, None):
        if grade in found:
            amount, count, ents = found[grade]
            key, label = (grade, _("%(grade)s级", grade=grade)) if grade else (UNRATED_KEY, str(UNRATED_LABEL))
            lines.append((key, label, amount, int(count), int(ents)))
    return _lines(lines)


def _indicators(policy: Policy, science_tech: int, high_tech: int) -> dict[str, Indicator]:
    def indicator(key: str, count: int, baseline: int, target: int) -> Indicator:
        return Indicator(
            key=key,
            label=str(INDICATOR_LABELS[key]),
            count=count,
            baseline=baseline,
            target=target,
            percent=percent_of(Decimal(count), Decimal(target)),
        )

    return {
        "science_tech": indicator("science_tech", science_tech, policy.science_tech_baseline, policy.science_tech_target),
        "high_tech": indicator("high_tech", high_tech, policy.high_tech_baseline, policy.high_tech_target),
    }


def program_progress(as_of: date) -> Progress:
    """The programme's progress toward its target as of the end of ``as_of`` (see the module rules).

    Three statements whatever the number of loans: the policy, every sum and breakdown (one
    UNION ALL over one pass of the tranches), and the registry counts.
    """
    policy = policy_in_force(as_of)
    # The 12 months up to as_of: from the day after the same date a year earlier, as_of included.
    window_opens = one_year_before(as_of) + timedelta(days=1)
    rows = _aggregates(as_of, window_opens)
    (total,) = rows["total"]
    disbursed, trailing = total.amount or ZERO, total.trailing or ZERO

    opening = policy.program_opening
    cumulative = disbursed + (opening if policy.count_opening_toward_target else ZERO)
    target = policy.program_target
    remaining = max(target - cumulative, ZERO)
    window_days = (as_of - window_opens).days + 1
    reached = cumulative >= target
    pace_date = project_completion(as_of=as_of, remaining=remaining, trailing=trailing, window_days=window_days)
    on_time = pace_date is not None and (reached or pace_date <= policy.program_target_date)
    science_tech, high_tech = _registry_counts(as_of)

    return Progress(
        as_of=as_of,
        policy_id=policy.id,
        target=target,
        target_date=policy.program_target_date,
        opening=opening,
        opening_counted=policy.count_opening_toward_target,
        opening_enterprises=policy.program_opening_enterprises,
        disbursed=disbursed,
        disbursements=int(total.tranches),
        enterprises=int(total.enterprises),
        cumulative_disbursed=cumulative,
        remaining=remaining,
        percent=percent_of(cumulative, target),
        target_reached=reached,
        trailing_12m_from=window_opens,
        trailing_12m_disbursed=trailing,
        daily_pace=(trailing / window_days).quantize(FEN, rounding=ROUND_HALF_UP),
        pace_completion_date=pace_date,
        projected_completion_date=pace_date if on_time else None,
        will_not_reach_by_deadline=not on_time,
        by_year=_year_lines(as_of, policy, rows["year"]),
        by_bank=_by_amount(
            [(row.key, row.label, row.amount, int(row.tranches), int(row.enterprises)) for row in rows["bank"]]
        ),
        by_town=_simple_lines(rows["town"]),
        by_industry=_simple_lines(rows["industry"]),
        by_grade=_grade_lines(rows["grade"]),
        indicators=_indicators(policy, science_tech, high_tech),
    )


def for_bank(progress: Progress, bank_code: str | None) -> Progress:
    """The progress as a bank liaison may see it: its own bank by name, every other bank summed
    into one line (a liaison never sees another bank's figures; the programme totals stay whole)."""
    own = [line for line in progress.by_bank if line.key == bank_code]
    others = [line for line in progress.by_bank if line.key != bank_code]
    rows: list[Line] = [(line.key, line.label, line.amount, line.disbursements, line.enterprises) for line in own]
    if others:
        rows.append(
            (
                OTHER_BANKS_KEY,
                str(OTHER_BANKS_LABEL),
                sum((line.amount for line in others), ZERO),
                sum(line.disbursements or 0 for line in others),
                # Distinct enterprises cannot be summed across banks (one enterprise may borrow
                # from two), so the line leaves the figure out rather than show a wrong one.
                None,
            )
        )
    return replace(progress, by_bank=_lines(rows))


def visible_progress(as_of: date) -> Progress:
    """``program_progress`` as the caller may see it (inside a request): a liaison's view is
    ``for_bank`` of its own bank. The API and the dashboard both answer with this."""
    progress = program_progress(as_of)
    if current_user.is_authenticated and current_user.is_liaison:
        progress = for_bank(progress, current_user.bank.code if current_user.bank else None)
    return progress


def program_timeline(as_of: date) -> Timeline:
    """Cumulative progress at the end of each month, from the first month with a tranche to
    ``as_of``'s month (two statements: the policy and one GROUP BY month)."""
    policy = policy_in_force(as_of)
    month = month_of(Disbursement.disbursed_on)
    # A range of the covering index ix_disbursements_progress: the table itself is not read.
    rows = db.session.execute(
        sa.select(month, sa.func.sum(Disbursement.amount)).where(Disbursement.disbursed_on <= as_of).group_by(month)
    ).all()
    monthly = {(int(key[:4]), int(key[5:7])): amount for key, amount in rows}
    base = policy.program_opening if policy.count_opening_toward_target else ZERO
    year, month = min(monthly) if monthly else (as_of.year, as_of.month)
    items: list[TimelinePoint] = []
    cumulative = base
    while (year, month) <= (as_of.year, as_of.month):
        amount = monthly.get((year, month), ZERO)
        cumulative += amount
        items.append(TimelinePoint(month=f"{year:04d}-{month:02d}", disbursed=amount, cumulative=cumulative))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return Timeline(
        as_of=as_of,
        target=policy.program_target,
        target_date=policy.program_target_date,
        opening=policy.program_opening,
        opening_counted=policy.count_opening_toward_target,
        items=items,
    )


__all__ = [
    "Breakdown",
    "Indicator",
    "Progress",
    "Timeline",
    "TimelinePoint",
    "for_bank",
    "one_year_before",
    "percent_of",
    "program_progress",
    "program_timeline",
    "project_completion",
    "visible_progress",
]
