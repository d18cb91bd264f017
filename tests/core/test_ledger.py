"""The double-entry ledger: posting, refusals in Python and in the database, reversals, balances.

Runs on SQLite and on PostgreSQL (``TEST_DATABASE_URL``). Database-side refusals are driven
with raw SQL inside a savepoint, so a refused statement leaves the test's transaction usable.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.exc import IntegrityError

from core.db import db
from core.errors import BusinessRuleError, NotFound
from core.ledger import ddl, queries, services
from core.ledger.models import JournalEntry, JournalLine, LedgerAccount
from core.money import from_fen

D = Decimal
JAN = date(2025, 1, 15)
FEB = date(2025, 2, 15)
MAR = date(2025, 3, 15)


# ------------------------------------------------------------------------------ helpers


@pytest.fixture
def chart(app_ctx) -> dict[str, LedgerAccount]:
    """A small chart of accounts for the seed fund and one account of the risk pool."""
    specs = [
        ("seed.cash", "种子基金银行存款", "seed", "asset"),
        ("seed.loans", "种子基金应收借款", "seed", "asset"),
        ("seed.capital", "种子基金本金", "seed", "equity"),
        ("seed.writeoff", "种子基金核销损失", "seed", "expense"),
        ("risk.cash", "风险补偿金银行存款", "risk", "asset"),
        ("risk.capital", "风险补偿金本金", "risk", "equity"),
    ]
    return {code: services.ensure_account(code, name, fund, kind) for code, name, fund, kind in specs}


def row_counts() -> tuple[int, int]:
    entries = db.session.scalar(sa.select(sa.func.count()).select_from(JournalEntry))
    lines = db.session.scalar(sa.select(sa.func.count()).select_from(JournalLine))
    return entries, lines


def contribute(amount: Decimal, on: date = JAN) -> JournalEntry:
    return services.post_entry(
        "seed", on, "财政出资到账", [("seed.cash", amount), ("seed.capital", -amount)], source=("contribution", 1)
    )


@contextmanager
def refused_by_database(message: str) -> Iterator[None]:
    """The statements inside must be refused by a trigger whose message contains ``message``."""
    with pytest.raises(IntegrityError, match=message):
        with db.session.begin_nested():
            yield


def sql(statement: str, **params: object) -> sa.CursorResult:
    return db.session.execute(sa.text(statement), params)


def raw_entry(fund: str = "seed", posted: str = "false", on: str = "2025-03-01") -> int:
    """Insert an entry with raw SQL, bypassing the services."""
    return sql(
        "INSERT INTO journal_entries (fund, entry_date, memo, posted, created_at, created_by) "
        f"VALUES (:fund, :on, 'raw', {posted}, CURRENT_TIMESTAMP, 'tester') RETURNING id",
        fund=fund,
        on=on,
    ).scalar_one()


def raw_line(entry_id: int, account: LedgerAccount, fen: int) -> None:
    sql(
        "INSERT INTO journal_lines (entry_id, account_id, amount) VALUES (:entry, :account, :fen)",
        entry=entry_id,
        account=account.id,
        fen=fen,
    )


@pytest.fixture
def count_queries(db_connection):
    """``with count_queries() as seen: ...`` then ``len(seen)`` is the number of SQL statements run."""

    @contextmanager
    def _count() -> Iterator[list[str]]:
        seen: list[str] = []

        def record(conn, cursor, statement, parameters, context, executemany):
            seen.append(statement)

        sa.event.listen(db_connection, "before_cursor_execute", record)
        try:
            yield seen
        finally:
            sa.event.remove(db_connection, "before_cursor_execute", record)

    return _count


# ----------------------------------------------------------------------- posting, reading


def test_balanced_entry_posts_and_balances_add_up(chart):
    first = contribute(D("1000000.00"))
    second = services.post_entry(
        "seed",
        FEB,
        "发放种子基金借款",
        [("seed.loans", D("300000.00")), ("seed.cash", D("-300000.00"))],
        source=("seed_loan", 12),
        created_by="officer1",
    )

    assert first.posted and second.posted
    assert second.source_type == "seed_loan" and second.source_id == "12"
    assert second.created_by == "officer1"
    assert first.created_by == "system"  # no request: a job or the CLI
    assert [line.amount for line in second.lines] == [D("300000.00"), D("-300000.00")]
    assert second.total_debit == second.total_credit == D("300000.00")

    assert queries.balance("seed.cash") == D("700000.00")
    assert queries.balance("seed.loans") == D("300000.00")
    assert queries.balance("seed.capital") == D("-1000000.00")
    assert queries.balances("seed") == {
        "seed.capital": D("-1000000.00"),
        "seed.cash": D("700000.00"),
        "seed.loans": D("300000.00"),
        "seed.writeoff": D("0.00"),
    }
    assert sum(queries.balances("seed").values()) == 0
    # The other fund is untouched.
    assert queries.balances("risk") == {"risk.capital": D("0.00"), "risk.cash": D("0.00")}


def test_every_figure_is_a_decimal_with_two_places(chart):
    contribute(D("5"))  # whole yuan as int-like Decimal
    figures = [
        queries.balance("seed.cash"),
        queries.balance("seed.writeoff"),
        *queries.balances("seed").values(),
        *(value for row in queries.trial_balance("seed").rows for value in (row.debit, row.credit)),
        queries.trial_balance("seed").total_debit,
    ]
    for figure in figures:
        assert type(figure) is Decimal
        assert figure.as_tuple().exponent == -2, figure


def test_trial_balance_shows_debit_and_credit_columns_and_sums_to_zero(chart):
    contribute(D("1000000.00"))
    services.post_entry(
        "seed", FEB, "放款", [("seed.loans", D("250000.00")), ("seed.cash", D("-250000.00"))]
    )
    services.post_entry(
        "seed", MAR, "核销", [("seed.writeoff", D("50000.00")), ("seed.loans", D("-50000.00"))]
    )

    trial = queries.trial_balance("seed")

    rows = {row.code: row for row in trial.rows}
    assert [row.code for row in trial.rows] == sorted(rows)
    assert (rows["seed.cash"].debit, rows["seed.cash"].credit) == (D("750000.00"), D("0.00"))
    assert (rows["seed.loans"].debit, rows["seed.loans"].credit) == (D("200000.00"), D("0.00"))
    assert (rows["seed.writeoff"].debit, rows["seed.writeoff"].credit) == (D("50000.00"), D("0.00"))
    assert (rows["seed.capital"].debit, rows["seed.capital"].credit) == (D("0.00"), D("1000000.00"))
    assert rows["seed.capital"].name == "种子基金本金" and rows["seed.capital"].kind == "equity"
    assert rows["seed.capital"].balance == D("-1000000.00")
    assert trial.total_debit == trial.total_credit == D("1000000.00")
    assert trial.balanced
    assert sum(row.balance for row in trial.rows) == 0

    # As of January only the contribution exists.
    january = queries.trial_balance("seed", as_of=JAN)
    assert january.total_debit == D("1000000.00")
    assert {row.code: row.balance for row in january.rows}["seed.loans"] == D("0.00")


def test_trial_balance_reports_unbalanced_columns():
    row = queries.TrialBalanceRow("x", "x", "asset", D("1.00"), D("0.00"))
    assert not queries.TrialBalance("seed", None, (row,)).balanced


def test_balance_as_of_a_date_ignores_later_entries(chart):
    contribute(D("100.00"), on=JAN)
    contribute(D("20.00"), on=FEB)
    contribute(D("3.00"), on=MAR)

    assert queries.balance("seed.cash", as_of=date(2025, 1, 14)) == D("0.00")
    assert queries.balance("seed.cash", as_of=JAN) == D("100.00")
    assert queries.balance("seed.cash", as_of=date(2025, 2, 28)) == D("120.00")
    assert queries.balance("seed.cash") == D("123.00")
    assert queries.balances("seed", as_of=FEB)["seed.capital"] == D("-120.00")


def test_unposted_entries_are_ignored_by_every_query(chart):
    contribute(D("10.00"))
    entry_id = raw_entry(on="2025-01-01")  # a write in progress: lines but never posted
    raw_line(entry_id, chart["seed.cash"], 99_900)
    raw_line(entry_id, chart["seed.capital"], -99_900)

    assert queries.balance("seed.cash") == D("10.00")
    assert queries.balances("seed")["seed.capital"] == D("-10.00")
    assert queries.trial_balance("seed").total_debit == D("10.00")
    assert all(entry.posted for entry in queries.entries("seed", date(2025, 1, 1), date(2025, 12, 31)))
    assert entry_id not in [e.id for e in queries.entries("seed", date(2025, 1, 1), date(2025, 12, 31))]


def test_balance_of_an_unknown_account_is_not_found(app_ctx):
    with pytest.raises(NotFound):
        queries.balance("nope.cash")


def test_entries_for_statements_are_posted_in_range_ordered_with_lines(chart):
    march = contribute(D("3.00"), on=MAR)
    january = contribute(D("1.00"), on=JAN)
    february = contribute(D("2.00"), on=FEB)
    services.post_entry("risk", FEB, "风险", [("risk.cash", D("9.00")), ("risk.capital", D("-9.00"))])
    db.session.expunge_all()

    found = queries.entries("seed", JAN, FEB)

    assert [entry.id for entry in found] == [january.id, february.id]
    assert [(line.account.code, line.amount) for line in found[1].lines] == [
        ("seed.cash", D("2.00")),
        ("seed.capital", D("-2.00")),
    ]
    assert [e.id for e in queries.entries("seed", MAR, MAR)] == [march.id]
    assert [e.id for e in queries.entries_for_source("contribution", 1)] == [january.id, february.id, march.id]


def test_each_query_is_one_statement(chart, count_queries):
    contribute(D("1.00"))
    services.post_entry("seed", FEB, "放款", [("seed.loans", D("1.00")), ("seed.cash", D("-1.00"))])
    db.session.expunge_all()

    for call in (
        lambda: queries.balance("seed.cash", as_of=FEB),
        lambda: queries.balances("seed", as_of=FEB),
        lambda: queries.trial_balance("seed"),
        lambda: [line.account.code for e in queries.entries("seed", JAN, MAR) for line in e.lines],
    ):
        with count_queries() as seen:
            call()
        assert len(seen) == 1, seen


# --------------------------------------------------------------------- accounts


def test_ensure_account_is_idempotent_and_refuses_a_conflicting_definition(chart):
    again = services.ensure_account("seed.cash", "另一个名字", "seed", "asset")
    assert again.id == chart["seed.cash"].id and again.name == "种子基金银行存款"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LedgerAccount)) == len(chart)

    with pytest.raises(BusinessRuleError):
        services.ensure_account("seed.cash", "银行存款", "risk", "asset")
    with pytest.raises(BusinessRuleError):
        services.ensure_account("seed.cash", "银行存款", "seed", "liability")
    with pytest.raises(ValueError):
        services.ensure_account("seed.other", "其他", "seed", "cash")


# -------------------------------------------------------------- refusals in Python


@pytest.mark.parametrize(
    ("fund", "lines", "message"),
    [
        pytest.param("seed", [("seed.cash", D("100.00")), ("seed.capital", D("-99.99"))], "借贷不平衡", id="unbalanced"),
        pytest.param("seed", [("seed.cash", D("100.00"))], "至少需要两行", id="single-line"),
        pytest.param("seed", [], "至少需要两行", id="no-lines"),
        pytest.param(
            "seed",
            [("seed.cash", D("100.00")), ("seed.loans", D("0.00")), ("seed.capital", D("-100.00"))],
            "不能为零",
            id="zero-line",
        ),
        pytest.param("seed", [("seed.cash", D("100.00")), ("risk.capital", D("-100.00"))], "risk", id="other-fund"),
        pytest.param("seed", [("seed.cash", D("100.00")), ("seed.nope", D("-100.00"))], "seed.nope", id="unknown-account"),
        pytest.param("seed", [("seed.cash", D("1.005")), ("seed.capital", D("-1.005"))], "两位小数", id="three-decimals"),
        pytest.param("seed", [("seed.cash", D("NaN")), ("seed.capital", D("-1.00"))], "两位小数", id="not-a-number"),
    ],
)
def test_python_refuses_a_bad_entry_and_writes_nothing(chart, fund, lines, message):
    contribute(D("1.00"))
    before = row_counts()

    with pytest.raises(BusinessRuleError, match=message) as refusal:
        services.post_entry(fund, MAR, "错误分录", lines)

    assert refusal.value.code == 409
    assert row_counts() == before
    assert queries.balance("seed.cash") == D("1.00")


def test_float_is_never_an_amount(chart):
    before = row_counts()
    with pytest.raises(TypeError):
        services.post_entry("seed", MAR, "float", [("seed.cash", 1.5), ("seed.capital", D("-1.50"))])
    with pytest.raises(TypeError):
        services.post_entry("seed", datetime(2025, 3, 1, tzinfo=timezone.utc), "datetime", [])
    assert row_counts() == before


def test_period_guards_are_called_with_the_entry_date_and_can_refuse(chart, monkeypatch):
    seen: list[date] = []

    def closed_before_march(on: date) -> None:
        seen.append(on)
        if on < date(2025, 3, 1):
            raise BusinessRuleError("月份已结账")

    monkeypatch.setattr(services, "period_guards", [closed_before_march])
    before = row_counts()

    with pytest.raises(BusinessRuleError, match="已结账"):
        contribute(D("1.00"), on=FEB)
    assert row_counts() == before

    contribute(D("1.00"), on=MAR)
    assert seen == [FEB, MAR]


# ----------------------------------------------------------- refusals in the database


def test_the_guard_triggers_are_installed(app_ctx):
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        names = sql("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal").scalars().all()
    else:
        names = sql("SELECT name FROM sqlite_master WHERE type = 'trigger'").scalars().all()
    expected = ddl.LEDGER_GUARD_TRIGGERS_POSTGRESQL if dialect == "postgresql" else ddl.LEDGER_GUARD_TRIGGERS
    assert set(expected) <= set(names)


def test_database_refuses_to_post_unbalanced_lines(chart):
    entry_id = raw_entry()
    raw_line(entry_id, chart["seed.cash"], 10_000)
    raw_line(entry_id, chart["seed.capital"], -9_999)

    with refused_by_database("ledger: entry does not balance"):
        sql("UPDATE journal_entries SET posted = true WHERE id = :id", id=entry_id)

    assert queries.balance("seed.cash") == D("0.00")


def test_database_refuses_to_post_fewer_than_two_lines(chart):
    empty = raw_entry()
    with refused_by_database("ledger: an entry needs at least two lines"):
        sql("UPDATE journal_entries SET posted = true WHERE id = :id", id=empty)

    single = raw_entry()
    raw_line(single, chart["seed.cash"], 100)
    with refused_by_database("ledger: an entry needs at least two lines"):
        sql("UPDATE journal_entries SET posted = true WHERE id = :id", id=single)


def test_database_refuses_to_post_a_line_of_another_fund(chart):
    entry_id = raw_entry(fund="seed")
    raw_line(entry_id, chart["seed.cash"], 100)
    raw_line(entry_id, chart["risk.capital"], -100)

    with refused_by_database("ledger: a line account belongs to another fund"):
        sql("UPDATE journal_entries SET posted = true WHERE id = :id", id=entry_id)


def test_database_accepts_the_posting_shape_the_services_use(chart):
    entry_id = raw_entry()
    raw_line(entry_id, chart["seed.cash"], 100)
    raw_line(entry_id, chart["seed.capital"], -100)
    sql("UPDATE journal_entries SET posted = true WHERE id = :id", id=entry_id)

    assert queries.balance("seed.cash") == D("1.00")


def test_database_refuses_an_entry_inserted_posted(chart):
    before = row_counts()
    with refused_by_database("ledger: an entry must be inserted unposted"):
        raw_entry(posted="true")
    assert row_counts() == before


def test_database_refuses_a_line_added_to_a_posted_entry(chart):
    entry = contribute(D("1.00"))

    with refused_by_database("ledger: lines may only be added to an existing unposted entry"):
        raw_line(entry.id, chart["seed.cash"], 100)

    assert queries.balance("seed.cash") == D("1.00")


def test_database_refuses_to_update_or_delete_a_line(chart):
    entry = contribute(D("1.00"))
    line_id = entry.lines[0].id

    with refused_by_database("ledger: journal_lines is append-only"):
        sql("UPDATE journal_lines SET amount = 200 WHERE id = :id", id=line_id)
    with refused_by_database("ledger: journal_lines is append-only"):
        sql("UPDATE journal_lines SET account_id = :other WHERE id = :id", other=chart["seed.loans"].id, id=line_id)
    with refused_by_database("ledger: journal_lines is append-only"):
        sql("DELETE FROM journal_lines WHERE id = :id", id=line_id)
    # Even the lines of an entry not posted yet: posting is the only way forward.
    draft = raw_entry()
    raw_line(draft, chart["seed.cash"], 100)
    with refused_by_database("ledger: journal_lines is append-only"):
        sql("DELETE FROM journal_lines WHERE entry_id = :id", id=draft)

    assert queries.balance("seed.cash") == D("1.00")


def test_database_refuses_to_delete_an_entry(chart):
    entry = contribute(D("1.00"))
    draft = raw_entry()

    with refused_by_database("ledger: journal_entries is append-only"):
        sql("DELETE FROM journal_entries WHERE id = :id", id=entry.id)
    with refused_by_database("ledger: journal_entries is append-only"):
        sql("DELETE FROM journal_entries WHERE id = :id", id=draft)

    assert row_counts()[0] == 2


def test_database_refuses_to_change_or_unpost_a_posted_entry(chart):
    entry = contribute(D("1.00"))

    with refused_by_database("ledger: a posted entry cannot be changed"):
        sql("UPDATE journal_entries SET memo = 'changed' WHERE id = :id", id=entry.id)
    with refused_by_database("ledger: a posted entry cannot be changed"):
        sql("UPDATE journal_entries SET posted = false WHERE id = :id", id=entry.id)
    with refused_by_database("ledger: a posted entry cannot be changed"):
        sql("UPDATE journal_entries SET entry_date = '2030-01-01' WHERE id = :id", id=entry.id)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("id", "999999"),
        ("fund", "'risk'"),
        ("entry_date", "'2030-01-01'"),
        ("memo", "'changed'"),
        ("source_type", "'other'"),
        ("source_id", "'7'"),
        ("reverses_id", "NULL"),  # replaced by an existing entry's id below
        ("created_at", "'2000-01-01 00:00:00'"),
        ("created_by", "'someone'"),
    ],
)
def test_database_refuses_any_change_but_posting(chart, column, value):
    other = contribute(D("1.00"))
    entry_id = raw_entry()  # balanced lines: posting alone would be accepted
    raw_line(entry_id, chart["seed.cash"], 100)
    raw_line(entry_id, chart["seed.capital"], -100)
    if column == "reverses_id":
        value = str(other.id)

    with refused_by_database("ledger: the only change allowed to an entry is posting it"):
        sql(f"UPDATE journal_entries SET posted = true, {column} = {value} WHERE id = :id", id=entry_id)
    with refused_by_database("ledger: the only change allowed to an entry is posting it"):
        sql(f"UPDATE journal_entries SET {column} = {value} WHERE id = :id", id=entry_id)


@pytest.mark.parametrize("dialect", sorted(ddl.LEDGER_GUARD_DDL))
def test_guard_ddl_runs_verbatim_through_alembic_op_execute(dialect):
    """op.execute wraps a string in sa.text: no ':name' may turn into a bind, no '%' needs escaping."""
    for statement in ddl.LEDGER_GUARD_DDL[dialect] + ddl.LEDGER_GUARD_DROP_DDL[dialect]:
        assert sa.text(statement)._bindparams == {}, statement
        assert "%" not in statement


def test_every_entry_column_but_posted_is_guarded():
    columns = {column.name for column in JournalEntry.__table__.columns} - {"posted"}
    assert columns == set(ddl._ENTRY_COLUMNS)


def test_database_refuses_to_move_an_account_to_another_fund(chart):
    account = chart["seed.cash"]
    with refused_by_database("ledger: account code, fund and kind cannot change"):
        sql("UPDATE ledger_accounts SET fund = 'risk' WHERE id = :id", id=account.id)
    with refused_by_database("ledger: account code, fund and kind cannot change"):
        sql("UPDATE ledger_accounts SET kind = 'liability' WHERE id = :id", id=account.id)
    with refused_by_database("ledger: account code, fund and kind cannot change"):
        sql("UPDATE ledger_accounts SET code = 'seed.bank' WHERE id = :id", id=account.id)
    # A clearer name is fine.
    sql("UPDATE ledger_accounts SET name = '种子基金专户存款' WHERE id = :id", id=account.id)


def test_database_refuses_a_zero_line(chart):
    entry_id = raw_entry()
    with pytest.raises(IntegrityError):
        with db.session.begin_nested():
            raw_line(entry_id, chart["seed.cash"], 0)


def test_postgresql_refuses_truncate(app_ctx):
    if db.session.get_bind().dialect.name != "postgresql":
        pytest.skip("TRUNCATE exists on PostgreSQL only")
    with refused_by_database("ledger: journal_lines is append-only"):
        sql("TRUNCATE journal_lines")
    with refused_by_database("ledger: journal_entries is append-only"):
        sql("TRUNCATE journal_entries CASCADE")


def test_postgresql_a_line_insert_and_a_posting_cannot_interleave(app_ctx):
    """The line-insert guard locks its entry FOR SHARE, so a concurrent posting waits for it.

    Without the lock the posting would sum the lines it can see, post, and the other
    transaction's line would then commit into a posted entry. Needs committed rows (two
    real connections), so it uses its own fund and cleans up with triggers disabled.
    """
    if db.session.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite has a single writer; the race cannot happen there")
    engine = db.engine
    with engine.begin() as setup:
        cash, capital = (
            setup.execute(
                sa.text(
                    "INSERT INTO ledger_accounts (code, name, fund, kind, created_at) "
                    "VALUES (:code, :code, 'race', :kind, CURRENT_TIMESTAMP) RETURNING id"
                ),
                {"code": code, "kind": kind},
            ).scalar_one()
            for code, kind in (("race.cash", "asset"), ("race.capital", "equity"))
        )
        entry_id = setup.execute(
            sa.text(
                "INSERT INTO journal_entries (fund, entry_date, memo, posted, created_at, created_by) "
                "VALUES ('race', '2025-03-01', 'race', false, CURRENT_TIMESTAMP, 'tester') RETURNING id"
            )
        ).scalar_one()
        for account, fen in ((cash, 100), (capital, -100)):
            setup.execute(
                sa.text("INSERT INTO journal_lines (entry_id, account_id, amount) VALUES (:e, :a, :f)"),
                {"e": entry_id, "a": account, "f": fen},
            )
    try:
        with engine.connect() as adder, engine.connect() as poster:
            adder.execute(
                sa.text("INSERT INTO journal_lines (entry_id, account_id, amount) VALUES (:e, :a, 5)"),
                {"e": entry_id, "a": cash},
            )
            poster.execute(sa.text("SET LOCAL lock_timeout = '300ms'"))
            with pytest.raises(sa.exc.DBAPIError, match="lock timeout"):
                poster.execute(sa.text("UPDATE journal_entries SET posted = true WHERE id = :e"), {"e": entry_id})
            poster.rollback()
            adder.rollback()
    finally:
        with engine.begin() as cleanup:
            cleanup.execute(sa.text("SET LOCAL session_replication_role = replica"))  # triggers off
            cleanup.execute(sa.text("DELETE FROM journal_lines WHERE entry_id = :e"), {"e": entry_id})
            cleanup.execute(sa.text("DELETE FROM journal_entries WHERE id = :e"), {"e": entry_id})
            cleanup.execute(sa.text("DELETE FROM ledger_accounts WHERE fund = 'race'"))


def test_sqlite_refuses_an_amount_that_is_not_whole_fen(chart):
    if db.session.get_bind().dialect.name != "sqlite":
        pytest.skip("PostgreSQL's BIGINT already refuses it")
    entry_id = raw_entry()
    with refused_by_database("ledger: a line amount must be a whole number of fen"):
        sql("INSERT INTO journal_lines (entry_id, account_id, amount) VALUES (:e, :a, 0.5)", e=entry_id, a=chart["seed.cash"].id)


def test_a_database_refusal_during_posting_becomes_a_409_and_writes_nothing(chart, monkeypatch):
    """If Python's checks are bypassed (a race), the trigger refuses and the caller gets a clean 409."""
    monkeypatch.setattr(services, "_checked_amounts", lambda lines: [amount for _code, amount in lines])
    before = row_counts()

    with pytest.raises(BusinessRuleError, match="ledger: entry does not balance"):
        services.post_entry("seed", MAR, "不平", [("seed.cash", D("1.00")), ("seed.capital", D("-0.99"))])

    assert row_counts() == before
    contribute(D("1.00"))  # the session is still usable
    assert queries.balance("seed.cash") == D("1.00")


