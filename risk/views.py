"""Pages of the risk-compensation pool (风险补偿): claims, the managers' queue, the pool's overview, each
bank's circuit breaker and the stress test.

Who sees what (``risk.permissions``; fund officers have no part in the pool's pages):

* bank liaisons: their own bank's claims (another bank's claim or breaker is a 404), the form to
  file a claim and the recovery form on a paid claim;
* fund managers: the queue of submitted claims, each with the loan's history and its shares, the
  approve and reject forms, the approved-unpaid queue in payment order, the overview, every bank's
  breaker with the lift form, the stress test;
* auditors and admins: every page read-only, except the admin's contribution form on the overview.

The figures come from ``risk.queries`` (the same functions as the API: the overview's cards equal
``GET /api/v1/risk/pool``). The charts read their data from ``data-chart`` attributes built by
``risk.pages`` (JSON, amounts as two-decimal strings) that static/js/risk.js draws; every chart has a
table with the same figures. A liaison's "申请代偿" button on a loan's page comes from the template
global ``risk_claim_url`` registered here (loans never imports risk).

A refused step (a ``DomainError`` of 409 or 422) is rolled back at once and the same page is
rendered again with the refusal above it, the reasons under the fields and the typed values kept;
the response carries the refusal's status, so the unit of work writes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm

from core import clock
from core.auth.models import Role
from core.auth.permissions import roles_required
from core.db import db
from core.errors import DomainError, Forbidden
from core.i18n import _, _l
from core.replica import reads_from_replica
from core.money import format_cny
from core.policy.models import Policy
from loans.models import Loan
from loans.queries import LoanState, dpd_history, find_loan_by_contract, loan_state
from parties.models import Bank
from risk import queries, services, stress
from risk.forms import ApproveForm, ClaimForm, ContributionForm, LiftForm, RecoveryForm, RejectForm, StressForm
from risk.labels import BREAKER_STATE_LABELS, CLAIM_STATUS_LABELS, SOURCE_LABELS, coverage_reason_label
from risk.models import CLAIM_STATUSES, ClaimStatus, RiskClaim
from risk.pages import BREAKER_TONES, claim_candidates, month_rows, overview_charts, stress_chart
from risk.permissions import (
    BREAKER_LIFTERS,
    CLAIM_DECIDERS,
    CLAIM_FILERS,
    CONTRIBUTORS,
    RECOVERY_RECORDERS,
    STRESS_RUNNERS,
    recoverable_claim,
    user_id,
    visible_bank,
)

blueprint = Blueprint("risk", __name__)

LIAISON = Role.BANK_LIAISON.value
MANAGER = Role.FUND_MANAGER.value
# The programme's people who read the whole pool (fund officers work on the seed fund only).
POOL_STAFF: tuple[str, ...] = (MANAGER, Role.AUDITOR.value, Role.ADMIN.value)
# Claims and breakers: the pool's staff, and liaisons for their own bank.
CLAIM_PAGE_READERS: tuple[str, ...] = (LIAISON, *POOL_STAFF)

PER_PAGE = 50
QUEUE_PER_PAGE = 20
CANDIDATES_SHOWN = 50
STRESS_DEFAULTS = {
    "annual_default_rate": Decimal("0.05"),
    "recovery_rate": Decimal("0.30"),
    "months": 36,
    "recovery_lag_months": 0,
}

CLAIM_STATUS_TONES = {"submitted": "info", "paid": "success", "approved_unpaid": "warning", "rejected": "danger"}
CLASSIFICATION_TONES = {
    "normal": "success",
    "special_mention": "warning",
    "substandard": "danger",
    "doubtful": "danger",
    "loss": "dark",
}
REFUSED = (409, 422)


# ------------------------------------------------------------------------------------- helpers


def _labels() -> dict[str, Any]:
    """Labels, colours and the caller's powers, for every risk template."""
    role = current_user.role
    return {
        "claim_status_labels": CLAIM_STATUS_LABELS,
        "claim_status_tones": CLAIM_STATUS_TONES,
        "breaker_labels": BREAKER_STATE_LABELS,
        "breaker_tones": BREAKER_TONES,
        "classification_tones": CLASSIFICATION_TONES,
        "source_labels": SOURCE_LABELS,
        "is_liaison": role == LIAISON,
        "is_manager": role in CLAIM_DECIDERS,
        "is_admin": role in CONTRIBUTORS,
        "records_recoveries": role in RECOVERY_RECORDERS,
        "tabs": _tabs(),
        "today": clock.today(),
    }


