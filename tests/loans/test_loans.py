"""Knowledge-value loans: the services' rules (contract, tranches, repayments, lifecycle) and the
state as of a day (DPD, classification), without HTTP. The API and page tests reuse the helpers here."""
from __future__ import annotations

from dataclasses import astuple
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa

from core import clock
from core.db import db
from core.errors import BusinessRuleError, NotFound, ValidationFailed
from core.policy.models import DEFAULT_POLICY, Policy
from loans import queries, services
from loans.batch_format import DisbursementRow, RepaymentRow
from loans.dpd import Classification
from loans.models import Disbursement, Loan, Repayment
from tests.factories import BankFactory, EnterpriseFactory, LoanFactory, RatingFactory

D = Decimal
START = date(2025, 3, 1)
MATURITY = date(2026, 2, 28)


# ------------------------------------------------------------------------------------------- helpers


def freeze_on(day: date) -> None:
    """Make ``clock.today()`` answer ``day`` (noon in Shanghai)."""
    clock.freeze(datetime.combine(day, time(12, 0), tzinfo=clock.BUSINESS_TZ).astimezone(timezone.utc))


@pytest.fixture
def today():
    """Today is 2025-06-30 unless a test moves it (``freeze_on``); released afterwards."""
    freeze_on(date(2025, 6, 30))
    yield date(2025, 6, 30)
    clock.freeze(None)


def rated_enterprise(grade: str = "B", line: str = "4000000.00", rated_on: date = date(2025, 1, 2), **attrs):
    """A science-tech enterprise with one rating (valid one year from ``rated_on``)."""
    enterprise = EnterpriseFactory(**attrs)
    RatingFactory(enterprise=enterprise, grade=grade, credit_line=D(line), rated_on=rated_on)
    return enterprise


def new_loan(bank, enterprise, **overrides) -> Loan:
    values = dict(
        bank_id=bank.id,
        enterprise_id=enterprise.id,
        contract_no="HT-001",
        principal=D("1000000.00"),
        annual_rate=D("0.0345"),
        start_date=START,
        maturity_date=MATURITY,
        purpose="研发投入",
        created_by="liaison",
    )
    values.update(overrides)
    return services.create_loan(**values)


def disburse(loan, amount: str, on: date, ref: str):
    return services.record_disbursement(loan, amount=D(amount), disbursed_on=on, bank_ref=ref, created_by="liaison")


def repay(loan, principal: str, on: date, ref: str, interest: str = "0.00"):
    return services.record_repayment(
        loan, principal=D(principal), interest=D(interest), paid_on=on, bank_ref=ref, created_by="liaison"
    )


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


# ----------------------------------------------------------------------------------------- contracts


def test_create_loan_records_a_contract_with_the_policy_of_its_date(app_ctx, today):
    bank, enterprise = BankFactory(), rated_enterprise()
    loan = new_loan(bank, enterprise, contract_no="  HT-001 ", purpose=" 研发 ")
    assert loan.id is not None
    assert (loan.status, loan.contract_no, loan.purpose) == ("contracted", "HT-001", "研发")
    assert (loan.disbursed_total, loan.repaid_principal, loan.outstanding_principal) == (D("0.00"),) * 3
    assert loan.annual_rate == D("0.0345")
    assert loan.policy_id == db.session.scalar(sa.select(Policy.id).where(Policy.effective_from == date(2021, 1, 1)))


def test_a_later_policy_version_does_not_govern_an_earlier_contract(app_ctx, today):
    later = Policy(**{**DEFAULT_POLICY, "effective_from": date(2025, 4, 1), "max_term_months": 6})
    db.session.add(later)
    db.session.flush()
    bank, enterprise = BankFactory(), rated_enterprise()
    early = new_loan(bank, enterprise, contract_no="EARLY", principal=D("100000.00"))
    assert early.policy_id != later.id  # 12 months allowed on 2025-03-01
    with pytest.raises(BusinessRuleError, match="6 个月"):
        new_loan(bank, enterprise, contract_no="LATE", start_date=date(2025, 4, 1), maturity_date=date(2025, 12, 1))
    ok = new_loan(bank, enterprise, contract_no="LATE", principal=D("100000.00"), start_date=date(2025, 4, 1),
                  maturity_date=date(2025, 10, 1))
    assert ok.policy_id == later.id


def test_not_a_science_tech_enterprise_is_refused(app_ctx, today):
    bank, enterprise = BankFactory(), rated_enterprise(is_science_tech=False)
    with pytest.raises(BusinessRuleError, match="科技型企业"):
        new_loan(bank, enterprise)
    assert count(Loan) == 0


def test_bad_credit_and_dishonest_flags_do_not_refuse_a_bank_loan(app_ctx, today):
    bank, enterprise = BankFactory(), rated_enterprise(bad_credit=True, dishonest=True)
    assert new_loan(bank, enterprise).status == "contracted"


