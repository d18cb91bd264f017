"""Unit tests for loans.batch_format: the banks' upload layouts, parsed into typed rows.

The real sample files of /work/shared/samples (as partner banks send them) are read and
their values asserted exactly; malformed files must end in a TableError or row errors,
never in an exception of another kind.
"""
from __future__ import annotations

import csv
import io
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from core.tabular import ErrorCell, RowData, Table, TableError, read_table
from loans.batch_format import (
    DISBURSEMENT_LAYOUT,
    MAX_DAYS_PAST_DUE,
    MAX_TEXT_LENGTH,
    TAPE_LAYOUT,
    DisbursementRow,
    HeaderError,
    RowError,
    TapeRow,
    errors_by_row,
    map_headers,
    parse_disbursement_rows,
    parse_tape_rows,
    template_csv,
    template_xlsx,
)

D = Decimal
SAMPLES = Path(__file__).resolve().parents[1] / "samples"  # copies of the files partner banks send (shared/samples)
needs_samples = pytest.mark.skipif(
    not SAMPLES.is_dir(), reason=f"the partner banks' sample files are not in {SAMPLES}"
)

DISBURSEMENT_HEADERS = ["合同编号", "金额", "放款日期", "银行流水号"]
TAPE_HEADERS = ["合同编号", "统一社会信用代码", "累计放款", "累计还本", "贷款余额", "逾期天数"]

# disbursements-batch*: contract number suffix, amount, day of June 2025, bank reference.
SAMPLE_BATCH = [
    ("0001", "800000.00", 6, "NS20250606514002"),
    ("0002", "2000000.00", 3, "NS20250603175954"),
    ("0003", "1500000.00", 5, "NS20250605483452"),
    ("0004", "1500000.00", 3, "NS20250603632084"),
    ("0005", "500000.00", 3, "NS20250603190122"),
    ("0006", "1000000.00", 15, "NS20250615173248"),
    ("0007", "500000.00", 4, "NS20250604677814"),
    ("0008", "1000000.00", 3, "NS20250603967017"),
    ("0009", "1500000.00", 5, "NS20250605334083"),
    ("0010", "2000000.00", 22, "NS20250622711316"),
    ("0011", "300000.00", 20, "NS20250620713984"),
    ("0012", "1000000.00", 3, "NS20250603331821"),
    ("0013", "300000.00", 19, "NS20250619239643"),
    ("0014", "800000.00", 15, "NS20250615251262"),
    ("0015", "1500000.00", 5, "NS20250605698646"),
    ("0016", "800000.00", 19, "NS20250619955770"),
    ("0017", "2000000.00", 7, "NS20250607208061"),
    ("0018", "1500000.00", 20, "NS20250620769949"),
    ("0019", "500000.00", 13, "NS20250613202163"),
    ("0020", "1500000.00", 24, "NS20250624165839"),
]
EXPECTED_BATCH = [
    DisbursementRow(number + 2, f"DJNS-KV-2025-{suffix}", D(amount), date(2025, 6, day), bank_ref)
    for number, (suffix, amount, day, bank_ref) in enumerate(SAMPLE_BATCH)
]

