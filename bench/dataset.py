"""The benchmarks' data: a throwaway database filled with raw SQL (``INSERT ... SELECT`` over a
counter), so 100,000 loans and a million postings load in seconds rather than through the services.

Shared by bench/reconciliation.py and bench/pages.py. Rows get fixed ids from ``offset`` + 1 (0 by
default; the pages benchmark loads the demonstration data through the services first, then the bulk
clear of its ids); ``finish`` moves the PostgreSQL sequences past them, so the services can add rows
afterwards (the pool's contributions and claims). Tranches carry their borrower and grade, as
``loans.tranche_grades`` keeps them.

The figures (fen, days) follow simple formulas of the row number, so every run loads the same data:

* ``load_parties``: ``banks`` banks (codes BK01...), ``enterprises`` enterprises spread over 6 towns and
  5 industries, each rated twice (grades A–E in turn; the second rating a year after the first);
* ``load_loans``: ``loans`` loans of 1,000,000.00 started between 2024-07-01 and 2025-06-25, one
  tranche of 600,000.00 two days after the start, every tenth with a second tranche of 100,000.00 on
  2025-07-05, every second (``REPAID``) with a repayment of 100,000.00 four weeks later, every seventh past
  its maturity; every ``covered_every``-th covered by the risk pool (0: none);
* ``load_tapes``: each bank's month-end tape for ``period`` (as of ``end``), ``differences`` rows altered;
* ``load_postings``: ``postings`` journal lines (two per entry) alternating between the seed fund and
  the pool, over 600 days from 2024-01-01.
"""
from __future__ import annotations

import uuid
from contextlib import contextmanager
from datetime import date
from typing import Callable, Iterator

import sqlalchemy as sa

from core import clock
from core.ledger.models import LEDGER_GUARD_DROP_DDL
from core.policy.models import DEFAULT_POLICY, Policy
from parties.credit_code import credit_code_check_char

TOWNS = ("城关镇", "东港镇", "西山镇", "南塘镇", "北湖镇", "新桥镇")
INDUSTRIES = ("软件", "新材料", "生物医药", "高端装备", "电子信息")
GRADES = "ABCDE"
# Which loans have a repayment (of 100,000.00, 28 days after the first tranche): every second one,
# except those so late in the year that the repayment would fall after 2025-07-05.
REPAID = "{k} % 2 = 0 AND {k} % 360 < 340"
LOAN_TABLES = ("banks", "enterprises", "ratings", "loans", "disbursements", "repayments", "bank_tapes",
               "bank_tape_rows", "journal_entries", "journal_lines", "ledger_accounts")


def days(dialect: str, base: str, offset: str) -> str:
    """SQL for the date ``base`` plus ``offset`` days."""
    if dialect == "postgresql":
        return f"(DATE '{base}' + ({offset})::int)"
    return f"date('{base}', '+' || ({offset}) || ' days')"


def counter(dialect: str, count: int) -> str:
    """A CTE ``n(i)`` of 1..count."""
    if dialect == "postgresql":
        return f"n(i) AS (SELECT generate_series(1, {count}))"
    return f"n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {count})"


def recursive(dialect: str) -> str:
    return "" if dialect == "postgresql" else "RECURSIVE "


def stamp(dialect: str) -> str:
    """Now, as UTCDateTime stores instants: naive UTC text on SQLite, aware on PostgreSQL."""
    return clock.now().isoformat() if dialect == "postgresql" else clock.now().strftime("%Y-%m-%d %H:%M:%S.%f")


def runner(connection: sa.Connection) -> Callable[[str], sa.CursorResult]:
    return lambda sql: connection.execute(sa.text(sql))


def prepare(connection: sa.Connection) -> None:
    """The default policy, and no ledger guard triggers (postings are inserted already posted)."""
    for statement in LEDGER_GUARD_DROP_DDL[connection.dialect.name]:
        connection.execute(sa.text(statement))
    connection.execute(sa.insert(Policy), [{**DEFAULT_POLICY, "note": "默认政策", "created_by": "system"}])


