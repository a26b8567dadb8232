"""Signing: what must be complete first, the password again, the stored hash of the content, and a signed note
that no route (409) and no SQL (the triggers) can change; addenda signed as they are written."""

from __future__ import annotations

import hashlib
import json
import re

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from tests.conftest import PASSWORD, audit_actions, login
from tests.session_data import (
    FULL_SET,
    adverse_event_form,
    dosing_note,
    held_session,
    in_dosing,
    session_url,
    vitals_form,
)
from tracker.extensions import db
from tracker.factories import complete_dosing
from tracker.models import NoteAddendum, SessionKind, SessionNote, TherapySession, VitalReading
from tracker.notes.fields import note_content
from tracker.notes.signing import verify
from tracker.sessions import queries


def fresh_session(session: TherapySession) -> TherapySession:
    from sqlalchemy.orm import selectinload

    db.session.expire_all()
    return db.session.scalar(
        select(TherapySession).where(TherapySession.id == session.id).options(selectinload(TherapySession.present))
    )


def fresh_note(session: TherapySession) -> SessionNote:
    note = queries.load_note(db.session, fresh_session(session))
    assert note is not None
    return note


@pytest.fixture
def ready(people, protocols) -> TherapySession:
    """A dosing session whose note is complete and unsigned (discharge done, follow-up scheduled)."""
    in_dosing(people.patient, people.lead, protocols)
    session = complete_dosing(people.patient, people.lead, protocols, sign=False)
    db.session.commit()
    return session


def sign(client, patient, session, password=PASSWORD, **extra):
    return client.post(session_url(patient, session, "/sign"), data={"password": password, **extra})


def test_an_empty_dosing_note_lists_everything_missing_before_signing(client, people, protocols):
    in_dosing(people.patient, people.lead, protocols)
    session = held_session(people.patient, people.lead, protocols)
    login(client, people.lead)
    client.post(session_url(people.patient, session, "/note"), data={"version_id": "", "substance": "MDMA"})
    refused = sign(client, people.patient, session)
    assert refused.status_code == 409
    text_ = refused.text
    assert "The administration record is incomplete: dose and unit, route, lot number, time given." in text_
    assert "Discharge is not complete: vital signs back within the protocol&#39;s limits (" in text_
    for criterion in (
        "; distress at or below baseline (",
        "; minimum observation time met (",
        "; escort or driver named (",
    ):
        assert criterion in text_
    assert "Schedule the next-day follow-up contact after dosing 1" in text_
    assert fresh_note(session).signed_at is None


def test_discharge_waits_for_vitals_back_in_range(client, people, protocols):
    in_dosing(people.patient, people.lead, protocols)
    session = held_session(people.patient, people.lead, protocols)
    login(client, people.lead)
    client.post(session_url(people.patient, session, "/note"), data=dosing_note())
    client.post(
        session_url(people.patient, session, "/vitals"), data=vitals_form(100, **{**FULL_SET, "heart_rate": "118"})
    )
    page = client.get(session_url(people.patient, session)).text
    assert "Latest full set" in page and "Heart rate 118 bpm is above" in page
    assert "Discharge is not complete: vital signs back within the protocol&#39;s limits" in page
    client.post(session_url(people.patient, session, "/vitals"), data=vitals_form(20, **FULL_SET))
    page = client.get(session_url(people.patient, session)).text
    assert "Discharge is not complete" not in page


def test_every_monitored_sign_needs_a_reading_after_the_dose(client, people, protocols):
    in_dosing(people.patient, people.lead, protocols)
    session = held_session(people.patient, people.lead, protocols)
    login(client, people.lead)
    client.post(session_url(people.patient, session, "/note"), data=dosing_note())
    client.post(
        session_url(people.patient, session, "/vitals"),
        data=vitals_form(70, systolic="124", diastolic="80", heart_rate="74"),
    )
    page = client.get(session_url(people.patient, session)).text
    assert "No reading after the dose of: Temperature." in page


