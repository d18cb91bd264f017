"""Regressions for what fuzzing the API found: inputs the database cannot take were 500s, and the
published OpenAPI document did not resolve or described some responses wrongly.

- an id in a path beyond a database key (``/api/v1/users/99999999999``): now 404, as any unknown id,
  whatever the method;
- an id in a query string or body beyond what the column holds (SQLite ``OverflowError``,
  PostgreSQL "integer out of range") and a NUL character in text (PostgreSQL refuses it): now 422
  in the error shape, with nothing written;
- ``Decimal(as_string=True)`` ratios documented as numbers though served as strings;
- the 413 of the upload endpoints referenced a response component that did not exist.
"""
from __future__ import annotations

import pytest

from core.routing import MAX_DATABASE_ID

ERROR_KEYS = {"code", "status", "message", "errors"}
HUGE = 10**20  # beyond 64 bits: SQLite cannot bind it
BIG = 2**31  # beyond a PostgreSQL integer column


def assert_error(response, code: int) -> dict:
    assert response.status_code == code, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == ERROR_KEYS and body["code"] == code and body["message"]
    return body


@pytest.mark.parametrize("number", [BIG, HUGE])
@pytest.mark.parametrize(
    "template",
    ["/api/v1/users/{}", "/api/v1/banks/{}", "/api/v1/loans/{}", "/api/v1/documents/{}/pdf",
     "/api/v1/loans/{}/repayments", "/api/v1/risk/claims/{}"],
)
def test_an_id_in_a_path_beyond_any_key_is_404(client, api_as, template, number):
    _admin, headers = api_as("admin")
    assert_error(client.get(template.format(number), headers=headers), 404)
    assert_error(client.get(template.format(-number), headers=headers), 404)


def test_a_huge_id_is_404_for_a_write_too(client, api_as, row_counts):
    _liaison, headers = api_as("bank_liaison")
    before = row_counts()
    body = {"principal": "1.00", "interest": "0.00", "paid_on": "2025-06-01", "bank_ref": "R"}
    assert_error(client.post(f"/api/v1/loans/{HUGE}/repayments", json=body, headers=headers), 404)
    assert row_counts() == before


def test_the_largest_key_is_still_an_ordinary_unknown_id(client, api_as):
    _admin, headers = api_as("admin")
    assert_error(client.get(f"/api/v1/users/{MAX_DATABASE_ID}", headers=headers), 404)


def test_a_web_page_with_a_huge_id_is_404(client, login_as):
    login_as("admin")
    response = client.get(f"/loans/{HUGE}")
    assert response.status_code == 404 and response.mimetype == "text/html"


@pytest.mark.parametrize("number", [BIG, HUGE, -HUGE])
@pytest.mark.parametrize(
    "url", ["/api/v1/loans?bank_id={}", "/api/v1/seed/applications?enterprise_id={}", "/api/v1/audit?user_id={}"]
)
def test_an_id_in_a_query_beyond_the_column_is_422_not_500(client, api_as, url, number):
    _auditor, headers = api_as("auditor") if "audit" in url else api_as("admin")
    response = client.get(url.format(number), headers=headers)
    # Either the filter simply matches nothing or it is refused; never a server error.
    if response.status_code != 200:
        assert_error(response, 422)


@pytest.mark.parametrize("number", [BIG, HUGE])
def test_an_id_in_a_body_beyond_the_column_writes_nothing(client, api_as, row_counts, number):
    _admin, headers = api_as("admin")
    before = row_counts()
    response = client.put("/api/v1/seed/agent-bank", json={"bank_id": number}, headers=headers)
    assert 400 <= response.status_code < 500
    assert_error(response, response.status_code)
    assert row_counts() == before


def test_a_nul_character_in_text_is_never_a_server_error(client, api_as, row_counts):
    _admin, headers = api_as("admin")
    before = row_counts()
    response = client.post("/api/v1/banks", json={"name": "坏\x00银行", "code": "NUL1"}, headers=headers)
    if response.status_code == 201:  # SQLite stores it; PostgreSQL cannot, and that is a 422
        return
    assert_error(response, 422)
    assert row_counts() == before
    listed = client.get("/api/v1/jobs/runs?period=%00", headers=headers)
    assert listed.status_code < 500


def test_the_openapi_document_resolves_and_ratios_are_strings(client):
    document = client.get("/api/v1/openapi.json").get_json()
    responses = document["components"]["responses"]
    assert responses["PAYLOAD_TOO_LARGE"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    for operation in ("/api/v1/loans/batch", "/api/v1/banks/{bank_id}/tapes"):
        assert document["paths"][operation]["post"]["responses"]["413"] == {
            "$ref": "#/components/responses/PAYLOAD_TOO_LARGE"
        }
    breaker = document["components"]["schemas"]["Breaker"]["properties"]
    assert breaker["npl_ratio"]["type"] == "string"
    assert breaker["warning_level"]["type"] == "string"


def test_every_reference_in_the_openapi_document_resolves(client):
    document = client.get("/api/v1/openapi.json").get_json()

    def references(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref":
                    yield value
                else:
                    yield from references(value)
        elif isinstance(node, list):
            for item in node:
                yield from references(item)

    for reference in set(references(document)):
        target = document
        for part in reference.removeprefix("#/").split("/"):
            assert part in target, reference
            target = target[part]
