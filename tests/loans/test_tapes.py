"""Banks' month-end loan tapes (api.md ``POST /banks/{id}/tapes``): validated whole, stored with
their SHA-256 and a version per (bank, period), visible only to their bank's liaison and the
programme's staff. The real samples of /work/shared/samples are uploaded."""
from __future__ import annotations

import hashlib
import io
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from core import clock
from core.db import db
from core.errors import ValidationFailed
from loans import batch
from loans.models import BankTape, BankTapeRow
from tests.factories import BankFactory
from tests.support import post_form

SAMPLES = Path(__file__).resolve().parents[1] / "samples"  # copies of the files partner banks send (shared/samples)
XLSX_TAPE = "bank-tape-2025-06.xlsx"
CSV_TAPE = "bank-tape-2025-06-utf8bom.csv"
ERROR_KEYS = {"code", "status", "message", "errors"}

# Selected rows of both samples: row number -> the stored values.
EXPECTED_ROWS = {
    2: ("DJNS-KV-2025-0001", "91500231K6FMHDQAE3", "800000.00", "400000.00", "400000.00", 0),
    5: ("DJNS-KV-2025-0004", "91500231D5QA4XFD1Y", "1500000.00", "0.00", "1500000.00", 15),
    7: ("DJNS-KV-2025-0006", "91500231RE2T2Y8FNX", "1000000.00", "250000.00", "750000.00", 95),
    19: ("DJNS-KV-2025-0018", "91500231L8YBKBF33A", "1500000.00", "375000.00", "1125000.00", 0),
    21: ("DJNS-KV-2025-0020", "91500231TN5G06YYGF", "1500000.00", "0.00", "1500000.00", 0),
}


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def assert_error(response, code: int) -> dict:
    assert response.status_code == code, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == ERROR_KEYS and body["code"] == code and body["message"]
    return body


def upload(client, headers, bank_id: int, data: bytes, filename: str, period: str | None = "2025-06"):
    form: dict = {"file": (io.BytesIO(data), filename)}
    if period is not None:
        form["period"] = period
    return client.post(
        f"/api/v1/banks/{bank_id}/tapes", data=form, headers=headers, content_type="multipart/form-data"
    )


def stored_rows(app, tape_id: int) -> dict[int, tuple]:
    with app.app_context():
        rows = db.session.scalars(sa.select(BankTapeRow).where(BankTapeRow.tape_id == tape_id)).all()
        return {
            r.row_number: (
                r.contract_no,
                r.credit_code,
                r.disbursed_total,
                r.repaid_principal,
                r.outstanding_principal,
                r.days_past_due,
            )
            for r in rows
        }


def expected(row: tuple) -> tuple:
    contract, code, disbursed, repaid, outstanding, dpd = row
    return (contract, code, Decimal(disbursed), Decimal(repaid), Decimal(outstanding), dpd)


def next_month() -> str:
    today = clock.today()
    return f"{today.year + today.month // 12}-{today.month % 12 + 1:02d}"


@pytest.fixture
def liaison(api_as):
    return api_as("bank_liaison")


# ---------------------------------------------------------------------------------------- upload


