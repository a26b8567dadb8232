"""Role x route matrix for every sessions route: the care team and their supervisor get the page or make the
change; anyone else gets 404 (403 for an admin) that shows nothing of the patient and changes nothing. Private
process notes: 404 to everyone but their author. Each allowed read leaves an audit row; each refusal too."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from tests.conftest import PASSWORD, audit_actions, login
from tests.session_data import adverse_event_form, dosing_note, held_session, in_dosing, vitals_form
from tests.test_access_matrix import CANARY, PATIENT_PAGE, PERSONAS
from tracker.extensions import db
from tracker.factories import complete_dosing
from tracker.models import (
    AdverseEvent,
    CosignDecision,
    FormDraft,
    NoteAddendum,
    ProcessNote,
    SessionKind,
    SessionNote,
    TherapySession,
    VitalReading,
)
from tracker.models.base import utcnow
from tracker.notes import private, saving, signing
from tracker.sessions import queries


@dataclass
class World:
    patient_id: int
    dosing: int  # a dosing session with a draft note: three readings and an adverse event
    reading: int
    event: int
    version: int
    prep: int  # a preparation session whose note the lead (needing co-signature) signed
    private: int  # the lead's private process note on the dosing session
    held_at: str  # the dosing session's start, as the edit form shows it
    present: tuple[int, ...]  # the therapists present at it


@pytest.fixture
def world(people, protocols) -> World:
    people.lead.needs_cosign = True
    patient = in_dosing(people.patient, people.lead, protocols)
    dosing = complete_dosing(patient, people.lead, protocols, sign=False)
    note = queries.load_note(db.session, dosing)
    event = saving.add_adverse_event(
        people.lead,
        patient,
        dosing,
        note,
        saving.AdverseEventInput(
            "Headache", utcnow(), saving.Severity.MILD, False, "Water and rest", saving.Outcome.RECOVERED
        ),
        utcnow(),
    )
    prep = held_session(patient, people.lead, protocols, kind=SessionKind.PREPARATION)
    prep_note, _ = saving.save_note(
        people.lead, patient, prep, None, saving.NoteInput(fields={"topics": "Music"}), None, utcnow()
    )
    signing.sign_note(people.lead, patient, prep, prep_note, protocols["mdma-ptsd"], PASSWORD, None, True, utcnow())
    process = private.start(people.lead, patient, dosing, utcnow())
    db.session.commit()
    present = tuple(m.user_id for m in patient.care_team)
    return World(
        patient.id,
        dosing.id,
        note.vitals[0].id,
        event.id,
        note.version_id,
        prep.id,
        process.id,
        dosing.held_at.strftime("%Y-%m-%dT%H:%M"),
        present,
    )


def state() -> tuple[object, ...]:
    db.session.expire_all()
    counts = tuple(
        db.session.scalar(select(func.count()).select_from(model))
        for model in (
            TherapySession,
            SessionNote,
            VitalReading,
            AdverseEvent,
            NoteAddendum,
            CosignDecision,
            ProcessNote,
            FormDraft,
        )
    )
    versions = tuple(db.session.scalars(select(SessionNote.version_id).order_by(SessionNote.id)))
    signed = tuple(db.session.scalars(select(SessionNote.signed_at).order_by(SessionNote.id)))
    bodies = tuple(db.session.scalars(select(ProcessNote.body)))
    return counts, versions, signed, bodies


P = "/patients/{patient_id}"
NEXT_MONTH = (utcnow() + timedelta(days=30)).strftime("%Y-%m-%dT10:00")
AN_HOUR_AGO = (utcnow() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
S = P + "/sessions/{dosing}"

#: name -> (method, url, form data or None, status for the care team and their supervisor)
ROUTES = {
    "sessions.index": ("GET", P + "/sessions", None, 200),
    "sessions.new": ("GET", P + "/sessions/new", None, 200),
    "sessions.new POST": ("POST", P + "/sessions/new", {"kind": "preparation", "scheduled_at": NEXT_MONTH}, 302),
    "sessions.log_session_held": (
        "POST",
        P + "/sessions",
        {"kind": "follow_up", "held_at": AN_HOUR_AGO, "duration_minutes": "15"},
        302,
    ),
    "sessions.detail": ("GET", S, None, 200),
    "sessions.edit": ("GET", S + "/edit", None, 200),
    "sessions.edit POST": ("POST", S + "/edit", "edit", 302),
    "sessions.save_note_draft": ("POST", S + "/note", "note", 302),
    "sessions.add_vitals": ("POST", S + "/vitals", vitals_form(5, heart_rate="70"), 302),
    "sessions.remove_vitals GET": ("GET", S + "/vitals/{reading}/remove", None, 200),
    "sessions.remove_vitals": ("POST", S + "/vitals/{reading}/remove", {"confirm": "yes"}, 302),
    "sessions.add_event": ("POST", S + "/adverse-events", adverse_event_form(), 302),
    "sessions.remove_event GET": ("GET", S + "/adverse-events/{event}/remove", None, 200),
    "sessions.remove_event": ("POST", S + "/adverse-events/{event}/remove", {"confirm": "yes"}, 302),
    "sessions.sign": ("POST", S + "/sign", {"password": PASSWORD}, 302),
    "sessions.addendum": (
        "POST",
        P + "/sessions/{prep}/addenda",
        {"reason": "Late entry", "body": "Also discussed music.", "password": PASSWORD},
        302,
    ),
    "sessions.start_private_note": ("POST", S + "/private-notes", {}, 303),
    "sessions.save_draft": ("POST", P + "/drafts/note-{dosing}", {"body": "typing"}, 200),
    "sessions.discard_draft": ("POST", P + "/drafts/note-{dosing}/discard", {}, 303),
}


def _url(template: str, world: World) -> str:
    return template.format(**vars(world))


def _data(data, world: World):
    if data == "note":
        return dosing_note(version_id=str(world.version), body="A new narrative")
    if data == "edit":
        return {
            "held_at": world.held_at,
            "duration_minutes": "300",
            "cycle": "1",
            "location": "Room 9",
            "present_ids": [str(i) for i in world.present],
        }
    return data


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("route", list(ROUTES))
def test_sessions_routes(client, people, world, persona, route):
    method, template, data, allowed_status = ROUTES[route]
    before = state()
    login(client, getattr(people, persona))
    response = client.open(_url(template, world), method=method, data=_data(data, world))
    expected = PATIENT_PAGE[persona]
    if expected == "allow":
        assert response.status_code == allowed_status, (route, response.status_code)
        if method == "GET":
            assert CANARY in response.text
            assert audit_actions()[-1] in {"session.list", "session.view"} or route == "sessions.new"
    else:
        assert response.status_code == expected, (route, response.status_code)
        assert CANARY not in response.text
        assert state() == before
        if expected == 404:
            assert audit_actions()[-1] == "patient.access_denied"


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_private_note_is_404_to_everyone_but_its_author(client, people, world, persona, method):
    before = state()
    login(client, getattr(people, persona))
    data = {"body": "Overwritten", "version_id": "1"} if method == "POST" else None
    response = client.open(f"/patients/{world.patient_id}/private-notes/{world.private}", method=method, data=data)
    if persona == "lead":
        assert response.status_code == (302 if method == "POST" else 200)
        assert audit_actions()[-1] in {"process_note.view", "process_note.update"}
    else:
        assert response.status_code == 404
        assert CANARY not in response.text and "Overwritten" not in response.text
        assert state() == before
        assert audit_actions()[-1] in {"patient.access_denied", "process_note.access_denied"}


COSIGN_EXPECTED = {
    "lead": 403,
    "co_therapist": 403,
    "supervisor": 302,
    "other_therapist": 403,
    "other_supervisor": 404,
    "admin": 403,
    "outsider": 404,
}


@pytest.mark.parametrize("persona", PERSONAS)
def test_only_the_signers_supervisor_co_signs(client, people, world, persona):
    before = state()
    login(client, getattr(people, persona))
    response = client.post(
        f"/patients/{world.patient_id}/sessions/{world.prep}/cosign",
        data={"decision": "cosigned", "password": PASSWORD},
    )
    assert response.status_code == COSIGN_EXPECTED[persona]
    if response.status_code != 302:
        assert state() == before and CANARY not in response.text


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_lists_of_notes(client, people, world, persona):
    login(client, getattr(people, persona))
    mine = client.get("/notes/mine?show=waiting")
    queue = client.get("/notes/cosign")
    if persona == "admin":
        assert mine.status_code == queue.status_code == 403
        return
    assert mine.status_code == 200
    assert (CANARY in mine.text) is (persona == "lead")  # the lead's own note, waiting for co-signature
    supervisor = getattr(people, persona).is_supervisor
    assert queue.status_code == (200 if supervisor else 403)
    if supervisor:
        assert (CANARY in queue.text) is (persona == "supervisor")
        assert audit_actions()[-1] == "note.cosign_queue"


def test_every_sessions_route_is_in_the_matrix(app: Flask):
    covered = {name.split()[0] for name in ROUTES} | {
        "sessions.private_note",
        "sessions.cosign",
        "sessions.correct_seriousness",  # tests/test_seriousness.py
        "sessions.cosign_queue",
        "sessions.my_notes",
    }
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint.startswith("sessions.")}
    assert endpoints == covered


#: The audit row each write leaves (in the same transaction as the change).
WRITE_AUDIT = {
    "sessions.new POST": "session.schedule",
    "sessions.edit POST": "session.update",
    "sessions.save_note_draft": "note.update",
    "sessions.add_vitals": "vitals.add",
    "sessions.remove_vitals": "vitals.remove",
    "sessions.add_event": "adverse_event.add",
    "sessions.remove_event": "adverse_event.remove",
    "sessions.sign": "note.sign",
    "sessions.addendum": "note.addendum",
    "sessions.start_private_note": "process_note.create",
    "sessions.save_draft": "draft.save",
    "sessions.discard_draft": "draft.discard",
}


@pytest.mark.parametrize("route", list(WRITE_AUDIT))
def test_each_write_is_audited_with_the_patient(client, people, world, route):
    method, template, data, status = ROUTES[route]
    login(client, people.co_therapist)
    if route == "sessions.discard_draft":
        client.post(_url(P + "/drafts/note-{dosing}", world), data={"body": "typing"})
    response = client.open(_url(template, world), method=method, data=_data(data, world))
    assert response.status_code == status
    from tracker.models import AuditEvent

    event = db.session.scalar(
        select(AuditEvent).where(AuditEvent.action == WRITE_AUDIT[route]).order_by(AuditEvent.id.desc())
    )
    assert event is not None and event.actor_id == people.co_therapist.id
    assert event.patient_id == world.patient_id
