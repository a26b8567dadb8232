"""Co-signature: notes signed by a therapist flagged as needing it wait in their supervisor's queue; the supervisor
co-signs or returns them with a comment; the author answers with an addendum, which brings the note back. And the
author's own lists: unsigned notes older than 24 hours, returned notes, notes waiting."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from tests.conftest import PASSWORD, audit_actions, login
from tests.session_data import held_session, in_dosing, session_url
from tracker.extensions import db
from tracker.factories import complete_dosing
from tracker.models import CosignDecision, SessionKind
from tracker.models.base import utcnow


@pytest.fixture
def trainee_note(client, people, protocols):
    """The lead needs co-signature; they sign a complete dosing note."""
    in_dosing(people.patient, people.lead, protocols)  # its preparation notes signed before the flag is set
    people.lead.needs_cosign = True
    db.session.commit()
    session = complete_dosing(people.patient, people.lead, protocols, sign=False)
    db.session.commit()
    login(client, people.lead)
    assert client.post(session_url(people.patient, session, "/sign"), data={"password": PASSWORD}).status_code == 302
    return session


def queue(client) -> str:
    return client.get("/notes/cosign").text


def decide(client, patient, session, decision, comment="", password=PASSWORD):
    return client.post(
        session_url(patient, session, "/cosign"), data={"decision": decision, "comment": comment, "password": password}
    )


def test_a_trainees_signed_note_waits_in_their_supervisors_queue_only(client, people, trainee_note):
    login(client, people.supervisor)
    assert "Dosing 1 of 3" in queue(client) and "Zzpatient, Canary" in queue(client)
    assert audit_actions()[-1] == "note.cosign_queue"
    login(client, people.other_supervisor)
    assert "Zzpatient" not in queue(client)
    login(client, people.lead)
    page = client.get("/notes/mine?show=waiting").text
    assert "Dosing 1 of 3" in page
    assert "Waiting for co-signature" in client.get(session_url(people.patient, trainee_note)).text


def test_the_supervisor_co_signs_and_the_note_leaves_the_queue(client, people, trainee_note):
    login(client, people.supervisor)
    page = client.get(session_url(people.patient, trainee_note)).text
    assert "Record decision" in page
    response = decide(client, people.patient, trainee_note, "cosigned")
    assert response.status_code == 302
    decision = db.session.scalar(select(CosignDecision))
    assert decision.supervisor_id == people.supervisor.id and len(decision.content_sha256) == 64
    assert "Nothing is waiting for your co-signature." in queue(client)
    assert "Co-signed</span>" in client.get(session_url(people.patient, trainee_note)).text
    assert "note.cosigned" in audit_actions()
    again = decide(client, people.patient, trainee_note, "cosigned")
    assert again.status_code == 409 and "not waiting for a co-signature" in again.text
    with pytest.raises(DBAPIError, match="append-only"), db.session.begin_nested():
        db.session.execute(text("UPDATE cosign_decision SET decision = 'returned', comment = 'x'"))


def test_a_returned_note_goes_back_to_its_author_and_an_addendum_brings_it_back(client, people, trainee_note):
    login(client, people.supervisor)
    refused = decide(client, people.patient, trainee_note, "returned")
    assert refused.status_code == 422 and "Say what the author should correct or add." in refused.text
    assert (
        decide(
            client, people.patient, trainee_note, "returned", "Add the time the patient was escorted out."
        ).status_code
        == 302
    )
    assert "Nothing is waiting" in queue(client)
    login(client, people.lead)
    returned = client.get("/notes/mine?show=returned").text
    assert "Dosing 1 of 3" in returned
    page = client.get(session_url(people.patient, trainee_note)).text
    assert "Returned by the supervisor" in page and "Add the time the patient was escorted out." in page
    client.post(
        session_url(people.patient, trainee_note, "/addenda"),
        data={
            "reason": "Answer to the supervisor",
            "body": "Escorted out by her partner at 17:40.",
            "password": PASSWORD,
        },
    )
    assert "Dosing 1 of 3" not in client.get("/notes/mine?show=returned").text
    login(client, people.supervisor)
    assert "Dosing 1 of 3" in queue(client)
    assert decide(client, people.patient, trainee_note, "cosigned").status_code == 302


def test_only_the_signers_supervisor_decides(client, people, trainee_note):
    for persona, status in [
        ("co_therapist", 403),
        ("lead", 403),
        ("other_supervisor", 404),
        ("outsider", 404),
        ("admin", 403),
        ("other_therapist", 403),
    ]:
        login(client, getattr(people, persona))
        response = decide(client, people.patient, trainee_note, "cosigned")
        assert response.status_code == status, persona
        assert "Zzpatient" not in response.text
    assert db.session.scalar(select(CosignDecision)) is None


def test_a_note_changed_since_the_supervisor_opened_it_is_not_co_signed_unseen(client, people, trainee_note):
    import re

    login(client, people.supervisor)
    page = client.get(session_url(people.patient, trainee_note)).text
    seen = re.search(r'id="content_hash" name="content_hash" type="hidden" value="([0-9a-f]{64})"', page).group(1)
    login(client, people.lead)
    client.post(
        session_url(people.patient, trainee_note, "/addenda"),
        data={"reason": "Late entry", "body": "Called at 20:00; settled.", "password": PASSWORD},
    )
    login(client, people.supervisor)
    response = client.post(
        session_url(people.patient, trainee_note, "/cosign"),
        data={"decision": "cosigned", "content_hash": seen, "password": PASSWORD},
    )
    assert response.status_code == 409 and "changed after you opened it" in response.text


def test_notes_of_therapists_without_the_flag_need_no_co_signature(client, people, protocols):
    in_dosing(people.patient, people.lead, protocols)
    session = complete_dosing(people.patient, people.lead, protocols)
    db.session.commit()
    login(client, people.supervisor)
    assert "Nothing is waiting" in queue(client)
    assert "Record decision" not in client.get(session_url(people.patient, session)).text


def test_unsigned_notes_older_than_24_hours_are_listed_for_their_author(client, people, protocols):
    session = held_session(people.patient, people.lead, protocols, kind=SessionKind.PREPARATION)
    login(client, people.lead)
    client.post(session_url(people.patient, session, "/note"), data={"topics": "Started"})
    untouched = held_session(people.patient, people.co_therapist, protocols, kind=SessionKind.PREPARATION)
    assert "Nothing here." in client.get("/notes/mine").text  # held a few hours ago: not overdue yet
    with time_machine.travel(utcnow() + timedelta(hours=25), tick=False):
        login(client, people.lead)
        page = client.get("/notes/mine").text
        assert "Preparation 1 of 3" in page and "draft, last saved" in page and "Preparation 2" not in page
        login(client, people.co_therapist)  # logged the second session and never started its note
        page = client.get("/notes/mine").text
        assert "Preparation 2 of 3" in page and "not started" in page
        assert "Preparation 1 of 3" not in page
    assert untouched.id


def test_the_author_s_list_and_the_dashboard_share_the_clinic_s_unsigned_note_setting(client, people, protocols):
    session = held_session(people.patient, people.lead, protocols, kind=SessionKind.PREPARATION)
    login(client, people.lead)
    client.post(session_url(people.patient, session, "/note"), data={"topics": "Started"})
    people.clinic.attention_note_unsigned_hours = 1
    db.session.commit()
    with time_machine.travel(utcnow() + timedelta(hours=2), tick=False):
        login(client, people.lead)
        page = client.get("/notes/mine").text
        assert "Unsigned notes older than 1 hour" in page and "Preparation 1 of 3" in page
        assert 'data-kind="unsigned_note"' in client.get("/today").text


@pytest.mark.parametrize("query", ["show=nothing", "page=0", "page=x"])
def test_bad_list_arguments_are_refused(client, people, query):
    login(client, people.lead)
    assert client.get(f"/notes/mine?{query}").status_code == 400
    login(client, people.supervisor)
    if query.startswith("page"):
        assert client.get(f"/notes/cosign?{query}").status_code == 400


def test_co_signing_asks_for_the_password(client, people, trainee_note):
    login(client, people.supervisor)
    assert 'name="password"' in client.get(session_url(people.patient, trainee_note)).text
    missing = decide(client, people.patient, trainee_note, "cosigned", password="")
    assert missing.status_code == 422 and "Enter your password to co-sign or return the note." in missing.text
    wrong = decide(client, people.patient, trainee_note, "returned", "Add the time.", password="not it at all")
    assert wrong.status_code == 422 and "That is not your password" in wrong.text
    assert db.session.scalar(select(CosignDecision)) is None
    assert "auth.reauth_failed" in audit_actions()
    assert decide(client, people.patient, trainee_note, "cosigned").status_code == 302


def test_co_signing_shares_the_signing_throttle(client, app, people, trainee_note):
    login(client, people.supervisor)
    for _ in range(app.config["REAUTH_MAX_FAILURES"]):
        assert decide(client, people.patient, trainee_note, "cosigned", password="wrong password").status_code == 422
    refused = decide(client, people.patient, trainee_note, "cosigned")  # the right password, too late
    assert refused.status_code == 422 and "Too many wrong passwords" in refused.text
    assert db.session.scalar(select(CosignDecision)) is None
    assert audit_actions()[-1] == "auth.reauth_throttled"