# bank-tape-2025-06*: suffix, credit code, disbursed total, repaid, outstanding, DPD.
SAMPLE_TAPE = [
    ("0001", "91500231K6FMHDQAE3", "800000.00", "400000.00", "400000.00", 0),
    ("0002", "91500231B97R5NQ723", "2000000.00", "1000000.00", "1000000.00", 0),
    ("0003", "91500231GFWAPE9K2C", "1500000.00", "750000.00", "750000.00", 0),
    ("0004", "91500231D5QA4XFD1Y", "1500000.00", "0.00", "1500000.00", 15),
    ("0005", "91500231JRWTAANBKM", "500000.00", "0.00", "500000.00", 15),
    ("0006", "91500231RE2T2Y8FNX", "1000000.00", "250000.00", "750000.00", 95),
    ("0007", "91500231PN9LJMTE9B", "500000.00", "0.00", "500000.00", 0),
    ("0008", "915002310YEB5K3F11", "1000000.00", "250000.00", "750000.00", 0),
    ("0009", "915002314P7CCXUF21", "1500000.00", "0.00", "1500000.00", 0),
    ("0010", "91500231CH8W4TDUHN", "2000000.00", "0.00", "2000000.00", 0),
    ("0011", "91500231BMWCY74254", "300000.00", "0.00", "300000.00", 0),
    ("0012", "91500231M70FTJ589U", "1000000.00", "0.00", "1000000.00", 0),
    ("0013", "91500231DHBKJAY4NE", "300000.00", "0.00", "300000.00", 0),
    ("0014", "91500231LMP1EWUQYH", "800000.00", "400000.00", "400000.00", 95),
    ("0015", "91500231CCC3FLC16U", "1500000.00", "750000.00", "750000.00", 0),
    ("0016", "91500231E53AK130J5", "800000.00", "0.00", "800000.00", 0),
    ("0017", "915002313YBK02U6KA", "2000000.00", "0.00", "2000000.00", 15),
    ("0018", "91500231L8YBKBF33A", "1500000.00", "375000.00", "1125000.00", 0),
    ("0019", "91500231FF9243PAPB", "500000.00", "125000.00", "375000.00", 0),
    ("0020", "91500231TN5G06YYGF", "1500000.00", "0.00", "1500000.00", 0),
]
EXPECTED_TAPE = [
    TapeRow(number + 2, f"DJNS-KV-2025-{suffix}", code, D(disbursed), D(repaid), D(outstanding), dpd)
    for number, (suffix, code, disbursed, repaid, outstanding, dpd) in enumerate(SAMPLE_TAPE)
]


def sample(name: str) -> Table:
    return read_table((SAMPLES / name).read_bytes(), name)


def csv_bytes(rows, encoding="utf-8") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(rows, text_cells: dict[str, str] | None = None) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(list(row))
    for coordinate, text in (text_cells or {}).items():
        sheet[coordinate].value = text
        sheet[coordinate].data_type = "s"  # stored as text even though it starts with "="
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def table(headers, *rows) -> Table:
    """A table as read_table would give it, rows numbered from 2."""
    numbered = [RowData(number, tuple(cells)) for number, cells in enumerate(rows, start=2)]
    return Table(headers=list(headers), rows=numbered)


def messages(errors: list[RowError]) -> list[str]:
    return [error.message for error in errors]


# ----------------------------------------------------------------------------- the samples


@needs_samples
def test_sample_disbursement_batch_gb18030_csv():
    rows, errors = parse_disbursement_rows(sample("disbursements-batch-gb18030.csv"))
    assert errors == []
    assert rows == EXPECTED_BATCH
    assert sum(row.amount for row in rows) == D("22500000.00")


@needs_samples
def test_sample_disbursement_batch_xlsx_gives_the_same_rows_as_the_csv():
    xlsx_rows, errors = parse_disbursement_rows(sample("disbursements-batch.xlsx"))
    assert errors == []
    assert xlsx_rows == EXPECTED_BATCH
    assert xlsx_rows == parse_disbursement_rows(sample("disbursements-batch-gb18030.csv"))[0]
    assert all(row.amount.as_tuple().exponent == -2 for row in xlsx_rows)


@needs_samples
@pytest.mark.parametrize("name", ["bank-tape-2025-06-utf8bom.csv", "bank-tape-2025-06.xlsx"])
def test_sample_bank_tapes(name):
    rows, errors = parse_tape_rows(sample(name))
    assert errors == []
    assert rows == EXPECTED_TAPE
    overdue = {row.contract_no[-4:]: row.days_past_due for row in rows if row.days_past_due}
    assert overdue == {"0004": 15, "0005": 15, "0006": 95, "0014": 95, "0017": 15}


