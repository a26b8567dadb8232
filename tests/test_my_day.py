"""My day shows everything that waits for the therapist, a note their co-signer returned among it (with the comment
and a link to the note), and every date the queue prints is true: a patient who never had a session is not shown
a "last session"."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD, login
from tests.session_data import in_dosing, session_url
from tracker.extensions import db
from tracker.factories import complete_dosing
from tracker.models import SessionKind, TherapySession
from tracker.models.base import utcnow

COMMENT = "Add the time the patient was escorted out."


@pytest.fixture
def returned_note(client, people, protocols):
    """The lead needs co-signature, signs a dosing note, and the supervisor returns it with a comment."""
    in_dosing(people.patient, people.lead, protocols)
    people.lead.needs_cosign = True
    db.session.commit()
    session = complete_dosing(people.patient, people.lead, protocols, sign=False)
    db.session.commit()
    login(client, people.lead)
    assert client.post(session_url(people.patient, session, "/sign"), data={"password": PASSWORD}).status_code == 302
    login(client, people.supervisor)
    response = client.post(
        session_url(people.patient, session, "/cosign"),
        data={"decision": "returned", "comment": COMMENT, "password": PASSWORD},
    )
    assert response.status_code == 302
    return session


def _rows(page: str, kind: str) -> list[str]:
    return re.findall(rf'<tr class="attention-item" data-kind="{kind}">(.*?)</tr>', page, re.S)


def test_a_returned_note_is_on_its_authors_day_with_the_comment_and_a_link(client, people, returned_note):
    login(client, people.lead)
    page = client.get("/today").text
    [row] = _rows(page, "returned_note")
    assert "Note returned by the co-signer" in row and COMMENT in row
    assert f'href="{session_url(people.patient, returned_note)}"' in row
    assert "Returned notes" in page  # its own tab
    assert _rows(client.get("/today?kind=returned_note").text, "returned_note")


def test_a_returned_note_is_not_on_another_therapists_day(client, people, returned_note):
    login(client, people.co_therapist)  # on the care team, but not the note's author
    assert _rows(client.get("/today").text, "returned_note") == []


def test_an_addendum_answers_the_returned_note_and_it_leaves_the_day(client, people, returned_note):
    login(client, people.lead)
    client.post(
        session_url(people.patient, returned_note, "/addenda"),
        data={
            "reason": "Answer to the supervisor",
            "body": "Escorted out by her partner at 17:40.",
            "password": PASSWORD,
        },
    )
    assert _rows(client.get("/today").text, "returned_note") == []


def test_the_supervisor_dashboard_lists_the_returned_note_too(client, people, returned_note):
    login(client, people.supervisor)
    [row] = _rows(client.get("/dashboard").text, "returned_note")
    assert COMMENT in row


def test_a_patient_who_never_had_a_session_shows_the_enrolment_not_a_last_session(client, people):
    people.patient.created_at = utcnow() - timedelta(days=40)
    db.session.commit()
    login(client, people.lead)
    [row] = _rows(client.get("/today").text, "no_recent_session")
    assert "Last session" not in row and "Enrolled" in row
    assert "No session held since enrolment" in row


def test_a_patient_whose_last_session_was_long_ago_shows_its_date(client, people):
    people.patient.created_at = utcnow() - timedelta(days=80)
    held = utcnow() - timedelta(days=45)
    db.session.add(
        TherapySession(
            patient_id=people.patient.id,
            kind=SessionKind.PREPARATION,
            held_at=held,
            duration_minutes=60,
            logged_by_id=people.lead.id,
        )
    )
    db.session.commit()
    login(client, people.lead)
    [row] = _rows(client.get("/today").text, "no_recent_session")
    assert "Last session" in row and "No session held recently" in row


def test_a_later_decision_on_another_note_leaves_the_returned_note_returned(client, people, protocols, returned_note):
    """A note stays returned whatever happens to other notes: a co-signature given later to another patient's note
    hid it from every list, since the "no newer decision" test was not tied to the note (a nested EXISTS correlates
    with its own enclosing SELECT only, so it looked at every note of the clinic)."""
    from tracker.factories import make_patient
    from tracker.models import CosignDecision, CosignOutcome, SessionNote

    other = make_patient(people.lead, people.co_therapist, protocols=protocols, family_name="Elsewhere")
    in_dosing(other, people.lead, protocols)
    session = complete_dosing(other, people.lead, protocols)
    note = db.session.scalar(select(SessionNote).where(SessionNote.session_id == session.id))
    db.session.add(
        CosignDecision(
            note_id=note.id,
            supervisor_id=people.supervisor.id,
            decision=CosignOutcome.COSIGNED,
            content_sha256="0" * 64,
            decided_at=utcnow() + timedelta(minutes=1),
        )
    )
    db.session.commit()
    login(client, people.lead)
    assert _rows(client.get("/today").text, "returned_note")
    assert "Dosing 1 of" in client.get("/notes/mine?show=returned").text
    login(client, people.supervisor)
    assert _rows(client.get("/dashboard").text, "returned_note")