# ------------------------------------------------------------------------ reversals


def test_reversal_restores_balances_and_links_the_original(chart):
    contribute(D("1000.00"), on=JAN)
    loan = services.post_entry(
        "seed", FEB, "放款", [("seed.loans", D("400.00")), ("seed.cash", D("-400.00"))], source=("seed_loan", 3)
    )

    reversal = services.reverse_entry(loan.id, MAR, "冲销错误放款")

    assert reversal.posted and reversal.reverses_id == loan.id and reversal.reverses is loan
    assert reversal.fund == "seed" and (reversal.source_type, reversal.source_id) == ("seed_loan", "3")
    assert [(line.account.code, line.amount) for line in reversal.lines] == [
        ("seed.loans", D("-400.00")),
        ("seed.cash", D("400.00")),
    ]
    assert queries.balance("seed.cash") == D("1000.00")
    assert queries.balance("seed.loans") == D("0.00")
    assert queries.balance("seed.loans", as_of=FEB) == D("400.00")  # history is kept
    assert queries.trial_balance("seed").balanced


def test_a_second_reversal_is_refused(chart):
    entry = contribute(D("10.00"))
    services.reverse_entry(entry.id, FEB, "冲销")
    before = row_counts()

    with pytest.raises(BusinessRuleError, match="已被冲销") as refusal:
        services.reverse_entry(entry.id, MAR, "再次冲销")

    assert refusal.value.code == 409
    assert row_counts() == before
    assert queries.balance("seed.cash") == D("0.00")


