"""The monthly reconciliation (domain.md §7): the books against themselves, their sub-ledgers and the
banks' tapes, as of the month's last day. Run by the ``monthly-reconciliation`` job (1st, 02:00, the
previous month) or by hand through the same code path; signed off by an auditor.

What it checks - every figure summed in SQL, so the cost does not grow with Python loops over
loans or postings (``bench/reconciliation.py`` compares it with one hand-written aggregate):

1. **Journal entries**: every entry dated on or before the month end is posted, has at least two
   lines and sums to zero (one GROUP BY over the lines). **Trial balance**: each fund's accounts
   sum to zero as of the month end (every account's balance in one GROUP BY, as
   ``core.ledger.queries.balances`` computes them fund by fund).
2. **Control accounts against sub-ledgers** as of the month end: seed loans receivable = Σ
   outstanding seed loans (principal disbursed − repaid − written off); seed cash = contributions +
   repayments + recoveries − disbursements; seed paid-in = Σ contributions; pool cash =
   contributions − payments (pool shares of paid claims) + recoveries (pool parts); pool paid-in =
   Σ contributions. One statement for all sub-ledger sums.
3. **Bank tapes**: each bank's latest tape version for the month against the system as of the month
   end, in one statement (:func:`tape_comparison`): the tape rows joined to the bank's loans
   contracted by the month end on (bank, contract number) - both ways, each half a LEFT JOIN an
   index serves - with each loan's principal disbursed and repaid as of that day (running totals
   less what is dated later, as ``loans.queries`` computes them) and its days past due; only rows
   that differ leave the database. Differences: a tape row with no loan in the
   system (``missing_in_system``), a loan with principal outstanding that the tape lacks
   (``missing_on_tape``; a loan with nothing outstanding may be left off), a figure that differs
   (``amount``: disbursed, repaid, outstanding), ``dpd``, ``credit_code``. A bank with principal
   outstanding but no tape for the month is one ``missing_tape`` difference (its loans are not
   listed one by one).

The result is stored through ``core.reconciliation.save_result`` (replacing an earlier run of the
month, refused once signed off) with a **digest** of the month's inputs - count and highest id of
every record dated on or before the month end, and of the month's tapes. The digest is taken
*before* the checks read anything, so a record slipping in meanwhile makes the digest stale rather
than the figures; :func:`sign_off` compares it again under the closing lock and refuses to sign a
stale result (409: run it again).

Then the report is rendered as a PDF and stored as a document of kind ``reconciliation``
(``config.reconciliation_pdf``).
"""
from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import lazyload

from core.audit.trail import current_actor
from core.db import db
from core.errors import BusinessRuleError
from core.i18n import _
from core.ledger.models import JournalEntry, JournalLine, LedgerAccount
from core.money import Money, format_cny
from core.periods import ensure_period_open, is_over, parse_period, period_bounds
from core.reconciliation import SIGNED_OFF, ReconciliationResult, get_result, save_result
from core.reconciliation import sign_off as close_with_sign_off
from funds import accounts as seed_accounts
from funds.models import SeedContribution, SeedLoan, SeedRecovery, SeedRepayment
from loans.models import BankTape, BankTapeRow, Disbursement, Loan, Repayment
from loans.queries import dpd_sql
from parties.models import Bank, Enterprise
from risk import accounts as pool_accounts
from risk.models import ClaimStatus, RiskClaim, RiskContribution, RiskRecovery

__all__ = [
    "CHECKS",
    "DIFFERENCE_KINDS",
    "check_control_accounts",
    "check_journal",
    "check_tapes",
    "check_trial_balances",
    "account_label",
    "check_label",
    "describe",
    "field_label",
    "fund_label",
    "kind_label",
    "inputs_digest",
    "run_reconciliation",
    "sign_off",
    "tape_comparison",
]

ZERO = Decimal("0.00")
Progress = Callable[[int, int], None]
Difference = dict[str, Any]

CHECKS = ("journal", "trial_balance", "control_account", "tape")
DIFFERENCE_KINDS = (
    "unposted_entry",
    "too_few_lines",
    "unbalanced_entry",
    "trial_balance",
    "control_account",
    "missing_tape",
    "missing_in_system",
    "missing_on_tape",
    "amount",
    "dpd",
    "credit_code",
)
STEPS = 6  # digest, journal, trial balances, control accounts, tapes, store and render


def _money(value: Decimal) -> str:
    """Money in the stored differences: a string with two decimals, as the API writes it."""
    return f"{Decimal(value).quantize(Decimal('0.01')):f}"


