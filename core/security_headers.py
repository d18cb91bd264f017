"""Security headers on every response (an ``after_request`` step).

- Content-Security-Policy: scripts, styles, fonts and connections from this site only; no inline
  script, no inline style attribute, no plugin, no framing. The templates follow it (behaviour in
  ``static/js``, styling in ``static/css``), so a script injected into a page would not run.
- X-Frame-Options, X-Content-Type-Options, Referrer-Policy, Permissions-Policy: the older
  browsers' equivalents and the features the back office never uses.
- Strict-Transport-Security only when ``HSTS_SECONDS`` is set (production): a development server
  on plain HTTP must not teach the browser to refuse it.
- Cache-Control ``no-store`` on every response that is not a static file: pages and API answers
  carry amounts, names and CSRF tokens that must not stay in a shared or browser cache.
"""
from __future__ import annotations

from flask import Flask, Response, current_app, request

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "form-action 'self'",
    )
)

# Features a finance back office never needs; an injected frame or script cannot ask for them either.
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"

STATIC_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": PERMISSIONS_POLICY,
}


def is_static_file() -> bool:
    """A file from ``static/`` (CSS, scripts, vendor libraries): cacheable, holds nothing private."""
    endpoint = request.endpoint or ""
    return endpoint == "static" or endpoint.endswith(".static")


def add_security_headers(response: Response) -> Response:
    for name, value in STATIC_HEADERS.items():
        response.headers.setdefault(name, value)
    hsts_seconds = current_app.config.get("HSTS_SECONDS") or 0
    if hsts_seconds:
        response.headers["Strict-Transport-Security"] = f"max-age={int(hsts_seconds)}; includeSubDomains"
    if not is_static_file():
        response.headers["Cache-Control"] = "no-store"
        response.headers.pop("Expires", None)
    return response


def register_security_headers(app: Flask) -> None:
    app.after_request(add_security_headers)