@needs_samples
def test_the_sample_csv_really_is_gb18030_with_thousands_separators():
    raw = (SAMPLES / "disbursements-batch-gb18030.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert '"2,000,000.00"' in raw.decode("gb18030")


# ---------------------------------------------------------------------------------- headers


@pytest.mark.parametrize(
    "headers",
    [
        ["合同编号", "金额", "放款日期", "银行流水号"],
        ["contract_no", "amount", "disbursed_on", "bank_ref"],
        [" Contract_No ", "AMOUNT", "Disbursed On", "bank-ref"],
        ["\u3000合同编号\u3000", "金额（元）", "放款 日期", "ｂａｎｋ＿ｒｅｆ"],
        ["\ufeff合同编号", "金额(元)", "disbursed_on", "银行流水号"],
    ],
)
def test_headers_in_chinese_or_english(headers):
    expected = {"contract_no": 0, "amount": 1, "disbursed_on": 2, "bank_ref": 3}
    assert map_headers(headers, DISBURSEMENT_LAYOUT) == expected


def test_columns_may_come_in_any_order_and_blank_headers_are_ignored():
    headers = ["银行流水号", "", "放款日期", "amount", "合同编号"]
    expected = {"bank_ref": 0, "disbursed_on": 2, "amount": 3, "contract_no": 4}
    assert map_headers(headers, DISBURSEMENT_LAYOUT) == expected


def test_every_header_problem_is_listed_at_once():
    with pytest.raises(HeaderError) as caught:
        map_headers(["合同编号", "金额", "备注", "contract_no", "Amount"], DISBURSEMENT_LAYOUT)
    error = caught.value
    assert error.missing == ["放款日期", "银行流水号"]
    assert error.unknown == ["备注"]
    assert error.duplicate == ["contract_no", "Amount"]
    assert "缺少列：放款日期、银行流水号" in error.message
    assert "无法识别的列：备注" in error.message
    assert "重复的列：contract_no、Amount" in error.message
    assert "合同编号、金额、放款日期、银行流水号" in error.message
    assert isinstance(error, TableError)


def test_tape_headers():
    expected = {key: index for index, key in enumerate(TAPE_LAYOUT.keys)}
    assert map_headers(TAPE_HEADERS, TAPE_LAYOUT) == expected
    with pytest.raises(HeaderError) as caught:
        map_headers(DISBURSEMENT_HEADERS, TAPE_LAYOUT)
    assert caught.value.missing == ["统一社会信用代码", "累计放款", "累计还本", "贷款余额", "逾期天数"]
    assert caught.value.unknown == ["金额", "放款日期", "银行流水号"]


def test_the_parsers_refuse_a_table_with_wrong_headers():
    with pytest.raises(HeaderError):
        parse_tape_rows(table(DISBURSEMENT_HEADERS, ["DJ-1", "1.00", "2025-06-30", "R1"]))


# ------------------------------------------------------------------------------------ cells

GOOD = ["DJ-1", "1,000.00", "2025-06-30", "R1"]


def one_disbursement(**changes):
    """Parse one disbursement row: GOOD with some cells replaced (by key)."""
    cells = dict(zip(DISBURSEMENT_LAYOUT.keys, GOOD, strict=True)) | changes
    row = [cells[key] for key in DISBURSEMENT_LAYOUT.keys]
    return parse_disbursement_rows(table(DISBURSEMENT_LAYOUT.keys, row))


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("2025-06-30", date(2025, 6, 30)),
        ("2025/6/30", date(2025, 6, 30)),
        ("2025/06/03", date(2025, 6, 3)),
        ("2025.6.3", date(2025, 6, 3)),
        ("2025年6月30日", date(2025, 6, 30)),
        ("2025 年 6 月 3 日", date(2025, 6, 3)),
        ("２０２５-０６-３０", date(2025, 6, 30)),
        ("2025/6/30 0:00", date(2025, 6, 30)),
        (" 2025-06-30 ", date(2025, 6, 30)),
        (date(2025, 6, 30), date(2025, 6, 30)),
        (datetime(2025, 6, 30, 15, 45), date(2025, 6, 30)),
    ],
)
def test_dates(cell, expected):
    rows, errors = one_disbursement(disbursed_on=cell)
    assert errors == []
    assert rows[0].disbursed_on == expected


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        ("2025-02-30", "不是存在的日期"),
        ("2025-13-01", "不是存在的日期"),
        ("2025-06/30", "不是有效日期"),
        ("30/06/2025", "不是有效日期"),
        ("20250630", "不是有效日期"),
        ("明天", "不是有效日期"),
        (45838, "不是有效日期"),  # an Excel serial number in a cell not formatted as a date
        (time(9, 0), "不是有效日期"),
        ("٢٠٢٥-٠٦-٣٠", "不是有效日期"),  # Arabic-Indic digits
    ],
)
def test_bad_dates(cell, reason):
    rows, errors = one_disbursement(disbursed_on=cell)
    assert rows == []
    hint = "（应为 2025-06-30、2025/6/30 或 2025年6月30日）" if reason == "不是有效日期" else ""
    assert messages(errors) == [f"第 2 行：放款日期「{cell}」{reason}{hint}"]
    assert errors[0].column == "disbursed_on"


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("1,000,000.00", D("1000000.00")),
        ("¥500", D("500.00")),
        ("￥ 2,000.5", D("2000.50")),
        (" 12.34 ", D("12.34")),
        (800000, D("800000.00")),
        (D("1234.56"), D("1234.56")),
        (D("0.1"), D("0.10")),
        (D("1E+3"), D("1000.00")),
    ],
)
def test_amounts(cell, expected):
    rows, errors = one_disbursement(amount=cell)
    assert errors == []
    assert rows[0].amount == expected
    assert rows[0].amount.as_tuple().exponent == -2


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        ("abc", "不是有效金额（应为最多两位小数的数字，例如 1,000,000.00）"),
        ("1.005", "不是有效金额（应为最多两位小数的数字，例如 1,000,000.00）"),
        ("1,00,000", "不是有效金额（应为最多两位小数的数字，例如 1,000,000.00）"),
        ("-", "不是有效金额（应为最多两位小数的数字，例如 1,000,000.00）"),
        (D("1234.567"), "不是有效金额（最多两位小数）"),
        (D("0.30000000000000004"), "不是有效金额（最多两位小数）"),
        (True, "不是有效金额"),
        (date(2025, 1, 1), "不是有效金额"),
        ("0.00", "必须大于零"),
        (0, "必须大于零"),
        ("-5.00", "必须大于零"),
        (D("-1"), "必须大于零"),
        ("1,000,000,000,000.00", "超过上限 ¥999,999,999,999.99"),
    ],
)
def test_bad_amounts(cell, reason):
    rows, errors = one_disbursement(amount=cell)
    assert rows == []
    assert messages(errors) == [f"第 2 行：金额「{cell}」{reason}"]


