"""Seed-fund pages (创业种子基金): the fund's overview, the officers' queue of applications, an
application's page with its timeline and the forms of its next steps, the managers' decision page,
seed loans with their schedules, and the overdue list.

Who sees what (funds.permissions): fund officers, fund managers, auditors and admins read every
page (auditors and admins only read); bank liaisons have no part in the seed fund and get 403.
A step's form is shown to the role that does it, when the application's state allows it
(funds.states); the services judge every rule again when the form is sent.

A refused step (a ``DomainError`` of 409 or 422) is rolled back at once and the same page is
rendered again with the refusal above it, the reason under the field it concerns and the values
typed kept; the response carries the refusal's status, so the unit of work writes nothing.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms.fields.choices import SelectChoice

from core import clock
from core.auth.permissions import roles_required
from core.db import db
from core.dpd import Classification
from core.errors import DomainError, ValidationFailed
from core.i18n import _, _l
from core.replica import reads_from_replica
from core.money import format_cny
from funds import queries, services
from funds.forms import (
    ApplicationForm,
    ContractForm,
    DecisionForm,
    DisbursementForm,
    ExpertReviewForm,
    InitialReviewForm,
    LinkEnterpriseForm,
    ObjectionForm,
    RecoveryForm,
    RepaymentForm,
    ResolutionForm,
    WithdrawalForm,
    WriteOffDecisionForm,
    WriteOffProposalForm,
    is_yes,
)
from funds.models import SeedApplication, SeedApplicationEvent, SeedContribution, SeedLoan
from funds.permissions import APPLICATION_READERS, INVOLVING_ACTIONS, MANAGERS, OFFICERS, involved_user_ids
from funds.queries import LOAN_STATES
from funds.services.fund import agent_bank
from funds.states import PHASE_LABELS, PHASES, Action, allowed_actions, phase_of, status_label
from parties.queries import active_bank_choices, find_enterprise_by_credit_code

blueprint = Blueprint("seed", __name__)

READERS = APPLICATION_READERS  # liaisons have no part in the seed fund (domain.md §2)
PER_PAGE = 50
CHART_MONTHS = 24
AWAITING_DECISION = ("initial_review_passed", "expert_review")

PHASE_TONES = {
    "submitted": "info",
    "initial_review_passed": "info",
    "expert_review": "primary",
    "public_notice": "warning",
    "objection_raised": "danger",
    "ready_to_contract": "success",
    "contracted": "success",
    "rejected": "secondary",
    "withdrawn": "secondary",
}
LOAN_STATE_LABELS = {
    "contracted": _l("待放款"),
    "active": _l("正常还款"),
    "overdue": _l("逾期"),
    "repaid": _l("已结清"),
    "written_off": _l("已核销"),
}
LOAN_STATE_TONES = {
    "contracted": "info",
    "active": "primary",
    "overdue": "danger",
    "repaid": "success",
    "written_off": "dark",
}
CLASSIFICATION_TONES = {
    "normal": "success",
    "special_mention": "warning",
    "substandard": "danger",
    "doubtful": "danger",
    "loss": "dark",
}
REPAYMENT_LABELS = {"bullet": _l("到期一次还本"), "monthly": _l("按月等额还本")}
# The timeline's steps (funds.services record them); a decision or an initial review reads by its result.
EVENT_LABELS = {
    "submitted": _l("受理申请"),
    "initial_review": _l("初审"),
    "expert_review": _l("专家评审"),
    "decision": _l("审批决定"),
    "objection": _l("公示异议"),
    "objection_dismissed": _l("驳回异议"),
    "objection_upheld": _l("异议成立"),
    "enterprise_linked": _l("登记企业"),
    "withdrawn": _l("撤回申请"),
    "contracted": _l("签订合同"),
    "disbursed": _l("放款"),
}
OBJECTION_LABELS = {"open": _l("待处理"), "dismissed": _l("已驳回"), "upheld": _l("成立"), "closed": _l("随申请结束")}
OBJECTION_TONES = {"open": "danger", "dismissed": "secondary", "upheld": "warning", "closed": "secondary"}
WRITE_OFF_LABELS = {"proposed": _l("待审批"), "approved": _l("已核销"), "rejected": _l("未同意")}
WRITE_OFF_TONES = {"proposed": "warning", "approved": "dark", "rejected": "secondary"}


def _labels() -> dict[str, Any]:
    """Labels and colours every seed-fund template may use."""
    return {
        "phase_labels": PHASE_LABELS,
        "phase_tones": PHASE_TONES,
        "loan_state_labels": LOAN_STATE_LABELS,
        "loan_state_tones": LOAN_STATE_TONES,
        "classification_tones": CLASSIFICATION_TONES,
        "repayment_labels": REPAYMENT_LABELS,
        "event_labels": EVENT_LABELS,
        "objection_labels": OBJECTION_LABELS,
        "objection_tones": OBJECTION_TONES,
        "write_off_labels": WRITE_OFF_LABELS,
        "write_off_tones": WRITE_OFF_TONES,
        "is_officer": current_user.role in OFFICERS,
        "is_manager": current_user.role in MANAGERS,
    }


def _me() -> int:
    return int(current_user.id)


# ------------------------------------------------------------------------------------- helpers


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
        return _("提交的数据有误，请更正表单中标出的内容。")
    return "；".join(details) or error.message


def _invalid_form_message() -> str:
    return _("提交的数据有误，请更正表单中标出的内容。")


def _user_name(user: Any) -> str:
    if user is None:
        return "—"
    return user.display_name or user.username


def _bank_choices() -> list[tuple[str, str]]:
    return [SelectChoice("", _("基金设置的代理银行"))] + [
        SelectChoice(str(bank_id), label) for bank_id, label in active_bank_choices()
    ]


# ------------------------------------------------------------------------------------ overview


def _month_end(year: int, month: int) -> date:
    following = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return following - timedelta(days=1)


def _previous_month(year: int, month: int) -> tuple[int, int]:
    return (year - 1, 12) if month == 1 else (year, month - 1)


def chart_days(today: date) -> list[tuple[str, date]]:
    """``(YYYY-MM, day)``: every month end from the fund's first contribution (at most
    ``CHART_MONTHS`` months back) to today, today standing for the current month."""
    first = db.session.scalar(sa.select(sa.func.min(SeedContribution.received_on)))
    months = [(today.year, today.month)]
    while len(months) < CHART_MONTHS:
        previous = _previous_month(*months[0])
        if first is None or previous < (first.year, first.month):
            break
        months.insert(0, previous)
    return [(f"{y:04d}-{m:02d}", min(_month_end(y, m), today)) for y, m in months]


def _money(amount: Any) -> str:
    return f"{amount:.2f}"


def fund_charts(today: date) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
    """The overview's rows (one per month) and its two charts, from ``queries.fund_series``.

    Repayments and recoveries per month are the differences of their running totals, so the
    bars and the cumulative figures come from the same reading of the books.
    """
    days = chart_days(today)
    before = _month_end(*_previous_month(int(days[0][0][:4]), int(days[0][0][5:])))
    series = queries.fund_series([before, *[day for _label, day in days]])
    rows = []
    for (label, day), previous, figures in zip(days, series[:-1], series[1:], strict=True):
        rows.append(
            {
                "month": label,
                "as_of": day,
                "paid_in": figures.paid_in,
                "cash": figures.cash,
                "committed": figures.committed,
                "available": figures.available,
                "outstanding": figures.outstanding,
                "repaid": figures.repaid_total - previous.repaid_total,
                "recovered": figures.recovered_total - previous.recovered_total,
            }
        )
    labels = [row["month"] for row in rows]
    balances = {
        "labels": labels,
        "unit": _("万元"),
        "series": [
            {"label": _("实收资本"), "values": [_money(row["paid_in"]) for row in rows]},
            {"label": _("借款余额"), "values": [_money(row["outstanding"]) for row in rows]},
            {"label": _("可用余额"), "values": [_money(row["available"]) for row in rows]},
        ],
    }
    flows = {
        "labels": labels,
        "unit": _("万元"),
        "series": [
            {"label": _("当月还款"), "values": [_money(row["repaid"]) for row in rows]},
            {"label": _("当月核销后收回"), "values": [_money(row["recovered"]) for row in rows]},
        ],
    }
    return rows, balances, flows


@blueprint.get("/seed")
@roles_required(*READERS)
@reads_from_replica
def overview():
    today = clock.today()
    figures = queries.fund_figures()
    rows, balances, flows = fund_charts(today)
    contributions, contribution_total = queries.contributions(page=1, per_page=20)
    return render_template(
        "funds/overview.html",
        figures=figures,
        rows=rows,
        balances_chart=balances,
        flows_chart=flows,
        contributions=contributions,
        contribution_total=contribution_total,
        agent_bank=agent_bank(),
        counts=queries.phase_counts(today),
        overdue_total=queries.overdue_loans(today, per_page=1)[1],
        today=today,
        **_labels(),
    )


# ---------------------------------------------------------------------------------- applications


@blueprint.get("/seed/applications")
@roles_required(*READERS)
def applications():
    today = clock.today()
    phase = request.args.get("phase") or None
    phase = phase if phase in PHASES else None
    q = (request.args.get("q") or "").strip()[:100]
    page = _page_arg()
    items, total = queries.applications(phase=phase, q=q or None, as_of=today, page=page, per_page=PER_PAGE)
    return render_template(
        "funds/applications.html",
        items=items,
        total=total,
        page=page,
        per_page=PER_PAGE,
        phase=phase,
        q=q,
        counts=queries.phase_counts(today),
        phases=PHASES,
        phase_of=phase_of,
        today=today,
        review_summary=queries.review_summary,
        **_labels(),
    )


@blueprint.route("/seed/applications/new", methods=["GET", "POST"])
@roles_required(*OFFICERS)
def new_application():
    form = ApplicationForm()
    if request.method == "GET" and form.applicant.data is None:
        form.applicant.data = "enterprise"
    if not form.validate_on_submit():
        if request.method == "GET":
            return render_template("funds/application_form.html", form=form)
        return render_template("funds/application_form.html", form=form, refusal=_invalid_form_message()), 422
    enterprise_id = None
    if form.applicant.data == "enterprise":
        if not form.credit_code.data:
            form.credit_code.errors = [_("请填写统一社会信用代码")]
            return render_template("funds/application_form.html", form=form, refusal=_invalid_form_message()), 422
        enterprise = find_enterprise_by_credit_code(form.credit_code.data)
        if enterprise is None:
            form.credit_code.errors = [_("平台尚未登记该统一社会信用代码的企业，请先登记企业")]
            return render_template("funds/application_form.html", form=form, refusal=_invalid_form_message()), 422
        enterprise_id = enterprise.id
    team = form.applicant.data == "team"
    try:
        application = services.submit_application(
            enterprise_id=enterprise_id,
            team_name=form.team_name.data if team else None,
            contact_name=form.contact_name.data or None,
            contact_phone=form.contact_phone.data or None,
            amount=form.amount.data,
            term_months=form.term_months.data,
            repayment=form.repayment.data,
            purpose=form.purpose.data or "",
            on=form.on.data,
            by_id=_me(),
        )
    except DomainError as error:
        if error.code not in (409, 422):
            raise
        db.session.rollback()
        message = _refusal(form, error, {"enterprise_id": "credit_code"})
        return render_template("funds/application_form.html", form=form, refusal=message), error.code
    flash(_("已受理申请（编号 %(id)s），等待初审。", id=application.id), "success")
    return redirect(url_for("seed.application", application_id=application.id))


# ------------------------------------------------------------------------------ application page


@dataclass(frozen=True)
class Step:
    """A step of the application page: its form, who does it and which transitions it makes."""

    name: str
    title: Any
    roles: tuple[str, ...]
    actions: tuple[Action, ...]
    form: type[FlaskForm]


STEPS: tuple[Step, ...] = (
    Step("initial_review", _l("初审"), OFFICERS, (Action.PASS_INITIAL_REVIEW, Action.FAIL_INITIAL_REVIEW), InitialReviewForm),
    Step("expert_review", _l("登记专家评审"), OFFICERS, (Action.RECORD_EXPERT_REVIEW,), ExpertReviewForm),
    Step("decision", _l("审批决定"), MANAGERS, (Action.APPROVE, Action.REJECT), DecisionForm),
    Step("contract", _l("签订合同"), OFFICERS, (Action.CONTRACT,), ContractForm),
    Step("objection", _l("登记公示异议"), OFFICERS, (Action.RAISE_OBJECTION,), ObjectionForm),
    Step("resolution", _l("处理异议"), MANAGERS, (Action.DISMISS_OBJECTION, Action.UPHOLD_OBJECTION), ResolutionForm),
    Step("link_enterprise", _l("登记企业"), OFFICERS, (Action.LINK_ENTERPRISE,), LinkEnterpriseForm),
    Step("withdrawal", _l("撤回申请"), OFFICERS, (Action.WITHDRAW,), WithdrawalForm),
)
STEP_BY_NAME = {step.name: step for step in STEPS}


def _open_objections(application: SeedApplication) -> list[Any]:
    return [objection for objection in application.objections if objection.status == "open"]


def _prepare(step: str, form: FlaskForm, application: SeedApplication) -> FlaskForm:
    """Fill the choices a form needs from the application (objections, banks)."""
    if step == "resolution":
        form.objection_id.choices = [
            SelectChoice(str(o.id), _("异议 #%(id)s（%(day)s）", id=o.id, day=o.raised_on.isoformat()))
            for o in _open_objections(application)
        ]
        if form.objection_id.data is None and form.objection_id.choices:
            form.objection_id.data = form.objection_id.choices[0].value
    if step == "contract":
        form.agent_bank_id.choices = _bank_choices()
    return form


def visible_steps(application: SeedApplication, today: date) -> list[Step]:
    """The steps the current user may take now: their role does it and the state allows it."""
    allowed = set(allowed_actions(application.status))
    phase = phase_of(application, today)
    steps = []
    for step in STEPS:
        if current_user.role not in step.roles or not allowed & set(step.actions):
            continue
        if step.name == "resolution" and not _open_objections(application):
            continue
        if step.name == "link_enterprise" and application.enterprise_id is not None:
            continue
        if step.name == "contract" and phase != "ready_to_contract":
            continue  # the page says when the notice ends instead
        steps.append(step)
    return steps


def render_application(
    application_id: int, *, failed: str | None = None, failed_form: FlaskForm | None = None, refusal: str | None = None
) -> str:
    """The application page; ``failed`` names a step whose refused form is shown as sent."""
    application = queries.get_application(application_id)
    today = clock.today()
    steps = visible_steps(application, today)
    if failed is not None and failed not in {step.name for step in steps}:
        steps.append(STEP_BY_NAME[failed])  # the refused form stays in view, whatever the state is now
    # The other forms start empty: they must not show what was posted to the refused one.
    forms = {step.name: _prepare(step.name, step.form(formdata=None), application) for step in steps}
    if failed is not None and failed_form is not None:
        forms[failed] = _prepare(failed, failed_form, application)
    summary = queries.review_summary(application)
    involved = involved_user_ids(application.id)
    return render_template(
        "funds/application.html",
        application=application,
        phase=phase_of(application, today),
        summary=summary,
        figures=queries.fund_figures(),
        events=queries.timeline(application.id),
        steps=steps,
        forms=forms,
        failed=failed,
        refusal=refusal,
        four_eyes=current_user.role in MANAGERS and _me() in involved,
        today=today,
        user_name=_user_name,
        status_label=status_label,
        **_labels(),
    )


@blueprint.get("/seed/applications/<int:application_id>")
@roles_required(*READERS)
def application(application_id: int):
    return render_application(application_id)


def _run_step(
    application_id: int,
    step_name: str,
    run: Callable[[Any], str],
    aliases: dict[str, str] | None = None,
    on_refusal: Callable[[FlaskForm, str, int], Any] | None = None,
    anchor: str = "timeline",
    success_url: str | None = None,
):
    """Validate the step's form, run the service, and redirect with a message; on a refusal roll
    back and show the same page with the form as it was sent."""
    step = STEP_BY_NAME[step_name]
    application = queries.get_application(application_id)  # 404 before anything else
    form = _prepare(step_name, step.form(), application)

    def refused(message: str, code: int):
        if on_refusal is not None:
            return on_refusal(form, message, code)
        return render_application(application_id, failed=step_name, failed_form=form, refusal=message), code

    if not form.validate_on_submit():
        return refused(_invalid_form_message(), 422)
    try:
        message = run(form)
    except DomainError as error:
        if error.code not in (409, 422):
            raise
        db.session.rollback()  # nothing of the refused step may show on the page re-rendered below
        return refused(_refusal(form, error, aliases), error.code)
    flash(message, "success")
    return redirect(success_url or url_for("seed.application", application_id=application_id, _anchor=anchor))


@blueprint.post("/seed/applications/<int:application_id>/initial-review")
@roles_required(*OFFICERS)
def initial_review(application_id: int):
    def run(form: InitialReviewForm) -> str:
        passed = is_yes(form.passed.data)
        services.initial_review(application_id, passed=passed, comment=form.comment.data or "", on=form.on.data, by_id=_me())
        return _("已登记初审：通过，进入专家评审。") if passed else _("已登记初审：不通过，申请已结束。")

    return _run_step(application_id, "initial_review", run)


@blueprint.post("/seed/applications/<int:application_id>/expert-reviews")
@roles_required(*OFFICERS)
def expert_review(application_id: int):
    def run(form: ExpertReviewForm) -> str:
        review = services.record_expert_review(
            application_id, expert_name=form.expert_name.data, score=form.score.data, comment=form.comment.data or "",
            on=form.on.data, by_id=_me(),
        )
        return _("已登记专家 %(name)s 的评分 %(score)s。", name=review.expert_name, score=review.score)

    return _run_step(application_id, "expert_review", run, anchor="reviews")


@blueprint.post("/seed/applications/<int:application_id>/decision")
@roles_required(*MANAGERS)
def decide(application_id: int):
    def run(form: DecisionForm) -> str:
        approved = is_yes(form.approved.data)
        decided = services.decide(application_id, approved=approved, comment=form.comment.data or "", on=form.on.data, by_id=_me())
        if approved:
            return _("已批准：公示至 %(end)s，期满无异议后可签约。", end=decided.notice_ends_on.isoformat())
        return _("已否决该申请。")

    from_queue = request.form.get("source") == "decisions"

    def back_to_queue(form: DecisionForm, message: str, code: int):
        return render_decisions(failed_id=application_id, failed_form=form, refusal=message), code

    if from_queue:
        return _run_step(application_id, "decision", run, on_refusal=back_to_queue, success_url=url_for("seed.decisions"))
    return _run_step(application_id, "decision", run)


@blueprint.post("/seed/applications/<int:application_id>/objections")
@roles_required(*OFFICERS)
def raise_objection(application_id: int):
    def run(form: ObjectionForm) -> str:
        services.raise_objection(application_id, content=form.text.data, on=form.on.data, by_id=_me())
        return _("已登记公示异议：异议处理前不能签约。")

    return _run_step(application_id, "objection", run, anchor="objections")


@blueprint.post("/seed/applications/<int:application_id>/objection-resolution")
@roles_required(*MANAGERS)
def resolve_objection(application_id: int):
    def run(form: ResolutionForm) -> str:
        application = queries.get_application(application_id)
        objection_ids = {str(o.id) for o in application.objections}
        if form.objection_id.data not in objection_ids:
            raise ValidationFailed(errors={"objection_id": [_("请选择本申请的异议")]})
        upheld = is_yes(form.upheld.data)
        services.resolve_objection(int(form.objection_id.data), upheld=upheld, reason=form.reason.data, on=form.on.data, by_id=_me())
        return _("异议成立，申请已否决。") if upheld else _("已驳回异议。")

    return _run_step(application_id, "resolution", run, aliases={"objection": "objection_id"}, anchor="objections")


@blueprint.post("/seed/applications/<int:application_id>/contract")
@roles_required(*OFFICERS)
def contract(application_id: int):
    def run(form: ContractForm) -> str:
        bank = form.agent_bank_id.data
        loan = services.sign_contract(
            application_id, on=form.on.data, agent_bank_id=int(bank) if bank and bank.isdigit() else None, by_id=_me()
        )
        return _("已签订合同 %(no)s，请登记放款。", no=loan.contract_no)

    return _run_step(application_id, "contract", run)


@blueprint.post("/seed/applications/<int:application_id>/enterprise")
@roles_required(*OFFICERS)
def link_enterprise(application_id: int):
    def run(form: LinkEnterpriseForm) -> str:
        enterprise = find_enterprise_by_credit_code(form.credit_code.data)
        if enterprise is None:
            raise ValidationFailed(errors={"credit_code": [_("平台尚未登记该统一社会信用代码的企业，请先登记企业")]})
        services.link_enterprise(application_id, enterprise_id=enterprise.id, on=form.on.data, by_id=_me())
        return _("已登记企业：%(name)s。", name=enterprise.name)

    return _run_step(application_id, "link_enterprise", run, aliases={"enterprise_id": "credit_code"})


@blueprint.post("/seed/applications/<int:application_id>/withdrawal")
@roles_required(*OFFICERS)
def withdraw(application_id: int):
    def run(form: WithdrawalForm) -> str:
        services.withdraw(application_id, reason=form.reason.data or "", on=form.on.data, by_id=_me())
        return _("申请已撤回。")

    return _run_step(application_id, "withdrawal", run)


# ---------------------------------------------------------------------------------- decision page


def involvement(application_ids: list[int]) -> dict[int, set[int]]:
    """``{application id: users who submitted or reviewed it}`` in one query (four eyes)."""
    if not application_ids:
        return {}
    rows = db.session.execute(
        sa.select(SeedApplicationEvent.application_id, SeedApplicationEvent.by_id).where(
            SeedApplicationEvent.application_id.in_(application_ids),
            SeedApplicationEvent.action.in_(INVOLVING_ACTIONS),
            SeedApplicationEvent.by_id.is_not(None),
        )
    ).all()
    involved: dict[int, set[int]] = {application_id: set() for application_id in application_ids}
    for application_id, user_id in rows:
        involved[application_id].add(user_id)
    return involved


def render_decisions(*, failed_id: int | None = None, failed_form: FlaskForm | None = None, refusal: str | None = None) -> str:
    """The managers' page: what awaits a decision, what awaits an objection's resolution, and the
    fund's available balance that every approval draws on."""
    today = clock.today()
    awaiting = db.session.scalars(
        sa.select(SeedApplication)
        .where(SeedApplication.status.in_(AWAITING_DECISION))
        .order_by(SeedApplication.submitted_on, SeedApplication.id)
        .limit(200)
    ).all()
    objected = db.session.scalars(
        sa.select(SeedApplication)
        .where(SeedApplication.status == "objection_raised")
        .order_by(SeedApplication.decided_on, SeedApplication.id)
        .limit(200)
    ).all()
    involved = involvement([application.id for application in awaiting])
    me = _me()
    return render_template(
        "funds/decisions.html",
        awaiting=[
            {"application": a, "summary": queries.review_summary(a), "four_eyes": me in involved.get(a.id, set())}
            for a in awaiting
        ],
        objected=objected,
        figures=queries.fund_figures(),
        failed_id=failed_id,
        failed_form=failed_form,
        refusal=refusal,
        today=today,
        user_name=_user_name,
        **_labels(),
    )


