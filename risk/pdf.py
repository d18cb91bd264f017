"""The risk-compensation pool's documents (domain.md §8), built on ``core.pdf``:

* the **compensation notice** (代偿通知书) to the bank of an approved claim: the loan, the overdue
  principal claimed, the pool's and the bank's shares and the pool's part attributed to the city and
  the county, each in figures and in capitals, and whether the pool has paid or queued it;
* the **pool statement** (风险补偿资金池资金报表) for any date range: the pool's figures at the end,
  the ledger's opening balance, movements and closing balance, the city/county attribution of
  contributions, compensation and recoveries, and the claims paid and recoveries in the range;
* :func:`bank_claim_lines`: a bank's claims for the loans package's bank statement (``ClaimLine``
  is defined by ``loans.pdf``, which may not import this package).

PDF content is Chinese whatever the interface language (``force_locale("zh")``).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app, has_app_context
from flask_babel import force_locale
from reportlab.lib.units import mm

from core import pdf
from core.db import db
from core.documents.ledger_statement import LedgerStatement, ledger_statement
from core.pdf import Column, TableData
from loans.models import Loan
from loans.pdf import ClaimLine
from parties.models import Enterprise
from risk.accounts import CASH, FUND
from risk.labels import claim_status_label
from risk.models import ClaimStatus, RiskClaim, RiskRecovery
from risk.queries import LedgerFigures, PoolFigures, ledger_figures, pool_figures

__all__ = [
    "POOL_MANAGER_NAME",
    "POOL_NAME",
    "PoolStatementData",
    "bank_claim_lines",
    "notice_number",
    "notice_title",
    "pool_statement_data",
    "pool_statement_tables",
    "render_compensation_notice",
    "render_pool_statement",
]

ZERO = Decimal("0.00")
POOL_NAME = "知识价值信用贷款风险补偿资金池"
POOL_MANAGER_NAME = "县知识价值信用贷款风险补偿资金管理人"
"""The issuer of notices; a deployment sets ``RISK_POOL_MANAGER_NAME`` in its configuration."""


def pool_manager_name() -> str:
    if has_app_context():
        return current_app.config.get("RISK_POOL_MANAGER_NAME") or POOL_MANAGER_NAME
    return POOL_MANAGER_NAME


def _percent(ratio: Decimal) -> str:
    return pdf.format_cell(ratio, "percent")


# -------------------------------------------------------------------------------------------- notice


def notice_number(claim: RiskClaim) -> str:
    """代偿通知书 number: the year of approval and the claim's id (stable across versions)."""
    year = (claim.approved_on or claim.as_of).year
    return f"FXDC-{year}-{claim.id:05d}"


def notice_title(claim: RiskClaim) -> str:
    return f"代偿通知书 {notice_number(claim)}（{claim.bank.name} · {claim.loan.contract_no}）"


def render_compensation_notice(claim: RiskClaim, *, generated_at: datetime | None = None, version: int | None = None) -> bytes:
    """The notice of an approved claim (paid, or queued for payment)."""
    with force_locale("zh"):
        return pdf.build_pdf(_notice_story(claim), title=notice_title(claim), number=notice_number(claim),
                             generated_at=generated_at, version=version, subject="风险补偿代偿通知书")


