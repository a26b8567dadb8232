"""Every new page runs the same number of SQL statements whatever the number of sessions, readings, events,
addenda or notes (counted with SQLAlchemy's before_cursor_execute event): measured at two sizes."""

from __future__ import annotations

from datetime import timedelta

import time_machine

from tests.conftest import PASSWORD, count_queries, login
from tests.session_data import ago, held_session, in_dosing, session_url
from tracker.extensions import db
from tracker.factories import backdate_enrolment, complete_dosing, make_patient
from tracker.models import SessionKind
from tracker.models.base import utcnow
from tracker.notes import addenda, cosign, saving, signing
from tracker.vitals import Reading


def queries_for(client, url: str) -> int:
    with count_queries() as statements:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(statements)


def add_readings(people, protocols, session, count: int) -> None:
    from tracker.sessions.queries import load_note

    note = load_note(db.session, session)
    for number in range(count):
        note = saving.add_vital_reading(
            people.lead,
            people.patient,
            session,
            note,
            ago(200 - number),
            Reading(systolic=120 + number * 5, diastolic=80, heart_rate=70 + number * 4),
            protocols["mdma-ptsd"],
            utcnow(),
        ).note
        saving.add_adverse_event(
            people.lead,
            people.patient,
            session,
            note,
            saving.AdverseEventInput(
                f"Event {number}", ago(150), saving.Severity.MILD, False, "none", saving.Outcome.RECOVERED
            ),
            utcnow(),
        )
    db.session.commit()


def test_the_session_page_draft(client, people, protocols):
    in_dosing(people.patient, people.lead, protocols)
    session = complete_dosing(people.patient, people.lead, protocols, sign=False)
    db.session.commit()
    login(client, people.lead)
    small = queries_for(client, session_url(people.patient, session))
    add_readings(people, protocols, session, 10)
    assert queries_for(client, session_url(people.patient, session)) == small


def test_the_session_page_signed_with_addenda_and_decisions(client, people, protocols):
    people.lead.needs_cosign = True
    in_dosing(people.patient, people.lead, protocols)
    session = complete_dosing(people.patient, people.lead, protocols)
    db.session.commit()
    login(client, people.supervisor)
    small = queries_for(client, session_url(people.patient, session))
    from tracker.sessions.queries import load_note

    note = load_note(db.session, session)
    for number in range(4):
        addenda.add_addendum(people.lead, people.patient, note, f"Late entry {number}", "text", PASSWORD, utcnow())
        cosign.decide_cosign(
            people.supervisor,
            people.patient,
            note,
            people.lead,
            cosign.CosignOutcome.RETURNED,
            "Please add more",
            None,
            utcnow(),
            password=PASSWORD,
        )
    addenda.add_addendum(people.lead, people.patient, note, "Answer", "text", PASSWORD, utcnow())
    db.session.commit()
    assert queries_for(client, session_url(people.patient, session)) == small


def test_the_patient_page_and_the_sessions_list(client, people, protocols):
    in_dosing(people.patient, people.lead, protocols)
    session = held_session(people.patient, people.lead, protocols)
    login(client, people.lead)
    page_small = queries_for(client, f"/patients/{people.patient.id}")
    list_small = queries_for(client, f"/patients/{people.patient.id}/sessions")
    for number in range(20):
        held_session(
            people.patient, people.lead, protocols, kind=SessionKind.INTEGRATION, started_minutes_ago=1000 + number * 10
        )
    add_readings(people, protocols, session, 8)  # several flagged
    assert queries_for(client, f"/patients/{people.patient.id}") == page_small
    assert queries_for(client, f"/patients/{people.patient.id}/sessions") == list_small


def _trainee_notes(people, protocols, count: int) -> None:
    for _ in range(count):
        patient = make_patient(people.lead, people.co_therapist, protocols=protocols, protocol_code="ketamine-iv-trd")
        backdate_enrolment(patient, utcnow() - timedelta(days=20))
        session = held_session(patient, people.lead, protocols, kind=SessionKind.PREPARATION)
        note, _ = saving.save_note(
            people.lead, patient, session, None, saving.NoteInput(fields={"topics": "x"}), None, utcnow()
        )
        signing.sign_note(
            people.lead, patient, session, note, protocols["ketamine-iv-trd"], PASSWORD, None, True, utcnow()
        )
    db.session.commit()


def test_the_cosign_queue_and_my_lists(client, people, protocols):
    people.lead.needs_cosign = True
    _trainee_notes(people, protocols, 1)
    login(client, people.supervisor)
    queue_small = queries_for(client, "/notes/cosign")
    login(client, people.lead)
    waiting_small = queries_for(client, "/notes/mine?show=waiting")
    _trainee_notes(people, protocols, 6)
    login(client, people.supervisor)
    assert queries_for(client, "/notes/cosign") == queue_small
    login(client, people.lead)
    assert queries_for(client, "/notes/mine?show=waiting") == waiting_small


def test_the_overdue_list(client, people, protocols):
    held_session(people.patient, people.lead, protocols, kind=SessionKind.PREPARATION)
    with time_machine.travel(utcnow() + timedelta(days=2), tick=False):
        login(client, people.lead)
        small = queries_for(client, "/notes/mine")
    for number in range(8):
        held_session(
            people.patient, people.lead, protocols, kind=SessionKind.PREPARATION, started_minutes_ago=100 + number
        )
    with time_machine.travel(utcnow() + timedelta(days=2), tick=False):
        login(client, people.lead)
        assert queries_for(client, "/notes/mine") == small
