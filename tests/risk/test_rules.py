"""The pool's arithmetic without a database: claim shares, recoveries, the breaker, the stress model.

Table tests give hand-computed figures; hypothesis shows the parts always add up and are never negative.
"""
from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from risk import rules, stress

D = Decimal
DEFAULT_POOL, DEFAULT_CITY = D("0.80"), D("0.40")


# ---------------------------------------------------------------------------------------- shares


@pytest.mark.parametrize(
    ("principal", "pool", "bank", "city", "county"),
    [
        # The example of the issue.
        ("333333.33", "266666.66", "66666.67", "106666.66", "160000.00"),
        ("1000000.00", "800000.00", "200000.00", "320000.00", "480000.00"),
        # 12345.67 x 0.8 = 9876.536 -> 9876.54; x 0.4 = 3950.616 -> 3950.62.
        ("12345.67", "9876.54", "2469.13", "3950.62", "5925.92"),
        # 100.05 x 0.8 = 80.04; 80.04 x 0.4 = 32.016 -> 32.02.
        ("100.05", "80.04", "20.01", "32.02", "48.02"),
        # A fen: the pool's 0.008 rounds up to 0.01, the city's 0.004 down to 0.
        ("0.01", "0.01", "0.00", "0.00", "0.01"),
        ("0.03", "0.02", "0.01", "0.01", "0.01"),
        ("375000.00", "300000.00", "75000.00", "120000.00", "180000.00"),
    ],
)
def test_claim_shares_table(principal, pool, bank, city, county):
    shares = rules.claim_shares(D(principal), DEFAULT_POOL, DEFAULT_CITY)
    assert (shares.pool, shares.bank, shares.city, shares.county) == (D(pool), D(bank), D(city), D(county))
    assert shares.pool + shares.bank == D(principal) and shares.city + shares.county == shares.pool


@pytest.mark.parametrize(
    ("principal", "pool_ratio", "city_ratio", "pool", "city"),
    [
        ("0.03", "0.5", "0.5", "0.02", "0.01"),  # 1.5 fen -> 2 (half up); 1 fen x 0.5 = 0.5 fen -> 1
        ("0.05", "0.5", "0.4", "0.03", "0.01"),  # 2.5 fen -> 3; 3 x 0.4 = 1.2 fen -> 1
        ("100.00", "0.7", "0.35", "70.00", "24.50"),  # another policy's ratios
        ("100.00", "1", "1", "100.00", "100.00"),
        ("100.00", "0", "0.4", "0.00", "0.00"),
    ],
)
def test_claim_shares_round_half_up_with_other_ratios(principal, pool_ratio, city_ratio, pool, city):
    shares = rules.claim_shares(D(principal), D(pool_ratio), D(city_ratio))
    assert (shares.pool, shares.city) == (D(pool), D(city))


amounts = st.integers(min_value=0, max_value=10**13).map(lambda fen: D(fen).scaleb(-2))
ratios = st.integers(min_value=0, max_value=10**6).map(lambda millionths: D(millionths).scaleb(-6))


@settings(max_examples=300, deadline=None)
@given(principal=amounts, pool_ratio=ratios, city_ratio=ratios)
def test_shares_always_add_up_and_are_never_negative(principal, pool_ratio, city_ratio):
    shares = rules.claim_shares(principal, pool_ratio, city_ratio)
    assert shares.pool + shares.bank == principal
    assert shares.city + shares.county == shares.pool
    assert min(shares.pool, shares.bank, shares.city, shares.county) >= 0
    # The named share is the exact product rounded half-up (domain.md §4), independently computed.
    assert shares.pool == (principal * pool_ratio).quantize(D("0.01"), rounding=ROUND_HALF_UP)
    assert shares.city == (shares.pool * city_ratio).quantize(D("0.01"), rounding=ROUND_HALF_UP)
    assert all(part == part.quantize(D("0.01")) for part in (shares.pool, shares.bank, shares.city, shares.county))


# ------------------------------------------------------------------------------------- recoveries


