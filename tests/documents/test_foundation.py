"""core.pdf (A4 pages, Chinese text, numbered pages, repeated table headers, amounts) and the store
(SHA-256, versions that never replace each other)."""
from __future__ import annotations

import hashlib
import time
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa
from pypdf import PdfReader
from sqlalchemy.exc import IntegrityError

from core import pdf
from core.db import db
from core.documents.models import Document
from core.documents.rows import tables_xlsx
from core.documents.store import (
    documents_of,
    latest_document,
    next_version,
    period_bounds,
    period_of,
    store_document,
)
from tests.documents.conftest import flat, pdf_pages

D = Decimal
GENERATED = datetime(2025, 12, 31, 4, 0, tzinfo=timezone.utc)  # 12:00 in Shanghai


def _table(rows: int) -> pdf.TableData:
    return pdf.TableData(
        "贷款明细",
        (pdf.Column("合同编号", "code"), pdf.Column("借款企业", "text", 2), pdf.Column("贷款余额（元）", "money")),
        [(f"HT-{n:04d}", f"测试企业{n}", D("1234.50")) for n in range(rows)],
        total=("合计", None, D("1234.50") * rows),
    )


def _build(story, **kwargs) -> bytes:
    return pdf.build_pdf(story, title="测试文件", number="TEST-0001", generated_at=GENERATED, **kwargs)


def test_every_page_has_header_and_footer_with_page_x_of_y_time_and_number():
    data = _build(pdf.document_title("测试报表") + pdf.data_table(_table(150)), version=2)
    assert data.startswith(b"%PDF-")
    pages = pdf_pages(data)
    assert len(pages) >= 3
    reader = PdfReader(__import__("io").BytesIO(data))
    width, height = (float(v) for v in reader.pages[0].mediabox.upper_right)
    assert (round(width), round(height)) == (595, 842)  # A4 in points
    for number, text in enumerate(pages, start=1):
        compact = flat(text)
        assert f"第{number}页共{len(pages)}页" in compact
        assert "生成时间：2025-12-3112:00:00" in compact  # Asia/Shanghai
        assert "文件编号：TEST-0001（第2版）" in compact
        assert "科技金融服务平台" in compact and "测试文件" in compact


def test_a_long_table_repeats_its_header_row_on_every_page():
    pages = pdf_pages(_build(pdf.data_table(_table(150))))
    assert len(pages) >= 3
    for text in pages:
        assert "合同编号" in text and "借款企业" in text and "贷款余额（元）" in flat(text)
    everything = "\n".join(pages)
    assert all(f"HT-{n:04d}" in everything for n in (0, 75, 149))
    assert "185,175.00" in everything  # the totals row, once, on the last page
    assert "185,175.00" in pages[-1]


def test_amounts_in_figures_and_capitals_follow_the_central_bank_rules():
    cases = {
        D("1000000.00"): "人民币壹佰万元整",
        D("1409.50"): "人民币壹仟肆佰零玖元伍角",
        D("6007.14"): "人民币陆仟零柒元壹角肆分",
        D("16409.02"): "人民币壹万陆仟肆佰零玖元零贰分",
        D("325.04"): "人民币叁佰贰拾伍元零肆分",
    }
    for amount, words in cases.items():
        assert pdf.capitals(amount) == words
    assert pdf.yuan(D("1000000.00")) == "¥1,000,000.00"
    assert pdf.figures(D("1409.5")) == "1,409.50"
    assert pdf.amount_text(D("16409.02")) == "人民币壹万陆仟肆佰零玖元零贰分（¥16,409.02）"
    text = flat("\n".join(pdf_pages(_build([pdf.paragraph(pdf.amount_text(D("6007.14")))]))))
    assert "人民币陆仟零柒元壹角肆分（¥6,007.14）" in text


def test_text_is_data_never_markup():
    story = [pdf.paragraph("企业<b>名称</b> & <font name='x'>"), pdf.field_table([("名称", "A<B>&C")])]
    text = flat("\n".join(pdf_pages(_build(story))))
    assert "企业<b>名称</b>&<fontname='x'>" in text and "A<B>&C" in text


