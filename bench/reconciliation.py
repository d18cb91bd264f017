"""Benchmark: the monthly reconciliation from 10,000 to 1,000,000 ledger postings - time per posting,
peak memory, and the ratio to one hand-written SQL aggregate.

For each scale (``--scales``, postings: 10,000, 100,000 and 1,000,000 by default) it builds a fresh
database - a temporary SQLite file, and also a fresh PostgreSQL database next to ``--database-url``
when that is given (created here and dropped afterwards) - loaded with raw SQL (bench/dataset.py; the
ledger's guard triggers are dropped in this throwaway database so the postings can be inserted
already posted). The loans scale with the postings (one loan per ``--postings-per-loan`` postings,
10 by default: 1,000 loans at 10,000 postings, 100,000 at 1,000,000), so "per posting" is per unit
of the month's whole input:

* 10 banks, 2,000 enterprises, the loans (one tranche each, every tenth with a second tranche dated
  after the month end, every second with a repayment, every seventh past its maturity);
* each bank's month-end tape for 2025-06 with the loans' figures as of 2025-06-30, ``--differences``
  of its rows altered;
* the postings (two journal lines per entry) in the seed fund and the pool, over two years.

Then it times ``config.reconciliation.run_reconciliation("2025-06")`` - every check, storing the
result and rendering its PDF report - (median of ``--repeat`` runs) next to one hand-written SQL
statement that does the same reading (the tape against the loans' as-of figures both ways, counting
the differing rows, and the trial balance of every account as of the month end), and prints the
ratio (target: at most 2x). One more run under ``tracemalloc`` gives the peak of Python's own
allocations during the run, and the process's peak RSS before and after the runs gives how much the
run grew it (target: at most 300 MB). At the end: the time per posting at the largest scale against
the smallest (target: at most 1.3x).

    .venv/bin/python bench/reconciliation.py                                  # SQLite
    .venv/bin/python bench/reconciliation.py --database-url postgresql://postgres@127.0.0.1:5432/postgres
    .venv/bin/python bench/reconciliation.py --scales 1000000 --skip-sqlite --database-url ...
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("APP_ENV", "development")

import sqlalchemy as sa  # noqa: E402

import dataset  # noqa: E402
from config import create_app  # noqa: E402
from core import clock  # noqa: E402
from core.db import db  # noqa: E402

PERIOD, END = "2025-06", date(2025, 6, 30)
BANKS, ENTERPRISES = 10, 2000


def load(connection: sa.Connection, loans: int, postings: int, differences: int) -> None:
    dataset.prepare(connection)
    dataset.load_parties(connection, BANKS, ENTERPRISES, ratings=False)
    dataset.load_loans(connection, loans, BANKS, ENTERPRISES)
    dataset.load_tapes(connection, PERIOD, END, differences)
    dataset.load_postings(connection, postings)
    dataset.finish(connection)


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


@dataclass
class Figures:
    database: str
    postings: int
    loans: int
    ours: float  # seconds, median of the runs
    reading: float  # of which the checks (digest to tapes), before storing the result and its PDF
    floor: float  # the hand-written aggregate, median
    python_peak_mb: float  # tracemalloc peak during one run
    rss_growth_mb: float  # the process's peak RSS after the runs less before them

    @property
    def ratio(self) -> float:
        return self.ours / self.floor

    @property
    def reading_ratio(self) -> float:
        return self.reading / self.floor

    @property
    def per_posting_us(self) -> float:
        return self.ours / self.postings * 1e6

    @property
    def reading_per_posting_us(self) -> float:
        return self.reading / self.postings * 1e6


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def measure(url: str, label: str, loans: int, postings: int, differences: int, repeat: int) -> Figures:
    from config.reconciliation import run_reconciliation

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

            steps: list[float] = []

            def run() -> dict:
                steps.clear()
                outcome = run_reconciliation(PERIOD, progress=lambda done, total: steps.append(time.perf_counter()))
                db.session.commit()
                db.session.expunge_all()
                return outcome

            rss_before = peak_rss_mb()
            times, readings = [], []
            for _ in range(repeat):
                began = time.perf_counter()
                outcome = run()
                times.append(time.perf_counter() - began)
                readings.append(steps[5] - began)  # the ticks after digest, journal, balances, controls, tapes
            rss_growth = peak_rss_mb() - rss_before
            tracemalloc.start()
            run()
            _current, python_peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()

            floors = []
            with db.engine.connect() as connection:
                for _ in range(repeat):
                    began = time.perf_counter()
                    differing, accounts = hand_written(connection)
                    floors.append(time.perf_counter() - began)
            figures = Figures(label, postings, loans, statistics.median(times), statistics.median(readings),
                              statistics.median(floors),
                              python_peak / 2**20, rss_growth)
            print(f"  [{label}] run_reconciliation: {figures.ours:.2f} s ({figures.per_posting_us:.2f} us per posting), "
                  f"{outcome['differences']} differences, status {outcome['status']} (PDF document {outcome['document_id']})")
            print(f"  [{label}] one hand-written aggregate: {figures.floor:.2f} s ({differing} differing tape rows, "
                  f"{accounts} accounts)")
            print(f"  [{label}] of which the checks: {figures.reading:.2f} s ({figures.reading_per_posting_us:.2f} us "
                  f"per posting); storing the result and rendering the PDF: {figures.ours - figures.reading:.2f} s")
            print(f"  [{label}] ratio: {figures.ratio:.2f} x the whole run, {figures.reading_ratio:.2f} x the checks "
                  f"(target <= 2)")
            print(f"  [{label}] memory: Python peak {figures.python_peak_mb:.1f} MB, peak RSS growth "
                  f"{figures.rss_growth_mb:.1f} MB (target <= 300)", flush=True)
            db.session.remove()
            db.engine.dispose()
            return figures
    finally:
        clock.freeze(None)


def summary(results: list[Figures]) -> None:
    if not results:
        return
    print(f"  {'database':<11}{'postings':>10}{'loans':>8}{'run s':>8}{'checks':>8}{'SQL s':>8}{'ratio':>7}"
          f"{'checks':>7}{'us/post':>9}{'checks':>8}{'py MB':>7}{'RSS MB':>8}")
    for f in results:
        print(f"  {f.database:<11}{f.postings:>10}{f.loans:>8}{f.ours:>8.2f}{f.reading:>8.2f}{f.floor:>8.2f}"
              f"{f.ratio:>7.2f}{f.reading_ratio:>7.2f}{f.per_posting_us:>9.2f}{f.reading_per_posting_us:>8.2f}"
              f"{f.python_peak_mb:>7.1f}{f.rss_growth_mb:>8.1f}")
    for database in dict.fromkeys(f.database for f in results):
        mine = sorted((f for f in results if f.database == database), key=lambda f: f.postings)
        if len(mine) > 1:
            small, large = mine[0], mine[-1]
            print(f"  [{database}] time per posting at {large.postings} / at {small.postings}: "
                  f"{large.per_posting_us / small.per_posting_us:.2f} x the whole run (its PDF is a fixed cost), "
                  f"{large.reading_per_posting_us / small.reading_per_posting_us:.2f} x the checks (target <= 1.3)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", type=int, nargs="+", default=[10_000, 100_000, 1_000_000],
                        help="postings at each scale")
    parser.add_argument("--postings-per-loan", type=int, default=10)
    parser.add_argument("--differences", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url", help="a PostgreSQL server to create a throwaway database on")
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    results: list[Figures] = []
    for postings in args.scales:
        loans = max(1, postings // args.postings_per_loan)
        if not args.skip_sqlite:
            with tempfile.TemporaryDirectory() as folder:
                results.append(measure(f"sqlite:///{folder}/bench.db", "SQLite", loans, postings, args.differences,
                                       args.repeat))
        if args.database_url:
            with dataset.postgres_database(args.database_url, "bench_reconciliation") as url:
                results.append(measure(url, "PostgreSQL", loans, postings, args.differences, args.repeat))
    summary(results)


if __name__ == "__main__":
    main()
