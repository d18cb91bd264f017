"""Seed-fund pages: who sees them, the whole path through the web forms, refusals that keep the
form and write nothing, the overview's figures against the API, and no inline script anywhere.

Today is 2025-12-31 (tests/funds/conftest.py); steps carry earlier ``on`` dates, as paper does.
"""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from core.auth.models import User
from core.db import db
from funds.models import SeedApplication, SeedLoan
from tests.conftest import make_user
from tests.funds.conftest import eligible_enterprise
from tests.support import csrf_token_from, post_form
from tests.test_interface import assert_csp_clean, english_catalog  # noqa: F401 - fixture

D = Decimal
FUND_ROLES = ("fund_officer", "fund_manager", "auditor", "admin")


def sign_in(client, user) -> None:
    """Log the web client in as ``user`` (as tests/conftest.py's ``login_as`` does)."""
    with client.session_transaction() as session:
        session["_user_id"] = str(user.id)
        session["_fresh"] = True
        session["_pw_stamp"] = user.password_changed_at.isoformat()


def html_of(response) -> str:
    return response.get_data(as_text=True)


def credit_code_of(app, enterprise_id: int) -> str:
    with app.app_context():
        from parties.models import Enterprise

        return db.session.get(Enterprise, enterprise_id).credit_code


def seed_forms(html: str) -> list[str]:
    """The actions of the page's POST forms other than logout."""
    return [action for action in re.findall(r'<form method="post"[^>]*action="([^"]+)"', html) if action != "/logout"]


@pytest.fixture
def book(seed, app):
    """A fund with money, an application in each of a few phases and three seed loans:
    ``{"approved": id (public notice over), "review": id (3 scores), "loan": id (active),
    "overdue": id, "contracted": id}``."""
    seed.contribute("3000000.00")
    first, second, third, fourth = (eligible_enterprise(app) for _ in range(4))
    ids = {}
    ids["approved"] = seed.approved_application(first, amount="150000.00")
    ids["review"] = seed.apply(second, amount="120000.00", on=date(2025, 11, 3))["id"]
    seed.initial_review(ids["review"], on=date(2025, 11, 4))
    seed.expert_reviews(ids["review"], scores=(80, 75, 70), on=date(2025, 11, 10))
    ids["loan"] = seed.disbursed_loan(third, amount="120000.00", term=12)
    ids["overdue"] = seed.disbursed_loan(fourth, amount="90000.00", term=3)
    ids["contracted"] = seed.contracted_loan(eligible_enterprise(app), amount="60000.00", repayment="bullet", term=6)
    seed.repay(ids["loan"], "10000.00", date(2025, 7, 24), "HK-A-1")
    return ids


def pages(book: dict[str, int]) -> list[str]:
    return [
        "/seed",
        "/seed/applications",
        "/seed/applications?phase=ready_to_contract",
        "/seed/applications?q=%E7%A0%94%E5%8F%91",
        f"/seed/applications/{book['approved']}",
        f"/seed/applications/{book['review']}",
        "/seed/decisions",
        "/seed/loans",
        "/seed/loans?status=overdue&classification=substandard",
        "/seed/loans/overdue",
        f"/seed/loans/{book['loan']}",
        f"/seed/loans/{book['overdue']}",
        f"/seed/loans/{book['contracted']}",
    ]


# ------------------------------------------------------------------------------------------- access


@pytest.mark.parametrize("role", FUND_ROLES)
def test_every_page_renders_in_chinese_for_the_fund_roles(client, login_as, book, role):
    login_as(role)
    for url in pages(book) + (["/seed/applications/new"] if role == "fund_officer" else []):
        response = client.get(url)
        html = html_of(response)
        assert response.status_code == 200, (url, html[:2000])
        assert '<html lang="zh-CN">' in html and "创业种子基金" in html, url
        assert_csp_clean(html)
        if role in ("auditor", "admin"):  # read-only: no form but the logout one
            assert seed_forms(html) == [], (url, seed_forms(html))
    nav = html_of(client.get("/")).split('<ul class="navbar-nav', 1)[1].split("</ul>", 1)[0]
    assert 'href="/seed"' in nav and "创业种子基金" in nav