def _tabs() -> list[tuple[str, str, Any]]:
    """The pool's own tabs under the page title, for the caller's role: (key, url, label)."""
    role = current_user.role
    if role == LIAISON:
        tabs = [("claims", url_for("risk.claims"), _l("本行代偿申请"))]
        if current_user.bank_id is not None:
            tabs.append(("breaker", url_for("risk.breaker", bank_id=current_user.bank_id), _l("本行熔断状态")))
        return tabs
    tabs = [
        ("overview", url_for("risk.overview"), _l("资金池概览")),
        ("queue", url_for("risk.queue"), _l("代偿审批")),
        ("claims", url_for("risk.claims"), _l("全部代偿申请")),
    ]
    if role in STRESS_RUNNERS:
        tabs.append(("stress", url_for("risk.stress_test"), _l("压力测试")))
    return tabs


def _int_arg(name: str) -> int | None:
    try:
        return int(request.args[name])
    except (KeyError, TypeError, ValueError):
        return None


def _page_arg() -> int:
    return max(1, _int_arg("page") or 1)


def _as_of_arg() -> date | None:
    text = (request.args.get("as_of") or "").strip()
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        flash(_("日期格式应为 YYYY-MM-DD，已按今天显示。"), "warning")
        return None


def _refusal(form: FlaskForm, error: DomainError, aliases: dict[str, str] | None = None) -> str:
    """Put a service's refusal under the fields it names; return the sentence shown above the page."""
    aliases = aliases or {}
    placed = False
    details: list[str] = []
    for name, messages in error.errors.items():
        texts = [str(message) for message in messages]
        details += texts
        field = form._fields.get(aliases.get(name, name))
        if field is not None and field.type not in ("CSRFTokenField", "HiddenField"):
            field.errors = [*field.errors, *texts]
            placed = True
    if error.code == 409:
        return error.message
    if placed:
        return _invalid_form()
    return "；".join(details) or error.message


def _invalid_form() -> str:
    return _("提交的数据有误，请更正表单中标出的内容。")


def _rolled_back(error: DomainError) -> None:
    """A refusal: re-raise what is not a refusal of the step (404, 403), else undo what was flushed."""
    if error.code not in REFUSED:
        raise error
    db.session.rollback()


def _source() -> str:
    """Which page a manager's decision came from, to answer on the same page."""
    return "queue" if request.form.get("source") == "queue" else "claim"


# ------------------------------------------------------------------------------ loan page button


@blueprint.app_template_global("risk_claim_url")
def claim_url_for(loan: Loan, state: LoanState) -> str | None:
    """The "申请代偿" link on a loan's page, or None.

    Only for a liaison of the loan's bank, on a loan the pool covers, at least the claim trigger of the
    loan's policy days past due on the day shown (today when a later day is shown), without an open
    or paid claim. The service judges all of it again when the claim is filed.
    """
    if not (current_user.is_authenticated and current_user.role in CLAIM_FILERS):
        return None
    if loan.bank_id != current_user.bank_id or loan.covered is not True:
        return None
    today = clock.today()
    if state.as_of > today:
        state = loan_state(loan, today)
    policy = db.session.get(Policy, loan.policy_id)
    if policy is None or state.days_past_due < policy.risk_claim_trigger_dpd:
        return None
    if db.session.scalar(sa.select(RiskClaim.id).where(RiskClaim.active_loan_id == loan.id)) is not None:
        return None
    return url_for("risk.new_claim", loan_id=loan.id, as_of=state.as_of.isoformat())


# ------------------------------------------------------------------------------------ overview