def test_a_racing_second_reversal_is_refused_by_the_unique_constraint(chart):
    entry = contribute(D("10.00"))
    services.reverse_entry(entry.id, FEB, "冲销")
    before = row_counts()
    negated = [(line.account, -line.amount) for line in entry.lines]

    # What a concurrent request that passed the Python check would do.
    with pytest.raises(BusinessRuleError, match="已被冲销"):
        services._write("seed", MAR, "并发冲销", negated, source=None, reverses_id=entry.id, created_by="x")

    assert row_counts() == before


def test_reversal_refusals(chart):
    entry = contribute(D("10.00"), on=FEB)
    with pytest.raises(NotFound):
        services.reverse_entry(999_999, MAR, "不存在")
    with pytest.raises(BusinessRuleError, match="不能早于"):
        services.reverse_entry(entry.id, JAN, "早于原分录")
    draft = raw_entry()
    with pytest.raises(BusinessRuleError, match="尚未过账"):
        services.reverse_entry(draft, MAR, "未过账")


def test_reversals_go_through_the_period_guards(chart, monkeypatch):
    entry = contribute(D("10.00"), on=JAN)

    def everything_closed(on: date) -> None:
        raise BusinessRuleError("月份已结账")

    monkeypatch.setattr(services, "period_guards", [everything_closed])
    with pytest.raises(BusinessRuleError, match="已结账"):
        services.reverse_entry(entry.id, FEB, "冲销")


