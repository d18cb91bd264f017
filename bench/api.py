"""Benchmark: recording tranches through the API under gunicorn, against a minimal Flask-SQLAlchemy endpoint.

Two servers, one after the other, with the same gunicorn settings (``--preload``, ``--workers``
gthread workers of ``--threads`` threads each) and the same load client, each on a fresh database (a temporary
SQLite file; with ``--database-url``, also a PostgreSQL database created next to it and dropped
afterwards):

* **product** - ``POST /api/v1/loans/{id}/disbursements`` (api.md) with everything on: bearer-token
  authentication, the liaison's role and bank scope, validation, the loan's lock and rules, the
  tranche, the loan's totals and the audit trail's hash chain. The data is prepared through the
  product's services: a bank, a liaison with an API token, ``--loans`` science-tech enterprises rated
  A with a contracted loan each; every request is a valid new tranche (a unique ``bank_ref``) of the
  next loan in turn, so concurrent requests lock different loans;
* **minimal** - bench/minimal_app.py: one POST endpoint inserting one row, no authentication.

The client keeps ``--connections`` keep-alive connections (one thread and one ``http.client``
connection each) busy for ``--duration`` seconds after a warm-up, and records every request's
latency. It prints the throughput (acknowledged requests per second), p50 and p99, and the ratios
(targets: the product at least 0.5 of the minimal endpoint's throughput, p99 under 100 ms). Then it
counts rows: the product's tranches and their audit records must equal the acknowledged (2xx)
requests exactly, the minimal app's rows its acknowledged requests; any difference is printed and the
exit status is 1. A tranche of a partner bank's loan is the bank's money, not the programme's: it
posts no journal entry, so the ledger must not have moved (checked too).

The client shares the machine's cores with the servers (the core count is printed): the figures are a
ratio, not a capacity.

    .venv/bin/python bench/api.py                                    # SQLite, 2 workers
    .venv/bin/python bench/api.py --database-url postgresql://postgres@127.0.0.1:5432/postgres --skip-sqlite \\
        --workers 1,2,4                                              # the series on PostgreSQL
    make bench NAME=api ARGS="--duration 20"
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("APP_ENV", "development")

import sqlalchemy as sa  # noqa: E402

TRANCHE = "100.00"
PRINCIPAL = Decimal("1000000.00")
GUNICORN = str(ROOT / ".venv" / "bin" / "gunicorn")
# The product's development secret is refused nowhere but production; a throwaway one keeps the log quiet.
SECRET = "bench-" + uuid.uuid4().hex * 2


# -------------------------------------------------------------------------------------- databases


@contextmanager
def fresh_database(url: str | None, label: str) -> Iterator[str]:
    """A new empty database: a temporary SQLite file, or a PostgreSQL database next to ``url`` (dropped after)."""
    if url is None:
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{folder}/{label}.db"
        return
    base = sa.engine.make_url(url)
    name = f"bench_api_{label}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class ProductData:
    token: str
    loan_ids: list[int]
    day: str  # the tranches' date


def prepare_product(url: str, loans: int) -> ProductData:
    """Schema, the default policy, and the programme's data through the product's services."""
    from config import create_app
    from core import clock
    from core.audit.trail import acting_as
    from core.auth.services import create_user
    from core.auth.tokens import issue_token
    from core.db import db
    from core.policy.models import DEFAULT_POLICY, Policy
    from loans.services import create_loan
    from parties.credit_code import credit_code_check_char
    from parties.services import create_bank, create_enterprise, rate_enterprise

    app = create_app("development", SQLALCHEMY_DATABASE_URI=url, SECRET_KEY=SECRET)
    with app.app_context():
        db.metadata.create_all(db.engine)
        with db.engine.begin() as connection:
            connection.execute(sa.insert(Policy), [{**DEFAULT_POLICY, "note": "默认政策", "created_by": "system"}])
        today = clock.today()
        start = today - timedelta(days=30)
        with acting_as("bench"):
            bank = create_bank("基准农村商业银行", "BENCH")
            liaison = create_user("bench.liaison", "Bench-liaison-2026!", "bank_liaison", bank_id=bank.id)
            token, _row = issue_token(liaison)
            loan_ids = []
            for n in range(1, loans + 1):
                first17 = f"91330100MB{n:07d}"
                enterprise = create_enterprise(
                    name=f"基准科技第{n}有限公司", credit_code=first17 + credit_code_check_char(first17),
                    registered_on=today - timedelta(days=3 * 365), town="城关镇", industry="软件",
                    is_science_tech=True,
                )
                rate_enterprise(enterprise, "A", start, "bench")
                loan = create_loan(
                    bank_id=bank.id, enterprise_id=enterprise.id, contract_no=f"BENCH-{n:05d}", principal=PRINCIPAL,
                    annual_rate=Decimal("0.0345"), start_date=start, maturity_date=start + timedelta(days=360),
                    created_by="bench",
                )
                loan_ids.append(loan.id)
            db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return ProductData(token=token, loan_ids=loan_ids, day=today.isoformat())


def product_counts(url: str) -> dict[str, int]:
    from config import create_app
    from core.db import db

    app = create_app("development", SQLALCHEMY_DATABASE_URI=url, SECRET_KEY=SECRET)
    with app.app_context():
        one = lambda sql: int(db.session.execute(sa.text(sql)).scalar() or 0)  # noqa: E731
        counts = {
            "tranches": one("SELECT count(*) FROM disbursements"),
            "tranche_fen": one("SELECT sum(amount) FROM disbursements"),
            "loans_disbursed_fen": one("SELECT sum(disbursed_total) FROM loans"),
            "audited_tranches": one("SELECT count(*) FROM audit_events WHERE object_type = 'disbursements' "
                                    "AND action = 'create'"),
            "journal_lines": one("SELECT count(*) FROM journal_lines"),
        }
        db.session.remove()
        db.engine.dispose()
    return counts


def prepare_minimal(url: str) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    import minimal_app

    app = minimal_app.create_app(url, create_tables=True)
    with app.app_context():
        minimal_app.db.engine.dispose()


def minimal_rows(url: str) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        rows = int(connection.execute(sa.text("SELECT count(*) FROM records")).scalar())
    engine.dispose()
    return rows


# ---------------------------------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def gunicorn(target: str, env: dict[str, str], workers: int, threads: int, chdir: Path) -> Iterator[int]:
    """``target`` served by gunicorn on a free port until the block ends; yields the port."""
    port = free_port()
    # --preload: the app is imported once, before the workers fork (no database connection is made
    # then), so every worker is ready when the port opens instead of importing on its first request.
    command = [GUNICORN, "--chdir", str(chdir), "--preload", "--workers", str(workers), "--worker-class", "gthread",
               "--threads", str(threads), "--keep-alive", "30", "--backlog", "256", "--bind", f"127.0.0.1:{port}",
               "--log-level", "warning", target]
    log = tempfile.TemporaryFile()
    server = subprocess.Popen(command, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"gunicorn exited: {log.read().decode(errors='replace')[-2000:]}")
            try:
                probe = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                probe.request("GET", "/")  # any answer will do: the app is serving
                probe.getresponse().read()
                probe.close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not start within 60 s") from None
                time.sleep(0.2)
        yield port
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.seek(0)
        errors = [line for line in log.read().decode(errors="replace").splitlines() if "Traceback" in line or "ERROR" in line]
        if errors:
            print(f"    server log: {len(errors)} error lines, e.g. {errors[0]}")
        log.close()


# ----------------------------------------------------------------------------------------- client


@dataclass
class Load:
    """What the client saw: per-request latencies of acknowledged requests, and the refusals."""

    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    failures: int = 0  # no response at all (connection errors)
    warm_up_acknowledged: int = 0
    seconds: float = 0.0

    @property
    def acknowledged(self) -> int:
        return sum(count for status, count in self.statuses.items() if 200 <= status < 300)

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000 if ordered else float("nan")


Request = Callable[[int, int], tuple[str, bytes, dict[str, str]]]  # (connection, sequence) -> path, body, headers


def run_load(port: int, request: Request, connections: int, duration: float, warm_up: float) -> Load:
    """``connections`` threads, each with one keep-alive connection, sending requests back to back."""
    load = Load()
    lock = threading.Lock()
    start = threading.Barrier(connections + 1)
    timing = {"from": 0.0, "until": 0.0}

    def client(index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine: list[float] = []
        statuses: dict[int, int] = {}
        failures, sequence, warm = 0, 0, 0
        start.wait()
        while True:
            began = time.perf_counter()
            if began >= timing["until"]:
                break
            path, body, headers = request(index, sequence)
            sequence += 1
            try:
                connection.request("POST", path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                connection.close()
                failures += 1
                continue
            ended = time.perf_counter()
            if began < timing["from"]:
                warm += 200 <= status < 300  # warm-up: stored in the database, not in the figures
                continue
            statuses[status] = statuses.get(status, 0) + 1
            if 200 <= status < 300:
                mine.append(ended - began)
        connection.close()
        with lock:
            load.latencies += mine
            load.failures += failures
            load.warm_up_acknowledged += warm
            for status, count in statuses.items():
                load.statuses[status] = load.statuses.get(status, 0) + count

    threads = [threading.Thread(target=client, args=(index,), daemon=True) for index in range(connections)]
    for thread in threads:
        thread.start()
    now = time.perf_counter()
    timing["from"], timing["until"] = now + warm_up, now + warm_up + duration
    start.wait()
    for thread in threads:
        thread.join()
    load.seconds = duration
    return load


# ------------------------------------------------------------------------------------------ runs


@dataclass
class Result:
    label: str
    load: Load
    acknowledged_total: int  # warm-up included
    problems: list[str]

    @property
    def throughput(self) -> float:
        return self.load.acknowledged / self.load.seconds

    def line(self) -> str:
        refused = {status: count for status, count in self.load.statuses.items() if not 200 <= status < 300}
        return (f"{self.label:<8} {self.throughput:8.1f} req/s  p50 {self.load.percentile(0.50):6.1f} ms  "
                f"p99 {self.load.percentile(0.99):6.1f} ms  ({self.load.acknowledged} acknowledged"
                + (f", refused {refused}" if refused else "") + (f", {self.load.failures} failed" if self.load.failures else "")
                + ")")


def measure_product(url: str, args: argparse.Namespace, workers: int) -> Result:
    data = prepare_product(url, args.loans)
    headers = {"Authorization": f"Bearer {data.token}", "Content-Type": "application/json"}
    count = len(data.loan_ids)

    def request(index: int, sequence: int) -> tuple[str, bytes, dict[str, str]]:
        loan_id = data.loan_ids[(index + sequence * args.connections) % count]
        body = json.dumps({"amount": TRANCHE, "disbursed_on": data.day, "bank_ref": f"BR-{index}-{sequence}"})
        return f"/api/v1/loans/{loan_id}/disbursements", body.encode(), headers

    env = {"DATABASE_URL": url, "APP_ENV": "development", "SECRET_KEY": SECRET}
    with gunicorn("wsgi:app", env, workers, args.threads, ROOT) as port:
        load, total = run_counted(port, request, args)
    counts = product_counts(url)
    problems = []
    if counts["tranches"] != total:
        problems.append(f"{counts['tranches']} tranches stored for {total} acknowledged requests")
    if counts["audited_tranches"] != total:
        problems.append(f"{counts['audited_tranches']} tranches audited for {total} acknowledged requests")
    expected_fen = total * int(Decimal(TRANCHE) * 100)
    if counts["tranche_fen"] != expected_fen or counts["loans_disbursed_fen"] != expected_fen:
        problems.append(f"amounts: tranches {counts['tranche_fen']} fen, loans' totals {counts['loans_disbursed_fen']} "
                        f"fen, expected {expected_fen}")
    if counts["journal_lines"]:
        problems.append(f"{counts['journal_lines']} journal lines: a bank's tranche posts nothing to the ledger")
    print(f"    product rows: {counts['tranches']} tranches, {counts['audited_tranches']} audited, "
          f"{counts['journal_lines']} journal lines; {total} acknowledged (warm-up included)")
    return Result("product", load, total, problems)


def measure_minimal(url: str, args: argparse.Namespace, workers: int) -> Result:
    prepare_minimal(url)
    headers = {"Content-Type": "application/json"}

    def request(index: int, sequence: int) -> tuple[str, bytes, dict[str, str]]:
        body = json.dumps({"amount": TRANCHE, "bank_ref": f"BR-{index}-{sequence}"})
        return "/records", body.encode(), headers

    with gunicorn("minimal_app:app", {"MINIMAL_DATABASE_URL": url}, workers, args.threads, ROOT / "bench") as port:
        load, total = run_counted(port, request, args)
    rows = minimal_rows(url)
    problems = [] if rows == total else [f"{rows} rows stored for {total} acknowledged requests"]
    print(f"    minimal rows: {rows}; {total} acknowledged (warm-up included)")
    return Result("minimal", load, total, problems)


def run_counted(port: int, request: Request, args: argparse.Namespace) -> tuple[Load, int]:
    """The load, and every 2xx answer it got, warm-up included (what the database must hold)."""
    load = run_load(port, request, args.connections, args.duration, args.warm_up)
    return load, load.acknowledged + load.warm_up_acknowledged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="a PostgreSQL server to create throwaway databases on")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--workers", default="2", help="gunicorn workers; a list (1,2,4) runs the series")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker (gthread)")
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured, after the warm-up")
    parser.add_argument("--warm-up", type=float, default=2.0, help="seconds of load before measuring")
    parser.add_argument("--loans", type=int, default=200, help="contracted loans the tranches go to, in turn")
    args = parser.parse_args()
    series = [int(value) for value in args.workers.split(",")]
    print(f"cores: {os.cpu_count()} (the client runs on them too); {args.connections} connections, "
          f"{args.duration:g} s after {args.warm_up:g} s warm-up, gthread x {args.threads} threads")
    backends = ([("SQLite", None)] if not args.skip_sqlite else []) + (
        [("PostgreSQL", args.database_url)] if args.database_url else [])
    failed = False
    for backend, server_url in backends:
        for workers in series:
            print(f"[{backend}, {workers} worker{'s' if workers > 1 else ''}]", flush=True)
            with fresh_database(server_url, "product") as url:
                product = measure_product(url, args, workers)
            with fresh_database(server_url, "minimal") as url:
                minimal = measure_minimal(url, args, workers)
            for result in (product, minimal):
                print(f"  {result.line()}")
                for problem in result.problems:
                    print(f"  MISMATCH {result.label}: {problem}")
                    failed = True
            ratio = product.throughput / minimal.throughput if minimal.throughput else float("nan")
            p99 = product.load.percentile(0.99)
            print(f"  product / minimal throughput: {ratio:.2f} (target >= 0.5); product p99 {p99:.1f} ms "
                  f"(target < 100 ms)", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