def _zero() -> sa.ColumnElement[Decimal]:
    return sa.literal(ZERO, Money())


def _sum(column: Any, *conditions: sa.ColumnElement[bool]) -> sa.ScalarSelect:
    """``coalesce(sum(column), 0)`` over the rows meeting ``conditions``, as a scalar subquery (Money)."""
    return (
        sa.select(sa.type_coerce(sa.func.coalesce(sa.func.sum(column), _zero()), Money()))
        .where(*conditions)
        .scalar_subquery()
    )


# ------------------------------------------------------------------------------------------- digest


def inputs_digest(period: str) -> str:
    """SHA-256 of the count and highest id of every input of ``period``'s reconciliation (one query).

    Inputs: journal entries, loans, tranches, repayments and the seed fund's and the pool's records
    dated on or before the month end, and the month's tapes. Any record added with such a date
    changes it; records dated later do not (they cannot change the month's figures).
    """
    _start, end = period_bounds(period)

    def stats(model: Any, *conditions: sa.ColumnElement[bool]) -> list[sa.ScalarSelect]:
        return [
            sa.select(sa.func.count()).select_from(model).where(*conditions).scalar_subquery(),
            sa.select(sa.func.coalesce(sa.func.max(model.id), 0)).where(*conditions).scalar_subquery(),
        ]

    columns = [
        *stats(JournalEntry, JournalEntry.entry_date <= end),
        *stats(Loan, Loan.start_date <= end),
        *stats(Disbursement, Disbursement.disbursed_on <= end),
        *stats(Repayment, Repayment.paid_on <= end),
        *stats(BankTape, BankTape.period == period),
        *stats(SeedContribution, SeedContribution.received_on <= end),
        *stats(SeedLoan, SeedLoan.disbursed_on <= end),
        *stats(SeedLoan, SeedLoan.written_off_on <= end),
        *stats(SeedRepayment, SeedRepayment.paid_on <= end),
        *stats(SeedRecovery, SeedRecovery.recovered_on <= end),
        *stats(RiskContribution, RiskContribution.received_on <= end),
        *stats(RiskClaim, RiskClaim.paid_on <= end),
        *stats(RiskRecovery, RiskRecovery.recovered_on <= end),
    ]
    row = db.session.execute(sa.select(*columns)).one()
    text = f"{period}|" + ",".join(str(int(value or 0)) for value in row)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


# ------------------------------------------------------------------------------------------ 1. ledger


def _entry_difference(entry_id: int, fund: str, entry_date: date, posted: bool, count: int, amount: Decimal) -> Difference:
    kind = "unposted_entry" if not posted else ("too_few_lines" if count < 2 else "unbalanced_entry")
    return {
        "check": "journal",
        "kind": kind,
        "entry_id": entry_id,
        "fund": fund,
        "entry_date": entry_date.isoformat(),
        "lines": int(count),
        "total": _money(amount),
    }


def check_journal(end: date) -> tuple[list[Difference], dict[str, Any]]:
    """Entries dated on or before ``end`` that are unposted, or posted with fewer than two lines or
    lines that do not sum to zero (the ledger's triggers forbid all of it: finding one means the
    books were tampered with).

    Two statements: the unposted entries (few; their lines joined), and the lines grouped by entry
    - one pass over the lines without joining every entry, only the bad groups are joined back for
    their date. (A posted entry without any line cannot exist under the triggers and moves no money.)
    """
    total = sa.type_coerce(sa.func.coalesce(sa.func.sum(JournalLine.amount), 0), Money())
    unposted = (
        sa.select(JournalEntry.id, JournalEntry.fund, JournalEntry.entry_date, JournalEntry.posted,
                  sa.func.count(JournalLine.id), total)
        .select_from(JournalEntry)
        .outerjoin(JournalLine, JournalLine.entry_id == JournalEntry.id)
        .where(JournalEntry.entry_date <= end, JournalEntry.posted.is_not(True))
        .group_by(JournalEntry.id, JournalEntry.fund, JournalEntry.entry_date, JournalEntry.posted)
    )
    bad_groups = (
        sa.select(
            JournalLine.entry_id.label("entry_id"),
            sa.func.count().label("lines"),
            sa.type_coerce(sa.func.sum(JournalLine.amount), Money()).label("total"),
        )
        .group_by(JournalLine.entry_id)
        .having(sa.or_(sa.func.count() < 2, sa.func.sum(JournalLine.amount) != 0))
        .subquery("bad_entries")
    )
    unbalanced = (
        sa.select(JournalEntry.id, JournalEntry.fund, JournalEntry.entry_date, JournalEntry.posted,
                  bad_groups.c.lines, bad_groups.c.total)
        .join(bad_groups, bad_groups.c.entry_id == JournalEntry.id)
        .where(JournalEntry.entry_date <= end, JournalEntry.posted.is_(True))
    )
    rows = [*db.session.execute(unposted), *db.session.execute(unbalanced)]
    differences = [_entry_difference(*row) for row in sorted(rows, key=lambda row: row[0])]
    entries = db.session.scalar(sa.select(sa.func.count()).select_from(JournalEntry).where(JournalEntry.entry_date <= end))
    return differences, {"check": "journal", "entries": int(entries or 0), "ok": not differences}


