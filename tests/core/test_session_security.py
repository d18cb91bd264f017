"""Web sessions: a fresh session at login and at logout (a planted cookie is useless), and the idle timeout."""
from __future__ import annotations

import time

from tests.conftest import make_user
from tests.support import CSRF_PATTERN, csrf_token_from, isolated_client, web_login

SESSION_COOKIE = "session"


def cookie_value(client) -> str | None:
    cookie = client.get_cookie(SESSION_COOKIE)
    return cookie.value if cookie is not None else None


def client_with_cookie(app, value: str):
    other = isolated_client(app)
    other.set_cookie(SESSION_COOKIE, value)
    return other


def test_a_cookie_planted_before_login_is_not_a_login_afterwards(app, client, default_password):
    user = make_user(app, "auditor")
    planted_token = csrf_token_from(client, "/login")  # the attacker's visit: session cookie + CSRF secret
    planted = cookie_value(client)
    assert planted

    response = client.post("/login", data={"username": user.username, "password": default_password, "csrf_token": planted_token})
    assert response.status_code == 302
    logged_in = cookie_value(client)
    assert logged_in and logged_in != planted
    assert client.get("/").status_code == 200  # the victim is logged in

    attacker = client_with_cookie(app, planted)
    home = attacker.get("/")
    assert home.status_code == 302 and "/login" in home.headers["Location"]
    # The CSRF secret of the planted session was dropped too: its token is refused on the victim's session.
    forged = client.post("/account/password", data={"csrf_token": planted_token, "current_password": "x",
                                                    "new_password": "y", "confirm": "y"})
    assert forged.status_code == 400


def test_logout_starts_a_new_anonymous_session(app, client, default_password):
    user = make_user(app, "auditor")
    web_login(client, user.username, default_password)
    logged_in = cookie_value(client)
    page = client.get("/").get_data(as_text=True)
    token = CSRF_PATTERN.search(page).group(1)

    response = client.post("/logout", data={"csrf_token": token})

    assert response.status_code == 302
    after = cookie_value(client)
    assert after != logged_in
    assert client.get("/").status_code == 302  # anonymous again
    # The logged-in session's CSRF token does not carry over to the new session.
    again = client.post("/logout", data={"csrf_token": token})
    assert again.status_code == 400


def test_an_idle_session_expires(app, client, default_password, monkeypatch):
    user = make_user(app, "auditor")
    monkeypatch.setitem(app.config, "PERMANENT_SESSION_LIFETIME", 1)  # seconds
    web_login(client, user.username, default_password)
    assert client.get("/").status_code == 200
    time.sleep(2.2)  # the cookie's signature is now older than the lifetime
    expired = client.get("/")
    assert expired.status_code == 302 and "/login" in expired.headers["Location"]


def test_activity_keeps_the_session_alive(app, client, default_password, monkeypatch):
    user = make_user(app, "auditor")
    monkeypatch.setitem(app.config, "PERMANENT_SESSION_LIFETIME", 3)
    web_login(client, user.username, default_password)
    for _ in range(3):
        time.sleep(1.1)
        assert client.get("/").status_code == 200  # each request re-signs the cookie
