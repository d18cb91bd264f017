"""The pool's pages: who may open each, liaisons scoped to their own bank, filing and deciding claims through the
web forms (CSRF, Chinese refusals that write nothing and keep the typed values), the overview's figures equal to
the API's, the breaker's lift, and the stress test's chart.

Today is 2025-12-31 (tests/risk/conftest.py). Unpaid loans contracted on 2025-03-01 matured on 2025-08-31 and
are 91 days past due on 2025-11-30, 122 days today.
"""
from __future__ import annotations

import html as html_lib
import json
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest

from core.db import db
from parties.models import Bank
from risk import services
from risk.models import RiskClaim
from tests.conftest import make_user
from tests.risk.conftest import DPD_91, fund_pool, make_loan
from tests.support import csrf_token_from, post_form
from tests.test_interface import assert_csp_clean, nav_labels

D = Decimal
STAFF = ("fund_manager", "auditor", "admin")
ROLES = ("bank_liaison", "fund_officer", "fund_manager", "auditor", "admin")


def page(response) -> str:
    return response.get_data(as_text=True)


def sign_in(client, user) -> None:
    """Log the web client in as an existing user (as the login page would)."""
    with client.session_transaction() as session:
        session["_user_id"] = str(user.id)
        session["_fresh"] = True
        session["_pw_stamp"] = user.password_changed_at.isoformat()


def file_claim(app, loan_id: int, by_id: int, as_of: date = DPD_91) -> int:
    with app.app_context():
        claim = services.file_claim(loan_id, as_of=as_of, by_id=by_id)
        db.session.commit()
        return claim.id


def approve_claim(app, claim_id: int, by_id: int, on: date = date(2025, 12, 10)) -> str:
    with app.app_context():
        claim = services.approve_claim(claim_id, on=on, by_id=by_id)
        db.session.commit()
        return claim.status


def claim_status(app, claim_id: int) -> str:
    with app.app_context():
        return db.session.get(RiskClaim, claim_id).status


@dataclass
class Scene:
    """Two banks, each with a liaison, a non-performing covered loan and a submitted claim on it."""

    liaison: object
    liaison_b: object
    manager: object
    loan_id: int
    loan_b_id: int
    claim_id: int
    claim_b_id: int

    @property
    def bank_id(self) -> int:
        return self.liaison.bank_id

    @property
    def bank_b_id(self) -> int:
        return self.liaison_b.bank_id


@pytest.fixture
def scene(app) -> Scene:
    fund_pool(app, "1000000.00")
    liaison = make_user(app, "bank_liaison")
    liaison_b = make_user(app, "bank_liaison")
    manager = make_user(app, "fund_manager")
    loan_id = make_loan(app, liaison.bank_id, "333333.33")
    loan_b_id = make_loan(app, liaison_b.bank_id, "100000.00")
    return Scene(
        liaison, liaison_b, manager, loan_id, loan_b_id,
        file_claim(app, loan_id, liaison.id), file_claim(app, loan_b_id, liaison_b.id),
    )


def log_in(client, login_as, scene: Scene, role: str):
    if role == "bank_liaison":
        sign_in(client, scene.liaison)
        return scene.liaison
    return login_as(role)


def figures_of(html: str) -> dict[str, str]:
    """The overview's stat cards: {API field: the string the card carries}."""
    found = {}
    for key, kind, value in re.findall(r'data-figure="([a-z_]+)" data-(amount|value)="([^"]*)"', html):
        found[key] = value if value != "" else None
    return found


def chart_of(html: str, canvas_id: str) -> dict:
    match = re.search(rf'<canvas id="{canvas_id}" data-risk-chart data-chart=\'([^\']*)\'', html)
    assert match, f"no chart {canvas_id}"
    return json.loads(html_lib.unescape(match.group(1)))


# ------------------------------------------------------------------------------------ who sees what


def pages(scene: Scene) -> dict[str, str]:
    return {
        "overview": "/risk",
        "claims": "/risk/claims",
        "claim": f"/risk/claims/{scene.claim_id}",
        "new_claim": "/risk/claims/new",
        "queue": "/risk/queue",
        "breaker": f"/risk/banks/{scene.bank_id}/breaker",
        "stress": "/risk/stress",
    }


