"""Every refusal the application gives, in one JSON shape for the API and one page for people.

API shape (api.md): ``{"code": int, "status": reason, "message": text, "errors": {field: [messages]}}``.
Services raise the ``DomainError`` subclasses below; they never build responses themselves.
"""
from __future__ import annotations

import logging
from typing import Any, Mapping

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError

from core.i18n import _, _l

log = logging.getLogger(__name__)

ErrorMap = Mapping[str, list[str]]

# Chinese texts for the statuses the API documents; the reason phrase stays English (it is protocol).
DEFAULT_MESSAGES = {
    400: _l("请求格式错误：请求体不是有效的 JSON"),
    401: _l("未登录或登录凭证无效"),
    403: _l("您的角色或所属银行无权执行此操作"),
    404: _l("记录不存在"),
    405: _l("不支持该请求方法"),
    409: _l("业务规则不允许此操作"),
    413: _l("上传的文件过大"),
    415: _l("不支持的内容类型"),
    422: _l("提交的数据有误，请检查各字段"),
    429: _l("尝试次数过多，请稍后再试"),
    500: _l("服务器内部错误，请稍后再试"),
    503: _l("服务暂时不可用，请稍后再试"),
}


class DomainError(Exception):
    """A refusal by a business rule; carries the HTTP status the API maps it to."""

    code = 409

    def __init__(self, message: str | None = None, errors: ErrorMap | None = None):
        super().__init__(message or str(DEFAULT_MESSAGES[self.code]))
        self.message = message or str(DEFAULT_MESSAGES[self.code])
        self.errors = dict(errors or {})


class BusinessRuleError(DomainError):
    """409: the request is well-formed but the rules refuse it (over the line, wrong state, ...)."""

    code = 409


class ValidationFailed(DomainError):
    """422: a field is missing or invalid."""

    code = 422


class NotFound(DomainError):
    """404: unknown id, or another bank's record seen by a bank liaison."""

    code = 404


class Forbidden(DomainError):
    """403: the caller's role or bank scope forbids the action."""

    code = 403


class Unauthorized(DomainError):
    """401: no valid session or token."""

    code = 401


class TooManyRequests(DomainError):
    """429: too many failed attempts; ``retry_after`` seconds until the window clears."""

    code = 429

    def __init__(self, message: str | None = None, retry_after: int = 60):
        super().__init__(message)
        self.retry_after = retry_after


def wants_json() -> bool:
    return request.path.startswith("/api/")


def error_body(code: int, message: str, errors: Mapping[str, Any] | None = None) -> dict[str, Any]:
    from http import HTTPStatus

    try:
        status = HTTPStatus(code).phrase
    except ValueError:
        status = "Error"
    return {"code": code, "status": status, "message": message, "errors": dict(errors or {})}


def flatten_webargs_messages(messages: Any) -> dict[str, list[str]]:
    """webargs nests errors by location (``{"json": {"amount": [...]}}``); the API contract is flat."""
    flat: dict[str, list[str]] = {}
    if not isinstance(messages, Mapping):
        return {"_schema": _as_list(messages)}
    for location, by_field in messages.items():
        if isinstance(by_field, Mapping):
            for field, msgs in by_field.items():
                flat.setdefault(str(field), []).extend(_as_list(msgs))
        else:
            flat.setdefault("_schema" if location in ("json", "form") else str(location), []).extend(_as_list(by_field))
    return flat


def _as_list(value: Any) -> list[str]:
    if isinstance(value, Mapping):
        # nested schema errors: "field.sub": msg
        out: list[str] = []
        for key, inner in value.items():
            out.extend(f"{key}: {m}" for m in _as_list(inner))
        return out
    if isinstance(value, (list, tuple)):
        out = []
        for item in value:
            out.extend(_as_list(item))
        return out
    return [str(value)]


