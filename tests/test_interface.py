"""The interface: layout per role, language switch, error pages, template helpers."""
from __future__ import annotations

import re
import subprocess
import sys
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import render_template_string, session
from sqlalchemy.exc import OperationalError

from core import templating
from core.db import db
from core.extensions import login_manager

TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"
ROLES = ("admin", "bank_liaison", "fund_officer", "fund_manager", "auditor")
ROLE_NAMES = {
    "admin": "系统管理员",
    "bank_liaison": "银行联络员",
    "fund_officer": "基金经办",
    "fund_manager": "基金管理人",
    "auditor": "财务审计",
}
ADMIN_NAV = ("用户管理", "合作银行", "API 文档")

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"<[^>]+\sstyle\s*=", re.IGNORECASE)


@pytest.fixture(scope="module")
def english_catalog():
    """The English catalog compiled (.mo files are build products, the Makefile compiles them too)."""
    po = TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po"
    mo = po.with_suffix(".mo")
    if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
        subprocess.run(
            [sys.executable, "-m", "babel.messages.frontend", "compile", "-d", str(TRANSLATIONS)], check=True
        )
    return mo


def nav_labels(html: str) -> list[str]:
    nav = html.split('<ul class="navbar-nav', 1)[1].split("</ul>", 1)[0]
    return re.findall(r'class="nav-link[^"]*"[^>]*>([^<]+)</a>', nav)


def assert_csp_clean(html: str) -> None:
    assert not INLINE_SCRIPT.search(html), "inline <script> found"
    assert not INLINE_HANDLER.search(html), "inline event handler found"
    assert not STYLE_ATTRIBUTE.search(html), "style attribute found"


# ------------------------------------------------------------------------------------------ layout


@pytest.mark.parametrize("role", ROLES)
def test_home_page_renders_in_chinese_for_each_role(client, login_as, role):
    user = login_as(role, display_name=f"测试{role}")
    response = client.get("/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert '<html lang="zh-CN">' in html
    assert "科技金融服务平台" in html
    assert f"测试{role}" in html and ROLE_NAMES[role] in html
    # Logout is a POST form carrying the CSRF token.
    assert re.search(r'<form method="post" action="/logout"[^>]*>\s*<input type="hidden" name="csrf_token" value="[^"]+"', html)
    assert 'href="/lang/en?next=/"' in html and 'href="/lang/zh?next=/"' in html
    assert_csp_clean(html)
    labels = nav_labels(html)
    assert labels[0] == "首页"
    if role == "admin":
        assert all(entry in labels for entry in ADMIN_NAV)
    else:
        assert not any(entry in labels for entry in ADMIN_NAV)
    if role == "bank_liaison":
        assert user.bank.name in html


def test_nav_skips_endpoints_that_do_not_exist_yet(client, login_as, monkeypatch):
    monkeypatch.setattr(
        templating,
        "NAVIGATION",
        [*templating.NAVIGATION, templating.NavItem("未来的页面", "future.page", templating.ALL_ROLES)],
    )
    login_as("auditor")
    html = client.get("/").get_data(as_text=True)
    assert "未来的页面" not in html


def test_current_section_is_marked_in_the_nav(client, login_as):
    login_as("admin")
    html = client.get("/admin/banks/new").get_data(as_text=True)
    assert re.search(r'class="nav-link active" href="/admin/banks" aria-current="page">合作银行', html)


def test_anonymous_visitor_is_sent_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_auditor_home_shows_the_audit_chain_status(client, login_as):
    login_as("auditor")
    html = client.get("/").get_data(as_text=True)
    assert "审计链校验" in html
    assert "/api/v1/audit" in html


def test_auditor_home_survives_a_verification_that_cannot_run(client, login_as, monkeypatch):
    from core.audit import trail

    def broken():
        raise RuntimeError("boom")

    monkeypatch.setattr(trail, "verify_chain", broken, raising=False)
    login_as("auditor")
    response = client.get("/")
    assert response.status_code == 200
    assert "本次未能完成校验" in response.get_data(as_text=True)


def test_read_verification_understands_the_usual_shapes():
    from config.home import _read_verification

    assert _read_verification({"ok": True, "events": 7})["events"] == 7
    assert _read_verification((False, 3))["ok"] is False
    assert _read_verification(True)["ok"] is True


# ---------------------------------------------------------------------------------------- language


def test_english_switch_changes_the_page_language(client, login_as, english_catalog):
    login_as("admin")
    response = client.get("/lang/en?next=/admin/banks")
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/banks"
    html = client.get("/").get_data(as_text=True)
    assert '<html lang="en">' in html
    # Catalog strings are trusted markup in Jinja's newstyle gettext; a bare "&T " is valid HTML5 text.
    assert "<title>Home · S&T Finance Platform</title>" in html
    assert "System administrator" in html
    assert "Partner banks" in html
    assert "系统管理员" not in html
    # and back
    client.get("/lang/zh?next=/")
    assert '<html lang="zh-CN">' in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize(
    "target",
    ["http://evil.example", "https://evil.example/x", "//evil.example", "/\\evil.example", "javascript:alert(1)", "evil"],
)
def test_language_switch_never_redirects_off_site(client, login_as, target):
    login_as("admin")
    response = client.get("/lang/en", query_string={"next": target})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_language_switch_works_before_login(client, english_catalog):
    response = client.get("/lang/en?next=/login")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    with client.session_transaction() as stored:
        assert stored["lang"] == "en"


def test_unknown_language_is_404(client):
    assert client.get("/lang/fr").status_code == 404


# ------------------------------------------------------------------------------------- error pages


@pytest.mark.parametrize("logged_in", [False, True])
def test_404_page_is_chinese_for_people(client, login_as, logged_in):
    if logged_in:
        login_as("fund_officer")
    response = client.get("/no-such-page")
    html = response.get_data(as_text=True)
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert '<html lang="zh-CN">' in html and "页面或记录不存在" in html and 'href="/"' in html
    assert_csp_clean(html)


def test_404_on_the_api_has_the_json_shape(client):
    response = client.get("/api/v1/no-such-endpoint")
    assert response.status_code == 404
    body = response.get_json()
    assert set(body) == {"code", "status", "message", "errors"}
    assert body["code"] == 404 and body["status"] == "Not Found" and body["errors"] == {}


def test_403_page_for_a_role_without_access(client, login_as):
    login_as("fund_manager")
    response = client.get("/admin/banks")
    assert response.status_code == 403
    assert "无权访问" in response.get_data(as_text=True)


HEADINGS = {
    400: "请求无法处理",
    403: "无权访问",
    404: "页面或记录不存在",
    409: "操作未被接受",
    413: "文件过大",
    422: "提交的数据有误",
    429: "操作过于频繁",
    500: "系统内部错误",
    503: "服务暂时不可用",
}


class QueryCounter:
    def __init__(self, engine):
        self.engine, self.count = engine, 0

    def __enter__(self):
        sa.event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc):
        sa.event.remove(self.engine, "before_cursor_execute", self._count)

    def _count(self, *args, **kwargs):
        self.count += 1


