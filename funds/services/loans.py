"""Contracts, disbursement through the agent bank, repayments (domain.md §5).

Rules:
- Contract (officer): only for an ``approved`` application whose public notice is over (the
  contract date is after ``notice_ends_on``) with no objection open, whose applicant has an
  enterprise (a startup team registers first), and that enterprise is still not on the
  dishonest-debtor list nor has a bad-credit record on the contract date. 409 otherwise.
  The contract number is ``ZZJJ-<year>-<seq>`` (种子基金), numbered per year of the contract date
  under the fund's lock (UNIQUE backs it up). The agent bank is the one named in the request or,
  by default, the fund's (``set_agent_bank``); without either the contract is refused (409).
- Disbursement (officer): the whole principal, once, through the agent bank, dated on or after
  the contract, not in the future; Dr seed.loans_receivable / Cr seed.cash. The commitment becomes
  outstanding principal (available is unchanged). The schedule is fixed then (funds.schedule).
  ``bank_ref`` is the agent bank's reference: the same reference for the same loan and date is the
  same event (returned, nothing written), with other content 409.
- Repayment (officer): at most the outstanding principal, dated on or after the disbursement;
  Dr seed.cash / Cr seed.loans_receivable. Instalments are covered earliest first (the schedule's
  ``paid``); the loan is ``repaid`` when nothing is outstanding. Idempotent per ``bank_ref`` like
  the disbursement. A written-off loan takes recoveries, not repayments.
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
from core.policy.services import policy_in_force
from funds.accounts import CASH, LOANS_RECEIVABLE
from funds.models import SeedInstalment, SeedLoan, SeedObjection, SeedRepayment
from funds.queries import fund_figures
from funds.schedule import build_schedule
from funds.services.applications import ensure_still_eligible
from funds.services.common import (
    BANK_REF_MAX_LENGTH,
    amount_error,
    business_day,
    invalid,
    last_step_on,
    lock_application,
    lock_loan,
    not_before,
    raise_if,
    record_step,
    text,
)
from funds.services.fund import lock_fund, post
from funds.states import Action, target_of
from parties.models import Bank

CONTRACT_PREFIX = "ZZJJ"


def contract_number(year: int, seq: int) -> str:
    return f"{CONTRACT_PREFIX}-{year}-{seq:04d}"


def _conflict_on_flush(message: str) -> None:
    try:
        db.session.flush()
    except IntegrityError as error:
        raise BusinessRuleError(message) from error


def sign_contract(
    application_id: int, *, on: date | None = None, agent_bank_id: int | None = None, by_id: int
) -> SeedLoan:
    """Make the contract and the seed loan of an approved application (status ``contracted``)."""
    day = business_day(on)
    state = lock_fund()
    application = lock_application(application_id)
    before = application.status
    if before == "objection_raised":
        raise BusinessRuleError(
            _("公示期内的异议尚未处理，不能签订合同"), {"objections": [_("有未处理的异议")]}
        )
    target = target_of(before, Action.CONTRACT)
    if day <= application.notice_ends_on:
        raise BusinessRuleError(
            _("公示期至 %(end)s 结束，之后才能签订合同", end=application.notice_ends_on.isoformat()),
            {"on": [_("公示期未满")]},
        )
    open_objections = db.session.scalar(
        sa.select(sa.func.count()).where(SeedObjection.application_id == application.id, SeedObjection.status == "open")
    )
    if open_objections:
        raise BusinessRuleError(_("公示期内的异议尚未处理，不能签订合同"), {"objections": [_("有未处理的异议")]})
    if application.enterprise_id is None:
        raise BusinessRuleError(
            _("创业团队“%(team)s”尚未登记企业，签订合同前须先登记企业", team=application.team_name or ""),
            {"enterprise_id": [_("尚未登记企业")]},
        )
    not_before(day, last_step_on(application.id))
    ensure_still_eligible(application.enterprise)

    bank = _agent_bank(agent_bank_id if agent_bank_id is not None else state.agent_bank_id)
    year = day.year
    seq = (db.session.scalar(sa.select(sa.func.max(SeedLoan.contract_seq)).where(SeedLoan.contract_year == year)) or 0) + 1
    loan = SeedLoan(
        application_id=application.id,
        enterprise_id=application.enterprise_id,
        agent_bank_id=bank.id,
        contract_no=contract_number(year, seq),
        contract_year=year,
        contract_seq=seq,
        principal=application.amount,
        term_months=application.term_months,
        repayment=application.repayment,
        purpose=application.purpose,
        contracted_on=day,
        status="contracted",
        policy_id=policy_in_force(day).id,
        contracted_by_id=by_id,
    )
    db.session.add(loan)
    application.status = target.value
    _conflict_on_flush(_("与并发提交的数据冲突（合同编号重复），未保存任何内容，请重试"))
    record_step(application, "contracted", from_status=before, on=day, by_id=by_id, comment=loan.contract_no)
    db.session.flush()
    return loan


def _agent_bank(bank_id: int | None) -> Bank:
    if bank_id is None:
        raise BusinessRuleError(
            _("尚未设置种子基金的委托贷款代理银行，请管理员先设置"), {"agent_bank_id": [_("未设置代理银行")]}
        )
    bank = db.session.get(Bank, bank_id) if isinstance(bank_id, int) and not isinstance(bank_id, bool) else None
    if bank is None:
        raise invalid({"agent_bank_id": [_("合作银行不存在")]})
    if not bank.is_active:
        raise BusinessRuleError(_("代理银行“%(name)s”已停用", name=bank.name), {"agent_bank_id": [_("该银行已停用")]})
    return bank


def disburse(loan_id: int, *, disbursed_on: date, bank_ref: str, by_id: int) -> tuple[SeedLoan, bool]:
    """Disburse the loan's whole principal through its agent bank; returns ``(loan, created)``."""
    errors: dict[str, list[str]] = {}
    ref = text(bank_ref, "bank_ref", _("银行流水号"), BANK_REF_MAX_LENGTH, errors, required=True)
    raise_if(errors)
    day = business_day(disbursed_on, "disbursed_on")
    lock_fund()
    loan = lock_loan(loan_id)
    existing = db.session.scalar(
        sa.select(SeedLoan).where(SeedLoan.agent_bank_id == loan.agent_bank_id, SeedLoan.disbursement_ref == ref)
    )
    if existing is not None:
        if existing.id == loan.id and existing.disbursed_on == day:
            return existing, False
        raise BusinessRuleError(
            _("银行流水号 %(ref)s 已用于另一笔放款（内容不同），未重复登记", ref=ref), {"bank_ref": [_("银行流水号已被使用")]}
        )
    if loan.status != "contracted":
        raise BusinessRuleError(
            _("借款 %(no)s 已于 %(day)s 放款，不能重复放款", no=loan.contract_no, day=loan.disbursed_on.isoformat()),
            {"loan": [_("已放款")]},
        )
    not_before(day, loan.contracted_on, "disbursed_on")
    cash = fund_figures().cash
    if cash < loan.principal:  # the commitment reserved it; this only guards the books
        raise BusinessRuleError(
            _("基金银行存款不足：需放款 %(amount)s，存款 %(cash)s", amount=format_cny(loan.principal), cash=format_cny(cash))
        )
    schedule = build_schedule(loan.principal, loan.term_months, loan.repayment, day)
    for seq, (due_on, principal) in enumerate(schedule, start=1):
        db.session.add(SeedInstalment(loan_id=loan.id, seq=seq, due_on=due_on, principal=principal))
    loan.status = "active"
    loan.disbursed_on = day
    loan.disbursement_ref = ref
    loan.maturity_date = schedule[-1][0]
    loan.disbursed_by_id = by_id
    _conflict_on_flush(_("与并发提交的数据冲突（银行流水号重复），未保存任何内容，请重试"))
    post(day, f"种子基金放款 {loan.contract_no}", LOANS_RECEIVABLE, CASH, loan.principal, ("seed_loan", loan.id))
    application = loan.application
    record_step(application, "disbursed", from_status=application.status, on=day, by_id=by_id, comment=ref)
    db.session.flush()
    db.session.expire(loan, ["instalments"])
    return loan, True


