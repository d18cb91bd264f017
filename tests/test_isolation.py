"""Canary pair: the first test writes, the second proves the write did not survive the first test."""
from core.db import db
from parties.models import Bank
from tests.factories import BankFactory


def test_canary_writes_and_commits(app_ctx):
    BankFactory(code="CANARY", name="金丝雀银行")
    db.session.commit()  # even a commit must not escape the test's outer transaction
    assert db.session.query(Bank).filter_by(code="CANARY").count() == 1


def test_canary_write_is_gone(app_ctx):
    assert db.session.query(Bank).filter_by(code="CANARY").count() == 0


def test_request_commit_is_rolled_back_too(client, app):
    with app.app_context():
        assert db.session.query(Bank).filter_by(code="CANARY").count() == 0


def test_factories_build_a_consistent_overdue_loan(app_ctx):
    from tests.factories import LoanFactory, RatingFactory
    from parties.credit_code import is_valid_credit_code

    loan = LoanFactory(overdue=True)
    rating = RatingFactory(enterprise=loan.enterprise)
    db.session.flush()
    assert is_valid_credit_code(loan.enterprise.credit_code)
    assert loan.outstanding_principal == loan.principal and loan.status == "active"
    assert rating.valid_until.isoformat() == "2026-01-01"
