"""The interface is Chinese first; the switch on the login page turns it English, and the choice
survives logging in (core/auth/views.py keeps the language across the new session)."""
from __future__ import annotations

import re
from pathlib import Path

from babel.messages.pofile import read_po

from tests.e2e.conftest import PROJECT_ROOT

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
