"""Knowledge-value credit loans: the rules for contracting, disbursing and repaying (domain.md §3).

Rules:
- A loan is contracted only for a registered science-tech enterprise (科技型企业) holding a rating
  valid on the contract date (``start_date``), within its credit line: the enterprise's exposure
  (principal not yet repaid of its non-repaid loans, ``parties.queries.enterprise_exposure``) plus
  the new principal never exceeds the line of that rating. The enterprise row is locked first, so
  two concurrent loans cannot both pass the line check.
- The term is at most the policy's ``max_term_months`` (12 by default) of the policy in force on the
  contract date: maturity later than start + N calendar months is refused. The loan keeps that
  policy's id.
- Contract numbers are unique per bank. Bad-credit or dishonest-list flags do not refuse a bank loan
  (domain.md sets them as seed-fund criteria only); the pages show them.
- Tranches (放款) never take the disbursed total beyond the principal, are dated within the contract
  (start to maturity) and never in the future; the first one makes the loan active.
- Repayments need something disbursed before them; principal repaid never exceeds what was
  outstanding on the payment date nor at any later date. A loan is repaid when its whole principal
  has been repaid, or when everything disbursed has been repaid and the loan is past maturity (no
  further tranche is possible). A repaid loan takes no further tranche or repayment.
- The bank's reference (``bank_ref``) identifies an event per bank: the same reference with the same
  content is the same event (returned, nothing written); with other content it is refused (409).
  UNIQUE constraints back this up under concurrency.

Services lock before their first flush, flush and never commit (core.unit_of_work). Refusals raise
``core.errors``: 422 a field is invalid, 409 a business rule refuses, 404 unknown record.
"""
from __future__ import annotations

import calendar
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import lazyload

from core import clock
from core.db import db
from core.errors import BusinessRuleError, NotFound, ValidationFailed
from core.i18n import _
from core.money import format_cny, to_fen
from core.policy.services import policy_in_force
from loans.models import Disbursement, Loan, LoanStatus, Repayment
from loans.queries import LoanState, loan_state  # re-exported: the state as of a day is read-side
from parties import queries as party_queries
from parties.models import Bank, Enterprise

__all__ = [
    "CONTRACT_NO_MAX_LENGTH",
    "BANK_REF_MAX_LENGTH",
    "RATE_PLACES",
    "add_months",
    "check_annual_rate",
    "create_loan",
    "record_disbursement",
    "record_repayment",
    "settle_matured_loans",
    "LoanState",
    "loan_state",
]

CONTRACT_NO_MAX_LENGTH = 64
BANK_REF_MAX_LENGTH = 64
PURPOSE_MAX_LENGTH = 2000
RATE_PLACES = 6
ZERO = Decimal("0.00")


# ------------------------------------------------------------------------------------------- helpers


