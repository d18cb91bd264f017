"""The home page (one per role) and the language switch.

Anonymous visitors never reach ``index``: the default-deny hook (core.auth.loaders) sends them to
the login page. ``set_language`` is public so the login page can be switched to English too.
"""
from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, abort, redirect, render_template, request, session, url_for
from flask_login import current_user

from core import clock
from core.audit import trail
from core.auth.models import User
from core.auth.permissions import public
from core.db import db
from core.i18n import SUPPORTED_LOCALES
from core.redirects import safe_next
from parties.models import Bank

log = logging.getLogger(__name__)

blueprint = Blueprint("home", __name__)

ROLE_TEMPLATES = {
    "admin": "home/admin.html",
    "bank_liaison": "home/bank_liaison.html",
    "fund_officer": "home/fund_officer.html",
    "fund_manager": "home/fund_manager.html",
    "auditor": "home/auditor.html",
}


@blueprint.get("/")
def index():
    """The signed-in user's starting page: what their role does here, and where to do it."""
    template = ROLE_TEMPLATES.get(current_user.role)
    if template is None:  # a role the interface does not know yet: refuse rather than guess
        abort(403)
    return render_template(template, today=clock.today(), **_context_for(current_user.role))


def _context_for(role: str) -> dict[str, Any]:
    if role == "admin":
        return {"counts": _admin_counts()}
    if role == "auditor":
        return {"chain": audit_chain_status()}
    return {}


def _admin_counts() -> dict[str, int]:
    return {
        "banks": db.session.scalar(sa.select(sa.func.count()).select_from(Bank).where(Bank.is_active)) or 0,
        "users": db.session.scalar(sa.select(sa.func.count()).select_from(User).where(User.is_active)) or 0,
    }


def audit_chain_status() -> dict[str, Any]:
    """``{"available", "ok", "events", "detail"}`` from core.audit.trail.verify_chain, whatever it returns.

    The auditor's home page must still open when the check cannot run: then it says so instead.
    """
    verify = getattr(trail, "verify_chain", None)
    if verify is None:
        return {"available": False, "ok": None, "events": None, "detail": None}
    try:
        result = verify()
    except Exception:  # noqa: BLE001 - shown as "could not verify", logged for the operators
        log.exception("audit chain verification failed to run")
        return {"available": True, "ok": None, "events": None, "detail": None}
    return {"available": True, **_read_verification(result)}


def _read_verification(result: Any) -> dict[str, Any]:
    def pick(name: str) -> Any:
        if isinstance(result, dict):
            return result.get(name)
        return getattr(result, name, None)

    if isinstance(result, bool):
        return {"ok": result, "events": None, "detail": None}
    if isinstance(result, tuple) and result and isinstance(result[0], bool):
        return {"ok": result[0], "events": result[1] if len(result) > 1 else None, "detail": None}
    detail = pick("broken_at") or pick("first_broken_id") or pick("error") or pick("message")
    return {"ok": pick("ok"), "events": pick("events"), "detail": detail}


@blueprint.get("/lang/<code>")
@public
def set_language(code: str):
    """Remember the interface language in the session and go back to the page the visitor was on."""
    if code not in SUPPORTED_LOCALES:
        abort(404)
    session["lang"] = code
    return redirect(safe_next(request.args.get("next")) or url_for("home.index"))
