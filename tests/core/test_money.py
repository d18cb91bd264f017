"""Unit tests for core.money: pure functions, no app and no project database.

Floats appear only where the test asserts that a float is refused.
"""
from __future__ import annotations

import re
from decimal import Decimal, localcontext
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from marshmallow import Schema, ValidationError
from sqlalchemy import Column, Engine, Integer, MetaData, Table, create_engine, func, insert, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import StatementError

from core.money import (
    FEN,
    MAX_AMOUNT,
    AmountField,
    InvalidAmount,
    Money,
    allocate,
    format_cny,
    from_fen,
    instalments,
    parse_amount,
    parse_decimal_text,
    round_fen,
    split_share,
    to_chinese_capitals,
    to_fen,
)

D = Decimal
FORMAT_MESSAGE = '金额必须是最多两位小数的字符串，例如 "1000000.00"'
POSITIVE_MESSAGE = "金额必须大于零"
NEGATIVE_MESSAGE = "金额不能为负数"
FLOATS_AND_OTHER_NON_AMOUNTS: list[Any] = [0.1, 1.0, float("nan"), "1.00", True, None]


def fen_amounts(min_yuan: int = 0, max_yuan: int = 10**12) -> st.SearchStrategy[Decimal]:
    """Amounts with exactly two decimals between the bounds (in yuan)."""
    return st.integers(min_yuan * 100, max_yuan * 100).map(lambda fen: D(fen).scaleb(-2))


def sparse_amounts() -> st.SearchStrategy[Decimal]:
    """Amounts below one trillion yuan made of a few non-zero digits: runs of zeros everywhere."""
    digits_by_position = st.dictionaries(st.integers(0, 13), st.integers(1, 9), max_size=5)
    return digits_by_position.map(
        lambda digits: D(sum(digit * 10**position for position, digit in digits.items())).scaleb(-2)
    )


def assert_two_places(value: Decimal) -> None:
    assert value.as_tuple().exponent == -2, value


# ----------------------------------------------------------------------------- round_fen


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (D("0.005"), "0.01"),
        (D("0.004"), "0.00"),
        (D("0.015"), "0.02"),
        (D("0.025"), "0.03"),  # banker's rounding would give 0.02
        (D("2.675"), "2.68"),  # the classic float trap (2.675 is 2.67499... as a float)
        (D("266666.664"), "266666.66"),
        (D("-0.005"), "-0.01"),  # half away from zero
        (D("-0.004"), "0.00"),  # no negative zero
        (D("12"), "12.00"),
        (7, "7.00"),
        (D("123456789012345678901234567890.125"), "123456789012345678901234567890.13"),
    ],
)
def test_round_fen_rounds_half_up(value: Decimal | int, expected: str) -> None:
    assert str(round_fen(value)) == expected


@pytest.mark.parametrize("value", [0.005, 1.0, "0.005", True, None])
def test_round_fen_refuses_float_str_and_others(value: Any) -> None:
    with pytest.raises(TypeError):
        round_fen(value)


@pytest.mark.parametrize("value", [D("NaN"), D("Infinity"), D("-Infinity")])
def test_round_fen_refuses_non_finite(value: Decimal) -> None:
    with pytest.raises(ValueError):
        round_fen(value)


# ------------------------------------------------------------------------ to_fen/from_fen


@pytest.mark.parametrize(
    ("amount", "fen"),
    [
        (D("0.01"), 1),
        (D("1000000.00"), 100000000),
        (D("12.5"), 1250),
        (D("12.500"), 1250),  # the value is exact even if written with a third zero
        (D("-3.07"), -307),
        (D("1E+3"), 100000),
        (D("0"), 0),
        (42, 4200),
        (D("999999999999.99"), 99999999999999),
    ],
)
def test_to_fen_is_exact(amount: Decimal | int, fen: int) -> None:
    assert to_fen(amount) == fen


@pytest.mark.parametrize("amount", [D("0.001"), D("1.005"), D("-0.125"), D("1E-10")])
def test_to_fen_refuses_more_than_two_decimals(amount: Decimal) -> None:
    with pytest.raises(ValueError, match="more than 2 decimals"):
        to_fen(amount)


