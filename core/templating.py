"""What every page template may use: filters, globals and the navigation.

Filters: ``cny`` (¥1,234.50), ``capitals`` (人民币壹仟贰佰叁拾肆元伍角), ``date`` (YYYY-MM-DD),
``datetime`` (YYYY-MM-DD HH:MM in Asia/Shanghai), ``percent``, ``role_label``, ``status_label``.
Globals: ``nav_items()``, ``layout_user()``, ``current_locale()``, ``html_lang()``,
``endpoint_url(endpoint)``, ``page_url(n)``, ``status_tone(value)``, ``ROLE_LABELS``.

The navigation is data (``NAVIGATION``): a later page adds one line here, and an entry whose
endpoint is not registered yet is simply not shown. Endpoints are strings, so core still
imports no domain package.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import urlencode

from flask import Flask, current_app, has_request_context, request, url_for
from flask_babel import get_locale
from flask_babel import refresh as refresh_babel
from flask_login import current_user
from flask_login.utils import _user_context_processor as _flask_login_context_processor
from werkzeug.routing import BuildError

from core import clock
from core.auth.models import ROLE_LABELS, ROLE_VALUES
from core.i18n import _l
from core.money import format_cny, to_chinese_capitals

# One source for role names: the identity models (Role values, Chinese labels).
ALL_ROLES = ROLE_VALUES


@dataclass(frozen=True)
class NavItem:
    """One entry of the top navigation: shown to ``roles`` when ``endpoint`` exists."""

    label: Any  # a lazy string, translated when the page renders
    endpoint: str
    roles: tuple[str, ...]


# Order is display order. Add one line per new page; missing endpoints are skipped.
NAVIGATION: list[NavItem] = [
    NavItem(_l("首页"), "home.index", ALL_ROLES),
    NavItem(_l("企业"), "parties.enterprises", ALL_ROLES),
    NavItem(_l("知识价值贷款"), "loans.index", ALL_ROLES),
    NavItem(_l("项目进度"), "progress.index", ALL_ROLES),
    NavItem(_l("创业种子基金"), "seed.overview", ("fund_officer", "fund_manager", "auditor", "admin")),
    NavItem(_l("风险补偿"), "risk.overview", ("fund_manager", "auditor", "admin")),
    NavItem(_l("风险补偿"), "risk.claims", ("bank_liaison",)),
    NavItem(_l("批量导入"), "loans_batch.batch_import", ("bank_liaison",)),
    NavItem(_l("贷款台账"), "loans_batch.tapes", ("bank_liaison",)),
    NavItem(_l("定时任务"), "jobs.index", ("admin", "auditor")),
    NavItem(_l("月度对账"), "reconciliation.index", ("auditor", "fund_manager", "admin")),
    NavItem(_l("文件库"), "documents.index", ALL_ROLES),
    NavItem(_l("用户管理"), "auth.users", ("admin",)),
    NavItem(_l("合作银行"), "parties.banks", ("admin",)),
    NavItem(_l("政策参数"), "policy.index", ALL_ROLES),
    NavItem(_l("API 文档"), "api-docs.openapi_swagger_ui", ("admin",)),
]

# Status words shared by the domains, so every page shows the same label and colour for them.
STATUS_LABELS = {
    "active": _l("启用"),
    "inactive": _l("停用"),
    "draft": _l("草稿"),
    "submitted": _l("已提交"),
    "approved": _l("已批准"),
    "approved_unpaid": _l("已批准待支付"),
    "rejected": _l("已驳回"),
    "paid": _l("已支付"),
    "contracted": _l("已签约"),
    "disbursed": _l("已放款"),
    "repaid": _l("已结清"),
    "overdue": _l("逾期"),
    "written_off": _l("已核销"),
    "normal": _l("正常"),
    "warning": _l("预警"),
    "suspended": _l("暂停"),
    "balanced": _l("平衡"),
    "differences": _l("存在差异"),
    "signed_off": _l("已签核"),
    "running": _l("运行中"),
    "succeeded": _l("成功"),
    "failed": _l("失败"),
    "skipped": _l("已跳过"),
}

# Bootstrap colour per status ("tone"); anything unknown is shown neutral.
STATUS_TONES = {
    "active": "success",
    "inactive": "secondary",
    "draft": "secondary",
    "submitted": "info",
    "approved": "success",
    "approved_unpaid": "warning",
    "rejected": "danger",
    "paid": "success",
    "contracted": "primary",
    "disbursed": "primary",
    "repaid": "success",
    "overdue": "danger",
    "written_off": "dark",
    "normal": "success",
    "warning": "warning",
    "suspended": "danger",
    "balanced": "success",
    "differences": "warning",
    "signed_off": "primary",
    "running": "info",
    "succeeded": "success",
    "failed": "danger",
    "skipped": "secondary",
}

EMPTY = "—"  # shown for a missing value; an empty cell reads like a rendering bug


# ------------------------------------------------------------------------------- filters


def cny(amount: Decimal | int | None) -> str:
    """¥1,234.50; None as a dash. Never accepts float (core.money refuses it)."""
    return EMPTY if amount is None else format_cny(amount)


def capitals(amount: Decimal | int | None) -> str:
    return EMPTY if amount is None else to_chinese_capitals(amount)


def format_date(value: date | datetime | None) -> str:
    """YYYY-MM-DD; an instant is first converted to the business time zone (Asia/Shanghai)."""
    if value is None:
        return EMPTY
    if isinstance(value, datetime):
        value = _to_business_tz(value).date()
    return value.isoformat()


def format_datetime(value: datetime | None, seconds: bool = False) -> str:
    """YYYY-MM-DD HH:MM (or HH:MM:SS) in Asia/Shanghai, whatever zone the instant was stored in."""
    if value is None:
        return EMPTY
    return _to_business_tz(value).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def _to_business_tz(value: datetime) -> datetime:
    # A naive instant here can only come from UTC storage (UTCDateTime hands out aware values).
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(clock.BUSINESS_TZ)


def percent(ratio: Decimal | int | None, places: int = 2) -> str:
    """0.1234 -> 12.34%. Display only: the ratio itself stays exact."""
    if ratio is None:
        return EMPTY
    scaled = (Decimal(ratio) * 100).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return f"{scaled}%"


def role_label(role: str | None) -> str:
    if role is None:
        return EMPTY
    role = getattr(role, "value", role)
    label = ROLE_LABELS.get(role)
    return str(label) if label is not None else str(role)


def status_label(value: str | None) -> str:
    if value is None:
        return EMPTY
    label = STATUS_LABELS.get(value)
    return str(label) if label is not None else str(value)


def status_tone(value: str | None) -> str:
    return STATUS_TONES.get(value or "", "secondary")


# ------------------------------------------------------------------------------- globals


def current_locale() -> str:
    """"zh" or "en" (see core.i18n.select_locale)."""
    locale = get_locale()
    return locale.language if locale is not None else "zh"


def html_lang() -> str:
    return "en" if current_locale() == "en" else "zh-CN"


def endpoint_url(endpoint: str, **values: Any) -> str | None:
    """``url_for`` that answers None for an endpoint not registered (yet) instead of raising."""
    if endpoint not in current_app.view_functions:
        return None
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return None


def layout_user() -> Any | None:
    """The logged-in user for the layout, or None, without ever breaking the page.

    Error pages render this layout too, including when the database is down: loading the
    user must not turn a 404 into a crash. (The 5xx page does not even call this: it sets
    ``layout_minimal``, which base.html reads.)
    """
    if not has_request_context():
        return None
    try:
        user = current_user._get_current_object()
        return user if user is not None and user.is_authenticated else None
    except Exception:  # noqa: BLE001 - any failure to load a user means "show the anonymous layout"
        current_app.logger.warning("layout rendered without a user: loading it failed", exc_info=True)
        return None


def nav_items(user: Any | None = None) -> list[dict[str, Any]]:
    """The navigation entries the user's role may see, with their URL and whether they are current."""
    user = user if user is not None else layout_user()
    if user is None:
        return []
    role = getattr(user, "role", None)
    entries = []
    for item in NAVIGATION:
        if role not in item.roles:
            continue
        url = endpoint_url(item.endpoint)
        if url is None:
            continue
        entries.append({"label": str(item.label), "url": url, "active": _is_active(item.endpoint, url)})
    return entries


