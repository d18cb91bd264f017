"""Web forms of the risk-compensation pool's pages (Flask-WTF: CSRF on every form, messages in Chinese).

The forms only read and convert what people type: amounts (``1,000,000.00`` and ``¥`` allowed),
dates, percentages, whole numbers. Every rule is the services' (``risk.services``), whose refusals
the views show on the same page with the values kept. The optional dates are the ``on`` of api.md:
the day a step happened on paper, today when left empty.

Several forms share a page (a claim's page, the managers' queue), so each form class gives its
fields their own HTML ids while the field *names* stay the API's (``on``, ``reason``, ``amount``...).
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_wtf import FlaskForm
from wtforms import DateField, Field, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from core.i18n import _, _l
from core.money import InvalidAmount, parse_decimal_text
from loans.services import CONTRACT_NO_MAX_LENGTH
from risk.labels import SOURCE_LABELS
from risk.models import SOURCES
from risk.schemas import MAX_STRESS_MONTHS
from risk.services.common import NOTE_MAX_LENGTH, REASON_MAX_LENGTH

PERCENT_PLACES = 4  # 12.3456%: a ratio with six places, as the policy stores them


# -------------------------------------------------------------------------------------- fields


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
        text = (self.data or "").strip() if isinstance(self.data, str) else ""
        if not text:
            self.data = None
            return
        if not text.isascii() or not text.isdigit():
            self.data = None
            raise ValueError(_("应为不小于零的整数"))
        self.data = int(text)

    def _value(self) -> str:
        return "" if self.data is None else str(self.data)


def amount_check(form: FlaskForm, field: Field) -> None:
    """The text as an exact ``Decimal`` in yuan, above zero (the services check it again)."""
    if isinstance(field.data, Decimal):
        return
    if not field.data:
        raise ValidationError(_("请填写金额"))
    try:
        value = parse_decimal_text(field.data)
    except InvalidAmount as error:
        raise ValidationError(error.message) from error
    if value <= 0:
        raise ValidationError(_("金额必须大于零"))
    field.data = value


class PercentField(StringField):
    """A percentage typed as a number (``5`` or ``5%`` means 5%), 0 to 100 with at most four decimals.

    ``data`` is the ratio (``Decimal("0.05")``), exact; the field shows it back as a percentage.
    """

    def process_formdata(self, valuelist: list[Any]) -> None:
        super().process_formdata(valuelist)
        text = (self.data or "").strip().rstrip("%").strip() if isinstance(self.data, str) else ""
        self.raw_text = text
        if not text:
            self.data = None
            return
        try:
            value = Decimal(text)
        except InvalidOperation:
            self.data = None
            raise ValueError(_("应为百分比数字，例如 5 表示 5%")) from None
        if not value.is_finite() or not Decimal(0) <= value <= Decimal(100):
            self.data = None
            raise ValueError(_("应在 0 到 100 之间"))
        if value != value.quantize(Decimal(1).scaleb(-PERCENT_PLACES)):
            self.data = None
            raise ValueError(_("最多保留 %(places)d 位小数", places=PERCENT_PLACES))
        self.data = value / 100

    def _value(self) -> str:
        if self.raw_data:
            return str(self.raw_data[0])
        if isinstance(self.data, Decimal):
            return f"{(self.data * 100).normalize():f}"
        return ""


def _on(field_id: str, label: Any = None, description: Any = None) -> DayField:
    return DayField(
        label or _l("日期"),
        id=field_id,
        validators=[Optional()],
        description=description or _l("办理日期（以纸质材料为准），留空表示今天；不能晚于今天。"),
        render_kw={"type": "date"},
    )


class AmountField(StringField):
    """An amount typed as text: ``data`` becomes a ``Decimal`` (see :func:`amount_check`); the page shows
    back what was typed, so a refused form keeps "1,000,000.00" as written."""

    def _value(self) -> str:
        if self.raw_data:
            return str(self.raw_data[0])
        return "" if self.data is None else str(self.data)


def _amount(label: Any, field_id: str, description: Any = None) -> AmountField:
    return AmountField(
        label,
        id=field_id,
        filters=[_strip],
        validators=[InputRequired(message=_l("请填写金额")), amount_check],
        description=description,
        render_kw={"inputmode": "decimal", "autocomplete": "off"},
    )


def _reason(label: Any, field_id: str, message: Any, description: Any = None) -> TextAreaField:
    return TextAreaField(
        label,
        id=field_id,
        filters=[_strip],
        validators=[
            DataRequired(message=message),
            Length(max=REASON_MAX_LENGTH, message=_l("不能超过 %(max)d 个字符", max=REASON_MAX_LENGTH)),
        ],
        description=description,
        render_kw={"rows": 2, "maxlength": REASON_MAX_LENGTH},
    )


# --------------------------------------------------------------------------------------- forms


class ClaimForm(FlaskForm):
    """A liaison files a claim on one of its bank's loans (the bank is the liaison's own)."""

    contract_no = StringField(
        _l("贷款合同编号"),
        id="claim-contract-no",
        filters=[_strip],
        validators=[
            DataRequired(message=_l("请填写贷款合同编号")),
            Length(max=CONTRACT_NO_MAX_LENGTH, message=_l("不能超过 %(max)d 个字符", max=CONTRACT_NO_MAX_LENGTH)),
        ],
        description=_l("本行已纳入风险补偿的贷款，逾期达到申请代偿所需天数（不良）。"),
    )
    as_of = _on(
        "claim-as-of",
        _l("申请基准日"),
        _l("按此日期核对逾期天数并计算逾期未收回本金；留空表示今天，不能晚于今天。"),
    )


class ApproveForm(FlaskForm):
    """A fund manager approves a submitted claim: paid at once, or queued when the pool's cash is short."""

    on = _on("approve-on", _l("审批日期"))


