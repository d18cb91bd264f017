"""The reconciliation pages (months, a month's differences, the sign-off form with CSRF and the audit
trail's status for auditors) and the report's PDF: its text, its SHA-256, a new version at sign-off,
and page images kept in artifacts/reconciliation/ for people to look at."""
from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
from pathlib import Path

import pytest
from pypdf import PdfReader

from core.db import db
from core.periods import closed_through
from core.reconciliation import get_result
from tests.reconciliation.conftest import JUNE, run
from tests.reconciliation.test_run import tape_month  # noqa: F401 - fixture
from tests.support import post_form

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "reconciliation"
PAGE = f"/reconciliations/{JUNE}"


def html(response) -> str:
    return response.get_data(as_text=True)


def pdf_text(data: bytes) -> str:
    """The text of every page, whitespace removed (extraction splits runs of the two fonts)."""
    return "".join("".join((page.extract_text() or "").split()) for page in PdfReader(io.BytesIO(data)).pages)


def save_pages(data: bytes, name: str) -> None:
    """Every page as PNG in artifacts/reconciliation/ (pdftoppm, when installed)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"{name}.pdf").write_bytes(data)
    if shutil.which("pdftoppm"):
        subprocess.run(["pdftoppm", "-png", "-r", "80", str(ARTIFACTS / f"{name}.pdf"), str(ARTIFACTS / name)],
                       check=True, timeout=60)


# --------------------------------------------------------------------------------------------- pages


def test_the_months_list_and_the_navigation(app, client, login_as, tape_month):  # noqa: F811
    login_as("fund_manager")
    page = html(client.get("/reconciliations"))
    assert "月度对账" in page and "2025-06 尚未对账" in page and "立即对账" not in page  # managers read only
    run(app)
    page = html(client.get("/reconciliations"))
    assert 'href="/reconciliations/2025-06"' in page and "存在差异" in page and "待签核" in page
    assert 'href="/reconciliations"' in page  # the navigation entry


@pytest.mark.parametrize("role", ["bank_liaison", "fund_officer"])
def test_other_roles_cannot_see_the_pages(app, client, login_as, role, tape_month):  # noqa: F811
    login_as(role)
    run(app)
    assert client.get("/reconciliations").status_code == 403
    assert client.get(PAGE).status_code == 403
    assert 'href="/reconciliations"' not in html(client.get("/"))


def test_the_result_page_lists_every_difference_and_filters_them(app, client, login_as, tape_month):  # noqa: F811
    login_as("admin")
    assert client.get(PAGE).status_code == 404
    run(app)
    page = html(client.get(PAGE))
    for text in ("GHOST-1", "NOT-ON-TAPE", "AMT-1", "DPD-1", "乙银行", "未报送台账", "-¥50,000.00", "总账与明细账"):
        assert text in page, text
    assert page.count('<span class="badge text-bg-warning">') >= 7
    assert "签核并结账" not in page  # admins do not sign off
    filtered = html(client.get(f"{PAGE}?kind=dpd"))
    assert "DPD-1" in filtered and "GHOST-1" not in filtered


def test_an_auditor_signs_off_through_the_form(app, client, login_as, tape_month):  # noqa: F811
    login_as("auditor")
    run(app)
    page = html(client.get(PAGE))
    assert "签核并结账" in page and 'id="audit-chain"' in page and "审计链完整" in page

    no_token = client.post(f"{PAGE}/sign-off", data={"comment": "同意"})
    assert no_token.status_code in (400, 422)
    missing = post_form(client, f"{PAGE}/sign-off", {"comment": ""}, form_url=PAGE)
    assert missing.status_code == 422 and "存在对账差异时，签核必须填写意见" in html(missing)
    with app.app_context():
        assert closed_through() is None

    done = post_form(client, f"{PAGE}/sign-off", {"comment": "差异已核实，银行下月更正"}, form_url=PAGE,
                     follow_redirects=True)
    assert done.status_code == 200 and "该月已结账" in html(done) and "差异已核实，银行下月更正" in html(done)
    assert "签核并结账" not in html(done)
    with app.app_context():
        assert closed_through() == JUNE and get_result(JUNE).status == "signed_off"


def test_a_refused_sign_off_is_shown_on_the_page(app, client, login_as, balanced_june):
    login_as("auditor")
    run(app, "2025-05")
    run(app)
    refused = post_form(client, f"{PAGE}/sign-off", {"comment": ""}, form_url=PAGE)
    assert refused.status_code == 409 and "请先签核 2025-05" in html(refused)


# ------------------------------------------------------------------------------------------------ PDF


def test_the_report_pdf_is_stored_and_issued_again_at_sign_off(app, client, api_as, tape_month):  # noqa: F811
    _, auditor = api_as("auditor")
    run(app)
    body = client.get(f"/api/v1/reconciliations/{JUNE}", headers=auditor).get_json()
    listed = client.get("/api/v1/documents?kind=reconciliation", headers=auditor).get_json()
    [document] = listed["items"]
    assert document["id"] == body["document_id"] and document["period"] == JUNE and "2025年6月" in document["title"]
    data = client.get(f"/api/v1/documents/{document['id']}/pdf", headers=auditor).get_data()
    assert hashlib.sha256(data).hexdigest() == document["sha256"]
    text = pdf_text(data)
    for needle in ("月度对账报告", "DZBG-202506", "GHOST-1", "甲银行", "乙银行未报送本月台账", "存在差异", "第1页共"):
        assert needle in text, needle
    save_pages(data, "reconciliation-2025-06-differences")

    signed = client.post(f"/api/v1/reconciliations/{JUNE}/sign-off", json={"comment": "差异已核实"}, headers=auditor)
    assert signed.status_code == 200
    versions = client.get("/api/v1/documents?kind=reconciliation", headers=auditor).get_json()["items"]
    assert len(versions) == 2  # the run's report stays; the signed one is the next version
    latest = signed.get_json()["document_id"]
    assert latest != document["id"]
    signed_text = pdf_text(client.get(f"/api/v1/documents/{latest}/pdf", headers=auditor).get_data())
    assert "差异已核实" in signed_text and "已结账" in signed_text
    save_pages(client.get(f"/api/v1/documents/{latest}/pdf", headers=auditor).get_data(),
               "reconciliation-2025-06-signed")


def test_a_liaison_never_sees_the_report(app, client, api_as, tape_month):  # noqa: F811
    run(app)
    with app.app_context():
        document_id = get_result(JUNE).document_id
        db.session.rollback()
    _, liaison = api_as("bank_liaison")
    assert client.get("/api/v1/documents?kind=reconciliation", headers=liaison).get_json()["total"] == 0
    assert client.get(f"/api/v1/documents/{document_id}/pdf", headers=liaison).status_code == 404


def test_an_auditor_runs_a_month_again_through_the_job_runner(app, client, login_as, tape_month):  # noqa: F811
    from core.jobs.models import JobRun

    login_as("auditor")
    listing = html(client.get("/reconciliations"))
    assert "2025-06 尚未对账" in listing and "立即对账" in listing
    first = post_form(client, f"{PAGE}/run", {}, form_url="/reconciliations", follow_redirects=True)
    assert first.status_code == 200 and "已完成 2025-06 的对账" in html(first) and "GHOST-1" in html(first)
    again = post_form(client, f"{PAGE}/run", {}, form_url=PAGE, follow_redirects=True)
    assert again.status_code == 200 and "第 2 次运行" in html(again)
    with app.app_context():
        runs = db.session.query(JobRun).filter_by(job="monthly-reconciliation", period=JUNE).all()
        assert len(runs) == 1 and runs[0].status == "succeeded"  # one run row, its result replaced
        assert get_result(JUNE).runs == 2
    assert client.post(f"{PAGE}/run", data={}).status_code in (302, 400)  # no CSRF token: nothing runs
    with app.app_context():
        assert get_result(JUNE).runs == 2