def _overview_page(contribution_form: ContributionForm | None = None, refusal: str | None = None, status: int = 200):
    as_of = _as_of_arg() or clock.today()
    figures = queries.pool_figures(as_of)
    rows = month_rows(as_of)
    by_bank = queries.claims_by_bank()
    breakers = queries.breaker_overview(as_of)
    contributions, contribution_total = queries.contributions(page=1, per_page=10)
    labels = _labels()
    if contribution_form is None and labels["is_admin"]:
        contribution_form = ContributionForm()
    return (
        render_template(
            "risk/overview.html",
            figures=figures,
            rows=rows,
            by_bank=by_bank,
            breakers=breakers,
            charts=overview_charts(rows, by_bank, breakers),
            contributions=contributions,
            contribution_total=contribution_total,
            contribution_form=contribution_form,
            refusal=refusal,
            as_of_given=as_of != clock.today(),
            **labels,
        ),
        status,
    )


@blueprint.get("/risk")
@roles_required(*POOL_STAFF)
@reads_from_replica
def overview():
    return _overview_page()


@blueprint.post("/risk/contributions")
@roles_required(*CONTRIBUTORS)
def contribute():
    form = ContributionForm()
    if not form.validate_on_submit():
        return _overview_page(form, _invalid_form(), 422)
    try:
        contribution, paid = services.record_contribution(
            source=form.source.data,
            amount=form.amount.data,
            received_on=form.received_on.data,
            note=form.note.data or "",
            by_id=user_id(),
        )
    except DomainError as error:
        _rolled_back(error)
        return _overview_page(form, _refusal(form, error), error.code)
    flash(
        _(
            "已登记%(source)s注资 %(amount)s（%(day)s）。",
            source=SOURCE_LABELS[contribution.source],
            amount=format_cny(contribution.amount),
            day=contribution.received_on.isoformat(),
        ),
        "success",
    )
    if paid:
        flash(
            _("到位资金已按批准顺序支付 %(count)d 笔排队的代偿：%(ids)s。", count=len(paid),
              ids="、".join(f"#{claim.id}" for claim in paid)),
            "info",
        )
    return redirect(url_for("risk.overview"))


# -------------------------------------------------------------------------------------- claims


@blueprint.get("/risk/claims")
@roles_required(*CLAIM_PAGE_READERS)
def claims():
    status = request.args.get("status") or None
    status = status if status in CLAIM_STATUSES else None
    bank_id = None if current_user.role == LIAISON else _int_arg("bank_id")
    page = _page_arg()
    items, total = queries.visible_claims(status=status, bank_id=bank_id, page=page, per_page=PER_PAGE)
    banks = [] if current_user.role == LIAISON else db.session.scalars(sa.select(Bank).order_by(Bank.name)).all()
    return render_template(
        "risk/claims.html",
        items=items,
        total=total,
        page=page,
        per_page=PER_PAGE,
        status=status,
        bank_id=bank_id,
        banks=banks,
        statuses=CLAIM_STATUSES,
        positions=_queue_positions(),
        **_labels(),
    )


def _queue_positions() -> dict[int, int]:
    return {claim.id: position for position, claim in enumerate(queries.queued_claims(), start=1)}


def _claim_form_page(form: ClaimForm, refusal: str | None = None, status: int = 200):
    bank_id = current_user.bank_id
    today = clock.today()
    candidates = claim_candidates(bank_id, today)
    return (
        render_template(
            "risk/claim_form.html",
            form=form,
            refusal=refusal,
            candidates=candidates[:CANDIDATES_SHOWN],
            candidate_total=len(candidates),
            **_labels(),
        ),
        status,
    )


