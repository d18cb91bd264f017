"""Benchmark: the daily classification's DPD snapshots at N loans (issue 6: "correct at 100,000 loans
in reasonable time").

It builds a fresh database - a temporary SQLite file, and also a fresh PostgreSQL database next to
``--database-url`` when that is given (created here and dropped afterwards) - holding N loans with
one tranche each and a repayment on every third (bulk Core inserts: the set-up is not measured), then
times ``loans.jobs.store_dpd_snapshots(day)`` (the as-of sums, DPD and classification in SQL, one
``INSERT ... SELECT`` per chunk) next to the floor on the same machine and database: one plain
``INSERT ... SELECT`` copying N rows out of ``loans`` with no computation (rolled back), and prints
the ratio. A second run for the same day (the upsert path) is timed too.

    .venv/bin/python bench/dpd_snapshots.py                     # SQLite, 100,000 loans
    .venv/bin/python bench/dpd_snapshots.py --loans 20000 \\
        --database-url postgresql://postgres@127.0.0.1:5432/postgres   # SQLite and PostgreSQL
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("APP_ENV", "development")

import sqlalchemy as sa  # noqa: E402

from config import create_app  # noqa: E402
from config.settings import _normalise_db_url  # noqa: E402
from core.db import Session, db  # noqa: E402
from core.policy.models import DEFAULT_POLICY, Policy  # noqa: E402
from loans.jobs import store_dpd_snapshots  # noqa: E402
from loans.models import Disbursement, Loan, LoanDpdSnapshot, Repayment  # noqa: E402
from parties.models import Bank, Enterprise  # noqa: E402

DAY = date(2025, 12, 31)
CHUNK = 10_000


def build(engine: sa.Engine, loans: int) -> None:
    db.metadata.drop_all(engine)
    db.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(sa.insert(Policy), [{**DEFAULT_POLICY, "note": "bench", "created_by": "bench"}])
        policy_id = conn.scalar(sa.select(Policy.id))
        conn.execute(sa.insert(Bank), [{"code": f"B{n}", "name": f"银行{n}"} for n in range(5)])
        conn.execute(
            sa.insert(Enterprise),
            [
                {"name": f"企业{n}", "credit_code": f"91330100MA{n:08d}", "registered_on": date(2020, 1, 1),
                 "town": "城关镇", "industry": "软件", "is_science_tech": True, "is_high_tech": False}
                for n in range(100)
            ],
        )
        bank_ids = list(conn.scalars(sa.select(Bank.id)))
        enterprise_ids = list(conn.scalars(sa.select(Enterprise.id)))
        for start in range(0, loans, CHUNK):
            rows, tranches, repayments = [], [], []
            for n in range(start, min(start + CHUNK, loans)):
                begin = date(2025, 1, 1) + timedelta(days=n % 300)
                repaid = Decimal("20000.00") if n % 3 == 0 else Decimal("0.00")
                rows.append({
                    "id": n + 1, "bank_id": bank_ids[n % 5], "enterprise_id": enterprise_ids[n % 100],
                    "contract_no": f"HT{n:07d}", "principal": Decimal("100000.00"), "annual_rate": Decimal("0.0345"),
                    "start_date": begin, "maturity_date": begin + timedelta(days=200 + n % 120), "status": "active",
                    "disbursed_total": Decimal("100000.00"), "repaid_principal": repaid, "policy_id": policy_id,
                })
                tranches.append({"loan_id": n + 1, "bank_id": bank_ids[n % 5], "enterprise_id": enterprise_ids[n % 100],
                                 "amount": Decimal("100000.00"),
                                 "disbursed_on": begin, "bank_ref": f"D{n}"})
                if repaid:
                    repayments.append({"loan_id": n + 1, "bank_id": bank_ids[n % 5], "principal": repaid,
                                       "interest": Decimal("0.00"), "paid_on": begin + timedelta(days=30), "bank_ref": f"R{n}"})
            conn.execute(sa.insert(Loan), rows)
            conn.execute(sa.insert(Disbursement), tranches)
            if repayments:
                conn.execute(sa.insert(Repayment), repayments)


def measure(app, engine: sa.Engine, label: str, loans: int) -> None:
    print(f"== {label}: {loans:,} loans")
    started = time.perf_counter()
    build(engine, loans)
    print(f"   set-up            {time.perf_counter() - started:8.2f} s (not measured)")
    with app.app_context():
        session = Session(db=db, bind=engine)
        db.session.registry.set(session)
        try:
            started = time.perf_counter()
            written = store_dpd_snapshots(DAY)
            session.commit()
            first = time.perf_counter() - started
            started = time.perf_counter()
            store_dpd_snapshots(DAY)
            session.commit()
            second = time.perf_counter() - started
            classes = dict(session.execute(
                sa.select(LoanDpdSnapshot.classification, sa.func.count()).group_by(LoanDpdSnapshot.classification)
            ).all())
        finally:
            session.close()
            db.session.registry.clear()
    with engine.connect() as conn, conn.begin() as transaction:
        conn.execute(sa.delete(LoanDpdSnapshot))
        started = time.perf_counter()
        conn.execute(
            sa.insert(LoanDpdSnapshot).from_select(
                ["loan_id", "day", "dpd", "classification", "bank_id", "outstanding_principal"],
                sa.select(Loan.id, sa.literal(DAY, sa.Date()), sa.literal(0), sa.literal("normal"), Loan.bank_id,
                          Loan.disbursed_total),
            )
        )
        floor = time.perf_counter() - started
        transaction.rollback()
    print(f"   snapshots written {written:8,}   by class {classes}")
    print(f"   first run         {first:8.2f} s   ({written / first:,.0f} loans/s)")
    print(f"   second run        {second:8.2f} s   (upsert of the same day)")
    print(f"   floor (plain copy){floor:8.2f} s   ratio first/floor {first / floor:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--loans", type=int, default=100_000)
    parser.add_argument("--database-url", help="a PostgreSQL URL; a fresh database is created next to it")
    args = parser.parse_args()
    app = create_app("development")
    with tempfile.TemporaryDirectory() as directory:
        engine = sa.create_engine(f"sqlite:///{directory}/bench.db")
        measure(app, engine, "SQLite", args.loans)
        engine.dispose()
    if args.database_url:
        url = sa.engine.make_url(_normalise_db_url(args.database_url))
        name = f"bench_dpd_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        engine = sa.create_engine(url.set(database=name))
        try:
            measure(app, engine, "PostgreSQL", args.loans)
        finally:
            engine.dispose()
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
