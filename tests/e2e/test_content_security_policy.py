"""Every page works under the strict Content-Security-Policy (core/security_headers.py).

A CSP violation does not throw: the browser blocks the script or style, fires a
``securitypolicyviolation`` event and logs a console error. The pages with charts, forms and the
Swagger UI are opened as the roles that use them; any violation or console error fails the test.
"""
from __future__ import annotations

import pytest

# Installed by the browser before any page script; not itself subject to the page's policy.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(event.violatedDirective + " blocked " + (event.blockedURI || "inline") +
                              " at " + (event.sourceFile || "") + ":" + (event.lineNumber || ""));
});
"""

PAGES_BY_ROLE = {
    "admin": ["/", "/admin/users", "/admin/users/new", "/admin/banks", "/api/v1/docs", "/jobs", "/policies"],
    "auditor": ["/", "/progress", "/loans", "/risk", "/seed", "/reconciliations", "/documents/"],
    "manager": ["/", "/risk/stress", "/risk/claims", "/seed/decisions"],
    "icbc_liaison": ["/", "/loans/batch", "/loans/tapes", "/enterprises"],
    "officer": ["/", "/seed/applications", "/seed/loans", "/account/password"],
}


def visit(page, path: str) -> None:
    response = page.goto(path)
    assert response is not None and response.status == 200, f"{path}: {response.status if response else 'no answer'}"
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_load_state("networkidle")


@pytest.mark.parametrize("role", sorted(PAGES_BY_ROLE))
def test_pages_run_under_the_policy(pages, role):
    page = pages.new()
    page.add_init_script(RECORD_VIOLATIONS)
    pages.login(role, page=page)
    violations: list[str] = []
    for path in PAGES_BY_ROLE[role]:
        visit(page, path)
        violations += [f"{path}: {text}" for text in page.evaluate("window.__cspViolations")]
    if role == "auditor":
        # A loan's page draws its schedule chart; reach it from the list as a person would.
        page.goto("/loans")
        detail = page.evaluate(
            "Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href'))"
            ".find(href => /^\\/loans\\/[0-9]+$/.test(href))"
        )
        assert detail, "no loan in the demo's list"
        visit(page, detail)
        violations += [f"{detail}: {text}" for text in page.evaluate("window.__cspViolations")]
    console = [text for text in pages.watch(page).console_errors if "Content Security Policy" in text or "Refused" in text]
    assert violations == [] and console == [], "\n".join(violations + console)


def test_the_login_page_runs_under_the_policy(pages):
    page = pages.new()
    page.add_init_script(RECORD_VIOLATIONS)
    visit(page, "/login")
    assert page.evaluate("window.__cspViolations") == []
    assert pages.watch(page).console_errors == []