@pytest.mark.parametrize(
    ("rated_on", "start", "message"),
    [
        (None, START, "没有有效的信用评级"),  # never rated
        (date(2025, 3, 2), START, "没有有效的信用评级"),  # rated only after the contract date
        (date(2024, 1, 2), START, "已过期"),  # valid until 2025-01-01
        (date(2025, 1, 2), date(2026, 1, 2), "已过期"),  # valid until 2026-01-01, contract the day after
    ],
)
def test_no_rating_valid_on_the_contract_date_is_refused(app_ctx, rated_on, start, message):
    freeze_on(date(2026, 6, 30))
    try:
        bank = BankFactory()
        enterprise = rated_enterprise(rated_on=rated_on) if rated_on else EnterpriseFactory()
        with pytest.raises(BusinessRuleError, match=message):
            new_loan(bank, enterprise, start_date=start, maturity_date=start + timedelta(days=180))
        assert count(Loan) == 0
    finally:
        clock.freeze(None)


def test_rating_valid_on_its_last_day(app_ctx, today):
    bank, enterprise = BankFactory(), rated_enterprise(rated_on=date(2024, 3, 1))  # valid until 2025-02-28
    new_loan(bank, enterprise, start_date=date(2025, 2, 28), maturity_date=date(2025, 8, 28))


def test_credit_line_counts_the_other_loans_exposure(app_ctx, today):
    bank, other_bank = BankFactory(), BankFactory()
    enterprise = rated_enterprise(line="4000000.00")
    new_loan(other_bank, enterprise, contract_no="A", principal=D("3000000.00"))
    with pytest.raises(BusinessRuleError, match="超出授信额度") as refused:
        new_loan(bank, enterprise, contract_no="B", principal=D("1000000.01"))
    assert "principal" in refused.value.errors
    assert count(Loan) == 1
    exactly = new_loan(bank, enterprise, contract_no="B", principal=D("1000000.00"))  # up to the line exactly
    assert exactly.principal == D("1000000.00")


def test_repaid_principal_frees_the_line_and_repaid_loans_no_longer_count(app_ctx, today):
    bank, enterprise = BankFactory(), rated_enterprise(line="800000.00", grade="E")
    first = new_loan(bank, enterprise, contract_no="A", principal=D("800000.00"))
    with pytest.raises(BusinessRuleError):
        new_loan(bank, enterprise, contract_no="B", principal=D("100000.00"))
    disburse(first, "800000.00", date(2025, 3, 2), "D1")
    repay(first, "300000.00", date(2025, 4, 1), "R1")
    second = new_loan(bank, enterprise, contract_no="B", principal=D("300000.00"))
    assert second.status == "contracted"


def test_matured_loans_with_nothing_outstanding_are_settled_before_the_line_check(app_ctx):
    freeze_on(date(2025, 6, 30))
    try:
        bank, enterprise = BankFactory(), rated_enterprise(line="800000.00", grade="E")
        drawn = new_loan(bank, enterprise, contract_no="A", principal=D("500000.00"), maturity_date=date(2025, 9, 1))
        disburse(drawn, "200000.00", date(2025, 3, 2), "D1")
        repay(drawn, "200000.00", date(2025, 5, 1), "R1")  # before maturity: more could still be drawn
        unused = new_loan(bank, enterprise, contract_no="B", principal=D("300000.00"), maturity_date=date(2025, 9, 1))
        assert (drawn.status, unused.status) == ("active", "contracted")
        freeze_on(date(2025, 9, 2))
        third = new_loan(bank, enterprise, contract_no="C", principal=D("800000.00"), start_date=date(2025, 9, 2),
                         maturity_date=date(2026, 3, 1))
        assert (drawn.status, unused.status, third.status) == ("repaid", "repaid", "contracted")
    finally:
        clock.freeze(None)


@pytest.mark.parametrize(
    ("maturity", "allowed"),
    [
        (date(2026, 3, 1), True),  # exactly 12 months
        (date(2026, 3, 2), False),
        (date(2027, 3, 1), False),
    ],
)
def test_term_at_most_twelve_months(app_ctx, today, maturity, allowed):
    bank, enterprise = BankFactory(), rated_enterprise()
    if allowed:
        assert new_loan(bank, enterprise, maturity_date=maturity).maturity_date == maturity
    else:
        with pytest.raises(BusinessRuleError, match="12 个月"):
            new_loan(bank, enterprise, maturity_date=maturity)
        assert count(Loan) == 0


def test_add_months_clamps_to_the_month_end():
    assert services.add_months(date(2025, 1, 31), 1) == date(2025, 2, 28)
    assert services.add_months(date(2024, 2, 29), 12) == date(2025, 2, 28)
    assert services.add_months(date(2025, 3, 1), 12) == date(2026, 3, 1)
    assert services.add_months(date(2025, 11, 30), 3) == date(2026, 2, 28)