def _account_balances(end: date) -> list[tuple[str, str, Decimal]]:
    """(fund, account code, signed balance) of every account from posted entries dated on or before
    ``end`` - ``core.ledger.queries.balances`` for all funds at once: one pass over the lines."""
    sums = (
        sa.select(JournalLine.account_id.label("account_id"), sa.func.sum(JournalLine.amount).label("total"))
        .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
        .where(JournalEntry.posted.is_(True), JournalEntry.entry_date <= end)
        .group_by(JournalLine.account_id)
        .subquery("account_sums")
    )
    query = (
        sa.select(
            LedgerAccount.fund,
            LedgerAccount.code,
            sa.type_coerce(sa.func.coalesce(sums.c.total, 0), Money()),
        )
        .outerjoin(sums, sums.c.account_id == LedgerAccount.id)
        .order_by(LedgerAccount.fund, LedgerAccount.code)
    )
    return [(fund, code, balance) for fund, code, balance in db.session.execute(query)]


def check_trial_balances(end: date) -> tuple[list[Difference], list[dict[str, Any]], dict[str, dict[str, Decimal]]]:
    """Each fund's trial balance as of ``end`` (debits = credits); also returns every account's balance."""
    balances: dict[str, dict[str, Decimal]] = {}
    for fund, code, balance in _account_balances(end):
        balances.setdefault(fund, {})[code] = balance
    differences: list[Difference] = []
    checks: list[dict[str, Any]] = []
    for fund, accounts in balances.items():
        debit = sum((b for b in accounts.values() if b > 0), ZERO)
        credit = -sum((b for b in accounts.values() if b < 0), ZERO)
        checks.append({"check": "trial_balance", "fund": fund, "debit": _money(debit), "credit": _money(credit),
                       "ok": debit == credit})
        if debit != credit:
            differences.append(
                {
                    "check": "trial_balance",
                    "kind": "trial_balance",
                    "fund": fund,
                    "debit": _money(debit),
                    "credit": _money(credit),
                    "difference": _money(debit - credit),
                }
            )
    return differences, checks, balances


# --------------------------------------------------------------------------------- 2. control accounts


# (account code, fund, sign) -> how to read the ledger balance as a positive figure; the sub-ledger
# figure comes from :func:`_subledger_sums` under the same key.
_CONTROLS: tuple[tuple[str, str, int], ...] = (
    (seed_accounts.LOANS_RECEIVABLE, seed_accounts.FUND, 1),
    (seed_accounts.CASH, seed_accounts.FUND, 1),
    (seed_accounts.CONTRIBUTIONS, seed_accounts.FUND, -1),
    (pool_accounts.CASH, pool_accounts.FUND, 1),
    ("risk.contributions", pool_accounts.FUND, -1),  # city + county
)


def _subledger_sums(end: date) -> dict[str, Decimal]:
    """Every sub-ledger figure as of ``end``, in one statement of scalar subqueries."""
    seed_disbursed = _sum(SeedLoan.principal, SeedLoan.disbursed_on <= end)
    seed_repaid = _sum(SeedRepayment.amount, SeedRepayment.paid_on <= end)
    seed_written_off = _sum(SeedLoan.written_off_principal, SeedLoan.written_off_on <= end)
    seed_recovered = _sum(SeedRecovery.amount, SeedRecovery.recovered_on <= end)
    seed_paid_in = _sum(SeedContribution.amount, SeedContribution.received_on <= end)
    pool_paid_in = _sum(RiskContribution.amount, RiskContribution.received_on <= end)
    pool_paid_out = _sum(RiskClaim.pool_share, RiskClaim.status == ClaimStatus.PAID.value, RiskClaim.paid_on <= end)
    pool_recovered = _sum(RiskRecovery.pool_part, RiskRecovery.recovered_on <= end)
    row = db.session.execute(
        sa.select(
            seed_disbursed, seed_repaid, seed_written_off, seed_recovered, seed_paid_in,
            pool_paid_in, pool_paid_out, pool_recovered,
        )
    ).one()
    disbursed, repaid, written_off, recovered, paid_in, pool_in, pool_out, pool_back = row
    return {
        seed_accounts.LOANS_RECEIVABLE: disbursed - repaid - written_off,
        seed_accounts.CASH: paid_in + repaid + recovered - disbursed,
        seed_accounts.CONTRIBUTIONS: paid_in,
        pool_accounts.CASH: pool_in - pool_out + pool_back,
        "risk.contributions": pool_in,
    }


