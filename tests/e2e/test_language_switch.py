"""The interface is Chinese first; the switch on the login page turns it English, and the choice
survives logging in (core/auth/views.py keeps the language across the new session). For every role,
every page it may open switches to English and back, with no Chinese left in the English navigation
and headings (other than names, which are data) and no English left in the Chinese ones."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from babel.messages.pofile import read_po
from flask import url_for

from tests.e2e.conftest import PROJECT_ROOT
from tests.e2e.journeys import (
    business_today,
    defaulted_covered_loan,
    fund_the_pool,
    last_day_of_previous_month,
    liaison_with_a_normal_breaker,
    month_of,
)

CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def english_catalog() -> dict[str, str]:
    with Path(PROJECT_ROOT, "translations/en/LC_MESSAGES/messages.po").open("rb") as po:
        return {message.id: message.string for message in read_po(po) if isinstance(message.id, str) and message.string}


def nav_labels(page) -> list[str]:
    return [text.strip() for text in page.locator("#main-nav .nav-link").all_inner_texts()]


def test_the_login_page_switches_to_english_and_stays_english_after_login(pages):
    catalog = english_catalog()
    page = pages.new()
    page.goto("/login")
    assert page.get_attribute("html", "lang") == "zh-CN"
    assert page.inner_text("h1").strip() == "登录"
    assert page.locator(".lang-switch a[lang='zh-CN'].active").count() == 1

    with page.expect_navigation():
        page.click(".lang-switch a[lang='en']")
    assert page.url.endswith("/login")  # back where the visitor was
    assert page.get_attribute("html", "lang") == "en"
    assert page.inner_text("h1").strip() == catalog["登录"] == "Log in"
    assert page.inner_text("label[for='username']").strip() == catalog["用户名"]
    assert not CJK.search(page.inner_text("main"))

    pages.login("auditor", page=page)
    assert page.get_attribute("html", "lang") == "en"
    labels = nav_labels(page)
    assert labels, "no navigation after login"
    english = set(catalog.values())
    for label in labels:
        assert not CJK.search(label) and label in english, label
    assert catalog["首页"] in labels and catalog["项目进度"] in labels
    assert page.inner_text(".user-box button[type='submit']").strip() == catalog["退出登录"]
    pages.screenshot(page, "english")

    # And back: the same navigation in Chinese.
    with page.expect_navigation():
        page.click(".lang-switch a[lang='zh-CN']")
    assert page.get_attribute("html", "lang") == "zh-CN"
    chinese = nav_labels(page)
    assert "首页" in chinese and "项目进度" in chinese and len(chinese) == len(labels)


# ------------------------------------------------------------------ every page, every role

# One demo user per role; the liaison's bank (ICBC) owns the loan, tape and statement the pages show.
ROLE_USERS = {
    "admin": "admin",
    "bank_liaison": "icbc_liaison",
    "fund_officer": "officer",
    "fund_manager": "manager",
    "auditor": "auditor",
}
# GET routes that answer something other than an HTML page of the layout (files, redirects), or the
# login page, which the test above covers.
NOT_PAGES = frozenset({
    "static", "home.set_language", "auth.login", "documents.download", "documents.rows",
    "loans.export_ledger", "loans_batch.batch_template",
})
# In the admin's navigation but not a page of the layout: the API's Swagger UI (English, no switch).
NOT_LAYOUT_PAGES = frozenset({"/api/v1/docs"})
# Pages whose <h1> is the record's own name (data), the same in both languages.
NAMED_HEADINGS = frozenset({"parties.enterprise", "documents.detail"})
ASCII_WORD = re.compile(r"[A-Za-z]{2,}")
# Endpoints already switched by clicking in the browser during this session (a later role reads them
# without rendering; the check is the same).
SWITCHED_IN_THE_BROWSER: set[str] = set()


def html_routes(app) -> list[tuple[str, str, tuple[str, ...]]]:
    """(endpoint, rule, argument names) of every GET route serving a page of the interface."""
    routes = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in NOT_PAGES or rule.rule.startswith("/api/"):
            continue
        routes.append((rule.endpoint, rule.rule, tuple(sorted(rule.arguments))))
    return sorted(routes, key=lambda route: route[1])


def first_id(server, path: str, token: str) -> int:
    items = server.get_json(path, token=token)["items"]
    assert items, f"no record at {path}"
    return items[0]["id"]


@pytest.fixture(scope="module")
def page_arguments(live_server) -> dict[str, dict[str, Any]]:
    """The URL arguments of every page with a record in it, taken from the demo data.

    What the demo does not hold yet (a tape, a job run and its documents, a reconciliation, a
    compensation claim) is made here through the API first, dated so that it closes no month.
    """
    server = live_server
    admin, auditor, liaison = server.token("admin"), server.token("auditor"), server.token("icbc_liaison")
    bank_id = server.get_json("/api/v1/me", token=liaison)["bank_id"]
    today = business_today()
    last_month = month_of(last_day_of_previous_month(today))

    loans = server.get_json("/api/v1/loans?status=active&per_page=1", token=liaison)["items"]
    assert loans, "the demo has no running ICBC loan"
    if not server.get_json(f"/api/v1/banks/{bank_id}/tapes", token=liaison)["items"]:
        tape = (PROJECT_ROOT / "tests/samples/bank-tape-2025-06.xlsx").read_bytes()
        status, body = server.upload(f"/api/v1/banks/{bank_id}/tapes", token=liaison, fields={"period": "2025-06"},
                                     file_name="bank-tape-2025-06.xlsx", content=tape)
        assert status == 201, body
    if not server.get_json("/api/v1/jobs/runs", token=admin)["items"]:
        status, body = server.request("POST", "/api/v1/jobs/contracts/run", token=admin, body={})
        assert status == 200, body
    if not server.get_json("/api/v1/reconciliations", token=auditor)["items"]:
        # Last month, the one the auditor's journey signs off: months are signed off in order, so an
        # earlier month left unsigned here would hold that sign-off up.
        status, body = server.request("POST", "/api/v1/jobs/monthly-reconciliation/run", token=admin,
                                      body={"period": last_month})
        assert status == 200, body
    status, statement = server.request("POST", "/api/v1/statements", token=auditor, body={
        "bank_id": bank_id, "start": today.replace(day=1).isoformat(), "end": today.isoformat()})
    assert status == 201, statement
    if not server.get_json("/api/v1/risk/claims", token=admin)["items"]:
        fund_the_pool(server)
        _username, token = liaison_with_a_normal_breaker(server)
        loan = defaulted_covered_loan(server, token)
        status, body = server.request("POST", f"/api/v1/loans/{loan['id']}/claims", token=token,
                                      body={"as_of": today.isoformat()})
        assert status == 201, body

    loan_id = loans[0]["id"]
    enterprise_id = first_id(server, "/api/v1/enterprises?per_page=1", admin)
    return {
        "parties.bank_edit": {"bank_id": bank_id},
        "auth.user_edit": {"user_id": first_id(server, "/api/v1/users?per_page=1", admin)},
        "auth.user_password": {"user_id": first_id(server, "/api/v1/users?per_page=1", admin)},
        "documents.detail": {"document_id": statement["id"]},
        "parties.enterprise": {"enterprise_id": enterprise_id},
        "parties.enterprise_edit": {"enterprise_id": enterprise_id},
        "parties.enterprise_rate": {"enterprise_id": enterprise_id},
        "jobs.run_detail": {"run_id": first_id(server, "/api/v1/jobs/runs", admin)},
        "loans.detail": {"loan_id": loan_id},
        "loans.disburse": {"loan_id": loan_id},
        "loans.repay": {"loan_id": loan_id},
        "loans_batch.tape_detail": {"tape_id": first_id(server, f"/api/v1/banks/{bank_id}/tapes", liaison)},
        "policy.detail": {"policy_id": first_id(server, "/api/v1/policies", admin)},
        "reconciliation.detail": {"period": server.get_json("/api/v1/reconciliations", token=auditor)["items"][0]["period"]},
        "risk.breaker": {"bank_id": bank_id},
        "risk.claim": {"claim_id": first_id(server, "/api/v1/risk/claims", admin)},
        "seed.application": {"application_id": first_id(server, "/api/v1/seed/applications?per_page=1", admin)},
        "seed.loan": {"loan_id": first_id(server, "/api/v1/seed/loans?per_page=1", admin)},
    }


# The texts compared, read from a page's HTML (parsed in the browser, no navigation needed).
READ_PAGE = """(html) => {
  const doc = new DOMParser().parseFromString(html, "text/html");
  const text = (node) => (node ? node.textContent.replace(/\\s+/g, " ").trim() : "");
  const switchTo = (lang) => { const link = doc.querySelector(`.lang-switch a[lang='${lang}']`); return link ? link.getAttribute("href") : null; };
  return {
    lang: doc.documentElement.getAttribute("lang"),
    h1: text(doc.querySelector("h1")),
    nav: Array.from(doc.querySelectorAll("#main-nav .nav-link")).map(text),
    logout: text(doc.querySelector(".user-box button[type='submit']")),
    switch: {"en": switchTo("en"), "zh-CN": switchTo("zh-CN")},
  };
}"""


# The navigation as drawn: how far the page is wider than the window, and the entries broken over
# two lines (a label's text boxes on different rows).
NAVIGATION_LAYOUT = """() => {
  const broken = Array.from(document.querySelectorAll("#main-nav .nav-link, .lang-switch, .user-name")).filter((element) => {
    const range = document.createRange();
    range.selectNodeContents(element);
    const boxes = Array.from(range.getClientRects()).filter((box) => box.width > 0);
    if (boxes.length < 2) { return false; }
    const tops = boxes.map((box) => box.top);
    return Math.max(...tops) - Math.min(...tops) > 0.8 * Math.min(...boxes.map((box) => box.height));
  }).map((element) => element.textContent.replace(/\\s+/g, " ").trim());
  return {overflow: document.documentElement.scrollWidth - window.innerWidth, broken: broken};
}"""


def layout_problems(page) -> list[str]:
    """The navigation must fit the window (1366 px) in both languages, each entry on one line."""
    layout = page.evaluate(NAVIGATION_LAYOUT)
    problems = [f"navigation entry broken over two lines: {label!r}" for label in layout["broken"]]
    if layout["overflow"] > 0:
        problems.append(f"the page is {layout['overflow']} px wider than the window")
    return problems


def page_text(page) -> dict[str, Any]:
    """The current page's texts, as the browser shows them."""
    return page.evaluate(READ_PAGE, page.content())