@pytest.mark.parametrize("amount", FLOATS_AND_OTHER_NON_AMOUNTS)
def test_to_fen_refuses_float_and_non_amounts(amount: Any) -> None:
    with pytest.raises(TypeError):
        to_fen(amount)


@pytest.mark.parametrize(
    ("fen", "expected"),
    [(0, "0.00"), (1, "0.01"), (150, "1.50"), (-307, "-3.07"), (10**30, "1" + "0" * 28 + ".00")],
)
def test_from_fen_gives_two_places(fen: int, expected: str) -> None:
    assert str(from_fen(fen)) == expected


@pytest.mark.parametrize("fen", [1.0, D("1"), "1", True])
def test_from_fen_refuses_non_int(fen: Any) -> None:
    with pytest.raises(TypeError):
        from_fen(fen)


@given(st.integers(-(10**15), 10**15))
def test_fen_round_trip_from_int(fen: int) -> None:
    amount = from_fen(fen)
    assert_two_places(amount)
    assert to_fen(amount) == fen


@given(fen_amounts(-(10**12), 10**12))
def test_fen_round_trip_from_amount(amount: Decimal) -> None:
    assert from_fen(to_fen(amount)) == amount


# ---------------------------------------------------------------------------- split_share


@pytest.mark.parametrize(
    ("total", "ratio", "part", "rest"),
    [
        ("333333.33", "0.80", "266666.66", "66666.67"),  # bank 20 %, risk pool 80 %
        ("266666.66", "0.40", "106666.66", "160000.00"),  # pool: city 40 %, county 60 %
        ("100.00", "0", "0.00", "100.00"),
        ("100.00", "1", "100.00", "0.00"),
        ("0.01", "0.5", "0.01", "0.00"),  # exactly half a fen rounds up
        ("0.01", "0.4999999999999999999999999999999", "0.00", "0.01"),  # no premature rounding
        ("0.00", "0.80", "0.00", "0.00"),
        ("1000000", "0.3333", "333300.00", "666700.00"),
    ],
)
def test_split_share_examples(total: str, ratio: str, part: str, rest: str) -> None:
    assert tuple(str(value) for value in split_share(D(total), D(ratio))) == (part, rest)


def test_split_share_chain_from_the_programme_rules() -> None:
    pool, bank = split_share(D("333333.33"), D("0.80"))
    city, county = split_share(pool, D("0.40"))
    assert (bank, city, county) == (D("66666.67"), D("106666.66"), D("160000.00"))
    assert bank + city + county == D("333333.33")