def recover_all(principal: Decimal, amounts_: list[Decimal], pool_ratio=DEFAULT_POOL, city_ratio=DEFAULT_CITY):
    within = pool = city = D("0.00")
    parts = []
    for amount in amounts_:
        part = rules.recovery_parts(
            amount, principal=principal, pool_ratio=pool_ratio, city_ratio=city_ratio,
            recovered_before=within, pool_before=pool, city_before=city,
        )
        within += part.within_principal
        pool += part.pool
        city += part.city
        parts.append(part)
    return parts


def test_recoveries_split_by_the_principal_each_side_bore_and_the_excess_goes_to_the_bank():
    first, second, third = recover_all(D("333333.33"), [D("100000.00"), D("300000.00"), D("5000.00")])
    assert (first.pool, first.bank, first.city, first.county) == (D("80000.00"), D("20000.00"), D("32000.00"), D("48000.00"))
    # 233,333.33 of the second completes the principal: the pool's cumulative part is its claim share
    # (266,666.66); the 66,666.67 beyond the principal is the bank's.
    assert second.within_principal == D("233333.33")
    assert (second.pool, second.bank) == (D("186666.66"), D("113333.34"))
    assert first.pool + second.pool == D("266666.66")
    assert first.city + second.city == D("106666.66") and first.county + second.county == D("160000.00")
    # Once the principal is recovered, everything is the bank's.
    assert (third.within_principal, third.pool, third.bank) == (D("0.00"), D("0.00"), D("5000.00"))


def test_small_recoveries_never_give_the_pool_more_than_its_share():
    parts = recover_all(D("0.03"), [D("0.01"), D("0.01"), D("0.01")])
    assert [p.pool for p in parts] == [D("0.01"), D("0.01"), D("0.00")]  # cumulative 0.008, 0.016, 0.024
    assert sum(p.pool for p in parts) == rules.claim_shares(D("0.03"), DEFAULT_POOL, DEFAULT_CITY).pool


@settings(max_examples=200, deadline=None)
@given(
    principal=st.integers(min_value=1, max_value=10**11).map(lambda fen: D(fen).scaleb(-2)),
    pieces=st.lists(st.integers(min_value=1, max_value=10**11).map(lambda fen: D(fen).scaleb(-2)), min_size=1, max_size=8),
    pool_ratio=ratios,
    city_ratio=ratios,
)
def test_recoveries_always_add_up_and_are_never_negative(principal, pieces, pool_ratio, city_ratio):
    parts = recover_all(principal, pieces, pool_ratio, city_ratio)
    for part, amount in zip(parts, pieces):
        assert part.pool + part.bank == amount and part.city + part.county == part.pool
        assert min(part.pool, part.bank, part.city, part.county, part.within_principal) >= 0
    share = rules.claim_shares(principal, pool_ratio, city_ratio)
    pool_total = sum((p.pool for p in parts), D("0.00"))
    assert pool_total <= share.pool and sum((p.city for p in parts), D("0.00")) <= share.city
    recovered = sum(pieces, D("0.00"))
    if recovered >= principal:
        # The whole principal is back: the pool holds exactly its claim share, the rest is the bank's.
        assert pool_total == share.pool
        assert sum((p.county for p in parts), D("0.00")) == share.county
    else:
        assert pool_total == rules.claim_shares(recovered, pool_ratio, city_ratio).pool


def test_a_recovery_must_be_positive():
    with pytest.raises(ValueError):
        recover_all(D("100.00"), [D("0.00")])


# ---------------------------------------------------------------------------------------- breaker


@pytest.mark.parametrize(
    ("non_performing", "outstanding", "lifted", "state"),
    [
        ("0.00", "0.00", False, "normal"),  # nothing covered
        ("4999.99", "100000.00", False, "normal"),
        ("5000.00", "100000.00", False, "warning"),  # exactly 5%: warning
        ("7999.99", "100000.00", False, "warning"),
        ("8000.00", "100000.00", False, "suspended"),  # exactly 8%: suspended
        ("100000.00", "100000.00", False, "suspended"),
        ("9000.00", "100000.00", True, "warning"),  # lifted: not suspended again
        ("1000.00", "100000.00", True, "normal"),
    ],
)
def test_breaker_states(non_performing, outstanding, lifted, state):
    assert rules.breaker_state(D(non_performing), D(outstanding), warning=D("0.05"), suspend=D("0.08"), lifted=lifted) == state