def _notice_story(claim: RiskClaim) -> list:
    loan: Loan = claim.loan
    enterprise = loan.enterprise
    issuer = pool_manager_name()
    county_ratio = Decimal(1) - claim.city_ratio
    bank_ratio = Decimal(1) - claim.pool_ratio
    story = pdf.document_title("风险补偿资金代偿通知书", f"编号：{notice_number(claim)}")
    story.append(pdf.paragraph(f"{claim.bank.name}：", pdf.styles.plain))
    approved = pdf.chinese_date(claim.approved_on) if claim.approved_on else "近日"
    story.append(pdf.paragraph(
        f"贵行报送的借款企业{enterprise.name}知识价值信用贷款（合同编号 {loan.contract_no}）代偿申请"
        f"（申请号 {claim.id}），经审核符合{POOL_NAME}代偿条件，已于{approved}批准。按照风险补偿资金管理办法规定的"
        f"分担比例，资金池承担逾期未收回本金的 {_percent(claim.pool_ratio)}，贵行承担 {_percent(bank_ratio)}；资金池承担部分"
        f"由市级、县级资金按 {_percent(claim.city_ratio)}、{_percent(county_ratio)} 的比例列支。现将代偿事项通知如下："
    ))
    story.append(pdf.heading("一、贷款情况"))
    story.append(pdf.field_table([
        ("借款企业", enterprise.name),
        ("统一社会信用代码", enterprise.credit_code),
        ("贷款合同编号", loan.contract_no),
        ("合同本金", f"{pdf.yuan(loan.principal)}（{pdf.capitals(loan.principal)}）"),
        ("贷款期限", f"{loan.start_date.isoformat()} 至 {loan.maturity_date.isoformat()}"),
        ("代偿基准日", claim.as_of.isoformat()),
        ("逾期天数（基准日）", f"{claim.days_past_due} 天"),
        ("逾期未收回本金", f"{pdf.yuan(claim.principal)}（{pdf.capitals(claim.principal)}）"),
    ], label_width=36 * mm))
    story += pdf.data_table(TableData(
        "二、代偿金额及分担",
        (Column("项目", "text", 1.6), Column("比例", "percent", 0.7), Column("金额（元）", "money", 1.2),
         Column("大写金额", "text", 2.6)),
        [
            ("逾期未收回本金", Decimal(1), claim.principal, pdf.capitals(claim.principal)),
            ("资金池承担（代偿金额）", claim.pool_ratio, claim.pool_share, pdf.capitals(claim.pool_share)),
            ("　其中：市级资金", claim.city_ratio, claim.city_share, pdf.capitals(claim.city_share)),
            ("　　　　县级资金", county_ratio, claim.county_share, pdf.capitals(claim.county_share)),
            ("合作银行承担", bank_ratio, claim.bank_share, pdf.capitals(claim.bank_share)),
        ],
    ))
    story.append(pdf.note("市级、县级比例为占资金池承担部分的比例。金额按分计算，四舍五入，各部分之和与总额相等。"))
    story.append(pdf.heading("三、支付安排"))
    if claim.status == ClaimStatus.PAID.value and claim.paid_on is not None:
        payment = (f"资金池已于{pdf.chinese_date(claim.paid_on)}将代偿款{pdf.amount_text(claim.pool_share)}"
                   "划付贵行，请注意查收。")
    else:
        payment = (f"因资金池当前可用资金不足，本笔代偿款{pdf.amount_text(claim.pool_share)}已按批准顺序列入待支付队列，"
                   "待市、县资金到位后依次支付，届时另行通知。")
    story.append(pdf.paragraph(payment))
    story.append(pdf.heading("四、其他事项"))
    story += pdf.clauses([
        "贷款利息由贵行自行承担，资金池不予补偿。",
        "代偿后，贵行应继续向借款企业追偿。追偿所得在代偿本金范围内按资金池与贵行承担本金的比例分配，"
        "资金池部分按市级、县级比例返还；超出代偿本金的部分归贵行所有。贵行应在收回款项后及时报送追偿记录。",
        "贵行应妥善保管该笔贷款的全部档案资料，配合审计和检查。",
    ], numbering="list")
    story.append(pdf.paragraph("特此通知。"))
    story.append(pdf.signature_block([
        pdf.Signatory("通知单位", issuer, signer="经办人（签字）"),
        pdf.Signatory("签收单位", claim.bank.name, signer="签收人（签字）"),
    ], signed_on=claim.approved_on))
    return story


# --------------------------------------------------------------------------------- bank statement part


