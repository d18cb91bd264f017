"""The pool's codes and their names as people read them (Chinese ids, translated by the catalog).

The API sends the codes (stable, English); pages and documents show these labels.
"""
from __future__ import annotations

from core.i18n import _l

# Why a loan is not covered (``loans.coverage_reason``), see risk.services.coverage.
POOL_UNDERFUNDED = "pool_underfunded"
BANK_SUSPENDED = "bank_suspended"
LEVERAGE_CAP = "leverage_cap"

COVERAGE_REASONS = {
    POOL_UNDERFUNDED: _l("风险补偿资金池到位资金不足认缴规模的规定比例"),
    BANK_SUSPENDED: _l("合作银行处于熔断暂停状态"),
    LEVERAGE_CAP: _l("纳入补偿的贷款将超过资金池放大倍数上限"),
}

CLAIM_STATUS_LABELS = {
    "submitted": _l("已提交"),
    "paid": _l("已批准并支付"),
    "approved_unpaid": _l("已批准待支付"),
    "rejected": _l("已驳回"),
}

BREAKER_STATE_LABELS = {
    "normal": _l("正常"),
    "warning": _l("预警"),
    "suspended": _l("暂停"),
}

SOURCE_LABELS = {"city": _l("市级"), "county": _l("县级")}


def coverage_reason_label(code: str | None) -> str | None:
    """The reason a loan is not covered, in the interface's language (None when covered)."""
    return None if code is None else str(COVERAGE_REASONS.get(code, code))


def claim_status_label(status: str) -> str:
    return str(CLAIM_STATUS_LABELS.get(status, status))


def breaker_state_label(state: str) -> str:
    return str(BREAKER_STATE_LABELS.get(state, state))


def source_label(source: str) -> str:
    return str(SOURCE_LABELS.get(source, source))
