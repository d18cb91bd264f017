"""Money: amounts in yuan (元) held as ``Decimal`` with two places, stored as integer fen (分).

Financial rules enforced here, once, for the whole programme:

* An amount is a ``Decimal`` (or an ``int`` of whole yuan) with at most two decimals.
  ``float`` is refused everywhere: binary floating point cannot represent 0.10 exactly,
  and a back office that pays out public funds must never drift by a fen.
* Rounding is half-up to the fen (``ROUND_HALF_UP``), the convention of Chinese
  accounting practice and of the programme's agreements.
* Every split (shares, allocations, instalments) adds up to the original total exactly:
  the last part or the largest remainders absorb the rounding, never a lost fen.
* The database stores integer fen (``BIGINT``); the API exchanges amounts as JSON
  strings ("1000000.00"); files may carry "¥1,000,000.00"; documents print
  capitals following the People's Bank of China rules (人民币壹佰万元整).

This module depends on no other project package (stdlib, SQLAlchemy, marshmallow,
flask_babel only), so every layer can import it.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from decimal import MAX_PREC, ROUND_HALF_UP, Context, Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext as _
from marshmallow import ValidationError, fields
from sqlalchemy import BigInteger, Integer
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import operators
from sqlalchemy.sql.operators import OperatorType
from sqlalchemy.types import TypeDecorator, TypeEngine

__all__ = [
    "FEN",
    "MAX_AMOUNT",
    "AmountField",
    "InvalidAmount",
    "Money",
    "allocate",
    "format_cny",
    "from_fen",
    "instalments",
    "parse_amount",
    "parse_decimal_text",
    "round_fen",
    "split_share",
    "to_chinese_capitals",
    "to_fen",
]

FEN = Decimal("0.01")
"""One fen (分), the smallest unit of account: every amount is a whole number of fen."""

MAX_AMOUNT = Decimal("999999999999.99")
"""Largest amount the API accepts by default (just under one trillion yuan, 万亿)."""

FEN_PER_YUAN = 100

# Quantizing and rescaling must never be limited by the ambient context's 28 digits (a
# caller's ``localcontext`` could even lower it); with the maximum precision these
# operations are exact, and the only rounding that happens is the half-up one we ask for.
_EXACT = Context(prec=MAX_PREC, rounding=ROUND_HALF_UP, traps=[InvalidOperation])

AmountLike = Decimal | int


# --------------------------------------------------------------------------- conversions


def _as_decimal(value: object, name: str = "amount") -> Decimal:
    """Accept a finite ``Decimal`` or an ``int`` (whole yuan); refuse everything else.

    ``bool`` is an ``int`` subclass in Python but ``True`` is never an amount, so it is
    refused too. Strings are refused: text must go through :func:`parse_amount` or
    :func:`parse_decimal_text`, which know which spellings are legitimate.
    """
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise TypeError(
            f"{name} must be Decimal or int, not {type(value).__name__} (float is never used for money)"
        )
    if isinstance(value, int):
        return Decimal(value)
    if not value.is_finite():
        raise ValueError(f"{name} must be a finite number, not {value}")
    return value


def round_fen(value: AmountLike) -> Decimal:
    """Round to the fen, half-up: 0.005 -> 0.01, 0.004 -> 0.00, 2.675 -> 2.68.

    For negative values ``ROUND_HALF_UP`` rounds half away from zero (-0.005 -> -0.01),
    symmetric with the positive side. Negative zero is normalised to 0.00 so it never
    shows up as "-0.00" on a statement.
    """
    rounded = _as_decimal(value, "value").quantize(FEN, rounding=ROUND_HALF_UP, context=_EXACT)
    return rounded.copy_abs() if rounded.is_zero() else rounded


def to_fen(amount: AmountLike) -> int:
    """The exact number of fen in ``amount``; ValueError if it has more than two decimals.

    Nothing is rounded here: an amount with a third decimal is a calculation that forgot
    to call :func:`round_fen`, and silently rounding would hide that mistake.
    """
    # as_integer_ratio() is exact (no context precision involved): the amount is a whole
    # number of fen exactly when 100 * numerator is divisible by the denominator.
    numerator, denominator = _as_decimal(amount).as_integer_ratio()
    fen, leftover = divmod(numerator * FEN_PER_YUAN, denominator)
    if leftover:
        raise ValueError(f"{amount} has more than 2 decimals; round it with round_fen() first")
    return fen


def from_fen(fen: int) -> Decimal:
    """The amount in yuan for a whole number of fen, always with exactly two decimals."""
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise TypeError(f"fen must be int, not {type(fen).__name__}")
    return Decimal(fen).scaleb(-2, context=_EXACT)


def _non_negative_fen(amount: AmountLike, name: str) -> int:
    """Fen of an amount that must be a non-negative whole number of fen (a total to split)."""
    fen = to_fen(amount)
    if fen < 0:
        raise ValueError(f"{name} must not be negative, got {amount}")
    return fen


# ------------------------------------------------------------------------------ splitting


def _round_half_up_div(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded half-up, in exact integer arithmetic (both >= 0)."""
    return (2 * numerator + denominator) // (2 * denominator)


