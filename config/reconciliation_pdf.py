"""The monthly reconciliation report (月度对账报告, domain.md §8), built on ``core.pdf`` and stored with
``core.documents.store.store_document(kind="reconciliation", period=...)``.

One version per run, and one more at sign-off carrying the auditor's name, time and comment: a
version is never replaced, so the report the auditor signed and every earlier one stay verifiable
by their SHA-256. Content: the month's conclusion, the journal and trial-balance checks, control
accounts against sub-ledgers, the banks' tapes, the differences (the first
:data:`MAX_LISTED_DIFFERENCES`; every one of them is on the result page and in the API) and the
signature blocks. Chinese whatever the interface language.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask_babel import force_locale
from reportlab.lib.units import mm

from config import reconciliation
from core import clock, pdf
from core.audit.trail import current_actor
from core.auth.models import User
from core.db import db
from core.documents.store import next_version, store_document
from core.pdf import Column, TableData
from core.periods import period_bounds
from core.reconciliation import SIGNED_OFF, ReconciliationResult, attach_document

__all__ = ["MAX_LISTED_DIFFERENCES", "render_report", "report_number", "report_title", "store_report"]

KIND = "reconciliation"
MAX_LISTED_DIFFERENCES = 1000
"""Differences listed in the PDF: a report stays a document people read (and renders in seconds)."""

_CONCLUSIONS = {
    "balanced": "账实相符：各项核对均无差异",
    "differences": "存在差异：见差异明细",
}



def report_title(period: str) -> str:
    year, month = period.split("-")
    return f"{int(year)}年{int(month)}月月度对账报告"


def report_number(period: str) -> str:
    return f"DZBG-{period.replace('-', '')}"


def _person(username: str | None) -> str:
    """A username as the report prints it: the person's name, and the login in brackets."""
    if not username:
        return ""
    name = db.session.scalar(sa.select(User.display_name).where(User.username == username))
    return f"{name}（{username}）" if name and name != username else username


def _money(text: str | None) -> Decimal | None:
    return None if text in (None, "") else Decimal(str(text))


def _ok(flag: bool) -> str:
    return "相符" if flag else "不符"


def _tables(result: ReconciliationResult) -> list[TableData]:
    checks = result.checks or []
    journal = [c for c in checks if c["check"] == "journal"]
    balances = [c for c in checks if c["check"] == "trial_balance"]
    controls = [c for c in checks if c["check"] == "control_account"]
    tapes = [c for c in checks if c["check"] == "tape"]
    ledger_rows: list[list[Any]] = [
        ["记账分录", f"截至月末 {c['entries']} 笔", None, None, _ok(c["ok"])] for c in journal
    ] + [
        ["试算平衡", reconciliation.fund_label(c["fund"]), _money(c["debit"]), _money(c["credit"]), _ok(c["ok"])]
        for c in balances
    ]
    tables = [
        TableData(
            "一、记账分录与试算平衡",
            [Column("项目", "text", 1.2), Column("对象", "text", 2), Column("借方合计", "money", 1.5),
             Column("贷方合计", "money", 1.5), Column("结果", "text", 0.8)],
            ledger_rows,
            notes=("每笔分录须已过账、至少两行且借贷相等；各基金试算平衡表借方合计等于贷方合计。",),
        ),
        TableData(
            "二、总账与明细账核对",
            [Column("科目", "text", 3), Column("总账余额", "money", 1.3), Column("明细账合计", "money", 1.4),
             Column("差额", "money", 1.2), Column("结果", "text", 0.7)],
            [
                [reconciliation.account_label(c["account"]), _money(c["ledger"]), _money(c["subledger"]),
                 _money(c["ledger"]) - _money(c["subledger"]), _ok(c["ok"])]
                for c in controls
            ],
        ),
        TableData(
            "三、银行月末台账核对",
            [Column("合作银行", "text", 2), Column("台账版本", "int", 0.8), Column("行数", "int", 0.8),
             Column("差异项数", "int", 0.9), Column("文件 SHA-256（前 16 位）", "code", 1.8), Column("结果", "text", 0.7)],
            [[c["bank_name"], c["version"], c["rows"], c["differences"], c["sha256"][:16], _ok(c["ok"])] for c in tapes],
            empty_text="本月没有银行报送台账",
        ),
    ]
    listed = result.differences[:MAX_LISTED_DIFFERENCES]
    notes = []
    if len(result.differences) > len(listed):
        notes.append(f"共 {len(result.differences)} 项差异，本报告列出前 {len(listed)} 项；全部差异见平台月度对账页面。")
    tables.append(
        TableData(
            "四、差异明细",
            [Column("序号", "seq", 0.5), Column("类别", "text", 1.2), Column("说明", "text", 5)],
            [[n, reconciliation.kind_label(d["kind"]), reconciliation.describe(d)] for n, d in enumerate(listed, start=1)],
            empty_text="无差异",
            notes=tuple(notes),
        )
    )
    return tables


def render_report(result: ReconciliationResult, *, version: int | None = None) -> bytes:
    """The report's PDF for ``result`` as it stands (signed off or not)."""
    with force_locale("zh"):
        start, end = period_bounds(result.period)
        story = pdf.document_title(
            "月度对账报告", f"对账期间：{pdf.chinese_date(start)}至{pdf.chinese_date(end)}（截至月末）"
        )
        summary = [
            ("对账月份", result.period),
            ("结论", _CONCLUSIONS.get(result.status, "已签核") if result.status != SIGNED_OFF else
             ("已签核：" + ("存在差异，已说明" if result.difference_count else "账实相符"))),
            ("差异项数", str(result.difference_count)),
            ("对账时间", pdf.format_cell(result.run_at, "text")),
            ("运行次数", f"第 {result.runs} 次（再次对账替换前次结果）"),
            ("输入摘要", result.digest[:32]),
        ]
        if result.status == SIGNED_OFF:
            summary += [
                ("签核人", _person(result.signed_off_by)),
                ("签核时间", pdf.format_cell(result.signed_off_at, "text")),
                ("签核意见", result.sign_off_comment or "无"),
                ("结账", f"{result.period} 及以前月份已结账，不再接受日期在其中的记录"),
            ]
        story.append(pdf.field_table(summary, columns=1, label_width=28 * mm))
        story.append(pdf.note("金额单位：人民币元。核对以月末日为截止日：账簿取截至月末已过账分录，贷款按月末状态计算，"
                              "银行台账取该月最新版本。"))
        for table in _tables(result):
            story += pdf.data_table(table)
        signed_on = result.signed_off_at.astimezone(clock.BUSINESS_TZ).date() if result.signed_off_at else None
        story.append(pdf.signature_block([
            pdf.Signatory("编制", pdf.PLATFORM_NAME, signer="经办人（签字）", seal=False),
            pdf.Signatory("审计签核", _person(result.signed_off_by) or "财务审计", signer="审计人员（签字）"),
        ], signed_on=signed_on))
        return pdf.build_pdf(story, title=report_title(result.period), number=report_number(result.period),
                             version=version, subject="月度对账报告")


def store_report(result: ReconciliationResult) -> int:
    """Render the report as the next version of the month's series, store it, link it; its document id."""
    version = next_version(KIND, None, None, result.period)
    document = store_document(
        kind=KIND,
        title=report_title(result.period),
        pdf_bytes=render_report(result, version=version),
        period=result.period,
        created_by=current_actor().username,
        number=report_number(result.period),
        version=version,
    )
    attach_document(result, document.id)
    return document.id
