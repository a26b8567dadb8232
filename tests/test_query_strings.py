"""No query string answers 500: every GET page, fed hostile values for every argument the app reads (pages far past
the end or beyond a 64-bit integer, dates at the edge of the calendar, ids out of range), answers 2xx, 3xx or 4xx.

The pages are found by walking the URL map, so a new page is covered without being listed here; its URL arguments
are filled from a small clinic with a held session (an unknown argument gets ``1``, a 404 being a fine answer).
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from tests.conftest import Clinicians, login
from tests.session_data import held_session, in_dosing
from tracker.extensions import db

#: Every query argument some page reads, each given values that once answered 500 or might.
HOSTILE = [
    "page=10**20",
    "page=100000000000000000000",
    "page=9223372036854775808",
    "page=" + "9" * 400,
    "page=4611686018427387904",
    "page=-1",
    "page=0",
    "page=%C2%B2",
    "page=1e3",
    "start=9999-12-31&end=9999-12-31",
    "start=0001-01-01&end=0001-01-01",
    "end=9999-12-31",
    "day=9999-12-31",
    "day=0001-01-01",
    "draft=100000000000000000000",
    "cycle=100000000000000000000",
    "scheduled_at=9999-12-31T23:59",
    "scheduled_at=0001-01-01T00:00",
    "therapist=100000000000000000000",
    "user=100000000000000000000",
    "kind=%00&sort=x&phase=x&protocol=x&show=x&q=%00",
    "patient=" + "9" * 60,
]


def _url(rule: Any, values: dict[str, Any]) -> str:
    url = rule.rule
    for argument in rule.arguments:
        value = values.get(argument, 1)
        url = url.replace(f"<int:{argument}>", str(value)).replace(f"<{argument}>", str(value))
    return url


def _get_pages(app: Flask, values: dict[str, Any]) -> list[str]:
    pages = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in {"static", "bootstrap.static"}:
            continue
        pages.append(_url(rule, values))
    return sorted(pages)


@pytest.fixture
def served(app: Flask) -> Any:
    """Errors answer 500 as in production instead of propagating into the test, so one run lists every page."""
    app.config["PROPAGATE_EXCEPTIONS"] = False
    try:
        yield app
    finally:
        app.config["PROPAGATE_EXCEPTIONS"] = None


@pytest.fixture
def values(people: Clinicians, protocols: dict[str, Any]) -> dict[str, Any]:
    in_dosing(people.patient, people.lead, protocols)
    session = held_session(people.patient, people.lead, protocols)
    return {
        "patient_id": people.patient.id,
        "session_id": session.id,
        "user_id": people.lead.id,
        "code": "phq9",
        "item_id": "x",
        "number": 1,
        "job_id": "x",
        "key": "note-1",
    }


@pytest.mark.parametrize("query", HOSTILE)
def test_no_query_string_answers_500_to_a_clinician(served, client, people, values, query):
    people.lead.is_supervisor = True  # sees the patient and every supervisor page
    db.session.commit()
    login(client, people.lead)
    failures = []
    for page in _get_pages(served, values):
        status = client.get(f"{page}?{query}").status_code
        if status >= 500:
            failures.append((page, status))
    assert failures == [], failures


@pytest.mark.parametrize("query", HOSTILE)
def test_no_query_string_answers_500_to_an_admin(served, client, people, values, query):
    login(client, people.admin)
    failures = [
        (page, status)
        for page in _get_pages(served, values)
        if (status := client.get(f"{page}?{query}").status_code) >= 500
    ]
    assert failures == [], failures