def test_the_example_message_of_the_brief():
    bad = ["DJ-1", "abc", "2025-06-30", "R4"]
    data = csv_bytes([DISBURSEMENT_HEADERS, GOOD, GOOD[:3] + ["R2"], GOOD[:3] + ["R3"], bad])
    rows, errors = parse_disbursement_rows(read_table(data, "batch.csv"))
    assert [row.row for row in rows] == [2, 3, 4]
    assert messages(errors) == ["第 5 行：金额「abc」不是有效金额（应为最多两位小数的数字，例如 1,000,000.00）"]


@pytest.mark.parametrize(
    ("cell", "expected"),
    [(" DJNS-KV-2025-0001 ", "DJNS-KV-2025-0001"), (20250001, "20250001"), ("合同-甲-1", "合同-甲-1")],
)
def test_text_cells_are_trimmed_and_whole_numbers_accepted(cell, expected):
    rows, errors = one_disbursement(contract_no=cell)
    assert errors == []
    assert rows[0].contract_no == expected


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        (D("9.13501001234568E+17"), "应为文本（请把该列设置为文本格式，数字格式会丢失位数）"),
        (date(2025, 6, 30), "应为文本（请把该列设置为文本格式，数字格式会丢失位数）"),
        ("DJ\n1", "含有换行符或控制字符"),
        ("X" * (MAX_TEXT_LENGTH + 1), f"超过 {MAX_TEXT_LENGTH} 个字符"),
    ],
)
def test_bad_text_cells(cell, reason):
    rows, errors = one_disbursement(bank_ref=cell)
    assert rows == []
    shown = str(cell) if len(str(cell)) <= 40 else str(cell)[:39] + "…"
    assert messages(errors) == [f"第 2 行：银行流水号「{shown}」{reason}"]