@blueprint.get("/seed/decisions")
@roles_required(*READERS)
def decisions():
    return render_decisions()


# ------------------------------------------------------------------------------------- seed loans


@blueprint.get("/seed/loans")
@roles_required(*READERS)
def loans():
    as_of = _as_of_arg()
    status = request.args.get("status") or None
    status = status if status in LOAN_STATES else None
    classification = request.args.get("classification") or None
    classification = classification if classification in {c.value for c in Classification} else None
    page = _page_arg()
    rows, total = queries.loans(status=status, classification=classification, as_of=as_of, page=page, per_page=PER_PAGE)
    return render_template(
        "funds/loans.html",
        rows=rows,
        total=total,
        page=page,
        per_page=PER_PAGE,
        filters={"status": status, "classification": classification, "as_of": as_of},
        as_of=as_of or clock.today(),
        states=LOAN_STATES,
        classifications=list(Classification),
        overdue_view=False,
        **_labels(),
    )


@blueprint.get("/seed/loans/overdue")
@roles_required(*READERS)
def overdue():
    as_of = _as_of_arg()
    page = _page_arg()
    rows, total = queries.overdue_loans(as_of, page=page, per_page=PER_PAGE)
    return render_template(
        "funds/loans.html",
        rows=rows,
        total=total,
        page=page,
        per_page=PER_PAGE,
        filters={"status": None, "classification": None, "as_of": as_of},
        as_of=as_of or clock.today(),
        states=LOAN_STATES,
        classifications=list(Classification),
        overdue_view=True,
        **_labels(),
    )