ALLOWED = {
    "overview": STAFF,
    "claims": ("bank_liaison", *STAFF),
    "claim": ("bank_liaison", *STAFF),
    "new_claim": ("bank_liaison",),
    "queue": STAFF,
    "breaker": ("bank_liaison", *STAFF),
    "stress": ("fund_manager",),
}


@pytest.mark.parametrize("role", ROLES)
def test_each_page_opens_for_its_roles_only(client, login_as, scene, role):
    log_in(client, login_as, scene, role)
    for name, url in pages(scene).items():
        response = client.get(url)
        expected = 200 if role in ALLOWED[name] else 403
        assert response.status_code == expected, (name, role, response.status_code)
        if expected == 200:
            html = page(response)
            assert_csp_clean(html)  # no inline script, handler or style on any page
            assert '<html lang="zh-CN">' in html
    nav = page(client.get("/"))
    shows_pool = role != "fund_officer"
    assert ("风险补偿" in nav_labels(nav)) is shows_pool
    if role == "bank_liaison":
        assert 'href="/risk/claims"' in nav
    elif shows_pool:
        assert 'href="/risk"' in nav


def test_anonymous_visitors_are_sent_to_log_in(client, scene):
    for url in pages(scene).values():
        assert client.get(url).status_code in (302, 401)


def test_a_liaison_sees_only_its_own_banks_claims(client, scene, row_counts):
    sign_in(client, scene.liaison)
    listed = page(client.get("/risk/claims"))
    assert f'data-claim="{scene.claim_id}"' in listed and f'data-claim="{scene.claim_b_id}"' not in listed
    assert f'data-claim="{scene.claim_b_id}"' not in page(client.get(f"/risk/claims?bank_id={scene.bank_b_id}"))
    assert client.get(f"/risk/claims/{scene.claim_b_id}").status_code == 404
    assert client.get("/risk/claims/999999").status_code == 404
    assert client.get(f"/risk/banks/{scene.bank_b_id}/breaker").status_code == 404
    assert client.get(f"/risk/banks/{scene.bank_id}/breaker").status_code == 200
    before = row_counts()
    token = csrf_token_from(client, f"/risk/claims/{scene.claim_id}")
    refused = client.post(f"/risk/claims/{scene.claim_b_id}/recoveries",
                          data={"amount": "1.00", "csrf_token": token})
    assert refused.status_code == 404
    assert row_counts() == before


def test_staff_see_every_bank_and_filter(client, login_as, scene):
    login_as("auditor")
    listed = page(client.get("/risk/claims"))
    assert f'data-claim="{scene.claim_id}"' in listed and f'data-claim="{scene.claim_b_id}"' in listed
    filtered = page(client.get(f"/risk/claims?bank_id={scene.bank_b_id}"))
    assert f'data-claim="{scene.claim_b_id}"' in filtered and f'data-claim="{scene.claim_id}"' not in filtered
    assert f'data-claim="{scene.claim_id}"' not in page(client.get("/risk/claims?status=paid"))
    # Auditors read the queue but get no decision forms.
    queue = page(client.get("/risk/queue"))
    assert f'data-claim="{scene.claim_id}"' in queue and "批准代偿" not in queue


# --------------------------------------------------------------------------------- filing and deciding


