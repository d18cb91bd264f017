"""The seed fund's documents (domain.md §8), built on ``core.pdf``:

* the **seed-loan contract** (创业种子基金免息借款合同): contract number; the parties — the fund
  manager as lender, the borrower, the agent bank (委托贷款受托行); the amount in figures and in
  capitals; interest-free; the term from–to; the repayment schedule table; the purpose; the default
  clause; signature and seal blocks for the three parties. Before disbursement the schedule is not
  fixed yet (it counts from the disbursement date): the contract then shows the plan counted from
  the contract date and says the dates follow the actual disbursement date;
* the **seed fund statement** (创业种子基金资金报表) for any date range: the fund's figures at the end,
  the ledger's opening balance, movements and closing balance, and the loans disbursed, repaid,
  written off and recovered in the range.

PDF content is Chinese whatever the interface language (``force_locale("zh")``).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app, has_app_context
from flask_babel import force_locale
from reportlab.lib.units import mm

from core import pdf
from core.db import db
from core.documents.ledger_statement import LedgerStatement, ledger_statement
from core.pdf import Column, TableData
from funds.accounts import CASH, FUND
from funds.models import SeedLoan, SeedRecovery, SeedRepayment
from funds.queries import FundFigures, fund_figures
from funds.schedule import add_months, build_schedule
from parties.models import Enterprise

__all__ = [
    "FUND_MANAGER_NAME",
    "FUND_NAME",
    "SeedStatementData",
    "contract_title",
    "render_seed_contract",
    "render_seed_fund_statement",
    "seed_statement_data",
    "seed_statement_tables",
]

ZERO = Decimal("0.00")
FUND_NAME = "创业种子基金"
FUND_MANAGER_NAME = "县创业种子基金管理人"
"""The lender's name on contracts; a deployment sets ``SEED_FUND_MANAGER_NAME`` in its configuration."""
REPAYMENT_LABELS = {"bullet": "到期一次还本", "monthly": "按月等额还本"}


def fund_manager_name() -> str:
    if has_app_context():
        return current_app.config.get("SEED_FUND_MANAGER_NAME") or FUND_MANAGER_NAME
    return FUND_MANAGER_NAME


def contract_title(loan: SeedLoan) -> str:
    """The document's title: it carries the contract number (api.md) and the borrower."""
    return f"创业种子基金借款合同 {loan.contract_no}（{loan.enterprise.name}）"


# ------------------------------------------------------------------------------------------ contract


def _schedule(loan: SeedLoan) -> tuple[list[tuple[int, date, Decimal]], bool]:
    """``[(seq, due_on, principal)]`` and whether it is the fixed schedule (False: the plan from the
    contract date, before disbursement fixes the dates)."""
    if loan.instalments:
        return [(line.seq, line.due_on, line.principal) for line in loan.instalments], True
    plan = build_schedule(loan.principal, loan.term_months, loan.repayment, loan.contracted_on)
    return [(seq, due_on, principal) for seq, (due_on, principal) in enumerate(plan, start=1)], False


def render_seed_contract(loan: SeedLoan, *, generated_at: datetime | None = None, version: int | None = None) -> bytes:
    """The contract's PDF (three parties, interest-free, schedule, signature and seal blocks)."""
    with force_locale("zh"):
        return pdf.build_pdf(_contract_story(loan), title=contract_title(loan), number=loan.contract_no,
                             generated_at=generated_at, version=version, subject="创业种子基金免息借款合同")