def test_duplicate_contract_number_per_bank(app_ctx, today):
    bank, other_bank = BankFactory(), BankFactory()
    enterprise = rated_enterprise()
    new_loan(bank, enterprise, contract_no="HT-1", principal=D("100000.00"))
    with pytest.raises(BusinessRuleError, match="合同编号") as refused:
        new_loan(bank, enterprise, contract_no=" HT-1", principal=D("100000.00"))
    assert "contract_no" in refused.value.errors
    new_loan(other_bank, enterprise, contract_no="HT-1", principal=D("100000.00"))  # another bank's numbering


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"maturity_date": START}, "maturity_date"),
        ({"maturity_date": START - timedelta(days=1)}, "maturity_date"),
        ({"principal": D("0.00")}, "principal"),
        ({"principal": D("10.001")}, "principal"),
        ({"principal": 1.5}, "principal"),
        ({"annual_rate": D("1")}, "annual_rate"),
        ({"annual_rate": D("-0.01")}, "annual_rate"),
        ({"annual_rate": D("0.0000001")}, "annual_rate"),
        ({"annual_rate": 0.0345}, "annual_rate"),
        ({"contract_no": "  "}, "contract_no"),
        ({"contract_no": "X" * 65}, "contract_no"),
    ],
)
def test_malformed_fields_are_422(app_ctx, today, overrides, field):
    bank, enterprise = BankFactory(), rated_enterprise()
    with pytest.raises(ValidationFailed) as refused:
        new_loan(bank, enterprise, **overrides)
    assert field in refused.value.errors
    assert count(Loan) == 0


def test_rate_keeps_six_decimals_exactly(app_ctx, today):
    bank, enterprise = BankFactory(), rated_enterprise()
    loan = new_loan(bank, enterprise, annual_rate=D("0.034567"))
    db.session.expire(loan)
    assert loan.annual_rate == D("0.034567")
    assert services.check_annual_rate(D("0")) == 0


def test_unknown_bank_or_enterprise(app_ctx, today):
    bank, enterprise = BankFactory(), rated_enterprise()
    with pytest.raises(NotFound):
        new_loan(bank, enterprise, bank_id=bank.id + 1000)
    with pytest.raises(ValidationFailed) as refused:
        new_loan(bank, enterprise, enterprise_id=enterprise.id + 1000)
    assert "enterprise_id" in refused.value.errors


def test_deactivated_bank_records_no_new_loan(app_ctx, today):
    bank, enterprise = BankFactory(is_active=False), rated_enterprise()
    with pytest.raises(BusinessRuleError, match="已停用"):
        new_loan(bank, enterprise)


# ------------------------------------------------------------------------------------- disbursements


def test_tranches_up_to_the_principal_and_not_beyond(app_ctx, today):
    bank, enterprise = BankFactory(), rated_enterprise()
    loan = new_loan(bank, enterprise)
    first, created = disburse(loan, "400000.00", date(2025, 3, 1), "D1")
    assert created and loan.status == "active" and loan.disbursed_total == D("400000.00")
    disburse(loan, "600000.00", date(2025, 4, 1), "D2")
    assert loan.disbursed_total == loan.principal == D("1000000.00")
    with pytest.raises(BusinessRuleError, match="超出合同本金") as refused:
        disburse(loan, "0.01", date(2025, 4, 2), "D3")
    assert "amount" in refused.value.errors
    assert count(Disbursement) == 2 and loan.disbursed_total == D("1000000.00")
    assert [d.bank_ref for d in loan.disbursements] == ["D1", "D2"]


def test_a_tranche_beyond_the_rest_of_the_principal_is_refused_whole(app_ctx, today):
    bank, enterprise = BankFactory(), rated_enterprise()
    loan = new_loan(bank, enterprise)
    disburse(loan, "700000.00", date(2025, 3, 1), "D1")
    with pytest.raises(BusinessRuleError, match="最多还可放款 ¥300,000.00"):
        disburse(loan, "300000.01", date(2025, 3, 2), "D2")
    assert loan.disbursed_total == D("700000.00")


def test_idempotent_replay_returns_the_first_record(app_ctx, today):
    bank, enterprise = BankFactory(), rated_enterprise()
    loan = new_loan(bank, enterprise)
    first, created = disburse(loan, "400000.00", date(2025, 3, 1), "D1")
    again, created_again = disburse(loan, "400000.00", date(2025, 3, 1), "D1")
    assert created and not created_again and again.id == first.id
    assert count(Disbursement) == 1 and loan.disbursed_total == D("400000.00")
    for amount, day in [("400000.01", date(2025, 3, 1)), ("400000.00", date(2025, 3, 2))]:
        with pytest.raises(BusinessRuleError, match="D1") as refused:
            disburse(loan, amount, day, "D1")
        assert "bank_ref" in refused.value.errors
    # the same reference on another loan of the same bank is another content too
    other = new_loan(bank, enterprise, contract_no="HT-002", principal=D("100000.00"))
    with pytest.raises(BusinessRuleError):
        disburse(other, "400000.00", date(2025, 3, 1), "D1")
    assert count(Disbursement) == 1


