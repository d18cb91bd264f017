"""What every seed-fund step shares: the business date, text checks, row locks and the timeline.

The ``on`` date (api.md): a step may be entered after it happened on paper. It defaults to today,
is never in the future (422), never in a closed month (409, through the ledger's period guards,
the same check every posting makes), and never earlier than the application's previous step (409),
so the timeline reads in the order things happened.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import lazyload

from core import clock
from core.db import db
from core.errors import BusinessRuleError, NotFound, ValidationFailed
from core.i18n import _
from core.ledger import services as ledger_services
from core.money import to_fen
from funds.models import SeedApplication, SeedApplicationEvent, SeedLoan, SeedObjection

ZERO = Decimal("0.00")
COMMENT_MAX_LENGTH = 2000
NAME_MAX_LENGTH = 64
BANK_REF_MAX_LENGTH = 64


def invalid(errors: dict[str, list[str]]) -> ValidationFailed:
    return ValidationFailed(_("提交的数据有误：%(fields)s", fields="、".join(sorted(errors))), errors)


def raise_if(errors: dict[str, list[str]]) -> None:
    if errors:
        raise invalid(errors)


def business_day(on: date | None, field: str = "on") -> date:
    """The date a step happened: ``on`` or today; 422 in the future, 409 in a closed month."""
    day = clock.today() if on is None else on
    if isinstance(day, datetime) or not isinstance(day, date):
        raise invalid({field: [_("日期格式不正确，应为 YYYY-MM-DD")]})
    if day > clock.today():
        raise invalid({field: [_("日期不能晚于今天（%(today)s）", today=clock.today().isoformat())]})
    for guard in ledger_services.period_guards:  # read at call time: guards registered later count
        guard(day)
    return day


def not_before(day: date, earlier: date | None, field: str = "on") -> None:
    """409 when ``day`` is before ``earlier`` (the previous step of the same record)."""
    if earlier is not None and day < earlier:
        raise BusinessRuleError(
            _("日期 %(day)s 早于上一步骤的日期 %(earlier)s", day=day.isoformat(), earlier=earlier.isoformat()),
            {field: [_("不能早于 %(earlier)s", earlier=earlier.isoformat())]},
        )


def text(value: object, field: str, label: str, max_length: int, errors: dict[str, list[str]], *, required: bool) -> str:
    """A trimmed text, required or not, at most ``max_length`` characters (errors collected)."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors[field] = [_("应为文本")]
        return ""
    clean = value.strip()
    if required and not clean:
        errors[field] = [_("请填写%(label)s", label=label)]
    elif len(clean) > max_length:
        errors[field] = [_("%(label)s不能超过 %(max)d 个字符", label=label, max=max_length)]
    return clean


def amount_error(value: object) -> str | None:
    """Why ``value`` is not a positive amount in whole fen, or None (float never passes)."""
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        return _("金额格式不正确")
    try:
        fen = to_fen(value)
    except ValueError:
        return _("金额最多保留两位小数")
    if fen <= 0:
        return _("金额必须大于零")
    return None


def lock_application(application_id: int) -> SeedApplication:
    """The application re-read under ``SELECT ... FOR UPDATE`` (fresh values); 404 when unknown.

    Two steps on one application (two managers deciding at once) serialise here, and the second
    sees the status the first left.
    """
    application = db.session.execute(
        sa.select(SeedApplication)
        .where(SeedApplication.id == application_id)
        .with_for_update(of=SeedApplication)
        .options(lazyload("*"))
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if application is None:
        raise NotFound(_("种子基金申请不存在"))
    return application


def lock_loan(loan_id: int) -> SeedLoan:
    """The seed loan re-read under ``SELECT ... FOR UPDATE``; 404 when unknown."""
    loan = db.session.execute(
        sa.select(SeedLoan)
        .where(SeedLoan.id == loan_id)
        .with_for_update(of=SeedLoan)
        .options(lazyload("*"))
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if loan is None:
        raise NotFound(_("种子基金借款不存在"))
    return loan


def last_step_on(application_id: int) -> date | None:
    return db.session.scalar(
        sa.select(sa.func.max(SeedApplicationEvent.happened_on)).where(
            SeedApplicationEvent.application_id == application_id
        )
    )


def record_step(
    application: SeedApplication,
    action: str,
    *,
    from_status: str | None,
    on: date,
    by_id: int | None,
    comment: str = "",
) -> SeedApplicationEvent:
    """Append a step to the application's timeline (its status already set to the new one)."""
    event = SeedApplicationEvent(
        application_id=application.id,
        action=action,
        from_status=from_status,
        to_status=application.status,
        happened_on=on,
        by_id=by_id,
        comment=comment,
    )
    db.session.add(event)
    return event


def close_open_objections(application_id: int, day: date, by_id: int, *, except_id: int | None = None) -> None:
    """The application ended (withdrawn, or an objection upheld): its other open objections close with it."""
    for objection in db.session.scalars(
        sa.select(SeedObjection).where(SeedObjection.application_id == application_id, SeedObjection.status == "open")
    ):
        if objection.id != except_id:
            objection.status = "closed"
            objection.resolved_on = day
            objection.resolved_by_id = by_id