@pytest.mark.parametrize(
    ("non_performing", "outstanding", "ratio"),
    [("1.00", "3.00", "0.333333"), ("2.00", "3.00", "0.666667"), ("80000.00", "1000000.00", "0.080000"), ("0", "0", "0.000000")],
)
def test_npl_ratio_rounds_half_up_to_six_places(non_performing, outstanding, ratio):
    assert rules.npl_ratio(D(non_performing), D(outstanding)) == D(ratio)


# ----------------------------------------------------------------------------------------- stress


def test_stress_projection_runs_out_in_the_known_month():
    # 10M exposure x 12% / 12 = 100,000 defaults a month; the pool pays 80,000 and gets 25% (20,000) back:
    # 60,000 a month out of 1,000,000 lasts 16 months (40,000 left), and month 17 is short by 20,000.
    result = stress.project(
        start=date(2025, 12, 31), start_cash=D("1000000.00"), exposure=D("10000000.00"),
        annual_default_rate=D("0.12"), recovery_rate=D("0.25"), pool_share=D("0.80"), months=24,
    )
    first = result.months[0]
    assert (first.period, first.defaults, first.claims, first.recoveries, first.cash) == (
        "2026-01", D("100000.00"), D("80000.00"), D("20000.00"), D("940000.00"),
    )
    assert result.months[15].cash == D("40000.00")
    assert (result.runs_out_month, result.runs_out_period) == (17, "2027-05")
    assert result.months[16].cash == D("-20000.00")
    assert result.lowest_cash == result.months[-1].cash == D("1000000.00") - 24 * D("60000.00")


def test_stress_rounds_each_month_half_up_to_the_fen_exactly():
    # 1,000,000.01 x 0.10 / 12 = 8,333.334166... -> 8,333.33; x 0.8 = 6,666.664 -> 6,666.66.
    assert stress.monthly_defaults(D("1000000.01"), D("0.10")) == D("8333.33")
    # 100 x 0.09 / 12 = 0.75 exactly; 50.02 x 0.3 / 12 = 1.2505 -> 1.25; 0.30 x 0.1 / 12 = 0.0025 -> 0.00
    assert stress.monthly_defaults(D("100.00"), D("0.09")) == D("0.75")
    assert stress.monthly_defaults(D("50.02"), D("0.3")) == D("1.25")
    assert stress.monthly_defaults(D("0.30"), D("0.1")) == D("0.00")
    assert stress.monthly_defaults(D("1.00"), D("0.06")) == D("0.01")  # 0.005 -> 0.01 (half up)


def test_stress_with_a_recovery_lag_and_without_running_out():
    result = stress.project(
        start=date(2025, 11, 15), start_cash=D("500000.00"), exposure=D("1200000.00"),
        annual_default_rate=D("0.10"), recovery_rate=D("0.50"), pool_share=D("0.80"), months=6, recovery_lag_months=2,
    )
    assert [row.recoveries for row in result.months] == [D("0.00")] * 2 + [D("4000.00")] * 4
    assert [row.period for row in result.months][:3] == ["2025-12", "2026-01", "2026-02"]
    assert result.months[-1].cash == D("500000.00") - 6 * D("8000.00") + 4 * D("4000.00")
    assert result.runs_out_month is None and result.runs_out_period is None


def test_stress_refuses_a_ratio_out_of_range():
    with pytest.raises(ValueError):
        stress.project(start=date(2025, 1, 1), start_cash=D("1.00"), exposure=D("1.00"), annual_default_rate=D("1.5"),
                       recovery_rate=D("0"), pool_share=D("0.8"), months=1)