def test_references_are_per_bank(app_ctx, today):
    enterprise = rated_enterprise()
    a = new_loan(BankFactory(), enterprise, contract_no="A", principal=D("100000.00"))
    b = new_loan(BankFactory(), enterprise, contract_no="B", principal=D("100000.00"))
    assert disburse(a, "1000.00", date(2025, 3, 1), "SAME")[1]
    assert disburse(b, "1000.00", date(2025, 3, 1), "SAME")[1]


@pytest.mark.parametrize(
    ("day", "error", "field"),
    [
        (date(2025, 2, 28), BusinessRuleError, "disbursed_on"),  # before the start
        (date(2025, 7, 1), ValidationFailed, "disbursed_on"),  # in the future (today is 2025-06-30)
    ],
)
def test_tranche_dates(app_ctx, today, day, error, field):
    bank, enterprise = BankFactory(), rated_enterprise()
    loan = new_loan(bank, enterprise)
    with pytest.raises(error) as refused:
        disburse(loan, "1000.00", day, "D1")
    assert field in refused.value.errors
    assert loan.status == "contracted"


def test_tranche_after_maturity_is_refused(app_ctx):
    freeze_on(date(2026, 6, 30))
    try:
        bank, enterprise = BankFactory(), rated_enterprise()
        loan = new_loan(bank, enterprise)
        assert disburse(loan, "1000.00", MATURITY, "ON-MATURITY")[1]  # the maturity date itself is within
        with pytest.raises(BusinessRuleError, match="合同期限"):
            disburse(loan, "1000.00", MATURITY + timedelta(days=1), "AFTER")
    finally:
        clock.freeze(None)


@pytest.mark.parametrize(("amount", "ref"), [("0.00", "D1"), ("-1.00", "D1"), ("1.001", "D1"), ("1.00", " ")])
def test_malformed_tranche_is_422(app_ctx, today, amount, ref):
    bank, enterprise = BankFactory(), rated_enterprise()
    loan = new_loan(bank, enterprise)
    with pytest.raises(ValidationFailed):
        disburse(loan, amount, date(2025, 3, 1), ref)


# ---------------------------------------------------------------------------------- repayments, lifecycle


def test_lifecycle_contracted_active_repaid(app_ctx, today):
    bank, enterprise = BankFactory(), rated_enterprise()
    loan = new_loan(bank, enterprise)
    with pytest.raises(BusinessRuleError, match="尚未放款"):
        repay(loan, "1.00", date(2025, 3, 2), "R0")
    disburse(loan, "600000.00", date(2025, 3, 1), "D1")
    with pytest.raises(BusinessRuleError, match="早于首笔放款"):
        repay(loan, "1.00", date(2025, 2, 28), "R0")
    repayment, created = repay(loan, "100000.00", date(2025, 4, 1), "R1", interest="2000.00")
    assert created and (repayment.principal, repayment.interest) == (D("100000.00"), D("2000.00"))
    with pytest.raises(BusinessRuleError, match="超出"):
        repay(loan, "500000.01", date(2025, 4, 2), "R2")
    disburse(loan, "400000.00", date(2025, 5, 1), "D2")
    repay(loan, "0.00", date(2025, 5, 31), "INT", interest="1500.00")  # interest only
    assert loan.status == "active"
    repay(loan, "900000.00", date(2025, 6, 1), "R3")
    assert loan.status == "repaid" and loan.repaid_principal == loan.principal and loan.outstanding_principal == 0
    with pytest.raises(BusinessRuleError, match="已结清"):
        disburse(loan, "1.00", date(2025, 6, 2), "D3")
    with pytest.raises(BusinessRuleError, match="已结清"):
        repay(loan, "0.00", date(2025, 6, 2), "R4", interest="1.00")
    # a replay of an earlier event is still answered, even on a repaid loan
    assert repay(loan, "900000.00", date(2025, 6, 1), "R3")[1] is False
    assert disburse(loan, "400000.00", date(2025, 5, 1), "D2")[1] is False


def test_partly_drawn_loan_is_repaid_once_past_maturity(app_ctx):
    freeze_on(date(2025, 6, 30))
    try:
        bank, enterprise = BankFactory(), rated_enterprise()
        loan = new_loan(bank, enterprise, maturity_date=date(2025, 6, 1))
        disburse(loan, "300000.00", date(2025, 3, 1), "D1")
        repay(loan, "300000.00", date(2025, 6, 15), "R1")  # everything drawn, repaid after maturity
        assert loan.status == "repaid"
    finally:
        clock.freeze(None)


def test_partly_drawn_loan_repaid_before_maturity_stays_active(app_ctx, today):
    bank, enterprise = BankFactory(), rated_enterprise()
    loan = new_loan(bank, enterprise)
    disburse(loan, "300000.00", date(2025, 3, 1), "D1")
    repay(loan, "300000.00", date(2025, 6, 1), "R1")
    assert loan.status == "active"  # more can be drawn until maturity
    disburse(loan, "100000.00", date(2025, 6, 2), "D2")
    assert loan.disbursed_total == D("400000.00")


