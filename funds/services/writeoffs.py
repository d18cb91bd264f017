"""Write-offs and recoveries after write-off (domain.md §5).

Rules:
- An officer proposes writing off a defaulted loan with a reason: the loan is active and overdue
  (days past due > 0) on the proposal's date; one live proposal per loan (409 otherwise).
- A fund manager who did not propose it (four eyes, 409) approves or rejects the proposal. On
  approval the loan's outstanding principal is the loss: Dr seed.written_off / Cr
  seed.loans_receivable, and the loan is ``written_off``. A rejected proposal ends; a new one may
  be made later.
- Money recovered afterwards (追偿) returns to the fund's cash: Dr seed.cash / Cr seed.recoveries,
  at most the principal written off in total, idempotent per agent-bank reference.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from core.db import db
from core.errors import BusinessRuleError
from core.i18n import _
from core.money import format_cny
from funds.accounts import CASH, LOANS_RECEIVABLE, RECOVERIES, WRITTEN_OFF
from funds.models import SeedRecovery, SeedWriteOff
from funds.permissions import ensure_not_proposer
from funds.queries import loan_state
from funds.services.common import (
    BANK_REF_MAX_LENGTH,
    COMMENT_MAX_LENGTH,
    amount_error,
    business_day,
    lock_loan,
    not_before,
    raise_if,
    text,
)
from funds.services.fund import lock_fund, post


def _live_write_off(loan_id: int) -> SeedWriteOff | None:
    return db.session.scalar(
        sa.select(SeedWriteOff)
        .where(SeedWriteOff.loan_id == loan_id, SeedWriteOff.status.in_(("proposed", "approved")))
        .execution_options(populate_existing=True)
    )


def propose_write_off(loan_id: int, *, reason: str, on: date | None = None, by_id: int) -> SeedWriteOff:
    """An officer's proposal. 422 without a reason; 409 not active, not overdue, already proposed."""
    errors: dict[str, list[str]] = {}
    clean = text(reason, "reason", _("核销理由"), COMMENT_MAX_LENGTH, errors, required=True)
    raise_if(errors)
    day = business_day(on)
    loan = lock_loan(loan_id)
    if loan.status != "active":
        raise BusinessRuleError(
            _("只有已放款且未结清的借款可以核销（借款 %(no)s 当前状态：%(status)s）", no=loan.contract_no, status=loan.status)
        )
    if _live_write_off(loan.id) is not None:
        raise BusinessRuleError(_("借款 %(no)s 已有待审批的核销提议", no=loan.contract_no))
    not_before(day, loan.disbursed_on)
    state = loan_state(loan, day)
    if state.days_past_due <= 0:
        raise BusinessRuleError(
            _("借款 %(no)s 在 %(day)s 未逾期，不能提议核销", no=loan.contract_no, day=day.isoformat()),
            {"reason": [_("借款未逾期")]},
        )
    write_off = SeedWriteOff(loan_id=loan.id, status="proposed", reason=clean, proposed_on=day, proposed_by_id=by_id)
    db.session.add(write_off)
    try:
        db.session.flush()
    except IntegrityError as error:
        raise BusinessRuleError(_("借款 %(no)s 已有待审批的核销提议", no=loan.contract_no)) from error
    return write_off


