"""A high-risk safety alert holds the next dose, at every door (tests/test_gate_doors.py's style): the move to dosing
on the page, the command line (``flask patients move``, ``flask patients gate``) and in a script, recording a held
dosing session (full form, quick form), and saving the dose; signing the note that records a dose already given is
not held. One test per holding source (C-SSRS high risk, a suicide-plan answer on the QIDS-SR16 and the MADRS, a
serious adverse event, an escalated risk check) refuses the next dose, naming the alert; a supervisor's
acknowledgement opens the door again. The condition itself is unit-tested in test_gate.py."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from tests.conftest import PASSWORD, login
from tests.session_data import (
    STARTED,
    adverse_event_form,
    ago,
    dosing_note,
    held_session,
    in_dosing,
    session_url,
    stamp,
)
from tracker import gate, workflow
from tracker.alerts.acknowledge import acknowledge
from tracker.extensions import db
from tracker.factories import (
    clear_for_dosing,
    complete_dosing,
    complete_integration,
    record_measure,
    renew_pre_dosing,
)
from tracker.models import Patient, Phase, SafetyAlert, SessionKind, SessionNote, TherapySession
from tracker.models.base import utcnow
from tracker.workflow import TransitionError

HELD = "A high-risk safety alert is open (#"
CSSRS_HIGH = ["yes", "yes", "no", "yes", "no", "no"]


def open_alert(patient: Patient) -> SafetyAlert:
    found = db.session.scalar(
        select(SafetyAlert)
        .where(SafetyAlert.patient_id == patient.id, SafetyAlert.acknowledged_at.is_(None))
        .execution_options(populate_existing=True)
    )
    assert found is not None and found.high_risk
    return found


def close(people, patient: Patient) -> None:
    acknowledge(
        people.supervisor,
        patient,
        open_alert(patient),
        ["patient_contacted", "safety_plan_reviewed"],
        "Saw the patient today with the lead therapist; safety plan in place.",
        utcnow(),
    )
    db.session.commit()


def dosing_sessions(patient: Patient) -> int:
    db.session.expire_all()
    return (
        db.session.scalar(
            select(func.count()).where(
                TherapySession.patient_id == patient.id,
                TherapySession.kind == SessionKind.DOSING,
                TherapySession.held_at.is_not(None),
            )
        )
        or 0
    )


def team(patient: Patient) -> list[str]:
    return [str(m.user_id) for m in patient.care_team]


@pytest.fixture
def cleared(people, protocols) -> Patient:
    clear_for_dosing(people.patient, people.lead, protocols)
    db.session.commit()
    return people.patient


# --- The move to dosing: page, command line, script ---------------------------------------------------------------


def test_an_open_high_risk_alert_refuses_the_move_on_the_page_the_command_line_and_in_a_script(
    app, client, people, protocols, cleared
):
    record_measure(cleared, people.lead, "cssrs", CSSRS_HIGH)
    db.session.commit()
    alert = open_alert(cleared)
    named = f"{HELD}{alert.id}, urgent measure answer"
    login(client, people.lead)
    page = client.post(f"/patients/{cleared.id}/phase", data={"target": "dosing"})
    assert page.status_code == 409 and named in page.text and "C-SSRS screener: high risk" in page.text
    result = app.test_cli_runner().invoke(
        args=["patients", "move", cleared.record_number, "dosing", "--as", people.lead.username]
    )
    assert result.exit_code == 1 and named in result.output and "stays in preparation" in result.output
    listed = app.test_cli_runner().invoke(
        args=["patients", "gate", cleared.record_number, "--as", people.lead.username]
    )
    assert listed.exit_code == 1 and "[unmet] No high-risk safety alert open" in listed.output
    with pytest.raises(TransitionError, match=re.escape(named)):
        workflow.move(db.session, cleared, Phase.DOSING, people.lead, protocols["mdma-ptsd"])
    db.session.rollback()
    db.session.expire_all()
    assert db.session.get(Patient, cleared.id).phase is Phase.PREPARATION
    close(people, cleared)
    assert client.post(f"/patients/{cleared.id}/phase", data={"target": "dosing"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Patient, cleared.id).phase is Phase.DOSING


def test_an_urgent_alert_that_is_not_high_risk_does_not_hold_the_dose(client, people, protocols, cleared):
    """PHQ-9 item 9 above 0 is urgent (e-mailed, on every page) but names no plan: the move goes ahead."""
    record_measure(cleared, people.lead, "phq9", [1] * 8 + [2])
    db.session.commit()
    login(client, people.lead)
    assert client.post(f"/patients/{cleared.id}/phase", data={"target": "dosing"}).status_code == 302


# --- Each holding source refuses the next dose ----------------------------------------------------------------------


def _measure(code: str, answers: list) -> object:
    def raise_it(client, people, patient, protocols) -> None:
        record_measure(patient, people.lead, code, answers)
        db.session.commit()

    return raise_it


def _serious_event(client, people, patient, protocols) -> None:
    """Through the page, on the dosing note of the session just held (before it is signed)."""
    session = db.session.scalar(
        select(TherapySession).where(TherapySession.patient_id == patient.id, TherapySession.kind == SessionKind.DOSING)
    )
    response = client.post(
        session_url(patient, session, "/adverse-events"),
        data=adverse_event_form(
            serious="yes",
            severity="severe",
            description="Chest pain; transferred to the emergency department",
            onset_at=stamp(ago(60)),
        ),
    )
    assert response.status_code == 302


def _escalated_risk_check(client, people, patient, protocols) -> None:
    """Through the page: an integration note whose risk check says the concern was escalated."""
    session = held_session(
        patient, people.lead, protocols, SessionKind.INTEGRATION, started_minutes_ago=90, duration=60
    )
    response = client.post(
        session_url(patient, session, "/note"),
        data={
            "version_id": "",
            "themes": "Hopelessness since the session",
            "risk_notes": "Plan disclosed; crisis team called",
            "risk_check": "concern_escalated",
            "body": "",
        },
    )
    assert response.status_code == 302
    assert client.post(session_url(patient, session, "/sign"), data={"password": PASSWORD}).status_code == 302


HOLDING = {
    "C-SSRS high risk": _measure("cssrs", CSSRS_HIGH),
    "QIDS-SR16 item 12 at 3": _measure("qids_sr16", [0] * 11 + [3] + [0] * 4),
    "MADRS item 10 at 6": _measure("madrs", [2] * 9 + [6]),
    "serious adverse event": _serious_event,
    "escalated risk check": _escalated_risk_check,
}


@pytest.mark.parametrize("source", list(HOLDING))
def test_each_holding_alert_refuses_the_next_dose(client, people, protocols, source):
    """Dosing 1 held (its note left a draft), the alert raised, the note signed anyway (signing is not held), the
    integration done: the move to dosing 2 is refused naming the alert, until a supervisor closes it."""
    patient = in_dosing(people.patient, people.lead, protocols)
    session = complete_dosing(patient, people.lead, protocols, sign=False)
    db.session.commit()
    login(client, people.lead)
    if source == "serious adverse event":
        HOLDING[source](client, people, patient, protocols)
    assert client.post(session_url(patient, session, "/sign"), data={"password": PASSWORD}).status_code == 302
    assert client.post(f"/patients/{patient.id}/phase", data={"target": "integration"}).status_code == 302
    if source != "serious adverse event":
        HOLDING[source](client, people, patient, protocols)
    alert = open_alert(patient)
    complete_integration(patient, people.lead, protocols, before=utcnow())
    renew_pre_dosing(patient, people.lead, protocols[patient.protocol_code], utcnow() - timedelta(hours=1))
    db.session.commit()
    response = client.post(f"/patients/{patient.id}/phase", data={"target": "dosing"})
    assert response.status_code == 409 and f"{HELD}{alert.id}," in response.text
    assert alert.summary.split(":")[0] in response.text
    close(people, patient)
    assert client.post(f"/patients/{patient.id}/phase", data={"target": "dosing"}).status_code == 302


# --- Recording a held dosing session, saving the dose, signing ---------------------------------------------------


@pytest.fixture
def dosing(people, protocols) -> Patient:
    return in_dosing(people.patient, people.lead, protocols)


def _alert_at(people, patient: Patient, minutes_ago: int) -> SafetyAlert:
    """A C-SSRS high risk result entered ``minutes_ago`` (the gate judges a session at its own time)."""
    with time_machine.travel(ago(minutes_ago), tick=False):
        record_measure(patient, people.lead, "cssrs", CSSRS_HIGH)
    db.session.commit()
    return open_alert(patient)


@pytest.mark.parametrize("door", ["full form", "quick form"])
def test_a_dosing_session_held_while_the_alert_was_open_is_refused(client, people, protocols, dosing, door):
    alert = _alert_at(people, dosing, 300)
    login(client, people.lead)
    if door == "full form":
        response = client.post(
            f"/patients/{dosing.id}/sessions/new",
            data={
                "kind": "dosing",
                "cycle": "1",
                "scheduled_at": "",
                "scheduled_minutes": "",
                "held_at": stamp(ago(180)),
                "duration_minutes": "150",
                "location": "Room 1",
                "present_ids": team(dosing),
            },
        )
    else:
        response = client.post(
            f"/patients/{dosing.id}/sessions",
            data={"kind": "dosing", "held_at": stamp(ago(180)), "duration_minutes": "150"},
        )
    assert response.status_code == 422 and f"{HELD}{alert.id}," in response.text
    assert dosing_sessions(dosing) == 0


def test_a_session_held_before_the_alert_was_raised_is_recorded(client, people, protocols, dosing):
    """Documenting a session that took place before anyone knew is not refused: the gate judges its time."""
    _alert_at(people, dosing, 60)
    login(client, people.lead)
    response = client.post(
        f"/patients/{dosing.id}/sessions/new",
        data={
            "kind": "dosing",
            "cycle": "1",
            "scheduled_at": "",
            "scheduled_minutes": "",
            "held_at": stamp(ago(400)),
            "duration_minutes": "150",
            "location": "Room 1",
            "present_ids": team(dosing),
        },
    )
    assert response.status_code == 302 and dosing_sessions(dosing) == 1


def test_the_dose_is_not_saved_when_the_alert_came_before_it(client, people, protocols, dosing):
    """Raised during the session, before the dose: refused; the narrative alone is still saved."""
    session = held_session(dosing, people.lead, protocols)  # started STARTED minutes ago, dose 10 minutes later
    alert = _alert_at(people, dosing, STARTED - 5)
    login(client, people.lead)
    response = client.post(session_url(dosing, session, "/note"), data=dosing_note())
    assert response.status_code == 422 and f"{HELD}{alert.id}," in response.text
    assert db.session.scalar(select(SessionNote).where(SessionNote.session_id == session.id)) is None
    narrative = {"version_id": "", "body": "Dose withheld: C-SSRS high risk at check-in; supervisor called."}
    assert client.post(session_url(dosing, session, "/note"), data=narrative).status_code == 302


def test_signing_records_the_dose_given_and_the_serious_event_it_raised(client, people, protocols, dosing):
    """The serious adverse event of this session raises a high-risk alert after the dose: the dose, the session and
    the signature stand (the next dose is what it holds: test_each_holding_alert_refuses_the_next_dose)."""
    session = complete_dosing(dosing, people.lead, protocols, sign=False)
    db.session.commit()
    login(client, people.lead)
    _serious_event(client, people, dosing, protocols)
    alert = open_alert(dosing)
    assert alert.session_id == session.id
    unmet = gate.check(db.session, dosing, protocols["mdma-ptsd"], gate.Door.MOVE_TO_DOSING, now=utcnow())
    assert [u.condition for u in unmet if u.condition == "no_open_high_risk_alert"] == ["no_open_high_risk_alert"]
    assert client.post(session_url(dosing, session, "/sign"), data={"password": PASSWORD}).status_code == 302
    db.session.expire_all()
    assert db.session.scalar(select(SessionNote.signed_at).where(SessionNote.session_id == session.id)) is not None