def test_one_partial_reading_does_not_discharge_a_patient_whose_blood_pressure_was_high(client, people, protocols):
    in_dosing(people.patient, people.lead, protocols)
    session = held_session(people.patient, people.lead, protocols)
    login(client, people.lead)
    client.post(session_url(people.patient, session, "/note"), data=dosing_note())
    client.post(
        session_url(people.patient, session, "/vitals"),
        data=vitals_form(90, **{**FULL_SET, "systolic": "220", "diastolic": "120"}),
    )
    client.post(session_url(people.patient, session, "/vitals"), data=vitals_form(60, temperature="36.7"))
    page = client.get(session_url(people.patient, session)).text
    assert "Latest full set" in page and "Systolic BP 220 mmHg is above" in page
    assert sign(client, people.patient, session).status_code == 409
    # A later reading outside the limits holds discharge back even after a full set in range.
    client.post(session_url(people.patient, session, "/vitals"), data=vitals_form(50, **FULL_SET))
    client.post(session_url(people.patient, session, "/vitals"), data=vitals_form(40, heart_rate="130"))
    page = client.get(session_url(people.patient, session)).text
    assert "A later reading" in page and "Heart rate 130 bpm is above" in page


def test_the_minimum_observation_time_of_the_protocol_is_checked(client, people, protocols):
    from tracker.factories import clear_for_dosing, make_patient, walk_to
    from tracker.models import Phase

    patient = make_patient(people.lead, protocols=protocols, protocol_code="esketamine-rems-trd")  # >= 120 min
    clear_for_dosing(patient, people.lead, protocols)
    walk_to(patient, Phase.DOSING, people.lead, protocols)
    db.session.commit()
    session = held_session(patient, people.lead, protocols)
    login(client, people.lead)
    note = dosing_note(
        substance="Esketamine (intranasal)",
        dose_amount="56",
        route="intranasal",
        supplemental_mg="",
        supplemental_given_at="",
        discharged_at=dosing_note()["dose_given_at"][:-2] + "59",
    )
    client.post(session_url(patient, session, "/note"), data=note)
    page = client.get(session_url(patient, session)).text
    assert "the protocol asks for at least 120 min" in page and "minimum observation time met" in page


def test_a_wrong_password_signs_nothing_and_is_audited(client, people, ready):
    login(client, people.lead)
    response = sign(client, people.patient, ready, password="not my password at all")
    assert response.status_code == 422
    assert 'id="password-error"' in response.text and "That is not your password." in response.text
    assert fresh_note(ready).signed_at is None
    assert "auth.reauth_failed" in audit_actions()