@pytest.mark.parametrize("filename", [XLSX_TAPE, CSV_TAPE])
def test_a_real_sample_tape_is_stored_with_its_rows(app, client, liaison, filename):
    user, headers = liaison
    data = sample(filename)

    response = upload(client, headers, user.bank_id, data, filename)

    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert {key: body[key] for key in ("period", "version", "row_count", "sha256")} == {
        "period": "2025-06",
        "version": 1,
        "row_count": 20,
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    assert (body["bank_id"], body["filename"], body["uploaded_by"]) == (user.bank_id, filename, user.username)
    rows = stored_rows(app, body["id"])
    assert sorted(rows) == list(range(2, 22))
    for number, row in EXPECTED_ROWS.items():
        assert rows[number] == expected(row)
    assert sum(row[4] for row in rows.values()) == Decimal("18200000.00")
    assert sum(1 for row in rows.values() if row[5] > 0) == 5


def test_a_second_upload_for_the_period_is_the_next_version(app, client, liaison):
    user, headers = liaison
    first = upload(client, headers, user.bank_id, sample(XLSX_TAPE), XLSX_TAPE).get_json()
    second = upload(client, headers, user.bank_id, sample(CSV_TAPE), CSV_TAPE).get_json()
    other_period = upload(client, headers, user.bank_id, sample(CSV_TAPE), CSV_TAPE, period="2025-05").get_json()

    assert (first["version"], second["version"], other_period["version"]) == (1, 2, 1)
    # Both files carry the same figures; the stored rows are identical.
    assert stored_rows(app, first["id"]) == stored_rows(app, second["id"])
    assert first["sha256"] != second["sha256"]


def test_another_banks_liaison_gets_404_and_nothing_is_stored(app, client, liaison, api_as, row_counts):
    user, headers = liaison
    tape = upload(client, headers, user.bank_id, sample(CSV_TAPE), CSV_TAPE).get_json()
    _other, other_headers = api_as("bank_liaison")
    before = row_counts()

    assert_error(upload(client, other_headers, user.bank_id, sample(CSV_TAPE), CSV_TAPE), 404)
    assert_error(client.get(f"/api/v1/banks/{user.bank_id}/tapes", headers=other_headers), 404)
    assert_error(client.get(f"/api/v1/tapes/{tape['id']}", headers=other_headers), 404)
    # Even an invalid body answers 404 first: the other bank's existence is not revealed.
    assert_error(upload(client, other_headers, user.bank_id, b"", "x.csv", period=None), 404)
    assert_error(upload(client, headers, 999_999, sample(CSV_TAPE), CSV_TAPE), 404)
    assert row_counts() == before


@pytest.mark.parametrize(
    ("data", "filename", "needle"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00garbage", "tape.csv", "不是 CSV 文本"),
        (b"PK\x03\x04 not really a workbook", "tape.xlsx", "Excel"),
        (b"%PDF-1.7 a statement", "tape.pdf", "只支持"),
        ("合同编号,金额,放款日期,银行流水号\nA,1,2025-06-01,R\n".encode(), "tape.csv", "表头与模板不符"),
    ],
    ids=["binary-csv", "broken-xlsx", "pdf", "disbursement-layout"],
)
def test_a_garbage_file_is_422_and_nothing_is_stored(app, client, liaison, row_counts, data, filename, needle):
    user, headers = liaison
    before = row_counts()

    body = assert_error(upload(client, headers, user.bank_id, data, filename), 422)

    assert list(body["errors"]) == ["file"] and needle in body["errors"]["file"][0]
    assert row_counts() == before


def test_bad_rows_are_listed_by_number_and_nothing_is_stored(app, client, liaison, row_counts):
    user, headers = liaison
    text = sample(CSV_TAPE).decode("utf-8-sig")
    text = text.replace('"250,000.00","750,000.00",95', '"250,000.00","700,000.00",95')  # row 7 does not add up
    text = text.replace("91500231CH8W4TDUHN", "91500231CH8W4TDUHX")  # row 11: wrong check digit
    row_12 = 'DJNS-KV-2025-0011,91500231BMWCY74254,"300,000.00",0.00,"300,000.00",0'
    assert row_12 in text
    text = text.replace(row_12, row_12[:-1] + "-3")  # row 12: negative days past due
    before = row_counts()

    body = assert_error(upload(client, headers, user.bank_id, ("\ufeff" + text).encode(), "tape.csv"), 422)

    assert sorted(int(key) for key in body["errors"]) == [7, 11, 12]
    assert body["errors"]["7"] == ["第 7 行：累计放款减累计还本不等于贷款余额"]
    assert "统一社会信用代码" in body["errors"]["11"][0]
    assert "逾期天数" in body["errors"]["12"][0]
    assert row_counts() == before


@pytest.mark.parametrize("period", ["2025-13", "2025-6", "202506", "June", "", None])
def test_a_malformed_or_missing_period_is_422(app, client, liaison, row_counts, period):
    user, headers = liaison
    before = row_counts()
    body = assert_error(upload(client, headers, user.bank_id, sample(CSV_TAPE), CSV_TAPE, period=period), 422)
    assert "period" in body["errors"]
    assert row_counts() == before


def test_a_future_period_is_422(app, client, liaison, row_counts):
    user, headers = liaison
    before = row_counts()
    body = assert_error(upload(client, headers, user.bank_id, sample(CSV_TAPE), CSV_TAPE, period=next_month()), 422)
    assert "尚未到来" in body["errors"]["period"][0]
    assert row_counts() == before
    this_month = clock.today().strftime("%Y-%m")
    assert upload(client, headers, user.bank_id, sample(CSV_TAPE), CSV_TAPE, period=this_month).status_code == 201


def test_an_oversized_tape_is_413_in_the_error_shape(app, client, liaison, row_counts, monkeypatch):
    user, headers = liaison
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 2048)
    before = row_counts()

    body = assert_error(upload(client, headers, user.bank_id, sample(XLSX_TAPE), XLSX_TAPE), 413)

    assert body["errors"] == {}
    assert row_counts() == before