def failing_user_loader(user_id):
    raise OperationalError("SELECT 1", {}, Exception("database is down"))


@pytest.mark.parametrize("code", sorted(HEADINGS))
def test_every_error_page_renders_without_a_database(app, monkeypatch, code):
    """Even with a session whose user cannot be loaded (database down), the page renders, query-free."""
    from core.errors import respond

    monkeypatch.setattr(login_manager, "_user_callback", failing_user_loader)
    with app.test_request_context(f"/somewhere/{code}"):
        session["_user_id"] = "1"
        with QueryCounter(db.engine) as queries:
            response = respond(code, "具体原因")
        html = response.get_data(as_text=True)
    assert response.status_code == code
    assert queries.count == 0
    assert HEADINGS[code] in html and "具体原因" in html and "返回首页" in html
    assert '<html lang="zh-CN">' in html
    assert_csp_clean(html)


def test_5xx_page_does_not_even_try_to_load_the_user(app, monkeypatch):
    from core.errors import respond

    calls = []
    monkeypatch.setattr(login_manager, "_user_callback", lambda user_id: calls.append(user_id))
    with app.test_request_context("/"):
        session["_user_id"] = "1"
        respond(503, "数据库不可用")
    assert calls == []


def test_error_page_lists_field_errors(app):
    from core.errors import respond

    with app.test_request_context("/admin/banks/new"):
        html = respond(422, "提交的数据有误", {"code": ["银行代码须为 2–32 位英文字母或数字"]}).get_data(as_text=True)
    assert "银行代码须为 2–32 位英文字母或数字" in html


# ---------------------------------------------------------------------------------- filters, macros


def test_filters(app):
    with app.test_request_context("/"):
        assert templating.cny(Decimal("1234.5")) == "¥1,234.50"
        assert templating.cny(None) == "—"
        assert templating.capitals(Decimal("1409.50")) == "人民币壹仟肆佰零玖元伍角"
        assert templating.format_date(date(2025, 6, 30)) == "2025-06-30"
        # 16:30 UTC is already the next day in Shanghai.
        late = datetime(2025, 6, 30, 16, 30, tzinfo=timezone.utc)
        assert templating.format_date(late) == "2025-07-01"
        assert templating.format_datetime(late) == "2025-07-01 00:30"
        assert templating.percent(Decimal("0.12345")) == "12.35%"
        assert templating.role_label("fund_manager") == "基金管理人"
        assert templating.role_label("unknown") == "unknown"


def test_floats_never_become_money(app):
    with app.test_request_context("/"), pytest.raises(TypeError):
        templating.cny(12.5)


def test_macros_render(app):
    source = """{% from "_macros.html" import money_cell, status_badge, pagination, active_badge %}
<table><tr>{{ money_cell(amount) }}{{ money_cell(negative) }}</tr></table>
{{ status_badge("overdue") }}{{ status_badge("custom", "自定义", "info") }}{{ active_badge(false) }}
{{ pagination(3, 10, 95) }}"""
    with app.test_request_context("/admin/banks?q=工商&page=3"):
        html = render_template_string(source, amount=Decimal("1000000"), negative=Decimal("-5.00"))
    assert '<td class="money">¥1,000,000.00</td>' in html
    assert '<td class="money negative">-¥5.00</td>' in html
    assert 'text-bg-danger">逾期</span>' in html
    assert 'text-bg-info">自定义</span>' in html
    assert "停用" in html
    assert "共 95 条，第 3 / 10 页" in html
    # page links keep the filters
    assert re.search(r'href="/admin/banks\?q=%E5%B7%A5%E5%95%86&amp;page=4"', html)


def test_page_numbers_elide_the_middle():
    assert templating.page_numbers(6, 20) == [1, None, 4, 5, 6, 7, 8, None, 20]
    assert templating.page_numbers(1, 3) == [1, 2, 3]
