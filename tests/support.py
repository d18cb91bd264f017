"""Helpers shared by the identity tests (no tests here): CSRF-carrying form posts and real web logins."""
from __future__ import annotations

import re

from flask.globals import _cv_app
from flask.testing import FlaskClient

CSRF_PATTERN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token_from(client, url: str) -> str:
    """GET ``url`` and return the CSRF token its form carries (the app keeps CSRF on in tests)."""
    response = client.get(url)
    match = CSRF_PATTERN.search(response.get_data(as_text=True))
    assert match, f"no csrf_token in the form at {url} (status {response.status_code})"
    return match.group(1)


def post_form(client, url: str, data: dict, form_url: str | None = None, **kwargs):
    """POST ``data`` to ``url`` with the CSRF token taken from the form page (``form_url``, default ``url``)."""
    token = csrf_token_from(client, form_url or url)
    return client.post(url, data={**data, "csrf_token": token}, **kwargs)


def web_login(client, username: str, password: str, **kwargs):
    """Log ``client`` in through the real login page; returns the POST's response."""
    return post_form(client, "/login", {"username": username, "password": password}, **kwargs)


class IsolatedClient(FlaskClient):
    """A test client whose every request runs in its own app context, as in production.

    The harness keeps an app context pushed for the whole test, and Flask reuses a pushed app
    context for requests; ``g`` (Flask-Login's cached user, Flask-WTF's cached CSRF token, the
    unit of work's keep-writes flag) would then leak from one request into the next.
    """

    def open(self, *args, **kwargs):
        token = _cv_app.set(None)  # type: ignore[arg-type]
        try:
            return super().open(*args, **kwargs)
        finally:
            _cv_app.reset(token)


def isolated_client(app) -> IsolatedClient:
    return IsolatedClient(app, app.response_class, use_cookies=True)
