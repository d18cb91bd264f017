"""The daily classification: DPD snapshots computed in SQL equal the loans' own state, idempotent per
day, a constant number of queries whatever the number of loans; the job's other duties; the CLI."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from core import clock
from core.auth.models import ApiToken, LoginFailure
from core.db import db
from core.jobs.models import JobRun
from loans import services
from loans.jobs import store_dpd_snapshots
from loans.models import Loan, LoanDpdSnapshot
from loans.queries import loan_state
from tests.factories import BankFactory, LoanFactory, UserFactory
from tests.loans.test_loans import rated_enterprise

D = Decimal
TODAY = date(2025, 7, 3)


def make_loan(bank, enterprise, contract_no, principal, start, maturity, tranches=(), repayments=()) -> Loan:
    loan = services.create_loan(
        bank_id=bank.id, enterprise_id=enterprise.id, contract_no=contract_no, principal=D(principal),
        annual_rate=D("0.0345"), start_date=start, maturity_date=maturity, created_by="arrange",
    )
    for n, (amount, day) in enumerate(tranches):
        services.record_disbursement(loan, amount=D(amount), disbursed_on=day, bank_ref=f"{contract_no}-D{n}", created_by="arrange")
    for n, (amount, day) in enumerate(repayments):
        services.record_repayment(loan, principal=D(amount), interest=D("0.00"), paid_on=day, bank_ref=f"{contract_no}-R{n}",
                                  created_by="arrange")
    return loan


@pytest.fixture
def portfolio(app_ctx) -> dict[str, int]:
    """Loans in each state as of 2025-07-03 (and different ones as of 2025-01-05), committed."""
    bank = BankFactory()
    enterprise = rated_enterprise(rated_on=date(2024, 6, 1))
    loans = {
        # 94 days past due on 2025-07-03, partly repaid on 2025-01-10.
        "overdue": make_loan(bank, enterprise, "L-OVERDUE", "1000000.00", date(2024, 7, 1), date(2025, 3, 31),
                             [("1000000.00", date(2024, 7, 2))], [("200000.00", date(2025, 1, 10))]),
        # 3 days past due.
        "late": make_loan(bank, enterprise, "L-LATE", "500000.00", date(2024, 9, 1), date(2025, 6, 30),
                          [("500000.00", date(2024, 9, 2))]),
        # Not yet mature.
        "current": make_loan(bank, enterprise, "L-CURRENT", "300000.00", date(2025, 3, 1), date(2026, 2, 28),
                             [("300000.00", date(2025, 3, 2))]),
        # Nothing disbursed: no snapshot.
        "contracted": make_loan(bank, enterprise, "L-CONTRACTED", "200000.00", date(2025, 3, 1), date(2026, 2, 28)),
        # Everything disbursed repaid (after maturity: repaid at once); a snapshot only as of 2025-01-05.
        "settled": make_loan(bank, enterprise, "L-SETTLED", "200000.00", date(2024, 7, 1), date(2025, 3, 31),
                             [("100000.00", date(2024, 7, 2))], [("100000.00", date(2025, 1, 10))]),
    }
    db.session.commit()
    return {name: loan.id for name, loan in loans.items()}


def snapshots(day: date) -> dict[int, LoanDpdSnapshot]:
    return {row.loan_id: row for row in db.session.scalars(sa.select(LoanDpdSnapshot).where(LoanDpdSnapshot.day == day))}


@pytest.mark.parametrize("day", [TODAY, date(2025, 1, 5)])
def test_snapshots_equal_each_loans_state_on_the_day(portfolio, day):
    progress: list[tuple[int, int]] = []
    written = store_dpd_snapshots(day, lambda done, total: progress.append((done, total)))
    stored = snapshots(day)
    expected = {}
    for loan_id in portfolio.values():
        state = loan_state(db.session.get(Loan, loan_id), day)
        if state.outstanding_principal > 0:
            expected[loan_id] = (state.days_past_due, state.classification.value, state.outstanding_principal)
    assert {loan_id: (s.dpd, s.classification, s.outstanding_principal) for loan_id, s in stored.items()} == expected
    assert written == len(expected)
    assert progress[0][0] == 0 and progress[-1][0] == progress[-1][1]


def test_the_states_of_the_portfolio_on_the_day(portfolio):
    store_dpd_snapshots(TODAY)
    stored = snapshots(TODAY)
    figures = {name: (stored[loan_id].dpd, stored[loan_id].classification) for name, loan_id in portfolio.items() if loan_id in stored}
    assert figures == {"overdue": (94, "substandard"), "late": (3, "special_mention"), "current": (0, "normal")}
    assert stored[portfolio["overdue"]].outstanding_principal == D("800000.00")
    # As of 2025-01-05 the partial repayment had not happened and the last loan had not started.
    earlier = snapshots(date(2025, 1, 5)) or (store_dpd_snapshots(date(2025, 1, 5)) and snapshots(date(2025, 1, 5)))
    assert set(earlier) == {portfolio["overdue"], portfolio["late"], portfolio["settled"]}
    assert earlier[portfolio["overdue"]].outstanding_principal == D("1000000.00")


def test_a_second_run_for_the_same_day_rewrites_the_same_rows(portfolio):
    store_dpd_snapshots(TODAY)
    first = {loan_id: row.id for loan_id, row in snapshots(TODAY).items()}
    loan = db.session.get(Loan, portfolio["late"])
    services.record_repayment(loan, principal=D("100000.00"), interest=D("0.00"), paid_on=TODAY, bank_ref="LATE-R",
                              created_by="arrange")
    store_dpd_snapshots(TODAY)
    db.session.expire_all()
    again = snapshots(TODAY)
    assert {loan_id: row.id for loan_id, row in again.items()} == first
    assert again[portfolio["late"]].outstanding_principal == D("400000.00")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LoanDpdSnapshot)) == 3


def test_small_chunks_give_the_same_snapshots(portfolio):
    assert store_dpd_snapshots(TODAY, chunk_size=1) == 3
    progress: list[tuple[int, int]] = []
    store_dpd_snapshots(TODAY, lambda done, total: progress.append((done, total)), chunk_size=2)
    assert progress == [(0, 4), (2, 4), (4, 4)]  # the four loans with something disbursed, two at a time


class StatementCounter:
    def __init__(self, connection: sa.Connection) -> None:
        self.connection = connection
        self.count = 0

    def __enter__(self):
        sa.event.listen(self.connection, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc):
        sa.event.remove(self.connection, "before_cursor_execute", self._count)

    def _count(self, *args, **kwargs):
        self.count += 1


def test_the_number_of_queries_does_not_grow_with_the_number_of_loans(app_ctx, db_connection):
    day = date(2026, 6, 30)
    counts = []
    for loans in (3, 40):
        LoanFactory.create_batch(loans - sum(1 for _ in db.session.scalars(sa.select(Loan.id))), overdue=True)
        db.session.commit()
        with StatementCounter(db_connection) as counter:
            written = store_dpd_snapshots(day)
        assert written == loans
        counts.append(counter.count)
    assert counts[0] == counts[1], counts
    assert {row.dpd for row in snapshots(day).values()} == {(day - date(2026, 2, 28)).days}


# ---------------------------------------------------------------------------------------------- the job


def test_the_daily_job_settles_snapshots_evaluates_and_purges(app, app_ctx, portfolio):
    from core.jobs.runner import run_job

    user = UserFactory(role="admin")
    # Everything disbursed was repaid before maturity, and it has matured since: the job settles it.
    matured = LoanFactory(status="active", disbursed_total=D("100000.00"), repaid_principal=D("100000.00"),
                          start_date=date(2024, 7, 1), maturity_date=date(2025, 3, 31))
    db.session.flush()
    db.session.add_all([
        ApiToken(user_id=user.id, token_hash="a" * 64, created_at=clock.now() - timedelta(days=2),
                 expires_at=clock.now() - timedelta(days=1)),
        ApiToken(user_id=user.id, token_hash="b" * 64, created_at=clock.now(), expires_at=clock.now() + timedelta(hours=1)),
        LoginFailure(username="someone", address="10.0.0.1", at=clock.now() - timedelta(days=1)),
    ])
    db.session.commit()
    run = run_job("daily-classification", triggered_by="cli")
    assert run.status == "succeeded", run.error
    assert run.period == "2025-07-03"
    assert run.result["settled_loans"] == 1 and run.result["snapshots"] == 3
    assert run.result["expired_tokens_purged"] == 1 and run.result["login_failures_purged"] == 1
    assert isinstance(run.result["breaker_changes"], list)
    assert (run.progress_done, run.progress_total) == (5, 5)  # loans with something disbursed
    assert db.session.get(Loan, matured.id).status == "repaid"
    assert len(snapshots(TODAY)) == 3
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiToken)) == 1


def test_flask_jobs_run_daily_classification_stores_snapshots(runner, app, portfolio):
    result = runner.invoke(args=["jobs", "run", "daily-classification"])
    assert result.exit_code == 0, result.output
    assert "daily-classification 2025-07-03: succeeded" in result.output
    assert '"snapshots": 3' in result.output
    with app.app_context():
        assert len(snapshots(TODAY)) == 3
        (run,) = db.session.scalars(sa.select(JobRun)).all()
        assert (run.triggered_by, run.status) == ("cli", "succeeded")

    again = runner.invoke(args=["jobs", "run", "daily-classification", "--period", "2025-07-03"])
    assert again.exit_code == 0 and "本次跳过" in again.output


def test_flask_jobs_run_refusals(runner, app_ctx):
    unknown = runner.invoke(args=["jobs", "run", "nightly-magic"])
    assert unknown.exit_code == 1
    assert "nightly-magic" in unknown.output and "daily-classification" in unknown.output
    bad = runner.invoke(args=["jobs", "run", "monthly-statements", "--period", "2025-13"])
    assert bad.exit_code == 1 and "YYYY-MM" in bad.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(JobRun)) == 0


def test_flask_jobs_run_exits_non_zero_when_the_job_fails(runner, app_ctx, fake_job):
    def broken(period, progress):
        progress(1, 3)
        raise RuntimeError("模板缺失")

    fake_job("test-broken", body=broken)
    result = runner.invoke(args=["jobs", "run", "test-broken", "--period", "2025-06"])
    assert result.exit_code == 1
    assert "RuntimeError: 模板缺失" in result.output


def test_flask_jobs_list_shows_each_job_and_its_schedule(runner, app_ctx):
    result = runner.invoke(args=["jobs", "list"])
    assert result.exit_code == 0
    for name, when in (
        ("daily-classification", "每天 00:30"),
        ("contracts", "每 10 分钟"),
        ("monthly-reconciliation", "每月 1 日 02:00"),
        ("monthly-statements", "每月 1 日 03:00"),
    ):
        line = next(line for line in result.output.splitlines() if line.startswith(name))
        assert when in line and "尚未运行" in line
