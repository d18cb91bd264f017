"""Translations: Simplified Chinese is the source language, English the switch.

Message ids are written in Chinese, so the product speaks Chinese even where a catalog
is missing; ``translations/en`` holds the English catalog.
"""
from __future__ import annotations

from flask import Flask, request, session
from flask_babel import Babel, gettext, lazy_gettext, ngettext

_ = gettext
_l = lazy_gettext
__all__ = ["_", "_l", "ngettext", "babel", "SUPPORTED_LOCALES", "select_locale", "register_i18n"]

SUPPORTED_LOCALES = ("zh", "en")
babel = Babel()


def select_locale() -> str:
    """The visitor's choice (session), else ``?lang=``, else Chinese: Chinese first, never the browser's guess."""
    chosen = session.get("lang") if _has_session() else None
    if chosen in SUPPORTED_LOCALES:
        return chosen
    asked = request.args.get("lang") if request else None
    if asked in SUPPORTED_LOCALES:
        return asked
    header = request.headers.get("Accept-Language", "") if request else ""
    # API clients may ask for English explicitly; browsers default to the product language.
    if request and request.path.startswith("/api/") and header.lower().startswith("en"):
        return "en"
    return "zh"


def _has_session() -> bool:
    try:
        return bool(request)
    except RuntimeError:
        return False


def register_i18n(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale)