def test_repayment_idempotency(app_ctx, today):
    bank, enterprise = BankFactory(), rated_enterprise()
    loan = new_loan(bank, enterprise)
    disburse(loan, "600000.00", date(2025, 3, 1), "D1")
    first, _ = repay(loan, "1000.00", date(2025, 4, 1), "R1", interest="10.00")
    again, created = repay(loan, "1000.00", date(2025, 4, 1), "R1", interest="10.00")
    assert not created and again.id == first.id and loan.repaid_principal == D("1000.00")
    with pytest.raises(BusinessRuleError, match="R1"):
        repay(loan, "1000.00", date(2025, 4, 1), "R1", interest="10.01")
    # a disbursement and a repayment are different kinds of event: the same reference is allowed
    assert disburse(loan, "1.00", date(2025, 4, 1), "R1")[1]


@pytest.mark.parametrize(("principal", "interest"), [("0.00", "0.00"), ("-1.00", "0.00"), ("1.00", "-1.00")])
def test_malformed_repayment_is_422(app_ctx, today, principal, interest):
    bank, enterprise = BankFactory(), rated_enterprise()
    loan = new_loan(bank, enterprise)
    disburse(loan, "600000.00", date(2025, 3, 1), "D1")
    with pytest.raises(ValidationFailed):
        repay(loan, principal, date(2025, 4, 1), "R1", interest=interest)


def test_repayment_never_exceeds_what_was_outstanding_on_its_date(app_ctx, today):
    bank, enterprise = BankFactory(), rated_enterprise()
    loan = new_loan(bank, enterprise)
    disburse(loan, "500000.00", date(2025, 3, 1), "D1")
    disburse(loan, "500000.00", date(2025, 5, 1), "D2")
    with pytest.raises(BusinessRuleError, match="2025-04-01"):
        repay(loan, "500000.01", date(2025, 4, 1), "EARLY")  # only 500,000.00 drawn by then
    repay(loan, "400000.00", date(2025, 4, 20), "R1")
    # entered after the fact, dated before R1: 500,000 drawn on 04-01, but R1 leaves only 100,000 room
    with pytest.raises(BusinessRuleError):
        repay(loan, "100000.01", date(2025, 4, 1), "R0")
    repay(loan, "100000.00", date(2025, 4, 1), "R0")
    assert loan.repaid_principal == D("500000.00")


def test_the_service_reads_the_current_row_not_a_stale_object(app_ctx, today):
    bank, enterprise = BankFactory(), rated_enterprise()
    loan = new_loan(bank, enterprise)
    db.session.execute(sa.update(Loan).where(Loan.id == loan.id).values(disbursed_total=D("999999.00"), status="active"))
    with pytest.raises(BusinessRuleError, match="最多还可放款 ¥1.00"):
        disburse(loan, "2.00", date(2025, 3, 1), "D1")


# ------------------------------------------------------------------------------ DPD and classification


@pytest.fixture
def overdue_loan(app_ctx):
    """1,000,000.00 disbursed on 2025-03-01, 400,000.00 repaid on 2025-12-01, maturity 2026-02-28."""
    freeze_on(date(2027, 6, 30))
    bank, enterprise = BankFactory(), rated_enterprise()
    loan = new_loan(bank, enterprise)
    disburse(loan, "1000000.00", date(2025, 3, 1), "D1")
    repay(loan, "400000.00", date(2025, 12, 1), "R1")
    yield loan
    clock.freeze(None)


BOUNDARIES = [
    (date(2025, 2, 1), 0, "normal", "contracted"),
    (date(2026, 2, 28), 0, "normal", "active"),  # due today: not yet overdue
    (date(2026, 3, 1), 1, "special_mention", "overdue"),
    (MATURITY + timedelta(days=90), 90, "special_mention", "overdue"),
    (MATURITY + timedelta(days=91), 91, "substandard", "overdue"),
    (MATURITY + timedelta(days=270), 270, "substandard", "overdue"),
    (MATURITY + timedelta(days=271), 271, "doubtful", "overdue"),
    (MATURITY + timedelta(days=360), 360, "doubtful", "overdue"),
    (MATURITY + timedelta(days=361), 361, "loss", "overdue"),
]


@pytest.mark.parametrize(("as_of", "dpd", "classification", "status"), BOUNDARIES)
def test_dpd_and_classification_at_the_tier_boundaries(overdue_loan, as_of, dpd, classification, status):
    state = queries.loan_state(overdue_loan, as_of)
    assert (state.days_past_due, state.classification.value, state.status) == (dpd, classification, status)
    # the list computes the same in SQL, and its filters select exactly this loan
    (row,), total = queries.all_loans(as_of=as_of)
    assert row[1] == state
    assert queries.all_loans(as_of=as_of, classification=classification)[1] == 1
    assert queries.all_loans(as_of=as_of, status=status)[1] == 1
    others = [c.value for c in Classification if c.value != classification]
    assert all(queries.all_loans(as_of=as_of, classification=c)[1] == 0 for c in others)