def check_control_accounts(
    end: date, balances: dict[str, dict[str, Decimal]]
) -> tuple[list[Difference], list[dict[str, Any]]]:
    """Each control account's ledger balance as of ``end`` against its sub-ledger."""
    subledger = _subledger_sums(end)
    differences: list[Difference] = []
    checks: list[dict[str, Any]] = []
    for code, fund, sign in _CONTROLS:
        accounts = balances.get(fund, {})
        if code == "risk.contributions":
            raw = sum((accounts.get(c, ZERO) for c in pool_accounts.CONTRIBUTIONS.values()), ZERO)
        else:
            raw = accounts.get(code, ZERO)
        ledger = sign * raw
        expected = subledger[code]
        check = {
            "check": "control_account",
            "account": code,
            "ledger": _money(ledger),
            "subledger": _money(expected),
            "ok": ledger == expected,
        }
        checks.append(check)
        if ledger != expected:
            differences.append(
                {
                    "check": "control_account",
                    "kind": "control_account",
                    "account": code,
                    "ledger": _money(ledger),
                    "subledger": _money(expected),
                    "difference": _money(ledger - expected),
                }
            )
    return differences, checks


# ------------------------------------------------------------------------------------------- 3. tapes


def _latest_tapes(period: str) -> sa.Subquery:
    """Each bank's latest tape version for ``period``: (id, bank_id)."""
    latest = (
        sa.select(BankTape.bank_id, sa.func.max(BankTape.version).label("version"))
        .where(BankTape.period == period)
        .group_by(BankTape.bank_id)
        .subquery("latest_version")
    )
    return (
        sa.select(BankTape.id, BankTape.bank_id)
        .join(latest, sa.and_(latest.c.bank_id == BankTape.bank_id, latest.c.version == BankTape.version))
        .where(BankTape.period == period)
        .subquery("latest_tape")
    )


def _later_sum(model: Any, amount: Any, day_column: Any, end: date, name: str) -> sa.Subquery:
    """Per loan, what is dated after ``end`` (few rows: the records of the months since)."""
    return (
        sa.select(model.loan_id.label("loan_id"), sa.func.sum(amount).label("amount"))
        .where(day_column > end)
        .group_by(model.loan_id)
        .subquery(name)
    )


def _system_side(end: date, banks: sa.ColumnElement[bool]) -> sa.Subquery:
    """The loans (of the banks ``banks`` selects) contracted by ``end`` with principal disbursed and repaid and DPD as of ``end``.

    The figures are the loans' running totals less what is dated after ``end`` - the rule of
    ``loans.queries.as_of_sums`` - summed here in two grouped subqueries joined once instead of two
    correlated subqueries per loan, and DPD is ``loans.queries.dpd_sql`` over them.
    """
    later_disbursed = _later_sum(Disbursement, Disbursement.amount, Disbursement.disbursed_on, end, "later_disbursed")
    later_repaid = _later_sum(Repayment, Repayment.principal, Repayment.paid_on, end, "later_repaid")
    disbursed = sa.type_coerce(Loan.disbursed_total - sa.func.coalesce(later_disbursed.c.amount, 0), Money())
    repaid = sa.type_coerce(Loan.repaid_principal - sa.func.coalesce(later_repaid.c.amount, 0), Money())
    return (
        sa.select(
            Loan.id.label("loan_id"),
            Loan.bank_id.label("bank_id"),
            Loan.contract_no.label("contract_no"),
            Enterprise.credit_code.label("credit_code"),
            disbursed.label("disbursed"),
            repaid.label("repaid"),
            sa.type_coerce(disbursed - repaid, Money()).label("outstanding"),
            dpd_sql(end, disbursed, repaid).label("dpd"),
        )
        .join(Enterprise, Enterprise.id == Loan.enterprise_id)
        .outerjoin(later_disbursed, later_disbursed.c.loan_id == Loan.id)
        .outerjoin(later_repaid, later_repaid.c.loan_id == Loan.id)
        .where(Loan.start_date <= end, banks)
        .subquery("system")
    )


