"""The dosing gate at every door that reaches a dose or a signed dosing note: the move to dosing (page, command
line, script), recording a held dosing session (the full form, the patient page's quick form, editing a scheduled
or held one), saving the dose, and signing. The same unmet condition is refused at each, with its message, and
nothing is saved. The conditions themselves are unit-tested in test_gate.py."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import PASSWORD, login
from tests.session_data import STARTED, ago, dosing_note, held_session, in_dosing, session_url, stamp
from tracker import workflow
from tracker.extensions import db
from tracker.factories import clear_for_dosing, complete_dosing, make_patient
from tracker.models import AnswerValue, Patient, Phase, SessionKind, SessionNote, TherapySession
from tracker.models.base import utcnow
from tracker.screening.services import (
    AnswerInput,
    MedicationInput,
    add_medication,
    answer_item,
    current_checklist,
)
from tracker.sessions.services import SessionInput, record_session
from tracker.workflow import TransitionError

WASHOUT = "Phenelzine was last taken on"
POSITIVE = "Pregnancy test (at entry and before each experimental session)"


def maoi_stopped_lately(patient: Patient, people, protocols) -> str:
    """Phenelzine stopped three days ago: no longer taken at a session held today or yesterday, but its 14-day
    washout is not over."""
    stopped = utcnow().date() - timedelta(days=3)
    add_medication(
        people.lead,
        patient,
        MedicationInput("Phenelzine", "", started_on=stopped - timedelta(days=90), stopped_on=stopped),
    )
    db.session.commit()
    return WASHOUT


def positive_pregnancy_test(patient: Patient, people, protocols) -> str:
    """A positive test done yesterday, recorded now (a pre-dosing requirement may be recorded after sign-off)."""
    checklist = current_checklist(db.session, patient)
    answer_item(
        people.lead,
        checklist,
        protocols[patient.protocol_code],
        "pregnancy-test",
        AnswerInput(AnswerValue.RECORDED, "positive", utcnow().date() - timedelta(days=1)),
        utcnow().date(),
    )
    db.session.commit()
    return POSITIVE


BREAKERS: list[Callable[..., str]] = [maoi_stopped_lately, positive_pregnancy_test]


def dosing_sessions(patient: Patient) -> int:
    db.session.expire_all()
    return db.session.scalar(
        select(func.count()).where(
            TherapySession.patient_id == patient.id,
            TherapySession.kind == SessionKind.DOSING,
            TherapySession.held_at.is_not(None),
        )
    )


def team(patient: Patient) -> list[str]:
    return [str(m.user_id) for m in patient.care_team]


@pytest.fixture
def dosing(people, protocols) -> Patient:
    return in_dosing(people.patient, people.lead, protocols)


# --- Recording a held dosing session -----------------------------------------------------------------------------


def _new(client, patient, **values):
    data = {
        "kind": "dosing",
        "cycle": "1",
        "scheduled_at": "",
        "scheduled_minutes": "",
        "held_at": minutes(180),
        "duration_minutes": "150",
        "location": "Room 1",
        "present_ids": team(patient),
    }
    return client.post(f"/patients/{patient.id}/sessions/new", data={**data, **values})


def _quick(client, patient, **values):
    data = {"kind": "dosing", "held_at": minutes(180), "duration_minutes": "150"}
    return client.post(f"/patients/{patient.id}/sessions", data={**data, **values})


def minutes(ago_minutes: int) -> str:
    return stamp(ago(ago_minutes))


@pytest.mark.parametrize("breaker", BREAKERS)
@pytest.mark.parametrize("door", ["full form", "quick form"])
def test_a_held_dosing_session_is_refused_past_an_unmet_condition(client, people, protocols, dosing, breaker, door):
    message = breaker(dosing, people, protocols)
    login(client, people.lead)
    response = (_new if door == "full form" else _quick)(client, dosing)
    assert response.status_code == 422 and message in response.text
    assert dosing_sessions(dosing) == 0


@pytest.mark.parametrize("breaker", BREAKERS)
def test_a_scheduled_dosing_session_is_not_recorded_as_held_past_an_unmet_condition(
    client, people, protocols, dosing, breaker
):
    scheduled = record_session(
        people.lead,
        dosing,
        SessionInput(SessionKind.DOSING, None, None, scheduled_at=utcnow() + timedelta(days=1), cycle=1),
        protocols["mdma-ptsd"],
        utcnow(),
    )
    db.session.commit()
    message = breaker(dosing, people, protocols)
    login(client, people.lead)
    response = client.post(
        session_url(dosing, scheduled, "/edit"),
        data={
            "held_at": minutes(180),
            "duration_minutes": "150",
            "cycle": "1",
            "location": "Room 1",
            "present_ids": team(dosing),
        },
    )
    assert response.status_code == 422 and message in response.text
    assert dosing_sessions(dosing) == 0


def test_a_held_session_moved_to_another_time_is_judged_at_that_time(client, people, protocols, dosing):
    session = held_session(dosing, people.lead, protocols)
    login(client, people.lead)
    earlier = client.post(
        session_url(dosing, session, "/edit"),
        data={
            "held_at": minutes(60 * 24 * 3),
            "duration_minutes": "150",
            "cycle": "1",
            "location": "Room 1",
            "present_ids": team(dosing),
        },
    )
    assert earlier.status_code == 422
    assert "before the patient moved to dosing 1" in earlier.text
    assert "was signed off on" in earlier.text  # the screening was signed off two days ago, after that time


@pytest.mark.parametrize("door", ["full form", "quick form"])
def test_a_co_therapy_dosing_session_needs_two_therapists_present(client, people, protocols, dosing, door):
    login(client, people.lead)
    response = (
        _new(client, dosing, present_ids=[str(people.lead.id)]) if door == "full form" else _quick(client, dosing)
    )  # the quick form records its author alone
    assert response.status_code == 422
    assert "needs two therapists present at the dosing session; 1 recorded as present" in response.text
    assert dosing_sessions(dosing) == 0


def test_editing_the_therapists_present_down_to_one_is_refused(client, people, protocols, dosing):
    session = held_session(dosing, people.lead, protocols)
    login(client, people.lead)
    response = client.post(
        session_url(dosing, session, "/edit"),
        data={
            "held_at": stamp(session.held_at),
            "duration_minutes": "540",
            "cycle": "1",
            "location": "Room 1",
            "present_ids": [str(people.lead.id)],
        },
    )
    assert response.status_code == 422 and "needs two therapists present" in response.text


# --- Saving the dose ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("breaker", BREAKERS)
def test_the_dose_is_not_saved_past_an_unmet_condition(client, people, protocols, dosing, breaker):
    session = held_session(dosing, people.lead, protocols)
    message = breaker(dosing, people, protocols)
    login(client, people.lead)
    response = client.post(session_url(dosing, session, "/note"), data=dosing_note())
    assert response.status_code == 422 and message in response.text
    assert db.session.scalar(select(SessionNote).where(SessionNote.session_id == session.id)) is None
    # The narrative alone (no dose) can still be written: documenting what happened is never blocked.
    narrative = {"version_id": "", "body": "The session was stopped before the dose."}
    assert client.post(session_url(dosing, session, "/note"), data=narrative).status_code == 302


@pytest.mark.parametrize(
    "values,words",
    [
        ({"dose_amount": "150"}, "gives 80 mg or 120 mg per session, not 150 mg"),
        ({"route": "intravenous"}, "The route must be the protocol&#39;s: oral"),
        ({"substance": "Methylone"}, "The substance must be the protocol&#39;s: MDMA."),
        ({"supplemental_mg": "80"}, "of the initial dose: 60 mg, not 80 mg"),
        ({"dose_unit": "mg_per_70kg"}, "doses in mg, not mg/70 kg"),
    ],
)
def test_a_dose_outside_the_protocol_is_refused_next_to_the_dose(client, people, protocols, dosing, values, words):
    session = held_session(dosing, people.lead, protocols)
    login(client, people.lead)
    response = client.post(session_url(dosing, session, "/note"), data=dosing_note(**values))
    assert response.status_code == 422 and words in response.text
    assert 'id="dose_amount-error"' in response.text
    assert db.session.scalar(select(SessionNote).where(SessionNote.session_id == session.id)) is None


def test_the_autosaved_draft_never_reaches_the_note(client, people, protocols, dosing):
    """The JSON autosave keeps the typing on the server; it never writes the note, so it opens no door."""
    session = held_session(dosing, people.lead, protocols)
    login(client, people.lead)
    response = client.post(f"/patients/{dosing.id}/drafts/note-{session.id}", data=dosing_note(dose_amount="900"))
    assert response.status_code == 200
    assert db.session.scalar(select(SessionNote).where(SessionNote.session_id == session.id)) is None


# --- Signing ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("breaker", BREAKERS)
def test_a_dosing_note_is_not_signed_past_an_unmet_condition(client, people, protocols, dosing, breaker):
    session = complete_dosing(dosing, people.lead, protocols, sign=False)
    db.session.commit()
    message = breaker(dosing, people, protocols)
    login(client, people.lead)
    page = client.get(session_url(dosing, session)).text
    assert message in page  # the page lists it beside the signature before anyone tries
    response = client.post(session_url(dosing, session, "/sign"), data={"password": PASSWORD})
    assert response.status_code == 409 and message in response.text
    db.session.expire_all()
    assert db.session.scalar(select(SessionNote.signed_at).where(SessionNote.session_id == session.id)) is None


# --- The move to dosing -------------------------------------------------------------------------------------------


@pytest.fixture
def cleared(people, protocols) -> Patient:
    clear_for_dosing(people.patient, people.lead, protocols)
    db.session.commit()
    return people.patient


@pytest.mark.parametrize("breaker", BREAKERS)
def test_the_move_to_dosing_is_refused_on_the_page_the_command_line_and_in_a_script(
    app, client, people, protocols, cleared, breaker
):
    message = breaker(cleared, people, protocols)
    login(client, people.lead)
    page = client.post(f"/patients/{cleared.id}/phase", data={"target": "dosing"})
    assert page.status_code == 409 and message in page.text
    result = app.test_cli_runner().invoke(
        args=["patients", "move", cleared.record_number, "dosing", "--as", people.lead.username]
    )
    assert result.exit_code == 1 and message in result.output and "stays in preparation" in result.output
    with pytest.raises(TransitionError, match=re.escape(message)):
        workflow.move(db.session, cleared, Phase.DOSING, people.lead, protocols["mdma-ptsd"])
    db.session.expire_all()
    assert db.session.get(Patient, cleared.id).phase is Phase.PREPARATION


def test_the_command_line_moves_a_cleared_patient_and_audits_it(app, people, protocols, cleared):
    result = app.test_cli_runner().invoke(
        args=["patients", "move", cleared.record_number, "dosing", "--as", people.lead.username]
    )
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert db.session.get(Patient, cleared.id).phase is Phase.DOSING


def test_the_command_line_acts_only_within_the_users_care(app, people, cleared):
    result = app.test_cli_runner().invoke(
        args=["patients", "move", cleared.record_number, "dosing", "--as", people.other_therapist.username]
    )
    assert result.exit_code == 1 and "may not see patient" in result.output
    gate = app.test_cli_runner().invoke(args=["patients", "gate", cleared.record_number, "--as", people.admin.username])
    assert gate.exit_code == 1 and "No active clinician account" in gate.output


def test_the_gate_command_lists_every_condition(app, people, protocols, cleared):
    maoi_stopped_lately(cleared, people, protocols)
    result = app.test_cli_runner().invoke(
        args=["patients", "gate", cleared.record_number, "--as", "" + people.lead.username]
    )
    assert result.exit_code == 1
    assert "[unmet] Every medication to taper stopped, its washout over, by the session's day." in result.output
    assert "[met] The screening was complete, signed off and eligible at the time." in result.output


def test_a_later_dose_is_judged_at_its_own_time(client, people, protocols):
    """The gate that let a patient into dosing is asked again at each session: a ketamine infusion a day after
    an MAOI was stopped is refused though the move happened before the MAOI was ever taken."""
    patient = make_patient(people.lead, protocols=protocols, protocol_code="ketamine-iv-trd")
    in_dosing(patient, people.lead, protocols)
    maoi_stopped_lately(patient, people, protocols)
    login(client, people.lead)
    response = _quick(client, patient)
    assert response.status_code == 422 and WASHOUT in response.text and "14 days without it" in response.text
    assert STARTED  # the shared session data's start, unused here