def test_state_as_of_counts_only_what_happened_by_then(overdue_loan):
    before_repayment = queries.loan_state(overdue_loan, date(2025, 11, 30))
    assert before_repayment.outstanding_principal == D("1000000.00")
    after = queries.loan_state(overdue_loan, date(2026, 3, 1))
    assert (after.disbursed_total, after.repaid_principal, after.outstanding_principal) == (
        D("1000000.00"),
        D("400000.00"),
        D("600000.00"),
    )
    assert after.overdue_principal == D("600000.00") and after.is_overdue and not after.is_non_performing
    # repaid in full 100 days after maturity: overdue until then, repaid from that day on
    repay(overdue_loan, "600000.00", MATURITY + timedelta(days=100), "R2")
    assert overdue_loan.status == "repaid"
    assert queries.loan_state(overdue_loan, MATURITY + timedelta(days=99)).days_past_due == 99
    assert queries.loan_state(overdue_loan, MATURITY + timedelta(days=99)).is_non_performing
    settled = queries.loan_state(overdue_loan, MATURITY + timedelta(days=100))
    assert (settled.days_past_due, settled.classification, settled.status) == (0, Classification.NORMAL, "repaid")


def test_classification_uses_the_policy_in_force_on_the_day(overdue_loan):
    # From 2026-05-01 (62 days past due) substandard starts at 61 days instead of 91.
    db.session.add(Policy(**{**DEFAULT_POLICY, "effective_from": date(2026, 5, 1), "substandard_from_dpd": 61}))
    db.session.flush()
    before, after = date(2026, 4, 30), date(2026, 5, 1)
    assert queries.loan_state(overdue_loan, before).days_past_due == 61
    assert queries.loan_state(overdue_loan, before).classification is Classification.SPECIAL_MENTION
    assert queries.loan_state(overdue_loan, after).classification is Classification.SUBSTANDARD
    assert queries.all_loans(as_of=before, classification="special_mention")[1] == 1
    assert queries.all_loans(as_of=after, classification="substandard")[1] == 1
    assert queries.all_loans(as_of=after, classification="special_mention")[1] == 0


def test_list_filters_and_scope_free_lookups(app_ctx, today):
    bank, other = BankFactory(), BankFactory()
    enterprise = rated_enterprise(name="星火软件有限公司")
    a = new_loan(bank, enterprise, contract_no="HT-A", principal=D("100000.00"))
    new_loan(other, enterprise, contract_no="HT-B", principal=D("100000.00"))
    disburse(a, "1000.00", date(2025, 3, 1), "D1")
    assert queries.all_loans(bank_id=bank.id)[1] == 1
    assert queries.all_loans(enterprise_id=enterprise.id)[1] == 2
    assert queries.all_loans(status="active")[0][0][0].id == a.id
    assert queries.all_loans(status="contracted")[0][0][0].contract_no == "HT-B"
    assert queries.all_loans(search="星火")[1] == 2
    assert queries.all_loans(search="ht-a")[1] == 1
    assert queries.all_loans(search="%")[1] == 0
    assert queries.find_loan_by_contract(bank.id, "HT-A").id == a.id
    assert queries.find_loan_by_contract(bank.id, "HT-B") is None
    states = queries.loan_states([a], date(2025, 3, 1))
    assert states[a.id].disbursed_total == D("1000.00")


def test_factory_overdue_trait_reads_as_overdue(app_ctx):
    """The factory's trait sets the running totals without tranche records: the state still follows them."""
    loan = LoanFactory(overdue=True)
    state = queries.loan_state(loan, date(2026, 3, 1))
    assert (state.outstanding_principal, state.days_past_due, state.status) == (D("1000000.00"), 1, "overdue")
    assert queries.all_loans(as_of=date(2026, 3, 1), classification="special_mention")[1] == 1


def test_repayment_on_a_loan_whose_totals_have_no_tranche_records(app_ctx):
    """Totals set without history (the factory's trait, data migrated in bulk) still bound the repayment."""
    freeze_on(date(2026, 6, 30))
    try:
        loan = LoanFactory(overdue=True)
        with pytest.raises(BusinessRuleError):
            repay(loan, "1000000.01", date(2026, 3, 1), "R0")
        repay(loan, "1000000.00", date(2026, 3, 1), "R1")
        assert loan.status == "repaid"
    finally:
        clock.freeze(None)


def test_dpd_history_at_each_month_end(overdue_loan):
    history = queries.dpd_history(overdue_loan, date(2026, 4, 15))
    assert [s.as_of for s in history[:3]] == [date(2026, 4, 15), date(2026, 3, 31), date(2026, 2, 28)]
    assert [s.days_past_due for s in history[:3]] == [46, 31, 0]
    assert history[-1].as_of == date(2025, 3, 31) and len(history) == 14
    assert history[-1].outstanding_principal == D("1000000.00")
    assert history[2].outstanding_principal == D("600000.00")  # after the repayment of 2025-12-01
    assert all(s == queries.loan_state(overdue_loan, s.as_of) for s in history)


# ------------------------------------------------------------------------- the same rules, in bulk


