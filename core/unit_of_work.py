"""One commit per request (the Indico rule).

Services only ``flush``; the request boundary commits once when the response is a success and
rolls back otherwise, so a refused or failed request writes nothing. The single exception is
security bookkeeping (failed-login counters), which a view may keep with ``keep_despite_error``.
"""
from __future__ import annotations

import logging

from flask import Flask, Response, g
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from core.db import db
from core.errors import respond
from core.i18n import _

log = logging.getLogger(__name__)


def keep_despite_error() -> None:
    """Commit this request's writes even though the response is an error (e.g. a failed login counter)."""
    g.keep_writes_despite_error = True


def commit_or_rollback(response: Response) -> Response:
    if response.status_code >= 400 and not g.get("keep_writes_despite_error"):
        db.session.rollback()
        return response
    try:
        db.session.commit()
    except IntegrityError:
        # A unique or check constraint caught what a concurrent request slipped past the service checks.
        db.session.rollback()
        log.warning("commit refused by a database constraint", exc_info=True)
        return respond(409, _("与并发提交的数据冲突，未保存任何内容，请重试"))
    except OperationalError:
        db.session.rollback()
        log.error("database unavailable at commit", exc_info=True)
        return respond(503, _("数据库暂时不可用，未保存任何内容，请稍后再试"), headers={"Retry-After": "5"})
    except DBAPIError:
        db.session.rollback()
        log.exception("database refused the commit")
        return respond(409, _("数据库拒绝了此次提交，未保存任何内容"))
    return response


def register_unit_of_work(app: Flask) -> None:
    app.after_request(commit_or_rollback)