def _contract_story(loan: SeedLoan) -> list:
    lender = fund_manager_name()
    borrower = loan.enterprise
    bank = loan.agent_bank
    schedule, fixed = _schedule(loan)
    if loan.disbursed_on is not None:
        start, end = loan.disbursed_on, loan.maturity_date or add_months(loan.disbursed_on, loan.term_months)
        term = f"{loan.term_months} 个月，自 {pdf.chinese_date(start)} 起至 {pdf.chinese_date(end)} 止。"
    else:
        start, end = loan.contracted_on, add_months(loan.contracted_on, loan.term_months)
        term = (f"{loan.term_months} 个月，自丙方实际放款之日起算；以合同签订日起算为 {pdf.chinese_date(start)} 起至 "
                f"{pdf.chinese_date(end)} 止，实际起止日以借款借据记载的放款日为准。")
    principal = loan.principal

    story = pdf.document_title("创业种子基金免息借款合同", f"合同编号：{loan.contract_no}")
    story.append(pdf.field_table([
        ("出借人（甲方）", f"{lender}（代表{FUND_NAME}）"),
        ("借款人（乙方）", borrower.name),
        ("统一社会信用代码", borrower.credit_code),
        ("乙方所在乡镇（街道）", borrower.town),
        ("受托银行（丙方）", f"{bank.name}（委托贷款受托行）"),
        ("借款金额", pdf.amount_text(principal)),
    ], label_width=36 * mm))
    story.append(pdf.spacer(3))
    story.append(pdf.paragraph(
        f"根据《中华人民共和国民法典》及{FUND_NAME}管理的有关规定，乙方向{FUND_NAME}申请创业种子基金借款，经初审、"
        f"专家评审、决策及公示程序，甲方同意通过丙方以委托贷款方式向乙方发放免息借款。甲、乙、丙三方经平等协商，"
        f"订立本合同，共同遵守。"
    ))
    story += pdf.clauses([
        ("借款金额", f"甲方同意向乙方出借{pdf.amount_text(principal)}。"),
        ("借款利率", "本借款为免息借款，年利率为零。甲方不向乙方收取利息，丙方受托发放和收回借款，"
                     "不向乙方收取利息或其他费用。"),
        ("借款期限", term),
        ("借款用途", f"{loan.purpose or '乙方科技创新及生产经营'}。乙方应专款专用，不得挪作他用，"
                     "不得用于证券、期货、房地产等投资或归还其他债务。"),
        ("还款方式", f"{REPAYMENT_LABELS.get(loan.repayment, loan.repayment)}，共 {len(schedule)} 期，"
                     "各期应还本金见下表“还款计划”。乙方应于每期还款日前将应还本金足额存入丙方指定账户，由丙方代为收回。"),
    ])
    story += pdf.data_table(TableData(
        "还款计划" + ("" if fixed else "（按合同签订日预排，实际还款日自放款日起算）"),
        (Column("期次", "seq", 0.6), Column("还款日", "date", 1.2), Column("应还本金（元）", "money", 1.5),
         Column("累计应还本金（元）", "money", 1.5)),
        _with_cumulative(schedule),
        total=("合计", None, sum((line[2] for line in schedule), ZERO), None),
    ))
    story.append(pdf.note(f"还款计划各期本金合计等于借款金额{pdf.yuan(principal)}（{pdf.capitals(principal)}）。"))
    story += pdf.clauses([
        ("放款与收款", "丙方根据甲方的委托，在本合同生效且乙方提交借款借据后，将借款划入乙方在丙方开立的账户；"
                       "乙方归还的本金由丙方收回并划入创业种子基金专户。"),
        ("提前还款", "乙方可以提前归还全部或部分借款本金，提前还款不收取任何费用。提前归还的本金按还款计划由近及远冲抵。"),
        ("违约责任", "乙方未按期足额归还本金的，自逾期之日起计算逾期天数，并按五级分类纳入管理；逾期超过90天的，"
                     "甲方有权宣布全部借款提前到期，要求乙方立即归还全部未还本金，并依法追偿。乙方挪用借款、提供虚假材料"
                     "或被列入失信被执行人名单的，甲方有权解除本合同、收回已发放的借款，并将相关情况纳入信用记录。"),
        ("信息报送", "乙方应按甲方要求报送财务报表及借款使用情况，接受甲方和丙方对借款使用情况的检查。"),
        ("争议解决", "因本合同发生的争议，由三方协商解决；协商不成的，任何一方可向甲方所在地人民法院提起诉讼。"),
        ("合同生效", f"本合同自三方签字（盖章）之日起生效，至借款本金全部清偿之日终止。本合同一式三份，甲、乙、丙三方"
                     f"各执一份，具有同等法律效力。合同签订日期：{pdf.chinese_date(loan.contracted_on)}。"),
    ], start=6)
    story.append(pdf.paragraph("（以下无正文）", pdf.styles.subtitle))
    story.append(pdf.signature_block([
        pdf.Signatory("甲方（出借人）", lender),
        pdf.Signatory("乙方（借款人）", borrower.name),
        pdf.Signatory("丙方（受托银行）", bank.name, signer="负责人或授权代表（签字）"),
    ], signed_on=loan.contracted_on))
    return story


def _with_cumulative(schedule: list[tuple[int, date, Decimal]]) -> list[tuple]:
    rows, running = [], ZERO
    for seq, due_on, principal in schedule:
        running += principal
        rows.append((seq, due_on, principal, running))
    return rows


# ------------------------------------------------------------------------------------ fund statement


@dataclass(frozen=True)
class SeedStatementData:
    start: date
    end: date
    figures: FundFigures
    ledger: LedgerStatement
    loans: TableData


def seed_statement_data(start: date, end: date) -> SeedStatementData:
    """The seed fund from ``start`` to ``end`` inclusive: figures at the end, the ledger, the loans' movements."""
    with force_locale("zh"):
        figures = fund_figures(end)
        ledger = ledger_statement(FUND, CASH, start, end, numbering=("二、", "三、"))
        return SeedStatementData(start=start, end=end, figures=figures, ledger=ledger, loans=_loan_movements(start, end))