def tape_comparison(period: str) -> sa.CompoundSelect:
    """The one statement comparing the month's latest tapes with the system: only differing rows.

    Columns: bank, tape id, row number, contract, loan id, both sides' credit code, figures and DPD
    (NULL on the side that lacks the row). Two halves joined by UNION ALL, each a LEFT JOIN that an
    index serves on both backends (a FULL JOIN of two derived tables is a nested loop on SQLite):

    * every tape row LEFT JOIN its loan by (bank, contract number) - the loans' unique index - among
      the loans contracted by the month end, with the loan's figures as of that day: rows without a
      loan, and rows whose figures, DPD or credit code differ;
    * every loan with principal outstanding at the month end of a bank that sent a tape, LEFT JOIN
      the tape rows: the loans the tape lacks.
    """
    _start, end = period_bounds(period)
    tapes = _latest_tapes(period)

    def tape_rows(name: str) -> sa.Subquery:
        return (
            sa.select(
                tapes.c.bank_id.label("bank_id"),
                BankTapeRow.tape_id.label("tape_id"),
                BankTapeRow.row_number.label("row_number"),
                BankTapeRow.contract_no.label("contract_no"),
                BankTapeRow.credit_code.label("credit_code"),
                BankTapeRow.disbursed_total.label("disbursed"),
                BankTapeRow.repaid_principal.label("repaid"),
                BankTapeRow.outstanding_principal.label("outstanding"),
                BankTapeRow.days_past_due.label("dpd"),
            )
            .join(tapes, tapes.c.id == BankTapeRow.tape_id)
            .subquery(name)
        )

    tape = tape_rows("tape")
    later_disbursed = _later_sum(Disbursement, Disbursement.amount, Disbursement.disbursed_on, end, "later_disbursed")
    later_repaid = _later_sum(Repayment, Repayment.principal, Repayment.paid_on, end, "later_repaid")
    disbursed = sa.type_coerce(Loan.disbursed_total - sa.func.coalesce(later_disbursed.c.amount, 0), Money())
    repaid = sa.type_coerce(Loan.repaid_principal - sa.func.coalesce(later_repaid.c.amount, 0), Money())
    outstanding = sa.type_coerce(disbursed - repaid, Money())
    dpd = dpd_sql(end, disbursed, repaid)
    from_tape = (
        sa.select(
            tape.c.bank_id.label("bank_id"),
            tape.c.tape_id.label("tape_id"),
            tape.c.row_number.label("row_number"),
            tape.c.contract_no.label("contract_no"),
            Loan.id.label("loan_id"),
            tape.c.credit_code.label("tape_credit_code"),
            Enterprise.credit_code.label("system_credit_code"),
            tape.c.disbursed.label("tape_disbursed"),
            disbursed.label("system_disbursed"),
            tape.c.repaid.label("tape_repaid"),
            repaid.label("system_repaid"),
            tape.c.outstanding.label("tape_outstanding"),
            outstanding.label("system_outstanding"),
            tape.c.dpd.label("tape_dpd"),
            dpd.label("system_dpd"),
        )
        .select_from(tape)
        .outerjoin(
            Loan,
            sa.and_(Loan.bank_id == tape.c.bank_id, Loan.contract_no == tape.c.contract_no, Loan.start_date <= end),
        )
        .outerjoin(Enterprise, Enterprise.id == Loan.enterprise_id)
        .outerjoin(later_disbursed, later_disbursed.c.loan_id == Loan.id)
        .outerjoin(later_repaid, later_repaid.c.loan_id == Loan.id)
        .where(
            sa.or_(
                Loan.id.is_(None),
                tape.c.disbursed != disbursed,
                tape.c.repaid != repaid,
                tape.c.outstanding != outstanding,
                tape.c.dpd != dpd,
                tape.c.credit_code != Enterprise.credit_code,
            )
        )
    )
    system = _system_side(end, Loan.bank_id.in_(sa.select(tapes.c.bank_id)))
    listed = tape_rows("listed")
    off_tape = (
        sa.select(
            system.c.bank_id,
            sa.null().label("tape_id"),
            sa.null().label("row_number"),
            system.c.contract_no,
            system.c.loan_id,
            sa.null().label("tape_credit_code"),
            system.c.credit_code,
            sa.null().label("tape_disbursed"),
            system.c.disbursed,
            sa.null().label("tape_repaid"),
            system.c.repaid,
            sa.null().label("tape_outstanding"),
            system.c.outstanding,
            sa.null().label("tape_dpd"),
            system.c.dpd,
        )
        .select_from(system)
        .outerjoin(listed, sa.and_(listed.c.bank_id == system.c.bank_id, listed.c.contract_no == system.c.contract_no))
        .where(listed.c.tape_id.is_(None), system.c.outstanding > 0)
    )
    return sa.union_all(from_tape, off_tape).order_by(sa.literal_column("bank_id"), sa.literal_column("contract_no"))


