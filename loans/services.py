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
- A batch (``record_disbursements`` / ``record_repayments``) obeys the same rules, row by row in
  date order, all or nothing: the checks are pure functions over a :class:`LoanPosition` shared by
  the single and the bulk services. A batch locks each of its loans once, reads what it needs in a
  few queries whatever its length, and writes with one flush only when every row passes; otherwise
  it is refused (422) with every bad row named.

Services lock before their first flush, flush and never commit (core.unit_of_work). Refusals raise
``core.errors``: 422 a field is invalid, 409 a business rule refuses, 404 unknown record.
"""
from __future__ import annotations

import calendar
import gc
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import lazyload

from core import clock
from core.db import db, is_postgresql
from core.errors import BusinessRuleError, NotFound, ValidationFailed
from core.i18n import _, _l
from core.money import format_cny, to_fen
from core.periods import ensure_open
from core.policy.services import policy_in_force
from loans.batch_format import RowError, errors_by_row
from loans.models import Disbursement, Loan, LoanStatus, Repayment
from loans.queries import LoanState, loan_state  # re-exported: the state as of a day is read-side
from loans.tranche_grades import stamp_tranches
from parties import queries as party_queries
from parties.models import Bank, Enterprise

__all__ = [
    "CONTRACT_NO_MAX_LENGTH",
    "BANK_REF_MAX_LENGTH",
    "RATE_PLACES",
    "DISBURSEMENT_LABELS",
    "REPAYMENT_LABELS",
    "BulkLine",
    "BulkResult",
    "DisbursementInput",
    "LoanPosition",
    "RepaymentInput",
    "add_months",
    "apply_disbursement",
    "apply_repayment",
    "check_annual_rate",
    "check_disbursement_replay",
    "check_repayment_replay",
    "create_loan",
    "disbursement_field_errors",
    "loan_created_hooks",
    "record_disbursement",
    "record_disbursements",
    "record_repayment",
    "record_repayments",
    "repayable_on",
    "repayment_field_errors",
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


def _check_text(value: object, field: str, label: Any, max_length: int, errors: dict[str, list[str]]) -> str:
    # ``label`` may be lazy (``_l``): it is translated only for a message, not for every valid row.
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


def _not_in_future(day: object, field: str, today: date, errors: dict[str, list[str]]) -> None:
    if isinstance(day, date) and day > today:
        errors[field] = [_("日期不能晚于今天（%(today)s）", today=today.isoformat())]


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

loan_created_hooks: list[Callable[[Loan], None]] = []
"""Called with each new loan after its flush, in the same transaction (config registers the risk
pool's coverage decision here, so loans never imports risk); a hook refuses by raising."""



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
    ensure_open(start_date, "start_date")  # 409 in a closed month (core.periods), before any lock
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
    for hook in loan_created_hooks:
        hook(loan)
    return loan


# ------------------------------------------------------------------------------------ loan positions


@dataclass
class LoanPosition:
    """A loan as the tranche and repayment rules see it, in memory.

    The rules (:func:`apply_disbursement`, :func:`apply_repayment` and the field checks) are pure
    functions over a position: they read no database and no clock (``today`` is passed in). The
    single services build the position of the one loan they lock and apply one event to it; the
    bulk services build one per locked loan and apply a whole batch to them in date order, so each
    row is judged against what the rows before it left, exactly as if it were a request of its own.
    One set of rules, two ways of reaching the rows.
    """

    loan_id: int
    contract_no: str
    principal: Decimal
    disbursed_total: Decimal
    repaid_principal: Decimal
    status: str
    start_date: date
    maturity_date: date
    # (date, amount) of the recorded tranches and (date, principal) of the recorded repayments. The
    # repayment rule needs them (what was outstanding on a past day); None when not loaded, which
    # only the disbursement rule tolerates.
    tranches: list[tuple[date, Decimal]] | None = None
    repayments: list[tuple[date, Decimal]] | None = None

    @classmethod
    def of(
        cls,
        loan: Loan,
        tranches: Iterable[tuple[date, Decimal]] | None = None,
        repayments: Iterable[tuple[date, Decimal]] | None = None,
    ) -> LoanPosition:
        return cls(
            loan_id=loan.id,
            contract_no=loan.contract_no,
            principal=loan.principal,
            disbursed_total=loan.disbursed_total,
            repaid_principal=loan.repaid_principal,
            status=loan.status,
            start_date=loan.start_date,
            maturity_date=loan.maturity_date,
            tranches=None if tranches is None else [(day, amount) for day, amount in tranches],
            repayments=None if repayments is None else [(day, amount) for day, amount in repayments],
        )

    def write_to(self, loan: Loan) -> None:
        """Give the loan row this position's running totals and status (assigning only what changed,
        so an untouched loan stays clean and the audit trail records one update per changed loan)."""
        for attribute in ("disbursed_total", "repaid_principal", "status"):
            value = getattr(self, attribute)
            if getattr(loan, attribute) != value:
                setattr(loan, attribute, value)


# ---------------------------------------------------------------------------------- the rules (pure)


def disbursement_field_errors(
    amount: object, disbursed_on: object, bank_ref: object, today: date
) -> tuple[str, dict[str, list[str]]]:
    """The cleaned ``bank_ref`` and the field errors (422) of a tranche: a positive amount in whole
    fen, a date not after ``today``, a reference of at most 64 characters."""
    errors: dict[str, list[str]] = {}
    if (problem := _amount_error(amount, allow_zero=False)) is not None:
        errors["amount"] = [problem]
    _check_date(disbursed_on, "disbursed_on", errors)
    _not_in_future(disbursed_on, "disbursed_on", today, errors)
    ref = _check_text(bank_ref, "bank_ref", _l("银行流水号"), BANK_REF_MAX_LENGTH, errors)
    return ref, errors


def check_disbursement_replay(
    ref: str, recorded: tuple[int, Decimal, date], submitted: tuple[int, Decimal, date]
) -> None:
    """A reference already recorded is the same event only with the same (loan id, amount, date): 409 otherwise."""
    if recorded != submitted:
        raise BusinessRuleError(
            _("银行流水号 %(ref)s 已用于另一笔放款（内容不同），未重复登记", ref=ref),
            {"bank_ref": [_("银行流水号已被使用")]},
        )


def apply_disbursement(position: LoanPosition, amount: Decimal, disbursed_on: date) -> None:
    """Add a tranche to ``position``, or refuse it (409, the position unchanged).

    Refused on a repaid loan, outside the contract's start..maturity, or beyond the principal not
    yet disbursed. The first tranche makes a contracted loan active.
    """
    if position.status == LoanStatus.REPAID.value:
        raise BusinessRuleError(_("贷款 %(no)s 已结清，不能再放款", no=position.contract_no))
    if disbursed_on < position.start_date or disbursed_on > position.maturity_date:
        raise BusinessRuleError(
            _(
                "放款日期须在合同期限内（%(start)s 至 %(end)s）",
                start=position.start_date.isoformat(),
                end=position.maturity_date.isoformat(),
            ),
            {"disbursed_on": [_("放款日期不在合同期限内")]},
        )
    remaining = position.principal - position.disbursed_total
    if amount > remaining:
        raise BusinessRuleError(
            _(
                "超出合同本金：合同本金 %(principal)s，已放款 %(disbursed)s，最多还可放款 %(remaining)s",
                principal=format_cny(position.principal),
                disbursed=format_cny(position.disbursed_total),
                remaining=format_cny(remaining),
            ),
            {"amount": [_("超出可放款金额 %(remaining)s", remaining=format_cny(remaining))]},
        )
    position.disbursed_total = position.disbursed_total + amount
    if position.status == LoanStatus.CONTRACTED.value:
        position.status = LoanStatus.ACTIVE.value
    if position.tranches is not None:
        position.tranches.append((disbursed_on, amount))


def repayment_field_errors(
    principal: object, interest: object, paid_on: object, bank_ref: object, today: date
) -> tuple[str, dict[str, list[str]]]:
    """The cleaned ``bank_ref`` and the field errors (422) of a repayment: principal and interest in
    whole fen, zero or more, not both zero; a date not after ``today``; a reference."""
    errors: dict[str, list[str]] = {}
    if (problem := _amount_error(principal, allow_zero=True)) is not None:
        errors["principal"] = [problem]
    if (problem := _amount_error(interest, allow_zero=True)) is not None:
        errors["interest"] = [problem]
    if not errors and principal + interest <= 0:  # type: ignore[operator] - both are amounts here
        errors["principal"] = [_("还款本金与利息不能同时为零")]
    _check_date(paid_on, "paid_on", errors)
    _not_in_future(paid_on, "paid_on", today, errors)
    ref = _check_text(bank_ref, "bank_ref", _l("银行流水号"), BANK_REF_MAX_LENGTH, errors)
    return ref, errors


def check_repayment_replay(
    ref: str, recorded: tuple[int, Decimal, Decimal, date], submitted: tuple[int, Decimal, Decimal, date]
) -> None:
    """The same event only with the same (loan id, principal, interest, date): 409 otherwise."""
    if recorded != submitted:
        raise BusinessRuleError(
            _("银行流水号 %(ref)s 已用于另一笔还款（内容不同），未重复登记", ref=ref),
            {"bank_ref": [_("银行流水号已被使用")]},
        )


def apply_repayment(position: LoanPosition, principal: Decimal, paid_on: date, today: date) -> None:
    """Add a repayment of ``principal`` to ``position``, or refuse it (409, the position unchanged).

    Refused on a loan with nothing disbursed or already repaid, dated before the first tranche, or
    carrying more principal than :func:`repayable_on` allows. The loan becomes repaid when its
    whole principal is repaid, or everything disbursed is repaid and it is past maturity on
    ``today`` (no tranche can follow).
    """
    if position.tranches is None or position.repayments is None:
        raise ValueError("the repayment rule needs the loan's tranches and repayments")
    if position.status == LoanStatus.CONTRACTED.value:
        raise BusinessRuleError(_("贷款 %(no)s 尚未放款，不能登记还款", no=position.contract_no))
    if position.status == LoanStatus.REPAID.value:
        raise BusinessRuleError(_("贷款 %(no)s 已结清，不能再登记还款", no=position.contract_no))
    if position.tranches and paid_on < (first_tranche := min(day for day, _amount in position.tranches)):
        raise BusinessRuleError(
            _("还款日期 %(day)s 早于首笔放款日期 %(first)s", day=paid_on.isoformat(), first=first_tranche.isoformat()),
            {"paid_on": [_("还款日期早于首笔放款日期")]},
        )
    if principal > 0:
        room = repayable_on(position, paid_on)
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
    position.repaid_principal = position.repaid_principal + principal
    position.repayments.append((paid_on, principal))
    if position.repaid_principal == position.principal or (
        position.repaid_principal == position.disbursed_total and today > position.maturity_date
    ):
        position.status = LoanStatus.REPAID.value


def repayable_on(position: LoanPosition, paid_on: date) -> Decimal:
    """The most principal a repayment dated ``paid_on`` may carry.

    Outstanding principal must stay >= 0 on every day from ``paid_on`` on, counting the repayments
    already recorded (some may be dated later than this one): the minimum, over ``paid_on`` and each
    later event date, of what was outstanding that day. The figures of a day are the running totals
    less what is dated later (as in loans.queries), so totals without records count as the oldest.
    """
    tranches = position.tranches or []
    repayments = position.repayments or []
    days = {paid_on} | {day for day, _x in tranches if day > paid_on} | {day for day, _x in repayments if day > paid_on}
    room = min(
        (position.disbursed_total - sum((amount for on, amount in tranches if on > day), ZERO))
        - (position.repaid_principal - sum((amount for on, amount in repayments if on > day), ZERO))
        for day in days
    )
    return max(room, ZERO)


# ------------------------------------------------------------------------------ one event per request


def record_disbursement(
    loan: Loan, *, amount: Decimal, disbursed_on: date, bank_ref: str, created_by: str
) -> tuple[Disbursement, bool]:
    """Record one tranche of ``loan``; returns ``(disbursement, created)``.

    Same ``bank_ref`` for the bank with the same loan, amount and date: the first record, ``created``
    False, nothing written. Same reference, other content: 409. 422 for a malformed field or a date
    in the future; 409 beyond the principal, outside start..maturity, on a repaid loan.
    The first tranche makes a contracted loan active.
    """
    ensure_open(disbursed_on, "disbursed_on")  # 409 in a closed month (core.periods), before any lock
    ref, errors = disbursement_field_errors(amount, disbursed_on, bank_ref, clock.today())
    _raise_if(errors)

    loan = _lock_loan(loan)
    existing = db.session.scalar(
        sa.select(Disbursement).where(Disbursement.bank_id == loan.bank_id, Disbursement.bank_ref == ref)
    )
    if existing is not None:
        recorded = (existing.loan_id, existing.amount, existing.disbursed_on)
        check_disbursement_replay(ref, recorded, (loan.id, amount, disbursed_on))
        return existing, False

    position = LoanPosition.of(loan)
    apply_disbursement(position, amount, disbursed_on)
    disbursement = Disbursement(
        loan=loan,
        bank_id=loan.bank_id,
        amount=amount,
        disbursed_on=disbursed_on,
        bank_ref=ref,
        created_by=created_by,
    )
    db.session.add(disbursement)
    position.write_to(loan)
    _flush_or_conflict()
    return disbursement, True


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
    ensure_open(paid_on, "paid_on")  # 409 in a closed month (core.periods), before any lock
    today = clock.today()
    ref, errors = repayment_field_errors(principal, interest, paid_on, bank_ref, today)
    _raise_if(errors)

    loan = _lock_loan(loan)
    existing = db.session.scalar(
        sa.select(Repayment).where(Repayment.bank_id == loan.bank_id, Repayment.bank_ref == ref)
    )
    if existing is not None:
        recorded = (existing.loan_id, existing.principal, existing.interest, existing.paid_on)
        check_repayment_replay(ref, recorded, (loan.id, principal, interest, paid_on))
        return existing, False

    tranches, repayments = _histories([loan.id])
    position = LoanPosition.of(loan, tranches.get(loan.id, ()), repayments.get(loan.id, ()))
    apply_repayment(position, principal, paid_on, today)
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
    position.write_to(loan)
    _flush_or_conflict()
    return repayment, True


# ------------------------------------------------------------------------------- a batch per request


class DisbursementInput(Protocol):
    """One disbursement of a batch (``loans.batch_format.DisbursementRow`` is one)."""

    @property
    def row(self) -> int: ...
    @property
    def contract_no(self) -> str: ...
    @property
    def amount(self) -> Decimal: ...
    @property
    def disbursed_on(self) -> date: ...
    @property
    def bank_ref(self) -> str: ...


class RepaymentInput(Protocol):
    """One repayment of a batch (``loans.batch_format.RepaymentRow`` is one)."""

    @property
    def row(self) -> int: ...
    @property
    def contract_no(self) -> str: ...
    @property
    def principal(self) -> Decimal: ...
    @property
    def interest(self) -> Decimal: ...
    @property
    def paid_on(self) -> date: ...
    @property
    def bank_ref(self) -> str: ...


@dataclass(frozen=True)
class BulkLine:
    """One row of a batch, applied: what it recorded, or found already recorded."""

    row: int
    contract_no: str
    bank_ref: str
    on: date
    amount: Decimal  # the disbursed amount, or the repaid principal
    interest: Decimal | None  # repayments only
    created: bool  # False: an idempotent replay of a record made earlier
    loan_id: int
    record_id: int


@dataclass(frozen=True)
class BulkResult:
    """What a batch recorded, its lines in row order. Totals cover every line (new and replayed)."""

    lines: list[BulkLine]
    created: int
    duplicates: int
    total_amount: Decimal
    created_amount: Decimal
    total_interest: Decimal | None  # repayments only


DISBURSEMENT_LABELS: Mapping[str, Any] = {"amount": _l("金额"), "disbursed_on": _l("放款日期"), "bank_ref": _l("银行流水号")}
REPAYMENT_LABELS: Mapping[str, Any] = {
    "principal": _l("还款本金"),
    "interest": _l("利息"),
    "paid_on": _l("还款日期"),
    "bank_ref": _l("银行流水号"),
}

IN_LIST_MAX = 20_000
"""Values per ``IN (...)`` list: one statement for a whole batch (batch.MAX_BATCH_ROWS rows), far
below the bound-parameter limits (SQLite 32,766; PostgreSQL 65,535)."""


@dataclass(frozen=True)
class _BulkKind:
    """What differs between a batch of tranches and a batch of repayments; the engine is shared."""

    model: type[Disbursement] | type[Repayment]
    labels: Mapping[str, Any]
    needs_history: bool  # the rule reads the loans' dated tranches and repayments
    content_columns: tuple[Any, ...]  # compared, after the loan id, to tell a replay from a conflict
    on: Callable[[Any], Any]
    content: Callable[[Any], tuple[Any, ...]]
    field_errors: Callable[[Any, date], tuple[str, dict[str, list[str]]]]
    check_replay: Callable[[str, Any, Any], None]
    apply: Callable[[LoanPosition, Any, date], None]
    build: Callable[[Any, Loan, str, str], Disbursement | Repayment]
    amount: Callable[[Any], Decimal]
    interest: Callable[[Any], Decimal | None]


_DISBURSEMENTS = _BulkKind(
    model=Disbursement,
    labels=DISBURSEMENT_LABELS,
    needs_history=False,
    content_columns=(Disbursement.amount, Disbursement.disbursed_on),
    on=lambda row: row.disbursed_on,
    content=lambda row: (row.amount, row.disbursed_on),
    field_errors=lambda row, today: disbursement_field_errors(row.amount, row.disbursed_on, row.bank_ref, today),
    check_replay=check_disbursement_replay,
    apply=lambda position, row, today: apply_disbursement(position, row.amount, row.disbursed_on),
    build=lambda row, loan, ref, created_by: Disbursement(
        loan_id=loan.id,  # the id, not the relationship: no per-loan collection bookkeeping
        bank_id=loan.bank_id,
        amount=row.amount,
        disbursed_on=row.disbursed_on,
        bank_ref=ref,
        created_by=created_by,
    ),
    amount=lambda row: row.amount,
    interest=lambda row: None,
)

_REPAYMENTS = _BulkKind(
    model=Repayment,
    labels=REPAYMENT_LABELS,
    needs_history=True,
    content_columns=(Repayment.principal, Repayment.interest, Repayment.paid_on),
    on=lambda row: row.paid_on,
    content=lambda row: (row.principal, row.interest, row.paid_on),
    field_errors=lambda row, today: repayment_field_errors(row.principal, row.interest, row.paid_on, row.bank_ref, today),
    check_replay=check_repayment_replay,
    apply=lambda position, row, today: apply_repayment(position, row.principal, row.paid_on, today),
    build=lambda row, loan, ref, created_by: Repayment(
        loan_id=loan.id,
        bank_id=loan.bank_id,
        principal=row.principal,
        interest=row.interest,
        paid_on=row.paid_on,
        bank_ref=ref,
        created_by=created_by,
    ),
    amount=lambda row: row.principal,
    interest=lambda row: row.interest,
)


def record_disbursements(
    bank_id: int, rows: Sequence[DisbursementInput], created_by: str, *, rejected: Sequence[RowError] = ()
) -> BulkResult:
    """Record a batch of tranches of ``bank_id``'s loans, all or none, by the rules of :func:`record_disbursement`.

    Every loan the rows name is locked once, the bank's references among the rows are read once,
    the rows are applied in date order (then row order) to the loans' positions in memory, and only
    when every row passes are the new records inserted in one flush and each changed loan updated
    once. A row naming a contract that is not one of the bank's loans, a malformed field, a refusal
    by the rules, a reference recorded with other content: each is a row error (row number and a
    Chinese sentence), and any row error refuses the whole batch with :class:`ValidationFailed`
    (422) listing every bad row, nothing written. ``rejected``: rows the caller already found bad
    (unreadable cells); they are listed too, and refuse the batch like the others. A row whose
    reference is already recorded with the same content is a replay (``created`` False).
    """
    return _record_bulk(_DISBURSEMENTS, bank_id, rows, created_by, rejected)


def record_repayments(
    bank_id: int, rows: Sequence[RepaymentInput], created_by: str, *, rejected: Sequence[RowError] = ()
) -> BulkResult:
    """Record a batch of repayments, all or none, by the rules of :func:`record_repayment`
    (see :func:`record_disbursements`; the loans' dated tranches and repayments are read once,
    two queries, for the repayment rule)."""
    return _record_bulk(_REPAYMENTS, bank_id, rows, created_by, rejected)


@dataclass
class _Recorded:
    """A reference already taken: by a stored record (its id) or by a new record of this batch."""

    content: tuple[Any, ...]  # (loan id, *the kind's content)
    record_id: int | None = None
    record: Disbursement | Repayment | None = None

    @property
    def id(self) -> int:
        return self.record_id if self.record_id is not None else self.record.id  # type: ignore[union-attr]


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for the block (restored after, even on error).

    A batch builds tens of thousands of ORM objects that all stay alive until the commit; each
    allocation counts toward a collection, and the full collections they trigger walk the whole
    heap for nothing: about a fifth of a 10,000-row batch's CPU time (bench/batch_import.py).
    Reference counting still frees everything acyclic meanwhile.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _record_bulk(
    kind: _BulkKind, bank_id: int, rows: Sequence[Any], created_by: str, rejected: Sequence[RowError]
) -> BulkResult:
    with _collector_paused():
        return _apply_bulk(kind, bank_id, rows, created_by, rejected)


def _apply_bulk(
    kind: _BulkKind, bank_id: int, rows: Sequence[Any], created_by: str, rejected: Sequence[RowError]
) -> BulkResult:
    today = clock.today()
    errors: list[RowError] = list(rejected)
    # Locks first, before this request flushes anything (core.unit_of_work), in id order.
    loans = _lock_loans(bank_id, {row.contract_no for row in rows})
    histories = _histories([loan.id for loan in loans.values()]) if kind.needs_history else None
    positions: dict[int, LoanPosition] = {}
    for loan in loans.values():
        if histories is None:
            positions[loan.id] = LoanPosition.of(loan)
        else:
            positions[loan.id] = LoanPosition.of(loan, histories[0].get(loan.id, ()), histories[1].get(loan.id, ()))
    known = _recorded_references(kind, bank_id, {row.bank_ref.strip() for row in rows if isinstance(row.bank_ref, str)})

    new_records: list[Disbursement | Repayment] = []
    applied: list[_Applied] = []
    # In date order, as the events happened (a tranche before the repayment that follows it); the
    # report stays in row order.
    for row in sorted(rows, key=lambda row: (_sortable_day(kind.on(row)), row.row)):
        loan = loans.get(row.contract_no)
        if loan is None:
            errors.append(_unknown_contract(row.row, row.contract_no))
            continue
        ref, field_errors = kind.field_errors(row, today)
        if field_errors:
            errors.append(_row_error(row.row, _field_reason(field_errors, kind.labels)))
            continue
        submitted = (loan.id, *kind.content(row))
        try:
            ensure_open(kind.on(row))  # a row dated in a closed month is a row error (core.periods)
            if (previous := known.get(ref)) is not None:
                kind.check_replay(ref, previous.content, submitted)
                applied.append(_Applied(row, ref, loan.id, previous, created=False))
                continue
            kind.apply(positions[loan.id], row, today)
        except BusinessRuleError as refusal:
            errors.append(_row_error(row.row, refusal.message))
            continue
        record = kind.build(row, loan, ref, created_by)
        known[ref] = recorded = _Recorded(submitted, record=record)
        new_records.append(record)
        applied.append(_Applied(row, ref, loan.id, recorded, created=True))
    if errors:
        raise _batch_refused(errors)

    if new_records:
        if kind.model is Disbursement:  # every tranche's borrower and grade, in one statement
            stamp_tranches(new_records, {loan.id: loan.enterprise_id for loan in loans.values()})
        db.session.add_all(new_records)
        for loan in loans.values():
            positions[loan.id].write_to(loan)  # assigns only what changed: untouched loans stay clean
        # One flush: one executemany UPDATE for the loans; the INSERTs in batches of a thousand rows
        # on PostgreSQL (insertmanyvalues; SQLite gets one per row, in-process).
        _flush_or_conflict()
    return _bulk_result(kind, applied)


@dataclass(frozen=True)
class _Applied:
    """A row that passed: its cleaned reference, its loan and the record it made or replays."""

    row: Any
    ref: str
    loan_id: int
    recorded: _Recorded
    created: bool


def _bulk_result(kind: _BulkKind, applied: Sequence[_Applied]) -> BulkResult:
    """The lines in row order (the record ids are known once flushed) and their totals."""
    lines = sorted(
        (
            BulkLine(
                row=entry.row.row,
                contract_no=entry.row.contract_no,
                bank_ref=entry.ref,
                on=kind.on(entry.row),
                amount=kind.amount(entry.row),
                interest=kind.interest(entry.row),
                created=entry.created,
                loan_id=entry.loan_id,
                record_id=entry.recorded.id,
            )
            for entry in applied
        ),
        key=lambda line: line.row,
    )
    created_lines = [line for line in lines if line.created]
    return BulkResult(
        lines=lines,
        created=len(created_lines),
        duplicates=len(lines) - len(created_lines),
        total_amount=sum((line.amount for line in lines), ZERO),
        created_amount=sum((line.amount for line in created_lines), ZERO),
        total_interest=sum((line.interest or ZERO for line in lines), ZERO) if kind.model is Repayment else None,
    )


def _among(column: Any, values: Sequence[Any]) -> sa.ColumnElement[bool]:
    """``column IN (values)``; on PostgreSQL ``column = ANY(:values)``, one array parameter.

    Same rows. The array keeps the statement short: psycopg converts every placeholder of a
    statement in Python, and an IN list of 10,000 placeholders is a statement the server parses anew.
    """
    if is_postgresql():
        return column == sa.any_(sa.bindparam(None, list(values), type_=postgresql.ARRAY(column.type)))
    return column.in_(values)


def _chunks(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    size = IN_LIST_MAX  # read at call time (a test lowers it to reach the chunked paths)
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _locking(statement: sa.Select) -> sa.Select:
    """``statement`` over Loan, locking its rows in id order and reading them fresh.

    The rules read the loan's own columns only. Its relationships are joined or select-in loaded
    by default (bank, enterprise - whose ratings are select-in loaded in turn -, tranches,
    repayments): ``lazyload`` loads none of them here. Not ``noload`` (an instance the caller keeps
    would read empty collections) nor ``raiseload`` (the option stays on the instances for the rest
    of the session, so a later read of ``loan.bank`` in the same request would raise).
    """
    return (
        statement.order_by(Loan.id)
        .with_for_update(of=Loan)
        .options(
            lazyload(Loan.bank),
            lazyload(Loan.enterprise),
            lazyload(Loan.disbursements),
            lazyload(Loan.repayments),
        )
        .execution_options(populate_existing=True)
    )


def _lock_loans(bank_id: int, contract_nos: Iterable[str]) -> dict[str, Loan]:
    """The bank's loans with these contract numbers, row-locked once each, by contract number.

    One ``SELECT ... FOR UPDATE`` ordered by id for any batch of up to :data:`IN_LIST_MAX` loans.
    Beyond that, the ids are resolved first and locked chunk by chunk in id order, so every
    transaction takes its loan locks in the same (id) order and two batches cannot deadlock.
    """
    numbers = sorted({number for number in contract_nos if isinstance(number, str)})
    if not numbers:
        return {}
    if len(numbers) <= IN_LIST_MAX:
        loans = list(
            db.session.scalars(_locking(sa.select(Loan).where(Loan.bank_id == bank_id, _among(Loan.contract_no, numbers))))
        )
    else:
        ids = sorted(
            loan_id
            for chunk in _chunks(numbers)
            for loan_id in db.session.scalars(
                sa.select(Loan.id).where(Loan.bank_id == bank_id, _among(Loan.contract_no, chunk))
            )
        )
        loans = [loan for chunk in _chunks(ids) for loan in db.session.scalars(_locking(sa.select(Loan).where(_among(Loan.id, chunk))))]
    return {loan.contract_no: loan for loan in loans}


def _histories(
    loan_ids: Sequence[int],
) -> tuple[dict[int, list[tuple[date, Decimal]]], dict[int, list[tuple[date, Decimal]]]]:
    """(date, amount) of the tranches and (date, principal) of the repayments of these loans, by loan:
    two queries per :data:`IN_LIST_MAX` loans, the columns only."""
    tranches: dict[int, list[tuple[date, Decimal]]] = defaultdict(list)
    repayments: dict[int, list[tuple[date, Decimal]]] = defaultdict(list)
    for chunk in _chunks(sorted(loan_ids)):
        for loan_id, day, amount in db.session.execute(
            sa.select(Disbursement.loan_id, Disbursement.disbursed_on, Disbursement.amount).where(
                _among(Disbursement.loan_id, chunk)
            )
        ):
            tranches[loan_id].append((day, amount))
        for loan_id, day, amount in db.session.execute(
            sa.select(Repayment.loan_id, Repayment.paid_on, Repayment.principal).where(_among(Repayment.loan_id, chunk))
        ):
            repayments[loan_id].append((day, amount))
    return tranches, repayments


def _recorded_references(kind: _BulkKind, bank_id: int, refs: Iterable[str]) -> dict[str, _Recorded]:
    """The bank's records of ``kind`` whose reference is among ``refs``: one query per
    :data:`IN_LIST_MAX` references, the compared columns only."""
    model = kind.model
    found: dict[str, _Recorded] = {}
    for chunk in _chunks(sorted(refs)):
        statement = sa.select(model.id, model.bank_ref, model.loan_id, *kind.content_columns).where(
            model.bank_id == bank_id, _among(model.bank_ref, chunk)
        )
        for record_id, ref, loan_id, *content in db.session.execute(statement):
            found[ref] = _Recorded((loan_id, *content), record_id=record_id)
    return found


def _sortable_day(value: object) -> date:
    return value if isinstance(value, date) else date.min  # a malformed date is refused by its row check


def _row_error(row: int, reason: str) -> RowError:
    return RowError(row, _("第 %(row)d 行：%(reason)s", row=row, reason=reason))


def _unknown_contract(row: int, contract_no: str) -> RowError:
    # The same words for a contract of another bank: a bank never learns that another's loan exists.
    return RowError(
        row,
        _("第 %(row)d 行：合同编号「%(contract)s」不是本行登记的贷款", row=row, contract=contract_no),
        "contract_no",
    )


def _field_reason(errors: Mapping[str, list[str]], labels: Mapping[str, Any]) -> str:
    """Field errors as one sentence, each message after its column's name ("放款日期：…；金额：…")."""
    parts = []
    for key, messages in errors.items():
        label = labels.get(key)
        parts.extend(f"{label}：{message}" if label else str(message) for message in messages)
    return "；".join(parts)


def _batch_refused(errors: Sequence[RowError]) -> ValidationFailed:
    grouped = errors_by_row(errors)
    return ValidationFailed(
        _("文件中有 %(count)d 行有误，未导入任何记录；请更正后重新上传整个文件", count=len(grouped)),
        errors=grouped,
    )


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
        query.order_by(Loan.id)  # id order, as every multi-loan lock here: two lockers never deadlock
        .with_for_update(of=Loan)
        .options(lazyload("*"))  # the row only: relationships load on use
        .execution_options(populate_existing=True)
    ).all()
    settled = [loan for loan in loans if loan.repaid_principal == loan.disbursed_total]
    for loan in settled:
        loan.status = LoanStatus.REPAID.value
    if settled:
        db.session.flush()
    return settled