@pytest.mark.parametrize("cell", ["=cmd|' /C calc'!A0", "@SUM(1)", "+1+1", " =1", "\t=1", "＝1"])
def test_text_that_looks_like_a_formula_is_refused_in_any_column(cell):
    for key in DISBURSEMENT_LAYOUT.keys:
        rows, errors = one_disbursement(**{key: cell})
        assert rows == []
        assert len(errors) == 1 and errors[0].column == key
        assert errors[0].message.endswith("看起来像公式，出于安全原因拒绝导入")


def test_empty_cells_and_excel_errors():
    rows, errors = parse_disbursement_rows(
        table(
            DISBURSEMENT_HEADERS,
            [None, ErrorCell("#N/A"), "2025-06-30"],
            ["DJ-2", "1.00", "2025-06-30", "R2"],
        )
    )
    assert [row.row for row in rows] == [3]
    assert messages(errors) == [
        "第 2 行：合同编号不能为空",
        "第 2 行：金额「#N/A」是 Excel 错误值，不是数据",
        "第 2 行：银行流水号不能为空",
    ]


def test_data_in_a_column_without_header_is_an_error():
    rows, errors = parse_disbursement_rows(
        table(
            [*DISBURSEMENT_HEADERS[:2], "", *DISBURSEMENT_HEADERS[2:]],
            ["DJ-1", "1.00", "备注", "2025-06-30", "R1", 5],
        )
    )
    assert rows == []
    assert messages(errors) == ["第 2 行：第 3 列没有表头，却有内容「备注」", "第 2 行：第 6 列没有表头，却有内容「5」"]


def test_every_bad_row_is_reported_with_every_problem():
    rows, errors = parse_disbursement_rows(
        table(
            DISBURSEMENT_HEADERS,
            ["DJ-1", "abc", "2025-02-30", "R1"],
            ["DJ-2", "10.00", "2025-06-01", "R2"],
            ["DJ-3", "0", "yesterday", "=1+1"],
        )
    )
    assert [row.row for row in rows] == [3]
    assert [(error.row, error.column) for error in errors] == [
        (2, "amount"),
        (2, "disbursed_on"),
        (4, "amount"),
        (4, "disbursed_on"),
        (4, "bank_ref"),
    ]
    assert list(errors_by_row(errors)) == ["2", "4"]
    assert errors_by_row(errors)["2"] == messages(errors)[:2]


def test_a_bank_ref_twice_in_a_batch_is_refused_but_a_contract_may_have_several_tranches():
    rows, errors = parse_disbursement_rows(
        table(
            DISBURSEMENT_HEADERS,
            ["DJ-1", "100.00", "2025-06-01", "R1"],
            ["DJ-1", "200.00", "2025-06-02", "R2"],
            ["DJ-2", "bad", "2025-06-03", "R1"],  # repeated even though the row has another problem
            ["DJ-3", "300.00", "2025-06-04", "R2"],
        )
    )
    assert [row.row for row in rows] == [2, 3]
    assert messages(errors) == [
        "第 4 行：金额「bad」不是有效金额（应为最多两位小数的数字，例如 1,000,000.00）",
        "第 4 行：银行流水号「R1」与第 2 行重复",
        "第 5 行：银行流水号「R2」与第 3 行重复",
    ]


# --------------------------------------------------------------------------------- the tape

TAPE_GOOD = ["DJ-1", "91350100M000100Y43", "1,000.00", "400.00", "600.00", "0"]


