"""Benchmark: the monthly reconciliation over 100,000 loans and 1,000,000 ledger postings.

It builds a fresh database - a temporary SQLite file, and also a fresh PostgreSQL database next to
``--database-url`` when that is given (created here and dropped afterwards) - loaded with raw SQL
(``INSERT ... SELECT`` over a counter; the ledger's guard triggers are dropped in this throwaway
database so the postings can be inserted already posted):

* 10 banks, 2,000 enterprises, ``--loans`` loans (one tranche each, every tenth with a second tranche
  dated after the month end, every second with a repayment, every seventh past its maturity);
* each bank's month-end tape for 2025-06 with the loans' figures as of 2025-06-30, ``--differences``
  of its rows altered;
* ``--postings`` journal lines (two per entry) in the seed fund and the pool, over two years.

Then it times ``config.reconciliation.run_reconciliation("2025-06")`` - every check, storing the
result and rendering its PDF report - next to one hand-written SQL statement that does the same
reading (the tape against the loans' as-of figures both ways, counting the differing rows, and the
trial balance of every account as of the month end), and prints the ratio:

    .venv/bin/python bench/reconciliation.py                                  # SQLite
    .venv/bin/python bench/reconciliation.py --database-url postgresql://postgres@127.0.0.1:5432/postgres
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("APP_ENV", "development")

import sqlalchemy as sa  # noqa: E402

from config import create_app  # noqa: E402
from core import clock  # noqa: E402
from core.db import db  # noqa: E402
from core.ledger.models import LEDGER_GUARD_DROP_DDL  # noqa: E402
from core.policy.models import DEFAULT_POLICY, Policy  # noqa: E402
from parties.credit_code import credit_code_check_char  # noqa: E402

PERIOD, END = "2025-06", date(2025, 6, 30)
BANKS, ENTERPRISES = 10, 2000


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


def load(connection: sa.Connection, loans: int, postings: int, differences: int) -> None:
    dialect = connection.dialect.name
    recursive = "RECURSIVE " if dialect != "postgresql" else ""
    # As UTCDateTime stores instants: naive UTC text on SQLite, aware on PostgreSQL.
    now = clock.now().isoformat() if dialect == "postgresql" else clock.now().strftime("%Y-%m-%d %H:%M:%S.%f")
    run = lambda sql: connection.execute(sa.text(sql))  # noqa: E731
    for statement in LEDGER_GUARD_DROP_DDL[dialect]:
        run(statement)
    connection.execute(sa.insert(Policy), [{**DEFAULT_POLICY, "note": "默认政策", "created_by": "system"}])
    connection.execute(
        sa.text("INSERT INTO banks (id, name, code, is_active, created_at) VALUES (:id, :name, :code, true, :at)"),
        [{"id": b, "name": f"基准银行{b:02d}", "code": f"BK{b:02d}", "at": now} for b in range(1, BANKS + 1)],
    )
    codes = []
    for e in range(1, ENTERPRISES + 1):
        first17 = f"91330100MC{e:07d}"
        codes.append({"id": e, "name": f"基准企业{e:05d}", "code": first17 + credit_code_check_char(first17)})
    connection.execute(
        sa.text(
            "INSERT INTO enterprises (id, name, credit_code, registered_on, town, industry, is_science_tech, "
            "is_high_tech, bad_credit, dishonest, created_at) VALUES (:id, :name, :code, '2020-01-01', '城关镇', "
            "'软件', true, false, false, false, :at)"
        ),
        [{**row, "at": now} for row in codes],
    )
    start = days(dialect, "2024-07-01", "i % 360")
    maturity = f"CASE WHEN i % 7 = 0 THEN {days(dialect, '2024-07-01', 'i % 360 + 180')} " \
               f"ELSE {days(dialect, '2024-07-01', 'i % 360 + 365')} END"
    run(f"""INSERT INTO loans (id, bank_id, enterprise_id, contract_no, principal, annual_rate, start_date,
               maturity_date, purpose, status, disbursed_total, repaid_principal, policy_id, covered, created_by,
               created_at)
            WITH {recursive}{counter(dialect, loans)}
            SELECT i, 1 + i % {BANKS}, 1 + i % {ENTERPRISES}, 'BR-' || i, 100000000, 34500, {start}, {maturity}, '',
                   'active', 60000000 + CASE WHEN i % 10 = 0 THEN 10000000 ELSE 0 END,
                   CASE WHEN i % 2 = 0 THEN 10000000 ELSE 0 END, 1, false, 'bench', '{now}'
            FROM n""")
    run(f"""INSERT INTO disbursements (loan_id, bank_id, amount, disbursed_on, bank_ref, created_by, created_at)
            SELECT id, bank_id, 60000000, {days(dialect, '2024-07-03', 'id % 360')}, 'D' || id, 'bench', '{now}'
            FROM loans""")
    run(f"""INSERT INTO disbursements (loan_id, bank_id, amount, disbursed_on, bank_ref, created_by, created_at)
            SELECT id, bank_id, 10000000, '2025-07-05', 'D2-' || id, 'bench', '{now}' FROM loans WHERE id % 10 = 0""")
    run(f"""INSERT INTO repayments (loan_id, bank_id, principal, interest, paid_on, bank_ref, created_by, created_at)
            SELECT id, bank_id, 10000000, 0, {days(dialect, '2024-07-31', 'id % 360')}, 'R' || id, 'bench', '{now}'
            FROM loans WHERE id % 2 = 0""")
    run(f"""INSERT INTO bank_tapes (id, bank_id, period, version, filename, sha256, row_count, uploaded_by, uploaded_at)
            SELECT id, id, '{PERIOD}', 1, 'tape.csv', 'bench', 0, 'bench', '{now}' FROM banks""")
    end = f"'{END.isoformat()}'"
    if dialect == "postgresql":
        dpd = f"CASE WHEN maturity_date < DATE {end} AND o > 0 THEN DATE {end} - maturity_date ELSE 0 END"
    else:
        dpd = f"CASE WHEN maturity_date < {end} AND o > 0 THEN CAST(julianday({end}) - julianday(maturity_date) AS INTEGER) ELSE 0 END"
    run(f"""INSERT INTO bank_tape_rows (tape_id, row_number, contract_no, credit_code, disbursed_total,
               repaid_principal, outstanding_principal, days_past_due)
            SELECT bank_id, id + 1, contract_no, credit_code, d, r, o, {dpd}
            FROM (SELECT l.id, l.bank_id, l.contract_no, e.credit_code, l.maturity_date,
                         60000000 AS d,
                         CASE WHEN l.id % 2 = 0 AND {days(dialect, '2024-07-31', 'l.id % 360')} <= {end}
                              THEN 10000000 ELSE 0 END AS r,
                         60000000 - CASE WHEN l.id % 2 = 0 AND {days(dialect, '2024-07-31', 'l.id % 360')} <= {end}
                              THEN 10000000 ELSE 0 END AS o
                  FROM loans l JOIN enterprises e ON e.id = l.enterprise_id) AS s""")
    run(f"UPDATE bank_tape_rows SET days_past_due = days_past_due + 1 WHERE id <= {differences}")
    run("UPDATE bank_tapes SET row_count = (SELECT count(*) FROM bank_tape_rows WHERE tape_id = bank_tapes.id)")
    connection.execute(
        sa.text("INSERT INTO ledger_accounts (id, code, name, fund, kind, created_at) VALUES (:id, :code, :name, :fund, :kind, :at)"),
        [
            {"id": 1, "code": "seed.cash", "name": "种子基金银行存款", "fund": "seed", "kind": "asset", "at": now},
            {"id": 2, "code": "seed.contributions", "name": "种子基金实收资本", "fund": "seed", "kind": "equity", "at": now},
            {"id": 3, "code": "risk.cash", "name": "风险补偿资金池银行存款", "fund": "risk", "kind": "asset", "at": now},
            {"id": 4, "code": "risk.contributions.city", "name": "实收资本（市级）", "fund": "risk", "kind": "equity", "at": now},
        ],
    )
    entries = postings // 2
    run(f"""INSERT INTO journal_entries (id, fund, entry_date, memo, source_type, source_id, posted, created_at, created_by)
            WITH {recursive}{counter(dialect, entries)}
            SELECT i, CASE WHEN i % 2 = 0 THEN 'seed' ELSE 'risk' END, {days(dialect, '2024-01-01', 'i % 600')},
                   '', 'bench', CAST(i AS TEXT), true, '{now}', 'bench'
            FROM n""".replace("CAST(i AS TEXT)", "CAST(i AS VARCHAR)" if dialect == "postgresql" else "CAST(i AS TEXT)"))
    run("""INSERT INTO journal_lines (entry_id, account_id, amount)
           SELECT id, CASE WHEN fund = 'seed' THEN 1 ELSE 3 END, 100 + id % 1000 FROM journal_entries""")
    run("""INSERT INTO journal_lines (entry_id, account_id, amount)
           SELECT id, CASE WHEN fund = 'seed' THEN 2 ELSE 4 END, -(100 + id % 1000) FROM journal_entries""")
    if dialect == "postgresql":
        for table in ("loans", "disbursements", "repayments", "bank_tapes", "bank_tape_rows", "journal_entries",
                      "journal_lines", "banks", "enterprises", "ledger_accounts"):
            run(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        run("ANALYZE")
    else:
        run("ANALYZE")


def hand_written(connection: sa.Connection) -> tuple[int, int]:
    """The same reading as one statement: differing tape rows, and the trial balance's accounts."""
    dialect = connection.dialect.name
    end = f"'{END.isoformat()}'"
    dpd = (f"CASE WHEN l.maturity_date < DATE {end} AND l.o > 0 THEN DATE {end} - l.maturity_date ELSE 0 END"
           if dialect == "postgresql" else
           f"CASE WHEN l.maturity_date < {end} AND l.o > 0 THEN CAST(julianday({end}) - julianday(l.maturity_date) AS INTEGER) ELSE 0 END")
    sql = f"""
    WITH later_d AS (SELECT loan_id, sum(amount) a FROM disbursements WHERE disbursed_on > {end} GROUP BY loan_id),
         later_r AS (SELECT loan_id, sum(principal) a FROM repayments WHERE paid_on > {end} GROUP BY loan_id),
         tape AS (SELECT t.bank_id, r.* FROM bank_tape_rows r JOIN bank_tapes t ON t.id = r.tape_id
                  WHERE t.period = '{PERIOD}'),
         sys AS (SELECT l.id, l.bank_id, l.contract_no, e.credit_code, l.maturity_date,
                        l.disbursed_total - coalesce(d.a, 0) AS d, l.repaid_principal - coalesce(r.a, 0) AS r,
                        (l.disbursed_total - coalesce(d.a, 0)) - (l.repaid_principal - coalesce(r.a, 0)) AS o
                 FROM loans l JOIN enterprises e ON e.id = l.enterprise_id
                 LEFT JOIN later_d d ON d.loan_id = l.id LEFT JOIN later_r r ON r.loan_id = l.id
                 WHERE l.start_date <= {end})
    SELECT (SELECT count(*) FROM tape LEFT JOIN sys l ON l.bank_id = tape.bank_id AND l.contract_no = tape.contract_no
            WHERE l.id IS NULL OR tape.disbursed_total <> l.d OR tape.repaid_principal <> l.r
               OR tape.outstanding_principal <> l.o OR tape.days_past_due <> {dpd} OR tape.credit_code <> l.credit_code)
         + (SELECT count(*) FROM sys LEFT JOIN tape ON tape.bank_id = sys.bank_id AND tape.contract_no = sys.contract_no
            WHERE tape.id IS NULL AND sys.o > 0),
           (SELECT count(*) FROM (SELECT l.account_id, sum(l.amount) FROM journal_lines l
                                  JOIN journal_entries e ON e.id = l.entry_id
                                  WHERE e.posted AND e.entry_date <= {end} GROUP BY l.account_id) AS tb)
    """
    row = connection.execute(sa.text(sql)).one()
    return int(row[0]), int(row[1])