@pytest.mark.parametrize(
    ("total", "ratio", "error"),
    [
        (D("100.00"), D("1.01"), ValueError),
        (D("100.00"), D("-0.01"), ValueError),
        (D("-100.00"), D("0.5"), ValueError),
        (D("100.001"), D("0.5"), ValueError),
        (D("100.00"), D("NaN"), ValueError),
        (D("100.00"), 0.5, TypeError),
        (100.0, D("0.5"), TypeError),
    ],
)
def test_split_share_refusals(total: Any, ratio: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        split_share(total, ratio)


@given(
    fen_amounts(),
    st.decimals(min_value=0, max_value=1, allow_nan=False, allow_infinity=False, places=8),
)
def test_split_share_parts_add_up_and_follow_half_up(total: Decimal, ratio: Decimal) -> None:
    part, rest = split_share(total, ratio)
    assert part + rest == total
    assert part >= 0 and rest >= 0
    assert_two_places(part)
    assert_two_places(rest)
    with localcontext(prec=60):
        assert part == round_fen(total * ratio)


# ------------------------------------------------------------------------------- allocate


@pytest.mark.parametrize(
    ("total", "weights", "expected"),
    [
        ("100.00", [1, 1, 1], ["33.34", "33.33", "33.33"]),  # tie: earliest index wins
        ("100.00", [1, 2], ["33.33", "66.67"]),
        ("0.05", [1, 1, 1, 1, 1, 1], ["0.01", "0.01", "0.01", "0.01", "0.01", "0.00"]),
        ("10.00", [0, 1, 0], ["0.00", "10.00", "0.00"]),
        ("1000000.00", [D("0.3"), D("0.3"), D("0.4")], ["300000.00", "300000.00", "400000.00"]),
        ("0.10", [D("0.333"), D("0.333"), D("0.334")], ["0.03", "0.03", "0.04"]),
        ("0.00", [3, 5], ["0.00", "0.00"]),
        ("99.99", [7], ["99.99"]),
        ("1.00", [D("2.5"), 5, D("2.50")], ["0.25", "0.50", "0.25"]),
    ],
)
def test_allocate_examples(total: str, weights: list[Decimal | int], expected: list[str]) -> None:
    assert [str(share) for share in allocate(D(total), weights)] == expected


@pytest.mark.parametrize(
    ("total", "weights", "error"),
    [
        (D("10.00"), [], ValueError),
        (D("10.00"), [0, 0], ValueError),
        (D("10.00"), [D("0.00")], ValueError),
        (D("10.00"), [1, -1, 2], ValueError),
        (D("-10.00"), [1, 1], ValueError),
        (D("10.001"), [1, 1], ValueError),
        (D("10.00"), [1, D("NaN")], ValueError),
        (D("10.00"), [1, 0.5], TypeError),
        (D("10.00"), [1, True], TypeError),
        (10.0, [1, 1], TypeError),
    ],
)
def test_allocate_refusals(total: Any, weights: list[Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        allocate(total, weights)


weights_strategy = st.lists(
    st.one_of(
        st.integers(0, 10**6),
        st.decimals(min_value=0, max_value=10**6, allow_nan=False, allow_infinity=False, places=3),
    ),
    min_size=1,
    max_size=20,
).filter(lambda weights: any(weights))


@given(fen_amounts(), weights_strategy)
def test_allocate_adds_up_never_negative_within_a_fen_of_the_quota(
    total: Decimal, weights: list[Decimal | int]
) -> None:
    shares = allocate(total, weights)
    assert len(shares) == len(weights)
    assert sum(shares) == total
    weight_sum = sum(D(weight) for weight in weights)
    for share, weight in zip(shares, weights):
        assert share >= 0
        assert_two_places(share)
        if weight == 0:
            assert share == 0
        with localcontext(prec=80):
            assert abs(share - total * weight / weight_sum) < FEN  # largest remainder: off by < 1 fen


# ---------------------------------------------------------------------------- instalments


@pytest.mark.parametrize(
    ("total", "count", "expected"),
    [
        ("100000.00", 3, ["33333.33", "33333.33", "33333.34"]),
        ("100.00", 1, ["100.00"]),
        ("100.00", 4, ["25.00", "25.00", "25.00", "25.00"]),
        ("0.02", 3, ["0.00", "0.00", "0.02"]),
        ("0.00", 2, ["0.00", "0.00"]),
        ("1000000.01", 12, ["83333.33"] * 11 + ["83333.38"]),
    ],
)
def test_instalments_examples(total: str, count: int, expected: list[str]) -> None:
    assert [str(amount) for amount in instalments(D(total), count)] == expected


@pytest.mark.parametrize(
    ("total", "count", "error"),
    [
        (D("100.00"), 0, ValueError),
        (D("100.00"), -1, ValueError),
        (D("-100.00"), 2, ValueError),
        (D("100.001"), 2, ValueError),
        (D("100.00"), 2.0, TypeError),
        (D("100.00"), True, TypeError),
        (100.0, 2, TypeError),
    ],
)
def test_instalments_refusals(total: Any, count: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        instalments(total, count)


@given(fen_amounts(), st.integers(1, 400))
def test_instalments_add_up_and_differ_by_at_most_the_remainder(total: Decimal, count: int) -> None:
    parts = instalments(total, count)
    assert len(parts) == count
    assert sum(parts) == total
    assert len(set(parts[:-1])) <= 1
    remainder_fen = to_fen(total) % count
    assert to_fen(parts[-1]) - to_fen(parts[0]) == (remainder_fen if count > 1 else 0)
    assert all(part >= 0 for part in parts)


# ---------------------------------------------------------------------------- parse_amount


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1000000.00", "1000000.00"),
        ("12.5", "12.50"),
        ("12", "12.00"),
        ("0.01", "0.01"),
        ("0.5", "0.50"),
        ("999999999999.99", "999999999999.99"),
    ],
)
def test_parse_amount_accepts_plain_strings(text: str, expected: str) -> None:
    assert str(parse_amount(text)) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (1000, FORMAT_MESSAGE),
        (1000.0, FORMAT_MESSAGE),
        (0.1, FORMAT_MESSAGE),
        (True, FORMAT_MESSAGE),
        (None, FORMAT_MESSAGE),
        (D("1.00"), FORMAT_MESSAGE),
        (["1.00"], FORMAT_MESSAGE),
        ("", FORMAT_MESSAGE),
        ("   ", FORMAT_MESSAGE),
        (" 12.00", FORMAT_MESSAGE),
        ("12.00 ", FORMAT_MESSAGE),
        ("12\n", FORMAT_MESSAGE),
        ("1e3", FORMAT_MESSAGE),
        ("1E3", FORMAT_MESSAGE),
        ("1.5e2", FORMAT_MESSAGE),
        ("NaN", FORMAT_MESSAGE),
        ("nan", FORMAT_MESSAGE),
        ("sNaN", FORMAT_MESSAGE),
        ("Infinity", FORMAT_MESSAGE),
        ("-Infinity", FORMAT_MESSAGE),
        ("inf", FORMAT_MESSAGE),
        ("1.001", FORMAT_MESSAGE),
        ("0.000", FORMAT_MESSAGE),
        ("1,000.00", FORMAT_MESSAGE),
        ("1,000", FORMAT_MESSAGE),
        ("1 000.00", FORMAT_MESSAGE),
        ("1_000", FORMAT_MESSAGE),  # Decimal() itself would accept this
        ("+12", FORMAT_MESSAGE),
        ("12.", FORMAT_MESSAGE),
        (".5", FORMAT_MESSAGE),
        ("0012", FORMAT_MESSAGE),
        ("１２", FORMAT_MESSAGE),  # full-width digits, which Decimal() would accept
        ("١٢", FORMAT_MESSAGE),  # Arabic-Indic digits
        ("¥12.00", FORMAT_MESSAGE),
        ("0x10", FORMAT_MESSAGE),
        ("12.5.1", FORMAT_MESSAGE),
        ("--1", FORMAT_MESSAGE),
        ("-12.00", NEGATIVE_MESSAGE),
        ("-0.01", NEGATIVE_MESSAGE),
        ("0", POSITIVE_MESSAGE),
        ("0.00", POSITIVE_MESSAGE),
        ("1000000000000.00", "金额不能超过 ¥999,999,999,999.99"),
    ],
)
def test_parse_amount_refusals(value: Any, message: str) -> None:
    with pytest.raises(InvalidAmount) as caught:
        parse_amount(value)
    assert caught.value.message == message
    assert str(caught.value) == message
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("text", ["0", "0.00", "0.0"])
def test_parse_amount_allows_zero_when_asked(text: str) -> None:
    assert str(parse_amount(text, allow_zero=True)) == "0.00"