def split_share(total: AmountLike, ratio: AmountLike) -> tuple[Decimal, Decimal]:
    """Split ``total`` into ``(part, rest)`` where part = round_half_up(total × ratio), rest = total − part.

    This is the programme's rule for shares (e.g. the 80 % the risk pool bears on a
    loss, then the city's 40 % of the pool): the named share is rounded half-up to the
    fen and the remainder takes whatever is left, so the two always add up to the total.

    >>> split_share(Decimal("333333.33"), Decimal("0.80"))
    (Decimal('266666.66'), Decimal('66666.67'))

    ``ratio`` must lie in [0, 1]; ``total`` must be a non-negative amount with at most two
    decimals.
    """
    total_fen = _non_negative_fen(total, "total")
    share = _as_decimal(ratio, "ratio")
    if not 0 <= share <= 1:
        raise ValueError(f"ratio must be between 0 and 1, got {ratio}")
    # Exact rational arithmetic: total × ratio is never rounded before the half-up step,
    # whatever the number of digits in the ratio.
    ratio_numerator, ratio_denominator = share.as_integer_ratio()
    part_fen = _round_half_up_div(total_fen * ratio_numerator, ratio_denominator)
    return from_fen(part_fen), from_fen(total_fen - part_fen)


def _integer_weights(weights: Sequence[AmountLike]) -> list[int]:
    """Scale weights to integers with the same proportions (exactly, through their common denominator)."""
    if not weights:
        raise ValueError("weights must not be empty")
    ratios = [_as_decimal(weight, "weight").as_integer_ratio() for weight in weights]
    if any(numerator < 0 for numerator, _denominator in ratios):
        raise ValueError(f"weights must not be negative, got {list(weights)}")
    common = math.lcm(*(denominator for _numerator, denominator in ratios))
    scaled = [numerator * (common // denominator) for numerator, denominator in ratios]
    if not any(scaled):
        raise ValueError("at least one weight must be greater than zero")
    return scaled


def allocate(total: AmountLike, weights: Sequence[AmountLike]) -> list[Decimal]:
    """Split ``total`` into shares proportional to ``weights``, in whole fen, adding up exactly.

    Largest-remainder method (Hamilton): every share first gets the fen of its exact
    quota rounded down; the fen still missing go one each to the shares with the largest
    fractional remainders, ties to the earliest index (a stable, reproducible order).
    Shares are never negative and a zero weight always gets 0.00.

    >>> allocate(Decimal("100.00"), [1, 1, 1])
    [Decimal('33.34'), Decimal('33.33'), Decimal('33.33')]

    Refused (ValueError): empty weights, all-zero weights, a negative weight or total.
    """
    total_fen = _non_negative_fen(total, "total")
    scaled = _integer_weights(weights)
    weight_sum = sum(scaled)
    quotas = [divmod(total_fen * weight, weight_sum) for weight in scaled]
    shares = [whole for whole, _remainder in quotas]
    missing = total_fen - sum(shares)
    # Fewer fen are missing than there are non-zero remainders, so zero weights never
    # receive one.
    by_remainder = sorted(range(len(quotas)), key=lambda index: (-quotas[index][1], index))
    for index in by_remainder[:missing]:
        shares[index] += 1
    return [from_fen(share) for share in shares]


def instalments(total: AmountLike, count: int) -> list[Decimal]:
    """Split ``total`` into ``count`` equal instalments in fen; the last takes the remainder.

    >>> instalments(Decimal("100000.00"), 3)
    [Decimal('33333.33'), Decimal('33333.33'), Decimal('33333.34')]

    The instalments always add up to the total exactly; the last exceeds the others by
    ``total_fen mod count`` fen (fewer than ``count`` fen).
    """
    if isinstance(count, bool) or not isinstance(count, int):
        raise TypeError(f"count must be int, not {type(count).__name__}")
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    total_fen = _non_negative_fen(total, "total")
    regular_fen = total_fen // count
    last_fen = total_fen - regular_fen * (count - 1)
    return [from_fen(regular_fen)] * (count - 1) + [from_fen(last_fen)]


# -------------------------------------------------------------------------------- parsing


class InvalidAmount(ValueError):
    """An amount given as text was refused; ``message`` says why, in Simplified Chinese."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# API grammar: plain ASCII digits ([0-9], not \d, which also matches full-width and other
# Unicode digits that Decimal() would happily accept), no leading zeros, optional one or
# two decimals. Everything else (exponent, NaN, '+', separators, spaces) does not match.
_API_AMOUNT = re.compile(r"(?:0|[1-9][0-9]*)(?:\.[0-9]{1,2})?")

# File grammar: the API grammar plus optional '-', a '¥'/'￥' sign and well-formed
# thousands groups ("1,000,000.00" but not "1,00,000" nor "1000,000").
_FILE_AMOUNT = re.compile(
    r"(?P<sign>-?)(?:[¥￥]\s*)?"
    r"(?P<number>(?:0|[1-9][0-9]{0,2}(?:,[0-9]{3})+|[1-9][0-9]*)(?:\.[0-9]{1,2})?)"
)


def _format_error() -> InvalidAmount:
    """The one refusal for any spelling the API grammar does not allow."""
    return InvalidAmount(_('金额必须是最多两位小数的字符串，例如 "1000000.00"'))


def _check_bounds(amount: Decimal, *, allow_zero: bool, max_value: AmountLike) -> Decimal:
    """Refuse zero (unless allowed) and anything above ``max_value``."""
    if amount.is_zero() and not allow_zero:
        raise InvalidAmount(_("金额必须大于零"))
    if amount > max_value:
        raise InvalidAmount(_("金额不能超过 %(limit)s", limit=format_cny(max_value)))
    return amount


def parse_amount(
    value: object, *, allow_zero: bool = False, max_value: Decimal = MAX_AMOUNT
) -> Decimal:
    """Parse an amount received from the API, where amounts cross as JSON strings.

    Accepted: "1000000.00", "12.5", "12" (returned with two decimals). Refused with
    :class:`InvalidAmount`: anything but a string (JSON numbers are floats in most
    clients, and ``true`` is not an amount), empty or padded strings, exponents ("1e3"),
    NaN/Infinity, more than two decimals, thousands separators, a leading '+', negative
    values, zero unless ``allow_zero``, and values above ``max_value``.
    """
    to_fen(max_value)  # the ceiling itself must be a proper amount (refuses float)
    if not isinstance(value, str):
        raise _format_error()
    negative = value.startswith("-")
    digits = value[1:] if negative else value
    if not _API_AMOUNT.fullmatch(digits):
        raise _format_error()
    if negative:
        raise InvalidAmount(_("金额不能为负数"))
    return _check_bounds(from_fen(to_fen(Decimal(digits))), allow_zero=allow_zero, max_value=max_value)


def parse_decimal_text(text: str) -> Decimal:
    """Parse an amount from an imported file cell (CSV/Excel exported as text).

    More lenient than the API, as spreadsheets are: surrounding spaces, thousands
    separators ("1,000,000.00") and a leading "¥" or "￥" are accepted, as is a leading
    '-' ("-¥1,234.00", the way :func:`format_cny` writes it); whether a negative value is
    allowed is the importer's business rule. Still at most two decimals: a third decimal
    in a file means the source already computed something we would have to round, and
    the import must say so rather than guess. Anything malformed: :class:`InvalidAmount`.
    """
    if not isinstance(text, str):
        raise InvalidAmount(_("无法识别的金额：%(text)s", text=repr(text)))
    match = _FILE_AMOUNT.fullmatch(text.strip())
    if match is None:
        raise InvalidAmount(
            _('无法识别的金额："%(text)s"（应为最多两位小数的数字，可带千分位逗号和 ¥，例如 "1,000,000.00"）', text=text)
        )
    number = Decimal(match["sign"] + match["number"].replace(",", ""))
    # Through fen and back: two decimals, and "-0.00" becomes plain 0.00.
    return from_fen(to_fen(number))


# ----------------------------------------------------------------------------- formatting


def format_cny(amount: AmountLike) -> str:
    """Display form: "¥1,234,567.00"; negative as "-¥1,234.00" (sign before the currency symbol).

    The amount must already be a whole number of fen: displaying a rounded figure that
    differs from the stored one would make the books disagree with the screen.
    """
    fen = to_fen(amount)
    sign = "-" if fen < 0 else ""
    return f"{sign}¥{from_fen(abs(fen)):,.2f}"


_CAPITAL_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_CAPITAL_UNITS = ("", "拾", "佰", "仟")  # within a four-digit section
_CAPITAL_SECTIONS = ("", "万", "亿")  # one per four-digit section
_CAPITALS_PREFIX = "人民币"
_CAPITALS_LIMIT_YUAN = 10**12  # 9999亿…: beyond the sections above (and above MAX_AMOUNT)


def _yuan_in_capitals(yuan: int) -> str:
    """Whole yuan (> 0) in capitals, without the 元: 100010 -> 壹拾万零壹拾.

    PBoC rules: digits carry their unit (拾佰仟) and every non-empty four-digit section its
    section unit (万, 亿); any run of zeros between two written digits, inside a section
    or across sections, is read as a single 零; zeros at the end of a section are not
    read; a section that is all zero writes no 万. "壹拾" keeps its 壹 (never a bare 拾)
    so that no digit can be slipped in front of it on a payment document.
    """
    digits = str(yuan)
    parts: list[str] = []
    zero_pending = False
    for index, char in enumerate(digits):
        power = len(digits) - 1 - index
        digit = int(char)
        if digit == 0:
            zero_pending = True
        else:
            if zero_pending:
                parts.append("零")
            parts.append(_CAPITAL_DIGITS[digit] + _CAPITAL_UNITS[power % 4])
            zero_pending = False
        if power and power % 4 == 0 and (yuan // 10**power) % 10**4:
            # Closing a non-empty section: its trailing zeros are covered by 万/亿 and are
            # not read (壹仟万壹仟, not 壹仟万零壹仟).
            parts.append(_CAPITAL_SECTIONS[power // 4])
            zero_pending = False
    return "".join(parts)


def _cents_in_capitals(jiao: int, fen: int, *, has_yuan: bool) -> str:
    """The part after 元: 整 for whole yuan, else 角/分.

    * whole yuan: 整;
    * 角 and no 分: end with 角, no 整 (壹万元壹角);
    * 分 and no 角: 零 stands for the missing 角 after yuan (壹万陆仟肆佰零玖元零贰分),
      but not when there are no yuan at all (伍分);
    * the optional 零 for a 0 in the 元 place before 角 is deliberately not written
      (壹仟陆佰捌拾元叁角贰分).
    """
    if jiao == 0 and fen == 0:
        return "整"
    text = f"{_CAPITAL_DIGITS[jiao]}角" if jiao else ("零" if has_yuan else "")
    return text + (f"{_CAPITAL_DIGITS[fen]}分" if fen else "")


def to_chinese_capitals(amount: AmountLike) -> str:
    """Amount in capitals (大写金额) for settlement documents, PBoC rules, prefixed 人民币.

    1000000.00 -> 人民币壹佰万元整; 16409.02 -> 人民币壹万陆仟肆佰零玖元零贰分;
    0.50 -> 人民币伍角; 0 -> 人民币零元整. Amounts below one yuan write no 元.
    Negative amounts (ValueError) have no capitals form on a payment document;
    amounts of one trillion yuan and above are refused too.
    """
    total_fen = to_fen(amount)
    if total_fen < 0:
        raise ValueError(f"amount in capitals must not be negative, got {amount}")
    yuan, cents = divmod(total_fen, FEN_PER_YUAN)
    if yuan >= _CAPITALS_LIMIT_YUAN:
        raise ValueError(f"amount in capitals must be below {_CAPITALS_LIMIT_YUAN} yuan, got {amount}")
    if total_fen == 0:
        return f"{_CAPITALS_PREFIX}零元整"
    yuan_text = f"{_yuan_in_capitals(yuan)}元" if yuan else ""
    jiao, fen = divmod(cents, 10)
    return _CAPITALS_PREFIX + yuan_text + _cents_in_capitals(jiao, fen, has_yuan=bool(yuan))


# ------------------------------------------------------------------------------- database

# Operators whose other operand is a plain number, not an amount: ``Money.col * 2`` must
# bind 2, not 200 fen.
_SCALAR_OPERATORS = frozenset({operators.mul, operators.truediv, operators.floordiv, operators.mod})


class _MoneyComparator(TypeDecorator.Comparator[Decimal], Integer.Comparator[Decimal]):
    """SQL arithmetic that yields an amount is typed Money, so results come back as Decimal.

    The sum or difference of two amounts, and an amount times an integer, are amounts in
    fen; without this they would be typed BIGINT and ``sum(principal - repaid)`` would
    return raw fen (100 times too large) to the caller.
    """

    def _adapt_expression(
        self, op: OperatorType, other_comparator: TypeEngine.Comparator[Any]
    ) -> tuple[OperatorType, TypeEngine[Any]]:
        op, result_type = super()._adapt_expression(op, other_comparator)
        other_type = other_comparator.type
        if (op in (operators.add, operators.sub) and isinstance(other_type, Money)) or (
            op is operators.mul and isinstance(other_type, Integer)  # Money is not an Integer
        ):
            return op, self.expr.type
        return op, result_type


def _fen_from_driver(value: object) -> int:
    """The integer fen a driver returned: int normally, Decimal or str for some SUM()s.

    PostgreSQL's sum(bigint) is numeric, which psycopg hands out as Decimal; other drivers
    may return text. The conversion is exact, and a fractional number of fen (e.g. AVG)
    is refused rather than rounded: round in SQL, explicitly, if that is the intent.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, (Decimal, str)):
        numerator, denominator = Decimal(value).as_integer_ratio()
        if denominator == 1:
            return numerator
        raise ValueError(f"Money column returned {value!r}, not a whole number of fen")
    raise TypeError(f"Money column returned {type(value).__name__} {value!r}, expected integer fen")


class Money(TypeDecorator[Decimal]):
    """Column type for amounts: stored as BIGINT fen, handed out as Decimal with two places.

    Integer fen make sums exact in every database and keep SQLite honest (it has no
    true decimal type). Binding refuses float (TypeError) and amounts with more than two
    decimals (ValueError); ``None`` passes through as NULL.
    """

    impl = BigInteger
    cache_ok = True
    comparator_factory = _MoneyComparator

    def process_bind_param(self, value: AmountLike | None, dialect: Dialect) -> int | None:
        return None if value is None else to_fen(value)

    def process_result_value(self, value: object, dialect: Dialect) -> Decimal | None:
        return None if value is None else from_fen(_fen_from_driver(value))

    def coerce_compared_value(self, op: OperatorType | None, value: Any) -> TypeEngine[Any]:
        """``col > Decimal("5.00")`` and ``col + Decimal("1.00")`` bind through Money (500 fen, 100 fen).

        Multiplication, division and modulo take a plain number, typed by the usual rules.
        """
        if op in _SCALAR_OPERATORS:
            return self.impl_instance.coerce_compared_value(op, value)
        return self


# -------------------------------------------------------------------------------- the API


class AmountField(fields.Field[Decimal]):
    """Marshmallow field for amounts in the API: strings in, strings with two decimals out.

    Input goes through :func:`parse_amount` (its Chinese message becomes the validation
    error); output is always "1000000.00", never a JSON number a client could turn into a
    float.
    """

    def __init__(
        self,
        *,
        allow_zero: bool = False,
        max_value: Decimal = MAX_AMOUNT,
        metadata: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        # Documented as a string for OpenAPI (apispec reads these keys from metadata).
        described = {"type": "string", "example": "1000000.00", **(metadata or {})}
        super().__init__(metadata=described, **kwargs)
        self.allow_zero = allow_zero
        self.max_value = max_value

    def _serialize(self, value: Decimal | None, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else f"{from_fen(to_fen(value)):f}"

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> Decimal:
        try:
            return parse_amount(value, allow_zero=self.allow_zero, max_value=self.max_value)
        except InvalidAmount as error:
            raise ValidationError(error.message) from error