LOAN_FORMS: dict[str, type[FlaskForm]] = {
    "disbursement": DisbursementForm,
    "repayment": RepaymentForm,
    "write_off": WriteOffProposalForm,
    "write_off_decision": WriteOffDecisionForm,
    "recovery": RecoveryForm,
}
LOAN_FORM_TITLES = {
    "disbursement": _l("登记放款"),
    "repayment": _l("登记还款"),
    "write_off": _l("提议核销"),
    "write_off_decision": _l("审批核销"),
    "recovery": _l("登记核销后收回"),
}


def loan_steps(loan: SeedLoan, state: queries.LoanState, live_proposal: Any) -> list[str]:
    """The loan's forms the current user may use now."""
    steps: list[str] = []
    role = current_user.role
    if role in OFFICERS:
        if loan.status == "contracted":
            steps.append("disbursement")
        if loan.status == "active":
            steps.append("repayment")
            if live_proposal is None and state.days_past_due > 0:
                steps.append("write_off")
        if loan.status == "written_off" and loan.recovered < loan.written_off_principal:
            steps.append("recovery")
    if role in MANAGERS and live_proposal is not None and live_proposal.status == "proposed":
        steps.append("write_off_decision")
    return steps


def render_loan(loan_id: int, *, failed: str | None = None, failed_form: FlaskForm | None = None, refusal: str | None = None) -> str:
    loan = queries.get_loan(loan_id)
    as_of = _as_of_arg() if request.method == "GET" else None
    state = queries.loan_state(loan, as_of)
    live = next((w for w in loan.write_offs if w.status in ("proposed", "approved")), None)
    steps = loan_steps(loan, state, live)
    if failed is not None and failed not in steps:
        steps.append(failed)
    forms = {name: failed_form if name == failed else LOAN_FORMS[name](formdata=None) for name in steps}
    return render_template(
        "funds/loan.html",
        loan=loan,
        state=state,
        as_of_given=as_of is not None,
        steps=steps,
        forms=forms,
        titles=LOAN_FORM_TITLES,
        failed=failed,
        refusal=refusal,
        live_proposal=live,
        four_eyes=live is not None and live.proposed_by_id == _me(),
        next_unpaid=next((f"{line.unpaid:.2f}" for line in state.schedule if line.unpaid > 0), ""),
        today=clock.today(),
        user_name=_user_name,
        **_labels(),
    )