def _is_active(endpoint: str, url: str) -> bool:
    if not has_request_context():
        return False
    if request.endpoint == endpoint:
        return True
    # A section stays highlighted on its sub-pages (/admin/banks/new belongs to 合作银行).
    return url != "/" and request.path.startswith(url.rstrip("/") + "/")


def page_url(page: int, **overrides: Any) -> str:
    """The current URL with ``page`` (and any other query argument) replaced; filters are kept."""
    args = request.args.to_dict(flat=False)
    args["page"] = [str(page)]
    for key, value in overrides.items():
        args[key] = [str(value)]
    return f"{request.path}?{urlencode(args, doseq=True)}"


def language_url(code: str) -> str:
    """The language switch for ``code``, returning to the current page afterwards."""
    next_path = request.full_path if request.query_string else request.path
    return url_for("home.set_language", code=code, next=next_path)


def page_numbers(page: int, pages: int, around: int = 2) -> list[int | None]:
    """Page numbers to show, with None for an ellipsis: 1 … 4 5 [6] 7 8 … 20."""
    shown: list[int | None] = []
    last = 0
    for number in range(1, pages + 1):
        if number in (1, pages) or abs(number - page) <= around:
            if last and number - last > 1:
                shown.append(None)
            shown.append(number)
            last = number
    return shown