def test_officers_and_managers_see_the_forms_of_their_steps(client, login_as, book):
    login_as("fund_officer")
    assert seed_forms(html_of(client.get(f"/seed/applications/{book['approved']}"))) == [
        f"/seed/applications/{book['approved']}/contract",
        f"/seed/applications/{book['approved']}/objections",  # one received during the notice, entered late
        f"/seed/applications/{book['approved']}/withdrawal",
    ]
    assert f"/seed/loans/{book['overdue']}/write-off" in seed_forms(html_of(client.get(f"/seed/loans/{book['overdue']}")))
    assert seed_forms(html_of(client.get(f"/seed/loans/{book['contracted']}"))) == [
        f"/seed/loans/{book['contracted']}/disbursement"
    ]
    login_as("fund_manager")
    review_page = html_of(client.get(f"/seed/applications/{book['review']}"))
    assert seed_forms(review_page) == [f"/seed/applications/{book['review']}/decision"]
    assert "75.00" in review_page and "及格分 60" in review_page
    queue = html_of(client.get("/seed/decisions"))
    assert f"/seed/applications/{book['review']}/decision" in seed_forms(queue)
    assert "符合批准条件" in queue


@pytest.mark.parametrize("role", ["bank_liaison"])
def test_liaisons_never_see_the_seed_fund(client, login_as, book, role):
    login_as(role)
    for url in pages(book) + ["/seed/applications/new"]:
        response = client.get(url)
        assert response.status_code == 403, url
        assert "无权访问" in html_of(response)
    assert "创业种子基金" not in html_of(client.get("/")).split("<main", 1)[0]
    token = csrf_token_from(client, "/")
    response = client.post(f"/seed/applications/{book['review']}/decision", data={"csrf_token": token, "approved": "yes"})
    assert response.status_code == 403


def test_anonymous_visitors_go_to_the_login_page(client, book):
    response = client.get("/seed")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_steps_are_refused_to_the_wrong_role(client, app, book, row_counts):
    auditor, officer, manager = (make_user(app, role) for role in ("auditor", "fund_officer", "fund_manager"))
    sign_in(client, auditor)
    token = csrf_token_from(client, "/seed")
    before = row_counts()
    for url, data in [
        ("/seed/applications/new", {}),
        (f"/seed/applications/{book['review']}/decision", {"approved": "yes"}),
        (f"/seed/loans/{book['loan']}/repayments", {"amount": "1.00", "bank_ref": "X"}),
    ]:
        assert client.post(url, data={**data, "csrf_token": token}).status_code == 403, url
    sign_in(client, officer)
    response = client.post(f"/seed/applications/{book['review']}/decision", data={"approved": "yes", "csrf_token": token})
    assert response.status_code == 403
    sign_in(client, manager)
    assert client.get("/seed/applications/new").status_code == 403
    assert client.post(f"/seed/loans/{book['loan']}/repayments", data={"amount": "1.00", "bank_ref": "X",
                                                                       "csrf_token": token}).status_code == 403
    assert row_counts() == before


def test_unknown_records_are_404(client, login_as, book):
    login_as("fund_officer")
    assert client.get("/seed/applications/999999").status_code == 404
    assert client.get("/seed/loans/999999").status_code == 404
    assert post_form(client, "/seed/applications/999999/withdrawal", {}, form_url="/seed").status_code == 404


# ------------------------------------------------------------------------------------- the happy path