def _missing_tapes(period: str, end: date) -> list[tuple[int, int, Decimal]]:
    """(bank id, loans, outstanding) of the banks with principal outstanding at ``end`` but no tape."""
    with_tape = sa.select(BankTape.bank_id).where(BankTape.period == period)
    system = _system_side(end, Loan.bank_id.not_in(with_tape))
    query = (
        sa.select(system.c.bank_id, sa.func.count(), sa.type_coerce(sa.func.sum(system.c.outstanding), Money()))
        .where(system.c.outstanding > 0)
        .group_by(system.c.bank_id)
        .order_by(system.c.bank_id)
    )
    return [(bank_id, int(count), total) for bank_id, count, total in db.session.execute(query)]


def _tape_differences(row: Any, banks: dict[int, str]) -> list[Difference]:
    common = {
        "check": "tape",
        "bank_id": row.bank_id,
        "bank_name": banks.get(row.bank_id, ""),
        "contract_no": row.contract_no,
        "loan_id": row.loan_id,
        "tape_id": row.tape_id,
        "row_number": row.row_number,
    }
    if row.loan_id is None:
        return [
            {
                **common,
                "kind": "missing_in_system",
                "tape": {
                    "credit_code": row.tape_credit_code,
                    "disbursed_total": _money(row.tape_disbursed),
                    "repaid_principal": _money(row.tape_repaid),
                    "outstanding_principal": _money(row.tape_outstanding),
                    "days_past_due": int(row.tape_dpd),
                },
            }
        ]
    if row.tape_id is None:
        return [
            {
                **common,
                "kind": "missing_on_tape",
                "system": {
                    "credit_code": row.system_credit_code,
                    "disbursed_total": _money(row.system_disbursed),
                    "repaid_principal": _money(row.system_repaid),
                    "outstanding_principal": _money(row.system_outstanding),
                    "days_past_due": int(row.system_dpd),
                },
            }
        ]
    found: list[Difference] = []
    pairs = (
        ("disbursed_total", row.system_disbursed, row.tape_disbursed),
        ("repaid_principal", row.system_repaid, row.tape_repaid),
        ("outstanding_principal", row.system_outstanding, row.tape_outstanding),
    )
    for field, system, tape in pairs:
        if system != tape:
            found.append(
                {
                    **common,
                    "kind": "amount",
                    "field": field,
                    "system": _money(system),
                    "tape": _money(tape),
                    "difference": _money(tape - system),
                }
            )
    if int(row.system_dpd) != int(row.tape_dpd):
        found.append(
            {
                **common,
                "kind": "dpd",
                "field": "days_past_due",
                "system": int(row.system_dpd),
                "tape": int(row.tape_dpd),
                "difference": int(row.tape_dpd) - int(row.system_dpd),
            }
        )
    if row.system_credit_code != row.tape_credit_code:
        found.append(
            {**common, "kind": "credit_code", "field": "credit_code",
             "system": row.system_credit_code, "tape": row.tape_credit_code}
        )
    return found


