"""The loans package's documents (domain.md §8), built on ``core.pdf``:

* the **monthly bank statement** (合作银行月度报表): for one bank and a date range, the outstanding
  principal at the start and the end, new loans, tranches disbursed, repayments, the loans
  outstanding at the end with their days past due, the overdue buckets (the five tiers with their
  DPD ranges), and the bank's claims and recoveries. The claims belong to the risk pool, which this
  package may not import: the caller (``config.documents_jobs``) gathers them from ``risk`` as
  :class:`ClaimLine` rows and passes them in;
* the **programme progress report** (项目进度报告): the cumulative amount against the target, the
  pace and projection, the breakdowns, and two charts drawn with ``reportlab.graphics``.

Reading is split from rendering: :func:`bank_statement_data` reads (a fixed number of queries
whatever the number of loans: two for the states at the start and the end, one each for new loans,
tranches and repayments), :func:`render_bank_statement` only lays out; :func:`bank_statement_tables`
gives the same tables to the Excel export, so the rows always match the PDF.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from flask_babel import force_locale
from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.charts.linecharts import HorizontalLineChart
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.units import mm
from sqlalchemy.orm import joinedload, lazyload

from core import pdf
from core.db import db
from core.dpd import Classification, ClassificationThresholds
from core.pdf import Column, TableData
from loans import queries
from loans.models import Disbursement, Loan, Repayment
from loans.progress import Progress, Timeline, program_progress, program_timeline
from parties.models import Bank, Enterprise

__all__ = [
    "BankStatementData",
    "ClaimLine",
    "bank_statement_data",
    "bank_statement_tables",
    "progress_tables",
    "render_bank_statement",
    "render_progress_report",
]

ZERO = Decimal("0.00")
WAN = Decimal("10000")


@dataclass(frozen=True)
class ClaimLine:
    """One compensation claim of the bank as the statement shows it (gathered by the caller from risk)."""

    claim_id: int
    contract_no: str
    enterprise_name: str
    as_of: date
    principal: Decimal
    pool_share: Decimal
    bank_share: Decimal
    status: str  # the status as people read it (已批准并支付 …)
    paid_on: date | None
    recovered: Decimal  # recovered in the statement's range
    pool_recovered: Decimal  # the pool's part of it


@dataclass(frozen=True)
class BankStatementData:
    """What a bank statement states, read once; tables are plain values (Decimal, date, str)."""

    bank_id: int
    bank_name: str
    bank_code: str
    start: date
    end: date
    opening_outstanding: Decimal
    closing_outstanding: Decimal
    new_loan_count: int
    new_loan_principal: Decimal
    disbursed: Decimal
    repaid_principal: Decimal
    repaid_interest: Decimal
    overdue_outstanding: Decimal
    non_performing: Decimal
    new_loans: TableData
    disbursements: TableData
    repayments: TableData
    buckets: TableData
    outstanding: TableData

    @property
    def npl_ratio(self) -> Decimal | None:
        if self.closing_outstanding <= 0:
            return None
        return (self.non_performing / self.closing_outstanding).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


# ------------------------------------------------------------------------------------------ reading


def _states_on(bank_id: int, day: date) -> list[tuple[Loan, queries.LoanState]]:
    """Every loan of the bank contracted on or before ``day`` with its state that day (one query)."""
    disbursed, repaid = queries.as_of_sums(day)
    thresholds = queries.thresholds_on(day)
    rows = db.session.execute(
        sa.select(Loan, disbursed, repaid)
        .where(Loan.bank_id == bank_id, Loan.start_date <= day)
        .options(
            joinedload(Loan.enterprise).lazyload(Enterprise.ratings),
            lazyload(Loan.disbursements),
            lazyload(Loan.repayments),
        )
        .order_by(Loan.contract_no, Loan.id)
    ).all()
    return [(loan, queries.state_from_totals(loan, d, r, day, thresholds)) for loan, d, r in rows]


def _tier_ranges(thresholds: ClassificationThresholds) -> dict[Classification, str]:
    return {
        Classification.NORMAL: "0 天",
        Classification.SPECIAL_MENTION: f"{thresholds.special_mention_from}-{thresholds.substandard_from - 1} 天",
        Classification.SUBSTANDARD: f"{thresholds.substandard_from}-{thresholds.doubtful_from - 1} 天",
        Classification.DOUBTFUL: f"{thresholds.doubtful_from}-{thresholds.loss_from - 1} 天",
        Classification.LOSS: f"{thresholds.loss_from} 天及以上",
    }


def bank_statement_data(bank_id: int, start: date, end: date) -> BankStatementData:
    """The bank's figures from ``start`` to ``end`` inclusive (states as of the day before and the end)."""
    bank = db.session.get(Bank, bank_id)
    if bank is None:
        raise LookupError(f"bank {bank_id} does not exist")
    with force_locale("zh"):
        return _read(bank, start, end)