def decide_write_off(
    loan_id: int, *, approve: bool, comment: str = "", on: date | None = None, by_id: int
) -> SeedWriteOff:
    """A manager approves (loss posted) or rejects the loan's open proposal.

    409: no open proposal, four eyes (the proposer), nothing outstanding any more.
    """
    errors: dict[str, list[str]] = {}
    if not isinstance(approve, bool):
        errors["approve"] = [_("应为 true 或 false")]
    clean = text(comment, "reason", _("意见"), COMMENT_MAX_LENGTH, errors, required=False)
    raise_if(errors)
    day = business_day(on)
    lock_fund()
    loan = lock_loan(loan_id)
    write_off = _live_write_off(loan.id)
    if write_off is None or write_off.status != "proposed":
        raise BusinessRuleError(_("借款 %(no)s 没有待审批的核销提议", no=loan.contract_no))
    ensure_not_proposer(write_off.proposed_by_id, by_id)
    not_before(day, write_off.proposed_on)
    write_off.decided_on = day
    write_off.decided_by_id = by_id
    write_off.decision_comment = clean
    if not approve:
        write_off.status = "rejected"
        db.session.flush()
        db.session.expire(write_off, ["decided_by"])  # loaded with the row, before the id was set
        return write_off
    if loan.status != "active" or loan.outstanding <= 0:
        raise BusinessRuleError(_("借款 %(no)s 已无未还本金，无需核销", no=loan.contract_no))
    amount = loan.outstanding
    write_off.status = "approved"
    write_off.amount = amount
    loan.written_off_principal = amount
    loan.written_off_on = day
    loan.status = "written_off"
    db.session.flush()
    post(day, f"种子基金核销 {loan.contract_no}", WRITTEN_OFF, LOANS_RECEIVABLE, amount, ("seed_write_off", write_off.id))
    db.session.expire(write_off, ["decided_by"])
    return write_off


def record_recovery(
    loan_id: int, *, amount: Decimal, recovered_on: date, bank_ref: str, note: str = "", by_id: int
) -> tuple[SeedRecovery, bool]:
    """Money recovered on a written-off loan, back to the fund's cash; returns ``(recovery, created)``.

    409: the loan is not written off, the date is before the write-off, more than what is left
    unrecovered, a reference already used for other content.
    """
    errors: dict[str, list[str]] = {}
    if (problem := amount_error(amount)) is not None:
        errors["amount"] = [problem]
    ref = text(bank_ref, "bank_ref", _("银行流水号"), BANK_REF_MAX_LENGTH, errors, required=True)
    clean_note = text(note, "note", _("备注"), COMMENT_MAX_LENGTH, errors, required=False)
    raise_if(errors)
    day = business_day(recovered_on, "recovered_on")
    lock_fund()
    loan = lock_loan(loan_id)
    existing = db.session.scalar(
        sa.select(SeedRecovery).where(SeedRecovery.bank_id == loan.agent_bank_id, SeedRecovery.bank_ref == ref)
    )
    if existing is not None:
        if (existing.loan_id, existing.amount, existing.recovered_on) == (loan.id, amount, day):
            return existing, False
        raise BusinessRuleError(
            _("银行流水号 %(ref)s 已用于另一笔收回（内容不同），未重复登记", ref=ref), {"bank_ref": [_("银行流水号已被使用")]}
        )
    if loan.status != "written_off":
        raise BusinessRuleError(_("借款 %(no)s 未核销：核销前的回款请登记为还款", no=loan.contract_no))
    not_before(day, loan.written_off_on, "recovered_on")
    left = loan.written_off_principal - loan.recovered
    if amount > left:
        raise BusinessRuleError(
            _("收回金额 %(amount)s 超过尚未收回的核销本金 %(left)s", amount=format_cny(amount), left=format_cny(left)),
            {"amount": [_("最多可收回 %(left)s", left=format_cny(left))]},
        )
    recovery = SeedRecovery(
        loan_id=loan.id, bank_id=loan.agent_bank_id, amount=amount, recovered_on=day, bank_ref=ref, note=clean_note,
        created_by_id=by_id,
    )
    db.session.add(recovery)
    loan.recovered = loan.recovered + amount
    try:
        db.session.flush()
    except IntegrityError as error:
        raise BusinessRuleError(_("与并发提交的数据冲突（银行流水号重复），未保存任何内容，请重试")) from error
    post(day, f"种子基金核销后收回 {loan.contract_no}", CASH, RECOVERIES, amount, ("seed_recovery", recovery.id))
    db.session.expire(loan, ["recoveries"])
    return recovery, True