def add_months(day: date, months: int) -> date:
    """``day`` plus ``months`` calendar months, clamped to the month's end (2025-01-31 + 1 = 2025-02-28)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def check_annual_rate(rate: object) -> Decimal:
    """The annual rate as an exact Decimal: at most 6 decimals, 0 <= rate < 1 (422 otherwise)."""
    if isinstance(rate, bool) or not isinstance(rate, (Decimal, int)):
        raise ValidationFailed(errors={"annual_rate": [_("年利率应为小数字符串，例如 \"0.0345\"")]})
    value = Decimal(rate)
    if not value.is_finite() or not Decimal(0) <= value < Decimal(1):
        raise ValidationFailed(errors={"annual_rate": [_("年利率应不小于 0 且小于 1，例如 \"0.0345\" 表示 3.45%")]})
    if value.quantize(Decimal(1).scaleb(-RATE_PLACES)) != value:
        raise ValidationFailed(errors={"annual_rate": [_("年利率最多保留 6 位小数")]})
    return value


def _amount_error(value: object, *, allow_zero: bool) -> str | None:
    """Why ``value`` is not an amount (Decimal/int, whole fen, positive or zero), or None."""
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        return _("金额格式不正确")
    try:
        fen = to_fen(value)
    except ValueError:
        return _("金额最多保留两位小数")
    if fen < 0 or (fen == 0 and not allow_zero):
        return _("金额必须大于零")
    return None


def _check_text(value: object, field: str, label: str, max_length: int, errors: dict[str, list[str]]) -> str:
    if not isinstance(value, str) or not value.strip():
        errors[field] = [_("请填写%(label)s", label=label)]
        return ""
    clean = value.strip()
    if len(clean) > max_length:
        errors[field] = [_("%(label)s不能超过 %(max)d 个字符", label=label, max=max_length)]
    return clean


def _check_date(value: object, field: str, errors: dict[str, list[str]]) -> None:
    if not isinstance(value, date):
        errors[field] = [_("日期格式不正确，应为 YYYY-MM-DD")]


def _not_in_future(day: date, field: str, errors: dict[str, list[str]]) -> None:
    if isinstance(day, date) and day > clock.today():
        errors[field] = [_("日期不能晚于今天（%(today)s）", today=clock.today().isoformat())]


def _raise_if(errors: dict[str, list[str]]) -> None:
    if errors:
        raise ValidationFailed(_("提交的数据有误：%(fields)s", fields="、".join(sorted(errors))), errors)


def _lock_loan(loan: Loan) -> Loan:
    """Re-read the loan row under ``SELECT ... FOR UPDATE`` (fresh values, even if already loaded).

    PostgreSQL: a second writer waits here until the first commits, then sees its totals.
    SQLite ignores FOR UPDATE; its BEGIN IMMEDIATE already serialises writers.
    """
    locked = db.session.execute(
        sa.select(Loan)
        .where(Loan.id == loan.id)
        .with_for_update(of=Loan)
        .options(lazyload("*"))  # the row only: relationships load on use (batches call this per row)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if locked is None:
        raise NotFound(_("贷款不存在"))
    return locked


def _flush_or_conflict() -> None:
    """Flush; a UNIQUE violation (a concurrent request with the same key) becomes a 409.

    The session must then be rolled back, which the unit of work does for the 409 response.
    """
    try:
        db.session.flush()
    except IntegrityError as error:
        raise BusinessRuleError(_("与并发提交的数据冲突（合同编号或银行流水号重复），未保存任何内容，请重试")) from error


# ----------------------------------------------------------------------------------------- contracts


def create_loan(
    *,
    bank_id: int,
    enterprise_id: int,
    contract_no: str,
    principal: Decimal,
    annual_rate: Decimal,
    start_date: date,
    maturity_date: date,
    purpose: str = "",
    created_by: str,
) -> Loan:
    """Record a loan contract of ``bank_id`` for ``enterprise_id``, judged by the facts of ``start_date``.

    422: a field missing or malformed, maturity not after start. 404: unknown bank.
    409: enterprise not a registered science-tech enterprise, no rating valid on the contract date,
    over the credit line, term beyond the policy's maximum, contract number already used by the bank,
    bank deactivated. Nothing is written when refused.
    """
    errors: dict[str, list[str]] = {}
    clean_contract = _check_text(contract_no, "contract_no", _("合同编号"), CONTRACT_NO_MAX_LENGTH, errors)
    if (problem := _amount_error(principal, allow_zero=False)) is not None:
        errors["principal"] = [problem]
    try:
        rate = check_annual_rate(annual_rate)
    except ValidationFailed as invalid:
        errors.update(invalid.errors)
        rate = Decimal(0)
    _check_date(start_date, "start_date", errors)
    _check_date(maturity_date, "maturity_date", errors)
    if "start_date" not in errors and "maturity_date" not in errors and maturity_date <= start_date:
        errors["maturity_date"] = [_("到期日必须晚于起始日")]
    if purpose is None:
        purpose = ""
    if not isinstance(purpose, str) or len(purpose.strip()) > PURPOSE_MAX_LENGTH:
        errors["purpose"] = [_("贷款用途不能超过 %(max)d 个字符", max=PURPOSE_MAX_LENGTH)]
    if not isinstance(enterprise_id, int) or isinstance(enterprise_id, bool):
        errors["enterprise_id"] = [_("请选择借款企业")]
    _raise_if(errors)

    bank = db.session.get(Bank, bank_id)
    if bank is None:
        raise NotFound(_("合作银行不存在"))
    if not bank.is_active:
        raise BusinessRuleError(_("合作银行“%(name)s”已停用，不能登记新贷款", name=bank.name))

    # The credit-line check reads the enterprise's other loans: lock the enterprise row first (before
    # any flush of this transaction), so a concurrent loan for the same enterprise waits for our commit.
    enterprise = db.session.execute(
        sa.select(Enterprise)
        .where(Enterprise.id == enterprise_id)
        .with_for_update(of=Enterprise)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if enterprise is None:
        raise ValidationFailed(
            _("借款企业不存在"), {"enterprise_id": [_("借款企业不存在，请先登记企业")]}
        )
    if not enterprise.is_science_tech:
        raise BusinessRuleError(
            _("%(name)s 不是已登记的科技型企业，不能办理知识价值信用贷款", name=enterprise.name),
            {"enterprise_id": [_("不是已登记的科技型企业")]},
        )

    duplicate = db.session.scalar(
        sa.select(Loan.id).where(Loan.bank_id == bank.id, Loan.contract_no == clean_contract).limit(1)
    )
    if duplicate is not None:
        raise BusinessRuleError(
            _("本行已登记合同编号为 %(no)s 的贷款", no=clean_contract),
            {"contract_no": [_("合同编号已存在")]},
        )

    policy = policy_in_force(start_date)
    latest_maturity = add_months(start_date, policy.max_term_months)
    if maturity_date > latest_maturity:
        raise BusinessRuleError(
            _(
                "贷款期限超过 %(months)d 个月：起始日 %(start)s 的到期日最晚为 %(latest)s",
                months=policy.max_term_months,
                start=start_date.isoformat(),
                latest=latest_maturity.isoformat(),
            ),
            {"maturity_date": [_("贷款期限不能超过 %(months)d 个月", months=policy.max_term_months)]},
        )

    rating = party_queries.rating_valid_on(enterprise.id, start_date)
    if rating is None:
        earlier = [r for r in enterprise.ratings if r.rated_on <= start_date]
        if earlier:
            last = max(earlier, key=lambda r: r.rated_on)
            message = _(
                "企业评级已过期：%(grade)s 级评级有效期至 %(until)s，合同日期 %(day)s 时无有效评级",
                grade=last.grade,
                until=last.valid_until.isoformat(),
                day=start_date.isoformat(),
            )
        else:
            message = _("企业在合同日期 %(day)s 没有有效的信用评级", day=start_date.isoformat())
        raise BusinessRuleError(message, {"enterprise_id": [_("合同日期无有效评级")]})

    settle_matured_loans(enterprise_id=enterprise.id)
    exposure = party_queries.enterprise_exposure(enterprise.id)
    if exposure + principal > rating.credit_line:
        available = max(rating.credit_line - exposure, ZERO)
        raise BusinessRuleError(
            _(
                "超出授信额度：%(grade)s 级额度 %(line)s，已占用 %(used)s，可用 %(available)s，本笔 %(principal)s",
                grade=rating.grade,
                line=format_cny(rating.credit_line),
                used=format_cny(exposure),
                available=format_cny(available),
                principal=format_cny(principal),
            ),
            {"principal": [_("超出可用授信额度 %(available)s", available=format_cny(available))]},
        )

    loan = Loan(
        bank_id=bank.id,
        enterprise_id=enterprise.id,
        contract_no=clean_contract,
        principal=principal,
        annual_rate=rate,
        start_date=start_date,
        maturity_date=maturity_date,
        purpose=purpose.strip(),
        status=LoanStatus.CONTRACTED.value,
        disbursed_total=ZERO,
        repaid_principal=ZERO,
        policy_id=policy.id,
        created_by=created_by,
    )
    db.session.add(loan)
    _flush_or_conflict()
    return loan


# ------------------------------------------------------------------------------------- disbursements


def record_disbursement(
    loan: Loan, *, amount: Decimal, disbursed_on: date, bank_ref: str, created_by: str
) -> tuple[Disbursement, bool]:
    """Record one tranche of ``loan``; returns ``(disbursement, created)``.

    Same ``bank_ref`` for the bank with the same loan, amount and date: the first record, ``created``
    False, nothing written. Same reference, other content: 409. 422 for a malformed field or a date
    in the future; 409 beyond the principal, outside start..maturity, on a repaid loan.
    The first tranche makes a contracted loan active.
    """
    errors: dict[str, list[str]] = {}
    if (problem := _amount_error(amount, allow_zero=False)) is not None:
        errors["amount"] = [problem]
    _check_date(disbursed_on, "disbursed_on", errors)
    _not_in_future(disbursed_on, "disbursed_on", errors)
    ref = _check_text(bank_ref, "bank_ref", _("银行流水号"), BANK_REF_MAX_LENGTH, errors)
    _raise_if(errors)

    loan = _lock_loan(loan)
    existing = db.session.scalar(
        sa.select(Disbursement).where(Disbursement.bank_id == loan.bank_id, Disbursement.bank_ref == ref)
    )
    if existing is not None:
        if (existing.loan_id, existing.amount, existing.disbursed_on) == (loan.id, amount, disbursed_on):
            return existing, False
        raise BusinessRuleError(
            _("银行流水号 %(ref)s 已用于另一笔放款（内容不同），未重复登记", ref=ref),
            {"bank_ref": [_("银行流水号已被使用")]},
        )

    if loan.status == LoanStatus.REPAID.value:
        raise BusinessRuleError(_("贷款 %(no)s 已结清，不能再放款", no=loan.contract_no))
    if disbursed_on < loan.start_date or disbursed_on > loan.maturity_date:
        raise BusinessRuleError(
            _(
                "放款日期须在合同期限内（%(start)s 至 %(end)s）",
                start=loan.start_date.isoformat(),
                end=loan.maturity_date.isoformat(),
            ),
            {"disbursed_on": [_("放款日期不在合同期限内")]},
        )
    remaining = loan.principal - loan.disbursed_total
    if amount > remaining:
        raise BusinessRuleError(
            _(
                "超出合同本金：合同本金 %(principal)s，已放款 %(disbursed)s，最多还可放款 %(remaining)s",
                principal=format_cny(loan.principal),
                disbursed=format_cny(loan.disbursed_total),
                remaining=format_cny(remaining),
            ),
            {"amount": [_("超出可放款金额 %(remaining)s", remaining=format_cny(remaining))]},
        )

    disbursement = Disbursement(
        loan=loan,
        bank_id=loan.bank_id,
        amount=amount,
        disbursed_on=disbursed_on,
        bank_ref=ref,
        created_by=created_by,
    )
    db.session.add(disbursement)
    loan.disbursed_total = loan.disbursed_total + amount
    if loan.status == LoanStatus.CONTRACTED.value:
        loan.status = LoanStatus.ACTIVE.value
    _flush_or_conflict()
    return disbursement, True


# ---------------------------------------------------------------------------------------- repayments


def record_repayment(
    loan: Loan, *, principal: Decimal, interest: Decimal, paid_on: date, bank_ref: str, created_by: str
) -> tuple[Repayment, bool]:
    """Record a repayment of principal and/or interest; returns ``(repayment, created)``.

    Idempotent per ``bank_ref`` like :func:`record_disbursement`. 422 for malformed amounts (both
    zero, negative) or a date in the future; 409 on a loan with nothing disbursed or already repaid,
    a date before the first tranche, or principal beyond what is outstanding on the payment date (or
    on any later date, given the repayments already recorded). Makes the loan repaid when its whole
    principal is repaid, or everything disbursed is repaid and the loan is past maturity.
    """
    errors: dict[str, list[str]] = {}
    if (problem := _amount_error(principal, allow_zero=True)) is not None:
        errors["principal"] = [problem]
    if (problem := _amount_error(interest, allow_zero=True)) is not None:
        errors["interest"] = [problem]
    if not errors and principal + interest <= 0:
        errors["principal"] = [_("还款本金与利息不能同时为零")]
    _check_date(paid_on, "paid_on", errors)
    _not_in_future(paid_on, "paid_on", errors)
    ref = _check_text(bank_ref, "bank_ref", _("银行流水号"), BANK_REF_MAX_LENGTH, errors)
    _raise_if(errors)

    loan = _lock_loan(loan)
    existing = db.session.scalar(
        sa.select(Repayment).where(Repayment.bank_id == loan.bank_id, Repayment.bank_ref == ref)
    )
    if existing is not None:
        same = (existing.loan_id, existing.principal, existing.interest, existing.paid_on) == (
            loan.id,
            principal,
            interest,
            paid_on,
        )
        if same:
            return existing, False
        raise BusinessRuleError(
            _("银行流水号 %(ref)s 已用于另一笔还款（内容不同），未重复登记", ref=ref),
            {"bank_ref": [_("银行流水号已被使用")]},
        )

    if loan.status == LoanStatus.CONTRACTED.value:
        raise BusinessRuleError(_("贷款 %(no)s 尚未放款，不能登记还款", no=loan.contract_no))
    if loan.status == LoanStatus.REPAID.value:
        raise BusinessRuleError(_("贷款 %(no)s 已结清，不能再登记还款", no=loan.contract_no))

    tranches = db.session.execute(
        sa.select(Disbursement.disbursed_on, Disbursement.amount).where(Disbursement.loan_id == loan.id)
    ).all()
    repaid = db.session.execute(
        sa.select(Repayment.paid_on, Repayment.principal).where(Repayment.loan_id == loan.id)
    ).all()
    if tranches and paid_on < (first_tranche := min(day for day, _amount in tranches)):
        raise BusinessRuleError(
            _("还款日期 %(day)s 早于首笔放款日期 %(first)s", day=paid_on.isoformat(), first=first_tranche.isoformat()),
            {"paid_on": [_("还款日期早于首笔放款日期")]},
        )
    if principal > 0:
        room = _repayable_on(loan, paid_on, tranches, repaid)
        if principal > room:
            raise BusinessRuleError(
                _(
                    "还款本金 %(principal)s 超出 %(day)s 的贷款余额，最多可还 %(room)s",
                    principal=format_cny(principal),
                    day=paid_on.isoformat(),
                    room=format_cny(room),
                ),
                {"principal": [_("超出贷款余额，最多可还 %(room)s", room=format_cny(room))]},
            )

    repayment = Repayment(
        loan=loan,
        bank_id=loan.bank_id,
        principal=principal,
        interest=interest,
        paid_on=paid_on,
        bank_ref=ref,
        created_by=created_by,
    )
    db.session.add(repayment)
    loan.repaid_principal = loan.repaid_principal + principal
    if loan.repaid_principal == loan.principal or (
        loan.repaid_principal == loan.disbursed_total and clock.today() > loan.maturity_date
    ):
        loan.status = LoanStatus.REPAID.value
    _flush_or_conflict()
    return repayment, True


def _repayable_on(
    loan: Loan, paid_on: date, tranches: list[tuple[date, Decimal]], repayments: list[tuple[date, Decimal]]
) -> Decimal:
    """The most principal a repayment dated ``paid_on`` may carry.

    Outstanding principal must stay >= 0 on every day from ``paid_on`` on, counting the repayments
    already recorded (some may be dated later than this one): the minimum, over ``paid_on`` and each
    later event date, of what was outstanding that day. The figures of a day are the running totals
    less what is dated later (as in loans.queries), so totals without records count as the oldest.
    """
    days = {paid_on} | {day for day, _x in tranches if day > paid_on} | {day for day, _x in repayments if day > paid_on}
    room = min(
        (loan.disbursed_total - sum((amount for on, amount in tranches if on > day), ZERO))
        - (loan.repaid_principal - sum((amount for on, amount in repayments if on > day), ZERO))
        for day in days
    )
    return max(room, ZERO)


# ------------------------------------------------------------------------------------------ lifecycle


def settle_matured_loans(*, enterprise_id: int | None = None, today: date | None = None) -> list[Loan]:
    """Mark repaid the loans past maturity whose disbursed principal is all repaid (none disbursed too).

    No tranche can come after maturity, so such a loan owes nothing and never will: it stops using
    its enterprise's credit line. Runs before every credit-line check (for that enterprise) and is
    meant for the daily job (all loans). The loans are locked first, and the condition is checked
    again under the lock, so a concurrent tranche is never overwritten.
    """
    today = today or clock.today()
    condition = sa.and_(
        Loan.status != LoanStatus.REPAID.value,
        Loan.repaid_principal == Loan.disbursed_total,
        Loan.maturity_date < today,
    )
    query = sa.select(Loan).where(condition)
    if enterprise_id is not None:
        query = query.where(Loan.enterprise_id == enterprise_id)
    loans = db.session.scalars(
        query.with_for_update(of=Loan)
        .options(lazyload("*"))  # the row only: relationships load on use (batches call this per row)
        .execution_options(populate_existing=True)
    ).all()
    settled = [loan for loan in loans if loan.repaid_principal == loan.disbursed_total]
    for loan in settled:
        loan.status = LoanStatus.REPAID.value
    if settled:
        db.session.flush()
    return settled