def test_parse_amount_max_value() -> None:
    assert parse_amount("100.00", max_value=D("100.00")) == D("100.00")
    with pytest.raises(InvalidAmount, match="金额不能超过 ¥100.00"):
        parse_amount("100.01", max_value=D("100.00"))
    with pytest.raises(TypeError):
        parse_amount("1.00", max_value=100.0)  # type: ignore[arg-type]


def test_parse_amount_default_ceiling() -> None:
    assert parse_amount(str(MAX_AMOUNT)) == MAX_AMOUNT


@given(fen_amounts(max_yuan=10**11).filter(lambda amount: amount > 0))
def test_parse_amount_round_trips_the_api_serialization(amount: Decimal) -> None:
    assert parse_amount(f"{amount:f}") == amount


# ---------------------------------------------------------------------- parse_decimal_text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1,000,000.00", "1000000.00"),
        ("  1,000,000.00  ", "1000000.00"),
        ("\t12\u3000", "12.00"),  # tabs and ideographic spaces from spreadsheets
        ("¥1,234.5", "1234.50"),
        ("￥1234", "1234.00"),
        ("¥ 12.00", "12.00"),
        ("1000000", "1000000.00"),
        ("999", "999.00"),
        ("0.05", "0.05"),
        ("0", "0.00"),
        ("-¥1,234.00", "-1234.00"),
        ("-12.30", "-12.30"),
        ("-0.00", "0.00"),
    ],
)
def test_parse_decimal_text_accepts_file_spellings(text: str, expected: str) -> None:
    assert str(parse_decimal_text(text)) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "abc",
        "¥",
        "1,00,000.00",
        "1000,000",
        "1,0000",
        ",100",
        "100,",
        "1,,000",
        "1.001",
        "1,000.001",
        "1e3",
        "NaN",
        "Infinity",
        "+12",
        "¥-12",
        "- 12",
        "12¥",
        "¥¥12",
        "$12",
        "1 000",
        "12.",
        ".5",
        "0012",
        "０.５",
        "１２",
        "(1,234.00)",
        "1,234.5.6",
        "12元",
        "1_000",
        None,
        12,
        12.5,
    ],
)
def test_parse_decimal_text_refusals(text: Any) -> None:
    with pytest.raises(InvalidAmount) as caught:
        parse_decimal_text(text)
    assert "无法识别的金额" in caught.value.message