def test_signing_stores_signer_time_and_the_hash_of_the_content(client, people, ready):
    login(client, people.co_therapist)
    page = client.get(session_url(people.patient, ready)).text
    shown = re.search(r'name="content_hash" type="hidden" value="([0-9a-f]{64})"', page).group(1)
    response = sign(client, people.patient, ready, content_hash=shown)
    assert response.status_code == 302
    note = fresh_note(ready)
    assert note.signed_by_id == people.co_therapist.id and note.signed_at is not None
    # The stored hash is SHA-256 over the canonical JSON of the content, recomputed here from the database.
    session = fresh_session(ready)
    canonical = json.dumps(note_content(note, session), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert note.content_sha256 == hashlib.sha256(canonical.encode()).hexdigest() == shown
    assert len(json.loads(canonical)["vitals"]) == 4 and json.loads(canonical)["dosing"]["lot_number"]
    assert verify([(note, session)]) == []
    signed_page = client.get(response.location).text
    assert note.content_sha256 in signed_page and "Cody Co" in signed_page
    assert f'action="/patients/{people.patient.id}/sessions/{ready.id}/note"' not in signed_page
    assert audit_actions()[-2] == "note.sign"


def test_a_note_changed_after_the_signer_opened_it_is_not_signed_unseen(client, people, ready):
    login(client, people.lead)
    page = client.get(session_url(people.patient, ready)).text
    shown = re.search(r'name="content_hash" type="hidden" value="([0-9a-f]{64})"', page).group(1)
    client.post(session_url(people.patient, ready, "/vitals"), data=vitals_form(30, heart_rate="70"))
    response = sign(client, people.patient, ready, content_hash=shown)
    assert response.status_code == 409 and "The note changed after you opened it" in response.text
    assert fresh_note(ready).signed_at is None


def test_verify_reports_a_row_changed_behind_the_triggers_back(people, ready, protocols):
    note = fresh_note(ready)
    from tracker.models.base import utcnow
    from tracker.notes.signing import sign_note

    session = fresh_session(ready)
    sign_note(people.lead, people.patient, session, note, protocols["mdma-ptsd"], PASSWORD, None, True, utcnow())
    db.session.flush()
    note.lot_number = "FORGED"  # in memory only: the database would refuse it
    assert [m.kind for m in verify([(note, session)])] == ["note"]


# A signed note: every route answers 409 and nothing changes. -----------------------------------------------------


@pytest.fixture
def signed(client, people, ready) -> TherapySession:
    login(client, people.lead)
    assert sign(client, people.patient, ready).status_code == 302
    return ready


def test_no_route_changes_a_signed_note(client, people, signed):
    note = fresh_note(signed)
    reading, before = note.vitals[0], (note.content_sha256, note.version_id, len(note.vitals))
    base = session_url(people.patient, signed)
    attempts = {
        "note": (base + "/note", dosing_note(body="rewritten", version_id=str(note.version_id))),
        "add vitals": (base + "/vitals", vitals_form(10, heart_rate="70")),
        "remove vitals": (base + f"/vitals/{reading.id}/remove", {"confirm": "yes"}),
        "add adverse event": (base + "/adverse-events", adverse_event_form()),
        "sign again": (base + "/sign", {"password": PASSWORD}),
        "edit session": (base + "/edit", {"held_at": "2020-01-01T10:00", "duration_minutes": "60", "cycle": "1"}),
    }
    for name, (url, data) in attempts.items():
        response = client.post(url, data=data)
        assert response.status_code == 409, name
        assert "signed" in response.text, name
    assert client.get(base + "/edit").status_code == 409
    after = fresh_note(signed)
    assert (after.content_sha256, after.version_id, len(after.vitals)) == before
    assert after.body != "rewritten"


SQL_CHANGES = [
    "UPDATE session_note SET body = 'rewritten' WHERE id = :note",
    "UPDATE session_note SET signed_at = NULL, signed_by_id = NULL, content_sha256 = NULL WHERE id = :note",
    "DELETE FROM session_note WHERE id = :note",
    "UPDATE vital_reading SET heart_rate = 60 WHERE note_id = :note",
    "DELETE FROM vital_reading WHERE note_id = :note",
    "INSERT INTO vital_reading (note_id, taken_at, heart_rate, recorded_by_id, created_at) "
    "VALUES (:note, CURRENT_TIMESTAMP, 70, :user, CURRENT_TIMESTAMP)",
    "INSERT INTO adverse_event (note_id, description, onset_at, severity, serious, action_taken, outcome, "
    "recorded_by_id, created_at) VALUES (:note, 'late', CURRENT_TIMESTAMP, 'mild', false, 'none', 'unknown', :user, "
    "CURRENT_TIMESTAMP)",
    "UPDATE therapy_session SET location = 'elsewhere' WHERE id = :session",
    "DELETE FROM session_therapist WHERE session_id = :session",
    "INSERT INTO session_therapist (session_id, user_id) VALUES (:session, :other)",
]


@pytest.mark.parametrize("statement", SQL_CHANGES)
def test_the_database_refuses_to_change_a_signed_note(people, signed, statement):
    note = fresh_note(signed)
    params = {"note": note.id, "session": signed.id, "user": people.lead.id, "other": people.supervisor.id}
    with pytest.raises(DBAPIError, match="signed note cannot be changed"), db.session.begin_nested():
        db.session.execute(text(statement), params)
    assert fresh_note(signed).content_sha256 == note.content_sha256


def test_a_draft_is_not_locked_in_the_database(people, ready):
    note = fresh_note(ready)
    with db.session.begin_nested():
        db.session.execute(text("UPDATE session_note SET body = 'edited' WHERE id = :id"), {"id": note.id})
        db.session.execute(text("DELETE FROM vital_reading WHERE note_id = :id"), {"id": note.id})
    assert fresh_note(ready).body == "edited"


# Addenda -----------------------------------------------------------------------------------------------------------


def addendum(client, patient, session, password=PASSWORD, **overrides):
    data = {
        "reason": "Correction: supplemental dose",
        "body": "A supplemental dose of 60 mg was offered and declined.",
        "password": password,
        **overrides,
    }
    return client.post(session_url(patient, session, "/addenda"), data=data)


def test_an_addendum_is_signed_as_written_and_shown_beneath_the_note(client, people, signed):
    before = fresh_note(signed).content_sha256
    login(client, people.co_therapist)
    response = addendum(client, people.patient, signed)
    assert response.status_code == 302
    row = db.session.scalar(select(NoteAddendum))
    assert row.signed_by_id == people.co_therapist.id and len(row.content_sha256) == 64
    page = client.get(response.location).text
    assert page.index("Signed</span> by") < page.index("A supplemental dose of 60 mg was offered and declined.")
    assert "Correction: supplemental dose" in page and "signed by Cody Co" in page
    note = fresh_note(signed)
    assert note.content_sha256 == before  # the note itself is untouched
    assert verify([(note, fresh_session(signed))]) == []
    with pytest.raises(DBAPIError, match="append-only"), db.session.begin_nested():
        db.session.execute(text("UPDATE note_addendum SET body = 'changed'"))
    with pytest.raises(DBAPIError, match="append-only"), db.session.begin_nested():
        db.session.execute(text("DELETE FROM note_addendum"))


@pytest.mark.parametrize(
    "field,value,message,status",
    [
        ("reason", "", "Say why the addendum is needed.", 422),
        ("body", "", "Write the addendum.", 422),
        ("body", "\x07beep", "Remove the invisible control characters", 422),
        ("password", "", "Enter your password to sign.", 422),
        ("password", "wrong password entirely", "That is not your password.", 422),
    ],
)
def test_bad_addenda_are_refused_beside_the_field(client, people, signed, field, value, message, status):
    response = addendum(client, people.patient, signed, **{field: value})
    assert response.status_code == status
    assert f'id="{field}-error"' in response.text and message in response.text
    assert db.session.scalar(select(func.count()).select_from(NoteAddendum)) == 0


def test_a_draft_takes_edits_not_addenda(client, people, ready):
    login(client, people.lead)
    response = addendum(client, people.patient, ready)
    assert response.status_code == 409 and "still a draft" in response.text


def test_the_note_of_a_session_not_yet_held_cannot_be_signed(client, people, protocols):
    from tracker.models.base import utcnow
    from tracker.sessions.services import SessionInput, record_session

    planned = record_session(
        people.lead,
        people.patient,
        SessionInput(SessionKind.PREPARATION, None, None, scheduled_at=utcnow()),
        protocols["mdma-ptsd"],
        utcnow(),
    )
    db.session.commit()
    login(client, people.lead)
    client.post(session_url(people.patient, planned, "/note"), data={"topics": "Written early"})
    response = sign(client, people.patient, planned)
    assert response.status_code == 409 and "The session has not taken place yet" in response.text


def test_signing_checks_each_kind_has_content(client, people, protocols):
    session = held_session(people.patient, people.lead, protocols, kind=SessionKind.INTEGRATION)
    login(client, people.lead)
    client.post(session_url(people.patient, session, "/note"), data={"themes": ""})
    response = sign(client, people.patient, session)
    assert response.status_code == 409
    assert "The note is empty." in response.text and "Record the risk check." in response.text
    assert db.session.scalar(select(func.count()).select_from(VitalReading)) == 0


def test_the_verify_command_recomputes_every_hash(app, people, signed):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["notes", "verify"])
    assert result.exit_code == 0, result.output
    signed_notes = db.session.scalar(select(func.count()).where(SessionNote.signed_at.is_not(None)))
    assert signed_notes == 4  # three preparation notes and the dosing note
    assert f"Checked {signed_notes} signed notes and their addenda: 0 mismatch(es)." in result.output


