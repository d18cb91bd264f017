"""Unit tests for loans.dpd: days past due and the five-tier classification (docs/domain.md §3)."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loans.dpd import (
    DEFAULT_THRESHOLDS,
    Classification,
    ClassificationThresholds,
    bullet_schedule,
    classify,
    days_past_due,
    is_non_performing,
    overdue_principal,
)

D = Decimal
MATURITY = date(2025, 6, 30)
BULLET = bullet_schedule(D("1000000.00"), MATURITY)
# Three monthly instalments of a 900,000.00 loan.
MONTHLY = [
    (date(2025, 4, 30), D("300000.00")),
    (date(2025, 5, 31), D("300000.00")),
    (date(2025, 6, 30), D("300000.00")),
]


def on(month: int, day: int) -> date:
    return date(2025, month, day)


# ---------------------------------------------------------------------------- classification


@pytest.mark.parametrize(
    ("dpd", "expected"),
    [
        (0, Classification.NORMAL),
        (1, Classification.SPECIAL_MENTION),
        (90, Classification.SPECIAL_MENTION),
        (91, Classification.SUBSTANDARD),
        (270, Classification.SUBSTANDARD),
        (271, Classification.DOUBTFUL),
        (360, Classification.DOUBTFUL),
        (361, Classification.LOSS),
        (5000, Classification.LOSS),
    ],
)
def test_default_tier_boundaries(dpd, expected):
    assert classify(dpd) is expected


def test_labels_are_chinese_and_values_are_stable_codes():
    assert [(c.value, c.label) for c in Classification] == [
        ("normal", "正常"),
        ("special_mention", "关注"),
        ("substandard", "次级"),
        ("doubtful", "可疑"),
        ("loss", "损失"),
    ]
    assert Classification("doubtful") is Classification.DOUBTFUL


@pytest.mark.parametrize(
    ("classification", "npl"),
    [
        (Classification.NORMAL, False),
        (Classification.SPECIAL_MENTION, False),
        (Classification.SUBSTANDARD, True),
        (Classification.DOUBTFUL, True),
        (Classification.LOSS, True),
    ],
)
def test_non_performing_is_substandard_or_worse(classification, npl):
    assert is_non_performing(classification) is npl


def test_thresholds_from_a_policy_move_the_boundaries():
    stricter = ClassificationThresholds(
        special_mention_from=1, substandard_from=61, doubtful_from=181, loss_from=271
    )
    assert classify(60, stricter) is Classification.SPECIAL_MENTION
    assert classify(61, stricter) is Classification.SUBSTANDARD
    assert classify(271, stricter) is Classification.LOSS
    assert DEFAULT_THRESHOLDS == ClassificationThresholds(1, 91, 271, 361)


@pytest.mark.parametrize("bounds", [(0, 91, 271, 361), (1, 91, 91, 361), (1, 300, 271, 361)])
def test_thresholds_must_increase_from_one(bounds):
    with pytest.raises(ValueError):
        ClassificationThresholds(*bounds)


@pytest.mark.parametrize(
    ("dpd", "error"), [(-1, ValueError), (1.0, TypeError), (True, TypeError), ("5", TypeError)]
)
def test_classify_refuses_what_is_not_a_day_count(dpd, error):
    with pytest.raises(error):
        classify(dpd)


# ------------------------------------------------------------------------------ days past due


@pytest.mark.parametrize(
    ("schedule", "repayments", "as_of", "expected"),
    [
        pytest.param(BULLET, [], on(6, 1), 0, id="bullet before maturity"),
        pytest.param(BULLET, [], MATURITY, 0, id="bullet at maturity, unpaid"),
        pytest.param(BULLET, [], on(7, 1), 1, id="bullet one day after maturity"),
        pytest.param(BULLET, [], on(9, 28), 90, id="bullet 90 days late"),
        pytest.param(BULLET, [], on(9, 29), 91, id="bullet 91 days late"),
        pytest.param(BULLET, [(MATURITY, D("1000000.00"))], MATURITY, 0, id="repaid exactly on the due date"),
        pytest.param(BULLET, [(MATURITY, D("1000000.00"))], on(12, 31), 0, id="repaid, much later"),
        pytest.param(BULLET, [(on(3, 1), D("1000000.00"))], on(8, 1), 0, id="repaid early"),
        pytest.param(BULLET, [(MATURITY, D("999999.99"))], on(7, 10), 10, id="one fen short"),
        pytest.param(BULLET, [(on(7, 20), D("1000000.00"))], on(7, 10), 10, id="repaid after as_of"),
        pytest.param(BULLET, [(on(7, 20), D("1000000.00"))], on(7, 20), 0, id="late repayment clears"),
        pytest.param(BULLET, [(MATURITY, D("400000.00"))], on(7, 30), 30, id="bullet partially repaid"),
        pytest.param(MONTHLY, [], on(4, 30), 0, id="instalments, first due today"),
        pytest.param(MONTHLY, [], on(6, 1), 32, id="instalments, two missed"),
        pytest.param(MONTHLY, [(on(4, 30), D("300000.00"))], on(6, 1), 1, id="first paid, second late"),
        pytest.param(MONTHLY, [(on(6, 1), D("300000.00"))], on(6, 1), 1, id="late payment to oldest"),
        pytest.param(MONTHLY, [(on(6, 1), D("599999.99"))], on(6, 2), 2, id="second short by a fen"),
        pytest.param(MONTHLY, [(on(6, 1), D("600000.00"))], on(6, 29), 0, id="arrears cleared"),
        pytest.param(MONTHLY, [(on(4, 1), D("900000.00"))], on(8, 1), 0, id="prepaid in full"),
        pytest.param(list(reversed(MONTHLY)), [], on(5, 10), 10, id="schedule in any order"),
        pytest.param([], [], on(5, 10), 0, id="no schedule"),
        pytest.param([(MATURITY, D("0.00"))], [], on(8, 1), 0, id="zero instalment"),
    ],
)
def test_days_past_due(schedule, repayments, as_of, expected):
    assert days_past_due(schedule, repayments, as_of) == expected
    assert (overdue_principal(schedule, repayments, as_of) > 0) is (expected > 0)


def test_repayments_may_be_given_as_a_cumulative_function():
    def repaid_by(day: date) -> Decimal:
        return D("300000.00") if day >= date(2025, 5, 5) else D("0.00")

    assert days_past_due(MONTHLY, repaid_by, date(2025, 5, 4)) == 4
    assert days_past_due(MONTHLY, repaid_by, date(2025, 5, 5)) == 0
    assert days_past_due(MONTHLY, repaid_by, date(2025, 6, 3)) == 3


@pytest.mark.parametrize(
    ("repayments", "as_of", "expected"),
    [
        ([], date(2025, 6, 1), D("600000.00")),
        ([], MATURITY, D("600000.00")),  # the instalment due today is not overdue
        ([], date(2025, 7, 1), D("900000.00")),
        ([(date(2025, 5, 1), D("350000.00"))], date(2025, 6, 1), D("250000.00")),
        ([(date(2025, 5, 1), D("900000.00"))], date(2025, 7, 1), D("0.00")),
    ],
)
def test_overdue_principal(repayments, as_of, expected):
    assert overdue_principal(MONTHLY, repayments, as_of) == expected


@pytest.mark.parametrize(
    ("schedule", "repayments", "error"),
    [
        ([(MATURITY, 1000.0)], [], TypeError),
        ([(MATURITY, D("-1.00"))], [], ValueError),
        (BULLET, [(MATURITY, 10.0)], TypeError),
        (BULLET, [(MATURITY, D("-5.00"))], ValueError),
        (BULLET, lambda day: 5.0, TypeError),
    ],
)
def test_amounts_must_be_non_negative_decimals(schedule, repayments, error):
    with pytest.raises(error):
        days_past_due(schedule, repayments, date(2025, 8, 1))


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        (MATURITY, Classification.NORMAL),
        (MATURITY + timedelta(days=1), Classification.SPECIAL_MENTION),
        (MATURITY + timedelta(days=90), Classification.SPECIAL_MENTION),
        (MATURITY + timedelta(days=91), Classification.SUBSTANDARD),
        (MATURITY + timedelta(days=270), Classification.SUBSTANDARD),
        (MATURITY + timedelta(days=271), Classification.DOUBTFUL),
        (MATURITY + timedelta(days=360), Classification.DOUBTFUL),
        (MATURITY + timedelta(days=361), Classification.LOSS),
    ],
)
def test_an_unpaid_bullet_loan_moves_through_the_tiers(as_of, expected):
    assert classify(days_past_due(BULLET, [], as_of)) is expected


# ---------------------------------------------------------------------------------- property

START = date(2025, 1, 1)
amounts = st.integers(0, 10**8).map(lambda fen: D(fen).scaleb(-2))
days = st.integers(0, 800)
schedules = st.lists(st.tuples(days.map(lambda n: START + timedelta(days=n)), amounts), max_size=6)
repayment_lists = st.lists(st.tuples(days.map(lambda n: START + timedelta(days=n)), amounts), max_size=6)


@given(schedules, repayment_lists, days, st.integers(0, 400))
def test_dpd_is_never_negative_and_never_decreases_while_nothing_is_repaid(schedule, repayments, start, step):
    """Between two days with no repayment in between, DPD grows (by exactly the days elapsed, or stays 0)."""
    earlier = START + timedelta(days=start)
    later = earlier + timedelta(days=step)
    quiet = [(paid_on, amount) for paid_on, amount in repayments if not earlier < paid_on <= later]

    first = days_past_due(schedule, quiet, earlier)
    second = days_past_due(schedule, quiet, later)
    assert first >= 0
    assert second >= first
    if first > 0:
        assert second == first + step
    assert (overdue_principal(schedule, quiet, later) > 0) is (second > 0)