def one_tape_row(**changes):
    cells = dict(zip(TAPE_LAYOUT.keys, TAPE_GOOD, strict=True)) | changes
    return parse_tape_rows(table(TAPE_LAYOUT.keys, [cells[key] for key in TAPE_LAYOUT.keys]))


@pytest.mark.parametrize(
    ("cell", "expected"), [("0", 0), (" 15 ", 15), (95, 95), (D("361"), 361), (D("15.0"), 15)]
)
def test_days_past_due(cell, expected):
    rows, errors = one_tape_row(days_past_due=cell)
    assert errors == []
    assert rows[0].days_past_due == expected


@pytest.mark.parametrize("cell", ["-1", -1, "1.5", D("1.5"), "abc", "1,000", True, "15天"])
def test_bad_days_past_due(cell):
    rows, errors = one_tape_row(days_past_due=cell)
    assert rows == []
    assert messages(errors) == [f"第 2 行：逾期天数「{cell}」应为 0 或正整数天数"]


@pytest.mark.parametrize("cell", ["36501", "9" * 6000, D("1E+300")])
def test_days_past_due_has_a_ceiling(cell):
    rows, errors = one_tape_row(days_past_due=cell)
    assert rows == []
    assert errors[0].message.endswith("超过上限 36500 天")
    assert one_tape_row(days_past_due=str(MAX_DAYS_PAST_DUE))[0][0].days_past_due == MAX_DAYS_PAST_DUE


def test_tape_balances_may_be_zero_but_not_negative():
    rows, errors = one_tape_row(repaid_principal="0.00", outstanding_principal="1,000.00")
    assert errors == [] and rows[0].repaid_principal == D("0.00")
    rows, errors = one_tape_row(repaid_principal="-1.00")
    assert messages(errors) == ["第 2 行：累计还本「-1.00」不能为负数"]


def test_tape_credit_codes_are_validated_and_normalised():
    rows, errors = one_tape_row(credit_code=" 91350100m000100y43 ")
    assert errors == [] and rows[0].credit_code == "91350100M000100Y43"
    rows, errors = one_tape_row(credit_code="91350100M000100Y44")
    assert rows == []
    assert messages(errors) == [
        "第 2 行：统一社会信用代码「91350100M000100Y44」无效："
        "统一社会信用代码「91350100M000100Y44」的校验位不正确，请核对是否有输错的字符"
    ]
    rows, errors = one_tape_row(credit_code=913501001234567890)
    assert errors[0].column == "credit_code" and "文本" in errors[0].message


def test_a_tape_row_must_add_up():
    rows, errors = one_tape_row(outstanding_principal="600.01")
    assert rows == []
    assert messages(errors) == ["第 2 行：累计放款减累计还本不等于贷款余额"]
    assert errors[0].column is None


def test_a_contract_twice_in_a_tape_is_refused():
    second = ["DJ-1", "91500231K6FMHDQAE3", "500.00", "0.00", "500.00", "3"]
    rows, errors = parse_tape_rows(table(TAPE_HEADERS, TAPE_GOOD, second, ["DJ-2", *second[1:]]))
    assert [row.contract_no for row in rows] == ["DJ-1", "DJ-2"]
    assert messages(errors) == ["第 3 行：合同编号「DJ-1」与第 2 行重复"]