@given(fen_amounts(-(10**12), 10**12))
def test_parse_decimal_text_reads_what_format_cny_writes(amount: Decimal) -> None:
    assert parse_decimal_text(format_cny(amount)) == amount


# ------------------------------------------------------------------------------ format_cny


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (D("1234567"), "¥1,234,567.00"),
        (D("1234567.00"), "¥1,234,567.00"),
        (D("-1234"), "-¥1,234.00"),
        (D("-0.01"), "-¥0.01"),
        (D("0"), "¥0.00"),
        (D("-0.00"), "¥0.00"),
        (D("0.05"), "¥0.05"),
        (D("999.99"), "¥999.99"),
        (D("1000"), "¥1,000.00"),
        (D("12.5"), "¥12.50"),
        (12, "¥12.00"),
        (D("999999999999.99"), "¥999,999,999,999.99"),
    ],
)
def test_format_cny(amount: Decimal | int, expected: str) -> None:
    assert format_cny(amount) == expected


@pytest.mark.parametrize(("amount", "error"), [(1234.0, TypeError), ("12", TypeError), (D("1.001"), ValueError)])
def test_format_cny_refusals(amount: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        format_cny(amount)


# --------------------------------------------------------------------- to_chinese_capitals


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("1000000.00", "人民币壹佰万元整"),
        ("1409.50", "人民币壹仟肆佰零玖元伍角"),
        ("6007.14", "人民币陆仟零柒元壹角肆分"),
        ("16409.02", "人民币壹万陆仟肆佰零玖元零贰分"),
        ("325.04", "人民币叁佰贰拾伍元零肆分"),
        ("10", "人民币壹拾元整"),
        ("0", "人民币零元整"),
        ("0.50", "人民币伍角"),
        ("0.05", "人民币伍分"),
        ("100010", "人民币壹拾万零壹拾元整"),
        ("1000100", "人民币壹佰万零壹佰元整"),
        ("1680.32", "人民币壹仟陆佰捌拾元叁角贰分"),
        ("100000000", "人民币壹亿元整"),
        ("1000000000", "人民币壹拾亿元整"),
        ("10000.10", "人民币壹万元壹角"),
        ("120000.00", "人民币壹拾贰万元整"),
        ("100000001.00", "人民币壹亿零壹元整"),
        ("3.00", "人民币叁元整"),
        # further cases of the same rules
        ("0.15", "人民币壹角伍分"),
        ("100.01", "人民币壹佰元零壹分"),
        ("1010", "人民币壹仟零壹拾元整"),
        ("10001000", "人民币壹仟万壹仟元整"),
        ("20000300", "人民币贰仟万零叁佰元整"),
        ("10000000001", "人民币壹佰亿零壹元整"),
        ("100001000000", "人民币壹仟亿零壹佰万元整"),
        ("999999999999.99", "人民币玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分"),
    ],
)
def test_to_chinese_capitals(amount: str, expected: str) -> None:
    assert to_chinese_capitals(D(amount)) == expected