def _read(bank: Bank, start: date, end: date) -> BankStatementData:
    opening = _states_on(bank.id, start - timedelta(days=1))
    closing = _states_on(bank.id, end)
    thresholds = queries.thresholds_on(end)

    new = [loan for loan, _state in closing if start <= loan.start_date <= end]
    new_loans = TableData(
        "一、本期新增贷款合同",
        (Column("合同编号", "code", 1.3), Column("借款企业", "text", 2.2), Column("起始日", "date", 0.9),
         Column("到期日", "date", 0.9), Column("合同本金（元）", "money", 1.2), Column("年利率", "percent", 0.7),
         Column("纳入风险补偿", "text", 0.8)),
        [(loan.contract_no, loan.enterprise.name, loan.start_date, loan.maturity_date, loan.principal,
          loan.annual_rate, {True: "是", False: "否"}.get(loan.covered, "待定")) for loan in new],
        total=("合计", f"{len(new)} 笔", None, None, sum((loan.principal for loan in new), ZERO), None, None),
    )

    tranche_rows = db.session.execute(
        sa.select(Disbursement.disbursed_on, Loan.contract_no, Enterprise.name, Disbursement.amount, Disbursement.bank_ref)
        .join(Loan, Loan.id == Disbursement.loan_id)
        .join(Enterprise, Enterprise.id == Loan.enterprise_id)
        .where(Disbursement.bank_id == bank.id, Disbursement.disbursed_on >= start, Disbursement.disbursed_on <= end)
        .order_by(Disbursement.disbursed_on, Disbursement.id)
    ).all()
    disbursed = sum((row.amount for row in tranche_rows), ZERO)
    disbursements = TableData(
        "二、本期放款",
        (Column("放款日期", "date", 0.9), Column("合同编号", "code", 1.3), Column("借款企业", "text", 2.4),
         Column("放款金额（元）", "money", 1.2), Column("银行流水号", "code", 1.4)),
        [tuple(row) for row in tranche_rows],
        total=("合计", f"{len(tranche_rows)} 笔", None, disbursed, None),
    )

    repayment_rows = db.session.execute(
        sa.select(Repayment.paid_on, Loan.contract_no, Enterprise.name, Repayment.principal, Repayment.interest,
                  Repayment.bank_ref)
        .join(Loan, Loan.id == Repayment.loan_id)
        .join(Enterprise, Enterprise.id == Loan.enterprise_id)
        .where(Repayment.bank_id == bank.id, Repayment.paid_on >= start, Repayment.paid_on <= end)
        .order_by(Repayment.paid_on, Repayment.id)
    ).all()
    repaid = sum((row.principal for row in repayment_rows), ZERO)
    interest = sum((row.interest for row in repayment_rows), ZERO)
    repayments = TableData(
        "三、本期还款",
        (Column("还款日期", "date", 0.9), Column("合同编号", "code", 1.3), Column("借款企业", "text", 2.1),
         Column("归还本金（元）", "money", 1.1), Column("利息（元）", "money", 0.9), Column("银行流水号", "code", 1.2)),
        [tuple(row) for row in repayment_rows],
        total=("合计", f"{len(repayment_rows)} 笔", None, repaid, interest, None),
    )

    live = [(loan, state) for loan, state in closing if state.outstanding_principal > 0]
    closing_total = sum((state.outstanding_principal for _loan, state in live), ZERO)
    ranges = _tier_ranges(thresholds)
    bucket_rows = []
    for tier in Classification:
        members = [state for _loan, state in live if state.classification == tier]
        amount = sum((state.outstanding_principal for state in members), ZERO)
        share = (amount / closing_total).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP) if closing_total else None
        bucket_rows.append((tier.label, ranges[tier], len(members), amount, share))
    buckets = TableData(
        "四、期末逾期分布（五级分类）",
        (Column("五级分类", "text", 1), Column("逾期天数", "text", 1.2), Column("笔数", "int", 0.7),
         Column("贷款余额（元）", "money", 1.4), Column("占比", "percent", 0.8)),
        bucket_rows,
        total=("合计", None, len(live), closing_total, Decimal("1") if closing_total else None),
    )
    outstanding = TableData(
        "五、期末贷款余额明细",
        (Column("合同编号", "code", 1.3), Column("借款企业", "text", 2.2), Column("到期日", "date", 0.9),
         Column("贷款余额（元）", "money", 1.2), Column("逾期天数", "int", 0.7), Column("五级分类", "text", 0.7)),
        [(loan.contract_no, loan.enterprise.name, loan.maturity_date, state.outstanding_principal,
          state.days_past_due, state.classification.label) for loan, state in live],
        total=("合计", f"{len(live)} 笔", None, closing_total, None, None),
    )
    overdue = sum((state.outstanding_principal for _loan, state in live if state.days_past_due > 0), ZERO)
    non_performing = sum((state.outstanding_principal for _loan, state in live if state.is_non_performing), ZERO)
    return BankStatementData(
        bank_id=bank.id,
        bank_name=bank.name,
        bank_code=bank.code,
        start=start,
        end=end,
        opening_outstanding=sum((state.outstanding_principal for _loan, state in opening), ZERO),
        closing_outstanding=closing_total,
        new_loan_count=len(new),
        new_loan_principal=sum((loan.principal for loan in new), ZERO),
        disbursed=disbursed,
        repaid_principal=repaid,
        repaid_interest=interest,
        overdue_outstanding=overdue,
        non_performing=non_performing,
        new_loans=new_loans,
        disbursements=disbursements,
        repayments=repayments,
        buckets=buckets,
        outstanding=outstanding,
    )


