"""Signed content carries a version: adding a field to a note never changes the hash of a note signed before it.

The field-addition test adds a preparation field the way a developer would (listed with its kind's fields, named
in ``FIELD_SINCE`` with the next version, ``CONTENT_VERSION`` raised) and checks every earlier signature still
verifies, while a note signed afterwards holds the new field."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from tests.conftest import PASSWORD, login
from tests.session_data import held_session, in_dosing, session_url
from tracker.extensions import db
from tracker.factories import complete_dosing
from tracker.models import SessionKind, SessionNote, TherapySession
from tracker.models.base import utcnow
from tracker.notes import fields, widgets
from tracker.notes.fields import DosingField, Line, Section, TextField, note_content
from tracker.notes.signing import sign_note, verify
from tracker.sessions import queries


def signed_notes() -> list[tuple[SessionNote, TherapySession]]:
    db.session.expire_all()
    sessions = db.session.scalars(select(TherapySession).options(selectinload(TherapySession.present)))
    found = [(queries.load_note(db.session, s), s) for s in sessions]
    return [(note, s) for note, s in found if note is not None and note.signed_at is not None]


@pytest.fixture
def clinic_notes(people, protocols) -> None:
    """Signed notes of every kind the pathway writes: preparation notes and a dosing note."""
    in_dosing(people.patient, people.lead, protocols)
    complete_dosing(people.patient, people.lead, protocols, sign=True)
    db.session.commit()


def test_notes_are_signed_under_the_current_version_and_verify(people, clinic_notes):
    notes = signed_notes()
    assert {note.content_version for note, _ in notes} == {fields.CONTENT_VERSION}
    assert all(note_content(note, s)["version"] == fields.CONTENT_VERSION for note, s in notes)
    assert verify(notes) == []


def test_adding_a_field_keeps_every_earlier_signature(monkeypatch, client, people, protocols, clinic_notes):
    session = held_session(
        people.patient, people.lead, protocols, SessionKind.PREPARATION, started_minutes_ago=90, duration=60
    )
    login(client, people.lead)
    saved = client.post(session_url(people.patient, session, "/note"), data={"topics": "The day", "body": "Met."})
    assert saved.status_code in (200, 302)
    before = signed_notes()
    assert len(before) >= 2 and verify(before) == []
    added = fields.CONTENT_VERSION + 1
    kind = SessionKind.PREPARATION
    monkeypatch.setitem(
        fields.TEXT_FIELDS, kind, (*fields.TEXT_FIELDS[kind], TextField("support_people", "Support people"))
    )
    monkeypatch.setitem(fields.FIELD_SINCE, "support_people", added)
    monkeypatch.setattr(fields, "CONTENT_VERSION", added)

    assert verify(signed_notes()) == []  # every note signed before the field still verifies

    note = queries.load_note(db.session, session)
    assert note is not None
    note.fields = {**note.fields, "support_people": "Her sister"}  # the draft, as the new field's form would save it
    sign_note(
        people.lead,
        people.patient,
        session,
        note,
        protocols[people.patient.protocol_code],
        PASSWORD,
        None,
        True,
        utcnow(),
    )
    db.session.commit()
    newest = [(n, s) for n, s in signed_notes() if s.id == session.id]
    assert newest[0][0].content_version == added
    assert note_content(*newest[0])["fields"]["support_people"] == "Her sister"
    assert verify(signed_notes()) == []


def test_without_a_version_the_added_field_would_change_earlier_hashes(monkeypatch, people, clinic_notes):
    """The reason for versions: the same field added to the current version's content breaks earlier notes."""
    kind = SessionKind.PREPARATION
    monkeypatch.setitem(
        fields.TEXT_FIELDS, kind, (*fields.TEXT_FIELDS[kind], TextField("support_people", "Support people"))
    )
    mismatched = verify(signed_notes())
    assert mismatched and {m.kind for m in mismatched} == {"note"}


def test_a_note_signed_before_versions_verifies_as_version_one(people, clinic_notes):
    """Version 1 (the content before versions) held the later fields only when filled in, and no version key."""
    note, session = next((n, s) for n, s in signed_notes() if s.kind is SessionKind.DOSING)
    first = note_content(note, session, 1)
    assert "version" not in first and "set_and_setting" not in first["fields"]
    assert "pre_dose_decision" not in first["dosing"] or note.pre_dose_decision is not None


def _observed_by(monkeypatch, since: int) -> None:
    """A dosing field added to the dosing note's table the way a developer would (its column stands in as a class
    attribute). ``FIELD_SINCE`` and ``CONTENT_VERSION`` follow the table when the module loads, so they are set
    here as loading it would."""
    monkeypatch.setattr(SessionNote, "observed_by", "The session monitor", raising=False)
    added = DosingField(
        "observed_by",
        "Observed by",
        Section.DISCHARGE,
        widgets.line(120),
        since=since,
        line=Line("Observed by", lambda note, tz: note.observed_by),
    )
    monkeypatch.setattr(fields, "DOSING", (*fields.DOSING, added))
    if since > fields.CONTENT_VERSION:
        monkeypatch.setitem(fields.FIELD_SINCE, "observed_by", since)
        monkeypatch.setattr(fields, "CONTENT_VERSION", since)


def test_adding_a_dosing_field_keeps_every_earlier_signature(monkeypatch, people, clinic_notes):
    before = signed_notes()
    assert any(s.kind is SessionKind.DOSING for _, s in before) and verify(before) == []
    added = fields.CONTENT_VERSION + 1
    _observed_by(monkeypatch, added)

    notes = signed_notes()
    assert verify(notes) == []  # every note signed before the field still verifies
    note, session = next((n, s) for n, s in notes if s.kind is SessionKind.DOSING)
    assert "observed_by" not in note_content(note, session)["dosing"]  # hashed as signed, under its own version
    assert note_content(note, session, added)["dosing"]["observed_by"] == "The session monitor"


def test_a_dosing_field_added_without_a_version_would_change_the_dosing_notes_hash(monkeypatch, people, clinic_notes):
    _observed_by(monkeypatch, since=1)
    mismatched = verify(signed_notes())
    dosing = {n.id for n, s in signed_notes() if s.kind is SessionKind.DOSING}
    assert mismatched and {m.id for m in mismatched} == dosing


def test_the_content_version_is_the_newest_fields():
    """A field that names a version the signing does not write would never be signed: the version follows."""
    assert max((2, *fields.FIELD_SINCE.values())) == fields.CONTENT_VERSION
    tables = (
        *fields.DOSING,
        *(f for kind in fields.TEXT_FIELDS.values() for f in kind),
        *(s for kind in fields.STRUCTURED.values() for s in kind),
    )
    assert all(f.since <= fields.CONTENT_VERSION for f in tables)