def test_the_whole_path_through_the_web_forms(client, seed, app, enterprise_id):
    seed.contribute("2000000.00")
    officer, reviewer, manager = seed.officer.user, seed.officer2.user, seed.manager.user
    code = credit_code_of(app, enterprise_id)

    sign_in(client, officer)
    created = post_form(client, "/seed/applications/new", {
        "applicant": "enterprise", "credit_code": code.lower(), "amount": "100,000.00", "term_months": "3",
        "repayment": "monthly", "purpose": "研发样机", "on": "2025-06-02",
    })
    assert created.status_code == 302, html_of(created)
    url = created.headers["Location"]
    application_id = int(re.search(r"/seed/applications/(\d+)", url).group(1))
    page = html_of(client.get(url))
    assert "已受理申请" in page and "¥100,000.00" in page and "已受理" in page

    assert post_form(client, f"{url}/initial-review", {"passed": "yes", "comment": "材料齐全", "on": "2025-06-03"},
                     form_url=url).status_code == 302

    sign_in(client, reviewer)
    for n, score in enumerate((60, 61, 59), start=1):
        response = post_form(client, f"{url}/expert-reviews",
                             {"expert_name": f"专家{n}", "score": str(score), "on": "2025-06-10"}, form_url=url)
        assert response.status_code == 302, html_of(response)
    page = html_of(client.get(url))
    assert "60.00" in page and "专家3" in page

    sign_in(client, manager)
    queue = html_of(client.get("/seed/decisions"))
    assert f"#{application_id}" in queue and "¥2,000,000.00" in queue  # the available balance, prominent
    decided = post_form(client, f"{url}/decision", {"approved": "yes", "comment": "同意", "on": "2025-06-13",
                                                    "source": "decisions"}, form_url="/seed/decisions")
    assert decided.status_code == 302 and decided.headers["Location"].endswith("/seed/decisions")
    assert "公示至 2025-06-20" in html_of(client.get("/seed/decisions"))
    assert seed.fund()["available"] == "1900000.00"

    sign_in(client, officer)
    page = html_of(client.get(url))
    assert "公示期已于 2025-06-20 结束" in page  # waited out by the dates on paper
    contracted = post_form(client, f"{url}/contract", {"on": "2025-06-23"}, form_url=url)
    assert contracted.status_code == 302, html_of(contracted)
    with app.app_context():
        loan_id = db.session.scalar(sa.select(SeedLoan.id).where(SeedLoan.application_id == application_id))
    assert "已签订合同 ZZJJ-2025-0001" in html_of(client.get(contracted.headers["Location"]))

    loan_url = f"/seed/loans/{loan_id}"
    disbursed = post_form(client, f"{loan_url}/disbursement", {"bank_ref": "FK-WEB-1", "on": "2025-06-24"}, form_url=loan_url)
    assert disbursed.status_code == 302
    page = html_of(client.get(loan_url))
    assert "已放款 ¥100,000.00" in page
    assert "2025-07-24" in page and "¥33,333.33" in page and "¥33,333.34" in page
    for n, (amount, day) in enumerate([("33,333.33", "2025-07-24"), ("33333.33", "2025-08-24"), ("¥33,333.34", "2025-09-24")]):
        paid = post_form(client, f"{loan_url}/repayments", {"amount": amount, "bank_ref": f"HK-WEB-{n}", "on": day},
                         form_url=loan_url)
        assert paid.status_code == 302, html_of(paid)
    page = html_of(client.get(loan_url))
    assert "已结清" in page and page.count('data-line="paid"') == 3
    assert seed.fund()["available"] == "2000000.00"  # the fund revolves

    timeline = html_of(client.get(url)).split('data-testid="timeline"', 1)[1].split("</table>", 1)[0]
    assert re.findall(r'data-action="([a-z_]+)"', timeline) == [
        "submitted", "initial_review", "expert_review", "expert_review", "expert_review",
        "decision", "contracted", "disbursed",
    ]
    for text in ("2025-06-13", "同意", "材料齐全", "专家2: 61", "ZZJJ-2025-0001", "FK-WEB-1", manager.username):
        assert text in timeline, text


def test_a_startup_team_applies_then_registers_its_enterprise(client, seed, app, enterprise_id):
    sign_in(client, seed.officer.user)
    created = post_form(client, "/seed/applications/new", {
        "applicant": "team", "team_name": "星火创业团队", "contact_name": "王明", "contact_phone": "13800000000",
        "amount": "50000", "term_months": "6", "repayment": "bullet", "on": "2025-11-03",
    })
    assert created.status_code == 302, html_of(created)
    url = created.headers["Location"]
    page = html_of(client.get(url))
    assert "星火创业团队" in page and f'action="{url}/enterprise"' in page
    linked = post_form(client, f"{url}/enterprise", {"credit_code": credit_code_of(app, enterprise_id), "on": "2025-11-10"},
                       form_url=url)
    assert linked.status_code == 302
    page = html_of(client.get(url))
    assert "已登记企业" in page and f'action="{url}/enterprise"' not in page