# ------------------------------------------------------------------------ malformed uploads


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b"\x00\x01garbage\xff" * 50, "batch.xlsx"),
        (b"", "batch.xlsx"),
        (b"", "batch.csv"),
        ("合同编号,金额,放款日期,银行流水号\n".encode("utf-8") + b"\x81\xff\xfe\n", "batch.csv"),
        ("\ufeff合同编号,金额\n".encode()[:8], "batch.csv"),  # UTF-8 with BOM cut inside a character
    ],
)
def test_malformed_files_end_in_a_table_error(data, filename):
    with pytest.raises(TableError):
        parse_disbursement_rows(read_table(data, filename))


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_formula_injection_in_a_real_file(fmt):
    payload = "=cmd|' /C calc'!A0"
    rows = [DISBURSEMENT_HEADERS, GOOD, ["DJ-2", "5.00", "2025-06-30", payload]]
    if fmt == "csv":
        data = csv_bytes(rows)
    else:  # openpyxl would store "=…" as a formula: place it as a text cell, as Excel does for '=…
        data = xlsx_bytes([*rows[:2], ["DJ-2", 5, date(2025, 6, 30), None]], {"D3": payload})
    parsed, errors = parse_disbursement_rows(read_table(data, f"batch.{fmt}"))
    assert [row.row for row in parsed] == [2]
    assert messages(errors) == [f"第 3 行：银行流水号「{payload}」看起来像公式，出于安全原因拒绝导入"]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_file_over_the_row_limit(fmt):
    rows = [DISBURSEMENT_HEADERS] + [[f"DJ-{n}", "1.00", "2025-06-30", f"R{n}"] for n in range(6)]
    data = csv_bytes(rows) if fmt == "csv" else xlsx_bytes(rows)
    assert len(parse_disbursement_rows(read_table(data, f"batch.{fmt}", max_rows=6))[0]) == 6
    with pytest.raises(TableError):
        read_table(data, f"batch.{fmt}", max_rows=5)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_file_with_missing_columns(fmt):
    rows = [["合同编号", "金额"], ["DJ-1", "1.00"]]
    data = csv_bytes(rows, "gb18030") if fmt == "csv" else xlsx_bytes(rows)
    with pytest.raises(HeaderError) as caught:
        parse_disbursement_rows(read_table(data, f"batch.{fmt}"))
    assert caught.value.missing == ["放款日期", "银行流水号"]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_file_with_bad_dates(fmt):
    rows = [DISBURSEMENT_HEADERS, ["DJ-1", "1.00", "2025-06-31", "R1"], ["DJ-2", "1.00", "6/30/2025", "R2"]]
    data = csv_bytes(rows, "utf-8-sig") if fmt == "csv" else xlsx_bytes(rows)
    parsed, errors = parse_disbursement_rows(read_table(data, f"batch.{fmt}"))
    assert parsed == []
    assert [(error.row, error.column) for error in errors] == [(2, "disbursed_on"), (3, "disbursed_on")]


# -------------------------------------------------------------------------------- templates


def test_csv_templates():
    assert template_csv(DISBURSEMENT_LAYOUT) == "\ufeff合同编号,金额,放款日期,银行流水号\r\n".encode()
    english = template_csv(DISBURSEMENT_LAYOUT, lang="en")
    assert english == b"\xef\xbb\xbfcontract_no,amount,disbursed_on,bank_ref\r\n"
    assert template_csv(TAPE_LAYOUT).decode("utf-8-sig") == ",".join(TAPE_HEADERS) + "\r\n"
    with pytest.raises(ValueError):
        template_csv(TAPE_LAYOUT, lang="fr")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_filled_in_csv_template_imports(lang):
    data = template_csv(DISBURSEMENT_LAYOUT, lang) + "DJ-1,\"1,000.00\",2025-06-30,R1\r\n".encode()
    rows, errors = parse_disbursement_rows(read_table(data, "template.csv"))
    assert errors == []
    assert rows == [DisbursementRow(2, "DJ-1", D("1000.00"), date(2025, 6, 30), "R1")]