def test_to_chinese_capitals_accepts_int() -> None:
    assert to_chinese_capitals(10) == "人民币壹拾元整"


@pytest.mark.parametrize(
    ("amount", "error"),
    [
        (D("-0.01"), ValueError),
        (D("-100"), ValueError),
        (D("1000000000000"), ValueError),
        (D("1.001"), ValueError),
        (100.0, TypeError),
        ("100", TypeError),
    ],
)
def test_to_chinese_capitals_refusals(amount: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        to_chinese_capitals(amount)


_CAPITAL_DIGIT_VALUES = {char: value for value, char in enumerate("零壹贰叁肆伍陆柒捌玖")}
_CAPITAL_UNIT_VALUES = {"拾": 10, "佰": 100, "仟": 1000}
_CAPITAL_SECTION_VALUES = {"万": 10**4, "亿": 10**8}


def _decode_yuan(text: str) -> int:
    """Read whole yuan back from capitals (independent reading, for the round-trip property)."""
    total = section = digit = 0
    for char in text:
        if char in _CAPITAL_DIGIT_VALUES:
            digit = _CAPITAL_DIGIT_VALUES[char]
        elif char in _CAPITAL_UNIT_VALUES:
            section, digit = section + digit * _CAPITAL_UNIT_VALUES[char], 0
        else:
            total, section, digit = total + (section + digit) * _CAPITAL_SECTION_VALUES[char], 0, 0
    return total + section + digit


def decode_capitals(text: str) -> Decimal:
    body = text.removeprefix("人民币")
    yuan_text, _, cents_text = body.rpartition("元")
    jiao = fen = digit = 0
    for char in cents_text:
        if char in _CAPITAL_DIGIT_VALUES:
            digit = _CAPITAL_DIGIT_VALUES[char]
        elif char == "角":
            jiao = digit
        elif char == "分":
            fen = digit
        else:
            assert char == "整"
    return D(_decode_yuan(yuan_text) * 100 + jiao * 10 + fen).scaleb(-2)


@given(st.one_of(fen_amounts(0, 10**12 - 1), sparse_amounts()))
def test_to_chinese_capitals_reads_back_and_follows_the_writing_rules(amount: Decimal) -> None:
    capitals = to_chinese_capitals(amount)
    assert capitals.startswith("人民币")
    assert decode_capitals(capitals) == amount
    assert set(capitals[3:]) <= set("零壹贰叁肆伍陆柒捌玖拾佰仟万亿元角分整")
    if amount == 0:
        return
    assert "零零" not in capitals  # a run of zeros is read once
    assert not re.search("零[拾佰仟万亿元角分整]", capitals)  # 零 only before a digit
    assert not re.search("(^|[^壹贰叁肆伍陆柒捌玖])[拾佰仟角分]", capitals[3:])  # 壹拾, never bare 拾
    assert not re.search("[万亿]{2}", capitals)  # an empty section writes no 万
    assert capitals.endswith("整") == (to_fen(amount) % 100 == 0)
    assert ("元" in capitals) == (amount >= 1)


# ----------------------------------------------------------------------------- Money type

DIALECT = sqlite.dialect()


@given(fen_amounts(-(10**12), 10**12))
def test_money_bind_and_result_round_trip(amount: Decimal) -> None:
    money = Money()
    stored = money.process_bind_param(amount, DIALECT)
    assert isinstance(stored, int) and not isinstance(stored, bool)
    assert stored == to_fen(amount)
    loaded = money.process_result_value(stored, DIALECT)
    assert loaded == amount
    assert loaded is not None
    assert_two_places(loaded)


@given(st.floats())
def test_money_bind_refuses_any_float(value: float) -> None:
    with pytest.raises(TypeError):
        Money().process_bind_param(value, DIALECT)  # type: ignore[arg-type]


@pytest.mark.parametrize(("value", "stored"), [(D("5"), 500), (5, 500), (D("0.10"), 10), (None, None)])
def test_money_bind_accepts_decimal_int_and_none(value: Decimal | int | None, stored: int | None) -> None:
    assert Money().process_bind_param(value, DIALECT) == stored


@pytest.mark.parametrize(("value", "error"), [(D("0.001"), ValueError), ("1.00", TypeError), (True, TypeError)])
def test_money_bind_refusals(value: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        Money().process_bind_param(value, DIALECT)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (100000031, "1000000.31"),
        (D("100000031"), "1000000.31"),  # psycopg: sum(bigint) is numeric
        (D("100000031.000"), "1000000.31"),
        ("100000031", "1000000.31"),
        (0, "0.00"),
        (-5, "-0.05"),
        (10**20, "1000000000000000000.00"),
    ],
)
def test_money_result_converts_driver_values_exactly(raw: Any, expected: str) -> None:
    assert str(Money().process_result_value(raw, DIALECT)) == expected