def test_signature_blocks_and_numbered_clauses():
    story = pdf.clauses(["甲", ("标题", "正文")]) + pdf.clauses(["列表项"], numbering="list") + [
        pdf.signature_block([pdf.Signatory("甲方（出借人）", "出借人名称"), pdf.Signatory("乙方（借款人）", "借款人名称")],
                            signed_on=date(2025, 6, 23)),
    ]
    text = flat("\n".join(pdf_pages(_build(story))))
    for words in ("第一条甲", "第二条标题正文", "1．列表项", "甲方（出借人）：", "出借人名称", "（盖章）", "日期：2025年6月23日"):
        assert words in text, words
    with pytest.raises(ValueError):
        pdf.signature_block([])


def test_a_contract_sized_document_renders_in_tens_of_milliseconds():
    def story():
        return (
            pdf.document_title("借款合同", "合同编号：ZZJJ-2025-0001")
            + [pdf.field_table([("出借人", "甲"), ("借款人", "乙"), ("受托银行", "丙")])]
            + pdf.clauses([("借款金额", pdf.amount_text(D("300000.00")))] + ["条款正文。" * 30] * 10)
            + pdf.data_table(pdf.TableData("还款计划", (pdf.Column("期次", "seq"), pdf.Column("还款日", "date"),
                                                        pdf.Column("本金", "money")),
                                           [(n, date(2025, 7, 24), D("12500.00")) for n in range(1, 25)]))
            + [pdf.signature_block([pdf.Signatory("甲方", "甲"), pdf.Signatory("乙方", "乙"), pdf.Signatory("丙方", "丙")])]
        )

    _build(story)  # warm up (first use of the font's metrics)
    started = time.perf_counter()
    for _ in range(10):
        _build(story)
    assert (time.perf_counter() - started) / 10 < 0.15


def test_periods_and_ranges():
    assert period_bounds("2024-02") == (date(2024, 2, 1), date(2024, 2, 29))
    assert period_of(date(2025, 6, 1), date(2025, 6, 30)) == "2025-06"
    assert period_of(date(2025, 6, 1), date(2025, 6, 29)) is None
    for bad in ("2025-13", "2025-6", "", "202506"):
        with pytest.raises(ValueError):
            period_bounds(bad)


def _pdf(label: str) -> bytes:
    return _build([pdf.paragraph(label)])


def test_a_new_version_never_replaces_the_old_one(app_ctx):
    first_bytes, second_bytes = _pdf("第一版"), _pdf("第二版")
    first = store_document(kind="fund_statement", title="报表", pdf_bytes=first_bytes, period="2025-06",
                           owner_type="fund", owner_id=1, created_by="tester")
    second = store_document(kind="fund_statement", title="报表", pdf_bytes=second_bytes, period="2025-06",
                            owner_type="fund", owner_id=1, created_by="tester")
    other = store_document(kind="fund_statement", title="报表", pdf_bytes=first_bytes, period="2025-06",
                           owner_type="fund", owner_id=2, created_by="tester")
    assert (first.version, second.version, other.version) == (1, 2, 1)
    assert first.sha256 == hashlib.sha256(first_bytes).hexdigest() and first.size == len(first_bytes)
    assert second.sha256 == hashlib.sha256(second_bytes).hexdigest() != first.sha256
    assert (first.period_start, first.period_end) == (date(2025, 6, 1), date(2025, 6, 30))
    db.session.expire_all()
    assert db.session.get(Document, first.id).content == first_bytes  # untouched
    assert latest_document("fund_statement", "fund", 1, "2025-06").id == second.id
    assert [d.version for d in documents_of("fund_statement", "fund", 1, "2025-06")] == [2, 1]
    assert next_version("fund_statement", "fund", 1, "2025-06") == 3
    assert latest_document("fund_statement", "fund", 1, "2025-07") is None