def position(**overrides) -> services.LoanPosition:
    """An in-memory loan of 1,000,000.00 from START to MATURITY, nothing disbursed."""
    values = dict(
        loan_id=1,
        contract_no="HT-001",
        principal=D("1000000.00"),
        disbursed_total=D("0.00"),
        repaid_principal=D("0.00"),
        status="contracted",
        start_date=START,
        maturity_date=MATURITY,
        tranches=[],
        repayments=[],
    )
    values.update(overrides)
    return services.LoanPosition(**values)


def test_the_rules_are_pure_functions_of_a_loan_position(app_ctx):
    """No database: the single and the bulk services apply these same functions to a position."""
    loan = position()
    services.apply_disbursement(loan, D("600000.00"), date(2025, 3, 1))
    assert (loan.disbursed_total, loan.status, loan.tranches) == (
        D("600000.00"), "active", [(date(2025, 3, 1), D("600000.00"))]
    )
    with pytest.raises(BusinessRuleError, match="最多还可放款 ¥400,000.00"):
        services.apply_disbursement(loan, D("400000.01"), date(2025, 3, 2))
    with pytest.raises(BusinessRuleError, match="合同期限"):
        services.apply_disbursement(loan, D("1.00"), MATURITY + timedelta(days=1))
    assert loan.disbursed_total == D("600000.00")  # a refusal leaves the position as it was

    services.apply_repayment(loan, D("100000.00"), date(2025, 4, 1), date(2025, 6, 30))
    with pytest.raises(BusinessRuleError, match="早于首笔放款"):
        services.apply_repayment(loan, D("1.00"), date(2025, 2, 28), date(2025, 6, 30))
    # Dated before the recorded repayment of 04-01: 600,000 drawn, but 100,000 of it is repaid later.
    assert services.repayable_on(loan, date(2025, 3, 15)) == D("500000.00")
    services.apply_repayment(loan, D("500000.00"), date(2025, 5, 1), MATURITY + timedelta(days=1))
    assert (loan.repaid_principal, loan.status) == (D("600000.00"), "repaid")  # all drawn repaid, past maturity
    with pytest.raises(BusinessRuleError, match="已结清"):
        services.apply_disbursement(loan, D("1.00"), date(2025, 5, 2))
    with pytest.raises(ValueError):
        services.apply_repayment(position(tranches=None), D("1.00"), date(2025, 4, 1), date(2025, 6, 30))

    ref, errors = services.disbursement_field_errors(D("1.001"), date(2025, 7, 1), "  R1 ", date(2025, 6, 30))
    assert ref == "R1" and set(errors) == {"amount", "disbursed_on"}
    _ref, errors = services.repayment_field_errors(D("0.00"), D("0.00"), date(2025, 6, 1), "R2", date(2025, 6, 30))
    assert errors == {"principal": ["还款本金与利息不能同时为零"]}


def test_a_disbursement_batch_applies_the_single_rules_in_date_order_all_or_nothing(app_ctx, today):
    bank, enterprise = BankFactory(), rated_enterprise()
    loan = new_loan(bank, enterprise)
    other = new_loan(bank, enterprise, contract_no="HT-002", principal=D("100000.00"))
    old, _created = disburse(other, "1000.00", date(2025, 3, 1), "OLD")
    rows = [
        DisbursementRow(2, "HT-001", D("600000.00"), date(2025, 3, 5), "B1"),  # after row 3: only 500,000 left
        DisbursementRow(3, "HT-001", D("500000.00"), date(2025, 3, 1), "B2"),
        DisbursementRow(4, "HT-404", D("1.00"), date(2025, 3, 1), "B3"),  # not a loan of this bank
        DisbursementRow(5, "HT-002", D("1.00"), date(2025, 7, 1), "B4"),  # in the future
        DisbursementRow(6, "HT-002", D("2.00"), date(2025, 3, 1), "OLD"),  # recorded with other content
        DisbursementRow(7, "HT-002", D("1000.00"), date(2025, 3, 1), "OLD"),  # the same event: no error
    ]

    with pytest.raises(ValidationFailed) as refused:
        services.record_disbursements(bank.id, rows, "liaison")

    errors = refused.value.errors
    assert list(errors) == ["2", "4", "5", "6"]
    assert errors["2"] == [
        "第 2 行：超出合同本金：合同本金 ¥1,000,000.00，已放款 ¥500,000.00，最多还可放款 ¥500,000.00"
    ]
    assert errors["4"] == ["第 4 行：合同编号「HT-404」不是本行登记的贷款"]
    assert errors["5"] == ["第 5 行：放款日期：日期不能晚于今天（2025-06-30）"]
    assert "OLD" in errors["6"][0] and "内容不同" in errors["6"][0]
    assert count(Disbursement) == 1 and (loan.disbursed_total, loan.status) == (D("0.00"), "contracted")

    rows[0] = DisbursementRow(2, "HT-001", D("400000.00"), date(2025, 3, 5), "B1")
    result = services.record_disbursements(bank.id, [rows[0], rows[1], rows[5]], "liaison")

    assert (result.created, result.duplicates) == (2, 1)
    assert (result.total_amount, result.created_amount, result.total_interest) == (
        D("901000.00"), D("900000.00"), None
    )
    assert [(line.row, line.created) for line in result.lines] == [(2, True), (3, True), (7, False)]
    assert result.lines[2].record_id == old.id
    assert (loan.disbursed_total, loan.status) == (D("900000.00"), "active")
    assert sorted(d.bank_ref for d in loan.disbursements) == ["B1", "B2"]  # the loan reads its new tranches