def _loan_movements(start: date, end: date) -> TableData:
    """Seed loans disbursed, repaid, written off and recovered in the range (four small queries)."""
    rows: list[tuple] = []
    for loan_no, name, on, amount in db.session.execute(
        sa.select(SeedLoan.contract_no, Enterprise.name, SeedLoan.disbursed_on, SeedLoan.principal)
        .join(Enterprise, Enterprise.id == SeedLoan.enterprise_id)
        .where(SeedLoan.disbursed_on >= start, SeedLoan.disbursed_on <= end)
    ):
        rows.append((on, "放款", loan_no, name, amount))
    for loan_no, name, on, amount in db.session.execute(
        sa.select(SeedLoan.contract_no, Enterprise.name, SeedRepayment.paid_on, SeedRepayment.amount)
        .join(SeedLoan, SeedLoan.id == SeedRepayment.loan_id)
        .join(Enterprise, Enterprise.id == SeedLoan.enterprise_id)
        .where(SeedRepayment.paid_on >= start, SeedRepayment.paid_on <= end)
    ):
        rows.append((on, "还款", loan_no, name, amount))
    for loan_no, name, on, amount in db.session.execute(
        sa.select(SeedLoan.contract_no, Enterprise.name, SeedLoan.written_off_on, SeedLoan.written_off_principal)
        .join(Enterprise, Enterprise.id == SeedLoan.enterprise_id)
        .where(SeedLoan.written_off_on >= start, SeedLoan.written_off_on <= end)
    ):
        rows.append((on, "核销", loan_no, name, amount))
    for loan_no, name, on, amount in db.session.execute(
        sa.select(SeedLoan.contract_no, Enterprise.name, SeedRecovery.recovered_on, SeedRecovery.amount)
        .join(SeedLoan, SeedLoan.id == SeedRecovery.loan_id)
        .join(Enterprise, Enterprise.id == SeedLoan.enterprise_id)
        .where(SeedRecovery.recovered_on >= start, SeedRecovery.recovered_on <= end)
    ):
        rows.append((on, "核销后收回", loan_no, name, amount))
    rows.sort(key=lambda row: (row[0], row[2]))
    return TableData(
        "四、本期借款发放与收回",
        (Column("日期", "date", 0.9), Column("类型", "text", 0.9), Column("合同编号", "code", 1.2),
         Column("借款企业", "text", 2.4), Column("金额（元）", "money", 1.2)),
        rows,
    )


def seed_statement_tables(data: SeedStatementData) -> list[TableData]:
    """The statement's tables in the PDF's order (the Excel export writes one sheet each)."""
    return [_figures_table(data.figures), data.ledger.accounts, data.ledger.cash, data.loans]


def _figures_table(figures: FundFigures) -> TableData:
    return TableData(
        "一、基金概况（期末）",
        (Column("项目", "text", 2), Column("金额（元）", "money", 1.5)),
        [
            ("基金规模", figures.size),
            ("实收资本", figures.paid_in),
            ("银行存款（现金）", figures.cash),
            ("已批准待放款（承诺）", figures.committed),
            ("可用额度（现金减承诺）", figures.available),
            ("借款余额", figures.outstanding),
            ("累计放款（含期初）", figures.disbursed_cumulative),
            ("累计收回本金", figures.repaid_total),
            ("累计核销", figures.written_off_total),
            ("核销后累计收回", figures.recovered_total),
        ],
        width=0.62,
    )


def render_seed_fund_statement(
    data: SeedStatementData,
    *,
    number: str,
    title: str,
    generated_at: datetime | None = None,
    version: int | None = None,
) -> bytes:
    """The seed fund statement's PDF: opening balance, movements, closing balance."""
    with force_locale("zh"):
        ledger = data.ledger
        story = pdf.document_title(
            f"{FUND_NAME}资金报表",
            f"报表期间：{pdf.chinese_date(data.start)}至{pdf.chinese_date(data.end)}",
        )
        story.append(pdf.field_table([
            ("期初银行存款", pdf.yuan(ledger.opening_cash)),
            ("本期收入", pdf.yuan(ledger.receipts)),
            ("本期支出", pdf.yuan(ledger.payments)),
            ("期末银行存款", f"{pdf.yuan(ledger.closing_cash)}（{pdf.capitals(max(ledger.closing_cash, ZERO))}）"),
        ], columns=2, label_width=26 * mm))
        story.append(pdf.note("金额单位：人民币元。期初为报表起始日前一日的余额，期末为报表截止日的余额；数据取自种子基金复式记账账簿。"))
        for table in seed_statement_tables(data):
            story += pdf.data_table(table)
        story.append(pdf.signature_block([
            pdf.Signatory("编制", fund_manager_name(), signer="编制人（签字）"),
            pdf.Signatory("复核", fund_manager_name(), signer="复核人（签字）", seal=False),
        ]))
        return pdf.build_pdf(story, title=title, number=number, generated_at=generated_at, version=version,
                             subject=f"{FUND_NAME}资金报表")