@blueprint.route("/risk/claims/new", methods=["GET", "POST"])
@roles_required(*CLAIM_FILERS)
def new_claim():
    if current_user.bank_id is None:
        raise Forbidden()
    form = ClaimForm()
    if request.method == "GET":
        loan_id = _int_arg("loan_id")
        if loan_id is not None:
            loan = db.session.get(Loan, loan_id)
            if loan is not None and loan.bank_id == current_user.bank_id:
                form.contract_no.data = loan.contract_no
        as_of = (request.args.get("as_of") or "").strip()
        try:
            form.as_of.data = date.fromisoformat(as_of) if as_of else None
        except ValueError:
            form.as_of.data = None
        return _claim_form_page(form)
    if not form.validate_on_submit():
        return _claim_form_page(form, _invalid_form(), 422)
    loan = find_loan_by_contract(current_user.bank_id, form.contract_no.data)
    if loan is None:
        form.contract_no.errors = [_("本行没有合同编号为 %(no)s 的贷款", no=form.contract_no.data)]
        return _claim_form_page(form, _invalid_form(), 422)
    try:
        claim = services.file_claim(loan.id, as_of=form.as_of.data, by_id=user_id())
    except DomainError as error:
        _rolled_back(error)
        return _claim_form_page(form, _refusal(form, error), error.code)
    flash(
        _(
            "已提交代偿申请 #%(id)s：贷款 %(no)s，逾期未收回本金 %(principal)s，资金池承担 %(pool)s。",
            id=claim.id,
            no=loan.contract_no,
            principal=format_cny(claim.principal),
            pool=format_cny(claim.pool_share),
        ),
        "success",
    )
    return redirect(url_for("risk.claim", claim_id=claim.id))


@dataclass
class Decision:
    """The forms of a manager's decision on one claim (blank, or as sent when refused)."""

    claim_id: int | None
    approve: ApproveForm
    reject: RejectForm


def _blank_decision() -> Decision:
    return Decision(None, ApproveForm(formdata=None), RejectForm(formdata=None))


def loan_history(loan: Loan, until: date) -> list[LoanState]:
    """The loan's state at each month end up to ``until`` (newest first), empty before its start."""
    return dpd_history(loan, until) if until >= loan.start_date else []


def _claim_page(
    claim: RiskClaim,
    *,
    decision: Decision | None = None,
    recovery_form: RecoveryForm | None = None,
    refusal: str | None = None,
    status: int = 200,
):
    today = clock.today()
    labels = _labels()
    loan = claim.loan
    recoveries = list(claim.recoveries)
    can_decide = labels["is_manager"] and claim.status == ClaimStatus.SUBMITTED.value
    can_recover = labels["records_recoveries"] and claim.status == ClaimStatus.PAID.value
    if recovery_form is None and can_recover:
        recovery_form = RecoveryForm(formdata=None)
    return (
        render_template(
            "risk/claim.html",
            claim=claim,
            loan=loan,
            state=loan_state(loan, today),
            history=loan_history(loan, today),
            recoveries=recoveries,
            recovered={
                "amount": sum((r.amount for r in recoveries), Decimal("0.00")),
                "pool": sum((r.pool_part for r in recoveries), Decimal("0.00")),
                "bank": sum((r.bank_part for r in recoveries), Decimal("0.00")),
                "city": sum((r.city_part for r in recoveries), Decimal("0.00")),
                "county": sum((r.county_part for r in recoveries), Decimal("0.00")),
            },
            position=_queue_positions().get(claim.id) if claim.status == ClaimStatus.APPROVED_UNPAID.value else None,
            can_decide=can_decide,
            decision=decision or _blank_decision(),
            blank=_blank_decision(),
            can_recover=can_recover,
            recovery_form=recovery_form,
            four_eyes=claim.filed_by_id is not None and claim.filed_by_id == current_user.id,
            refusal=refusal,
            **labels,
        ),
        status,
    )


@blueprint.get("/risk/claims/<int:claim_id>")
@roles_required(*CLAIM_PAGE_READERS)
def claim(claim_id: int):
    return _claim_page(queries.visible_claim(claim_id))


def _decision_refused(claim_id: int, decision: Decision, message: str, status: int):
    if _source() == "queue":
        return _queue_page(decision=decision, refusal=message, status=status)
    return _claim_page(queries.visible_claim(claim_id), decision=decision, refusal=message, status=status)


def _after_decision(claim_id: int):
    if _source() == "queue":
        return redirect(url_for("risk.queue"))
    return redirect(url_for("risk.claim", claim_id=claim_id))