def test_a_reference_twice_in_one_batch_is_one_event(app_ctx, today):
    bank, enterprise = BankFactory(), rated_enterprise()
    new_loan(bank, enterprise)
    same = DisbursementRow(2, "HT-001", D("1.00"), date(2025, 3, 1), "TWICE")

    result = services.record_disbursements(bank.id, [same, DisbursementRow(3, *astuple(same)[1:])], "liaison")

    assert (result.created, result.duplicates) == (1, 1)
    assert result.lines[0].record_id == result.lines[1].record_id
    with pytest.raises(ValidationFailed) as refused:
        services.record_disbursements(
            bank.id, [DisbursementRow(2, "HT-001", D("2.00"), date(2025, 3, 1), "AGAIN"),
                      DisbursementRow(3, "HT-001", D("3.00"), date(2025, 3, 1), "AGAIN")], "liaison"
        )
    assert list(refused.value.errors) == ["3"]


def test_a_repayment_batch_judges_each_row_against_the_rows_before_it(app_ctx, today):
    bank, enterprise = BankFactory(), rated_enterprise()
    loan = new_loan(bank, enterprise)
    disburse(loan, "500000.00", date(2025, 3, 1), "D1")
    disburse(loan, "500000.00", date(2025, 5, 1), "D2")
    repay(loan, "400000.00", date(2025, 4, 20), "R1")
    rows = [
        # 500,000 drawn on 04-01, but R1 (04-20) leaves room for 100,000 only: as test_repayment_never_exceeds...
        RepaymentRow(2, "HT-001", D("100000.01"), D("0.00"), date(2025, 4, 1), "R0"),
        RepaymentRow(3, "HT-001", D("0.00"), D("0.00"), date(2025, 5, 2), "R2"),
        RepaymentRow(4, "HT-001", D("600000.00"), D("10.00"), date(2025, 5, 2), "R3"),  # the whole principal
        RepaymentRow(5, "HT-001", D("0.00"), D("1.00"), date(2025, 5, 3), "R4"),  # ... so the loan is repaid by now
    ]

    with pytest.raises(ValidationFailed) as refused:
        services.record_repayments(bank.id, rows, "liaison")

    errors = refused.value.errors
    assert list(errors) == ["2", "3", "5"]
    assert "最多可还 ¥100,000.00" in errors["2"][0]
    assert errors["3"] == ["第 3 行：还款本金：还款本金与利息不能同时为零"]
    assert "已结清" in errors["5"][0]
    assert count(Repayment) == 1 and (loan.repaid_principal, loan.status) == (D("400000.00"), "active")

    fixed = [
        RepaymentRow(2, "HT-001", D("100000.00"), D("0.00"), date(2025, 4, 1), "R0"),
        RepaymentRow(4, "HT-001", D("500000.00"), D("10.00"), date(2025, 5, 2), "R3"),  # what R0 leaves
    ]
    result = services.record_repayments(bank.id, fixed, "liaison")

    assert (result.created, result.total_amount, result.total_interest) == (2, D("600000.00"), D("10.00"))
    assert (loan.repaid_principal, loan.status) == (D("1000000.00"), "repaid")


def test_a_batch_beyond_one_in_list_locks_and_reads_in_chunks(app_ctx, today, monkeypatch):
    """Past ``IN_LIST_MAX`` loans the ids are resolved first and locked chunk by chunk in id order."""
    monkeypatch.setattr(services, "IN_LIST_MAX", 2)
    bank, enterprise = BankFactory(), rated_enterprise(grade="A", line="5000000.00")
    loans = [new_loan(bank, enterprise, contract_no=f"HT-{n}", principal=D("100000.00")) for n in range(5)]
    for loan in loans[:2]:
        disburse(loan, "100.00", date(2025, 3, 1), f"{loan.contract_no}-OLD")
    rows = [DisbursementRow(n + 2, f"HT-{n}", D("100.00"), date(2025, 3, 1), f"HT-{n}-OLD") for n in range(5)]

    result = services.record_disbursements(bank.id, rows, "liaison")

    assert (result.created, result.duplicates) == (3, 2)
    assert [loan.disbursed_total for loan in loans] == [D("100.00")] * 5
    repaid = services.record_repayments(
        bank.id, [RepaymentRow(n + 2, f"HT-{n}", D("100.00"), D("0.00"), date(2025, 3, 2), f"P{n}") for n in range(5)],
        "liaison",
    )
    assert repaid.created == 5 and all(loan.repaid_principal == D("100.00") for loan in loans)