def test_only_the_banks_liaison_uploads(app, client, liaison, api_as):
    user, _headers = liaison
    for role in ("auditor", "admin", "fund_manager"):
        _staff, headers = api_as(role)
        assert_error(upload(client, headers, user.bank_id, sample(CSV_TAPE), CSV_TAPE), 403)
    assert_error(upload(client, {}, user.bank_id, sample(CSV_TAPE), CSV_TAPE), 401)


# ------------------------------------------------------------------------------------------ reads


def test_list_and_detail_are_scoped_and_paginated(app, client, liaison, api_as):
    user, headers = liaison
    for period in ("2025-04", "2025-05", "2025-06", "2025-06"):
        assert upload(client, headers, user.bank_id, sample(CSV_TAPE), CSV_TAPE, period=period).status_code == 201

    listed = client.get(f"/api/v1/banks/{user.bank_id}/tapes", headers=headers).get_json()
    assert listed["total"] == 4
    assert [(t["period"], t["version"]) for t in listed["items"]] == [
        ("2025-06", 2),
        ("2025-06", 1),
        ("2025-05", 1),
        ("2025-04", 1),
    ]
    assert "rows" not in listed["items"][0]
    page = client.get(f"/api/v1/banks/{user.bank_id}/tapes?period=2025-06&per_page=1&page=2", headers=headers)
    assert page.get_json()["total"] == 2 and page.get_json()["items"][0]["version"] == 1
    assert_error(client.get(f"/api/v1/banks/{user.bank_id}/tapes?per_page=500", headers=headers), 422)

    _auditor, auditor_headers = api_as("auditor")
    detail = client.get(f"/api/v1/tapes/{listed['items'][0]['id']}", headers=auditor_headers)
    assert detail.status_code == 200
    body = detail.get_json()
    assert body["row_count"] == 20 and len(body["rows"]) == 20
    assert body["rows"][5] == {
        "row_number": 7,
        "contract_no": "DJNS-KV-2025-0006",
        "credit_code": "91500231RE2T2Y8FNX",
        "disbursed_total": "1000000.00",
        "repaid_principal": "250000.00",
        "outstanding_principal": "750000.00",
        "days_past_due": 95,
    }
    assert_error(client.get("/api/v1/tapes/999999", headers=auditor_headers), 404)


def test_tape_template_download(client, liaison):
    _user, headers = liaison
    response = client.get("/api/v1/loans/batch/template?kind=tape&format=csv", headers=headers)
    assert response.data.decode("utf-8-sig").strip() == "合同编号,统一社会信用代码,累计放款,累计还本,贷款余额,逾期天数"