@blueprint.get("/seed/loans/<int:loan_id>")
@roles_required(*READERS)
def loan(loan_id: int):
    return render_loan(loan_id)


def _run_loan_step(loan_id: int, step: str, run: Callable[[Any], str], aliases: dict[str, str] | None = None):
    queries.get_loan(loan_id)  # 404 first
    form = LOAN_FORMS[step]()
    if not form.validate_on_submit():
        return render_loan(loan_id, failed=step, failed_form=form, refusal=_invalid_form_message()), 422
    try:
        message = run(form)
    except DomainError as error:
        if error.code not in (409, 422):
            raise
        db.session.rollback()
        return render_loan(loan_id, failed=step, failed_form=form, refusal=_refusal(form, error, aliases)), error.code
    flash(message, "success")
    return redirect(url_for("seed.loan", loan_id=loan_id))


@blueprint.post("/seed/loans/<int:loan_id>/disbursement")
@roles_required(*OFFICERS)
def disburse(loan_id: int):
    def run(form: DisbursementForm) -> str:
        loan, created = services.disburse(loan_id, disbursed_on=form.on.data, bank_ref=form.bank_ref.data, by_id=_me())
        if not created:
            return _("流水号 %(ref)s 已登记过相同的放款，未重复入账。", ref=form.bank_ref.data)
        return _("已放款 %(amount)s，还款计划已生成。", amount=format_cny(loan.principal))

    return _run_loan_step(loan_id, "disbursement", run, {"disbursed_on": "on"})