def test_a_liaison_files_a_claim_from_the_loan_page_and_a_manager_approves_it(client, app, login_as, row_counts):
    fund_pool(app, "1000000.00")
    liaison = make_user(app, "bank_liaison")
    manager = make_user(app, "fund_manager")
    loan_id = make_loan(app, liaison.bank_id, "333333.33")
    healthy = make_loan(app, liaison.bank_id, "100000.00", maturity=date(2026, 2, 28))
    sign_in(client, liaison)

    # The loan page offers the claim only on a covered loan past the trigger.
    loan_page = page(client.get(f"/loans/{loan_id}"))
    assert "申请代偿" in loan_page
    assert f"/risk/claims/new?loan_id={loan_id}" in html_lib.unescape(loan_page)
    assert "申请代偿" not in page(client.get(f"/loans/{healthy}"))
    assert "申请代偿" not in page(client.get(f"/loans/{loan_id}?as_of=2025-11-29"))  # 90 days then

    form = page(client.get(f"/risk/claims/new?loan_id={loan_id}&as_of=2025-11-30"))
    contract_no = re.search(r'id="claim-contract-no"[^>]*value="([^"]+)"', form).group(1)
    assert 'value="2025-11-30"' in form
    assert f'data-loan="{loan_id}"' in form and f'data-loan="{healthy}"' not in form  # today's candidates

    response = post_form(client, "/risk/claims/new", {"contract_no": contract_no, "as_of": "2025-11-30"})
    assert response.status_code == 302, page(response)
    claim_page = page(client.get(response.headers["Location"]))
    claim_id = int(re.search(r"/risk/claims/(\d+)", response.headers["Location"]).group(1))
    assert "已提交代偿申请" in claim_page and "已提交" in claim_page
    for amount in ("¥333,333.33", "¥266,666.66", "¥66,666.67", "¥106,666.66", "¥160,000.00"):
        assert amount in claim_page
    assert "批准代偿" not in claim_page  # a liaison does not decide
    assert "申请代偿" not in page(client.get(f"/loans/{loan_id}"))  # the claim is open now

    # Filing again is refused with the reason, the values kept, nothing written.
    before = row_counts()
    again = post_form(client, "/risk/claims/new", {"contract_no": contract_no, "as_of": "2025-11-30"})
    assert again.status_code == 409
    assert "未结案的代偿申请" in page(again) and f'value="{contract_no}"' in page(again)
    assert row_counts() == before

    sign_in(client, manager)
    queue = page(client.get("/risk/queue"))
    assert f'data-claim="{claim_id}"' in queue and "¥266,666.66" in queue
    assert f"{contract_no}-D" in queue  # the tranche's bank reference: the loan's history is there
    assert 'data-day="2025-11-30"' in queue and 'data-dpd="122"' in queue  # DPD history by month end
    assert_csp_clean(queue)
    approved = post_form(client, f"/risk/claims/{claim_id}/approve", {"on": "2025-12-10", "source": "queue"},
                         form_url="/risk/queue")
    assert approved.status_code == 302 and approved.headers["Location"].endswith("/risk/queue")
    assert "已批准，资金池已支付 ¥266,666.66" in page(client.get("/risk/queue"))
    assert claim_status(app, claim_id) == "paid"
    assert "已批准并支付" in page(client.get(f"/risk/claims/{claim_id}"))


def test_a_refused_approval_shows_the_chinese_reason_and_writes_nothing(client, app, scene, row_counts):
    sign_in(client, scene.manager)
    url = f"/risk/claims/{scene.claim_id}/approve"
    before = row_counts()
    early = post_form(client, url, {"on": "2025-11-01", "source": "claim"}, form_url=f"/risk/claims/{scene.claim_id}")
    html = page(early)
    assert early.status_code == 409
    assert "审批日期 2025-11-01 早于申请日期 2025-11-30" in html and "未办理成功" in html
    assert 'value="2025-11-01"' in html  # the typed date is kept
    assert row_counts() == before

    future = post_form(client, url, {"on": "2026-01-05", "source": "queue"}, form_url="/risk/queue")
    assert future.status_code == 422
    assert "日期不能晚于今天" in page(future) and 'value="2026-01-05"' in page(future)
    assert "代偿审批" in page(future)  # answered on the queue it came from
    assert row_counts() == before
    assert claim_status(app, scene.claim_id) == "submitted"

    assert post_form(client, url, {"source": "claim"}, form_url=f"/risk/claims/{scene.claim_id}").status_code == 302
    before = row_counts()
    twice = post_form(client, url, {"source": "claim"}, form_url=f"/risk/claims/{scene.claim_id}")
    assert twice.status_code == 409 and "已处理" in page(twice)
    assert row_counts() == before