def test_objection_and_its_resolution_through_the_forms(client, seed, app, enterprise_id):
    seed.contribute("1000000.00")
    application_id = seed.approved_application(enterprise_id, amount="100000.00")  # notice 06-13 .. 06-20
    url = f"/seed/applications/{application_id}"
    sign_in(client, seed.officer.user)
    raised = post_form(client, f"{url}/objections", {"text": "群众反映企业实际未经营", "on": "2025-06-16"}, form_url=url)
    assert raised.status_code == 302
    page = html_of(client.get(url))
    assert "公示有异议" in page and "群众反映企业实际未经营" in page

    sign_in(client, seed.manager2.user)
    assert f"#{application_id}" in html_of(client.get("/seed/decisions")).split('data-testid="objected"', 1)[1]
    with app.app_context():
        objection_id = db.session.get(SeedApplication, application_id).objections[0].id
    resolved = post_form(client, f"{url}/objection-resolution",
                         {"objection_id": str(objection_id), "upheld": "no", "reason": "经核实企业正常经营", "on": "2025-06-18"},
                         form_url=url)
    assert resolved.status_code == 302, html_of(resolved)
    page = html_of(client.get(url))
    assert "已驳回异议" in page and "经核实企业正常经营" in page and "公示期已于 2025-06-20 结束" in page


def test_write_off_and_recovery_through_the_forms(client, seed, app, enterprise_id):
    seed.contribute("1000000.00")
    loan_id = seed.disbursed_loan(enterprise_id, amount="300000.00", term=3)
    url = f"/seed/loans/{loan_id}"
    sign_in(client, seed.officer.user)
    page = html_of(client.get("/seed/loans/overdue"))
    assert f"/seed/loans/{loan_id}" in page and "逾期" in page
    assert post_form(client, f"{url}/write-off", {"reason": "企业停业", "on": "2025-12-01"}, form_url=url).status_code == 302
    sign_in(client, seed.manager.user)
    page = html_of(client.get(url))
    assert "企业停业" in page and f"{url}/write-off/decision" in seed_forms(page)
    approved = post_form(client, f"{url}/write-off/decision", {"approve": "yes", "comment": "同意", "on": "2025-12-05"},
                         form_url=url)
    assert approved.status_code == 302
    assert "已核销本金 ¥300,000.00" in html_of(client.get(url))
    sign_in(client, seed.officer.user)
    recovered = post_form(client, f"{url}/recoveries", {"amount": "50,000.00", "bank_ref": "ZC-WEB-1", "on": "2025-12-20"},
                          form_url=url)
    assert recovered.status_code == 302
    page = html_of(client.get(url))
    assert "ZC-WEB-1" in page and "已收回 ¥50,000.00" in page
    fund = seed.fund()
    assert (fund["written_off_total"], fund["recovered_total"]) == ("300000.00", "50000.00")


# --------------------------------------------------------------------------------------- refusals


def test_a_refused_decision_shows_the_reason_keeps_the_form_and_writes_nothing(client, seed, app, enterprise_id, row_counts):
    seed.contribute("1000000.00")
    application_id = seed.apply(enterprise_id, amount="100000.00")["id"]
    seed.initial_review(application_id)
    seed.expert_reviews(application_id, scores=(50, 60, 55))
    url = f"/seed/applications/{application_id}"
    sign_in(client, seed.manager.user)
    token = csrf_token_from(client, url)
    before = row_counts()
    response = client.post(f"{url}/decision", data={"approved": "yes", "comment": "拟同意支持", "on": "2025-06-13",
                                                     "csrf_token": token})
    html = html_of(response)
    assert response.status_code == 409
    assert "专家评审平均分 55.00 低于及格分 60" in html and "未保存任何内容" in html
    assert "拟同意支持" in html and 'value="2025-06-13"' in html  # the values typed are kept
    assert_csp_clean(html)
    assert row_counts() == before
    # The same refusal from the decision queue re-renders the queue.
    response = client.post(f"{url}/decision", data={"approved": "yes", "comment": "队列中批准", "source": "decisions",
                                                     "csrf_token": token})
    html = html_of(response)
    assert response.status_code == 409 and "低于及格分" in html and "队列中批准" in html and 'data-testid="awaiting"' in html
    assert row_counts() == before


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ({"amount": "300,000.01"}, 422, "单笔借款不能超过 ¥300,000.00"),
        ({"amount": "abc"}, 422, "无法识别的金额"),
        ({"term_months": "25"}, 422, "借款期限应为 1 到 24 个月"),
        ({"term_months": "三"}, 422, "应为整数"),
        ({"credit_code": "91350100M000100Y43"}, 422, "平台尚未登记该统一社会信用代码的企业"),
        ({"credit_code": ""}, 422, "请填写统一社会信用代码"),
        ({"on": "2026-01-05"}, 422, "日期不能晚于今天"),
        ({"on": "2025-13-01"}, 422, "日期格式不正确"),
        ({"applicant": "team"}, 422, "请填写创业团队名称"),
        ({"applicant": ""}, 422, "请选择申请人类型"),
        ({"old": True}, 409, "不符合种子基金申请条件"),
    ],
)
def test_application_form_refusals_are_in_chinese_and_write_nothing(client, login_as, app, row_counts, data, status, message):
    login_as("fund_officer")
    old = data.pop("old", False)
    enterprise_id = eligible_enterprise(app, registered_on=date(2015, 1, 1)) if old else eligible_enterprise(app)
    form = {"applicant": "enterprise", "credit_code": credit_code_of(app, enterprise_id), "amount": "100000.00",
            "term_months": "12", "repayment": "monthly", "purpose": "研发", "on": "2025-06-02", **data}
    token = csrf_token_from(client, "/seed/applications/new")
    before = row_counts()
    response = client.post("/seed/applications/new", data={**form, "csrf_token": token})
    html = html_of(response)
    assert response.status_code == status, html[:3000]
    assert message in html
    assert 'data-testid="refusal"' in html
    assert row_counts() == before


