"""Web forms of the seed fund's pages (Flask-WTF: CSRF on every form, messages in Chinese).

The forms only read and convert what people type (amounts with thousands separators, dates,
whole numbers); every rule is the services' (``funds.services``), whose refusals the views show
on the same page. Every step has the optional ``on`` date (日期) of api.md: the day the step
happened on paper, today when left empty.

Several forms share one page (the application page, the loan page), so field *names* stay the
API's (``on``, ``comment``...) while each form class gives its fields their own HTML ids.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from flask_wtf import FlaskForm
from wtforms import DateField, Field, HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length, Optional, ValidationError

from core.i18n import _, _l
from core.money import InvalidAmount, parse_decimal_text
from funds.services.common import BANK_REF_MAX_LENGTH, COMMENT_MAX_LENGTH, NAME_MAX_LENGTH

PURPOSE_MAX_LENGTH = 2000
TEAM_NAME_MAX_LENGTH = 200
PHONE_MAX_LENGTH = 32
OBJECTION_MAX_LENGTH = 4000
CREDIT_CODE_MAX_LENGTH = 40

YES, NO = "yes", "no"


# ------------------------------------------------------------------------------------- fields


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


class DayField(DateField):
    """``YYYY-MM-DD`` (the browser's date picker sends it), refused in Chinese; empty is None."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        text = (valuelist[0] if valuelist else "") or ""
        text = text.strip() if isinstance(text, str) else ""
        if not text:
            self.data = None
            return
        try:
            self.data = date.fromisoformat(text)
        except ValueError:
            self.data = None
            raise ValueError(_("日期格式不正确，应为 YYYY-MM-DD")) from None


class WholeNumberField(StringField):
    """A whole number typed as text; ``data`` becomes an ``int`` (or None), refused in Chinese."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        super().process_formdata(valuelist)
        text = (self.data or "").strip()
        if not text:
            self.data = None
            return
        if not text.isascii() or not text.lstrip("-").isdigit():
            self.data = None
            raise ValueError(_("应为整数"))
        self.data = int(text)


def amount_check(form: FlaskForm, field: Field) -> None:
    """The text as an exact ``Decimal`` in yuan (``1,000,000.00`` and ``¥`` allowed), above zero."""
    if field.data is None or (isinstance(field.data, str) and not field.data.strip()):
        raise ValidationError(_("请填写金额"))
    if isinstance(field.data, Decimal):
        return
    try:
        value = parse_decimal_text(field.data)
    except InvalidAmount as error:
        raise ValidationError(error.message) from error
    if value <= 0:
        raise ValidationError(_("金额必须大于零"))
    field.data = value


def _amount(label: Any, field_id: str, description: Any = None) -> StringField:
    return StringField(
        label, id=field_id, filters=[_strip], validators=[InputRequired(message=_l("请填写金额")), amount_check],
        description=description,
        render_kw={"inputmode": "decimal", "autocomplete": "off"},
    )


def _on(field_id: str, description: Any = None) -> DayField:
    return DayField(
        _l("日期"),
        id=field_id,
        validators=[Optional()],
        description=description or _l("办理日期（以纸质材料为准），留空表示今天；不能晚于今天。"),
        render_kw={"type": "date"},
    )


def _comment(label: Any, field_id: str, *, required: bool = False, max_length: int = COMMENT_MAX_LENGTH,
             message: Any = None, description: Any = None) -> TextAreaField:
    validators: list[Any] = [DataRequired(message=message)] if required else [Optional()]
    validators.append(Length(max=max_length, message=_l("不能超过 %(max)d 个字符", max=max_length)))
    return TextAreaField(
        label, id=field_id, filters=[_strip], validators=validators, description=description, render_kw={"rows": 2}
    )


def _text(label: Any, field_id: str, max_length: int, *, required_message: Any = None,
          description: Any = None) -> StringField:
    validators: list[Any] = [DataRequired(message=required_message)] if required_message else [Optional()]
    validators.append(Length(max=max_length, message=_l("不能超过 %(max)d 个字符", max=max_length)))
    return StringField(label, id=field_id, filters=[_strip], validators=validators, description=description)


def _choice(label: Any, field_id: str, choices: list[tuple[str, Any]], message: Any) -> RadioField:
    """A choice sent by a radio group or by the button pressed; refused in Chinese when missing."""
    return RadioField(
        label, id=field_id, choices=[SelectChoice(value, text) for value, text in choices], validate_choice=False,
        validators=[AnyOf([value for value, _label in choices], message=message)],
    )


def _bank_ref(field_id: str) -> StringField:
    return _text(
        _l("银行流水号"), field_id, BANK_REF_MAX_LENGTH, required_message=_l("请填写银行流水号"),
        description=_l("代理银行的业务流水号：同一流水号只记一次，重复提交相同内容不会重复入账。"),
    )


def is_yes(value: str | None) -> bool:
    return value == YES


# ---------------------------------------------------------------------------------- applications


class ApplicationForm(FlaskForm):
    """A new application: an enterprise of the registry (by credit code) or a startup team."""

    applicant = _choice(
        _l("申请人"), "application-applicant",
        [("enterprise", _l("已登记企业")), ("team", _l("创业团队（尚未注册企业）"))],
        _l("请选择申请人类型"),
    )
    credit_code = _text(
        _l("企业统一社会信用代码"), "application-credit_code", CREDIT_CODE_MAX_LENGTH,
        description=_l("企业须已在平台登记；成立不超过 5 年、为科技型企业、无不良信用记录、未列入失信名单。"),
    )
    team_name = _text(_l("创业团队名称"), "application-team_name", TEAM_NAME_MAX_LENGTH)
    contact_name = _text(_l("联系人"), "application-contact_name", NAME_MAX_LENGTH)
    contact_phone = _text(_l("联系电话"), "application-contact_phone", PHONE_MAX_LENGTH)
    amount = _amount(_l("申请金额（元）"), "application-amount", _l("单笔不超过政策规定的上限（默认 300,000.00 元）。"))
    term_months = WholeNumberField(
        _l("借款期限（月）"), id="application-term_months",
        validators=[InputRequired(message=_l("请填写借款期限"))],
        description=_l("政策规定的期限范围内（默认 1 至 24 个月）。"), render_kw={"inputmode": "numeric"},
    )
    repayment = SelectField(
        _l("还款方式"), id="application-repayment",
        choices=[SelectChoice("monthly", _l("按月等额还本")), SelectChoice("bullet", _l("到期一次还本"))],
        validate_choice=False,
        validators=[AnyOf(["monthly", "bullet"], message=_l("请选择还款方式"))],
    )
    purpose = _comment(_l("借款用途"), "application-purpose", max_length=PURPOSE_MAX_LENGTH)
    on = _on("application-on", _l("申请日期（受理日），留空表示今天；资格按此日期判断。"))


class InitialReviewForm(FlaskForm):
    passed = _choice(_l("初审结论"), "initial-passed", [(YES, _l("初审通过")), (NO, _l("初审不通过"))],
                     _l("请选择初审结论"))
    comment = _comment(_l("初审意见"), "initial-comment")
    on = _on("initial-on")


class ExpertReviewForm(FlaskForm):
    expert_name = _text(_l("专家姓名"), "expert-expert_name", NAME_MAX_LENGTH, required_message=_l("请填写专家姓名"))
    score = WholeNumberField(
        _l("评分（0–100）"), id="expert-score", validators=[InputRequired(message=_l("请填写评分"))],
        render_kw={"inputmode": "numeric"},
    )
    comment = _comment(_l("评审意见"), "expert-comment")
    on = _on("expert-on")


class DecisionForm(FlaskForm):
    approved = _choice(_l("决定"), "decision-approved", [(YES, _l("批准")), (NO, _l("否决"))], _l("请选择批准或否决"))
    comment = _comment(_l("决定意见"), "decision-comment")
    on = _on("decision-on", _l("决定日期，留空表示今天；公示期从此日起算 5 个工作日。"))
    # Where the manager decided: the application page or the decision queue (re-rendered on refusal).
    source = HiddenField(default="application")


class ObjectionForm(FlaskForm):
    text = _comment(_l("异议内容"), "objection-text", required=True, max_length=OBJECTION_MAX_LENGTH,
                    message=_l("请填写异议内容"))
    on = _on("objection-on", _l("收到异议的日期，须在公示期内；留空表示今天。"))


class ResolutionForm(FlaskForm):
    objection_id = SelectField(_l("异议"), id="resolution-objection_id", choices=[], validate_choice=False,
                               validators=[DataRequired(message=_l("请选择要处理的异议"))])
    upheld = _choice(_l("处理结果"), "resolution-upheld", [(NO, _l("驳回异议")), (YES, _l("异议成立"))],
                     _l("请选择处理结果"))
    reason = _comment(_l("处理理由"), "resolution-reason", required=True, message=_l("请填写处理理由"))
    on = _on("resolution-on")


class ContractForm(FlaskForm):
    agent_bank_id = SelectField(
        _l("代理银行"), id="contract-agent_bank_id", choices=[], validate_choice=False,
        description=_l("委托贷款的代理银行；留空使用基金设置的代理银行。"),
    )
    on = _on("contract-on", _l("签约日期，须在公示期满之后；留空表示今天。"))


class WithdrawalForm(FlaskForm):
    reason = _comment(_l("撤回原因"), "withdrawal-reason")
    on = _on("withdrawal-on")


class LinkEnterpriseForm(FlaskForm):
    credit_code = _text(
        _l("企业统一社会信用代码"), "link-credit_code", CREDIT_CODE_MAX_LENGTH,
        required_message=_l("请填写统一社会信用代码"),
        description=_l("创业团队注册的企业须先在平台登记；资格按申请日判断。"),
    )
    on = _on("link-on")


# ------------------------------------------------------------------------------------- seed loans


class DisbursementForm(FlaskForm):
    bank_ref = _bank_ref("disbursement-bank_ref")
    on = _on("disbursement-on", _l("放款日期，不早于签约日；还款计划从此日起算。留空表示今天。"))


class RepaymentForm(FlaskForm):
    amount = _amount(_l("还款金额（元）"), "repayment-amount", _l("依次冲抵最早未还的分期；不超过借款余额。"))
    bank_ref = _bank_ref("repayment-bank_ref")
    on = _on("repayment-on", _l("还款日期，不早于放款日；留空表示今天。"))


class WriteOffProposalForm(FlaskForm):
    reason = _comment(_l("核销理由"), "writeoff-reason", required=True, message=_l("请填写核销理由"))
    on = _on("writeoff-on")


class WriteOffDecisionForm(FlaskForm):
    approve = _choice(_l("审批结论"), "writeoff-decision-approve", [(YES, _l("同意核销")), (NO, _l("不同意"))],
                      _l("请选择是否同意核销"))
    comment = _comment(_l("审批意见"), "writeoff-decision-comment")
    on = _on("writeoff-decision-on")


class RecoveryForm(FlaskForm):
    amount = _amount(_l("收回金额（元）"), "recovery-amount", _l("不超过尚未收回的核销本金。"))
    bank_ref = _bank_ref("recovery-bank_ref")
    note = _comment(_l("备注"), "recovery-note")
    on = _on("recovery-on", _l("收回日期，不早于核销日；留空表示今天。"))
