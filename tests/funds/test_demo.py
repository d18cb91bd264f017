"""The seed fund's demonstration data (funds/demo.py through ``flask demo load``): applications in
every state, seed loans in every state, four eyes respected, every date in the past, the seed
ledger balanced and agreeing with its sub-ledger, and the same data for the same day.

Today is 2025-12-31 (tests/funds/conftest.py freezes it); one test moves it to a leap day.
"""
from __future__ import annotations

import re
from collections import Counter
from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from config.demo import DEMO_PASSWORD, load_demo
from core.audit.trail import acting_as
from core.auth.models import User
from core.db import db
from core.ledger.queries import balances, trial_balance
from funds import queries
from funds.models import (
    APPLICATION_STATUSES,
    SeedApplication,
    SeedApplicationEvent,
    SeedContribution,
    SeedExpertReview,
    SeedLoan,
    SeedObjection,
    SeedRecovery,
    SeedRepayment,
    SeedWriteOff,
)
from funds.permissions import involved_user_ids
from funds.queries import LOAN_STATES
from funds.states import PHASES, phase_of
from tests.funds.conftest import TODAY, freeze_on
from tests.support import isolated_client, web_login
from tests.test_interface import assert_csp_clean

D = Decimal


def load(today: date | None = None) -> dict[str, int]:
    with acting_as("demo-loader"):
        return load_demo(today)


def check_seed_demo(today: date) -> None:
    """Everything the seed demo promises, as of ``today`` (inside an app context)."""
    applications = db.session.scalars(sa.select(SeedApplication)).all()
    assert 18 <= len(applications) <= 30
    assert {a.status for a in applications} == set(APPLICATION_STATUSES)  # every state
    assert {phase_of(a, today) for a in applications} == set(PHASES)  # and every phase of the queue
    counts = queries.phase_counts(today)  # the queue's tabs agree
    assert all(counts[phase] > 0 for phase in PHASES) and sum(counts.values()) == len(applications)
    assert any(a.team_name and a.enterprise_id is None for a in applications)  # a startup team still applying
    events = db.session.scalars(sa.select(SeedApplicationEvent)).all()
    assert "enterprise_linked" in {event.action for event in events}  # and one that registered

    # Four eyes: nobody decided what they took part in; the officer does the paperwork.
    users = {user.username: user.id for user in db.session.scalars(sa.select(User))}
    deciders = set()
    for application in applications:
        if application.decided_by_id is not None:
            assert application.decided_by_id not in involved_user_ids(application.id)
            deciders.add(application.decided_by_id)
        assert application.submitted_by_id == users["officer"]
    assert deciders == {users["manager"], users["manager2"]}
    write_offs = db.session.scalars(sa.select(SeedWriteOff)).all()
    assert [w.status for w in write_offs] == ["approved"]
    assert write_offs[0].proposed_by_id == users["officer"] and write_offs[0].decided_by_id in deciders
    objections = Counter(o.status for o in db.session.scalars(sa.select(SeedObjection)))
    assert objections == {"open": 1, "dismissed": 1, "upheld": 1}
    assert {review.recorded_by_id for review in db.session.scalars(sa.select(SeedExpertReview))} == {users["officer"]}

    # Seed loans in every state of their own: bullet and monthly, repayments, one overdue, one written off.
    loans = db.session.scalars(sa.select(SeedLoan)).all()
    states = {loan.id: queries.loan_state(loan, today) for loan in loans}
    assert Counter(state.status for state in states.values()) == {
        "contracted": 1, "active": 3, "overdue": 1, "repaid": 2, "written_off": 1,
    }
    assert set(LOAN_STATES) == {state.status for state in states.values()}
    assert {loan.repayment for loan in loans} == {"bullet", "monthly"}
    overdue = [state for state in states.values() if state.status == "overdue"]
    assert overdue[0].classification.value == "substandard" and 91 <= overdue[0].days_past_due <= 270
    assert queries.overdue_loans(today)[1] == 1
    written_off = next(loan for loan in loans if loan.status == "written_off")
    assert written_off.recovered == D("60000.00") and len(written_off.recoveries) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SeedRepayment)) >= 20
    for loan in loans:
        assert sum((line.principal for line in loan.instalments), D("0.00")) == (loan.principal if loan.disbursed_on else 0)

    # Nothing on or after today.
    dated = (
        SeedApplicationEvent.happened_on, SeedContribution.received_on, SeedRepayment.paid_on,
        SeedRecovery.recovered_on, SeedLoan.disbursed_on, SeedWriteOff.decided_on,
    )
    assert all(db.session.scalar(sa.select(sa.func.max(column))) < today for column in dated)

    # The money: 8,000,000.00 paid in over two years; the books balance and agree with the sub-ledger.
    figures = queries.fund_figures()
    assert figures.paid_in == D("8000000.00")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SeedContribution)) == 4
    assert figures.available >= 0 and figures.committed > 0 and figures.outstanding > 0
    assert figures.written_off_total == written_off.written_off_principal and figures.recovered_total == D("60000.00")
    assert figures.disbursed_cumulative == D("6200000.00") + sum(
        (loan.principal for loan in loans if loan.disbursed_on), D("0.00")
    )
    books = trial_balance("seed")
    assert books.balanced and books.total_debit > 0
    assert sum((row.balance for row in books.rows), D("0.00")) == 0  # the trial balance sums to zero
    assert balances("seed")["seed.loans_receivable"] == sum((state.outstanding for state in states.values()), D("0.00"))
    assert figures.committed == sum(
        (a.amount for a in applications if a.status in ("approved", "objection_raised")
         or (a.loan is not None and a.loan.disbursed_on is None)),
        D("0.00"),
    )


