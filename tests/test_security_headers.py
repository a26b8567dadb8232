"""Every response carries the security headers; pages are never cached; no remember-me cookie."""

from __future__ import annotations

import pytest

from tests.conftest import login

REQUIRED = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


@pytest.mark.parametrize("path", ["/login", "/patients/", "/patients/999999", "/static/css/app.css"])
def test_headers_on_every_kind_of_response(client, people, path):
    login(client, people.lead)
    with client.get(path) as response:
        for name, value in REQUIRED.items():
            assert response.headers[name] == value
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        if not path.startswith("/static"):
            assert response.headers["Cache-Control"] == "no-store"


def test_no_remember_me_cookie_and_an_http_only_session_cookie(client, people):
    response = client.post("/login", data={"username": people.lead.username, "password": "correct horse battery"})
    cookies = response.headers.getlist("Set-Cookie")
    assert not any(c.startswith("remember_token") for c in cookies)
    session_cookie = next(c for c in cookies if c.startswith("session="))
    assert "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie


def test_bootstrap_is_served_by_the_app_not_a_cdn(client):
    page = client.get("/login").text
    assert "/bootstrap/static/css/bootstrap.min.css" in page
    assert "cdn" not in page.lower()