def _claims_table(claims: Sequence[ClaimLine]) -> TableData:
    return TableData(
        "六、风险补偿代偿与追偿",
        (Column("申请号", "code", 0.75), Column("合同编号", "code", 1.2), Column("借款企业", "text", 1.5),
         Column("代偿本金（元）", "money", 1.25), Column("资金池承担（元）", "money", 1.2), Column("银行承担（元）", "money", 1.15),
         Column("状态", "text", 1.0), Column("支付日", "date", 1.05), Column("本期追偿（元）", "money", 1.1)),
        [(claim.claim_id, claim.contract_no, claim.enterprise_name, claim.principal, claim.pool_share,
          claim.bank_share, claim.status, claim.paid_on, claim.recovered) for claim in claims],
        total=("合计", None, None, sum((c.principal for c in claims), ZERO), sum((c.pool_share for c in claims), ZERO),
               sum((c.bank_share for c in claims), ZERO), None, None, sum((c.recovered for c in claims), ZERO)),
        empty_text="本期无代偿或追偿",
    )


def bank_statement_tables(data: BankStatementData, claims: Sequence[ClaimLine]) -> list[TableData]:
    """Every table of the statement, in the PDF's order (the Excel export writes one sheet each)."""
    return [data.new_loans, data.disbursements, data.repayments, data.buckets, data.outstanding, _claims_table(claims)]


# ---------------------------------------------------------------------------------------- rendering


def _period_text(start: date, end: date) -> str:
    return f"{pdf.chinese_date(start)}至{pdf.chinese_date(end)}"