def test_money_result_passes_none_through() -> None:
    assert Money().process_result_value(None, DIALECT) is None


@pytest.mark.parametrize(("raw", "error"), [(D("12.5"), ValueError), ("12.5", ValueError), (12.0, TypeError)])
def test_money_result_refuses_fractional_fen_and_float(raw: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        Money().process_result_value(raw, DIALECT)


@pytest.fixture
def ledger() -> tuple[Engine, Table]:
    metadata = MetaData()
    table = Table(
        "money_probe",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("amount", Money, nullable=True),
        Column("repaid", Money, nullable=True),
    )
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            insert(table),
            [
                {"amount": D("0.10"), "repaid": D("0.05")},
                {"amount": D("0.20"), "repaid": D("0")},
                {"amount": D("1000000.01"), "repaid": D("1000000.00")},
            ],
        )
    return engine, table


def test_sqlite_sum_comes_back_as_exact_decimal(ledger: tuple[Engine, Table]) -> None:
    engine, table = ledger
    with engine.connect() as connection:
        total = connection.execute(select(func.sum(table.c.amount))).scalar_one()
        raw = connection.execute(text("SELECT amount FROM money_probe ORDER BY id")).scalars().all()
    assert isinstance(total, Decimal)
    assert str(total) == "1000000.31"
    assert raw == [10, 20, 100000001]
    assert all(type(value) is int for value in raw)


def test_sqlite_comparisons_bind_through_money(ledger: tuple[Engine, Table]) -> None:
    engine, table = ledger
    amount = table.c.amount
    with engine.connect() as connection:
        above = connection.execute(select(amount).where(amount > D("0.15")).order_by(amount)).scalars().all()
        listed = connection.execute(select(amount).where(amount.in_([D("0.10"), D("0.20")]))).scalars().all()
        between = connection.execute(select(amount).where(amount.between(D("0.10"), D("0.10")))).scalars().all()
    assert above == [D("0.20"), D("1000000.01")]
    assert sorted(listed) == [D("0.10"), D("0.20")]
    assert between == [D("0.10")]
    compiled = (amount > D("5.00")).compile(dialect=DIALECT, compile_kwargs={"literal_binds": True})
    assert str(compiled) == "money_probe.amount > 500"


def test_sqlite_empty_sum_and_coalesce(ledger: tuple[Engine, Table]) -> None:
    engine, table = ledger
    with engine.connect() as connection:
        nothing = select(func.sum(table.c.amount)).where(table.c.id < 0)
        assert connection.execute(nothing).scalar_one() is None
        zero = select(func.coalesce(func.sum(table.c.amount), 0)).where(table.c.id < 0)
        assert str(connection.execute(zero).scalar_one()) == "0.00"