def bank_claim_lines(bank_id: int, start: date, end: date) -> list[ClaimLine]:
    """The bank's claims that the range concerns: filed (``as_of``), paid or recovered on within it.

    Rejected claims are left out. ``recovered`` is what was recovered within the range. Two queries.
    """
    in_range = sa.and_(RiskRecovery.recovered_on >= start, RiskRecovery.recovered_on <= end)
    recovered = {
        claim_id: (amount, pool)
        for claim_id, amount, pool in db.session.execute(
            sa.select(RiskRecovery.claim_id, sa.func.sum(RiskRecovery.amount), sa.func.sum(RiskRecovery.pool_part))
            .join(RiskClaim, RiskClaim.id == RiskRecovery.claim_id)
            .where(RiskClaim.bank_id == bank_id, in_range)
            .group_by(RiskRecovery.claim_id)
        )
    }
    claims = db.session.scalars(
        sa.select(RiskClaim)
        .where(
            RiskClaim.bank_id == bank_id,
            RiskClaim.status != ClaimStatus.REJECTED.value,
            sa.or_(
                sa.and_(RiskClaim.as_of >= start, RiskClaim.as_of <= end),
                sa.and_(RiskClaim.paid_on >= start, RiskClaim.paid_on <= end),
                RiskClaim.id.in_(list(recovered)) if recovered else sa.false(),
            ),
        )
        .order_by(RiskClaim.id)
    ).all()
    with force_locale("zh"):
        return [
            ClaimLine(
                claim_id=claim.id,
                contract_no=claim.loan.contract_no,
                enterprise_name=claim.loan.enterprise.name,
                as_of=claim.as_of,
                principal=claim.principal,
                pool_share=claim.pool_share,
                bank_share=claim.bank_share,
                status=claim_status_label(claim.status),
                paid_on=claim.paid_on,
                recovered=recovered.get(claim.id, (ZERO, ZERO))[0],
                pool_recovered=recovered.get(claim.id, (ZERO, ZERO))[1],
            )
            for claim in claims
        ]


# ------------------------------------------------------------------------------------ pool statement


@dataclass(frozen=True)
class PoolStatementData:
    start: date
    end: date
    figures: PoolFigures
    opening: LedgerFigures
    ledger: LedgerStatement
    claims: TableData
    recoveries: TableData


def pool_statement_data(start: date, end: date) -> PoolStatementData:
    """The pool from ``start`` to ``end`` inclusive (figures as of the end, attribution, ledger, claims)."""
    with force_locale("zh"):
        claims = db.session.scalars(
            sa.select(RiskClaim)
            .where(RiskClaim.status == ClaimStatus.PAID.value, RiskClaim.paid_on >= start, RiskClaim.paid_on <= end)
            .order_by(RiskClaim.paid_on, RiskClaim.id)
        ).all()
        recoveries = db.session.execute(
            sa.select(RiskRecovery, RiskClaim.id, Loan.contract_no, Enterprise.name)
            .join(RiskClaim, RiskClaim.id == RiskRecovery.claim_id)
            .join(Loan, Loan.id == RiskClaim.loan_id)
            .join(Enterprise, Enterprise.id == Loan.enterprise_id)
            .where(RiskRecovery.recovered_on >= start, RiskRecovery.recovered_on <= end)
            .order_by(RiskRecovery.recovered_on, RiskRecovery.id)
        ).all()
        return PoolStatementData(
            start=start,
            end=end,
            figures=pool_figures(end),
            opening=ledger_figures(start - timedelta(days=1)),
            ledger=ledger_statement(FUND, CASH, start, end, numbering=("三、", "四、")),
            claims=TableData(
                "五、本期代偿支付",
                (Column("支付日", "date", 0.9), Column("申请号", "code", 0.6), Column("合作银行", "text", 1.5),
                 Column("合同编号", "code", 1.2), Column("资金池承担（元）", "money", 1.1), Column("市级（元）", "money", 1.0),
                 Column("县级（元）", "money", 1.0)),
                [(c.paid_on, c.id, c.bank.name, c.loan.contract_no, c.pool_share, c.city_share, c.county_share) for c in claims],
                total=("合计", f"{len(claims)} 笔", None, None, sum((c.pool_share for c in claims), ZERO),
                       sum((c.city_share for c in claims), ZERO), sum((c.county_share for c in claims), ZERO)),
            ),
            recoveries=TableData(
                "六、本期追偿收回",
                (Column("收回日", "date", 0.9), Column("申请号", "code", 0.6), Column("合同编号", "code", 1.2),
                 Column("借款企业", "text", 1.7), Column("收回金额（元）", "money", 1.0), Column("资金池部分（元）", "money", 1.0),
                 Column("银行部分（元）", "money", 1.0)),
                [(r.recovered_on, claim_id, contract_no, name, r.amount, r.pool_part, r.bank_part)
                 for r, claim_id, contract_no, name in recoveries],
                total=("合计", None, None, None, sum((row[0].amount for row in recoveries), ZERO),
                       sum((row[0].pool_part for row in recoveries), ZERO), sum((row[0].bank_part for row in recoveries), ZERO)),
            ),
        )


