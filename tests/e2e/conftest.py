"""End-to-end harness: the real application served by gunicorn, driven by headless Chromium.

What a test gets:

- ``live_server`` (session): a fresh SQLite file in a temporary directory, built by
  ``flask db upgrade`` and filled by ``flask demo load`` (the real CLI, as ``make run`` does),
  then gunicorn (1 worker, 4 threads, ``APP_ENV=development``) on a free 127.0.0.1 port. Its
  ``token(username)``, ``get_json(path, token=...)``, ``request(...)`` and ``upload(...)`` (multipart)
  call the HTTP API with urllib.
- ``browser`` (session): Debian's Chromium (``/usr/bin/chromium``; ``CHROMIUM`` overrides) launched by
  Playwright. We never run ``playwright install``: its browser download fails on our machines.
- ``pages`` (per test): ``pages.new()`` opens a page in its own browser context (own cookies),
  ``pages.login(username)`` logs in through the real login page, ``pages.watch(page)`` tells
  what the page logged and requested, ``pages.screenshot(page)`` saves a picture now.
  ``page_as(username)`` is ``pages.login``.
- Tests marked ``closes_books`` (a month's sign-off) run after every other test of the session:
  the server is shared, and a closed month refuses the backdated steps other journeys record.
- At the end of every test, each page it opened is saved to ``artifacts/e2e/<test>.png``
  (``<test>-2.png`` for a second page; ``ARTIFACTS_DIR`` replaces ``artifacts/``), pass or fail,
  and the test errors if a page raised an uncaught script error or asked a host other than
  this machine for anything (the product runs without internet).

When they run: on the SQLite pass of ``make test`` only (the server always uses its own SQLite
file, so a PostgreSQL pass would repeat the same run). Without Chromium or Playwright they are
skipped, unless ``E2E_REQUIRED=1`` (set by ``.ci/run``), where a missing browser fails the run.

These tests never use the test database of tests/conftest.py: ``db_connection`` (autouse there)
is replaced by a no-op here, so the rollback harness is not even built for them.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

import pytest

from config.demo import DEMO_PASSWORD

E2E_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = E2E_DIR.parents[1]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags Chromium keeps calling Google's hosts, which a closed
# network refuses; --no-sandbox because CI runs as root.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
NON_NETWORK_SCHEMES = frozenset({"data", "blob", "about", "chrome-error"})
SERVER_START_SECONDS = 60
ACTION_TIMEOUT_MS = 15_000


def e2e_required() -> bool:
    return os.environ.get("E2E_REQUIRED") == "1"


def on_postgresql() -> bool:
    return os.environ.get("TEST_DATABASE_URL", "").startswith(("postgresql", "postgres:"))


def unavailable(reason: str) -> None:
    """Skip with ``reason``; fail instead when CI requires the browser tests."""
    if e2e_required():
        pytest.fail(f"{reason} (E2E_REQUIRED=1: the browser tests must run here)", pytrace=False)
    pytest.skip(reason)


def artifacts_dir() -> Path:
    return Path(os.environ.get("ARTIFACTS_DIR") or PROJECT_ROOT / "artifacts") / "e2e"


# ------------------------------------------------------------------------------------ collection


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: end-to-end test in a real browser against a live server")
    config.addinivalue_line(
        "markers",
        "closes_books: the test signs off a month, which closes it and every month before it on the shared server",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test under tests/e2e; skip them on the PostgreSQL pass (decided at collection,
    so no fixture, not even the top conftest's database harness, is built for them there)."""
    skip_pg = pytest.mark.skip(
        reason="e2e tests run in the SQLite pass only: their server always uses its own SQLite file"
    )
    for item in items:
        if E2E_DIR in Path(item.path).parents:
            item.add_marker(pytest.mark.e2e)
            if on_postgresql():
                item.add_marker(skip_pg)
    # All e2e tests share one server: a sign-off closes the month (and every earlier one) to the
    # journeys that record backdated steps, so the tests that close books run last, in their order.
    closing = [item for item in items if item.get_closest_marker("closes_books")]
    if closing:
        items[:] = [item for item in items if not item.get_closest_marker("closes_books")] + closing


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    """A failing e2e test shows the end of the server's log (tracebacks, statuses) in its report."""
    outcome = yield
    report = outcome.get_result()
    server = getattr(item, "funcargs", {}).get("live_server")
    if report.failed and isinstance(server, LiveServer) and E2E_DIR in Path(item.path).parents:
        report.sections.append(("gunicorn log (end)", server.log_tail()))


