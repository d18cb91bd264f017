"""``flask demo load``: users, banks, a registry of enterprises and two years of loans, all through the services.

The demo must obey every rule of the product (it is loaded through the services, so a refusal would
abort the command), show every classification badge, and be the same data for the same day.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa

from config.demo import DEMO_BANKS, DEMO_PASSWORD, DEMO_USERS, load_demo
from core import clock
from core.audit.trail import acting_as, verify_chain
from core.auth.models import User
from core.db import db
from loans.models import Disbursement, Loan, Repayment
from loans.queries import loan_states
from parties.credit_code import is_valid_credit_code
from parties.demo import ENTERPRISE_COUNT
from parties.models import Bank, Enterprise, Rating
from parties.queries import rating_valid_on

BANK_CODES = {code for code, _name in DEMO_BANKS}
TIERS_BELOW_NORMAL = {"special_mention", "substandard", "doubtful"}


def freeze_on(day: date) -> None:
    clock.freeze(datetime.combine(day, time(12, 0), tzinfo=clock.BUSINESS_TZ).astimezone(timezone.utc))


@pytest.fixture
def frozen():
    """Move the clock with ``frozen(day)``; released after the test."""
    yield freeze_on
    clock.freeze(None)


def api_token(client, username: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", json={"username": username, "password": DEMO_PASSWORD})
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


def all_pages(client, path: str, headers: dict[str, str]) -> list[dict]:
    items: list[dict] = []
    page = 1
    while True:
        body = client.get(f"{path}?per_page=200&page={page}", headers=headers).get_json()
        items += body["items"]
        if len(items) >= body["total"]:
            return items
        page += 1


def check_rules(today: date) -> dict[str, set]:
    """Assert what the demo promises on ``today`` (inside an app context); return what it spreads over."""
    loans = db.session.scalars(sa.select(Loan).order_by(Loan.start_date, Loan.id)).all()
    enterprises = db.session.scalars(sa.select(Enterprise)).all()
    assert len(enterprises) == ENTERPRISE_COUNT
    assert all(is_valid_credit_code(enterprise.credit_code) for enterprise in enterprises)
    assert len({enterprise.name for enterprise in enterprises}) == ENTERPRISE_COUNT
    assert 90 <= len(loans) <= 160  # about 120, as the calendar falls

    # A couple flagged enterprises, never borrowing; most science-tech, about 30% high-tech.
    flagged = {e.id for e in enterprises if e.bad_credit or e.dishonest}
    assert any(e.bad_credit for e in enterprises) and any(e.dishonest for e in enterprises)
    assert not flagged & {loan.enterprise_id for loan in loans}
    assert sum(e.is_science_tech for e in enterprises) >= ENTERPRISE_COUNT * 9 // 10
    assert ENTERPRISE_COUNT // 5 <= sum(e.is_high_tech for e in enterprises) <= ENTERPRISE_COUNT * 2 // 5

    # Nothing in the future.
    dated = (Enterprise.registered_on, Rating.rated_on, Loan.start_date, Disbursement.disbursed_on, Repayment.paid_on)
    latest = [db.session.scalar(sa.select(sa.func.max(column))) for column in dated]
    assert all(day is not None and day <= today for day in latest), latest

    # Every loan within its enterprise's line on its contract date: the rating of that day, less
    # what the enterprise's earlier loans still used (a day's repayments count before its contracts).
    repaid: dict[int, list[tuple[date, Decimal]]] = defaultdict(list)
    for repayment in db.session.scalars(sa.select(Repayment)):
        repaid[repayment.loan_id].append((repayment.paid_on, repayment.principal))

    def repaid_by(loan: Loan, day: date) -> Decimal:
        return sum((amount for paid_on, amount in repaid[loan.id] if paid_on <= day), Decimal("0.00"))

    grades, towns = set(), set()
    for loan in loans:
        rating = rating_valid_on(loan.enterprise_id, loan.start_date)
        assert rating is not None, f"{loan.contract_no} has no rating valid on {loan.start_date}"
        earlier = [
            other
            for other in loans
            if other.enterprise_id == loan.enterprise_id
            and (other.start_date, other.id) < (loan.start_date, loan.id)
            and repaid_by(other, loan.start_date) < other.principal
        ]
        used = sum((other.principal - repaid_by(other, loan.start_date) for other in earlier), Decimal("0.00"))
        assert used + loan.principal <= rating.credit_line, loan.contract_no
        assert loan.principal % 100_000 == 0  # round amounts
        assert loan.start_date <= today
        grades.add(rating.grade)
        towns.add(loan.enterprise.town)

    # Tranches add up to at most the principal; fully drawn once matured.
    for loan in loans:
        drawn = sum((tranche.amount for tranche in loan.disbursements), Decimal("0.00"))
        assert drawn == loan.disbursed_total <= loan.principal
        assert 0 <= len(loan.disbursements) <= 3
        if loan.maturity_date < today:
            assert drawn == loan.principal, loan.contract_no

    states = loan_states(loans, today)
    matured = [loan for loan in loans if loan.maturity_date < today]
    assert sum(states[loan.id].status == "repaid" for loan in matured) >= len(matured) * 3 // 4  # most repaid
    classifications = {state.classification.value for state in states.values()}
    return {
        "banks": {loan.bank.code for loan in loans},
        "grades": grades,
        "towns": towns,
        "classifications": classifications,
    }


def test_demo_load_spreads_loans_over_banks_towns_grades_and_classifications(app, runner, client, row_counts):
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    assert "loans" in result.output
    today = clock.today()

    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == len(DEMO_USERS)
        assert {bank.code for bank in db.session.scalars(sa.select(Bank))} == BANK_CODES
        spread = check_rules(today)
        contract_numbers = {loan.contract_no for loan in db.session.scalars(sa.select(Loan))}
        assert verify_chain().ok
    assert spread["banks"] == BANK_CODES
    assert len(spread["towns"]) >= 5
    assert len(spread["grades"]) >= 4
    assert len(spread["classifications"]) >= 4
    assert TIERS_BELOW_NORMAL <= spread["classifications"]
    assert any(number.startswith(f"ICBC-{today.year}-") or number.startswith(f"ICBC-{today.year - 1}-")
               for number in contract_numbers)

    # What the API shows: loans in every tier, progress beyond the opening figure, every bank.
    headers = api_token(client, "admin")
    items = all_pages(client, "/api/v1/loans", headers)
    assert len(items) == len(contract_numbers)
    assert len({item["classification"] for item in items}) >= 4
    assert {item["status"] for item in items} >= {"active", "repaid", "overdue"}
    progress = client.get("/api/v1/program/progress", headers=headers).get_json()
    assert Decimal(progress["cumulative_disbursed"]) > Decimal(progress["opening"])
    assert Decimal(progress["disbursed"]) > 0
    assert BANK_CODES <= {line["key"] for line in progress["by_bank"]}
    assert len(progress["by_town"]) >= 5

    # A liaison sees its own bank's loans only.
    liaison = api_token(client, "icbc_liaison")
    assert {item["bank_code"] for item in all_pages(client, "/api/v1/loans", liaison)} == {"ICBC"}

    # Loading again: --if-empty does nothing, a plain load is refused; nothing changes either way.
    before = row_counts(ignore=("login_failures",))
    skipped = runner.invoke(args=["demo", "load", "--if-empty"])
    assert skipped.exit_code == 0, skipped.output
    assert runner.invoke(args=["demo", "load"]).exit_code != 0
    assert row_counts(ignore=("login_failures",)) == before
    with app.app_context():
        assert verify_chain().ok


def snapshot() -> dict[str, list[tuple]]:
    """Everything the demo decides, without ids or timestamps."""
    return {
        "enterprises": sorted(
            db.session.execute(
                sa.select(
                    Enterprise.credit_code, Enterprise.name, Enterprise.registered_on, Enterprise.town,
                    Enterprise.industry, Enterprise.is_science_tech, Enterprise.is_high_tech,
                    Enterprise.bad_credit, Enterprise.dishonest,
                )
            ).all()
        ),
        "ratings": sorted(
            db.session.execute(
                sa.select(Enterprise.credit_code, Rating.grade, Rating.rated_on, Rating.credit_line).join(Enterprise)
            ).all()
        ),
        "loans": sorted(
            db.session.execute(
                sa.select(
                    Loan.contract_no, Bank.code, Enterprise.credit_code, Loan.principal, Loan.annual_rate,
                    Loan.start_date, Loan.maturity_date, Loan.purpose, Loan.status,
                )
                .join(Bank, Loan.bank_id == Bank.id)
                .join(Enterprise, Loan.enterprise_id == Enterprise.id)
            ).all()
        ),
        "disbursements": sorted(
            db.session.execute(
                sa.select(
                    Loan.contract_no, Disbursement.bank_ref, Disbursement.amount, Disbursement.disbursed_on
                ).join(Loan)
            ).all()
        ),
        "repayments": sorted(
            db.session.execute(
                sa.select(
                    Loan.contract_no, Repayment.bank_ref, Repayment.principal, Repayment.interest, Repayment.paid_on
                ).join(Loan)
            ).all()
        ),
    }


def test_the_demo_is_the_same_for_the_same_day_and_holds_on_a_leap_day(app_ctx, frozen):
    day = date(2024, 2, 29)  # month-end clamping and ratings of 29 February
    frozen(day)
    snapshots = []
    for _attempt in range(2):
        savepoint = db.session.begin_nested()
        with acting_as("demo-loader"):
            counts = load_demo()
        spread = check_rules(day)
        assert spread["banks"] == BANK_CODES
        assert len(spread["classifications"]) >= 4
        assert counts["loans"] == db.session.scalar(sa.select(sa.func.count()).select_from(Loan))
        snapshots.append(snapshot())
        savepoint.rollback()
    assert snapshots[0] == snapshots[1]
    assert snapshots[0]["loans"]
