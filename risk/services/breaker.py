"""The per-bank circuit breaker (熔断, domain.md §4): evaluating it, recording its changes, lifting it.

The NPL ratio of a bank is the non-performing principal of its covered loans ÷ their outstanding
principal, as of a day (``risk.queries.bank_figures``, in SQL). With the thresholds of the policy in
force on that day: ``suspended`` at or above the suspension level (8%), ``warning`` at or above the
warning level (5%), else ``normal`` (``risk.rules.breaker_state``).

**How the stored state is kept.** Each bank has one ``risk_breakers`` row (its lock and its state
as last evaluated) and a ``risk_breaker_events`` row for every change. The state is evaluated:

* when a coverage decision needs it (a new loan of the bank, as of its contract date);
* when a claim is filed on one of the bank's loans (as of the claim's date);
* by :func:`evaluate_breakers`, which the daily job calls for every bank (as of the day);
* before a lift (as of the lift's day).

An evaluation for a day earlier than the bank's last one changes nothing: the events answer for
past days (``risk.queries.breaker_state_on``), and a late-entered record never rewrites them. The
API's ``GET .../breaker`` reads without writing: for today it shows the state the next evaluation
would record, so it never disagrees with the ratio it shows.

**Resuming.** The state returns to ``normal`` as soon as an evaluation finds the ratio below the
warning level. A fund manager may also lift a suspension with a written reason: the bank then
reads ``warning`` (its ratio is still high) and is not suspended again until its ratio has first
fallen below the warning level; the lift ends there.
"""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import lazyload

from core import clock
from core.db import db
from core.errors import BusinessRuleError, NotFound
from core.i18n import _
from parties.models import Bank
from risk import rules
from risk.models import RiskBreaker, RiskBreakerEvent
from risk.queries import BankRiskFigures, bank_figures, policy_on
from risk.services.common import REASON_MAX_LENGTH, business_day, raise_if, text

ZERO = rules.ZERO


def _select_breaker(bank_id: int) -> RiskBreaker | None:
    return db.session.execute(
        sa.select(RiskBreaker)
        .where(RiskBreaker.bank_id == bank_id)
        .with_for_update(of=RiskBreaker)
        .options(lazyload("*"))
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


def lock_breaker(bank_id: int) -> RiskBreaker:
    """The bank's breaker row, locked ``FOR UPDATE`` (created, normal, on first use)."""
    row = _select_breaker(bank_id)
    if row is None:
        try:
            with db.session.begin_nested():
                db.session.add(RiskBreaker(bank_id=bank_id, state=rules.NORMAL, npl_ratio=rules.ZERO, lifted=False))
        except IntegrityError:
            pass  # a concurrent first use created it: wait on it like any other caller
        row = _select_breaker(bank_id)
    assert row is not None
    return row


def _record(row: RiskBreaker, state: str, ratio, day: date, *, by_id: int | None, reason: str) -> RiskBreakerEvent:
    event = RiskBreakerEvent(
        bank_id=row.bank_id,
        previous_state=row.state,
        state=state,
        npl_ratio=ratio,
        changed_on=day,
        by_id=by_id,
        reason=reason,
    )
    db.session.add(event)
    row.state = state
    return event


def evaluate_breaker(bank_id: int, as_of: date, *, figures: BankRiskFigures | None = None) -> RiskBreaker:
    """Evaluate the bank's breaker as of ``as_of`` and record a change of state; returns the row.

    Nothing changes for a day earlier than the last evaluation. Takes the bank's breaker lock
    (after the pool's, when the caller holds it).
    """
    return _evaluate(bank_id, as_of, figures)[0]


def _evaluate(
    bank_id: int, as_of: date, figures: BankRiskFigures | None
) -> tuple[RiskBreaker, RiskBreakerEvent | None]:
    row = lock_breaker(bank_id)
    if row.evaluated_on is not None and as_of < row.evaluated_on:
        return row, None
    policy = policy_on(as_of)
    if figures is None:
        figures = bank_figures(as_of, bank_id).get(bank_id) or BankRiskFigures(bank_id, ZERO, ZERO, ZERO)
    state = rules.breaker_state(
        figures.non_performing,
        figures.covered_outstanding,
        warning=policy.risk_breaker_warning,
        suspend=policy.risk_breaker_suspend,
        lifted=row.lifted,
    )
    if state == rules.NORMAL:
        row.lifted = False  # below the warning level: a lift has done its job
    event = None
    if state != row.state:
        event = _record(row, state, figures.npl_ratio, as_of, by_id=None, reason="")
    row.npl_ratio = figures.npl_ratio
    row.evaluated_on = as_of
    db.session.flush()
    return row, event


def evaluate_breakers(as_of: date | None = None) -> list[RiskBreakerEvent]:
    """Evaluate every bank with covered loans or a breaker as of ``as_of`` (default today).

    The daily job calls this. Returns the changes it recorded. One query for the figures of all
    banks, then one evaluation (lock, maybe an event) per bank, in bank id order.
    """
    as_of = as_of or clock.today()
    figures = bank_figures(as_of)
    bank_ids = set(figures) | set(db.session.scalars(sa.select(RiskBreaker.bank_id)))
    changes: list[RiskBreakerEvent] = []
    for bank_id in sorted(bank_ids):
        own = figures.get(bank_id) or BankRiskFigures(bank_id, ZERO, ZERO, ZERO)
        _row, event = _evaluate(bank_id, as_of, own)
        if event is not None:
            changes.append(event)
    return changes


def lift_breaker(bank_id: int, *, reason: str, on: date | None, by_id: int) -> RiskBreakerEvent:
    """A fund manager lifts the bank's suspension with a written reason; returns the recorded change.

    422: no reason, date in the future. 404: unknown bank. 409: the bank is not suspended on that
    day (evaluated first), or the day is earlier than the bank's last evaluation.
    """
    errors: dict[str, list[str]] = {}
    clean = text(reason, "reason", _("解除理由"), REASON_MAX_LENGTH, errors, required=True)
    raise_if(errors)
    day = business_day(on)
    if db.session.get(Bank, bank_id) is None:
        raise NotFound(_("合作银行不存在"))
    row = evaluate_breaker(bank_id, day)
    if row.evaluated_on is not None and day < row.evaluated_on:
        raise BusinessRuleError(
            _("解除日期 %(day)s 早于最近一次熔断评估日期 %(last)s", day=day.isoformat(), last=row.evaluated_on.isoformat()),
            {"on": [_("不能早于 %(last)s", last=row.evaluated_on.isoformat())]},
        )
    if row.state != rules.SUSPENDED:
        raise BusinessRuleError(_("该银行当前未处于熔断暂停状态，无需解除"))
    row.lifted = True
    event = _record(row, rules.WARNING, row.npl_ratio, day, by_id=by_id, reason=clean)
    db.session.flush()
    return event