def test_sql_arithmetic_on_amounts_stays_money(ledger: tuple[Engine, Table]) -> None:
    engine, table = ledger
    outstanding = table.c.amount - table.c.repaid
    assert isinstance(outstanding.type, Money)
    assert isinstance((table.c.amount + D("1.00")).type, Money)
    assert isinstance((table.c.amount * 2).type, Money)
    assert not isinstance((table.c.amount * D("0.5")).type, Money)  # fractional fen: round in SQL first
    doubled = (table.c.amount * 2).compile(dialect=DIALECT, compile_kwargs={"literal_binds": True})
    assert str(doubled) == "money_probe.amount * 2"  # the factor is a number, not 2 yuan
    with engine.connect() as connection:
        assert connection.execute(select(func.sum(outstanding))).scalar_one() == D("0.26")
        assert connection.execute(select(func.sum(table.c.amount + D("1.00")))).scalar_one() == D("1000003.31")
        assert connection.execute(select(func.sum(table.c.amount * 2))).scalar_one() == D("2000000.62")


def test_sqlite_bind_refuses_float(ledger: tuple[Engine, Table]) -> None:
    engine, table = ledger
    with engine.connect() as connection, pytest.raises(StatementError) as caught:
        connection.execute(insert(table), {"amount": 0.1})
    assert isinstance(caught.value.orig, TypeError)  # raised by Money, wrapped by SQLAlchemy


# ----------------------------------------------------------------------------- AmountField


class LoanSchema(Schema):
    principal = AmountField(required=True)
    fee = AmountField(allow_zero=True, allow_none=True)
    capped = AmountField(max_value=D("100.00"))


def test_amount_field_loads_strings() -> None:
    loaded = LoanSchema().load({"principal": "1000000", "fee": "0", "capped": "99.9"})
    assert loaded == {"principal": D("1000000.00"), "fee": D("0.00"), "capped": D("99.90")}
    assert str(loaded["principal"]) == "1000000.00"


@pytest.mark.parametrize(
    ("payload", "errors"),
    [
        ({"principal": 1000000}, {"principal": [FORMAT_MESSAGE]}),
        ({"principal": 1000000.0}, {"principal": [FORMAT_MESSAGE]}),
        ({"principal": "1e6"}, {"principal": [FORMAT_MESSAGE]}),
        ({"principal": "0"}, {"principal": [POSITIVE_MESSAGE]}),
        ({"principal": "-1.00"}, {"principal": [NEGATIVE_MESSAGE]}),
        ({"principal": "1.00", "fee": "-0.01"}, {"fee": [NEGATIVE_MESSAGE]}),
        ({"principal": "1.00", "capped": "100.01"}, {"capped": ["金额不能超过 ¥100.00"]}),
    ],
)
def test_amount_field_refusals_carry_the_chinese_message(payload: dict[str, Any], errors: dict[str, list[str]]) -> None:
    with pytest.raises(ValidationError) as caught:
        LoanSchema().load(payload)
    assert caught.value.messages == errors


def test_amount_field_dumps_two_decimal_strings() -> None:
    dumped = LoanSchema().dump({"principal": D("1000000"), "fee": None, "capped": 12})
    assert dumped == {"principal": "1000000.00", "fee": None, "capped": "12.00"}


def test_amount_field_refuses_to_dump_float_or_fractional_fen() -> None:
    with pytest.raises(TypeError):
        LoanSchema().dump({"principal": 0.1})
    with pytest.raises(ValueError):
        LoanSchema().dump({"principal": D("0.001")})


def test_amount_field_is_documented_as_a_string() -> None:
    field = AmountField(metadata={"description": "贷款本金"})
    assert field.metadata == {"type": "string", "example": "1000000.00", "description": "贷款本金"}


@given(fen_amounts(max_yuan=10**11).filter(lambda amount: amount > 0))
def test_amount_field_round_trip(amount: Decimal) -> None:
    schema = LoanSchema()
    dumped = schema.dump({"principal": amount})
    assert dumped == {"principal": f"{amount:f}"}
    assert schema.load(dumped) == {"principal": amount}
