"""Safety alerts from every source besides a measure (tests/test_safety_alerts.py): a vital sign past the protocol's
critical limit during a dosing session, a serious adverse event, an integration risk check marked escalated. Each is
raised once, names its source and links to it, keeps why it was raised when its entry is taken out of a draft, and
is seen exactly as a measure alert is. Then: re-alert fatigue for the C-SSRS lifetime answer, and a high-risk alert
closed only by a supervisor above the care team."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import audit_actions, login
from tests.session_data import (
    adverse_event_form,
    held_session,
    in_dosing,
    minutes_ago,
    session_url,
    vitals_form,
)
from tracker.extensions import db
from tracker.factories import record_measure
from tracker.models import AlertSource, AuditEvent, SafetyAlert, SessionKind

BANNER = 'id="safety-alerts"'


def alerts(patient) -> list[SafetyAlert]:
    db.session.expire_all()
    return list(
        db.session.scalars(select(SafetyAlert).where(SafetyAlert.patient_id == patient.id).order_by(SafetyAlert.id))
    )


def alert_url(patient, alert: SafetyAlert) -> str:
    return f"/patients/{patient.id}/alerts/{alert.id}"


def done(text: str = "Reviewed with the medical lead the same hour; observed until stable.", *actions: str) -> dict:
    return {"actions": list(actions) or ["medical_review"], "action_taken": text}


@pytest.fixture
def dosing(people, protocols):
    in_dosing(people.patient, people.lead, protocols)
    return held_session(people.patient, people.lead, protocols)


# --- Vital signs past a critical limit ----------------------------------------------------------------------------


def test_a_reading_past_a_critical_limit_raises_one_alert_naming_the_reading(client, people, dosing):
    login(client, people.lead)
    response = client.post(
        session_url(people.patient, dosing, "/vitals"),
        data=vitals_form(60, systolic="196", diastolic="124", heart_rate="96"),
    )
    assert response.status_code == 302
    (alert,) = alerts(people.patient)
    assert (alert.source, alert.high_risk, alert.session_id, alert.result_id) == (
        AlertSource.VITAL_SIGN,
        False,
        dosing.id,
        None,
    )
    assert "Systolic BP 196 mmHg is above the protocol's critical limit of 180 mmHg" in alert.summary
    assert "Diastolic BP 124 mmHg is above the protocol's critical limit of 120 mmHg" in alert.summary
    assert "Heart rate" not in alert.summary  # 96 is within even the flagging limit
    raised = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "alert.raise")).one()
    assert raised.data == {
        "source": "vital_sign",
        "high_risk": False,
        "reading": alert.source_row_id,
        "signs": ["systolic", "diastolic"],
    }
    page = client.get(f"/patients/{people.patient.id}").text
    banner = page.split(BANNER, 1)[1]
    assert "Vital sign past the critical limit" in banner
    assert f'href="/patients/{people.patient.id}/sessions/{dosing.id}#vitals"' in banner


def test_a_reading_out_of_range_but_within_the_critical_limits_raises_none(client, people, dosing):
    login(client, people.lead)
    client.post(
        session_url(people.patient, dosing, "/vitals"),
        data=vitals_form(60, systolic="171", diastolic="104", heart_rate="112", temperature="38.4"),
    )
    assert alerts(people.patient) == []


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"heart_rate": "131"}, "Heart rate 131 bpm is above the protocol's critical limit of 130 bpm"),
        ({"heart_rate": "40"}, "Heart rate 40 bpm is below the protocol's critical limit of 41 bpm"),
        ({"temperature": "39.2"}, "Temperature 39.2 °C is above the protocol's critical limit of 39.0 °C"),
        ({"temperature": "35.0"}, "Temperature 35.0 °C is below the protocol's critical limit of 35.1 °C"),
    ],
)
def test_each_monitored_sign_has_its_critical_limit(client, people, dosing, values, words):
    login(client, people.lead)
    client.post(session_url(people.patient, dosing, "/vitals"), data=vitals_form(60, **values))
    (alert,) = alerts(people.patient)
    assert words in alert.summary


def test_a_reading_taken_out_of_the_draft_keeps_its_alert_until_acknowledged(client, people, dosing):
    """An entry error raised an alert and e-mailed people: the alert stays, saying what it was about, until someone
    acknowledges it as an entry error."""
    login(client, people.lead)
    client.post(session_url(people.patient, dosing, "/vitals"), data=vitals_form(60, systolic="240", diastolic="90"))
    (alert,) = alerts(people.patient)
    assert (
        client.post(
            session_url(people.patient, dosing, f"/vitals/{alert.source_row_id}/remove"), data={"confirm": "yes"}
        ).status_code
        == 302
    )
    page = client.get(alert_url(people.patient, alert)).text
    assert "Systolic BP 240 mmHg" in page and "It has since been taken out of the draft note" in page
    response = client.post(
        alert_url(people.patient, alert),
        data=done("Typed 240 for 140; the reading was removed and entered again.", "entry_error"),
    )
    assert response.status_code == 302 and not alerts(people.patient)[0].is_open


# --- Serious adverse events -------------------------------------------------------------------------------------


def test_a_serious_adverse_event_raises_a_high_risk_alert_and_a_minor_one_none(client, people, dosing):
    login(client, people.lead)
    client.post(session_url(people.patient, dosing, "/adverse-events"), data=adverse_event_form())
    assert alerts(people.patient) == []
    client.post(
        session_url(people.patient, dosing, "/adverse-events"),
        data=adverse_event_form(
            serious="yes",
            severity="severe",
            description="Syncope with a fall; head injury; ambulance called",
            onset_at=minutes_ago(120),
        ),
    )
    (alert,) = alerts(people.patient)
    assert (alert.source, alert.high_risk, alert.session_id) == (AlertSource.ADVERSE_EVENT, True, dosing.id)
    assert alert.summary.startswith("Serious adverse event (severe) in dosing session 1, onset ")
    assert "Syncope with a fall; head injury; ambulance called" in alert.summary
    page = client.get(alert_url(people.patient, alert)).text
    assert "High risk: holds the next dose" in page
    assert f'href="/patients/{people.patient.id}/sessions/{dosing.id}#adverse-events"' in page


# --- Integration risk checks ---------------------------------------------------------------------------------------


def integration_note(risk_check: str, version: str = "") -> dict[str, str]:
    return {
        "version_id": version,
        "themes": "Low mood since the session",
        "practices": "",
        "plan_updates": "",
        "risk_notes": "Asked directly about thoughts of suicide",
        "risk_check": risk_check,
        "body": "",
    }


def test_a_risk_check_marked_escalated_raises_one_high_risk_alert_per_note(client, people, protocols):
    session = held_session(
        people.patient, people.lead, protocols, SessionKind.INTEGRATION, started_minutes_ago=120, duration=60
    )
    login(client, people.lead)
    assert (
        client.post(session_url(people.patient, session, "/note"), data=integration_note("concern_plan")).status_code
        == 302
    )
    assert alerts(people.patient) == []  # a safety plan reviewed is a concern, not an escalation
    client.post(session_url(people.patient, session, "/note"), data=integration_note("concern_escalated", "1"))
    client.post(
        session_url(people.patient, session, "/note"),
        data={**integration_note("concern_escalated", "2"), "body": "Crisis team came at 4 pm."},
    )
    (alert,) = alerts(people.patient)
    assert (alert.source, alert.high_risk, alert.session_id) == (AlertSource.RISK_CHECK, True, session.id)
    assert "Concern identified; escalated (supervisor, crisis team or emergency services)" in alert.summary
    assert (
        f'href="/patients/{people.patient.id}/sessions/{session.id}#note"'
        in client.get(alert_url(people.patient, alert)).text
    )


# --- Seen exactly as a measure alert is -----------------------------------------------------------------------------


def test_every_source_is_hidden_from_people_outside_the_care_team(client, people, dosing):
    login(client, people.lead)
    client.post(
        session_url(people.patient, dosing, "/adverse-events"),
        data=adverse_event_form(
            serious="yes", severity="severe", description="Zzpatient fell", onset_at=minutes_ago(120)
        ),
    )
    (alert,) = alerts(people.patient)
    login(client, people.supervisor)
    assert "Zzpatient" in client.get("/alerts").text and "Serious adverse event" in client.get("/alerts").text
    for persona, status in (("other_therapist", 404), ("other_supervisor", 404), ("outsider", 404), ("admin", 403)):
        login(client, getattr(people, persona))
        for method in ("get", "post"):
            response = getattr(client, method)(alert_url(people.patient, alert), data=done())
            assert response.status_code == status and "Zzpatient" not in response.text
        assert "Zzpatient" not in client.get("/alerts").text
    assert alerts(people.patient)[0].is_open


# --- Re-alert fatigue: the C-SSRS lifetime answer --------------------------------------------------------------------


LIFETIME = ["no", "no", None, None, None, "lifetime"]


def test_a_lifetime_answer_already_alerted_on_does_not_alert_again_but_anything_new_or_worse_does(people):
    first = record_measure(people.patient, people.lead, "cssrs", LIFETIME)
    assert len(alerts(people.patient)) == 1
    retest = record_measure(people.patient, people.lead, "cssrs", LIFETIME)
    assert len(alerts(people.patient)) == 1
    assert retest.urgent_flags  # the result still says what it found
    skipped = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "alert.not_repeated")).one()
    assert skipped.target_id == str(retest.id)
    assert skipped.data == {"earlier_alert": alerts(people.patient)[0].id, "items": [6]}
    with_ideation = ["yes", "yes", "yes", "no", "no", "lifetime"]  # question 3: new, urgent by itself
    record_measure(people.patient, people.lead, "cssrs", with_ideation)
    recent = ["no", "no", None, None, None, "past_3_months"]  # behaviour within 3 months: worse
    record_measure(people.patient, people.lead, "cssrs", recent)
    found = alerts(people.patient)
    assert len(found) == 3 and found[0].result_id == first.id and found[2].high_risk


def test_the_lifetime_rule_is_per_patient(people, protocols):
    from tracker.factories import make_patient

    record_measure(people.patient, people.lead, "cssrs", LIFETIME)
    other = make_patient(people.lead, protocols=protocols)
    record_measure(other, people.lead, "cssrs", LIFETIME)
    assert len(alerts(people.patient)) == 1 and len(alerts(other)) == 1


# --- A high-risk alert is closed only by a supervisor --------------------------------------------------------------


@pytest.fixture
def high_risk(people) -> SafetyAlert:
    record_measure(people.patient, people.lead, "cssrs", ["yes", "yes", "no", "yes", "no", "no"])
    db.session.commit()
    (alert,) = alerts(people.patient)
    assert alert.high_risk
    return alert


@pytest.mark.parametrize("persona", ["lead", "co_therapist"])
def test_a_therapist_cannot_close_a_high_risk_alert(client, people, high_risk, persona):
    login(client, getattr(people, persona))
    page = client.get(alert_url(people.patient, high_risk)).text
    assert "closed by a supervisor of the care team (Sue Pervisor)" in page and 'name="action_taken"' not in page
    response = client.post(
        alert_url(people.patient, high_risk),
        data=done("Called the patient; says she is safe tonight.", "patient_contacted"),
    )
    assert response.status_code == 403 and "closed only by a supervisor" in response.text
    assert alerts(people.patient)[0].is_open
    assert audit_actions()[-1] == "alert.acknowledge_refused"


def test_the_supervisor_of_the_care_team_closes_it(client, people, high_risk):
    login(client, people.supervisor)
    response = client.post(
        alert_url(people.patient, high_risk),
        data=done(
            "Saw the patient with the lead; safety plan revised; next dose postponed two weeks.",
            "safety_plan_reviewed",
            "dose_postponed",
        ),
    )
    assert response.status_code == 302
    closed = alerts(people.patient)[0]
    assert (closed.acknowledged_by_id, closed.actions) == (
        people.supervisor.id,
        ["safety_plan_reviewed", "dose_postponed"],
    )


def test_a_supervisor_outside_the_chain_cannot_close_it_even_by_emergency_access(client, people, high_risk):
    login(client, people.other_supervisor)
    granted = client.post(
        "/emergency-access",
        data={
            "record_number": "CANARY-1",
            "password": "correct horse battery",
            "reason": "Crisis call from the patient; the team is away",
        },
    )
    assert granted.status_code == 302
    response = client.post(alert_url(people.patient, high_risk), data=done())
    assert response.status_code == 403 and alerts(people.patient)[0].is_open


def test_the_page_says_when_an_urgent_answer_raised_no_new_alert(client, people):
    from tracker.models.base import utcnow

    login(client, people.lead)
    form = {
        "administered_on": utcnow().date().isoformat(),
        "mode": "clinician_rated",
        "item_1": "no",
        "item_2": "no",
        "item_6": "lifetime",
    }
    first = client.post(f"/patients/{people.patient.id}/measures/cssrs/new", data=form)
    assert "A safety alert was raised" in client.get(first.location).text
    again = client.post(f"/patients/{people.patient.id}/measures/cssrs/new", data=form)
    page = client.get(again.location).text
    assert "Its urgent answer was alerted on before, so no new alert was raised" in page