# --------------------------------------------------------------------------------------- service


def test_upload_tape_service_refuses_without_storing(app_ctx):
    bank = BankFactory()
    db.session.flush()
    with pytest.raises(ValidationFailed) as refused:
        batch.upload_tape(bank.id, "2025-06", b"not,a,tape\n1,2,3\n", "t.csv", "tester")
    assert "file" in refused.value.errors
    assert db.session.scalar(sa.select(sa.func.count()).select_from(BankTape)) == 0
    tape = batch.upload_tape(bank.id, " 2025-06 ", sample(CSV_TAPE), CSV_TAPE, "tester")
    assert (tape.period, tape.version, tape.row_count, len(tape.rows)) == ("2025-06", 1, 20, 20)


# ------------------------------------------------------------------------------------------- web


def post_tape(client, data: bytes, filename: str, period: str = "2025-06"):
    return post_form(
        client,
        "/loans/tapes",
        {"period": period, "file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


@pytest.mark.parametrize("filename", [XLSX_TAPE, CSV_TAPE])
def test_web_upload_shows_the_tape(app, client, login_as, filename):
    user = login_as("bank_liaison")
    page = client.get("/loans/tapes")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'enctype="multipart/form-data"' in html and 'type="month"' in html and "尚未上传贷款台账" in html

    response = post_tape(client, sample(filename), filename)

    assert response.status_code == 302
    detail = client.get(response.headers["Location"])
    html = detail.get_data(as_text=True)
    assert detail.status_code == 200
    assert "2025-06（第 1 版）" in html and "DJNS-KV-2025-0006" in html and "¥750,000.00" in html
    assert "¥18,200,000.00" in html and "其中逾期 5 笔" in html
    with app.app_context():
        tape = db.session.scalar(sa.select(BankTape).where(BankTape.bank_id == user.bank_id))
        assert (tape.row_count, tape.sha256) == (20, hashlib.sha256(sample(filename)).hexdigest())
    listing = client.get("/loans/tapes").get_data(as_text=True)
    assert filename in listing and "2025-06" in listing


def test_web_upload_lists_bad_rows_and_stores_nothing(app, client, login_as, row_counts):
    login_as("bank_liaison")
    text = sample(CSV_TAPE).decode("utf-8-sig").replace('"250,000.00","750,000.00",95', '"250,000.00","1.00",95')
    before = row_counts()

    response = post_tape(client, text.encode("utf-8"), "tape.csv")

    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "未保存台账" in html and "行号" in html and '<td class="num">7</td>' in html
    assert "累计放款减累计还本不等于贷款余额" in html
    assert row_counts() == before


def test_web_upload_refuses_a_future_period(app, client, login_as, row_counts):
    login_as("bank_liaison")
    before = row_counts()
    response = post_tape(client, sample(CSV_TAPE), CSV_TAPE, period=next_month())
    assert response.status_code == 422 and "尚未到来" in response.get_data(as_text=True)
    assert row_counts() == before


def test_web_tape_of_another_bank_is_404(app, client, login_as):
    with app.app_context():
        other = BankFactory()
        db.session.flush()
        tape = batch.upload_tape(other.id, "2025-06", sample(CSV_TAPE), CSV_TAPE, "someone")
        db.session.commit()
        tape_id = tape.id
    login_as("bank_liaison")
    assert client.get(f"/loans/tapes/{tape_id}").status_code == 404
    assert CSV_TAPE not in client.get("/loans/tapes").get_data(as_text=True)

    login_as("auditor")
    assert client.get(f"/loans/tapes/{tape_id}").status_code == 200
    listing = client.get("/loans/tapes")
    assert listing.status_code == 200 and CSV_TAPE in listing.get_data(as_text=True)
    assert client.post("/loans/tapes", data={}).status_code in (400, 403)