def record_repayment(
    loan_id: int, *, amount: Decimal, paid_on: date, bank_ref: str, by_id: int
) -> tuple[SeedRepayment, bool]:
    """Record a repayment of principal; returns ``(repayment, created)``."""
    errors: dict[str, list[str]] = {}
    if (problem := amount_error(amount)) is not None:
        errors["amount"] = [problem]
    ref = text(bank_ref, "bank_ref", _("银行流水号"), BANK_REF_MAX_LENGTH, errors, required=True)
    raise_if(errors)
    day = business_day(paid_on, "paid_on")
    lock_fund()
    loan = lock_loan(loan_id)
    existing = db.session.scalar(
        sa.select(SeedRepayment).where(SeedRepayment.bank_id == loan.agent_bank_id, SeedRepayment.bank_ref == ref)
    )
    if existing is not None:
        if (existing.loan_id, existing.amount, existing.paid_on) == (loan.id, amount, day):
            return existing, False
        raise BusinessRuleError(
            _("银行流水号 %(ref)s 已用于另一笔还款（内容不同），未重复登记", ref=ref), {"bank_ref": [_("银行流水号已被使用")]}
        )
    if loan.status == "contracted":
        raise BusinessRuleError(_("借款 %(no)s 尚未放款，不能登记还款", no=loan.contract_no))
    if loan.status == "repaid":
        raise BusinessRuleError(_("借款 %(no)s 已结清，不能再登记还款", no=loan.contract_no))
    if loan.status == "written_off":
        raise BusinessRuleError(_("借款 %(no)s 已核销，核销后收回的款项请登记为追偿收回", no=loan.contract_no))
    not_before(day, loan.disbursed_on, "paid_on")
    outstanding = loan.outstanding
    if amount > outstanding:
        raise BusinessRuleError(
            _("还款 %(amount)s 超过借款余额 %(outstanding)s", amount=format_cny(amount), outstanding=format_cny(outstanding)),
            {"amount": [_("最多可还 %(outstanding)s", outstanding=format_cny(outstanding))]},
        )
    repayment = SeedRepayment(loan_id=loan.id, bank_id=loan.agent_bank_id, amount=amount, paid_on=day, bank_ref=ref, created_by_id=by_id)
    db.session.add(repayment)
    loan.repaid_principal = loan.repaid_principal + amount
    if loan.outstanding == 0:
        loan.status = "repaid"
    _conflict_on_flush(_("与并发提交的数据冲突（银行流水号重复），未保存任何内容，请重试"))
    post(day, f"种子基金还款 {loan.contract_no}", CASH, LOANS_RECEIVABLE, amount, ("seed_repayment", repayment.id))
    db.session.expire(loan, ["repayments"])
    return repayment, True
