"""Unit tests for parties.credit_code (GB 32100-2015): pure functions, no app needed."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parties.credit_code import (
    ALPHABET,
    InvalidCreditCode,
    credit_code_check_char,
    is_valid_credit_code,
    normalise_credit_code,
    validate_credit_code,
)

VALID = "91350100M000100Y43"

# Codes taken from the bank tape sample (invented, with valid check characters).
SAMPLE_CODES = ["91500231K6FMHDQAE3", "915002310YEB5K3F11", "91500231TN5G06YYGF"]


def test_the_domain_example_is_valid():
    assert credit_code_check_char(VALID[:17]) == "3"
    assert is_valid_credit_code(VALID)
    assert validate_credit_code(VALID) == VALID


@pytest.mark.parametrize("code", SAMPLE_CODES)
def test_sample_codes_are_valid(code):
    assert validate_credit_code(code) == code


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (" 91350100m000100y43 ", VALID),
        ("\u300091350100M000100Y43\t", VALID),
        ("９１３５０１００Ｍ０００１００Ｙ４３", VALID),  # typed in full width
    ],
)
def test_normalisation_trims_uppercases_and_folds_full_width(text, expected):
    assert normalise_credit_code(text) == expected
    assert validate_credit_code(text) == expected


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("", "不能为空"),
        ("   ", "不能为空"),
        ("91350100M000100Y4", "应为 18 位"),
        ("91350100M000100Y433", "应为 18 位"),
        ("91350100M000100Y4 3", "应为 18 位"),
        ("91350100I000100Y43", "第 9 位的「I」不是合法字符"),
        ("91350100O000100Y43", "第 9 位的「O」不是合法字符"),
        ("91350100M000100Y4Z", "第 18 位的「Z」不是合法字符"),
        ("9135010 M000100Y43", "第 8 位的「 」不是合法字符"),
        ("91350100M000100Y44", "校验位不正确"),
        ("91350100M000100Y34", "校验位不正确"),  # two neighbours swapped
        ("81350100M000100Y43", "校验位不正确"),
    ],
)
def test_invalid_codes_are_refused_with_a_chinese_reason(code, fragment):
    assert not is_valid_credit_code(code)
    with pytest.raises(InvalidCreditCode) as caught:
        validate_credit_code(code)
    assert fragment in caught.value.message
    assert isinstance(caught.value, ValueError)


def test_the_message_does_not_reveal_the_expected_check_character():
    with pytest.raises(InvalidCreditCode) as caught:
        validate_credit_code("91350100M000100Y44")
    assert "「3」" not in caught.value.message


def test_non_text_is_refused_as_invalid():
    assert not is_valid_credit_code(None)  # type: ignore[arg-type]
    with pytest.raises(InvalidCreditCode):
        validate_credit_code(913501001)  # type: ignore[arg-type]


@pytest.mark.parametrize("first17", ["91350100M000100Y", "91350100M000100Y4X", "91350100I000100Y4"])
def test_check_char_needs_seventeen_alphabet_characters(first17):
    with pytest.raises(ValueError):
        credit_code_check_char(first17)


alphabet_chars = st.sampled_from(ALPHABET)
first_parts = st.lists(alphabet_chars, min_size=17, max_size=17).map("".join)


@given(first_parts)
def test_any_seventeen_characters_with_their_check_char_are_valid(first17):
    code = first17 + credit_code_check_char(first17)
    assert is_valid_credit_code(code)
    assert validate_credit_code(code.lower()) == code


@given(first_parts, st.integers(0, 17), alphabet_chars)
def test_changing_any_single_character_makes_the_code_invalid(first17, position, replacement):
    code = first17 + credit_code_check_char(first17)
    if code[position] == replacement:
        replacement = ALPHABET[(ALPHABET.index(replacement) + 1) % len(ALPHABET)]
    altered = code[:position] + replacement + code[position + 1 :]
    # Every weight is invertible modulo the prime 31, so a single substitution always
    # changes the weighted sum and with it the check character.
    assert not is_valid_credit_code(altered)