def test_the_verify_command_reports_a_note_changed_behind_the_triggers_back(app, people, signed):
    """A database owner can still switch the trigger off: the stored hash then shows what changed. (Inside the
    test's transaction, rolled back afterwards.)"""
    note = fresh_note(signed)
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.execute(text("DROP TRIGGER session_note_signed_no_update"))
    else:
        db.session.execute(text("ALTER TABLE session_note DISABLE TRIGGER session_note_signed_immutable"))
    db.session.execute(text("UPDATE session_note SET lot_number = 'FORGED' WHERE id = :id"), {"id": note.id})
    expected = f"MISMATCH note #{note.id}: stored {note.content_sha256}"
    db.session.expire_all()  # the command runs in this test's app context and session
    result = app.test_cli_runner().invoke(args=["notes", "verify"])
    assert result.exit_code == 1
    assert expected in result.output


def test_the_verify_command_reads_the_database_not_the_notes_its_session_keeps(app, client, people, ready):
    """The command runs in the caller's session (here the test's). A note that session loaded before someone else
    signed it must not mix its old columns with the signature's: it once failed the test above when the garbage
    collector had not yet freed the fixture's note, whose signature columns were never loaded."""
    note = fresh_note(ready)
    db.session.expire(note, ["signed_at", "signed_by_id", "content_sha256"])  # as the factory's note left them
    login(client, people.lead)
    assert sign(client, people.patient, ready).status_code == 302  # another session signs it: content version 2
    result = app.test_cli_runner().invoke(args=["notes", "verify"])
    assert result.exit_code == 0, result.output
    assert "0 mismatch(es)" in result.output