def fetched_text(page, url: str) -> tuple[str, dict[str, Any]]:
    """(final path, texts) of ``url`` fetched with the page's cookies (its session) without rendering it."""
    response = page.context.request.get(url)
    assert response.ok, f"{url}: {response.status}"
    return urlsplit(response.url).path, page.evaluate(READ_PAGE, response.text())


def check_pair(endpoint: str, zh: dict[str, Any], en: dict[str, Any], english: set[str]) -> list[str]:
    """What is wrong with a page's two versions: English chrome with Chinese left in it, or the reverse."""
    problems = []
    if (zh["lang"], en["lang"]) != ("zh-CN", "en"):
        problems.append(f"html lang {zh['lang']} / {en['lang']}")
    if len(zh["nav"]) != len(en["nav"]) or not zh["nav"]:
        problems.append(f"navigation {zh['nav']} / {en['nav']}")
    problems += [f"English navigation {label!r}" for label in en["nav"] if CJK.search(label) or label not in english]
    problems += [f"Chinese navigation {label!r}" for label in zh["nav"] if not CJK.search(label)]
    if en["logout"] != "Log out" or zh["logout"] != "退出登录":
        problems.append(f"logout button {zh['logout']!r} / {en['logout']!r}")
    if en["h1"] == zh["h1"]:
        if endpoint not in NAMED_HEADINGS:
            problems.append(f"heading not translated: {en['h1']!r}")
    else:
        if not ASCII_WORD.search(en["h1"]) or not CJK.search(zh["h1"]):
            problems.append(f"heading {zh['h1']!r} / {en['h1']!r}")
        # Chinese left in the English heading must be data carried from the Chinese one (a name).
        problems += [f"Chinese {run!r} in the English heading {en['h1']!r}"
                     for run in re.findall(r"[\u3400-\u9fff\uf900-\ufaff]+", en["h1"]) if run not in zh["h1"]]
    return problems


