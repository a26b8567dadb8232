"""A post without a valid CSRF token writes nothing anywhere (ASVS 3.5.1): not the record, not a draft, not an audit
row, not even the idle clock of the login session. Every POST route is walked from the URL map, so a new form is
covered without being listed here. A note form comes back with the typing in it (never stored), to save again.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from tests.conftest import Clinicians, csrf_token, login
from tests.session_data import held_session, in_dosing, session_url
from tracker.extensions import db
from tracker.models import Base, FormDraft, SessionKind, TherapySession

TYPED = "Forged-or-expired typing that must reach no table"


def snapshot() -> dict[str, list[str]]:
    """Every row of every table, as text, sorted: equal snapshots mean nothing was written."""
    db.session.expire_all()
    return {
        table.name: sorted(repr(tuple(row)) for row in db.session.execute(select(table)))
        for table in Base.metadata.sorted_tables
    }


#: POST routes exempt from CSRF by design: the questionnaire a patient fills in through a single-use link, where the
#: link's token is the secret (tracker/questionnaires/public.py); it is tested on its own.
EXEMPT = {"questionnaires.fill"}


def exempt_endpoints(app: Flask) -> set[str]:
    exempt = app.extensions["csrf"]._exempt_views
    return {name for name, view in app.view_functions.items() if f"{view.__module__}.{view.__name__}" in exempt}


def test_only_the_patients_questionnaire_link_is_exempt(app):
    assert exempt_endpoints(app) == EXEMPT


def post_routes(app: Flask, values: dict[str, Any]) -> list[str]:
    urls = []
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods or rule.endpoint in EXEMPT:
            continue
        url = rule.rule
        for argument in rule.arguments:
            value = values.get(argument, 1)
            url = url.replace(f"<int:{argument}>", str(value)).replace(f"<{argument}>", str(value))
        urls.append(url)
    return sorted(urls)


@pytest.fixture
def everything(people: Clinicians, protocols: dict[str, Any]) -> dict[str, Any]:
    """The lead therapist, also supervisor and admin (so no role check stops a post first), with a held dosing
    session and a signed-off patient to post to."""
    people.lead.is_supervisor = people.lead.is_admin = True
    in_dosing(people.patient, people.lead, protocols)
    session = held_session(people.patient, people.lead, protocols, kind=SessionKind.DOSING)
    db.session.commit()
    return {
        "patient_id": people.patient.id,
        "session_id": session.id,
        "user_id": people.co_therapist.id,
        "key": f"note-{session.id}",
        "note_id": 1,
        "item_id": "x",
        "code": "phq9",
        "number": 1,
    }


FIELDS = {
    name: TYPED
    for name in (
        "topics",
        "body",
        "reason",
        "notes",
        "comment",
        "intention",
        "questions",
        "themes",
        "description",
        "full_name",
        "record_number",
        "given_name",
        "family_name",
        "action_taken",
        "username",
    )
}


@pytest.mark.parametrize("token", ["missing", "forged", "another user's"])
def test_no_post_without_a_valid_token_writes_anything(csrf_app, people, everything, token):
    client = csrf_app.test_client()
    login(client, people.lead)
    client.get(f"/patients/{people.patient.id}")  # a real page first, so the session holds a CSRF secret
    other = csrf_app.test_client()
    login(other, people.co_therapist)
    others_token = csrf_token(other.get(f"/patients/{people.patient.id}").text)
    data = dict(FIELDS)
    if token == "forged":
        data["csrf_token"] = "IjVkM2Y0ZTYxYjE5YjQ2NDU5ZGM0NmE3ZTkzNWI3YmI4YjFkNjZjNDAi.ZZZZZZ.forgedforgedforged"
    elif token == "another user's":
        data["csrf_token"] = others_token
    before = snapshot()
    answered = {}
    for url in post_routes(csrf_app, everything):
        response = client.post(url, data=data)
        answered[url] = response.status_code
    assert snapshot() == before
    assert all(status in (302, 400) for status in answered.values()), answered  # 302: /login has its own form


def test_an_expired_note_form_comes_back_with_its_typing_and_no_draft(csrf_app, people, everything):
    client = csrf_app.test_client()
    login(client, people.lead)
    page = session_url(people.patient, db.session.get_one(TherapySession, everything["session_id"]))
    client.get(page)
    response = client.post(page + "/note", data={"body": TYPED, "csrf_token": "expired"})
    assert response.status_code == 400
    assert "The form had expired, so nothing was saved" in response.text and TYPED in response.text
    assert db.session.scalar(select(FormDraft)) is None
    saved = client.post(page + "/note", data={"body": TYPED, "csrf_token": csrf_token(response.text), "version_id": ""})
    assert saved.status_code in (302, 422)  # the fresh token in the page is accepted (422: the note is incomplete)
