"""What the pool's pages show beyond ``risk.queries``: the month-end rows and the data of each chart
(static/js/risk.js draws them), and the loans a liaison may claim on today.

Chart data is JSON for a ``data-chart`` attribute: amounts as two-decimal strings in yuan (the script
plots them in 万元), ratios as percentages with two places, labels already in the page's language.
The shape is described at the top of static/js/risk.js.
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa

from core.db import db
from core.i18n import _
from core.policy.models import Policy
from loans.models import Loan
from loans.queries import LoanState, loan_states
from parties.models import Bank
from risk import queries, stress
from risk.models import RiskClaim, RiskContribution

CHART_MONTHS = 24
BREAKER_TONES = {"normal": "success", "warning": "warning", "suspended": "danger"}
ZERO = Decimal("0.00")


def money_text(amount: Decimal) -> str:
    """An amount as the API writes it: "1234.50" (the script formats it, exactly, for tooltips)."""
    return f"{amount:.2f}"


def percent_text(ratio: Decimal) -> str:
    """0.0612 -> "6.12" (the charts plot percentages; the tables show the exact ratio)."""
    return str((ratio * 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def times_text(value: Decimal | None) -> str | None:
    """A multiple with two places ("4.82"), None where there is none (nothing paid in yet)."""
    return None if value is None else str(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


# ------------------------------------------------------------------------------- month ends


def chart_days(as_of: date) -> list[date]:
    """Every month end from the pool's first contribution (at most ``CHART_MONTHS`` months back) to
    ``as_of``, which stands for its own month."""
    first = db.session.scalar(sa.select(sa.func.min(RiskContribution.received_on)))
    index = as_of.year * 12 + as_of.month - 1
    start = index - (CHART_MONTHS - 1)
    if first is not None:
        start = max(start, min(first.year * 12 + first.month - 1, index))
    else:
        start = index
    days = []
    for month_index in range(start, index + 1):
        year, month = month_index // 12, month_index % 12 + 1
        days.append(min(date(year, month, calendar.monthrange(year, month)[1]), as_of))
    return days


@dataclass(frozen=True)
class MonthRow:
    """The pool at a month end: the table under the cash and leverage charts."""

    month: str
    day: date
    cash: Decimal
    paid_in: Decimal
    covered_outstanding: Decimal
    covered_exposure: Decimal
    multiple: int

    @property
    def cap(self) -> Decimal:
        return self.paid_in * self.multiple

    @property
    def leverage(self) -> Decimal | None:
        if self.paid_in <= 0:
            return None
        return (self.covered_outstanding / self.paid_in).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)

    @property
    def exposure_leverage(self) -> Decimal | None:
        if self.paid_in <= 0:
            return None
        return (self.covered_exposure / self.paid_in).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def month_rows(as_of: date) -> list[MonthRow]:
    """The pool at each month end of the charts: cash (one query), paid-in capital (one query over the
    contributions, the ledger's sub-ledger), the policies (one query), covered figures (one query for
    every month, ``queries.covered_history``)."""
    days = chart_days(as_of)
    cash = dict(queries.cash_history(days[0], days[-1]))
    contributions = db.session.execute(
        sa.select(RiskContribution.received_on, RiskContribution.amount).order_by(RiskContribution.received_on)
    ).all()
    policies = db.session.scalars(sa.select(Policy).order_by(Policy.effective_from)).all()
    covered = queries.covered_history(days)
    rows = []
    for day in days:
        paid_in = sum((amount for received_on, amount in contributions if received_on <= day), ZERO)
        in_force = [policy for policy in policies if policy.effective_from <= day] or policies[:1]
        outstanding, exposure = covered[day]
        rows.append(
            MonthRow(
                month=f"{day.year:04d}-{day.month:02d}",
                day=day,
                cash=cash.get(day, ZERO),
                paid_in=paid_in,
                covered_outstanding=outstanding,
                covered_exposure=exposure,
                multiple=in_force[-1].risk_leverage_multiple if in_force else 0,
            )
        )
    return rows


def overview_charts(
    rows: list[MonthRow], by_bank: list[dict], breakers: list[tuple[Bank, queries.BreakerView]]
) -> dict[str, dict[str, Any]]:
    """What each canvas of the overview draws (see static/js/risk.js for the shape)."""
    labels = [row.month for row in rows]
    wan = _("万元")
    cash = {
        "format": "money",
        "unit": wan,
        "labels": labels,
        "series": [
            {"label": _("银行存款"), "values": [money_text(row.cash) for row in rows], "type": "line", "fill": True},
            {"label": _("实收资本"), "values": [money_text(row.paid_in) for row in rows], "type": "line", "dashed": True},
        ],
    }
    claims = {
        "format": "money",
        "unit": wan,
        "labels": [line["bank_name"] for line in by_bank],
        "series": [
            {"label": _("已支付代偿（资金池承担）"), "values": [money_text(line["paid"]) for line in by_bank], "type": "bar"},
            {"label": _("排队待支付"), "values": [money_text(line["queued"]) for line in by_bank], "type": "bar", "tone": 1},
            {"label": _("追偿收回（资金池部分）"), "values": [money_text(line["recovered"]) for line in by_bank], "type": "bar",
             "tone": 2},
        ],
    }
    warning = breakers[0][1].warning if breakers else Decimal("0")
    suspend = breakers[0][1].suspend if breakers else Decimal("0")
    npl = {
        "format": "percent",
        "unit": "%",
        "suffix": "%",
        "labels": [bank.name for bank, _view in breakers],
        "series": [
            {
                "label": _("不良率"),
                "values": [percent_text(view.npl_ratio) for _bank, view in breakers],
                "type": "bar",
                "tones": [BREAKER_TONES[view.state] for _bank, view in breakers],
            },
            {"label": _("预警线"), "values": [percent_text(warning)] * len(breakers), "type": "line",
             "dashed": True, "rule": True, "tone": "warning"},
            {"label": _("暂停线"), "values": [percent_text(suspend)] * len(breakers), "type": "line",
             "dashed": True, "rule": True, "tone": "danger"},
        ],
    }
    times = _("倍")
    leverage = {
        "format": "number",
        "unit": times,
        "suffix": " " + times,
        "labels": labels,
        "series": [
            {"label": _("放大倍数（贷款余额 ÷ 实收资本）"), "values": [times_text(row.leverage) for row in rows], "type": "line"},
            {"label": _("敞口倍数（含未提款 ÷ 实收资本）"), "values": [times_text(row.exposure_leverage) for row in rows],
             "type": "line", "tone": 1},
            {"label": _("上限"), "values": [str(row.multiple) for row in rows], "type": "line", "dashed": True,
             "tone": "danger"},  # a line, not a rule: the policy's multiple may change over the months
        ],
    }
    return {"cash": cash, "claims": claims, "npl": npl, "leverage": leverage}


# ------------------------------------------------------------------------------------ stress


def stress_chart(result: stress.StressResult) -> dict[str, Any]:
    """The projection: cash at each month end (below zero in red), claims paid and recoveries."""
    rows = result.months
    return {
        "format": "money",
        "unit": _("万元"),
        "labels": [row.period for row in rows],
        "series": [
            {"label": _("月末现金"), "values": [money_text(row.cash) for row in rows], "type": "line", "negative": True},
            {"label": _("当月代偿"), "values": [money_text(row.claims) for row in rows], "type": "bar", "tone": 3},
            {"label": _("当月追偿收回"), "values": [money_text(row.recoveries) for row in rows], "type": "bar", "tone": 2},
        ],
    }


# ------------------------------------------------------------------------------- candidates


@dataclass(frozen=True)
class Candidate:
    """A loan of the liaison's bank on which a claim may be filed today."""

    loan: Loan
    state: LoanState
    trigger: int


def claim_candidates(bank_id: int, day: date) -> list[Candidate]:
    """The bank's covered loans with principal outstanding today, no open or paid claim, and at least
    their own policy's claim trigger days past due on ``day`` (today), longest overdue first. Three
    queries (loans, their states, the policies' triggers) whatever the number of loans."""
    claimed = sa.select(RiskClaim.active_loan_id).where(RiskClaim.active_loan_id.is_not(None))
    loans = db.session.scalars(
        sa.select(Loan)
        .where(
            Loan.bank_id == bank_id,
            Loan.covered.is_(True),
            Loan.start_date <= day,
            Loan.disbursed_total > Loan.repaid_principal,
            Loan.id.not_in(claimed),
        )
        .order_by(Loan.maturity_date, Loan.id)
    ).all()
    states = loan_states(loans, day)
    triggers = dict(db.session.execute(sa.select(Policy.id, Policy.risk_claim_trigger_dpd)).all())
    found = [
        Candidate(loan, states[loan.id], triggers[loan.policy_id])
        for loan in loans
        if states[loan.id].days_past_due >= triggers[loan.policy_id]
    ]
    found.sort(key=lambda candidate: -candidate.state.days_past_due)
    return found