@blueprint.post("/risk/claims/<int:claim_id>/approve")
@roles_required(*CLAIM_DECIDERS)
def approve(claim_id: int):
    queries.visible_claim(claim_id)  # 404 for an unknown claim, before any form is judged
    decision = Decision(claim_id, ApproveForm(), RejectForm(formdata=None))
    if not decision.approve.validate_on_submit():
        return _decision_refused(claim_id, decision, _invalid_form(), 422)
    try:
        approved = services.approve_claim(claim_id, on=decision.approve.on.data, by_id=user_id())
    except DomainError as error:
        _rolled_back(error)
        return _decision_refused(claim_id, decision, _refusal(decision.approve, error), error.code)
    if approved.status == ClaimStatus.PAID.value:
        flash(
            _("代偿申请 #%(id)s 已批准，资金池已支付 %(amount)s。", id=approved.id, amount=format_cny(approved.pool_share)),
            "success",
        )
    else:
        flash(
            _(
                "代偿申请 #%(id)s 已批准；资金池现金不足，按批准顺序排队待支付（第 %(position)s 位），注资到位后自动支付。",
                id=approved.id,
                position=_queue_positions().get(approved.id, "—"),
            ),
            "warning",
        )
    return _after_decision(claim_id)


@blueprint.post("/risk/claims/<int:claim_id>/reject")
@roles_required(*CLAIM_DECIDERS)
def reject(claim_id: int):
    queries.visible_claim(claim_id)
    decision = Decision(claim_id, ApproveForm(formdata=None), RejectForm())
    if not decision.reject.validate_on_submit():
        return _decision_refused(claim_id, decision, _invalid_form(), 422)
    try:
        rejected = services.reject_claim(
            claim_id, reason=decision.reject.reason.data, on=decision.reject.on.data, by_id=user_id()
        )
    except DomainError as error:
        _rolled_back(error)
        return _decision_refused(claim_id, decision, _refusal(decision.reject, error), error.code)
    flash(_("代偿申请 #%(id)s 已驳回。", id=rejected.id), "info")
    return _after_decision(claim_id)


@blueprint.post("/risk/claims/<int:claim_id>/recoveries")
@roles_required(*RECOVERY_RECORDERS)
def recover(claim_id: int):
    found = recoverable_claim(claim_id)  # a liaison: its own bank's claims only (404 otherwise)
    form = RecoveryForm()
    if not form.validate_on_submit():
        return _claim_page(found, recovery_form=form, refusal=_invalid_form(), status=422)
    try:
        recovery = services.record_recovery(
            found.id, amount=form.amount.data, recovered_on=form.recovered_on.data, by_id=user_id()
        )
    except DomainError as error:
        _rolled_back(error)
        message = _refusal(form, error)
        return _claim_page(queries.visible_claim(claim_id), recovery_form=form, refusal=message, status=error.code)
    flash(
        _(
            "已登记追偿 %(amount)s：资金池 %(pool)s，银行 %(bank)s。",
            amount=format_cny(recovery.amount),
            pool=format_cny(recovery.pool_part),
            bank=format_cny(recovery.bank_part),
        ),
        "success",
    )
    return redirect(url_for("risk.claim", claim_id=claim_id))


# --------------------------------------------------------------------------------------- queue


@dataclass(frozen=True)
class QueueItem:
    """A submitted claim with what a manager decides on: the loan today and its month-end history."""

    claim: RiskClaim
    state: LoanState
    history: list[LoanState]


@dataclass(frozen=True)
class WaitingItem:
    """An approved-unpaid claim in payment order, with the pool shares owed up to and including it."""

    position: int
    claim: RiskClaim
    cumulative: Decimal


