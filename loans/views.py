"""Loan pages: the list (a liaison's own bank; every bank for programme staff), a loan's page with its
tranches, repayments, days past due and classification, and the forms a liaison records them with.

A form re-rendered after a refusal answers with the refusal's status (409, 422), so the unit of work
rolls back anything the request might have flushed.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import DateField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from core import clock
from core.auth.permissions import roles_required
from core.errors import DomainError
from core.i18n import _, _l
from core.money import InvalidAmount, parse_decimal_text
from loans import queries, services
from loans.dpd import Classification
from loans.export import ledger_download
from loans.permissions import LOAN_READERS, LOAN_WRITERS, acting_bank_id, can_write_loans, writable_loan
from loans.queries import LOAN_STATES
from parties.queries import active_bank_choices, find_enterprise_by_credit_code

blueprint = Blueprint("loans", __name__)

LOANS_PER_PAGE = 50

STATE_LABELS = {
    "contracted": _l("已签约"),
    "active": _l("存续中"),
    "overdue": _l("逾期"),
    "repaid": _l("已结清"),
}
CLASSIFICATION_TONES = {
    "normal": "success",
    "special_mention": "warning",
    "substandard": "danger",
    "doubtful": "danger",
    "loss": "dark",
}


# -------------------------------------------------------------------------------------------- fields


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _amount(allow_zero: bool = False):
    """A WTForms validator turning the text into an exact Decimal (thousands separators allowed)."""

    def check(form: FlaskForm, field: StringField) -> None:
        if not field.data:
            if allow_zero:
                field.data = Decimal("0.00")
                return
            raise ValidationError(_("请填写金额"))
        try:
            value = parse_decimal_text(field.data)
        except InvalidAmount as error:
            raise ValidationError(error.message) from error
        if value < 0 or (value == 0 and not allow_zero):
            raise ValidationError(_("金额必须大于零"))
        field.data = value

    return check


def _percent(form: FlaskForm, field: StringField) -> None:
    """Annual rate typed as a percentage (3.45 means 3.45%), kept exact: at most 4 decimals."""
    text = (field.data or "").strip().rstrip("%").strip()
    try:
        value = Decimal(text)
    except InvalidOperation as error:
        raise ValidationError(_("年利率应为百分比数字，例如 3.45")) from error
    if not value.is_finite() or not Decimal(0) <= value < Decimal(100):
        raise ValidationError(_("年利率应不小于 0 且小于 100%"))
    if value.quantize(Decimal("0.0001")) != value:
        raise ValidationError(_("年利率（%）最多保留 4 位小数"))
    field.data = value / 100


def _date_field(label: Any, description: Any = None) -> DateField:
    return DateField(
        label,
        validators=[InputRequired(message=_l("请填写日期"))],
        description=description,
        render_kw={"type": "date"},
    )


# --------------------------------------------------------------------------------------------- forms


class LoanForm(FlaskForm):
    contract_no = StringField(
        _l("合同编号"),
        filters=[_strip],
        validators=[DataRequired(message=_l("请填写合同编号")), Length(max=services.CONTRACT_NO_MAX_LENGTH)],
        description=_l("本行贷款合同编号，同一银行内不可重复。"),
    )
    credit_code = StringField(
        _l("借款企业统一社会信用代码"),
        filters=[_strip],
        validators=[DataRequired(message=_l("请填写统一社会信用代码")), Length(max=40)],
        description=_l("企业须已在平台登记为科技型企业，并在合同日期持有有效评级。"),
    )
    principal = StringField(_l("合同本金（元）"), filters=[_strip], validators=[_amount()], render_kw={"inputmode": "decimal"})
    annual_rate = StringField(
        _l("年利率（%）"),
        filters=[_strip],
        validators=[DataRequired(message=_l("请填写年利率")), _percent],
        description=_l("例如 3.45 表示年利率 3.45%（参考放款当月 LPR）。"),
        render_kw={"inputmode": "decimal"},
    )
    start_date = _date_field(_l("合同起始日"), _l("额度与评级按此日期核对。"))
    maturity_date = _date_field(_l("到期日"), _l("期限最长 12 个月。"))
    purpose = TextAreaField(
        _l("贷款用途"), filters=[_strip], validators=[Optional(), Length(max=services.PURPOSE_MAX_LENGTH)], render_kw={"rows": 3}
    )


class DisbursementForm(FlaskForm):
    amount = StringField(_l("放款金额（元）"), filters=[_strip], validators=[_amount()], render_kw={"inputmode": "decimal"})
    disbursed_on = _date_field(_l("放款日期"), _l("须在合同期限内，且不晚于今天。"))
    bank_ref = StringField(
        _l("银行流水号"),
        filters=[_strip],
        validators=[DataRequired(message=_l("请填写银行流水号")), Length(max=services.BANK_REF_MAX_LENGTH)],
        description=_l("同一流水号只记一次：重复提交相同内容不会重复入账。"),
    )


class RepaymentForm(FlaskForm):
    principal = StringField(_l("归还本金（元）"), filters=[_strip], validators=[_amount(allow_zero=True)], render_kw={"inputmode": "decimal"})
    interest = StringField(_l("支付利息（元）"), filters=[_strip], validators=[_amount(allow_zero=True)], render_kw={"inputmode": "decimal"})
    paid_on = _date_field(_l("还款日期"), _l("不早于首笔放款日期，且不晚于今天。"))
    bank_ref = StringField(
        _l("银行流水号"),
        filters=[_strip],
        validators=[DataRequired(message=_l("请填写银行流水号")), Length(max=services.BANK_REF_MAX_LENGTH)],
        description=_l("同一流水号只记一次：重复提交相同内容不会重复入账。"),
    )


def _apply_refusal(form: FlaskForm, error: DomainError, aliases: dict[str, str] | None = None) -> None:
    """Show a service refusal under the fields it names, and its message above the form."""
    aliases = aliases or {}
    for field_name, messages in error.errors.items():
        field = getattr(form, aliases.get(field_name, field_name), None)
        if field is not None and hasattr(field, "errors"):
            field.errors = list(field.errors) + list(messages)
    form.form_errors.append(error.message)


# --------------------------------------------------------------------------------------------- pages


def _int_arg(name: str) -> int | None:
    try:
        return int(request.args[name])
    except (KeyError, TypeError, ValueError):
        return None


def _as_of_arg() -> date | None:
    text = request.args.get("as_of") or ""
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


@blueprint.get("/loans")
@roles_required(*LOAN_READERS)
def index():
    classifications = [c.value for c in Classification]
    classification = request.args.get("classification") or None
    status = request.args.get("status") or None
    filters = {
        "q": (request.args.get("q") or "").strip(),
        "bank_id": None if current_user.is_liaison else _int_arg("bank_id"),
        "classification": classification if classification in classifications else None,
        "status": status if status in LOAN_STATES else None,
        "as_of": _as_of_arg(),
    }
    page = max(1, _int_arg("page") or 1)
    rows, total = queries.visible_loans(
        as_of=filters["as_of"],
        bank_id=filters["bank_id"],
        classification=filters["classification"],
        status=filters["status"],
        search=filters["q"] or None,
        page=page,
        per_page=LOANS_PER_PAGE,
    )
    return render_template(
        "loans/list.html",
        rows=rows,
        total=total,
        page=page,
        per_page=LOANS_PER_PAGE,
        filters=filters,
        as_of=filters["as_of"] or clock.today(),
        banks=[] if current_user.is_liaison else active_bank_choices(),
        classifications=list(Classification),
        states=LOAN_STATES,
        state_labels=STATE_LABELS,
        classification_tones=CLASSIFICATION_TONES,
        can_write=can_write_loans(),
    )


@blueprint.get("/loans/<int:loan_id>")
@roles_required(*LOAN_READERS)
def detail(loan_id: int):
    loan = queries.visible_loan(loan_id)
    as_of = _as_of_arg()
    state = queries.loan_state(loan, as_of)
    return render_template(
        "loans/detail.html",
        loan=loan,
        state=state,
        rate_text=f"{(loan.annual_rate * 100).normalize():f}%",
        history=queries.dpd_history(loan, state.as_of) if state.as_of >= loan.start_date else [],
        as_of_given=as_of is not None,
        state_labels=STATE_LABELS,
        classification_tones=CLASSIFICATION_TONES,
        can_write=can_write_loans() and loan.bank_id == current_user.bank_id,
    )


@blueprint.route("/loans/new", methods=["GET", "POST"])
@roles_required(*LOAN_WRITERS)
def new():
    form = LoanForm()
    if form.validate_on_submit():
        enterprise = find_enterprise_by_credit_code(form.credit_code.data)
        if enterprise is None:
            form.credit_code.errors = [_("平台尚未登记该统一社会信用代码的企业")]
            return render_template("loans/loan_form.html", form=form), 422
        try:
            loan = services.create_loan(
                bank_id=acting_bank_id(),
                enterprise_id=enterprise.id,
                contract_no=form.contract_no.data,
                principal=form.principal.data,
                annual_rate=form.annual_rate.data,
                start_date=form.start_date.data,
                maturity_date=form.maturity_date.data,
                purpose=form.purpose.data or "",
                created_by=current_user.username,
            )
        except DomainError as error:
            _apply_refusal(form, error, {"enterprise_id": "credit_code"})
            return render_template("loans/loan_form.html", form=form), error.code
        flash(_("已登记贷款合同 %(no)s", no=loan.contract_no), "success")
        return redirect(url_for("loans.detail", loan_id=loan.id))
    return render_template("loans/loan_form.html", form=form), 422 if form.errors else 200


@blueprint.route("/loans/<int:loan_id>/disbursements/new", methods=["GET", "POST"])
@roles_required(*LOAN_WRITERS)
def disburse(loan_id: int):
    loan = writable_loan(loan_id)
    form = DisbursementForm()
    if form.validate_on_submit():
        try:
            disbursement, created = services.record_disbursement(
                loan,
                amount=form.amount.data,
                disbursed_on=form.disbursed_on.data,
                bank_ref=form.bank_ref.data,
                created_by=current_user.username,
            )
        except DomainError as error:
            _apply_refusal(form, error)
            return render_template("loans/event_form.html", form=form, loan=loan, kind="disbursement"), error.code
        if created:
            flash(_("已登记放款：流水号 %(ref)s", ref=disbursement.bank_ref), "success")
        else:
            flash(_("流水号 %(ref)s 已登记过相同的放款，未重复入账", ref=disbursement.bank_ref), "info")
        return redirect(url_for("loans.detail", loan_id=loan.id))
    status = 422 if form.errors else 200
    return render_template("loans/event_form.html", form=form, loan=loan, kind="disbursement"), status


@blueprint.route("/loans/<int:loan_id>/repayments/new", methods=["GET", "POST"])
@roles_required(*LOAN_WRITERS)
def repay(loan_id: int):
    loan = writable_loan(loan_id)
    form = RepaymentForm()
    if form.validate_on_submit():
        try:
            repayment, created = services.record_repayment(
                loan,
                principal=form.principal.data,
                interest=form.interest.data,
                paid_on=form.paid_on.data,
                bank_ref=form.bank_ref.data,
                created_by=current_user.username,
            )
        except DomainError as error:
            _apply_refusal(form, error)
            return render_template("loans/event_form.html", form=form, loan=loan, kind="repayment"), error.code
        if created:
            flash(_("已登记还款：流水号 %(ref)s", ref=repayment.bank_ref), "success")
        else:
            flash(_("流水号 %(ref)s 已登记过相同的还款，未重复入账", ref=repayment.bank_ref), "info")
        return redirect(url_for("loans.detail", loan_id=loan.id))
    status = 422 if form.errors else 200
    return render_template("loans/event_form.html", form=form, loan=loan, kind="repayment"), status


# -------------------------------------------------------------------------------------------- export


@blueprint.get("/loans/export.xlsx")
@roles_required(*LOAN_READERS)
def export_ledger():
    """The loan ledger (台账) as Excel, with the list page's filters (a liaison: its own bank only)."""
    classification = request.args.get("classification") or None
    status = request.args.get("status") or None
    return ledger_download(
        as_of=_as_of_arg(),
        # As on the list page: a liaison's bank is its own, whatever the query string says.
        bank_id=None if current_user.is_liaison else _int_arg("bank_id"),
        classification=classification if classification in {c.value for c in Classification} else None,
        status=status if status in LOAN_STATES else None,
        search=(request.args.get("q") or "").strip() or None,
    )