@pytest.mark.parametrize(
    ("layout", "filled", "parse"),
    [
        (DISBURSEMENT_LAYOUT, ["00012", D("1234.50"), date(2025, 6, 30), "R1"], parse_disbursement_rows),
        (TAPE_LAYOUT, ["DJ-1", "91350100M000100Y43", 1000, D("400.5"), D("599.5"), 3], parse_tape_rows),
    ],
)
def test_xlsx_templates_are_formatted_and_import_once_filled_in(layout, filled, parse):
    workbook = load_workbook(io.BytesIO(template_xlsx(layout)))
    sheet = workbook.active
    assert sheet.title == layout.sheet_title
    assert [cell.value for cell in sheet[1]] == [column.zh for column in layout.columns]
    assert all(cell.font.bold for cell in sheet[1])
    assert sheet.freeze_panes == "A2"
    formats = [sheet.cell(row=2, column=index).number_format for index in range(1, len(layout.columns) + 1)]
    kinds = {"@": "text", "#,##0.00": "amount", "yyyy-mm-dd": "date", "0": "days"}
    assert all(fmt in kinds for fmt in formats)
    assert formats[0] == "@"  # the contract number keeps its leading zeros and every digit

    for index, value in enumerate(filled, start=1):
        sheet.cell(row=2, column=index, value=value)
    buffer = io.BytesIO()
    workbook.save(buffer)
    rows, errors = parse(read_table(buffer.getvalue(), "filled.xlsx"))
    assert errors == []
    assert len(rows) == 1 and rows[0].row == 2
    assert rows[0].contract_no == filled[0]


# ---------------------------------------------------------------------------------- property

amounts = st.integers(1, 10**12 - 1).map(lambda fen: D(fen).scaleb(-2))
refs = st.text(alphabet="ABCDEFGHJK0123456789-", min_size=1, max_size=20).filter(lambda ref: ref[0] != "-")
batches = st.lists(
    st.tuples(refs, amounts, st.dates(date(2000, 1, 1), date(2099, 12, 31))), min_size=1, max_size=8
)


@settings(deadline=None, max_examples=40)
@given(batches)
def test_csv_and_xlsx_versions_of_a_batch_give_identical_rows(batch):
    as_text = [
        [ref, f"{amount:,.2f}", f"{day.year}/{day.month}/{day.day}", f"B-{n}"]
        for n, (ref, amount, day) in enumerate(batch)
    ]
    as_numbers = [[ref, amount, day, f"B-{n}"] for n, (ref, amount, day) in enumerate(batch)]
    csv_file = csv_bytes([DISBURSEMENT_HEADERS, *as_text], "gb18030")
    xlsx_file = xlsx_bytes([DISBURSEMENT_HEADERS, *as_numbers])
    from_csv = parse_disbursement_rows(read_table(csv_file, "b.csv"))
    from_xlsx = parse_disbursement_rows(read_table(xlsx_file, "b.xlsx"))
    assert from_csv == from_xlsx
    assert [(row.contract_no, row.amount, row.disbursed_on) for row in from_csv[0]] == batch


cells = st.one_of(
    st.none(), st.text(max_size=12), st.sampled_from(["=1+1", "1,000.00", "2025-06-30", "-", "0"])
)


@settings(max_examples=150)
@given(st.lists(st.lists(cells, max_size=7), max_size=5))
def test_arbitrary_cells_give_rows_or_row_errors_never_another_exception(body):
    data = csv_bytes([TAPE_HEADERS, *[["" if cell is None else cell for cell in row] for row in body]])
    try:
        parsed = read_table(data, "tape.csv")
    except TableError:
        return
    rows, errors = parse_tape_rows(parsed)
    assert len({row.row for row in rows} | {error.row for error in errors}) == len(parsed.rows)
    assert all(error.message.startswith(f"第 {error.row} 行：") for error in errors)


excel_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.decimals(allow_nan=False, allow_infinity=False, places=3),
    st.dates(),
    st.datetimes(min_value=datetime(1900, 3, 1)),
    st.text(max_size=10).filter(lambda text: not ILLEGAL_CHARACTERS_RE.search(text) and text[:1] != "="),
)


@settings(deadline=None, max_examples=60)
@given(st.lists(st.lists(excel_values, max_size=7), min_size=1, max_size=4))
def test_arbitrary_excel_values_give_rows_or_row_errors_never_another_exception(body):
    try:
        parsed = read_table(xlsx_bytes([TAPE_HEADERS, *body]), "tape.xlsx")
    except TableError:
        return
    assert not any(isinstance(cell, float) for row in parsed.rows for cell in row.cells)
    rows, errors = parse_tape_rows(parsed)
    assert len({row.row for row in rows} | {error.row for error in errors}) == len(parsed.rows)
