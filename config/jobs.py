"""The four scheduled jobs, registered with the runner (``core.jobs.runner``).

The cross-domain wiring lives here because only ``config`` may import every package. Each job is
``func(period, progress) -> dict`` (the dict is stored as the run's result); it flushes, and the runner
commits its writes together with the run's status.

- ``daily-classification`` (period: the day): settles matured loans that are fully repaid, stores each
  loan's DPD snapshot (``loans.jobs``), evaluates every bank's breaker (``risk.services``) and purges
  expired API tokens and old failed-login counters.
- ``contracts`` (period: the day; rerunnable, every 10 minutes): renders the seed-loan contracts and
  compensation notices still missing a PDF (``config.documents_jobs``).
- ``monthly-reconciliation`` (period: the month; run again, REPLACING the result, until the month is
  signed off): ``config.reconciliation.run_reconciliation``.
- ``monthly-statements`` (period: the month): ``config.documents_jobs.generate_monthly_statements``.

The documents and reconciliation modules are imported inside the functions that use them, so the
registry (and the daily job) works whatever state those modules are in.
"""
from __future__ import annotations

from datetime import date
from typing import Any

from core import clock
from core.auth.throttle import purge_expired
from core.auth.tokens import purge_expired_tokens
from core.i18n import _l
from core.jobs.runner import Progress, register_job
from loans.jobs import store_dpd_snapshots
from loans.services import settle_matured_loans
from risk.services import evaluate_breakers

__all__ = [
    "contracts",
    "daily_classification",
    "monthly_reconciliation",
    "monthly_statements",
    "register_jobs",
]


def daily_classification(period: str, progress: Progress) -> dict[str, Any]:
    day = date.fromisoformat(period)
    settled = settle_matured_loans(today=day)
    snapshots = store_dpd_snapshots(day, progress)
    breaker_changes = evaluate_breakers(day)
    return {
        "settled_loans": len(settled),
        "snapshots": snapshots,
        "breaker_changes": [
            {"bank_id": change.bank_id, "from": change.previous_state, "to": change.state} for change in breaker_changes
        ],
        "expired_tokens_purged": purge_expired_tokens(),
        "login_failures_purged": purge_expired(),
    }


def contracts(period: str, progress: Progress) -> dict[str, Any]:
    from config.documents_jobs import render_missing_documents

    return {"documents": render_missing_documents(clock.now(), progress=progress)}


def monthly_reconciliation(period: str, progress: Progress) -> dict[str, Any]:
    from config.reconciliation import run_reconciliation

    return dict(run_reconciliation(period, progress) or {})


def reconciliation_is_open(period: str) -> bool:
    """The reconciliation of a month runs again (replacing its result) until the month is signed off."""
    from core.reconciliation import SIGNED_OFF, get_result

    result = get_result(period)
    return result is None or result.status != SIGNED_OFF


def monthly_statements(period: str, progress: Progress) -> dict[str, Any]:
    from config.documents_jobs import generate_monthly_statements

    return {"documents": generate_monthly_statements(period, progress=progress)}


def register_jobs() -> None:
    """Register the four jobs (idempotent: a second app in the same process registers them again)."""
    from config.scheduler import schedule_label

    for name, func, kind, rerunnable, title in (
        ("daily-classification", daily_classification, "day", False, _l("每日风险分类与快照")),
        ("contracts", contracts, "day", True, _l("生成合同与代偿通知书")),
        ("monthly-reconciliation", monthly_reconciliation, "month", reconciliation_is_open, _l("月度对账")),
        ("monthly-statements", monthly_statements, "month", False, _l("月度报表")),
    ):
        register_job(name, func, kind, rerunnable=rerunnable, title=title, schedule=schedule_label(name))