def test_step_refusals_on_the_application_and_loan_pages(client, seed, app, enterprise_id, row_counts):
    seed.contribute("1000000.00")
    approved = seed.approved_application(enterprise_id, amount="100000.00")
    submitted = seed.apply(eligible_enterprise(app), amount="50000.00")["id"]
    loan_id = seed.disbursed_loan(eligible_enterprise(app), amount="30000.00", term=3)
    sign_in(client, seed.officer.user)
    token = csrf_token_from(client, "/seed")
    before = row_counts()
    cases = [
        (f"/seed/applications/{approved}/contract", {"on": "2025-06-20"}, 409, "之后才能签订合同"),
        (f"/seed/applications/{approved}/objections", {"text": "迟到的异议", "on": "2025-06-23"}, 409, "只能在公示期内登记异议"),
        (f"/seed/applications/{approved}/initial-review", {"passed": "yes"}, 409, "不能初审通过"),
        (f"/seed/applications/{submitted}/initial-review", {"passed": ""}, 422, "请选择初审结论"),
        (f"/seed/applications/{submitted}/initial-review", {"passed": "yes", "on": "2025-06-01"}, 409, "早于上一步骤的日期"),
        (f"/seed/applications/{submitted}/expert-reviews", {"expert_name": "张三", "score": "80"}, 409, "不能登记专家评审"),
        (f"/seed/loans/{loan_id}/repayments", {"amount": "30000.01", "bank_ref": "R1", "on": "2025-07-01"}, 409, "超过借款余额"),
        (f"/seed/loans/{loan_id}/repayments", {"amount": "", "bank_ref": "R1"}, 422, "请填写金额"),
        (f"/seed/loans/{loan_id}/repayments", {"amount": "10.00", "bank_ref": ""}, 422, "请填写银行流水号"),
        (f"/seed/loans/{loan_id}/write-off", {"reason": "提前核销", "on": "2025-07-01"}, 409, "未逾期，不能提议核销"),
        (f"/seed/loans/{loan_id}/disbursement", {"bank_ref": "FK-AGAIN"}, 409, "不能重复放款"),
    ]
    for url, data, status, message in cases:
        response = client.post(url, data={**data, "csrf_token": token})
        html = html_of(response)
        assert response.status_code == status, (url, data, html[:3000])
        assert message in html, (url, message)
        assert 'data-testid="refusal"' in html
        assert_csp_clean(html)
    assert row_counts() == before


def test_an_expert_score_out_of_range_is_refused_under_its_field(client, seed, app, enterprise_id, row_counts):
    application_id = seed.apply(enterprise_id)["id"]
    seed.initial_review(application_id)
    url = f"/seed/applications/{application_id}"
    sign_in(client, seed.officer2.user)
    token = csrf_token_from(client, url)
    before = row_counts()
    response = client.post(f"{url}/expert-reviews", data={"expert_name": "张三", "score": "101", "csrf_token": token})
    html = html_of(response)
    assert response.status_code == 422
    assert "评分应为 0 到 100 的整数" in html and 'value="张三"' in html and 'value="101"' in html
    assert row_counts() == before


