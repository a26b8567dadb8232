"""The gate's conditions that need signed notes: dosing -> integration asks for the cycle's dosing session held and
its note signed (signing is where the dose and discharge are checked); integration -> dosing asks for the
protocol's integration sessions held after that dose and signed. From a patient who meets them, each condition
taken away alone is refused with its own message."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import login
from tests.session_data import held_session, in_dosing
from tracker import workflow
from tracker.extensions import db
from tracker.factories import complete_dosing, complete_integration, walk_to
from tracker.models import Phase, SessionKind, SessionNote
from tracker.workflow import TransitionError


def refusals(patient, protocols, target):
    return workflow.refusals(db.session, patient, protocols[patient.protocol_code], target, None)


@pytest.fixture
def dosing(people, protocols):
    return in_dosing(people.patient, people.lead, protocols)


def test_a_signed_dosing_note_with_discharge_lets_the_patient_into_integration(people, protocols, dosing):
    complete_dosing(dosing, people.lead, protocols)
    assert refusals(dosing, protocols, Phase.INTEGRATION) == []
    walk_to(dosing, Phase.INTEGRATION, people.lead, protocols)
    assert dosing.phase is Phase.INTEGRATION


def test_no_dosing_session_held(people, protocols, dosing):
    assert refusals(dosing, protocols, Phase.INTEGRATION) == [
        "Dosing session 1 has not been recorded as held: log it, with its note, first."
    ]


def test_a_scheduled_dosing_session_is_not_held(people, protocols, dosing):
    from tracker.models.base import utcnow
    from tracker.sessions.services import SessionInput, record_session

    record_session(
        people.lead,
        dosing,
        SessionInput(SessionKind.DOSING, None, None, scheduled_at=utcnow()),
        protocols["mdma-ptsd"],
        utcnow(),
    )
    assert refusals(dosing, protocols, Phase.INTEGRATION)[0].startswith("Dosing session 1 has not been recorded")


def test_the_dosing_note_unsigned(people, protocols, dosing):
    complete_dosing(dosing, people.lead, protocols, sign=False)
    assert refusals(dosing, protocols, Phase.INTEGRATION) == ["The note of dosing session 1 is not signed."]


def test_discharge_incomplete_leaves_the_note_unsignable(people, protocols, dosing):
    """Discharge is checked where the note is signed; the move then needs the signature."""
    complete_dosing(dosing, people.lead, protocols, sign=False)
    note = db.session.scalar(select(SessionNote).where(SessionNote.dose_given_at.is_not(None)))
    note.escort_name = None
    db.session.flush()
    assert refusals(dosing, protocols, Phase.INTEGRATION) == ["The note of dosing session 1 is not signed."]


def test_no_note_at_all(people, protocols, dosing):
    held_session(dosing, people.lead, protocols)
    assert refusals(dosing, protocols, Phase.INTEGRATION) == ["The note of dosing session 1 is not signed."]


def test_the_guard_reads_the_current_cycle(people, protocols, dosing):
    walk_to(dosing, Phase.INTEGRATION, people.lead, protocols)
    walk_to(dosing, Phase.DOSING, people.lead, protocols)
    assert refusals(dosing, protocols, Phase.INTEGRATION) == [
        "Dosing session 2 has not been recorded as held: log it, with its note, first."
    ]


@pytest.fixture
def integrating(people, protocols, dosing):
    walk_to(dosing, Phase.INTEGRATION, people.lead, protocols)
    return dosing


def test_the_integration_sessions_of_the_cycle_signed_let_the_next_dosing_start(people, protocols, integrating):
    complete_integration(integrating, people.lead, protocols)
    assert refusals(integrating, protocols, Phase.DOSING) == []


def test_integration_sessions_missing(people, protocols, integrating):
    held_session(integrating, people.lead, protocols, kind=SessionKind.INTEGRATION)
    assert refusals(integrating, protocols, Phase.DOSING) == [
        "Integration after dosing 1: 1 of 3 sessions held after that dose, 0 with a signed note; all 3 must be held "
        "and signed before dosing 2."
    ]


def test_integration_sessions_held_but_not_signed(people, protocols, integrating):
    from tests.conftest import PASSWORD
    from tracker.models.base import utcnow
    from tracker.notes import saving, signing

    for number in range(3):
        session = held_session(integrating, people.lead, protocols, kind=SessionKind.INTEGRATION)
        note, _ = saving.save_note(
            people.lead,
            integrating,
            session,
            None,
            saving.NoteInput(fields={"themes": "Grief", "risk_check": "no_concern"}),
            None,
            utcnow(),
        )
        if number < 2:  # the third note stays a draft
            signing.sign_note(
                people.lead, integrating, session, note, protocols["mdma-ptsd"], PASSWORD, None, True, utcnow()
            )
    assert refusals(integrating, protocols, Phase.DOSING) == [
        "Integration after dosing 1: 3 of 3 sessions held after that dose, 2 with a signed note; all 3 must be held "
        "and signed before dosing 2."
    ]


def test_sessions_of_another_cycle_do_not_count(people, protocols, integrating):
    from tracker.models.base import utcnow
    from tracker.sessions.services import SessionInput, record_session

    for _ in range(3):  # integration sessions filed under cycle 2 say nothing about cycle 1
        record_session(
            people.lead,
            integrating,
            SessionInput(SessionKind.INTEGRATION, utcnow(), 60, cycle=2),
            protocols["mdma-ptsd"],
            utcnow(),
        )
    assert refusals(integrating, protocols, Phase.DOSING)[0].startswith("Integration after dosing 1: 0 of 3")


def test_protocols_without_integration_sessions_need_none(people, protocols):
    from tracker.factories import clear_for_dosing, make_patient

    patient = make_patient(people.lead, protocols=protocols, protocol_code="ketamine-iv-trd")
    clear_for_dosing(patient, people.lead, protocols)
    walk_to(patient, Phase.DOSING, people.lead, protocols)
    walk_to(patient, Phase.INTEGRATION, people.lead, protocols)
    assert refusals(patient, protocols, Phase.DOSING) == []


def test_the_patient_page_shows_the_refusal(client, people, protocols, dosing):
    login(client, people.lead)
    response = client.post(f"/patients/{dosing.id}/phase", data={"target": "integration"})
    assert response.status_code == 409
    assert "Dosing session 1 has not been recorded as held" in response.text
    with pytest.raises(TransitionError):
        workflow.move(db.session, dosing, Phase.INTEGRATION, people.lead, protocols["mdma-ptsd"])
