"""Static security checks that run with the suite: bandit finds nothing, and no secret is committed.

- bandit runs over the product packages with ``bandit.yaml`` (its skips are justified there; a false
  positive is marked in place with ``# nosec <id>``); any finding fails the test.
- The secret scan reads every file git tracks or would track (``git ls-files``, ignored files
  excluded) for private keys, cloud and code-host tokens, and passwords written into settings,
  connection URLs or CI files; only the demo password and the test suite's own values are allowed.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from config.demo import DEMO_PASSWORD

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("config", "core", "loans", "funds", "risk", "parties")


def test_bandit_finds_nothing():
    bandit = Path(sys.executable).with_name("bandit")
    if not bandit.exists():
        pytest.fail(f"bandit is not installed next to {sys.executable} (pip install bandit)")
    result = subprocess.run(
        [str(bandit), "-c", "bandit.yaml", "-r", *PACKAGES, "-q", "-f", "json"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    report = json.loads(result.stdout)
    findings = [
        f"{item['filename']}:{item['line_number']}: {item['test_id']} {item['issue_text']}" for item in report["results"]
    ]
    assert findings == [], "\n".join(findings)
    assert report["errors"] == [], report["errors"]
    assert result.returncode == 0, result.stderr[-2000:]


# ------------------------------------------------------------------------------------ secrets

SECRET_PATTERNS = {
    "private key": re.compile(r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----"),
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "AWS secret access key": re.compile(r"aws_secret_access_key\s*[=:]\s*['\"]?[A-Za-z0-9/+=]{40}", re.I),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    "Slack token": re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    "Google API key": re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),
}

# ``scheme://user:password@host`` with a real-looking password (placeholders are allowed).
URL_PASSWORD = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s:/@'\"]+:([^\s@'\"/]+)@")
URL_PLACEHOLDERS = {"pass", "password", "secret", "<password>", "PASSWORD", "***", "...", "xxx", "pw", "pwd"}

# ``PASSWORD = "..."``, ``secret_key: ...`` and the like in settings, CI and deployment files.
SETTING_SECRET = re.compile(
    r"""(?ix)\b[a-z_]*(?:password|passwd|secret|secret_key|api_key|token)\b\s*[:=]\s*['"]([^'"\s]{6,})['"]"""
)
SETTING_FILES = re.compile(r"(^|/)(config/.*\.py|\.ci/.*|.*\.(?:env|ini|cfg|toml|ya?ml|conf)|Makefile|Dockerfile.*)$")
ALLOWED_SETTING_VALUES = {DEMO_PASSWORD, "test-secret", "development-only-secret-do-not-deploy"}

BINARY_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".ico", ".pdf", ".xlsx", ".mo", ".woff", ".woff2", ".ttf", ".otf", ".zip"}


def candidate_files() -> list[Path]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT, capture_output=True, check=True, timeout=60,
    ).stdout.decode().split("\0")
    return [ROOT / name for name in listed if name and (ROOT / name).is_file()]


def text_of(path: Path) -> str | None:
    if path.suffix.lower() in BINARY_SUFFIXES or path.stat().st_size > 5 * 1024 * 1024:
        return None
    data = path.read_bytes()
    if b"\0" in data[:4096]:
        return None
    return data.decode("utf-8", errors="replace")


def secrets_in(relative: str, text: str) -> list[str]:
    found = []
    for line_number, line in enumerate(text.splitlines(), start=1):
        where = f"{relative}:{line_number}"
        for what, pattern in SECRET_PATTERNS.items():
            if pattern.search(line):
                found.append(f"{where}: {what}")
        for match in URL_PASSWORD.finditer(line):
            if match.group(1) not in URL_PLACEHOLDERS and not match.group(1).startswith(("$", "{", "<", "%")):
                found.append(f"{where}: password in a URL")
        if SETTING_FILES.search(relative):
            for match in SETTING_SECRET.finditer(line):
                value = match.group(1)
                if value not in ALLOWED_SETTING_VALUES and not value.startswith(("$", "{", "<")):
                    found.append(f"{where}: secret value in a settings file")
    return found


def test_no_secret_is_committed():
    problems = []
    for path in candidate_files():
        relative = path.relative_to(ROOT).as_posix()
        if relative == "tests/test_security_lint.py":
            continue  # this file spells out the patterns it looks for
        text = text_of(path)
        if text is not None:
            problems.extend(secrets_in(relative, text))
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize(
    "relative, line",
    [
        ("deploy/key.pem", "-----BEGIN RSA PRIVATE KEY-----"),
        ("notes.md", "aws AKIAIOSFODNN7EXAMPLE here"),
        ("README.md", "DATABASE_URL=postgresql://app:S3cr3t-Pw@db:5432/app"),
        ("config/settings.py", 'SMTP_PASSWORD = "hunter2-real"'),
        (".ci/run", "export API_TOKEN='abcdef123456'"),
    ],
)
def test_the_scan_recognises_secrets(relative, line):
    assert secrets_in(relative, line)


@pytest.mark.parametrize(
    "relative, line",
    [
        ("README.md", "`postgresql://user:pass@host:5432/db` uses psycopg 3"),
        ("config/demo.py", f'DEMO_PASSWORD = "{DEMO_PASSWORD}"'),
        ("config/settings.py", 'SECRET_KEY = os.environ.get("SECRET_KEY", DEVELOPMENT_SECRET)'),
        ("tests/core/test_auth.py", 'create_user("x", "secret123456", "auditor")'),
    ],
)
def test_the_scan_allows_placeholders_and_the_demo_password(relative, line):
    assert secrets_in(relative, line) == []
