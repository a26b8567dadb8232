"""Deny by default, checked against the app itself: a new route without a declared policy fails here."""

from __future__ import annotations

import pytest
from flask import Flask

from tracker import PUBLIC_ENDPOINTS
from tracker.permissions import access_policy


def _rules(app: Flask) -> list[tuple[str, str, str]]:
    rows = []
    for rule in app.url_map.iter_rules():
        url = rule.rule
        for argument in rule.arguments:
            url = url.replace(f"<int:{argument}>", "1").replace(f"<path:{argument}>", "x").replace(f"<{argument}>", "x")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            rows.append((rule.endpoint, method, url))
    return rows


def test_it_declares_an_access_policy_on_every_view(app):
    undeclared = [
        endpoint
        for endpoint, view in app.view_functions.items()
        if endpoint not in {"static", "bootstrap.static"} and access_policy(view) is None
    ]
    assert undeclared == []


def test_it_only_makes_sign_in_the_health_check_and_the_questionnaire_link_public(app):
    public = {e for e, v in app.view_functions.items() if access_policy(v) == "public"}
    assert public == {
        "auth.login",
        "auth.two_factor",
        "auth.enrol",
        "auth.continue_sign_in",
        "auth.new_password",
        "auth.set_password",
        "questionnaires.fill",
        "calendar.feed_ics",
        "health.healthz",
    }
    assert public | {"static", "bootstrap.static"} == PUBLIC_ENDPOINTS


def test_the_public_questionnaire_route_shows_nothing_without_a_valid_token(client):
    """Anonymous, with a made-up token: a refusal page, no redirect to login and nothing of any record."""
    response = client.get("/q/x")
    assert response.status_code == 404
    assert "does not open a questionnaire" in response.text


def test_it_sends_anonymous_users_to_login_from_every_route(app, client):
    checked = 0
    for endpoint, method, url in _rules(app):
        if endpoint in PUBLIC_ENDPOINTS:
            continue
        response = client.open(url, method=method)
        assert response.status_code == 302, (endpoint, method, response.status_code)
        assert response.location.startswith("/login"), (endpoint, method, response.location)
        checked += 1
    assert checked >= 10


@pytest.mark.parametrize("path", ["/login", "/healthz", "/static/css/app.css"])
def test_it_keeps_public_pages_open(client, path):
    with client.get(path) as response:
        assert response.status_code == 200


def test_an_id_past_the_database_range_is_a_404_not_a_500(client, people):
    from tests.conftest import login

    login(client, people.lead)
    for path in ("/patients/2147483648", "/patients/99999999999999999999/fhir", "/patients/2147483648/measures"):
        assert client.get(path).status_code == 404, path