def measure(url: str, label: str, loans: int, postings: int, differences: int) -> None:
    app = create_app("development", SQLALCHEMY_DATABASE_URI=url, SQLALCHEMY_ENGINE_OPTIONS={})
    clock.freeze(clock.now().replace(year=2025, month=7, day=10))
    try:
        with app.app_context():
            db.metadata.create_all(db.engine)
            print(f"  [{label}] loading {loans} loans, {postings} postings...", flush=True)
            began = time.perf_counter()
            with db.engine.begin() as connection:
                load(connection, loans, postings, differences)
            print(f"  [{label}] loaded in {time.perf_counter() - began:.1f} s", flush=True)

            from config.reconciliation import run_reconciliation

            began = time.perf_counter()
            outcome = run_reconciliation(PERIOD)
            db.session.commit()
            ours = time.perf_counter() - began

            with db.engine.connect() as connection:
                began = time.perf_counter()
                differing, accounts = hand_written(connection)
                floor = time.perf_counter() - began
            print(f"  [{label}] run_reconciliation: {ours:.2f} s, {outcome['differences']} differences, status "
                  f"{outcome['status']} (PDF document {outcome['document_id']})")
            print(f"  [{label}] one hand-written aggregate: {floor:.2f} s ({differing} differing tape rows, "
                  f"{accounts} accounts)")
            print(f"  [{label}] ratio: {ours / floor:.1f} x")
            db.session.remove()
            db.engine.dispose()
    finally:
        clock.freeze(None)


@contextmanager
def postgres_database(url: str) -> Iterator[str]:
    base = sa.engine.make_url(url)
    name = f"bench_reconciliation_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--loans", type=int, default=100_000)
    parser.add_argument("--postings", type=int, default=1_000_000)
    parser.add_argument("--differences", type=int, default=100)
    parser.add_argument("--database-url", help="a PostgreSQL server to create a throwaway database on")
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    if not args.skip_sqlite:
        with tempfile.TemporaryDirectory() as folder:
            measure(f"sqlite:///{folder}/bench.db", "SQLite", args.loans, args.postings, args.differences)
    if args.database_url:
        with postgres_database(args.database_url) as url:
            measure(url, "PostgreSQL", args.loans, args.postings, args.differences)


if __name__ == "__main__":
    main()