# ------------------------------------------------------------------------ exact sums


def test_a_thousand_fen_add_up_exactly(chart):
    lines = [("seed.cash", D("0.01"))] * 1000 + [("seed.capital", D("-10.00"))]

    entry = services.post_entry("seed", JAN, "一千个一分", lines)

    assert len(entry.lines) == 1001
    assert queries.balance("seed.cash") == D("10.00")
    assert queries.trial_balance("seed").total_debit == D("10.00")


def test_large_amounts_add_up_exactly(chart):
    big = D("99999999999.99")
    for _ in range(3):
        contribute(big)
    services.post_entry("seed", FEB, "一分", [("seed.cash", D("0.01")), ("seed.capital", D("-0.01"))])

    assert queries.balance("seed.cash") == D("299999999999.98")
    assert queries.balance("seed.capital") == D("-299999999999.98")
    trial = queries.trial_balance("seed")
    assert trial.total_debit == trial.total_credit == D("299999999999.98")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    debits=st.lists(
        st.tuples(st.sampled_from(["seed.cash", "seed.loans", "seed.writeoff"]), st.integers(1, 10**13)),
        min_size=1,
        max_size=25,
    )
)
def test_any_split_of_positive_amounts_posts_and_the_trial_balance_is_zero(chart, debits):
    lines = [(code, from_fen(fen)) for code, fen in debits]
    total = sum((amount for _code, amount in lines), D("0.00"))
    savepoint = db.session.begin_nested()
    try:
        entry = services.post_entry("seed", JAN, "随机分录", [*lines, ("seed.capital", -total)])

        assert entry.posted
        trial = queries.trial_balance("seed")
        assert trial.balanced and trial.total_debit == total
        assert sum(row.balance for row in trial.rows) == 0
        assert queries.balance("seed.capital") == -total
    finally:
        savepoint.rollback()
