"""Fixtures of the document tests: a frozen today, a small programme with a seed loan and a paid claim,
PDF text extraction (pypdf) and first-page images for people to look at (artifacts/documents/).

Today is Wednesday 2025-12-31. The world (``world`` fixture), arranged through the real API and
services, then committed:

* the seed fund: 1,000,000.00 paid in, a 300,000.00 interest-free loan over 12 monthly instalments,
  contracted 2025-06-23 through the agent bank, disbursed 2025-06-24, the first instalment repaid;
* the pool: 1,000,000.00 paid in (city 40%, county 60%); a covered 1,000,000.00 loan of the liaison's
  bank left unpaid past maturity (2025-08-31), claimed as of 2025-11-30 (91 days past due) and
  approved and paid today.
"""
from __future__ import annotations

import io
import shutil
import subprocess
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from pypdf import PdfReader

from core import clock
from core.db import db
from tests.funds.conftest import SeedApi, eligible_enterprise, freeze_on
from tests.risk.conftest import RiskApi, fund_pool, make_loan

TODAY = date(2025, 12, 31)
PERIOD = "2025-12"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "documents"


@pytest.fixture(autouse=True)
def today():
    freeze_on(TODAY)
    yield TODAY
    clock.freeze(None)


def pdf_pages(data: bytes) -> list[str]:
    """The text of every page (pypdf)."""
    return [page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages]


def pdf_text(data: bytes) -> str:
    return "\n".join(pdf_pages(data))


def flat(text: str) -> str:
    """Text without whitespace: extraction may break a line or add spaces between font runs."""
    return "".join(text.split())


def save_first_page(data: bytes, name: str) -> Path | None:
    """Render page 1 to ``artifacts/documents/<name>.png`` (pdftoppm); None when poppler is missing."""
    if shutil.which("pdftoppm") is None:
        return None
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    source = ARTIFACTS / f"{name}.pdf"
    source.write_bytes(data)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "90", "-f", "1", "-l", "1", "-singlefile", str(source), str(ARTIFACTS / name)],
        check=True, timeout=60,
    )
    return ARTIFACTS / f"{name}.png"


@dataclass
class World:
    seed: SeedApi
    risk: RiskApi
    seed_loan_id: int
    contract_no: str
    enterprise_id: int
    bank_loan_id: int
    claim_id: int


@pytest.fixture
def world(app, client, api_as) -> World:
    seed = SeedApi(app, client, api_as)
    risk = RiskApi(app, client, api_as)
    seed.contribute("1000000.00")
    enterprise_id = eligible_enterprise(app, name="青山智能装备有限公司")
    app_id = seed.approved_application(enterprise_id, amount="300000.00", term=12, repayment="monthly")
    contracted = seed.contract(app_id).get_json()
    loan_id = contracted["loan_id"]
    seed.disburse(loan_id)
    seed.repay(loan_id, "25000.00", date(2025, 7, 24), "HK-0001")

    fund_pool(app, "1000000.00")
    bank_loan_id = make_loan(app, risk.bank_id)
    claim = risk.claim(bank_loan_id)
    risk.approve(claim["id"])
    return World(seed, risk, loan_id, contracted["contract_no"], enterprise_id, bank_loan_id, claim["id"])


def run_in_app(app, func, *args, **kwargs):
    """Call ``func`` in an app context and commit, as the job runner does."""
    with app.app_context():
        result = func(*args, **kwargs)
        db.session.commit()
        return result