def render_bank_statement(
    data: BankStatementData,
    claims: Sequence[ClaimLine],
    *,
    number: str,
    title: str,
    generated_at: datetime | None = None,
    version: int | None = None,
) -> bytes:
    """The bank statement's PDF (Chinese whatever the interface language)."""
    with force_locale("zh"):
        paid = [c for c in claims if c.paid_on is not None and data.start <= c.paid_on <= data.end]
        ratio = data.npl_ratio
        story = pdf.document_title(
            "知识价值信用贷款合作银行月度报表",
            f"{data.bank_name}　报表期间：{_period_text(data.start, data.end)}",
        )
        story.append(pdf.field_table([
            ("合作银行", f"{data.bank_name}（{data.bank_code}）"),
            ("报表期间", f"{data.start.isoformat()} 至 {data.end.isoformat()}"),
            ("期初贷款余额", pdf.yuan(data.opening_outstanding)),
            ("本期新增合同", f"{data.new_loan_count} 笔，合同本金 {pdf.yuan(data.new_loan_principal)}"),
            ("本期放款", pdf.yuan(data.disbursed)),
            ("本期收回本金", pdf.yuan(data.repaid_principal)),
            ("期末贷款余额", f"{pdf.yuan(data.closing_outstanding)}（{pdf.capitals(data.closing_outstanding)}）"),
            ("其中：逾期贷款", pdf.yuan(data.overdue_outstanding)),
            ("不良贷款余额", pdf.yuan(data.non_performing)),
            ("不良率", "—" if ratio is None else pdf.format_cell(ratio, "percent")),
            ("本期代偿支付", f"{len(paid)} 笔，资金池承担 {pdf.yuan(sum((c.pool_share for c in paid), ZERO))}"),
            ("本期追偿收回", pdf.yuan(sum((c.recovered for c in claims), ZERO))),
        ], columns=2, label_width=26 * mm))
        story.append(pdf.note("金额单位：人民币元。期初余额为报表起始日前一日的余额；逾期天数与五级分类按期末日计算。"
                              "本期还款所列利息由合作银行收取，不属于项目资金。"))
        for table in bank_statement_tables(data, claims):
            story += pdf.data_table(table)
        story.append(pdf.paragraph("本报表由平台根据合作银行报送的放款、还款记录生成，请合作银行核对；如有差异，请于次月10日前反馈。",
                                   pdf.styles.note))
        story.append(pdf.signature_block([
            pdf.Signatory("编制单位", pdf.PLATFORM_NAME, signer="编制人"),
            pdf.Signatory("合作银行核对", data.bank_name, signer="核对人（签字）"),
        ]))
        return pdf.build_pdf(story, title=title, number=number, generated_at=generated_at, version=version,
                             subject="合作银行月度报表")


# ------------------------------------------------------------------------------------------ progress


def _wan(amount: Decimal) -> int:
    """An amount in whole 万元 for a chart coordinate (display only: never a money value)."""
    return int((amount / WAN).to_integral_value(rounding=ROUND_HALF_UP))