@pytest.fixture(autouse=True)
def db_connection():
    """Replaces tests/conftest.py's rollback harness: these tests talk to a server, not to the test DB."""
    yield None


# ------------------------------------------------------------------------------------ live server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# Loopback only: never through a proxy the environment may name.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class LiveServer:
    url: str  # http://127.0.0.1:<port>, no trailing slash
    database_url: str
    log: Path  # gunicorn's output (access log included), for a failing test to read

    def request(
        self, method: str, path: str, *, token: str | None = None, body: Any = None
    ) -> tuple[int, Any]:
        """Call the HTTP API: (status, decoded JSON or None). Errors come back, not raised."""
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        req = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        try:
            with _OPENER.open(req, timeout=30) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        return status, (json.loads(raw) if raw else None)

    def upload(
        self, path: str, *, token: str, fields: dict[str, str], file_name: str, content: bytes
    ) -> tuple[int, Any]:
        """POST a multipart form (``fields`` and one ``file``) to the API: (status, decoded JSON)."""
        boundary = "----e2e" + secrets.token_hex(8)
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
            for name, value in fields.items()
        ]
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{file_name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n".encode() + content + b"\r\n"
        )
        headers = {
            "Accept": "application/json",
            "Authorization": f"Bearer {token}",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        }
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        req = urllib.request.Request(self.url + path, data=body, headers=headers, method="POST")
        try:
            with _OPENER.open(req, timeout=30) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        return status, (json.loads(raw) if raw else None)

    def token(self, username: str, password: str = DEMO_PASSWORD) -> str:
        """A bearer token from ``POST /api/v1/auth/token``."""
        status, body = self.request("POST", "/api/v1/auth/token", body={"username": username, "password": password})
        assert status == 200, f"token for {username}: {status} {body}"
        return body["token"]

    def get_json(self, path: str, *, token: str) -> Any:
        status, body = self.request("GET", path, token=token)
        assert status == 200, f"GET {path}: {status} {body}"
        return body

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def _run_cli(args: list[str], env: dict[str, str], log: Path) -> None:
    command = [sys.executable, "-m", "flask", "--app", "wsgi", *args]
    result = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)
    with log.open("a") as out:
        out.write(f"$ flask {' '.join(args)}\n{result.stdout}{result.stderr}\n")
    if result.returncode != 0:
        output = (result.stdout + result.stderr)[-4000:]
        pytest.fail(f"`flask {' '.join(args)}` failed ({result.returncode}) while preparing the e2e server:\n{output}")