def respond(code: int, message: str, errors: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None):
    """The single place an error response is built, for both the API and the web pages."""
    if wants_json():
        response = jsonify(error_body(code, message, errors))
    else:
        html = render_template("errors/error.html", code=code, message=message, errors=errors or {})
        response = html, code
        from flask import make_response

        response = make_response(response)
    response.status_code = code
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def handle_domain_error(error: DomainError):
    if isinstance(error, Unauthorized) and not wants_json():
        # People are sent to the login page (and back here afterwards when this was a plain GET).
        # A redirect is not an error status, so the unit of work would commit: roll back here.
        from core.auth.loaders import redirect_to_login
        from core.db import db

        db.session.rollback()
        return redirect_to_login()
    headers = {"Retry-After": str(error.retry_after)} if isinstance(error, TooManyRequests) else None
    return respond(error.code, error.message, error.errors, headers)


def handle_http_exception(error: HTTPException):
    code = error.code or 500
    data = getattr(error, "data", None) or {}
    errors: dict[str, list[str]] = {}
    if "messages" in data:  # raised by webargs/flask-smorest on invalid input
        errors = flatten_webargs_messages(data["messages"])
        if code == 400:
            errors = {}
    message = str(DEFAULT_MESSAGES.get(code) or error.description or error.name)
    if code == 422 and errors:
        message = _("提交的数据有误：%(fields)s", fields="、".join(sorted(errors)))
    headers = {}
    valid_methods = getattr(error, "valid_methods", None)
    if code == 405 and valid_methods:
        headers["Allow"] = ", ".join(valid_methods)
    if code == 413:
        message = too_large_message()
    if isinstance(error, CSRFError):
        message = str(_l("表单已过期或来源无法验证，请刷新页面后重试"))
    return respond(code, message, errors, headers)


def too_large_message() -> str:
    """413 names the limit, so the user knows how far to shrink or split the file."""
    from flask import current_app

    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if not limit:
        return str(DEFAULT_MESSAGES[413])
    megabytes = f"{limit / (1024 * 1024):.1f}".rstrip("0").rstrip(".")
    return _("上传的文件过大：每次上传不能超过 %(size)s MB，请拆分后分批上传", size=megabytes)


def handle_integrity_error(error: Exception):
    """A constraint caught what the service checks could not see (usually a concurrent request).

    PostgreSQL reports a duplicate key at the flush, not only at commit, so this can surface
    from inside a service: it is a refusal (409), never a crash. The unit of work rolls back.
    """
    log.warning("request refused by a database constraint: %s", error)
    return respond(409, str(_l("与并发提交的数据冲突，未保存任何内容，请重试")))


def handle_unstorable_value(error: Exception):
    """A value in the request that the database cannot take: the input is wrong (422), not the server.

    An id beyond what an INTEGER column holds in a filter or body (SQLite: ``OverflowError`` when
    binding beyond 64 bits; PostgreSQL: ``DataError`` "integer out of range"), or a NUL character
    in text (PostgreSQL refuses it). Ids in paths never get here (``core.routing``). The unit of
    work rolls back, so nothing is written.
    """
    log.warning("request refused, value the database cannot take on %s %s: %s", request.method, request.path, error)
    return respond(422, str(_l("提交的数据超出允许范围或含有无法保存的字符")))


def handle_database_unavailable(error: Exception):
    log.error("database unavailable: %s", error)
    return respond(503, str(DEFAULT_MESSAGES[503]), headers={"Retry-After": "5"})


def handle_unexpected(error: Exception):
    log.exception("unhandled error on %s %s", request.method, request.path)
    return respond(500, str(DEFAULT_MESSAGES[500]))


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(InternalServerError, handle_http_exception)
    app.register_error_handler(IntegrityError, handle_integrity_error)
    app.register_error_handler(OperationalError, handle_database_unavailable)
    app.register_error_handler(OverflowError, handle_unstorable_value)
    app.register_error_handler(DataError, handle_unstorable_value)
    app.register_error_handler(Exception, handle_unexpected)
