"""Pages of the monthly reconciliation: the months with their status, a month's result with every
difference, and - for auditors - the audit trail's verification and the sign-off form (CSRF).

Readers: auditors, fund managers, admins (as the API). Only an auditor signs off; an auditor or an
admin may run a month's reconciliation again before sign-off (the scheduler's own code path,
``core.jobs.runner.run_job``, so the run is recorded like a scheduled one).
"""
from __future__ import annotations

from decimal import Decimal

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import Length

from config import reconciliation
from config.reconciliation_api import stored_result
from core.audit.trail import verify_chain
from core.auth.models import Role
from core.auth.permissions import roles_required
from core.errors import DomainError
from core.i18n import _, _l
from core.money import format_cny
from core.periods import COMMENT_MAX_LENGTH, closed_through, is_over, parse_period, previous_period
from core.reconciliation import SIGNED_OFF, ReconciliationResult, get_result, results

blueprint = Blueprint("reconciliation", __name__)

READERS = (Role.AUDITOR, Role.FUND_MANAGER, Role.ADMIN)
RUNNERS = (Role.AUDITOR, Role.ADMIN)
MONTHS_PER_PAGE = 24
DIFFERENCES_PER_PAGE = 200
JOB_NAME = "monthly-reconciliation"


class SignOffForm(FlaskForm):
    comment = TextAreaField(
        _l("签核意见"),
        validators=[Length(max=COMMENT_MAX_LENGTH, message=_l("意见不能超过 %(max)d 个字符", max=COMMENT_MAX_LENGTH))],
        description=_l("存在差异时必须填写：说明差异的原因与处理。签核后该月及以前月份结账，不能再登记日期在其中的记录。"),
        render_kw={"rows": 4},
    )


class RunForm(FlaskForm):
    """The re-run button: nothing but the CSRF token."""


def _int_arg(name: str, default: int) -> int:
    try:
        return max(1, int(request.args.get(name, default)))
    except (TypeError, ValueError):
        return default


def _is(role: Role) -> bool:
    return current_user.role == role.value


# ------------------------------------------------------------------------------------------ months


@blueprint.get("/reconciliations")
@roles_required(*READERS)
def index():
    page = _int_arg("page", 1)
    items, total = results(page=page, per_page=MONTHS_PER_PAGE)
    last_month = previous_period()
    pending = None if get_result(last_month) is not None or not is_over(last_month) else last_month
    through = closed_through()
    if pending is not None and through is not None and pending <= through:
        pending = None  # closed already (by a later month's sign-off): nothing to run
    return render_template(
        "reconciliation/list.html",
        items=items,
        total=total,
        page=page,
        per_page=MONTHS_PER_PAGE,
        closed_through=through,
        pending=pending,
        can_run=current_user.role in {r.value for r in RUNNERS},
        run_form=RunForm(),
    )


# ------------------------------------------------------------------------------------------ a month


def _money_text(value: object) -> str:
    return format_cny(Decimal(str(value))) if value not in (None, "") else "—"


def _cells(difference: dict) -> dict[str, str]:
    """What the differences table shows for one difference: the object and both sides' figures."""
    kind = difference.get("kind")
    cells = {"bank": difference.get("bank_name") or "—", "object": "—", "system": "—", "tape": "—", "difference": "—"}
    if difference.get("check") == "journal":
        cells.update(object=f"#{difference['entry_id']} · {difference['fund']}", system=_money_text(difference["total"]))
    elif kind == "trial_balance":
        cells.update(object=difference["fund"], system=_money_text(difference["debit"]),
                     tape=_money_text(difference["credit"]), difference=_money_text(difference["difference"]))
    elif kind == "control_account":
        cells.update(object=difference["account"], system=_money_text(difference["ledger"]),
                     tape=_money_text(difference["subledger"]), difference=_money_text(difference["difference"]))
    elif kind == "missing_tape":
        cells.update(system=_money_text(difference["outstanding"]))
    elif kind == "missing_in_system":
        cells.update(object=difference["contract_no"], tape=_money_text(difference["tape"]["outstanding_principal"]))
    elif kind == "missing_on_tape":
        cells.update(object=difference["contract_no"], system=_money_text(difference["system"]["outstanding_principal"]))
    elif kind == "amount":
        cells.update(object=difference["contract_no"], system=_money_text(difference["system"]),
                     tape=_money_text(difference["tape"]), difference=_money_text(difference["difference"]))
    elif kind in ("dpd", "credit_code"):
        cells.update(object=difference["contract_no"], system=str(difference["system"]), tape=str(difference["tape"]))
        if kind == "dpd":
            cells["difference"] = str(difference["difference"])
    return cells


