"""Issuing documents: the scheduled jobs and the on-demand statements, where every domain meets.

Only ``config`` may import every package: the loans' bank statement needs the pool's claims, and the
documents store (core) must not know the domains. Each ``issue_*`` function reads, renders with the
domain's ``pdf.py``, and stores the result as the next version of its series
(``core.documents.store``); they flush and never commit: the caller is the unit of work (a request,
or the job runner, which commits a job's run as one transaction).

* :func:`render_missing_documents` (job ``contracts``, every 10 minutes): the contract of every seed
  loan that has none yet, and the compensation notice of every claim whose notice is pending
  (then marked issued, in the same transaction: a crash leaves it pending, never half-issued).
* :func:`generate_monthly_statements` (job ``monthly-statements``): for the period, a statement per
  bank, the seed fund's and the pool's statements and the programme progress report.
* :func:`build_statement` (``POST /api/v1/statements`` and the auditors' form): one bank's or one
  fund's statement over any range; registered into ``core.documents.statements`` at start-up.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask_babel import force_locale

from core import clock
from core.db import db
from core.documents.models import Document
from core.documents.rows import tables_xlsx
from core.documents.statements import StatementRequest, register_statement_builder as _register
from core.documents.store import next_version, period_bounds, period_of, store_document
from core.errors import ValidationFailed
from core.i18n import _
from funds import pdf as funds_pdf
from funds.models import SeedLoan
from loans import pdf as loans_pdf
from loans.models import Loan
from parties.models import Bank
from risk import pdf as risk_pdf
from risk import queries as risk_queries
from risk import services as risk_services
from risk.models import RiskClaim

__all__ = [
    "FUND_OWNER_IDS",
    "FUNDS",
    "SYSTEM_USER",
    "build_statement",
    "generate_monthly_statements",
    "issue_bank_statement",
    "issue_compensation_notice",
    "issue_fund_statement",
    "issue_progress_report",
    "issue_seed_contract",
    "register_statement_builder",
    "render_missing_documents",
]

SYSTEM_USER = "system"
FUNDS = {"seed": funds_pdf.FUND_NAME, "risk": "风险补偿资金池"}
# Funds have no table of their own: a fixed id per fund keeps their statement series apart
# (documents.owner_type "fund", owner_id 1 the seed fund, 2 the pool). Never renumber.
FUND_OWNER_IDS = {"seed": 1, "risk": 2}

Progress = Callable[[int, int], None]


def _no_progress(done: int, total: int) -> None:
    """The default progress callback: nobody is watching."""


def _range_text(start: date, end: date) -> str:
    return f"{start.isoformat()} 至 {end.isoformat()}"


def _range_code(start: date, end: date, period: str | None) -> str:
    return period or f"{start:%Y%m%d}-{end:%Y%m%d}"


# --------------------------------------------------------------------------------------------- issuing


def issue_seed_contract(loan: SeedLoan, *, created_by: str = SYSTEM_USER, generated_at: datetime | None = None) -> Document:
    """Render and store the loan's contract (owner ``seed_loan``; the agent bank's liaisons see it)."""
    version = next_version("contract", "seed_loan", loan.id, None)
    content = funds_pdf.render_seed_contract(loan, generated_at=generated_at, version=version)
    return store_document(
        kind="contract", title=funds_pdf.contract_title(loan), pdf_bytes=content, owner_type="seed_loan",
        owner_id=loan.id, bank_id=loan.agent_bank_id, created_by=created_by, number=loan.contract_no, version=version,
    )


def issue_compensation_notice(claim: RiskClaim, *, created_by: str = SYSTEM_USER,
                              generated_at: datetime | None = None) -> Document:
    """Render and store the claim's notice (owner ``claim``, the claim's bank) and mark it issued."""
    version = next_version("compensation_notice", "claim", claim.id, None)
    content = risk_pdf.render_compensation_notice(claim, generated_at=generated_at, version=version)
    document = store_document(
        kind="compensation_notice", title=risk_pdf.notice_title(claim), pdf_bytes=content, owner_type="claim",
        owner_id=claim.id, bank_id=claim.bank_id, created_by=created_by, number=risk_pdf.notice_number(claim),
        version=version,
    )
    risk_services.mark_notice_issued(claim.id)
    return document


def issue_bank_statement(bank: Bank, start: date, end: date, *, created_by: str = SYSTEM_USER,
                         generated_at: datetime | None = None) -> Document:
    """The bank's statement for the range (a calendar month: that month's series, the next version)."""
    period = period_of(start, end)
    version = next_version("bank_statement", "bank", bank.id, period)
    with force_locale("zh"):
        data = loans_pdf.bank_statement_data(bank.id, start, end)
        claims = risk_pdf.bank_claim_lines(bank.id, start, end)
        title = (f"{bank.name} {period} 月度报表" if period else f"{bank.name} 报表（{_range_text(start, end)}）")
        number = f"YHBB-{_range_code(start, end, period)}-{bank.code}"
        content = loans_pdf.render_bank_statement(data, claims, number=number, title=title,
                                                  generated_at=generated_at, version=version)
        rows = tables_xlsx(loans_pdf.bank_statement_tables(data, claims), title=title)
    return store_document(
        kind="bank_statement", title=title, pdf_bytes=content, period=period, owner_type="bank", owner_id=bank.id,
        bank_id=bank.id, created_by=created_by, number=number, version=version, period_start=start,
        period_end=end, rows_xlsx=rows,
    )


def issue_fund_statement(fund: str, start: date, end: date, *, created_by: str = SYSTEM_USER,
                         generated_at: datetime | None = None) -> Document:
    """The seed fund's (``seed``) or the pool's (``risk``) statement for the range."""
    if fund not in FUNDS:
        raise ValidationFailed(errors={"fund": [_("未知的基金：%(fund)s", fund=fund)]})
    period = period_of(start, end)
    owner_id = FUND_OWNER_IDS[fund]
    version = next_version("fund_statement", "fund", owner_id, period)
    name = FUNDS[fund]
    title = f"{name} {period} 月度资金报表" if period else f"{name} 资金报表（{_range_text(start, end)}）"
    number = f"{'ZZJJ' if fund == 'seed' else 'FXBC'}-ZJBB-{_range_code(start, end, period)}"
    with force_locale("zh"):
        if fund == "seed":
            seed = funds_pdf.seed_statement_data(start, end)
            content = funds_pdf.render_seed_fund_statement(seed, number=number, title=title,
                                                           generated_at=generated_at, version=version)
            tables = funds_pdf.seed_statement_tables(seed)
        else:
            pool = risk_pdf.pool_statement_data(start, end)
            content = risk_pdf.render_pool_statement(pool, number=number, title=title,
                                                     generated_at=generated_at, version=version)
            tables = risk_pdf.pool_statement_tables(pool)
        rows = tables_xlsx(tables, title=title)
    return store_document(
        kind="fund_statement", title=title, pdf_bytes=content, period=period, owner_type="fund", owner_id=owner_id,
        created_by=created_by, number=number, version=version, period_start=start, period_end=end, rows_xlsx=rows,
    )


def issue_progress_report(period: str, *, created_by: str = SYSTEM_USER, generated_at: datetime | None = None) -> Document:
    """The programme progress report as of the period's last day (no bank: liaisons do not see it)."""
    start, end = period_bounds(period)
    version = next_version("progress", None, None, period)
    title = f"知识价值信用贷款项目进度报告（截至 {end.isoformat()}）"
    number = f"JDBG-{period}"
    content = loans_pdf.render_progress_report(end, number=number, title=title, generated_at=generated_at,
                                               version=version)
    return store_document(
        kind="progress", title=title, pdf_bytes=content, period=period, created_by=created_by, number=number,
        version=version, period_start=start, period_end=end,
    )