def test_only_fund_managers_decide(client, app, scene, row_counts):
    others = [make_user(app, role) for role in ("auditor", "admin", "fund_officer")]
    before = row_counts()
    for user in others:
        sign_in(client, user)
        token = csrf_token_from(client, "/")
        for action in ("approve", "reject"):
            response = client.post(f"/risk/claims/{scene.claim_id}/{action}", data={"csrf_token": token, "reason": "x"})
            assert response.status_code == 403, (user.role, action)
    sign_in(client, scene.liaison)
    token = csrf_token_from(client, "/risk/claims/new")
    assert client.post(f"/risk/claims/{scene.claim_id}/approve", data={"csrf_token": token}).status_code == 403
    assert client.post(f"/risk/claims/{scene.claim_id}/approve", data={}).status_code in (400, 403)
    assert row_counts() == before


def test_a_rejection_needs_a_written_reason(client, app, scene, row_counts):
    sign_in(client, scene.manager)
    url = f"/risk/claims/{scene.claim_id}/reject"
    before = row_counts()
    missing = post_form(client, url, {"reason": "  ", "source": "queue"}, form_url="/risk/queue")
    assert missing.status_code == 422 and "请填写驳回理由" in page(missing)
    assert row_counts() == before
    done = post_form(client, url, {"reason": "抵押物处置材料不全", "source": "claim"},
                     form_url=f"/risk/claims/{scene.claim_id}")
    assert done.status_code == 302
    html = page(client.get(f"/risk/claims/{scene.claim_id}"))
    assert "已驳回" in html and "抵押物处置材料不全" in html
    assert claim_status(app, scene.claim_id) == "rejected"


def drained_pool(app, liaison, manager) -> int:
    """1,000,000.00 paid in (the minimum to cover loans), then all of it paid on one claim: cash 0.00."""
    fund_pool(app, "1000000.00")
    claim_id = file_claim(app, make_loan(app, liaison.bank_id, "1250000.00"), liaison.id)
    assert approve_claim(app, claim_id, manager.id) == "paid"
    return claim_id


def test_the_approved_unpaid_queue_is_shown_in_payment_order(client, app, login_as):
    liaison = make_user(app, "bank_liaison")
    manager = make_user(app, "fund_manager")
    drained_pool(app, liaison, manager)
    first = file_claim(app, make_loan(app, liaison.bank_id, "500000.00"), liaison.id)  # pool 400,000.00
    second = file_claim(app, make_loan(app, liaison.bank_id, "100000.00"), liaison.id)  # pool 80,000.00
    assert approve_claim(app, first, manager.id) == "approved_unpaid"
    assert approve_claim(app, second, manager.id) == "approved_unpaid"  # it fits, but waits its turn
    login_as("fund_manager")
    html = page(client.get("/risk/queue"))
    waiting = html.split('data-testid="waiting"', 1)[1]
    assert waiting.index(f'data-claim="{first}" data-position="1"') < waiting.index(f'data-claim="{second}" data-position="2"')
    claim_page = page(client.get(f"/risk/claims/{second}"))
    assert "已批准待支付" in claim_page and "排队第 2 位" in claim_page


def test_recoveries_through_the_form(client, app, scene, row_counts):
    approve_claim(app, scene.claim_id, scene.manager.id)
    sign_in(client, scene.liaison)
    url = f"/risk/claims/{scene.claim_id}/recoveries"
    before = row_counts()
    early = post_form(client, url, {"amount": "1,000.00", "recovered_on": "2025-12-01"},
                      form_url=f"/risk/claims/{scene.claim_id}")
    assert early.status_code == 409 and "早于代偿支付日期" in page(early) and 'value="1,000.00"' in page(early)
    bad = post_form(client, url, {"amount": "abc"}, form_url=f"/risk/claims/{scene.claim_id}")
    assert bad.status_code == 422 and "无法识别的金额" in page(bad)
    assert row_counts() == before
    done = post_form(client, url, {"amount": "100,000.00", "recovered_on": "2025-12-20"},
                     form_url=f"/risk/claims/{scene.claim_id}")
    assert done.status_code == 302
    html = page(client.get(f"/risk/claims/{scene.claim_id}"))
    assert "已登记追偿 ¥100,000.00：资金池 ¥80,000.00，银行 ¥20,000.00" in html


# ------------------------------------------------------------------------------------------ overview


