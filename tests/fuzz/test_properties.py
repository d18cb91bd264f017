"""Properties of days past due, classification and seed-fund schedules that the example tests leave open.

Already covered elsewhere (not repeated here): money round trips, Chinese capitals and amount parsing
(``tests/core/test_money.py``), claim and recovery shares adding up (``tests/risk/test_rules.py``),
schedules adding up in date order (``tests/funds/test_schedule_and_states.py``), DPD never decreasing
while nothing is repaid (``tests/loans/test_dpd.py``).

Here: DPD is zero when nothing is due or everything due is repaid, a repayment never raises it, a
past day's DPD depends only on what was repaid by then, it counts from a real due date; the
classification only worsens as DPD grows, under any valid thresholds; monthly due dates are exact
calendar months; and a schedule paid on time is never past due, one never paid is late from its
first due date.
"""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from core.dpd import ClassificationThresholds, classify, days_past_due, overdue_principal
from funds.schedule import add_months, build_schedule

D = Decimal
START = date(2025, 1, 1)
amounts = st.integers(0, 10**8).map(lambda fen: D(fen).scaleb(-2))
offsets = st.integers(0, 800)
days = offsets.map(lambda n: START + timedelta(days=n))
schedules = st.lists(st.tuples(days, amounts), max_size=6)
repayment_lists = st.lists(st.tuples(days, amounts), max_size=6)
PROFILE = settings(max_examples=200, deadline=None, derandomize=True)


@PROFILE
@given(schedules, repayment_lists, days)
def test_nothing_due_yet_is_zero_days_past_due(schedule, repayments, as_of):
    not_yet_due = [(max(due_on, as_of), principal) for due_on, principal in schedule]
    assert days_past_due(not_yet_due, repayments, as_of) == 0
    assert overdue_principal(not_yet_due, repayments, as_of) == 0


@PROFILE
@given(schedules, days)
def test_everything_due_repaid_by_the_day_is_zero_days_past_due(schedule, as_of):
    due_by_then = sum((principal for due_on, principal in schedule if due_on < as_of), D("0.00"))
    repaid = [(as_of, due_by_then)]
    assert days_past_due(schedule, repaid, as_of) == 0
    assert overdue_principal(schedule, repaid, as_of) == 0


@PROFILE
@given(schedules, repayment_lists, st.tuples(days, amounts), days)
def test_a_repayment_never_raises_days_past_due(schedule, repayments, extra, as_of):
    before = days_past_due(schedule, repayments, as_of)
    after = days_past_due(schedule, [*repayments, extra], as_of)
    assert 0 <= after <= before
    assert overdue_principal(schedule, [*repayments, extra], as_of) <= overdue_principal(schedule, repayments, as_of)


@PROFILE
@given(schedules, repayment_lists, days)
def test_a_past_days_dpd_depends_only_on_what_was_repaid_by_then(schedule, repayments, as_of):
    known_then = [(paid_on, principal) for paid_on, principal in repayments if paid_on <= as_of]
    assert days_past_due(schedule, repayments, as_of) == days_past_due(schedule, known_then, as_of)


@PROFILE
@given(schedules, repayment_lists, days)
def test_dpd_counts_from_a_due_date_that_has_passed(schedule, repayments, as_of):
    dpd = days_past_due(schedule, repayments, as_of)
    if dpd:
        assert dpd in {(as_of - due_on).days for due_on, principal in schedule if principal > 0 and due_on < as_of}
        assert dpd <= (as_of - min(due_on for due_on, _principal in schedule)).days


thresholds = st.lists(st.integers(1, 2000), min_size=4, max_size=4, unique=True).map(sorted).map(
    lambda bounds: ClassificationThresholds(*bounds)
)


@PROFILE
@given(thresholds, st.integers(0, 3000), st.integers(0, 3000))
def test_the_classification_only_worsens_as_dpd_grows(bounds, first, second):
    low, high = sorted((first, second))
    assert classify(low, bounds).severity <= classify(high, bounds).severity
    assert (classify(low, bounds).severity == 0) is (low < bounds.special_mention_from)


@PROFILE
@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31)), st.integers(0, 120), st.integers(0, 120))
def test_add_months_moves_whole_calendar_months_and_never_goes_back(day, months, more):
    moved = add_months(day, months)
    assert (moved.year * 12 + moved.month) - (day.year * 12 + day.month) == months
    assert moved.day == day.day or (moved.day < day.day and (moved + timedelta(days=1)).day == 1)
    assert add_months(day, months) <= add_months(day, months + more)


@PROFILE
@given(
    fen=st.integers(min_value=1, max_value=30_000_000),
    term=st.integers(min_value=1, max_value=24),
    kind=st.sampled_from(["bullet", "monthly"]),
    start=st.dates(min_value=date(2021, 1, 1), max_value=date(2030, 12, 31)),
    late=st.integers(1, 400),
)
def test_a_schedule_paid_on_time_is_never_late_and_one_never_paid_is_late_from_its_first_due_date(
    fen, term, kind, start, late
):
    schedule = build_schedule(D(fen).scaleb(-2), term, kind, start)
    if kind == "monthly":
        assert [due_on for due_on, _part in schedule] == [add_months(start, n) for n in range(1, term + 1)]
    on_time = list(schedule)  # each instalment repaid on its due date
    first_due = schedule[0][0]
    assume(any(principal > 0 for _day, principal in schedule))
    for due_on, _principal in schedule:
        for day in (due_on, due_on + timedelta(days=1)):
            assert days_past_due(schedule, on_time, day) == 0
    as_of = first_due + timedelta(days=late)
    first_owed = next(due_on for due_on, principal in schedule if principal > 0)
    assert days_past_due(schedule, [], as_of) == max(0, (as_of - first_owed).days)