def _detail(result: ReconciliationResult, form: SignOffForm, *, refusal: str | None = None, status: int = 200):
    kind = request.args.get("kind") or None
    page = _int_arg("page", 1)
    differences = [d for d in result.differences if kind is None or d.get("kind") == kind]
    kinds: dict[str, int] = {}
    for difference in result.differences:
        kinds[difference["kind"]] = kinds.get(difference["kind"], 0) + 1
    shown = differences[(page - 1) * DIFFERENCES_PER_PAGE : page * DIFFERENCES_PER_PAGE]
    can_sign = _is(Role.AUDITOR) and result.status != SIGNED_OFF
    return (
        render_template(
            "reconciliation/detail.html",
            result=result,
            checks=result.checks or [],
            differences=[(d, reconciliation.describe(d), _cells(d)) for d in shown],
            first_number=(page - 1) * DIFFERENCES_PER_PAGE + 1,
            filtered_total=len(differences),
            kinds=sorted(kinds.items(), key=lambda item: reconciliation.DIFFERENCE_KINDS.index(item[0])
                         if item[0] in reconciliation.DIFFERENCE_KINDS else 99),
            kind=kind,
            kind_label=reconciliation.kind_label,
            check_label=reconciliation.check_label,
            field_label=reconciliation.field_label,
            fund_label=reconciliation.fund_label,
            account_label=reconciliation.account_label,
            money_text=_money_text,
            page=page,
            per_page=DIFFERENCES_PER_PAGE,
            form=form,
            run_form=RunForm(),
            can_sign=can_sign,
            can_run=current_user.role in {r.value for r in RUNNERS} and result.status != SIGNED_OFF,
            # The auditor signs only a month whose audit trail is intact: show it where the decision is made.
            chain=verify_chain() if can_sign else None,
            refusal=refusal,
        ),
        status,
    )


@blueprint.get("/reconciliations/<string:period>")
@roles_required(*READERS)
def detail(period: str):
    return _detail(stored_result(period), SignOffForm())


@blueprint.post("/reconciliations/<string:period>/sign-off")
@roles_required(Role.AUDITOR)
def sign_off(period: str):
    result = stored_result(period)
    form = SignOffForm()
    if not form.validate_on_submit():
        return _detail(result, form, status=422)
    try:
        reconciliation.sign_off(result.period, by=current_user.username, comment=form.comment.data)
    except DomainError as error:
        if "comment" in error.errors:
            form.comment.errors = list(error.errors["comment"])
        return _detail(stored_result(period), form, refusal=error.message, status=error.code)
    flash(_("已签核 %(period)s 的对账结果：该月已结账", period=result.period), "success")
    return redirect(url_for("reconciliation.detail", period=result.period))


@blueprint.post("/reconciliations/<string:period>/run")
@roles_required(*RUNNERS)
def run(period: str):
    """Run the month's reconciliation now, through the job runner (it commits its own transactions)."""
    from core.jobs.runner import run_job  # the scheduler's registry: config.jobs registers the job

    period = parse_period(period)
    form = RunForm()
    if not form.validate_on_submit():
        flash(_("页面已过期，请刷新后重试"), "danger")
        return redirect(url_for("reconciliation.index"))
    job_run = run_job(JOB_NAME, period, triggered_by=current_user.username)
    if job_run.status == "failed":
        flash(_("%(period)s 对账失败：%(error)s", period=period, error=job_run.error or ""), "danger")
    elif job_run.status == "running":
        flash(_("%(period)s 正在对账，请稍后刷新", period=period), "info")
    else:
        flash(_("已完成 %(period)s 的对账", period=period), "success")
    if get_result(period) is None:
        return redirect(url_for("reconciliation.index"))
    return redirect(url_for("reconciliation.detail", period=period))