def test_the_overview_shows_the_apis_figures_and_draws_its_charts(client, app, api_as, scene):
    approve_claim(app, scene.claim_id, scene.manager.id)
    with app.app_context():
        services.record_recovery(scene.claim_id, amount=D("50000.00"), recovered_on=date(2025, 12, 20), by_id=None)
        db.session.commit()
    _auditor, headers = api_as("auditor")
    api = client.get("/api/v1/risk/pool", headers=headers).get_json()
    sign_in(client, make_user(app, "auditor"))
    html = page(client.get("/risk"))
    figures = figures_of(html)
    keys = ("committed", "paid_in", "paid_in_city", "paid_in_county", "cash", "paid_out_total", "recovered_total",
            "covered_outstanding", "leverage", "months_of_cover", "leverage_cap", "queued_unpaid")
    assert set(keys) <= set(figures)
    for key in keys:
        assert figures[key] == api[key], key
    assert api["paid_out_total"] == "266666.66" and api["recovered_total"] == "40000.00"

    cash = chart_of(html, "chart-cash")
    assert cash["labels"][0] == "2025-01" and cash["labels"][-1] == "2025-12"
    assert cash["series"][0]["values"][-1] == api["cash"]
    by_bank = chart_of(html, "chart-claims")
    with app.app_context():
        names = [db.session.get(Bank, bank_id).name for bank_id in (scene.bank_id, scene.bank_b_id)]
    assert sorted(by_bank["labels"]) == sorted(names)
    paid = dict(zip(by_bank["labels"], by_bank["series"][0]["values"], strict=True))
    recovered = dict(zip(by_bank["labels"], by_bank["series"][2]["values"], strict=True))
    assert (paid[names[0]], paid[names[1]], recovered[names[0]]) == ("266666.66", "0.00", "40000.00")
    npl = chart_of(html, "chart-npl")
    assert [series["label"] for series in npl["series"]] == ["不良率", "预警线", "暂停线"]
    assert npl["series"][1]["values"][0] == "5.00" and npl["series"][2]["values"][0] == "8.00"
    leverage = chart_of(html, "chart-leverage")
    assert leverage["series"][0]["values"][-1] == api["leverage"]
    assert 'data-testid="breakers"' in html and "暂停" in html  # each bank's state as a badge
    assert_csp_clean(html)
    assert "js/risk.js" in html


def test_the_overview_on_an_empty_pool(client, login_as):
    login_as("fund_manager")
    html = page(client.get("/risk"))
    assert 'data-testid="not-covering"' in html and "尚无代偿申请" in html
    assert figures_of(html)["months_of_cover"] is None


def test_an_admin_records_a_contribution_that_pays_the_queue(client, app, login_as, row_counts):
    liaison = make_user(app, "bank_liaison")
    manager = make_user(app, "fund_manager")
    drained_pool(app, liaison, manager)
    claim_id = file_claim(app, make_loan(app, liaison.bank_id, "500000.00"), liaison.id)
    assert approve_claim(app, claim_id, manager.id) == "approved_unpaid"
    login_as("admin")
    before = row_counts()
    over = post_form(client, "/risk/contributions", {"source": "county", "amount": "9,000,000.01"}, form_url="/risk")
    assert over.status_code == 409 and "超过资金池认缴规模" in page(over) and 'value="9,000,000.01"' in page(over)
    wrong = post_form(client, "/risk/contributions", {"source": "province", "amount": "1"}, form_url="/risk")
    assert wrong.status_code == 422 and "出资方应为市级或县级" in page(wrong)
    assert row_counts() == before
    done = post_form(client, "/risk/contributions", {"source": "city", "amount": "400,000.00",
                                                     "received_on": "2025-12-20", "note": "第二批"}, form_url="/risk")
    assert done.status_code == 302
    html = page(client.get("/risk"))
    assert "已登记市级注资 ¥400,000.00" in html and f"#{claim_id}" in html and "第二批" in html
    assert claim_status(app, claim_id) == "paid"
    login_as("fund_manager")
    assert "登记注资" not in page(client.get("/risk"))
    assert post_form(client, "/risk/contributions", {"source": "city", "amount": "1"}, form_url="/risk").status_code == 403