def test_the_database_refuses_a_second_document_with_the_same_version(app_ctx):
    # Series without owner or period: NULLs are distinct in UNIQUE, the series key is not.
    store_document(kind="progress", title="进度", pdf_bytes=_pdf("一"), created_by="tester")
    assert next_version("progress") == 2
    with pytest.raises(IntegrityError):
        with db.session.begin_nested():
            store_document(kind="progress", title="进度", pdf_bytes=_pdf("二"), created_by="tester", version=1)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Document)) == 1


def test_the_store_refuses_what_is_not_a_document(app_ctx):
    with pytest.raises(ValueError):
        store_document(kind="memo", title="x", pdf_bytes=_pdf("x"), created_by="t")
    with pytest.raises(ValueError):
        store_document(kind="progress", title="x", pdf_bytes=b"not a pdf", created_by="t")
    with pytest.raises(ValueError):
        store_document(kind="progress", title="x", pdf_bytes=_pdf("x"), owner_id=3, created_by="t")


def test_rows_export_neutralises_formulas_and_keeps_amounts_numeric():
    from io import BytesIO

    from openpyxl import load_workbook

    table = pdf.TableData(
        "明细", (pdf.Column("企业", "text"), pdf.Column("金额", "money"), pdf.Column("日期", "date"), pdf.Column("笔数", "int")),
        [("=HYPERLINK(\"http://x\",\"点我\")", D("1234.56"), date(2025, 6, 30), 3), ("@SUM(A1)", D("-1.00"), None, 0),
         ("-2+3", D("0.00"), date(2025, 7, 1), 1), ("正常企业", D("1.00"), date(2025, 7, 1), 1)],
        total=("合计", D("1234.56"), None, 5),
    )
    sheet = load_workbook(BytesIO(tables_xlsx([table], title="=标题"))).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[0][0] == "'=标题 — 明细"
    assert values[1] == ["企业", "金额", "日期", "笔数"]
    assert values[2][0] == "'=HYPERLINK(\"http://x\",\"点我\")" and values[3][0] == "'@SUM(A1)" and values[4][0] == "'-2+3"
    assert values[5][0] == "正常企业"
    assert values[2][1] == D("1234.56") or values[2][1] == 1234.56  # a number, not text
    assert isinstance(values[2][1], (int, float, Decimal)) and sheet["B3"].number_format == "#,##0.00"
    assert values[2][2].date() == date(2025, 6, 30)
    assert values[6][0] == "合计"


def test_line_breaking_follows_the_chinese_rules():
    from core.pdf import _break_lines

    def lines_of(text: str, width: float, indent: float = 0) -> list[str]:
        return ["".join(unit[1] for unit in line) for line in _break_lines(text, 10, width, indent)]

    # Ten characters of 10 pt per line: the comma hangs at the end of the first line, never starts one.
    assert lines_of("一二三四五六七八九十，一二三", 100) == ["一二三四五六七八九十，", "一二三"]
    # An opening bracket moves to the next line with what it opens.
    assert lines_of("一二三四五六七八九（十一）", 100) == ["一二三四五六七八九", "（十一）"]
    # ASCII words stay whole; a word wider than the line is cut.
    assert lines_of("一二三四五六七八 ZZJJ-2025-0001", 100)[1] == "ZZJJ-2025-0001"
    assert "".join(lines_of("A" * 40, 60)) == "A" * 40
    # No empty line after a hanging mark at the end; explicit newlines are kept; the indent counts.
    assert lines_of("一二三四五六七八九十。", 100) == ["一二三四五六七八九十。"]
    assert lines_of("甲\n\n乙", 100) == ["甲", "", "乙"]
    assert lines_of("一二三四五六七八九十", 100, indent=20) == ["一二三四五六七八", "九十"]


def test_a_long_paragraph_continues_on_the_next_page():
    text = "本条款内容较长，用于检验跨页续排。" * 400
    pages = pdf_pages(_build([pdf.paragraph(text)]))
    assert len(pages) >= 2
    body = ["\n".join(line for line in page.splitlines() if "科技金融服务平台" not in line and "生成时间" not in line)
            for page in pages]
    assert flat("".join(body)) == text  # nothing lost or doubled at the page breaks
