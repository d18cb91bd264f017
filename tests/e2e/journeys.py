"""What the journey tests share: the business day, fresh enterprises set up through the API, and
the few browser gestures every journey repeats (submit a form and wait for the next page, accept the
confirmation dialogs the pages ask for).

Every journey runs against the one live server of the session (tests/e2e/conftest.py), so each
creates its own enterprises and contract numbers instead of relying on particular demo rows; what
it changes never matters to another journey, except a month's sign-off, which closes the books
(see the ``closes_books`` marker in conftest.py).
"""
from __future__ import annotations

import re
import secrets
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from core import clock
from core.money import format_cny
from parties.credit_code import credit_code_check_char
from tests.e2e.conftest import LiveServer


# The submit button of a page's one data-entry form (the navigation's logout form is a POST form too).
MAIN_SUBMIT = "main form[method='post'] button[type='submit']"


def business_today() -> date:
    """The server's business day (Asia/Shanghai), computed the way core.clock does it."""
    return clock.today()


def last_day_of_previous_month(day: date) -> date:
    return day.replace(day=1) - timedelta(days=1)


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def cny(amount: str | Decimal) -> str:
    """An amount as the pages show it (¥1,234.50)."""
    return format_cny(Decimal(str(amount)))


def unique_suffix() -> str:
    return secrets.token_hex(3).upper()


def fresh_credit_code() -> str:
    """A valid unified social credit code no demo enterprise has (the demo's codes are not 91330100MB…)."""
    first17 = f"91330100MB{secrets.randbelow(10**7):07d}"
    return first17 + credit_code_check_char(first17)


def new_enterprise(
    server: LiveServer,
    *,
    registered_on: date,
    rated_on: date | None,
    grade: str = "A",
    name: str | None = None,
    as_user: str = "admin",
) -> dict[str, Any]:
    """A science-tech enterprise (and its rating, when ``rated_on`` is given) through the HTTP API."""
    token = server.token(as_user)
    body = {
        "name": name or f"测试旅程科技有限公司{unique_suffix()}",
        "credit_code": fresh_credit_code(),
        "registered_on": registered_on.isoformat(),
        "town": "城关镇",
        "industry": "软件和信息技术服务业",
        "is_science_tech": True,
        "is_high_tech": False,
    }
    status, enterprise = server.request("POST", "/api/v1/enterprises", token=token, body=body)
    assert status == 201, f"enterprise: {status} {enterprise}"
    if rated_on is not None:
        status, rating = server.request(
            "POST", f"/api/v1/enterprises/{enterprise['id']}/ratings", token=token,
            body={"grade": grade, "rated_on": rated_on.isoformat()},
        )
        assert status == 201, f"rating: {status} {rating}"
    return enterprise


def accept_dialogs(page: Any) -> None:
    """Answer "OK" to the pages' confirm() questions (data-confirm buttons); Playwright dismisses them otherwise."""
    page.on("dialog", lambda dialog: dialog.accept())


def submit(page: Any, button: Any) -> None:
    """Click a form's submit button and wait for the page the server answers with."""
    with page.expect_navigation():
        button.click()


def follow(page: Any, selector: str) -> None:
    """Click a link (``selector``) and wait for the page it leads to, so what is read next is that page."""
    with page.expect_navigation():
        page.click(selector)


def id_from_url(page: Any, pattern: str) -> int:
    """The id in the current URL (``pattern`` has one group), e.g. r"/loans/(\\d+)$"."""
    match = re.search(pattern, page.url)
    assert match, f"{page.url} does not match {pattern}"
    return int(match.group(1))


def flash_text(page: Any) -> str:
    return " ".join(page.locator(".flash-messages .alert").all_inner_texts())


def heading(page: Any) -> str:
    return page.inner_text("h1").strip()


LIAISONS = ("rcb_liaison", "abc_liaison", "icbc_liaison")


def liaison_with_a_normal_breaker(server: LiveServer) -> tuple[str, str]:
    """(username, token) of a liaison whose bank's breaker is normal, so its new loans can be covered."""
    for username in LIAISONS:
        token = server.token(username)
        if all(b["state"] == "normal" for b in server.get_json("/api/v1/risk/breakers", token=token)):
            return username, token
    raise AssertionError("every partner bank's breaker is in warning or suspended")


DEFAULTED_PRINCIPAL = Decimal("800000.00")


def defaulted_covered_loan(server: LiveServer, token: str) -> dict[str, Any]:
    """A loan the pool covers, more than 90 days past due today, recorded through the API by the
    liaison whose ``token`` is given (see :func:`liaison_with_a_normal_breaker`).

    Contracted 200 days ago for 90 days (bullet), drawn in full on its first day and never repaid. The
    pool must already hold enough paid-in capital on that day (see :func:`fund_the_pool`).
    """
    start = business_today() - timedelta(days=200)
    enterprise = new_enterprise(server, registered_on=start - timedelta(days=1000), rated_on=start - timedelta(days=10))
    contract_no = f"E2E-CLAIM-{unique_suffix()}"
    status, loan = server.request("POST", "/api/v1/loans", token=token, body={
        "enterprise_id": enterprise["id"], "contract_no": contract_no, "principal": str(DEFAULTED_PRINCIPAL),
        "annual_rate": "0.0385", "start_date": start.isoformat(),
        "maturity_date": (start + timedelta(days=90)).isoformat(), "purpose": "流动资金周转",
    })
    assert status == 201, loan
    assert loan["covered"] is True, f"the pool does not cover the loan: {loan.get('coverage_reason')}"
    status, body = server.request("POST", f"/api/v1/loans/{loan['id']}/disbursements", token=token, body={
        "amount": str(DEFAULTED_PRINCIPAL), "disbursed_on": start.isoformat(), "bank_ref": f"{contract_no}-D1"})
    assert status == 201, body
    return server.get_json(f"/api/v1/loans/{loan['id']}", token=token)


def fund_the_pool(server: LiveServer, amount: Decimal = Decimal("1500000.00")) -> None:
    """The county pays ``amount`` into the risk pool 205 days ago (before :func:`defaulted_covered_loan`'s contract)."""
    received = business_today() - timedelta(days=205)
    status, body = server.request("POST", "/api/v1/risk/contributions", token=server.token("admin"), body={
        "source": "county", "amount": str(amount), "received_on": received.isoformat()})
    assert status == 201, body
