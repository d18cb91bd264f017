"""The document pages: the auditors' library (filters, versions, SHA-256, downloads), a liaison's own
bank documents, and the on-demand statement form."""
from __future__ import annotations

import hashlib
import re

import sqlalchemy as sa

from config import documents_jobs
from core.db import db
from core.documents.models import Document
from tests.documents.conftest import PERIOD, run_in_app
from tests.support import post_form


def _issue(app):
    run_in_app(app, documents_jobs.render_missing_documents)
    run_in_app(app, documents_jobs.generate_monthly_statements, PERIOD)


def _ids(app, **where) -> list[int]:
    with app.app_context():
        return list(db.session.scalars(sa.select(Document.id).filter_by(**where).order_by(Document.id)))


def test_the_library_lists_filters_and_downloads(app, client, login_as, world):
    _issue(app)
    login_as("auditor")
    page = client.get("/documents/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "文件库" in html and world.contract_no in html and "按需出具报表" in html
    assert html.count('href="/documents/') >= 6

    filtered = client.get("/documents/", query_string={"kind": "contract"}).get_data(as_text=True)
    assert world.contract_no in filtered
    assert {int(n) for n in re.findall(r'href="/documents/(\d+)"', filtered)} == set(_ids(app, kind="contract"))
    by_period = client.get("/documents/", query_string={"period": "2024-01"}).get_data(as_text=True)
    assert "暂无文件" in by_period
    # Malformed filters are ignored, never an error page.
    assert client.get("/documents/", query_string={"kind": "x", "period": "bad", "bank_id": "y"}).status_code == 200

    (contract_id,) = _ids(app, kind="contract")
    detail = client.get(f"/documents/{contract_id}").get_data(as_text=True)
    with app.app_context():
        sha = db.session.get(Document, contract_id).sha256
    assert sha in detail and "全部版本" in detail
    download = client.get(f"/documents/{contract_id}/pdf")
    assert download.status_code == 200 and hashlib.sha256(download.get_data()).hexdigest() == sha
    inline = client.get(f"/documents/{contract_id}/pdf?inline=1")
    assert inline.headers["Content-Disposition"].startswith("inline")
    (statement_id, *_rest) = _ids(app, kind="bank_statement")
    assert client.get(f"/documents/{statement_id}/rows.xlsx").status_code == 200
    assert client.get(f"/documents/{contract_id}/rows.xlsx").status_code == 404


def test_a_liaison_sees_its_own_bank_documents_only(app, client, login_as, world):
    _issue(app)
    with app.app_context():
        from parties.models import Bank

        bank = db.session.get(Bank, world.risk.bank_id)
        db.session.expunge(bank)
    login_as("bank_liaison", bank=bank)
    html = client.get("/documents/").get_data(as_text=True)
    assert "本行文件" in html and "按需出具报表" not in html
    own = set(_ids(app, bank_id=world.risk.bank_id))
    listed = {int(n) for n in re.findall(r'href="/documents/(\d+)"', html)}
    assert listed == own
    others = set(_ids(app)) - own
    assert others
    for document_id in others:
        assert client.get(f"/documents/{document_id}").status_code == 404
        assert client.get(f"/documents/{document_id}/pdf").status_code == 404
    assert client.get("/documents/statements/new").status_code == 403


def test_an_auditor_requests_a_statement_through_the_form(app, client, login_as, world):
    login_as("auditor")
    form = client.get("/documents/statements/new").get_data(as_text=True)
    assert "fund:seed" in form and f"bank:{world.risk.bank_id}" in form
    response = post_form(client, "/documents/statements/new",
                         {"target": "fund:risk", "start": "2025-12-01", "end": "2025-12-31"})
    assert response.status_code == 302, response.get_data(as_text=True)
    (document_id,) = _ids(app, kind="fund_statement")
    assert response.headers["Location"].endswith(f"/documents/{document_id}")
    page = client.get(f"/documents/{document_id}").get_data(as_text=True)
    assert "风险补偿资金池 2025-12 月度资金报表" in page

    refused = post_form(client, "/documents/statements/new",
                        {"target": "fund:risk", "start": "2025-12-31", "end": "2025-12-01"})
    assert refused.status_code == 422 and "截止日期不能早于起始日期" in refused.get_data(as_text=True)
    assert len(_ids(app, kind="fund_statement")) == 1


def test_other_roles_may_not_request_statements(client, login_as):
    login_as("fund_manager")
    assert client.get("/documents/statements/new").status_code == 403
    assert client.get("/documents/").status_code == 200


def test_anonymous_visitors_go_to_the_login_page(client):
    response = client.get("/documents/")
    assert response.status_code in (302, 401)


def test_the_navigation_shows_the_library(client, login_as):
    login_as("auditor")
    assert 'href="/documents/"' in client.get("/").get_data(as_text=True)
