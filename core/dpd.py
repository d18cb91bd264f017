"""Days past due (DPD) and the five-tier loan classification (五级分类), docs/domain.md §3.

* DPD is the number of days since the earliest scheduled principal that is still unpaid;
  a bullet loan has one instalment, at maturity. An instalment is paid by the principal
  repaid up to the day considered, applied to the earliest instalments first (the way a
  bank allocates a repayment). On its due date an unpaid instalment is not yet overdue
  (DPD 0); the next day it is 1.
* The classification follows DPD through thresholds that belong to a versioned policy;
  :data:`DEFAULT_THRESHOLDS` carries the defaults of the domain document.

Pure functions on dates and ``Decimal``: no database, no application, no domain. Shared by
the knowledge-value loans (banks' schedules), the seed fund's loans and anything else that
classifies by DPD; it lives in ``core`` so that every domain may use it (``loans.dpd``
re-exports it for the loans package).
"""
from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from core.i18n import _

__all__ = [
    "DEFAULT_THRESHOLDS",
    "Classification",
    "ClassificationThresholds",
    "Instalment",
    "Repayments",
    "bullet_schedule",
    "classify",
    "days_past_due",
    "is_non_performing",
    "overdue_principal",
]

Instalment = tuple[date, Decimal]
"""(due date, principal due on that date)."""

Repayments = Callable[[date], Decimal] | Iterable[tuple[date, Decimal]]
"""Either a function giving the cumulative principal repaid up to and including a date,
or the repayments themselves as (paid on, principal) pairs."""


class Classification(enum.StrEnum):
    """The five tiers, from best to worst. The value is the stable code stored and sent by the API."""

    NORMAL = "normal"
    SPECIAL_MENTION = "special_mention"
    SUBSTANDARD = "substandard"
    DOUBTFUL = "doubtful"
    LOSS = "loss"

    @property
    def label(self) -> str:
        """The Chinese name (translated when the interface is in English)."""
        labels = {
            Classification.NORMAL: _("正常"),
            Classification.SPECIAL_MENTION: _("关注"),
            Classification.SUBSTANDARD: _("次级"),
            Classification.DOUBTFUL: _("可疑"),
            Classification.LOSS: _("损失"),
        }
        return labels[self]

    @property
    def severity(self) -> int:
        """0 (normal) to 4 (loss), for "at least this bad" comparisons."""
        return list(Classification).index(self)


@dataclass(frozen=True)
class ClassificationThresholds:
    """The first DPD of each tier below normal; normal is everything below ``special_mention_from``.

    Each threshold must be greater than the previous one, so every DPD falls in exactly
    one tier.
    """

    special_mention_from: int = 1
    substandard_from: int = 91
    doubtful_from: int = 271
    loss_from: int = 361

    def __post_init__(self) -> None:
        bounds = (self.special_mention_from, self.substandard_from, self.doubtful_from, self.loss_from)
        if any(isinstance(bound, bool) or not isinstance(bound, int) for bound in bounds):
            raise TypeError(f"thresholds must be int, got {bounds}")
        if not 1 <= bounds[0] < bounds[1] < bounds[2] < bounds[3]:
            raise ValueError(f"thresholds must increase strictly from at least 1, got {bounds}")


DEFAULT_THRESHOLDS = ClassificationThresholds()

_ZERO = Decimal("0.00")


def classify(dpd: int, thresholds: ClassificationThresholds = DEFAULT_THRESHOLDS) -> Classification:
    """The tier of a loan ``dpd`` days past due (defaults: 0 normal, 1–90 special mention,
    91–270 substandard, 271–360 doubtful, 361 and above loss)."""
    if isinstance(dpd, bool) or not isinstance(dpd, int):
        raise TypeError(f"dpd must be int, not {type(dpd).__name__}")
    if dpd < 0:
        raise ValueError(f"dpd must not be negative, got {dpd}")
    if dpd >= thresholds.loss_from:
        return Classification.LOSS
    if dpd >= thresholds.doubtful_from:
        return Classification.DOUBTFUL
    if dpd >= thresholds.substandard_from:
        return Classification.SUBSTANDARD
    if dpd >= thresholds.special_mention_from:
        return Classification.SPECIAL_MENTION
    return Classification.NORMAL


def is_non_performing(classification: Classification) -> bool:
    """Non-performing (不良) means substandard or worse."""
    return classification.severity >= Classification.SUBSTANDARD.severity


def bullet_schedule(principal: Decimal, maturity: date) -> list[Instalment]:
    """The schedule of a bullet loan: all principal due at maturity."""
    return [(maturity, principal)]


def _amount(value: object, what: str) -> Decimal:
    """A non-negative Decimal (or int) amount; float never reaches a money value."""
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise TypeError(f"{what} must be Decimal or int, not {type(value).__name__}")
    amount = Decimal(value)
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"{what} must be a non-negative amount, got {value}")
    return amount


def _repaid_by(repayments: Repayments, as_of: date) -> Decimal:
    """Cumulative principal repaid on or before ``as_of``."""
    if callable(repayments):
        return _amount(repayments(as_of), "principal repaid")
    return sum(
        (_amount(principal, "repayment") for paid_on, principal in repayments if paid_on <= as_of),
        _ZERO,
    )


def _unpaid_instalments(
    schedule: Sequence[Instalment], repayments: Repayments, as_of: date
) -> list[Instalment]:
    """Instalments (due date, unpaid part) still not covered by the principal repaid up to ``as_of``.

    Repayments cover instalments in due-date order, whatever their own dates: principal
    paid early is principal paid, and a late payment clears the oldest arrears first.
    """
    available = _repaid_by(repayments, as_of)
    unpaid: list[Instalment] = []
    for due_on, principal in sorted(schedule, key=lambda instalment: instalment[0]):
        due = _amount(principal, "instalment")
        covered = min(due, available)
        available -= covered
        if due > covered:
            unpaid.append((due_on, due - covered))
    return unpaid


def days_past_due(schedule: Sequence[Instalment], repayments: Repayments, as_of: date) -> int:
    """Days from the earliest scheduled principal still unpaid on ``as_of``; 0 if none is overdue.

    ``schedule`` lists (due date, principal due), in any order; ``repayments`` is either
    a function returning the cumulative principal repaid up to a date (inclusive) or the
    (paid on, principal) pairs. Repayments dated after ``as_of`` do not count, so the DPD
    of a past day can be recomputed from the full history.
    """
    unpaid = _unpaid_instalments(schedule, repayments, as_of)
    if not unpaid:
        return 0
    earliest_due = unpaid[0][0]
    return max(0, (as_of - earliest_due).days)


def overdue_principal(schedule: Sequence[Instalment], repayments: Repayments, as_of: date) -> Decimal:
    """Unpaid principal of the instalments due before ``as_of`` (the overdue principal).

    Positive exactly when :func:`days_past_due` is positive: an instalment due today is
    not overdue yet.
    """
    unpaid = _unpaid_instalments(schedule, repayments, as_of)
    return sum((amount for due_on, amount in unpaid if due_on < as_of), _ZERO)