# ------------------------------------------------------------------------------------------- breaker


def test_a_manager_lifts_a_suspension_with_a_written_reason(client, app, login_as, row_counts):
    fund_pool(app, "1000000.00")
    liaison = make_user(app, "bank_liaison")
    make_loan(app, liaison.bank_id, "920000.00", maturity=date(2026, 2, 28))
    make_loan(app, liaison.bank_id, "80000.00")  # non-performing: 8% of the covered outstanding
    url = f"/risk/banks/{liaison.bank_id}/breaker"
    sign_in(client, liaison)
    own = page(client.get(url))
    assert 'data-state="suspended"' in own and "8.00%" in own and "解除暂停" not in own
    login_as("fund_manager")
    html = page(client.get(url))
    assert "解除熔断暂停" in html and 'data-marker="' in html
    assert_csp_clean(html)
    before = row_counts()
    missing = post_form(client, url + "/lift", {"reason": ""}, form_url=url)
    assert missing.status_code == 422 and "请填写解除理由" in page(missing)
    assert row_counts() == before
    done = post_form(client, url + "/lift", {"reason": "经领导小组研究同意恢复"}, form_url=url)
    assert done.status_code == 302
    after = page(client.get(url))
    assert "已解除" in after and "经领导小组研究同意恢复" in after and "人工解除" in after
    assert 'data-testid="breaker-state"><span class="badge status-badge text-bg-warning" data-state="warning"' in after
    again = post_form(client, url + "/lift", {"reason": "再次解除"}, form_url=url)
    assert again.status_code == 409 and "未处于熔断暂停状态" in page(again)


# -------------------------------------------------------------------------------------------- stress


def test_the_stress_page_draws_its_projection(client, app, login_as):
    fund_pool(app, "1000000.00")
    liaison = make_user(app, "bank_liaison")
    make_loan(app, liaison.bank_id, "4000000.00", maturity=date(2026, 2, 28))
    login_as("fund_manager")
    html = page(client.get("/risk/stress"))
    assert 'id="chart-stress" data-risk-chart data-chart=' in html
    chart = chart_of(html, "chart-stress")
    assert len(chart["labels"]) == 36 and chart["labels"][0] == "2026-01"
    assert [series["type"] for series in chart["series"]] == ["line", "bar", "bar"]
    assert 'value="80"' in html  # the policy's pool share, as a percentage
    assert_csp_clean(html)
    assert "vendor/chartjs/chart.umd.min.js" in html and "js/risk.js" in html

    # 4,000,000 x 30% / 12 = 100,000 a month; the pool pays 80,000; 1,000,000 lasts 12 months, not 13.
    response = post_form(client, "/risk/stress", {"annual_default_rate": "30", "recovery_rate": "0",
                                                  "pool_share": "80", "months": "24"})
    html = page(response)
    assert response.status_code == 200
    assert 'data-runs-out-month="13"' in html and "第 13 个月（2027-01）耗尽" in html
    chart = chart_of(html, "chart-stress")
    assert chart["series"][0]["values"][11] == "40000.00" and chart["series"][0]["values"][12] == "-40000.00"
    assert '<tr data-month="13" class="table-danger">' in html

    refused = post_form(client, "/risk/stress", {"annual_default_rate": "130", "recovery_rate": "x",
                                                 "pool_share": "80", "months": "0"})
    html = page(refused)
    assert refused.status_code == 422
    assert "应在 0 到 100 之间" in html and "应为百分比数字" in html and "应在 1 到 600 之间" in html
    assert 'value="130"' in html and "chart-stress" not in html


# ------------------------------------------------------------------------------------------- English


def test_the_pages_render_in_english(client, app, scene):
    sign_in(client, scene.manager)
    client.get("/lang/en?next=/")
    for url in ("/risk", "/risk/claims", f"/risk/claims/{scene.claim_id}", "/risk/queue",
                f"/risk/banks/{scene.bank_id}/breaker", "/risk/stress"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert '<html lang="en">' in page(response)
    assert "Risk compensation" in page(client.get("/risk"))
    assert "Stress test" in page(client.get("/risk/stress"))
