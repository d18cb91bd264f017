"""The dependency rule of the architecture, checked on every import statement in the tree.

core knows no domain; parties knows only core; loans may use parties; risk may read loans;
funds imports neither loans nor risk; only config (factory, CLI, job schedule) imports everything.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECT_PACKAGES = {"config", "core", "parties", "loans", "funds", "risk"}
ALLOWED = {
    "core": {"core"},
    "parties": {"core", "parties"},
    "loans": {"core", "parties", "loans"},
    "funds": {"core", "parties", "funds"},
    "risk": {"core", "parties", "loans", "risk"},
    "config": PROJECT_PACKAGES,
}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & PROJECT_PACKAGES


def python_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_the_rule_allows(package):
    violations = [
        f"{path.relative_to(ROOT)} imports {', '.join(sorted(bad))}"
        for path in python_files(package)
        if (bad := imported_packages(path) - ALLOWED[package])
    ]
    assert not violations, "dependency rule broken:\n" + "\n".join(violations)


def test_the_checker_catches_a_forbidden_import(tmp_path):
    offender = tmp_path / "offender.py"
    offender.write_text("from loans.models import Loan\nimport risk.services\n", encoding="utf-8")
    assert imported_packages(offender) == {"loans", "risk"}


def test_wsgi_only_creates_the_app():
    tree = ast.parse((ROOT / "wsgi.py").read_text(encoding="utf-8"))
    assert imported_packages(ROOT / "wsgi.py") == {"config"}
    assert len(tree.body) == 2