def _timeline_chart(timeline: Timeline) -> Drawing:
    """Cumulative amount at each month end against the target, in 万元."""
    width, height = pdf.CONTENT_WIDTH, 72 * mm
    drawing = Drawing(width, height)
    items = timeline.items or []
    chart = HorizontalLineChart()
    chart.x, chart.y, chart.width, chart.height = 18 * mm, 16 * mm, width - 24 * mm, height - 26 * mm
    cumulative = [_wan(item.cumulative) for item in items] or [0]
    chart.data = [cumulative, [_wan(timeline.target)] * len(cumulative)]
    step = max(1, len(items) // 10)
    chart.categoryAxis.categoryNames = [item.month if index % step == 0 else "" for index, item in enumerate(items)] or [""]
    chart.categoryAxis.labels.fontName = pdf.LATIN_FONT
    chart.categoryAxis.labels.fontSize = 6.5
    chart.categoryAxis.labels.angle = 30
    chart.categoryAxis.labels.boxAnchor = "ne"
    chart.valueAxis.valueMin = 0
    chart.valueAxis.labels.fontName = pdf.LATIN_FONT
    chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.gridStrokeColor = colors.HexColor("#e0e0e0")
    chart.valueAxis.visibleGrid = True
    chart.lines[0].strokeColor = colors.HexColor("#1f5f99")
    chart.lines[0].strokeWidth = 1.6
    chart.lines[1].strokeColor = colors.HexColor("#b22222")
    chart.lines[1].strokeDashArray = (4, 3)
    drawing.add(chart)
    drawing.add(String(0, height - 6, "单位：万元", fontName=pdf.FONT, fontSize=7.5, fillColor=pdf.MUTED))
    legend = Legend()
    legend.x, legend.y = width - 62 * mm, height - 2
    legend.fontName, legend.fontSize = pdf.FONT, 7.5
    legend.columnMaximum, legend.deltax = 1, 60
    legend.alignment = "right"
    legend.colorNamePairs = [(colors.HexColor("#1f5f99"), "累计放款"), (colors.HexColor("#b22222"), "目标")]
    drawing.add(legend)
    return drawing


def _year_chart(progress: Progress) -> Drawing:
    """Amount per year (the opening figure first when it counts), in 万元."""
    width, height = pdf.CONTENT_WIDTH, 62 * mm
    drawing = Drawing(width, height)
    lines = progress.by_year or []
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 18 * mm, 12 * mm, width - 24 * mm, height - 22 * mm
    chart.data = [[_wan(line.amount) for line in lines] or [0]]
    chart.categoryAxis.categoryNames = [line.label for line in lines] or [""]
    chart.categoryAxis.labels.fontName = pdf.FONT
    chart.categoryAxis.labels.fontSize = 7.5
    chart.valueAxis.valueMin = 0
    chart.valueAxis.labels.fontName = pdf.LATIN_FONT
    chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.visibleGrid = True
    chart.valueAxis.gridStrokeColor = colors.HexColor("#e0e0e0")
    chart.bars[0].fillColor = colors.HexColor("#3b7dd8")
    chart.bars[0].strokeColor = None
    chart.barLabelFormat = "%d"
    chart.barLabels.fontName = pdf.LATIN_FONT
    chart.barLabels.fontSize = 7
    chart.barLabels.nudge = 6
    drawing.add(chart)
    drawing.add(String(0, height - 6, "单位：万元", fontName=pdf.FONT, fontSize=7.5, fillColor=pdf.MUTED))
    return drawing


def _breakdown_table(name: str, head: str, lines: Sequence) -> TableData:
    return TableData(
        name,
        (Column(head, "text", 2), Column("放款金额（元）", "money", 1.5), Column("占比", "percent", 0.8),
         Column("放款笔数", "int", 0.8), Column("企业数", "int", 0.8)),
        [(line.label, line.amount, line.share / 100, line.disbursements, line.enterprises) for line in lines],
    )


def progress_tables(progress: Progress) -> list[TableData]:
    """The report's breakdowns (year, bank, town, industry, grade) and the registry indicators."""
    indicators = TableData(
        "科技型企业与高新技术企业",
        (Column("指标", "text", 2), Column("2020年基数", "int", 1), Column("当前数量", "int", 1),
         Column("目标", "int", 1), Column("完成率", "percent", 1)),
        [(item.label, item.baseline, item.count, item.target, item.percent / 100) for item in progress.indicators.values()],
    )
    return [
        _breakdown_table("按年度", "年度", progress.by_year),
        _breakdown_table("按合作银行", "合作银行", progress.by_bank),
        _breakdown_table("按乡镇（街道）", "乡镇（街道）", progress.by_town),
        _breakdown_table("按行业", "行业", progress.by_industry),
        _breakdown_table("按企业评级", "评级", progress.by_grade),
        indicators,
    ]


def render_progress_report(
    as_of: date,
    *,
    number: str,
    title: str,
    generated_at: datetime | None = None,
    version: int | None = None,
) -> bytes:
    """The programme progress report as of ``as_of`` (the whole programme: not for bank liaisons)."""
    with force_locale("zh"):
        progress = program_progress(as_of)
        timeline = program_timeline(as_of)
        projection = (
            "已完成目标" if progress.target_reached
            else f"按近12个月进度，预计于 {progress.projected_completion_date.isoformat()} 完成目标"
            if progress.projected_completion_date is not None
            else f"按近12个月进度，截止日 {progress.target_date.isoformat()} 前无法完成目标"
        )
        story = pdf.document_title("知识价值信用贷款项目进度报告", f"截至 {pdf.chinese_date(as_of)}")
        story.append(pdf.field_table([
            ("累计目标", f"{pdf.yuan(progress.target)}（截止 {progress.target_date.isoformat()}）"),
            ("累计放款", pdf.yuan(progress.cumulative_disbursed)),
            ("完成比例", f"{progress.percent}%"),
            ("尚需完成", pdf.yuan(progress.remaining)),
            ("期初累计（2020年及以前）", pdf.yuan(progress.opening) + ("（计入目标）" if progress.opening_counted else "（不计入目标）")),
            ("系统登记放款", f"{pdf.yuan(progress.disbursed)}，{progress.disbursements} 笔，{progress.enterprises} 家企业"),
            ("近12个月放款", pdf.yuan(progress.trailing_12m_disbursed)),
            ("进度预测", projection),
        ], columns=2, label_width=30 * mm))
        story.append(pdf.heading("累计放款与目标"))
        story.append(_timeline_chart(timeline))
        story.append(pdf.heading("年度放款"))
        story.append(_year_chart(progress))
        for table in progress_tables(progress):
            story += pdf.data_table(table)
        story.append(pdf.note("累计放款含各合作银行在系统中登记的全部放款（还款不冲减）；占比为各项占合计的比例。"))
        return pdf.build_pdf(story, title=title, number=number, generated_at=generated_at, version=version,
                             subject="项目进度报告")