def check_tapes(period: str) -> tuple[list[Difference], list[dict[str, Any]]]:
    """Every bank's latest tape for ``period`` against the system as of the month end."""
    _start, end = period_bounds(period)
    banks = dict(db.session.execute(sa.select(Bank.id, Bank.name)).all())
    differences: list[Difference] = []
    for bank_id, loans, outstanding in _missing_tapes(period, end):
        differences.append(
            {
                "check": "tape",
                "kind": "missing_tape",
                "bank_id": bank_id,
                "bank_name": banks.get(bank_id, ""),
                "loans": loans,
                "outstanding": _money(outstanding),
            }
        )
    for row in db.session.execute(tape_comparison(period)):
        differences.extend(_tape_differences(row, banks))

    by_bank = Counter(d["bank_id"] for d in differences if d["kind"] != "missing_tape")
    tapes = _latest_tapes(period)
    checks: list[dict[str, Any]] = []
    for tape in db.session.scalars(
        sa.select(BankTape)
        .join(tapes, tapes.c.id == BankTape.id)
        .options(lazyload(BankTape.rows))  # a tape's rows are tens of thousands: counted, never loaded
        .order_by(BankTape.bank_id)
    ):
        checks.append(
            {
                "check": "tape",
                "bank_id": tape.bank_id,
                "bank_name": banks.get(tape.bank_id, ""),
                "tape_id": tape.id,
                "version": tape.version,
                "rows": tape.row_count,
                "filename": tape.filename,
                "sha256": tape.sha256,
                "differences": by_bank[tape.bank_id],
                "ok": not by_bank[tape.bank_id],
            }
        )
    return differences, checks


# ----------------------------------------------------------------------------------------- the run


def _ticker(progress: Progress | None, total: int) -> Callable[[], None]:
    done = 0
    if progress is not None:
        progress(0, total)

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    return tick


def run_reconciliation(period: str, progress: Progress | None = None) -> dict[str, Any]:
    """Reconcile ``period`` (``YYYY-MM``) as of its last day, store the result (replacing an earlier
    run) and its PDF report; returns ``{period, status, differences, document_id}``.

    409: the month is not over yet, it is closed, or its result is signed off. 422: not a month.
    Flushes, never commits (the job runner - or the request - commits).
    """
    period = parse_period(period)
    if not is_over(period):
        raise BusinessRuleError(_("%(period)s 尚未结束，不能对账", period=period))
    ensure_period_open(period)
    existing = get_result(period)
    if existing is not None and existing.status == SIGNED_OFF:
        raise BusinessRuleError(_("%(period)s 的对账结果已签核，不能重新对账", period=period))
    _start, end = period_bounds(period)
    tick = _ticker(progress, STEPS)

    digest = inputs_digest(period)  # first: anything recorded while we read makes it stale
    tick()
    differences, journal_check = check_journal(end)
    tick()
    tb_differences, tb_checks, balances = check_trial_balances(end)
    differences += tb_differences
    tick()
    control_differences, control_checks = check_control_accounts(end, balances)
    differences += control_differences
    tick()
    tape_differences, tape_checks = check_tapes(period)
    differences += tape_differences
    tick()

    result = save_result(
        period,
        differences=differences,
        checks=[journal_check, *tb_checks, *control_checks, *tape_checks],
        digest=digest,
        run_by=current_actor().username,
    )
    document_id = _render_report(result)
    tick()
    return {
        "period": period,
        "status": result.status,
        "differences": result.difference_count,
        "document_id": document_id,
    }


def _render_report(result: ReconciliationResult) -> int:
    """Render and store the report's PDF (the next version of the month's series); its document id."""
    from config.reconciliation_pdf import store_report  # it describes differences with this module

    return store_report(result)


def sign_off(period: str, *, by: str, comment: str | None) -> ReconciliationResult:
    """The auditor's sign-off of ``period`` (see ``core.reconciliation.sign_off``), checking that the
    month's inputs are still those the stored result was computed from; the report is issued again
    (a new version) with the sign-off on it."""
    result = close_with_sign_off(period, by=by, comment=comment, current_digest=inputs_digest)
    _render_report(result)
    return result


# ---------------------------------------------------------------------------------------- describe


def field_label(field: str) -> str:
    labels = {
        "disbursed_total": _("累计放款"),
        "repaid_principal": _("累计还本"),
        "outstanding_principal": _("贷款余额"),
        "days_past_due": _("逾期天数"),
        "credit_code": _("统一社会信用代码"),
    }
    return labels.get(field, field)


def fund_label(fund: str) -> str:
    labels = {seed_accounts.FUND: _("创业种子基金"), pool_accounts.FUND: _("风险补偿资金池")}
    return labels.get(fund, fund)


def account_label(code: str) -> str:
    """A control account's name with the rule it is checked by."""
    labels = {
        seed_accounts.LOANS_RECEIVABLE: _("种子基金借款应收本金（= 未偿种子借款本金合计）"),
        seed_accounts.CASH: _("种子基金银行存款（= 注资 + 还款 + 核销后收回 - 放款）"),
        seed_accounts.CONTRIBUTIONS: _("种子基金实收资本（= 注资合计）"),
        pool_accounts.CASH: _("风险补偿资金池银行存款（= 注资 - 代偿支付 + 追偿收回）"),
        "risk.contributions": _("风险补偿资金池实收资本，市级 + 县级（= 注资合计）"),
    }
    return labels.get(code, code)