def load_parties(connection: sa.Connection, banks: int, enterprises: int, *, offset: int = 0, ratings: bool = True) -> None:
    dialect, now = connection.dialect.name, stamp(connection.dialect.name)
    connection.execute(
        sa.text("INSERT INTO banks (id, name, code, is_active, created_at) VALUES (:id, :name, :code, true, :at)"),
        [{"id": offset + b, "name": f"基准银行{b:02d}", "code": f"BK{b:02d}", "at": now} for b in range(1, banks + 1)],
    )
    rows = []
    for e in range(1, enterprises + 1):
        first17 = f"91330100MC{e:07d}"
        rows.append({"id": offset + e, "name": f"基准企业{e:05d}", "code": first17 + credit_code_check_char(first17),
                     "town": TOWNS[e % len(TOWNS)], "industry": INDUSTRIES[e % len(INDUSTRIES)],
                     "high": e % 3 == 0, "at": now})
    connection.execute(
        sa.text(
            "INSERT INTO enterprises (id, name, credit_code, registered_on, town, industry, is_science_tech, "
            "is_high_tech, bad_credit, dishonest, created_at) VALUES (:id, :name, :code, '2020-01-01', :town, "
            ":industry, true, :high, false, false, :at)"
        ),
        rows,
    )
    if not ratings:
        return
    run = runner(connection)
    for year, shift in ((2024, 0), (2025, 1)):
        grade = f"substr('{GRADES}', 1 + (id + {shift}) % 5, 1)"
        rated_on = days(dialect, f"{year}-01-01", "id % 90")
        valid_until = days(dialect, f"{year}-12-31", "id % 90")
        run(f"""INSERT INTO ratings (enterprise_id, grade, rated_on, valid_until, credit_line, policy_id, created_by,
                   created_at)
                SELECT id, {grade}, {rated_on}, {valid_until}, 500000000, 1, 'bench', '{now}' FROM enterprises
                WHERE id > {offset}""")


def load_loans(
    connection: sa.Connection, loans: int, banks: int, enterprises: int, *, offset: int = 0, covered_every: int = 0
) -> None:
    dialect, now, run = connection.dialect.name, stamp(connection.dialect.name), runner(connection)
    start = days(dialect, "2024-07-01", "i % 360")
    maturity = f"CASE WHEN i % 7 = 0 THEN {days(dialect, '2024-07-01', 'i % 360 + 180')} " \
               f"ELSE {days(dialect, '2024-07-01', 'i % 360 + 365')} END"
    covered = f"i % {covered_every} = 0" if covered_every else "false"
    k = f"(id - {offset})"  # the loan's number i, from which its dates and figures follow
    run(f"""INSERT INTO loans (id, bank_id, enterprise_id, contract_no, principal, annual_rate, start_date,
               maturity_date, purpose, status, disbursed_total, repaid_principal, policy_id, covered, created_by,
               created_at)
            WITH {recursive(dialect)}{counter(dialect, loans)}
            SELECT {offset} + i, {offset} + 1 + i % {banks}, {offset} + 1 + i % {enterprises}, 'BR-' || i, 100000000, 34500, {start}, {maturity}, '',
                   'active', 60000000 + CASE WHEN i % 10 = 0 THEN 10000000 ELSE 0 END,
                   CASE WHEN {REPAID.format(k='i')} THEN 10000000 ELSE 0 END, 1, {covered}, 'bench', '{now}'
            FROM n""")
    run(f"""INSERT INTO disbursements (loan_id, bank_id, enterprise_id, amount, disbursed_on, bank_ref, created_by,
               created_at)
            SELECT id, bank_id, enterprise_id, 60000000, {days(dialect, '2024-07-03', f'{k} % 360')}, 'D' || id, 'bench',
                   '{now}'
            FROM loans WHERE id > {offset}""")
    run(f"""INSERT INTO disbursements (loan_id, bank_id, enterprise_id, amount, disbursed_on, bank_ref, created_by,
               created_at)
            SELECT id, bank_id, enterprise_id, 10000000, '2025-07-05', 'D2-' || id, 'bench', '{now}' FROM loans
            WHERE id > {offset} AND {k} % 10 = 0""")
    # Each tranche's grade: the borrower's latest rating on or before its day (loans.tranche_grades).
    run(f"""UPDATE disbursements SET grade = (
                SELECT r.grade FROM ratings r WHERE r.enterprise_id = disbursements.enterprise_id
                AND r.rated_on <= disbursements.disbursed_on ORDER BY r.rated_on DESC LIMIT 1)
            WHERE loan_id > {offset}""")
    run(f"""INSERT INTO repayments (loan_id, bank_id, principal, interest, paid_on, bank_ref, created_by, created_at)
            SELECT id, bank_id, 10000000, 0, {days(dialect, '2024-07-31', f'{k} % 360')}, 'R' || id, 'bench', '{now}'
            FROM loans WHERE id > {offset} AND {REPAID.format(k=k)}""")