@pytest.mark.parametrize("role", sorted(ROLE_USERS))
def test_every_page_of_a_role_switches_to_english_and_back(role, pages, app, page_arguments):
    """Every page the role may open (every GET page of the url_map, records from the demo data) is
    seen in both languages through its own switch, which must lead back to the same page.

    The pages of the navigation are switched in the browser by clicking: Chinese to English on one,
    English back to Chinese on the next (each role's own home page; the pages all roles share, such
    as the loan list, for the first role only). The other pages (records, forms) follow their switch
    link with the same session but are not rendered, which keeps the folder's run short."""
    english = set(english_catalog().values())
    page = pages.login(ROLE_USERS[role])
    nav_paths = {urlsplit(href).path for href in page.locator("#main-nav .nav-link").evaluate_all(
        "(links) => links.map((link) => link.href)")} - NOT_LAYOUT_PAGES
    language, visited, problems = "zh", [], []
    for endpoint, rule, arguments in html_routes(app):
        values = page_arguments.get(endpoint, {})
        assert set(arguments) <= set(values), f"no demo record for {rule}"
        with app.test_request_context():
            path = url_for(endpoint, **values)
        target = "en" if language == "zh" else "zh-CN"
        switched = "en" if target == "en" else "zh"
        if path in nav_paths and (endpoint == "home.index" or endpoint not in SWITCHED_IN_THE_BROWSER):
            SWITCHED_IN_THE_BROWSER.add(endpoint)
            # The texts are in the HTML: no need to wait for images and charts.
            response = page.goto(path, wait_until="domcontentloaded")
            assert response.status == 200, f"{path}: {response.status}"
            before = page_text(page)
            problems += [f"{path} ({language}): {problem}" for problem in layout_problems(page)]
            with page.expect_navigation(wait_until="domcontentloaded"):
                page.click(f".lang-switch a[lang='{target}']")
            landed, after = urlsplit(page.url).path, page_text(page)
            problems += [f"{path} ({switched}): {problem}" for problem in layout_problems(page)]
            if endpoint == "home.index":
                pages.screenshot(page, f"home-{target}")
        else:
            response = page.context.request.get(path)
            if response.status in (403, 404):  # not a page of this role (or another bank's record)
                continue
            assert response.status == 200, f"{path}: {response.status}"
            before = page.evaluate(READ_PAGE, response.text())
            landed, after = fetched_text(page, before["switch"][target])
        assert landed == path, f"the switch on {path} led to {landed}"
        zh, en = (before, after) if language == "zh" else (after, before)
        problems += [f"{path}: {problem}" for problem in check_pair(endpoint, zh, en, english)]
        language = switched
        visited.append(path)
    assert not problems, "\n".join(problems)
    assert nav_paths <= set(visited), f"navigation entries not checked: {nav_paths - set(visited)}"
    assert len(visited) >= len(nav_paths) + 3