def check_label(check: str) -> str:
    labels = {
        "journal": _("记账分录"),
        "trial_balance": _("试算平衡"),
        "control_account": _("总账与明细账"),
        "tape": _("银行台账"),
    }
    return labels.get(check, check)


def kind_label(kind: str) -> str:
    labels = {
        "unposted_entry": _("分录未过账"),
        "too_few_lines": _("分录行数不足"),
        "unbalanced_entry": _("分录借贷不平"),
        "trial_balance": _("试算不平衡"),
        "control_account": _("总账与明细账不符"),
        "missing_tape": _("未报送台账"),
        "missing_in_system": _("系统中无此贷款"),
        "missing_on_tape": _("台账中无此贷款"),
        "amount": _("金额不符"),
        "dpd": _("逾期天数不符"),
        "credit_code": _("信用代码不符"),
    }
    return labels.get(kind, kind)


def _cny(text: str) -> str:
    return format_cny(Decimal(text))


def describe(difference: Difference) -> str:
    """One sentence for a stored difference, in the reader's language."""
    kind = difference.get("kind")
    if kind in ("unposted_entry", "too_few_lines", "unbalanced_entry"):
        return _(
            "%(kind)s：分录 #%(id)s（基金 %(fund)s，日期 %(day)s，%(lines)s 行，合计 %(total)s）",
            kind=kind_label(kind),
            id=difference["entry_id"],
            fund=difference["fund"],
            day=difference["entry_date"],
            lines=difference["lines"],
            total=_cny(difference["total"]),
        )
    if kind == "trial_balance":
        return _(
            "基金 %(fund)s 试算不平衡：借方 %(debit)s，贷方 %(credit)s，差额 %(difference)s",
            fund=difference["fund"],
            debit=_cny(difference["debit"]),
            credit=_cny(difference["credit"]),
            difference=_cny(difference["difference"]),
        )
    if kind == "control_account":
        return _(
            "科目 %(account)s 总账余额 %(ledger)s，明细账合计 %(subledger)s，差额 %(difference)s",
            account=difference["account"],
            ledger=_cny(difference["ledger"]),
            subledger=_cny(difference["subledger"]),
            difference=_cny(difference["difference"]),
        )
    if kind == "missing_tape":
        return _(
            "%(bank)s 未报送本月台账（%(loans)s 笔贷款，余额合计 %(outstanding)s）",
            bank=difference["bank_name"],
            loans=difference["loans"],
            outstanding=_cny(difference["outstanding"]),
        )
    if kind == "missing_in_system":
        return _(
            "%(bank)s 台账第 %(row)s 行的合同 %(contract)s 在系统中不存在（月末前未登记）",
            bank=difference["bank_name"],
            row=difference["row_number"],
            contract=difference["contract_no"],
        )
    if kind == "missing_on_tape":
        return _(
            "%(bank)s 的合同 %(contract)s 月末余额 %(outstanding)s，但台账中没有该笔贷款",
            bank=difference["bank_name"],
            contract=difference["contract_no"],
            outstanding=_cny(difference["system"]["outstanding_principal"]),
        )
    if kind == "amount":
        return _(
            "%(bank)s 合同 %(contract)s 的%(field)s：系统 %(system)s，台账 %(tape)s，差额 %(difference)s",
            bank=difference["bank_name"],
            contract=difference["contract_no"],
            field=field_label(difference["field"]),
            system=_cny(difference["system"]),
            tape=_cny(difference["tape"]),
            difference=_cny(difference["difference"]),
        )
    if kind == "dpd":
        return _(
            "%(bank)s 合同 %(contract)s 的逾期天数：系统 %(system)s 天，台账 %(tape)s 天",
            bank=difference["bank_name"],
            contract=difference["contract_no"],
            system=difference["system"],
            tape=difference["tape"],
        )
    if kind == "credit_code":
        return _(
            "%(bank)s 合同 %(contract)s 的统一社会信用代码：系统 %(system)s，台账 %(tape)s",
            bank=difference["bank_name"],
            contract=difference["contract_no"],
            system=difference["system"],
            tape=difference["tape"],
        )
    return str(kind)