@blueprint.post("/seed/loans/<int:loan_id>/repayments")
@roles_required(*OFFICERS)
def repay(loan_id: int):
    def run(form: RepaymentForm) -> str:
        repayment, created = services.record_repayment(
            loan_id, amount=form.amount.data, paid_on=form.on.data, bank_ref=form.bank_ref.data, by_id=_me()
        )
        if not created:
            return _("流水号 %(ref)s 已登记过相同的还款，未重复入账。", ref=repayment.bank_ref)
        return _("已登记还款 %(amount)s（流水号 %(ref)s）。", amount=format_cny(repayment.amount), ref=repayment.bank_ref)

    return _run_loan_step(loan_id, "repayment", run, {"paid_on": "on"})


@blueprint.post("/seed/loans/<int:loan_id>/write-off")
@roles_required(*OFFICERS)
def propose_write_off(loan_id: int):
    def run(form: WriteOffProposalForm) -> str:
        services.propose_write_off(loan_id, reason=form.reason.data, on=form.on.data, by_id=_me())
        return _("已提议核销，等待基金管理人审批。")

    return _run_loan_step(loan_id, "write_off", run)


@blueprint.post("/seed/loans/<int:loan_id>/write-off/decision")
@roles_required(*MANAGERS)
def decide_write_off(loan_id: int):
    def run(form: WriteOffDecisionForm) -> str:
        approve = is_yes(form.approve.data)
        write_off = services.decide_write_off(loan_id, approve=approve, comment=form.comment.data or "", on=form.on.data, by_id=_me())
        if approve:
            return _("已核销本金 %(amount)s。", amount=format_cny(write_off.amount))
        return _("未同意核销。")

    return _run_loan_step(loan_id, "write_off_decision", run, {"reason": "comment"})


@blueprint.post("/seed/loans/<int:loan_id>/recoveries")
@roles_required(*OFFICERS)
def recover(loan_id: int):
    def run(form: RecoveryForm) -> str:
        recovery, created = services.record_recovery(
            loan_id, amount=form.amount.data, recovered_on=form.on.data, bank_ref=form.bank_ref.data,
            note=form.note.data or "", by_id=_me(),
        )
        if not created:
            return _("流水号 %(ref)s 已登记过相同的收回，未重复入账。", ref=recovery.bank_ref)
        return _("已登记核销后收回 %(amount)s，款项回到基金。", amount=format_cny(recovery.amount))

    return _run_loan_step(loan_id, "recovery", run, {"recovered_on": "on"})
