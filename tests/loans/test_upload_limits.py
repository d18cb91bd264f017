"""Upload limits on the batch and tape uploads: the type (extension AND content) and the size (413).

Malformed, huge and formula-carrying files are exercised by tests/fuzz; here the rules themselves:
only .csv and .xlsx are read, an .xlsx must be an OOXML workbook package, an oversized body is a
413 that names the limit (JSON on the API, the error page on the web), and a refusal writes nothing.
"""
from __future__ import annotations

import io
import zipfile

import pytest

from tests.loans.test_batch import CSV_SAMPLE, XLSX_SAMPLE, assert_error, make_loans, sample, upload
from tests.loans.test_tapes import XLSX_TAPE
from tests.support import post_form

WORKBOOK_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"


def repackaged(data: bytes, content_type_from: str, content_type_to: str) -> bytes:
    """The same zip with ``[Content_Types].xml`` declaring another main part type."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename == "[Content_Types].xml":
                assert content_type_from.encode() in content
                content = content.replace(content_type_from.encode(), content_type_to.encode())
            target.writestr(info, content)
    return out.getvalue()


def word_document() -> bytes:
    """A minimal .docx: a zip of XML parts like a workbook, but a Word document."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.'
            'wordprocessingml.document.main+xml"/></Types>',
        )
        archive.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


@pytest.fixture
def liaison(app, api_as):
    user, headers = api_as("bank_liaison")
    make_loans(app, user.bank_id)
    return user, headers


NOT_A_WORKBOOK = "内容不是工作簿"


@pytest.mark.parametrize(
    "make, filename, needle",
    [
        (word_document, "batch.xlsx", NOT_A_WORKBOOK),
        (lambda: repackaged(sample(XLSX_SAMPLE), WORKBOOK_TYPE, "application/vnd.ms-excel.sheet.macroEnabled.main+xml"),
         "batch.xlsx", NOT_A_WORKBOOK),
        (lambda: sample(XLSX_SAMPLE), "batch.xlsm", "只支持"),
        (lambda: sample(XLSX_SAMPLE), "batch.xls", "只支持"),
        (lambda: sample(CSV_SAMPLE), "batch.txt", "只支持"),
        (lambda: sample(XLSX_SAMPLE), "batch.csv", "Excel 工作簿，不是 CSV"),
        (lambda: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "batch.csv", "文件内容不是 CSV 文本"),
    ],
    ids=["docx-renamed", "macro-workbook-renamed", "xlsm", "xls", "txt", "xlsx-named-csv", "pdf-named-csv"],
)
def test_the_api_reads_only_real_csv_and_xlsx(client, liaison, row_counts, make, filename, needle):
    _user, headers = liaison
    before = row_counts()
    body = assert_error(upload(client, headers, make(), filename), 422)
    assert needle in " ".join(body["errors"]["file"])
    assert row_counts() == before


def test_a_real_workbook_passes_the_content_check(client, liaison):
    _user, headers = liaison
    assert upload(client, headers, sample(XLSX_SAMPLE), "renamed-but-real.xlsx").status_code == 201


def test_a_renamed_document_is_refused_on_the_tape_upload_too(client, liaison, row_counts):
    user, headers = liaison
    before = row_counts()
    response = client.post(
        f"/api/v1/banks/{user.bank_id}/tapes",
        data={"file": (io.BytesIO(word_document()), XLSX_TAPE), "period": "2025-06"},
        headers=headers,
        content_type="multipart/form-data",
    )
    body = assert_error(response, 422)
    assert NOT_A_WORKBOOK in body["errors"]["file"][0]
    assert row_counts() == before


def test_the_web_form_refuses_a_renamed_document(client, login_as, row_counts):
    login_as("bank_liaison")
    before = row_counts()
    response = post_form(
        client,
        "/loans/batch",
        {"kind": "disbursements", "file": (io.BytesIO(word_document()), "batch.xlsx")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422 and NOT_A_WORKBOOK in response.get_data(as_text=True)
    assert row_counts() == before


def test_the_web_form_refuses_another_extension_before_reading(client, login_as, row_counts):
    login_as("bank_liaison")
    before = row_counts()
    response = post_form(
        client, "/loans/batch", {"kind": "disbursements", "file": (io.BytesIO(b"MZ\x90\x00"), "tool.exe")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422 and "只支持 CSV（.csv）和 Excel（.xlsx）文件" in response.get_data(as_text=True)
    assert row_counts() == before


# ---------------------------------------------------------------------------------------- size


def test_an_oversized_api_upload_is_a_413_that_names_the_limit(app, client, liaison, row_counts, monkeypatch):
    _user, headers = liaison
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 512 * 1024)
    before = row_counts()
    body = assert_error(upload(client, headers, b"a,b\n" + b"1,2\n" * 200_000, "big.csv"), 413)
    assert body["message"] == "上传的文件过大：每次上传不能超过 0.5 MB，请拆分后分批上传"
    assert body["errors"] == {}
    assert row_counts() == before


def test_an_oversized_web_upload_shows_the_error_page(app, client, login_as, row_counts, monkeypatch):
    login_as("bank_liaison")
    token_page = client.get("/loans/batch")
    assert token_page.status_code == 200
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 2 * 1024 * 1024)
    before = row_counts()
    response = post_form(
        client,
        "/loans/batch",
        {"kind": "disbursements", "file": (io.BytesIO(b"x" * (3 * 1024 * 1024)), "big.csv")},
        content_type="multipart/form-data",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 413 and response.mimetype == "text/html"
    assert "文件过大" in html and "每次上传不能超过 2 MB" in html
    assert row_counts() == before


def test_the_default_limit_is_ten_megabytes(app):
    assert app.config["MAX_CONTENT_LENGTH"] == 10 * 1024 * 1024