def test_demo_load_shows_the_seed_fund_in_every_state(app_ctx):
    counts = load()
    assert counts["seed_applications"] == db.session.scalar(sa.select(sa.func.count()).select_from(SeedApplication))
    assert counts["seed_loans"] == db.session.scalar(sa.select(sa.func.count()).select_from(SeedLoan))
    assert counts["seed_contributions"] == 4
    check_seed_demo(TODAY)


def snapshot() -> dict[str, list[tuple]]:
    """What the seed demo decides, without ids or timestamps."""
    return {
        "applications": sorted(
            (a.applicant_name, a.amount, a.term_months, a.repayment, a.purpose, a.status, a.submitted_on,
             a.decided_on, a.notice_ends_on)
            for a in db.session.scalars(sa.select(SeedApplication))
        ),
        "events": sorted(
            db.session.execute(
                sa.select(SeedApplicationEvent.action, SeedApplicationEvent.happened_on, SeedApplicationEvent.comment)
            ).all()
        ),
        "reviews": sorted(db.session.execute(sa.select(SeedExpertReview.expert_name, SeedExpertReview.score)).all()),
        "loans": sorted(
            db.session.execute(
                sa.select(SeedLoan.contract_no, SeedLoan.principal, SeedLoan.disbursed_on, SeedLoan.status)
            ).all()
        ),
        "repayments": sorted(db.session.execute(sa.select(SeedRepayment.bank_ref, SeedRepayment.amount, SeedRepayment.paid_on)).all()),
    }


def test_the_seed_demo_is_the_same_for_the_same_day_and_holds_on_a_leap_day(app_ctx):
    day = date(2024, 2, 29)
    freeze_on(day)
    snapshots = []
    for _attempt in range(2):
        savepoint = db.session.begin_nested()
        load()
        check_seed_demo(day)
        snapshots.append(snapshot())
        savepoint.rollback()
    assert snapshots[0] == snapshots[1] and snapshots[0]["repayments"]


def api_token(client, username: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", json={"username": username, "password": DEMO_PASSWORD})
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


def browser_of(app, username: str):
    """A client of its own, logged in through the real login page."""
    client = isolated_client(app)
    response = web_login(client, username, DEMO_PASSWORD)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return client


def test_the_demo_through_the_pages_and_the_api(runner, client, app):
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    assert "seed_applications" in result.output
    fund = client.get("/api/v1/seed/fund", headers=api_token(client, "auditor")).get_json()
    assert fund["paid_in"] == "8000000.00"

    html = browser_of(app, "manager").get("/seed").get_data(as_text=True)
    shown = dict(re.findall(r'data-figure="([a-z_]+)" data-amount="([0-9.\-]+)"', html))
    assert all(shown[key] == fund[key] for key in shown)
    with app.app_context():
        application_ids = db.session.scalars(sa.select(SeedApplication.id)).all()
        loan_ids = db.session.scalars(sa.select(SeedLoan.id)).all()
    urls = ["/seed", "/seed/applications", "/seed/decisions", "/seed/loans", "/seed/loans/overdue"]
    urls += [f"/seed/applications/{i}" for i in application_ids] + [f"/seed/loans/{i}" for i in loan_ids]
    for username in ("officer", "manager"):
        browser = browser_of(app, username)
        for url in urls:
            response = browser.get(url)
            assert response.status_code == 200, (username, url)
            assert_csp_clean(response.get_data(as_text=True))
    queue = browser.get("/seed/decisions").get_data(as_text=True)
    assert "待审批申请（5）" in queue and "待处理的公示异议（1）" in queue
