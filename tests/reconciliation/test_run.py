"""The monthly reconciliation itself (domain.md §7): what it compares, what it stores, and that a
run before sign-off replaces the month's result instead of adding one."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from config.reconciliation import inputs_digest, run_reconciliation
from core.db import db
from core.errors import BusinessRuleError, ValidationFailed
from core.ledger.models import JournalEntry, JournalLine, LedgerAccount
from core.reconciliation import ReconciliationResult, get_result
from loans import services as loan_services
from loans.models import Loan
from risk.models import RiskContribution
from tests.factories import BankFactory, EnterpriseFactory, LoanFactory, credit_code_for
from tests.reconciliation.conftest import JUNE, run, upload_tape

D = Decimal


def by_kind(differences: list[dict]) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for difference in differences:
        found.setdefault(difference["kind"], []).append(difference)
    return found


# ------------------------------------------------------------------------------------------ balanced


def test_a_balanced_month_has_no_difference(app, balanced_june):
    steps = []
    outcome = run(app, progress=lambda done, total: steps.append((done, total)))
    assert outcome["period"] == JUNE and outcome["status"] == "balanced" and outcome["differences"] == 0
    assert steps[0] == (0, 6) and steps[-1] == (6, 6)  # the job page's progress figure
    with app.app_context():
        result = get_result(JUNE)
        assert (result.status, result.differences, result.difference_count, result.runs) == ("balanced", [], 0, 1)
        checks = {(c["check"], c.get("fund") or c.get("account") or c.get("bank_name")): c for c in result.checks}
        assert all(check["ok"] for check in result.checks)
        assert checks[("trial_balance", "seed")]["debit"] == "1000000.00"
        assert checks[("control_account", "seed.cash")] == {
            "check": "control_account", "account": "seed.cash", "ledger": "1000000.00", "subledger": "1000000.00",
            "ok": True,
        }
        assert checks[("control_account", "risk.cash")]["subledger"] == "400000.00"
        tape = checks[("tape", "星城银行")]
        assert (tape["rows"], tape["version"], tape["differences"]) == (2, 1, 0)
        assert len(result.digest) == 64 and result.digest == inputs_digest(JUNE)


def test_a_loan_with_nothing_outstanding_may_be_on_the_tape_with_zeros_or_off_it(app, balanced_june):
    # KV-3 was disbursed only in July: listing it with zeros is as right as leaving it off.
    with app.app_context():
        upload_tape(balanced_june["bank_id"], [
            ("KV-1", balanced_june["credit_code"], "600000.00", "100000.00", "500000.00", 0),
            ("KV-2", balanced_june["credit_code"], "500000.00", "0.00", "500000.00", 20),
            ("KV-3", balanced_june["credit_code"], "0.00", "0.00", "0.00", 0),
        ])
        db.session.commit()
    assert run(app)["status"] == "balanced"


# ------------------------------------------------------------------------------------------ differences


@pytest.fixture
def tape_month(app, today):
    """Loans made with LoanFactory (running totals as of June 30) and a tape that disagrees with them."""
    with app.app_context():
        bank = BankFactory(name="甲银行")
        silent = BankFactory(name="乙银行")  # principal outstanding, no tape uploaded
        enterprise = EnterpriseFactory()
        LoanFactory(bank=bank, enterprise=enterprise, contract_no="AMT-1", status="active",
                    disbursed_total=D("800000.00"), repaid_principal=D("100000.00"))
        LoanFactory(bank=bank, enterprise=enterprise, contract_no="DPD-1", status="active",
                    disbursed_total=D("300000.00"), start_date=date(2024, 12, 1), maturity_date=date(2025, 6, 10))
        LoanFactory(bank=bank, enterprise=enterprise, contract_no="NOT-ON-TAPE", status="active",
                    disbursed_total=D("250000.00"))
        LoanFactory(bank=bank, enterprise=enterprise, contract_no="LATER", start_date=date(2025, 7, 1),
                    maturity_date=date(2026, 6, 30), status="active", disbursed_total=D("50000.00"))
        LoanFactory(bank=silent, enterprise=enterprise, contract_no="SILENT-1", status="active",
                    disbursed_total=D("120000.00"))
        code = enterprise.credit_code
        upload_tape(bank.id, [
            ("AMT-1", code, "800000.00", "150000.00", "650000.00", 0),  # repaid and outstanding differ
            ("DPD-1", code, "300000.00", "0.00", "300000.00", 15),  # 20 days past due on June 30
            ("GHOST-1", credit_code_for(9999), "100000.00", "0.00", "100000.00", 0),  # no such loan
            ("LATER", code, "50000.00", "0.00", "50000.00", 0),  # contracted after the month end
        ])
        db.session.commit()
        return {"bank_id": bank.id, "silent_id": silent.id, "credit_code": code}


def test_every_kind_of_tape_difference_is_found(app, tape_month):
    outcome = run(app)
    assert outcome["status"] == "differences"
    with app.app_context():
        result = get_result(JUNE)
        kinds = by_kind(result.differences)
    assert set(kinds) == {"amount", "dpd", "missing_in_system", "missing_on_tape", "missing_tape"}
    amounts = {(d["contract_no"], d["field"]): (d["system"], d["tape"], d["difference"]) for d in kinds["amount"]}
    assert amounts == {
        ("AMT-1", "repaid_principal"): ("100000.00", "150000.00", "50000.00"),
        ("AMT-1", "outstanding_principal"): ("700000.00", "650000.00", "-50000.00"),
    }
    assert [(d["contract_no"], d["system"], d["tape"]) for d in kinds["dpd"]] == [("DPD-1", 20, 15)]
    assert sorted(d["contract_no"] for d in kinds["missing_in_system"]) == ["GHOST-1", "LATER"]
    ghost = next(d for d in kinds["missing_in_system"] if d["contract_no"] == "GHOST-1")
    assert ghost["row_number"] == 4 and ghost["tape"]["outstanding_principal"] == "100000.00"
    [missing] = kinds["missing_on_tape"]
    assert (missing["contract_no"], missing["bank_name"], missing["system"]["outstanding_principal"]) == (
        "NOT-ON-TAPE", "甲银行", "250000.00")
    [silent] = kinds["missing_tape"]
    assert (silent["bank_id"], silent["loans"], silent["outstanding"]) == (tape_month["silent_id"], 1, "120000.00")
    assert result.difference_count == 7


def test_a_credit_code_that_differs_is_a_difference(app, today):
    with app.app_context():
        loan = LoanFactory(status="active", disbursed_total=D("10000.00"))
        upload_tape(loan.bank_id, [(loan.contract_no, credit_code_for(4242), "10000.00", "0.00", "10000.00", 0)])
        db.session.commit()
    run(app)
    with app.app_context():
        [difference] = get_result(JUNE).differences
    assert difference["kind"] == "credit_code" and difference["tape"] == credit_code_for(4242)


def test_the_latest_tape_version_is_compared(app, tape_month):
    with app.app_context():
        code = tape_month["credit_code"]
        upload_tape(tape_month["bank_id"], [  # version 2, corrected
            ("AMT-1", code, "800000.00", "100000.00", "700000.00", 0),
            ("DPD-1", code, "300000.00", "0.00", "300000.00", 20),
            ("NOT-ON-TAPE", code, "250000.00", "0.00", "250000.00", 0),
        ])
        db.session.commit()
    run(app)
    with app.app_context():
        kinds = by_kind(get_result(JUNE).differences)
    assert set(kinds) == {"missing_tape"}  # only the bank that sent nothing is left


def test_a_sub_ledger_row_without_its_posting_is_a_control_account_difference(app, balanced_june):
    with app.app_context():
        db.session.add(RiskContribution(source="county", amount=D("5000.00"), received_on=date(2025, 6, 3)))
        db.session.commit()
    run(app)
    with app.app_context():
        kinds = by_kind(get_result(JUNE).differences)
    assert set(kinds) == {"control_account"}
    assert {(d["account"], d["ledger"], d["subledger"], d["difference"]) for d in kinds["control_account"]} == {
        ("risk.cash", "400000.00", "405000.00", "-5000.00"),
        ("risk.contributions", "400000.00", "405000.00", "-5000.00"),
    }


def test_an_entry_left_unposted_is_a_journal_difference(app, balanced_june):
    # The ledger's triggers let an entry be inserted unposted (posting is the step they check): one left
    # that way never counts in the balances, and the reconciliation names it.
    with app.app_context():
        account = db.session.scalar(sa.select(LedgerAccount).where(LedgerAccount.code == "seed.cash"))
        entry = JournalEntry(fund="seed", entry_date=date(2025, 6, 12), memo="遗留草稿", posted=False)
        entry.lines = [JournalLine(account=account, amount=D("10.00"))]
        db.session.add(entry)
        db.session.commit()
        entry_id = entry.id
    run(app)
    with app.app_context():
        [difference] = get_result(JUNE).differences
    assert difference == {"check": "journal", "kind": "unposted_entry", "entry_id": entry_id, "fund": "seed",
                          "entry_date": "2025-06-12", "lines": 1, "total": "10.00"}


# -------------------------------------------------------------------------------------------- re-runs


def test_running_again_before_sign_off_replaces_the_result(app, tape_month):
    assert run(app)["differences"] == 7
    with app.app_context():
        first = get_result(JUNE)
        first_id, first_digest = first.id, first.digest
        upload_tape(tape_month["bank_id"], [
            ("AMT-1", tape_month["credit_code"], "800000.00", "100000.00", "700000.00", 0),
        ])
        db.session.commit()
    second = run(app)
    with app.app_context():
        rows = db.session.scalars(sa.select(ReconciliationResult).where(ReconciliationResult.period == JUNE)).all()
        assert len(rows) == 1
        [result] = rows
        assert (result.id, result.runs, result.difference_count) == (first_id, 2, second["differences"])
        assert result.digest != first_digest  # the new tape version is an input of the month
        kinds = by_kind(result.differences)
        assert "amount" not in kinds and "dpd" not in kinds
        assert {d["contract_no"] for d in kinds["missing_on_tape"]} == {"DPD-1", "NOT-ON-TAPE"}


def test_a_month_not_over_yet_cannot_be_reconciled(app, today):
    with app.app_context():
        with pytest.raises(BusinessRuleError, match="尚未结束"):
            run_reconciliation("2025-07")
        with pytest.raises(ValidationFailed):
            run_reconciliation("2025-13")
        assert get_result("2025-07") is None


def test_an_empty_month_is_balanced(app, today):
    assert run(app, "2025-05")["status"] == "balanced"


def test_the_digest_ignores_records_dated_after_the_month(app, balanced_june):
    with app.app_context():
        before = inputs_digest(JUNE)
        loan = db.session.get(Loan, balanced_june["loan_ids"]["KV-1"])
        loan_services.record_disbursement(loan, amount=D("1000.00"), disbursed_on=date(2025, 7, 3), bank_ref="JULY-1",
                                          created_by="t")
        assert inputs_digest(JUNE) == before
        loan_services.record_disbursement(loan, amount=D("1000.00"), disbursed_on=date(2025, 6, 3), bank_ref="JUNE-1",
                                          created_by="t")
        assert inputs_digest(JUNE) != before
        db.session.rollback()


def test_posted_entries_that_do_not_balance_are_found(app, today):
    # Only possible past the ledger's triggers (here dropped inside the test's transaction, which the
    # harness rolls back): the reconciliation is the check that does not trust them.
    from config.reconciliation import check_journal, check_trial_balances
    from core.ledger.models import LEDGER_GUARD_DROP_DDL
    from core.ledger.services import ensure_account

    with app.app_context():
        for statement in LEDGER_GUARD_DROP_DDL[db.session.get_bind().dialect.name]:
            db.session.execute(sa.text(statement))
        cash = ensure_account("seed.cash", "种子基金银行存款", "seed", "asset")
        capital = ensure_account("seed.contributions", "种子基金实收资本", "seed", "equity")
        lonely = JournalEntry(fund="seed", entry_date=date(2025, 6, 3), memo="", posted=True,
                              lines=[JournalLine(account=cash, amount=D("10.00"))])
        lopsided = JournalEntry(fund="seed", entry_date=date(2025, 6, 4), memo="", posted=True,
                                lines=[JournalLine(account=cash, amount=D("10.00")),
                                       JournalLine(account=capital, amount=D("-5.00"))])
        later = JournalEntry(fund="seed", entry_date=date(2025, 7, 4), memo="", posted=True,
                             lines=[JournalLine(account=cash, amount=D("1.00"))])
        db.session.add_all([lonely, lopsided, later])
        db.session.flush()
        differences, check = check_journal(date(2025, 6, 30))
        assert [(d["kind"], d["entry_id"], d["lines"], d["total"]) for d in differences] == [
            ("too_few_lines", lonely.id, 1, "10.00"),
            ("unbalanced_entry", lopsided.id, 2, "5.00"),
        ]
        assert check == {"check": "journal", "entries": 2, "ok": False}
        tb_differences, _checks, balances = check_trial_balances(date(2025, 6, 30))
        assert balances["seed"] == {"seed.cash": D("20.00"), "seed.contributions": D("-5.00")}
        assert [(d["fund"], d["debit"], d["credit"], d["difference"]) for d in tb_differences] == [
            ("seed", "20.00", "5.00", "15.00")
        ]
        db.session.rollback()
