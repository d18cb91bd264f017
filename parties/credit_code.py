"""Unified social credit code (统一社会信用代码), GB 32100-2015.

Every enterprise is identified by an 18-character code: 17 characters from a 31-symbol
alphabet (the digits and the capital letters without I, O, Z, S, V, which are too easily
confused with digits) followed by a check character. The check character is
``ALPHABET[(31 − Σ value(cᵢ)·wᵢ mod 31) mod 31]`` over the first 17 characters.

Only the check character is verified here: the structure of the first 17 characters
(registration authority, category, region, organisation code) is not, because the
standard's category tables change and the registry is the authority on them; a wrong
character is what the check character exists to catch.

Pure functions, no database and no application needed.
"""
from __future__ import annotations

import unicodedata

from core.i18n import _

__all__ = [
    "ALPHABET",
    "LENGTH",
    "WEIGHTS",
    "InvalidCreditCode",
    "credit_code_check_char",
    "is_valid_credit_code",
    "normalise_credit_code",
    "validate_credit_code",
]

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
"""The 31 symbols of GB 32100-2015, in value order (the value of a symbol is its index)."""

WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
"""Weight of each of the first 17 positions (3^i mod 31)."""

LENGTH = 18

_VALUE = {symbol: value for value, symbol in enumerate(ALPHABET)}


class InvalidCreditCode(ValueError):
    """A credit code was refused; ``message`` says what is wrong, in Simplified Chinese."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def normalise_credit_code(text: str) -> str:
    """The code as it is stored and compared: surrounding spaces removed, letters in upper case.

    NFKC first, so a code typed with a Chinese input method in full width
    (``９１３５…``) or pasted with an ideographic space (U+3000) reads as the ASCII code
    it shows. Inner characters are not removed: a space in the middle is an error the
    user should see, not something to guess around.
    """
    return unicodedata.normalize("NFKC", text).strip().upper()


def credit_code_check_char(first17: str) -> str:
    """The check character for the first 17 characters of a code (already normalised).

    ``ValueError`` if ``first17`` is not exactly 17 characters of :data:`ALPHABET`.
    """
    if len(first17) != len(WEIGHTS):
        raise ValueError(f"expected 17 characters, got {len(first17)}: {first17!r}")
    try:
        total = sum(_VALUE[char] * weight for char, weight in zip(first17, WEIGHTS, strict=True))
    except KeyError as error:
        raise ValueError(f"{error.args[0]!r} is not in the credit code alphabet") from None
    return ALPHABET[(31 - total % 31) % 31]


def validate_credit_code(code: str) -> str:
    """Return the normalised code, or raise :class:`InvalidCreditCode` saying what is wrong.

    Checked in the order a person fixes them: empty, length, each illegal character
    (with its position), then the check character. The message does not reveal the
    expected check character: after a typo elsewhere, "fixing" the last character would
    make a wrong code pass.
    """
    if not isinstance(code, str):
        raise InvalidCreditCode(_("统一社会信用代码必须是文本"))
    normalised = normalise_credit_code(code)
    if not normalised:
        raise InvalidCreditCode(_("统一社会信用代码不能为空"))
    if len(normalised) != LENGTH:
        raise InvalidCreditCode(
            _("统一社会信用代码应为 18 位，「%(code)s」有 %(length)d 位", code=normalised, length=len(normalised))
        )
    for position, char in enumerate(normalised, start=1):
        if char not in _VALUE:
            raise InvalidCreditCode(
                _(
                    "统一社会信用代码第 %(position)d 位的「%(char)s」不是合法字符"
                    "（只能是数字和除 I、O、Z、S、V 以外的大写字母）",
                    position=position,
                    char=char,
                )
            )
    if credit_code_check_char(normalised[:17]) != normalised[17]:
        raise InvalidCreditCode(
            _("统一社会信用代码「%(code)s」的校验位不正确，请核对是否有输错的字符", code=normalised)
        )
    return normalised


def is_valid_credit_code(code: str) -> bool:
    """Whether :func:`validate_credit_code` accepts ``code`` (after normalisation)."""
    try:
        validate_credit_code(code)
    except InvalidCreditCode:
        return False
    return True