# ------------------------------------------------------------------------------------------------ jobs


def _seed_loans_without_contract() -> list[SeedLoan]:
    has_contract = (
        sa.select(Document.id)
        .where(Document.kind == "contract", Document.owner_type == "seed_loan", Document.owner_id == SeedLoan.id)
        .exists()
    )
    return list(db.session.scalars(sa.select(SeedLoan).where(~has_contract).order_by(SeedLoan.id)).all())


def render_missing_documents(now: datetime | None = None, progress: Progress | None = None) -> int:
    """Contracts of seed loans without a PDF and notices of claims with ``notice_pending``; how many issued.

    Runs every ten minutes; finding nothing to do costs two queries.
    """
    now = now or clock.now()
    progress = progress or _no_progress
    loans = _seed_loans_without_contract()
    claims = list(risk_queries.notices_pending())
    total = len(loans) + len(claims)
    progress(0, total)
    done = 0
    for loan in loans:
        issue_seed_contract(loan, generated_at=now)
        done += 1
        progress(done, total)
    for claim in claims:
        issue_compensation_notice(claim, generated_at=now)
        done += 1
        progress(done, total)
    return done


def _statement_banks(end: date) -> list[Bank]:
    """Active banks, and inactive ones that still had loans by the period's end."""
    had_loans = sa.select(Loan.id).where(Loan.bank_id == Bank.id, Loan.start_date <= end).exists()
    return list(db.session.scalars(sa.select(Bank).where(sa.or_(Bank.is_active.is_(True), had_loans)).order_by(Bank.code)))


def generate_monthly_statements(period: str, progress: Progress | None = None, *, now: datetime | None = None) -> int:
    """Every monthly document of ``period`` (YYYY-MM): one statement per bank, the seed fund's and the
    pool's statements, the progress report. Returns how many documents were issued.

    Run again for the same period (the runner allows it for a failed run), each becomes the next
    version of its series: nothing issued before is replaced.
    """
    start, end = period_bounds(period)
    progress = progress or _no_progress
    now = now or clock.now()
    banks = _statement_banks(end)
    total = len(banks) + 3
    progress(0, total)
    done = 0
    for bank in banks:
        issue_bank_statement(bank, start, end, generated_at=now)
        done += 1
        progress(done, total)
    for fund in FUNDS:
        issue_fund_statement(fund, start, end, generated_at=now)
        done += 1
        progress(done, total)
    issue_progress_report(period, generated_at=now)
    done += 1
    progress(done, total)
    return done


# -------------------------------------------------------------------------------------------- on demand


def build_statement(request: StatementRequest) -> Document:
    """An auditor's statement of a bank or a fund over ``request.start``–``request.end`` (stored, flushed)."""
    now = clock.now()
    if request.bank_id is not None:
        bank = db.session.get(Bank, request.bank_id)
        if bank is None:
            raise ValidationFailed(errors={"bank_id": [_("合作银行不存在")]})
        return issue_bank_statement(bank, request.start, request.end, created_by=request.created_by, generated_at=now)
    if request.fund not in FUNDS:
        raise ValidationFailed(errors={"fund": [_("应为以下之一：%(choices)s", choices=", ".join(FUNDS))]})
    return issue_fund_statement(request.fund, request.start, request.end, created_by=request.created_by,
                                generated_at=now)


def register_statement_builder() -> None:
    """Plug :func:`build_statement` into ``core.documents`` (called by the application factory)."""
    _register(build_statement, FUNDS)


def previous_period(today: date | None = None) -> str:
    """The month before ``today``'s (the period the 1st-of-month jobs work on)."""
    first = (today or clock.today()).replace(day=1)
    last = first - timedelta(days=1)
    return f"{last.year:04d}-{last.month:02d}"