def test_a_form_without_csrf_is_refused(client, seed, enterprise_id, row_counts):
    application_id = seed.apply(enterprise_id)["id"]
    sign_in(client, seed.officer.user)
    before = row_counts()
    response = client.post(f"/seed/applications/{application_id}/initial-review", data={"passed": "yes"})
    assert response.status_code == 400
    assert row_counts() == before


def test_four_eyes_warnings_for_a_manager_who_took_part(client, seed, app, enterprise_id, row_counts):
    seed.contribute("1000000.00")
    application_id = seed.apply(enterprise_id, amount="100000.00")["id"]  # submitted by seed.officer
    seed.initial_review(application_id)
    seed.expert_reviews(application_id)
    with app.app_context():  # the officer is promoted: they may not judge their own file
        user = db.session.get(User, seed.officer.id)
        user.role = "fund_manager"
        db.session.commit()
        db.session.refresh(user)
        db.session.expunge(user)
    sign_in(client, user)
    queue = html_of(client.get("/seed/decisions"))
    assert 'data-testid="four-eyes"' in queue and f"/seed/applications/{application_id}/decision" not in seed_forms(queue)
    page = html_of(client.get(f"/seed/applications/{application_id}"))
    assert "四眼原则" in page and seed_forms(page) == []
    token = csrf_token_from(client, "/seed")
    before = row_counts()
    response = client.post(f"/seed/applications/{application_id}/decision",
                           data={"approved": "yes", "on": "2025-06-13", "csrf_token": token})
    assert response.status_code == 409 and "四眼原则" in html_of(response)
    assert row_counts() == before


# ------------------------------------------------------------------------------------- the overview


def test_the_overview_figures_equal_the_api(client, login_as, seed, book, app):
    login_as("auditor")
    html = html_of(client.get("/seed"))
    shown = dict(re.findall(r'data-figure="([a-z_]+)" data-amount="([0-9.\-]+)"', html))
    api = seed.fund()
    keys = ("size", "paid_in", "cash", "committed", "available", "outstanding", "disbursed_cumulative", "written_off_total")
    assert {key: shown[key] for key in keys} == {key: api[key] for key in keys}
    assert api["disbursed_cumulative"] == "6410000.00"  # the 6,200,000.00 opening included
    assert "¥6,410,000.00" in html and "含期初数 ¥6,200,000.00" in html
    # The charts' data: month ends from the first contribution (2025-05) to today.
    balances = re.search(r"id=\"chart-balances\"[^>]*data-chart='([^']+)'", html).group(1)
    import json

    chart = json.loads(balances)
    assert chart["labels"][0] == "2025-05" and chart["labels"][-1] == "2025-12"
    assert [series["label"] for series in chart["series"]] == ["实收资本", "借款余额", "可用余额"]
    assert chart["series"][0]["values"][-1] == api["paid_in"] and chart["series"][2]["values"][-1] == api["available"]
    flows = json.loads(re.search(r"id=\"chart-flows\"[^>]*data-chart='([^']+)'", html).group(1))
    july = flows["labels"].index("2025-07")
    assert flows["series"][0]["values"][july] == "10000.00"
    assert '<script src="/static/js/seed_fund.js"></script>' in html


def test_the_overview_of_an_empty_fund(client, login_as):
    login_as("fund_manager")
    response = client.get("/seed")
    html = html_of(response)
    assert response.status_code == 200 and "尚无注资记录" in html
    assert 'data-figure="disbursed_cumulative" data-amount="6200000.00"' in html


def test_the_pages_switch_to_english(client, login_as, book, english_catalog):
    login_as("fund_manager")
    client.get("/lang/en?next=/seed")
    html = html_of(client.get("/seed"))
    assert '<html lang="en">' in html
    for text in ("Overview", "Decisions", "Fund size", "Opening figure ¥6,200,000.00 included", "Paid-in capital"):
        assert text in html, text
    assert "基金概览" not in html and "可用余额" not in html
    page = html_of(client.get(f"/seed/applications/{book['review']}"))
    assert "Fund available" in page and "Every step of the application" in page
    assert_csp_clean(page)