def _attribution(data: PoolStatementData) -> TableData:
    """City and county: contributions, compensation and recoveries in the range, and cumulated."""
    before, after = data.opening, data.figures.ledger
    rows = []
    for label, paid_in, paid_out, recovered in (
        ("市级", lambda f: f.paid_in_city, lambda f: f.paid_out_city, lambda f: f.recovered_city),
        ("县级", lambda f: f.paid_in_county, lambda f: f.paid_out_county, lambda f: f.recovered_county),
    ):
        rows.append((
            label,
            paid_in(after) - paid_in(before), paid_out(after) - paid_out(before), recovered(after) - recovered(before),
            paid_in(after), paid_out(after), recovered(after),
        ))
    total = ("合计",) + tuple(sum((row[index] for row in rows), ZERO) for index in range(1, 7))
    return TableData(
        "二、市县资金归属",
        (Column("资金来源", "text", 0.8), Column("本期注资", "money", 1.1), Column("本期代偿", "money", 1.1),
         Column("本期追偿收回", "money", 1.1), Column("累计注资", "money", 1.2), Column("累计代偿", "money", 1.2),
         Column("累计追偿收回", "money", 1.2)),
        rows,
        total=total,
        notes=("代偿支出与追偿收回按资金池承担部分的市、县比例归属。",),
    )


def _figures_table(figures: PoolFigures) -> TableData:
    leverage = figures.leverage
    return TableData(
        "一、资金池概况（期末）",
        (Column("项目", "text", 2), Column("金额（元）或倍数", "money", 1.5)),
        [
            ("认缴规模", figures.committed),
            ("实缴资本", figures.paid_in),
            ("银行存款（现金）", figures.cash),
            ("累计代偿支出", figures.ledger.paid_out),
            ("累计追偿收回", figures.ledger.recovered),
            (f"待支付代偿（已批准，{figures.queued_count} 笔）", figures.queued_unpaid),
            ("纳入补偿的贷款余额", figures.covered_outstanding),
            ("放大倍数（贷款余额/实缴资本）",
             "—" if leverage is None else f"{leverage} 倍（上限 {figures.leverage_multiple} 倍）"),
        ],
        width=0.62,
    )


def pool_statement_tables(data: PoolStatementData) -> list[TableData]:
    """The statement's tables in the PDF's order (the Excel export writes one sheet each)."""
    return [_figures_table(data.figures), _attribution(data), data.ledger.accounts, data.ledger.cash, data.claims,
            data.recoveries]


def render_pool_statement(
    data: PoolStatementData,
    *,
    number: str,
    title: str,
    generated_at: datetime | None = None,
    version: int | None = None,
) -> bytes:
    """The pool statement's PDF: opening balance, movements, closing balance, city/county attribution."""
    with force_locale("zh"):
        ledger = data.ledger
        story = pdf.document_title(
            "风险补偿资金池资金报表",
            f"报表期间：{pdf.chinese_date(data.start)}至{pdf.chinese_date(data.end)}",
        )
        story.append(pdf.field_table([
            ("期初银行存款", pdf.yuan(ledger.opening_cash)),
            ("本期收入", pdf.yuan(ledger.receipts)),
            ("本期支出", pdf.yuan(ledger.payments)),
            ("期末银行存款", f"{pdf.yuan(ledger.closing_cash)}（{pdf.capitals(max(ledger.closing_cash, ZERO))}）"),
        ], columns=2, label_width=26 * mm))
        story.append(pdf.note("金额单位：人民币元。期初为报表起始日前一日的余额，期末为报表截止日的余额；数据取自资金池复式记账账簿。"))
        for table in pool_statement_tables(data):
            story += pdf.data_table(table)
        story.append(pdf.signature_block([
            pdf.Signatory("编制", pool_manager_name(), signer="编制人（签字）"),
            pdf.Signatory("复核", pool_manager_name(), signer="复核人（签字）", seal=False),
        ]))
        return pdf.build_pdf(story, title=title, number=number, generated_at=generated_at, version=version,
                             subject="风险补偿资金池资金报表")
