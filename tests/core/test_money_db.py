"""Money is exact in the database too: integer fen in, Decimal out, SQL sums to the cent, no float anywhere."""
from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.db import db
from core.money import Money

ROOT = Path(__file__).resolve().parents[2]

scratch = sa.MetaData()
amounts = sa.Table(
    "scratch_amounts", scratch,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("amount", Money(), nullable=False),
)


@pytest.fixture
def amounts_table(app_ctx):
    # DDL is transactional on both backends: the table disappears with the test's rollback.
    scratch.create_all(db.session.connection())
    yield amounts


def test_sums_are_exact_to_the_cent(amounts_table):
    # 0.1 + 0.2 is the classic float failure; ten thousand cents must make exactly 100.00.
    rows = [{"amount": Decimal("0.10")}, {"amount": Decimal("0.20")}] + [{"amount": Decimal("0.01")}] * 10_000
    rows.append({"amount": Decimal("99999999999.99")})
    db.session.execute(amounts_table.insert(), rows)
    total = db.session.execute(sa.select(sa.func.sum(amounts_table.c.amount))).scalar_one()
    assert total == Decimal("100000000100.29")
    assert isinstance(total, Decimal) and total.as_tuple().exponent == -2


def test_stored_as_integer_fen(amounts_table):
    db.session.execute(amounts_table.insert(), [{"amount": Decimal("1234567.89")}])
    raw = db.session.execute(sa.text("SELECT amount FROM scratch_amounts")).scalar_one()
    assert raw == 123456789 and isinstance(raw, int)


def test_comparison_binds_through_the_type(amounts_table):
    db.session.execute(amounts_table.insert(), [{"amount": Decimal("5.00")}, {"amount": Decimal("5.01")}])
    bigger = db.session.execute(
        sa.select(amounts_table.c.amount).where(amounts_table.c.amount > Decimal("5.00"))
    ).scalars().all()
    assert bigger == [Decimal("5.01")]


def test_float_is_refused_at_the_column(amounts_table):
    with pytest.raises(sa.exc.StatementError):
        db.session.execute(amounts_table.insert(), [{"amount": 0.1}])


FLOAT_PATTERN = re.compile(r"\bfloat\(|\bFloat\b|\bREAL\b|DOUBLE")


def test_no_float_in_application_code():
    offenders = []
    for package in ("config", "core", "parties", "loans", "funds", "risk"):
        for path in (ROOT / package).rglob("*.py"):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                code = line.split("#", 1)[0]
                if FLOAT_PATTERN.search(code) and "refuse" not in code.lower():
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "float near money code:\n" + "\n".join(offenders)
