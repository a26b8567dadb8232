"""Logging a session that took place, from the patient page; the dosing gate counts the preparation sessions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import audit_actions, login
from tracker import workflow
from tracker.extensions import db
from tracker.factories import answer_screening, record_baseline_measures, write_preparation_notes
from tracker.models import AuditEvent, Phase, SessionKind, TherapySession
from tracker.models.base import utcnow
from tracker.screening.services import current_checklist, sign_off


def url(people):
    return f"/patients/{people.patient.id}/sessions"


def sessions() -> int:
    return db.session.scalar(select(func.count()).select_from(TherapySession))


def hours_ago(hours: float) -> str:
    return (utcnow() - timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M")


def form(**overrides):
    data = {"kind": "preparation", "held_at": hours_ago(3), "duration_minutes": "90"}
    data.update(overrides)
    return data


def test_it_logs_a_session_and_lists_it_on_the_patient_page(client, people):
    login(client, people.co_therapist)
    page = client.get(f"/patients/{people.patient.id}").text
    assert "Preparation sessions: <strong>0 of 3 held</strong>" in page
    held_at = hours_ago(3)
    response = client.post(url(people), data=form(held_at=held_at))
    assert response.status_code == 302
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "session.log"))
    assert event.patient_id == people.patient.id and event.data["duration_minutes"] == 90
    page = client.get(response.location).text
    assert "Preparation session logged." in page
    assert "Preparation sessions: <strong>1 of 3 held</strong>" in page
    assert held_at.replace("T", " ") in page and "90 min" in page and "Cody Co" in page
    assert audit_actions()[-1] == "patient.view"


def test_only_preparation_sessions_count_towards_preparation(client, people):
    login(client, people.lead)
    client.post(url(people), data=form(kind="integration"))
    page = client.get(f"/patients/{people.patient.id}").text
    assert "Integration" in page and "Preparation sessions: <strong>0 of 3 held</strong>" in page


BAD_INPUT = [
    ("kind", "party", "Not a valid choice"),
    ("held_at", "", "Enter the date and time the session started."),
    ("held_at", "yesterday", "Not a valid datetime value."),
    ("held_at", (utcnow() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"), "cannot be in the future"),
    ("duration_minutes", "", "Enter the duration in minutes."),
    ("duration_minutes", "0", "Enter a duration between 1 and 720 minutes."),
    ("duration_minutes", "721", "Enter a duration between 1 and 720 minutes."),
    ("duration_minutes", "ninety", "Enter a whole number (digits 0-9)."),
    ("duration_minutes", "1_20", "Enter a whole number (digits 0-9)."),
    ("duration_minutes", "9" * 400, "Enter the number with fewer digits."),
]


@pytest.mark.parametrize("field,value,message", BAD_INPUT)
def test_bad_input_is_refused_next_to_the_field_and_nothing_is_saved(client, people, field, value, message):
    login(client, people.lead)
    response = client.post(url(people), data=form(**{field: value}))
    assert response.status_code == 422
    assert f'id="{field}-error"' in response.text and message in response.text
    assert '<details class="mb-4" open>' in response.text  # the form is open to show the error
    assert sessions() == 0


def test_the_dosing_gate_counts_the_logged_preparation_sessions(client, people, protocols):
    protocol = protocols["mdma-ptsd"]
    answer_screening(people.patient, people.lead, protocol)
    sign_off(people.lead, current_checklist(db.session, people.patient), protocol)
    db.session.commit()
    login(client, people.lead)
    refused = client.post(f"/patients/{people.patient.id}/phase", data={"target": "dosing"})
    assert refused.status_code == 409 and "0 of 3 preparation sessions held" in refused.text
    for hours in (72, 48, 24):
        assert client.post(url(people), data=form(held_at=hours_ago(hours))).status_code == 302
    reasons = workflow.refusals(db.session, people.patient, protocol, Phase.DOSING, None)
    assert "0 of 3 preparation sessions held with a signed note" in " ".join(reasons)  # held, not yet signed
    write_preparation_notes(people.patient, people.lead, protocols)
    assert not [
        p for p in workflow.refusals(db.session, people.patient, protocol, Phase.DOSING, None) if "preparation" in p
    ]
    record_baseline_measures(people.patient, people.lead, protocol)  # the gate also asks for baseline measures
    db.session.commit()
    assert client.post(f"/patients/{people.patient.id}/phase", data={"target": "dosing"}).status_code == 302


def test_a_scheduled_session_does_not_count(people):
    from tracker.sessions.services import preparation_held

    rows = [
        TherapySession(kind=SessionKind.PREPARATION, held_at=None, scheduled_at=utcnow()),
        TherapySession(kind=SessionKind.PREPARATION, held_at=utcnow()),
    ]
    assert preparation_held(rows) == 1
