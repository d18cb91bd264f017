"""Benchmark: the read pages and JSON endpoints at 100,000 loans, against a budget of 100 ms each.

It builds a fresh database - a temporary SQLite file, and also a fresh PostgreSQL database next to
``--database-url`` when that is given (created here and dropped afterwards):

* with raw SQL (bench/dataset.py): 10 banks, 2,000 enterprises rated twice (grades A–E), ``--loans``
  loans with their tranches and repayments (every second one covered by the risk pool), and
  ``--postings`` journal lines in the seed fund and the pool;
* then through the product's own services, on top: the demonstration data (users of every role, the
  demo banks, enterprises and loans, the seed fund's applications, loans and postings), two pool
  contributions and ``--claims`` claims on covered loans past the trigger, half of them approved.

The clock is frozen at 2025-07-10. Each endpoint is requested ``--warmup`` times, then timed over
``--requests`` requests through the Flask test client, logged in as a role that may read it (a
bearer token for the API, a session for the pages); the median and the 95th percentile are printed,
with PASS when the median is within ``--budget-ms``, and the median in units of one pass over the
tranches (``SELECT count(*), sum(amount) FROM disbursements``, timed in the same run):

    .venv/bin/python bench/pages.py                                       # SQLite, 100,000 loans
    .venv/bin/python bench/pages.py --database-url postgresql://postgres@127.0.0.1:5432/postgres
    .venv/bin/python bench/pages.py --loans 10000 --only progress         # a quick look at some endpoints
    .venv/bin/python bench/pages.py --profile progress_api                # the costliest functions of one
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("APP_ENV", "development")

import sqlalchemy as sa  # noqa: E402

import dataset  # noqa: E402
from config import create_app  # noqa: E402
from core import clock  # noqa: E402
from core.db import db  # noqa: E402

TODAY = date(2025, 7, 10)
BANKS, ENTERPRISES = 10, 2000
OFFSET = 1_000_000  # the bulk rows' ids start after it, clear of the demonstration's


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: str
    role: str  # the demo user it is requested as
    api: bool


def endpoints(loan_id: int) -> list[Endpoint]:
    return [
        Endpoint("progress_api", "/api/v1/program/progress", "manager", True),
        Endpoint("progress_api_liaison", "/api/v1/program/progress", "icbc_liaison", True),
        Endpoint("timeline_api", "/api/v1/program/progress/timeline", "manager", True),
        Endpoint("pool_api", "/api/v1/risk/pool", "manager", True),
        Endpoint("fund_api", "/api/v1/seed/fund", "manager", True),
        Endpoint("progress_page", "/progress", "manager", False),
        Endpoint("pool_page", "/risk", "manager", False),
        Endpoint("fund_page", "/seed", "manager", False),
        Endpoint("loans_page", "/loans", "manager", False),
        Endpoint("loans_page_liaison", "/loans", "icbc_liaison", False),
        Endpoint("loan_page", f"/loans/{loan_id}", "manager", False),
    ]


def load(url: str, loans: int, postings: int, claims: int) -> None:
    """The raw-SQL bulk, then the demo and the pool's activity through the services (module doc)."""
    from config.demo import load_demo
    from core.audit.trail import acting_as
    from core.auth.models import User
    from core.errors import BusinessRuleError
    from risk.services.claims import approve_claim, file_claim
    from risk.services.pool import record_contribution

    db.metadata.create_all(db.engine)
    with db.engine.begin() as connection:
        dataset.prepare(connection)
    with acting_as("bench"):
        load_demo(TODAY)
        db.session.commit()
    with db.engine.begin() as connection:
        dataset.load_parties(connection, BANKS, ENTERPRISES, offset=OFFSET)
        dataset.load_loans(connection, loans, BANKS, ENTERPRISES, offset=OFFSET, covered_every=2)
        dataset.load_postings(connection, postings, offset=OFFSET, net_zero=True)
        dataset.finish(connection)
    with acting_as("bench"):
        users = {user.username: user for user in db.session.scalars(sa.select(User))}
        for source in ("city", "county"):
            record_contribution(source=source, amount=Decimal("2000000.00"), received_on=date(2025, 1, 10),
                                by_id=users["admin"].id)
        db.session.commit()
        filed, refused = 0, 0
        for loan_id in range(OFFSET + 14, OFFSET + loans + 1, 14):  # covered (even) and past maturity (every seventh)
            if filed >= claims:
                break
            try:
                claim = file_claim(loan_id, as_of=None, by_id=users["icbc_liaison"].id)
                if filed % 2 == 0:
                    approve_claim(claim.id, on=None, by_id=users["manager"].id)
                db.session.commit()
                filed += 1
            except BusinessRuleError:
                db.session.rollback()
                refused += 1
        print(f"    {filed} claims filed ({refused} refused)", flush=True)
    with db.engine.begin() as connection:
        connection.execute(sa.text("ANALYZE"))


