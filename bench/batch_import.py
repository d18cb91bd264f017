"""Benchmark: one disbursement batch of N rows imported in one request (issue 3: "a 10,000-row CSV
batch imports in one request").

It builds a fresh database - a temporary SQLite file, and also a fresh PostgreSQL database next to
``--database-url`` when that is given (created here and dropped afterwards) - holding one bank, N
contracted loans made through the services (``create_loan``, after ``create_enterprise`` and
``rate_enterprise``), then an N-row CSV (GB18030, one tranche per loan, amounts with thousands
separators) and times what one request does with it:

* ``import``: ``loans.batch.import_disbursements`` (read, parse, lock, check, one flush);
* ``commit``: the unit of work's commit (where the audit chain of the 2N events is hashed and written);
* ``request``: the two together, as rows per second and milliseconds per row;

next to the physical limit on the same machine and database: the same N INSERTs and N loan UPDATEs
as raw Core ``executemany`` with no checks and no audit (rolled back), and the ratio of the two.
It is a script that measures and prints, not a test:

    .venv/bin/python bench/batch_import.py                       # SQLite, 10,000 rows
    .venv/bin/python bench/batch_import.py --rows 2000 \\
        --database-url postgresql://postgres@127.0.0.1:5432/postgres   # SQLite and PostgreSQL
    .venv/bin/python bench/batch_import.py --profile               # and the 30 costliest functions
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("APP_ENV", "development")

import sqlalchemy as sa  # noqa: E402

from config import create_app  # noqa: E402
from config.settings import _normalise_db_url  # noqa: E402
from core import clock  # noqa: E402
from core.audit.models import AuditEvent  # noqa: E402
from core.audit.trail import acting_as, verify_chain  # noqa: E402
from core.db import db  # noqa: E402
from core.policy.models import DEFAULT_POLICY, Policy  # noqa: E402
from core.tabular import read_table  # noqa: E402
from loans import batch, services  # noqa: E402
from loans.batch_format import parse_disbursement_rows  # noqa: E402
from loans.models import Disbursement, Loan  # noqa: E402
from parties import services as parties  # noqa: E402
from parties.credit_code import credit_code_check_char  # noqa: E402

PRINCIPAL = Decimal("100000.00")
AMOUNT_TEXT = "100,000.00"
LOANS_PER_ENTERPRISE = 40  # 40 x 100,000.00 = 4,000,000.00: within a grade-A line (5,000,000.00)


@dataclass
class Figures:
    database: str
    rows: int
    setup: float
    parse: float
    service: float
    commit: float
    cpu: float  # this process's CPU time over the request (with SQLite, nearly all of the work)
    floor: float

    @property
    def request(self) -> float:
        return self.service + self.commit


def credit_code(n: int) -> str:
    first17 = f"91330100MB{n:07d}"
    return first17 + credit_code_check_char(first17)


def build(rows: int) -> tuple[int, bytes, date]:
    """A bank with ``rows`` contracted loans made through the services (committed), and the CSV."""
    today = clock.today()
    rated_on, start = today - timedelta(days=60), today - timedelta(days=40)
    maturity = services.add_months(start, 12) - timedelta(days=1)
    bank = parties.create_bank("基准测试银行", "BENCH")
    enterprise = None
    for n in range(rows):
        if n % LOANS_PER_ENTERPRISE == 0:
            enterprise = parties.create_enterprise(
                name=f"基准科技企业{n // LOANS_PER_ENTERPRISE:05d}",
                credit_code=credit_code(n // LOANS_PER_ENTERPRISE),
                registered_on=date(2020, 1, 1),
                town="城关镇",
                industry="软件和信息技术服务业",
                is_science_tech=True,
            )
            parties.rate_enterprise(enterprise, "A", rated_on, "bench")
        services.create_loan(
            bank_id=bank.id,
            enterprise_id=enterprise.id,
            contract_no=f"BENCH-{n:06d}",
            principal=PRINCIPAL,
            annual_rate=Decimal("0.0345"),
            start_date=start,
            maturity_date=maturity,
            created_by="bench",
        )
    db.session.commit()
    lines = ["合同编号,金额,放款日期,银行流水号"] + [
        f'BENCH-{n:06d},"{AMOUNT_TEXT}",{(start + timedelta(days=n % 30)).isoformat()},BR{n:08d}' for n in range(rows)
    ]
    return bank.id, "\r\n".join(lines).encode("gb18030"), start


def floor(bank_id: int, rows: int, start: date) -> float:
    """The same writes as raw Core executemany (no checks, no audit, no ORM), rolled back."""
    loans = db.session.execute(
        sa.select(Loan.id, Loan.enterprise_id).where(Loan.bank_id == bank_id).order_by(Loan.id)
    ).all()
    loan_ids = [loan_id for loan_id, _enterprise_id in loans]
    db.session.close()  # the session's transaction would hold SQLite's write lock
    now = clock.now()
    began = time.perf_counter()
    with db.engine.connect() as connection, connection.begin() as transaction:
        connection.execute(
            sa.insert(Disbursement),
            [
                {
                    "loan_id": loan_id,
                    "bank_id": bank_id,
                    "enterprise_id": enterprise_id,  # the tranche's stored borrower and grade, as the product writes
                    "grade": "A",
                    "amount": PRINCIPAL,
                    "disbursed_on": start,
                    "bank_ref": f"FLOOR{n:08d}",
                    "created_by": "bench",
                    "created_at": now,
                }
                for n, (loan_id, enterprise_id) in enumerate(loans[:rows])
            ],
        )
        connection.execute(
            sa.update(Loan).where(Loan.id == sa.bindparam("loan_id")).values(disbursed_total=sa.bindparam("total"), status="active"),
            [{"loan_id": loan_id, "total": PRINCIPAL} for loan_id in loan_ids[:rows]],
        )
        elapsed = time.perf_counter() - began
        transaction.rollback()
    return elapsed


def measure(url: str, label: str, count: int, profile: bool) -> Figures:
    app = create_app("development", SQLALCHEMY_DATABASE_URI=url, SQLALCHEMY_ENGINE_OPTIONS={})
    with app.app_context():
        db.metadata.create_all(db.engine)
        with db.engine.begin() as connection:
            connection.execute(sa.insert(Policy), [{**DEFAULT_POLICY, "note": "默认政策", "created_by": "system"}])
        with acting_as("bench"):
            print(f"  [{label}] making {count} loans through the services (the slow part: ~10 ms each)...", flush=True)
            began = time.perf_counter()
            bank_id, data, start = build(count)
            setup = time.perf_counter() - began

            began = time.perf_counter()
            rows, errors = parse_disbursement_rows(read_table(data, "bench.csv", max_rows=batch.MAX_BATCH_ROWS))
            parse = time.perf_counter() - began
            assert len(rows) == count and not errors
            db.session.rollback()  # start the request on a fresh transaction

            profiler = cProfile.Profile() if profile else None
            if profiler:
                profiler.enable()
            began, began_cpu = time.perf_counter(), time.process_time()
            result = batch.import_disbursements(bank_id, data, "bench.csv", "bench")
            imported = time.perf_counter()
            db.session.commit()
            committed, cpu = time.perf_counter(), time.process_time() - began_cpu
            if profiler:
                profiler.disable()

        assert (result.rows, result.created, result.total_amount) == (count, count, PRINCIPAL * count), result
        recorded = db.session.execute(
            sa.select(sa.func.count(), sa.func.sum(Loan.disbursed_total)).where(Loan.bank_id == bank_id)
        ).one()
        assert recorded[1] == PRINCIPAL * count, recorded
        events = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
        chain = verify_chain()
        assert chain.ok, chain.reason
        floor_seconds = floor(bank_id, count, start)
        print(f"  [{label}] audit events in the chain: {events} (verified)", flush=True)
        if profiler:
            print(f"  [{label}] profile of the request (import + commit), by cumulative then own time:")
            stats = pstats.Stats(profiler, stream=sys.stdout).strip_dirs()
            stats.sort_stats("cumulative").print_stats(30)
            stats.sort_stats("tottime").print_stats(30)
        db.session.remove()
        db.engine.dispose()
    return Figures(label, count, setup, parse, imported - began, committed - imported, cpu, floor_seconds)


@contextmanager
def fresh_postgresql(url: str, keep: bool) -> Iterator[str]:
    """A new, empty database on the server of ``url``; dropped afterwards unless ``keep``."""
    base = sa.make_url(_normalise_db_url(url))
    name = f"bench_batch_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        if not keep:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def report(figures: Figures) -> None:
    f = figures
    print(
        f"{f.database:<10} rows={f.rows:>6}  setup(services)={f.setup:6.1f}s  |  read+parse={f.parse:5.2f}s  "
        f"import={f.service:5.2f}s  commit(audit chain)={f.commit:5.2f}s  request={f.request:5.2f}s  "
        f"=> {f.rows / f.request:7.0f} rows/s, {1000 * f.request / f.rows:5.3f} ms/row, client CPU {f.cpu:5.2f}s  |  "
        f"floor (raw executemany)={f.floor:5.2f}s, request/floor={f.request / f.floor:4.1f}x",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000, help="loans and CSV rows (default 10,000)")
    parser.add_argument("--database-url", help="also run on PostgreSQL: a fresh database is created on this server")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database afterwards")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the request")
    args = parser.parse_args()
    if args.rows > batch.MAX_BATCH_ROWS:
        parser.error(f"a batch holds at most {batch.MAX_BATCH_ROWS} rows")

    results = []
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as directory:
        results.append(measure(f"sqlite:///{directory}/bench.db", "sqlite", args.rows, args.profile))
    report(results[-1])
    if args.database_url:
        with fresh_postgresql(args.database_url, args.keep) as url:
            results.append(measure(url, "postgresql", args.rows, args.profile))
        report(results[-1])


if __name__ == "__main__":
    main()
