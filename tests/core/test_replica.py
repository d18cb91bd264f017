"""Reports read from the replica named by REPORTS_DATABASE_URL; everything else reads the primary.

The replica here is a separate SQLite database with the same schema and no loans, so which database
answered is visible in the figures: the primary has one tranche, the replica none.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from config import create_app
from core.db import db
from loans.models import Disbursement
from parties.models import Bank
from tests.conftest import reset_schema
from tests.factories import LoanFactory
from tests.support import isolated_client


@pytest.fixture
def replica_url(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'replica.db'}"
    engine = sa.create_engine(url)
    reset_schema(engine)
    engine.dispose()
    return url


def one_tranche_on_the_primary(app) -> None:
    with app.app_context():
        loan = LoanFactory()
        db.session.add(
            Disbursement(loan_id=loan.id, bank_id=loan.bank_id, amount=Decimal("1234567.89"),
                         disbursed_on=date(2025, 3, 2), bank_ref="REPLICA-1")
        )
        db.session.commit()


def disbursed(client, headers) -> str:
    response = client.get("/api/v1/program/progress?as_of=2025-12-31", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["disbursed"]


def test_progress_reads_the_replica_when_one_is_configured(app, api_as, replica_url):
    one_tranche_on_the_primary(app)
    _user, headers = api_as("auditor")  # the token lives on the primary: authentication reads it there

    assert disbursed(isolated_client(app), headers) == "1234567.89"

    with_replica = create_app("test", REPORTS_DATABASE_URL=replica_url)
    assert disbursed(isolated_client(with_replica), headers) == "0.00"


def test_recording_money_never_uses_the_replica(app, api_as, replica_url):
    """A write endpoint is not marked: a tranche recorded with a replica configured lands on the primary."""
    with_replica = create_app("test", REPORTS_DATABASE_URL=replica_url)
    liaison, headers = api_as("bank_liaison")
    with app.app_context():
        loan = LoanFactory(bank=db.session.get(Bank, liaison.bank_id))
        db.session.commit()
        loan_id = loan.id
    response = isolated_client(with_replica).post(
        f"/api/v1/loans/{loan_id}/disbursements",
        json={"amount": "1000.00", "disbursed_on": "2025-03-02", "bank_ref": "REPLICA-W"},
        headers=headers,
    )
    assert response.status_code == 201, response.get_json()
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).where(Disbursement.bank_ref == "REPLICA-W")) == 1
    replica = sa.create_engine(replica_url)
    with replica.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(Disbursement.__table__)) == 0
    replica.dispose()


@pytest.mark.parametrize("path", ["/api/v1/risk/pool", "/api/v1/seed/fund"])
def test_the_pool_and_fund_figures_are_served_from_the_replica(app, api_as, replica_url, path):
    """The replica has the schema and no ledger: the figures come back, all zero, from it."""
    _user, headers = api_as("auditor")
    with_replica = create_app("test", REPORTS_DATABASE_URL=replica_url)
    response = isolated_client(with_replica).get(path, headers=headers)
    assert response.status_code == 200, response.get_json()