def login(client, user_id: int, password_stamp: str) -> None:
    """A logged-in session, as the login page leaves it."""
    with client.session_transaction() as session:
        session["_user_id"] = str(user_id)
        session["_fresh"] = True
        session["_pw_stamp"] = password_stamp


def bearer(user) -> dict[str, str]:
    from core.auth.tokens import issue_token

    raw, _token = issue_token(user)
    db.session.commit()
    return {"Authorization": f"Bearer {raw}"}


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, int(round(share * len(ordered) + 0.5)) - 1))]


def one_pass(times: int) -> float:
    """Median milliseconds of the cheapest reading of every tranche: the floor of any figure summed
    over them, measured in the same run as the endpoints."""
    timings = []
    with db.engine.connect() as connection:
        for _ in range(times):
            began = time.perf_counter()
            connection.execute(sa.text("SELECT count(*), sum(amount) FROM disbursements")).one()
            timings.append((time.perf_counter() - began) * 1000)
    return statistics.median(timings)


def measure(url: str, label: str, args: argparse.Namespace) -> dict[str, float]:
    from core.auth.models import User
    from tests.support import isolated_client

    app = create_app("development", SQLALCHEMY_DATABASE_URI=url, SQLALCHEMY_ENGINE_OPTIONS={},
                     WTF_CSRF_ENABLED=False)
    clock.freeze(datetime(2025, 7, 10, 2, 0, tzinfo=timezone.utc))
    medians: dict[str, float] = {}
    try:
        with app.app_context():
            print(f"  [{label}] loading {args.loans} loans, {args.postings} postings...", flush=True)
            began = time.perf_counter()
            load(url, args.loans, args.postings, args.claims)
            print(f"  [{label}] loaded in {time.perf_counter() - began:.1f} s", flush=True)
            users = {user.username: (user.id, user.password_changed_at.isoformat())
                     for user in db.session.scalars(sa.select(User))}
            headers = {name: bearer(db.session.get(User, user_id)) for name, (user_id, _stamp) in users.items()}
            loan_id = OFFSET + 2  # a bulk loan with a repayment
            db.session.remove()
            scan = one_pass(args.requests)
        print(f"  [{label}] one pass over the tranches (SELECT count(*), sum(amount)): {scan:.1f} ms - the unit of "
              "the last column, which the machine's load moves far less than the times themselves")
        print(f"  [{label}] {'endpoint':<22}{'median ms':>10}{'p95 ms':>9}{'x pass':>8}  budget {args.budget_ms:.0f} ms")
        for endpoint in endpoints(loan_id):
            if args.only and not any(word in endpoint.name for word in args.only):
                continue
            client = isolated_client(app)
            extra = headers[endpoint.role] if endpoint.api else {}
            if not endpoint.api:
                login(client, *users[endpoint.role])

            def request() -> None:
                response = client.get(endpoint.path, headers=extra)
                assert response.status_code == 200, (endpoint.path, response.status_code, response.get_data()[:300])

            for _ in range(args.warmup):
                request()
            if args.profile == endpoint.name:
                profiler = cProfile.Profile()
                profiler.enable()
                request()
                profiler.disable()
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
            timings = []
            for _ in range(args.requests):
                began = time.perf_counter()
                request()
                timings.append((time.perf_counter() - began) * 1000)
            median, p95 = statistics.median(timings), percentile(timings, 0.95)
            medians[endpoint.name] = median
            verdict = "PASS" if median <= args.budget_ms else "FAIL"
            print(f"  [{label}] {endpoint.name:<22}{median:>10.1f}{p95:>9.1f}{median / scan:>8.1f}  {verdict}", flush=True)
        with app.app_context():
            db.engine.dispose()
    finally:
        clock.freeze(None)
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--loans", type=int, default=100_000)
    parser.add_argument("--postings", type=int, default=100_000)
    parser.add_argument("--claims", type=int, default=40)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--budget-ms", type=float, default=100.0)
    parser.add_argument("--only", nargs="*", help="endpoints whose name contains one of these words")
    parser.add_argument("--profile", help="print the profile of one request to this endpoint")
    parser.add_argument("--database-url", help="a PostgreSQL server to create a throwaway database on")
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    if not args.skip_sqlite:
        with tempfile.TemporaryDirectory() as folder:
            measure(f"sqlite:///{folder}/bench.db", "SQLite", args)
    if args.database_url:
        with dataset.postgres_database(args.database_url, "bench_pages") as url:
            measure(url, "PostgreSQL", args)


if __name__ == "__main__":
    main()