def _wait_until_up(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"gunicorn exited with {process.returncode}:\n{log.read_text(errors='replace')[-4000:]}")
        try:
            with _OPENER.open(url + "/login", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    pytest.fail(f"gunicorn did not answer at {url} within {SERVER_START_SECONDS}s:\n{log.read_text(errors='replace')[-4000:]}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()  # gunicorn: graceful shutdown on SIGTERM
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> LiveServer:
    workdir = tmp_path_factory.mktemp("e2e-server")  # pytest keeps the last runs' logs and database
    database_url = f"sqlite:///{workdir / 'e2e.db'}"
    env = {
        **os.environ,
        "APP_ENV": "development",
        "DATABASE_URL": database_url,
        "SECRET_KEY": secrets.token_urlsafe(48),
        "SCHEDULER_IN_PROCESS": "0",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("TEST_DATABASE_URL", None)  # the server's database is DATABASE_URL, nothing else
    setup_log = workdir / "setup.log"
    _run_cli(["db", "upgrade"], env, setup_log)
    _run_cli(["demo", "load"], env, setup_log)

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = workdir / "gunicorn.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", "1", "--threads", "4",
             "--bind", f"127.0.0.1:{port}", "--access-logfile", "-", "wsgi:app"],
            cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        _wait_until_up(url, process, log)
        yield LiveServer(url=url, database_url=database_url, log=log)
    finally:
        _stop(process)


# ------------------------------------------------------------------------------------ browser


@pytest.fixture(scope="session")
def browser():
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        unavailable(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium; CHROMIUM=path overrides)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is not installed (pip install -r requirements.txt)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class PageWatch:
    """What one browser context logged and asked for, recorded from its first request."""

    requests: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def on_request(self, request: Any) -> None:
        url = request.url
        self.requests.append(url)
        parts = urlsplit(url)
        if parts.scheme not in NON_NETWORK_SCHEMES and (parts.hostname or "") not in LOCAL_HOSTS:
            self.foreign_requests.append(url)

    def on_console(self, message: Any) -> None:
        if message.type == "error":
            location = message.location or {}
            self.console_errors.append(f"{message.text} ({location.get('url', '')}:{location.get('lineNumber', '')})")

    def on_page_error(self, error: Any) -> None:
        self.page_errors.append(str(error))


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "test"


class Pages:
    """Browser pages for one test: each in its own context, watched, photographed at the end."""

    def __init__(self, browser: Any, server: LiveServer, test_name: str) -> None:
        self.browser = browser
        self.server = server
        self.test_name = _safe_name(test_name)
        self._opened: list[tuple[Any, Any, PageWatch]] = []  # (context, page, watch)

    def new(self, *, width: int = 1366, height: int = 900) -> Any:
        """A fresh anonymous page (no cookies); relative URLs go to the live server."""
        context = self.browser.new_context(
            base_url=self.server.url,
            viewport={"width": width, "height": height},
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
        )
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        watch = PageWatch()
        context.on("request", watch.on_request)
        page = context.new_page()
        page.on("console", watch.on_console)
        page.on("pageerror", watch.on_page_error)
        self._opened.append((context, page, watch))
        return page

    def login(self, username: str, password: str = DEMO_PASSWORD, *, page: Any = None) -> Any:
        """Log in through the login page (in ``page``, else a new one); returns the page on the home page."""
        page = page or self.new()
        page.goto("/login")
        form = page.locator("form[action$='/login']")
        form.locator("input[name='username']").fill(username)
        form.locator("input[name='password']").fill(password)
        with page.expect_navigation():
            form.locator("button[type='submit']").click()
        if urlsplit(page.url).path == "/login":
            alert = page.locator(".alert-danger")
            message = alert.inner_text() if alert.count() else page.title()
            raise AssertionError(f"login as {username} refused: {message}")
        return page

    def watch(self, page: Any) -> PageWatch:
        for _context, opened, watch in self._opened:
            if opened is page:
                return watch
        raise KeyError("not a page of this test")

    def screenshot_path(self, index: int = 0, label: str | None = None) -> Path:
        name = self.test_name + (f"-{index + 1}" if index else "") + (f"-{_safe_name(label)}" if label else "")
        return artifacts_dir() / f"{name}.png"

    def screenshot(self, page: Any, label: str | None = None) -> Path:
        """Save the whole page now (``<test>.png``, or ``<test>-<label>.png``)."""
        index = next(i for i, (_c, opened, _w) in enumerate(self._opened) if opened is page)
        path = self.screenshot_path(index, label)
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path), full_page=True)
        return path

    def finish(self) -> list[str]:
        """Photograph and close every page; returns the problems that fail any test."""
        problems: list[str] = []
        for index, (context, page, watch) in enumerate(self._opened):
            try:
                if not page.is_closed():
                    self.screenshot(page)
            except Exception as error:  # a broken page must not hide the test's own failure
                problems.append(f"screenshot of page {index + 1} failed: {error}")
            problems += [f"request to another host: {url}" for url in watch.foreign_requests]
            problems += [f"uncaught script error: {text}" for text in watch.page_errors]
            context.close()
        self._opened.clear()
        return problems


@pytest.fixture
def pages(browser, live_server, request) -> Pages:
    opened = Pages(browser, live_server, request.node.name)
    yield opened
    problems = opened.finish()
    if problems:
        pytest.fail("\n".join(problems) + f"\n-- gunicorn log --\n{live_server.log_tail(2000)}", pytrace=False)


@pytest.fixture
def page_as(pages) -> Callable[..., Any]:
    """``page_as("auditor")``: a page logged in as that demo user (password from config/demo.py)."""
    return pages.login