def _queue_page(*, decision: Decision | None = None, refusal: str | None = None, status: int = 200):
    today = clock.today()
    page = _page_arg()
    submitted, total = queries.visible_claims(status="queue", page=page, per_page=QUEUE_PER_PAGE)
    items = [QueueItem(item, loan_state(item.loan, today), loan_history(item.loan, today)) for item in submitted]
    waiting, running = [], Decimal("0.00")
    for position, queued in enumerate(queries.queued_claims(), start=1):
        running += queued.pool_share
        waiting.append(WaitingItem(position, queued, running))
    return (
        render_template(
            "risk/queue.html",
            items=items,
            total=total,
            page=page,
            per_page=QUEUE_PER_PAGE,
            waiting=waiting,
            figures=queries.pool_figures(today),
            available=queries.cash_available_from(today),
            decision=decision or _blank_decision(),
            blank=_blank_decision(),
            refusal=refusal,
            **_labels(),
        ),
        status,
    )


@blueprint.get("/risk/queue")
@roles_required(*POOL_STAFF)
def queue():
    return _queue_page()


# ------------------------------------------------------------------------------------- breaker


def _breaker_page(bank: Bank, form: LiftForm | None = None, refusal: str | None = None, status: int = 200):
    as_of = _as_of_arg() or clock.today()
    view = queries.breaker_view(bank.id, as_of)
    labels = _labels()
    can_lift = current_user.role in BREAKER_LIFTERS and view.state == "suspended" and as_of == clock.today()
    if form is None and can_lift:
        form = LiftForm(formdata=None)
    return (
        render_template(
            "risk/breaker.html",
            bank=bank,
            view=view,
            can_lift=can_lift or (form is not None and refusal is not None),
            form=form,
            refusal=refusal,
            as_of_given=as_of != clock.today(),
            **labels,
        ),
        status,
    )


@blueprint.get("/risk/banks/<int:bank_id>/breaker")
@roles_required(*CLAIM_PAGE_READERS)
def breaker(bank_id: int):
    return _breaker_page(visible_bank(bank_id))


@blueprint.post("/risk/banks/<int:bank_id>/breaker/lift")
@roles_required(*BREAKER_LIFTERS)
def lift(bank_id: int):
    bank = visible_bank(bank_id)
    form = LiftForm()
    if not form.validate_on_submit():
        return _breaker_page(bank, form, _invalid_form(), 422)
    try:
        services.lift_breaker(bank.id, reason=form.reason.data, on=form.on.data, by_id=user_id())
    except DomainError as error:
        _rolled_back(error)
        return _breaker_page(db.session.get(Bank, bank_id), form, _refusal(form, error), error.code)
    flash(_("已解除 %(bank)s 的熔断暂停，该行新贷款重新纳入风险补偿。", bank=bank.name), "success")
    return redirect(url_for("risk.breaker", bank_id=bank.id))


# -------------------------------------------------------------------------------------- stress


@blueprint.route("/risk/stress", methods=["GET", "POST"])
@roles_required(*STRESS_RUNNERS)
def stress_test():
    today = clock.today()
    figures = queries.pool_figures(today)
    policy = queries.policy_on(today)
    if request.method == "GET":
        form = StressForm(formdata=None, data={**STRESS_DEFAULTS, "pool_share": policy.risk_pool_share})
        valid = True
    else:
        form = StressForm()
        valid = form.validate_on_submit()
    result = None
    if valid:
        result = stress.project(
            start=today,
            start_cash=figures.cash,
            exposure=figures.covered_outstanding,
            annual_default_rate=form.annual_default_rate.data,
            recovery_rate=form.recovery_rate.data,
            pool_share=form.pool_share.data,
            months=form.months.data,
            recovery_lag_months=form.recovery_lag_months.data or 0,
        )
    return (
        render_template(
            "risk/stress.html",
            form=form,
            figures=figures,
            result=result,
            chart=stress_chart(result) if result is not None else None,
            refusal=None if valid else _invalid_form(),
            **_labels(),
        ),
        200 if valid else 422,
    )


# ------------------------------------------------------------------------------- shared labels


@blueprint.app_template_filter("coverage_reason")
def coverage_reason_filter(code: str | None) -> str:
    """A loan's reason for not being covered, in the page's language (``{{ loan.coverage_reason |
    coverage_reason }}``): for the loan page's 风险补偿 line, which loans cannot label itself."""
    return coverage_reason_label(code) or ""


__all__ = ["blueprint", "claim_url_for"]