def _lazy_current_user() -> dict[str, Any]:
    """``current_user`` for templates as Flask-Login's lazy proxy: loaded on first use, not per render."""
    return {"current_user": current_user}


def _defer_user_loading(app: Flask) -> None:
    """Replace Flask-Login's context processor, which loads the user before every render.

    That eager load is a database query, so an error page (503: the database is down) would
    fail while rendering its own explanation. With the proxy, a template that never mentions
    ``current_user`` runs no query, and the layout loads it through ``layout_user``.
    """
    processors = app.template_context_processors[None]
    for index, processor in enumerate(processors):
        if processor is _flask_login_context_processor:
            processors[index] = _lazy_current_user


def _forget_previous_locale() -> None:
    """``before_request``: choose the language afresh for every request.

    Flask-Babel caches the locale on ``g``, which lives on the app context; a request made inside
    an already pushed app context (the test harness, a command) would otherwise keep the language
    of the previous request after a switch.
    """
    refresh_babel()


def register_template_helpers(app: Flask) -> None:
    _defer_user_loading(app)
    app.before_request(_forget_previous_locale)
    app.add_template_filter(cny, "cny")
    app.add_template_filter(capitals, "capitals")
    app.add_template_filter(format_date, "date")
    app.add_template_filter(format_datetime, "datetime")
    app.add_template_filter(percent, "percent")
    app.add_template_filter(role_label, "role_label")
    app.add_template_filter(status_label, "status_label")
    app.jinja_env.globals.update(
        nav_items=nav_items,
        layout_user=layout_user,
        current_locale=current_locale,
        html_lang=html_lang,
        endpoint_url=endpoint_url,
        page_url=page_url,
        page_numbers=page_numbers,
        language_url=language_url,
        status_tone=status_tone,
        status_label=status_label,
        role_label=role_label,
        ROLE_LABELS=ROLE_LABELS,
        EMPTY=EMPTY,
    )