def load_tapes(connection: sa.Connection, period: str, end: date, differences: int) -> None:
    dialect, now, run = connection.dialect.name, stamp(connection.dialect.name), runner(connection)
    run(f"""INSERT INTO bank_tapes (id, bank_id, period, version, filename, sha256, row_count, uploaded_by, uploaded_at)
            SELECT id, id, '{period}', 1, 'tape.csv', 'bench', 0, 'bench', '{now}' FROM banks""")
    last = f"'{end.isoformat()}'"
    if dialect == "postgresql":
        dpd = f"CASE WHEN maturity_date < DATE {last} AND o > 0 THEN DATE {last} - maturity_date ELSE 0 END"
    else:
        dpd = f"CASE WHEN maturity_date < {last} AND o > 0 THEN CAST(julianday({last}) - julianday(maturity_date) AS INTEGER) ELSE 0 END"
    repaid = (f"CASE WHEN {REPAID.format(k='l.id')} AND {days(dialect, '2024-07-31', 'l.id % 360')} <= {last} "
              "THEN 10000000 ELSE 0 END")
    run(f"""INSERT INTO bank_tape_rows (tape_id, row_number, contract_no, credit_code, disbursed_total,
               repaid_principal, outstanding_principal, days_past_due)
            SELECT bank_id, id + 1, contract_no, credit_code, d, r, o, {dpd}
            FROM (SELECT l.id, l.bank_id, l.contract_no, e.credit_code, l.maturity_date,
                         60000000 AS d, {repaid} AS r, 60000000 - {repaid} AS o
                  FROM loans l JOIN enterprises e ON e.id = l.enterprise_id) AS s""")
    run(f"UPDATE bank_tape_rows SET days_past_due = days_past_due + 1 WHERE id <= {differences}")
    run("UPDATE bank_tapes SET row_count = (SELECT count(*) FROM bank_tape_rows WHERE tape_id = bank_tapes.id)")


POSTING_ACCOUNTS = (  # (code, name, fund, kind): cash against paid-in capital in each fund
    ("seed.cash", "种子基金银行存款", "seed", "asset"),
    ("seed.contributions", "种子基金实收资本", "seed", "equity"),
    ("risk.cash", "风险补偿资金池银行存款", "risk", "asset"),
    ("risk.contributions.city", "实收资本（市级）", "risk", "equity"),
)


def posting_accounts(connection: sa.Connection) -> dict[str, int]:
    """The ids of ``POSTING_ACCOUNTS`` by code, creating those the database does not have yet."""
    now = stamp(connection.dialect.name)
    ids = dict(connection.execute(sa.text("SELECT code, id FROM ledger_accounts")).all())
    for code, name, fund, kind in POSTING_ACCOUNTS:
        if code not in ids:
            ids[code] = connection.execute(sa.text("SELECT coalesce(max(id), 0) + 1 FROM ledger_accounts")).scalar_one()
            connection.execute(
                sa.text("INSERT INTO ledger_accounts (id, code, name, fund, kind, created_at) "
                        "VALUES (:id, :code, :name, :fund, :kind, :at)"),
                {"id": ids[code], "code": code, "name": name, "fund": fund, "kind": kind, "at": now},
            )
    return ids


def load_postings(connection: sa.Connection, postings: int, *, offset: int = 0, net_zero: bool = False) -> None:
    """``postings`` journal lines, cash against contributions (entries ``offset + 1``...). ``net_zero``:
    every other entry of a fund reverses the one before, so the balances stay small (the pool's
    paid-in capital then leaves room for real contributions under its commitment)."""
    dialect, now, run = connection.dialect.name, stamp(connection.dialect.name), runner(connection)
    ids = posting_accounts(connection)
    text = "VARCHAR" if dialect == "postgresql" else "TEXT"
    run(f"""INSERT INTO journal_entries (id, fund, entry_date, memo, source_type, source_id, posted, created_at, created_by)
            WITH {recursive(dialect)}{counter(dialect, postings // 2)}
            SELECT {offset} + i, CASE WHEN i % 2 = 0 THEN 'seed' ELSE 'risk' END, {days(dialect, '2024-01-01', 'i % 600')},
                   '', 'bench', CAST(i AS {text}), true, '{now}', 'bench'
            FROM n""")
    sign = "CASE WHEN (id / 2) % 2 = 0 THEN 1 ELSE -1 END * " if net_zero else ""
    for first, second, direction in (("seed.cash", "risk.cash", ""), ("seed.contributions", "risk.contributions.city", "-")):
        run(f"""INSERT INTO journal_lines (entry_id, account_id, amount)
                SELECT id, CASE WHEN fund = 'seed' THEN {ids[first]} ELSE {ids[second]} END,
                       {direction}{sign}(100 + id % 1000)
                FROM journal_entries WHERE id > {offset} AND source_type = 'bench'""")


def finish(connection: sa.Connection) -> None:
    """Sequences past the loaded ids (PostgreSQL), and fresh statistics for the planner."""
    run = runner(connection)
    if connection.dialect.name == "postgresql":
        for table in LOAN_TABLES:
            run(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT coalesce(max(id), 0) + 1 FROM {table}), false)")
    run("ANALYZE")


@contextmanager
def postgres_database(url: str, prefix: str) -> Iterator[str]:
    """A fresh database next to ``url`` (its URL), dropped afterwards."""
    base = sa.engine.make_url(url)
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