class RejectForm(FlaskForm):
    """A fund manager rejects a submitted claim with a written reason."""

    reason = _reason(_l("驳回理由"), "reject-reason", _l("请填写驳回理由"), _l("驳回后该笔贷款可重新申请代偿。"))
    on = _on("reject-on", _l("驳回日期"))


class RecoveryForm(FlaskForm):
    """Money recovered on a paid claim (追偿), split between the pool and the bank."""

    amount = _amount(_l("追偿金额（元）"), "recovery-amount", _l("本次收回的全部金额，系统按代偿时各方承担的本金比例分配。"))
    recovered_on = _on("recovery-on", _l("收回日期"), _l("不早于代偿支付日期；留空表示今天。"))


class ContributionForm(FlaskForm):
    """An admin records money paid into the pool by the city or the county."""

    source = SelectField(
        _l("出资方"),
        id="contribution-source",
        choices=[SelectChoice(source, SOURCE_LABELS[source]) for source in SOURCES],
        validators=[InputRequired(message=_l("请选择出资方"))],
        validate_choice=False,  # judged by validate_source, in Chinese
    )
    amount = _amount(_l("到位金额（元）"), "contribution-amount")
    received_on = _on("contribution-on", _l("到账日期"), _l("资金到账日期，留空表示今天；不能晚于今天。"))
    note = TextAreaField(
        _l("备注"),
        id="contribution-note",
        filters=[_strip],
        validators=[Optional(), Length(max=NOTE_MAX_LENGTH, message=_l("不能超过 %(max)d 个字符", max=NOTE_MAX_LENGTH))],
        render_kw={"rows": 2},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The choices' labels are lazy strings: give the select plain text in the page's language.
        self.source.choices = [SelectChoice(source, str(SOURCE_LABELS[source])) for source in SOURCES]

    def validate_source(self, field: Field) -> None:
        if field.data not in SOURCES:
            raise ValidationError(_("出资方应为市级或县级"))


class LiftForm(FlaskForm):
    """A fund manager lifts a bank's suspension with a written reason."""

    reason = _reason(
        _l("解除理由"),
        "lift-reason",
        _l("请填写解除理由"),
        _l("书面说明解除熔断暂停的依据（如领导小组会议纪要）。解除后该行新贷款重新纳入补偿，直至不良率回落至预警线以下前不会再次暂停。"),
    )
    on = _on("lift-on", _l("解除日期"))


class StressForm(FlaskForm):
    """A stress scenario: the pool's cash month by month (writes nothing)."""

    annual_default_rate = PercentField(
        _l("年违约率（%）"),
        id="stress-default-rate",
        validators=[InputRequired(message=_l("请填写年违约率"))],
        description=_l("每年转为不良的纳入补偿贷款余额比例，例如 5 表示 5%。"),
        render_kw={"inputmode": "decimal", "autocomplete": "off"},
    )
    recovery_rate = PercentField(
        _l("追偿回收率（%）"),
        id="stress-recovery-rate",
        validators=[InputRequired(message=_l("请填写追偿回收率"))],
        description=_l("资金池代偿款中最终追回的比例。"),
        render_kw={"inputmode": "decimal", "autocomplete": "off"},
    )
    pool_share = PercentField(
        _l("资金池分担比例（%）"),
        id="stress-pool-share",
        validators=[InputRequired(message=_l("请填写资金池分担比例"))],
        description=_l("资金池承担的损失比例，现行政策为 80%。"),
        render_kw={"inputmode": "decimal", "autocomplete": "off"},
    )
    months = WholeNumberField(
        _l("测算月数"),
        id="stress-months",
        validators=[InputRequired(message=_l("请填写测算月数"))],
        description=_l("1 到 %(max)d 个月。", max=MAX_STRESS_MONTHS),
        render_kw={"inputmode": "numeric", "autocomplete": "off"},
    )
    recovery_lag_months = WholeNumberField(
        _l("追偿滞后月数"),
        id="stress-lag",
        validators=[Optional()],
        description=_l("代偿后多少个月收回追偿款；留空为 0（当月收回）。"),
        render_kw={"inputmode": "numeric", "autocomplete": "off"},
    )

    def validate_months(self, field: Field) -> None:
        if field.data is not None and not 1 <= field.data <= MAX_STRESS_MONTHS:
            raise ValidationError(_("应在 1 到 %(max)d 之间", max=MAX_STRESS_MONTHS))

    def validate_recovery_lag_months(self, field: Field) -> None:
        if field.data is not None and field.data > MAX_STRESS_MONTHS:
            raise ValidationError(_("不能超过 %(max)d", max=MAX_STRESS_MONTHS))
