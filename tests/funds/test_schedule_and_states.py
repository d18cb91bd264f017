"""Pure rules: the repayment schedule (adds up exactly), the state machine table, working days."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import BusinessRuleError
from core.db import db
from funds import calendar
from funds.models import Holiday, Workday
from funds.schedule import add_months, build_schedule
from funds.states import COMMITTING, TERMINAL, TRANSITIONS, Action, Status, target_of

D = Decimal


# ---------------------------------------------------------------------------------------- schedule


def test_100000_over_3_months():
    assert build_schedule(D("100000.00"), 3, "monthly", date(2025, 6, 24)) == [
        (date(2025, 7, 24), D("33333.33")),
        (date(2025, 8, 24), D("33333.33")),
        (date(2025, 9, 24), D("33333.34")),
    ]


def test_bullet_and_month_ends():
    assert build_schedule(D("300000.00"), 24, "bullet", date(2025, 1, 31)) == [(date(2027, 1, 31), D("300000.00"))]
    due = [day for day, _part in build_schedule(D("1200.00"), 4, "monthly", date(2024, 1, 31))]
    assert due == [date(2024, 2, 29), date(2024, 3, 31), date(2024, 4, 30), date(2024, 5, 31)]
    assert add_months(date(2025, 12, 15), 1) == date(2026, 1, 15)


@given(
    fen=st.integers(min_value=1, max_value=30_000_000),
    term=st.integers(min_value=1, max_value=24),
    kind=st.sampled_from(["bullet", "monthly"]),
    start=st.dates(min_value=date(2021, 1, 1), max_value=date(2030, 12, 31)),
)
def test_the_schedule_adds_up_exactly_and_the_last_takes_the_remainder(fen, term, kind, start):
    principal = D(fen).scaleb(-2)
    schedule = build_schedule(principal, term, kind, start)
    parts = [part for _day, part in schedule]
    assert sum(parts, D("0.00")) == principal
    assert all(part >= 0 and part == part.quantize(D("0.01")) for part in parts)
    days = [day for day, _part in schedule]
    assert days == sorted(days) and len(set(days)) == len(days) and days[0] > start
    if kind == "bullet":
        assert len(schedule) == 1 and days[0] == add_months(start, term)
    else:
        assert len(schedule) == term
        assert len(set(parts[:-1])) <= 1  # equal instalments ...
        assert D("0.00") <= parts[-1] - parts[0] < D(term).scaleb(-2)  # ... the last takes fewer than `term` fen more


# ---------------------------------------------------------------------------------- state machine


def test_every_transition_not_in_the_table_is_409():
    for status in Status:
        for action in Action:
            allowed = TRANSITIONS[status].get(action)
            if allowed is None:
                with pytest.raises(BusinessRuleError) as refused:
                    target_of(status, action)
                assert refused.value.code == 409
            else:
                assert target_of(status, action) == allowed


def test_the_shape_of_the_table():
    assert set(TERMINAL) == {Status.CONTRACTED, Status.REJECTED, Status.WITHDRAWN}
    assert TRANSITIONS[Status.EXPERT_REVIEW][Action.APPROVE] == Status.APPROVED
    assert TRANSITIONS[Status.APPROVED][Action.CONTRACT] == Status.CONTRACTED
    assert Action.CONTRACT not in TRANSITIONS[Status.OBJECTION_RAISED]  # an open objection blocks the contract
    # Only a decision leads to approved (or a dismissed objection back to it).
    into_approved = {
        (s, a) for s, actions in TRANSITIONS.items() for a, t in actions.items() if t == Status.APPROVED and s != t
    }
    assert into_approved == {
        (Status.INITIAL_REVIEW_PASSED, Action.APPROVE),
        (Status.EXPERT_REVIEW, Action.APPROVE),
        (Status.OBJECTION_RAISED, Action.DISMISS_OBJECTION),
    }
    assert set(COMMITTING) == {Status.APPROVED, Status.OBJECTION_RAISED, Status.CONTRACTED}


# ------------------------------------------------------------------------------------- working days


@pytest.fixture
def holidays(app_ctx):
    db.session.add_all([Holiday(day=date(2025, 10, d), name="国庆节") for d in range(1, 9)])
    db.session.add_all([Workday(day=date(2025, 9, 28), name="调休"), Workday(day=date(2025, 10, 11), name="调休")])
    db.session.flush()


def test_working_days_around_the_national_day(holidays):
    # Fri 09-26 -> Sun 09-28 (make-up), Mon 29, Tue 30, then 10-01..08 off, Thu 09, Fri 10, Sat 11 (make-up)
    assert calendar.add_working_days(date(2025, 9, 26), 1) == date(2025, 9, 28)
    assert calendar.add_working_days(date(2025, 9, 26), 3) == date(2025, 9, 30)
    assert calendar.add_working_days(date(2025, 9, 26), 5) == date(2025, 10, 10)
    assert calendar.add_working_days(date(2025, 9, 26), 6) == date(2025, 10, 11)
    assert calendar.add_working_days(date(2025, 9, 30), 0) == date(2025, 9, 30)
    assert calendar.working_days_between(date(2025, 9, 26), date(2025, 10, 11)) == 6
    assert not calendar.is_working_day(date(2025, 10, 6)) and calendar.is_working_day(date(2025, 10, 11))


def test_a_long_run_of_holidays_is_crossed(app_ctx):
    start = date(2026, 2, 1)
    db.session.add_all([Holiday(day=start + timedelta(days=n), name="长假") for n in range(1, 40)])
    db.session.flush()
    end = calendar.add_working_days(start, 5)
    assert end > start + timedelta(days=39) and calendar.working_days_between(start, end) == 5
