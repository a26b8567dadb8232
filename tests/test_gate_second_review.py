"""The second outside review of the dosing gate, over HTTP: each way it found past a rule, now refused at its door.

1. A dose typed as given before a high-risk alert that is open now, entered after it (a back-dated session).
2. A medication's start moved later, out of the days of a dose (an MAOI hidden from the washout).
3. An alert closed with a word repeated ("ok ok ok ok").
4. A decision to dose above the blood-pressure threshold written as a mark.
5. An SpO2 or a temperature past its critical limit in a protocol that does not monitor that sign.
6. A required laboratory result far out of its range (the alcohol protocol's ALT).
"""

from __future__ import annotations

from datetime import timedelta

import time_machine
from sqlalchemy import select

from tests.conftest import login
from tests.session_data import ago, dosing_note, held_session, in_dosing, session_url, vitals_form
from tracker.extensions import db
from tracker.factories import clinic_day, make_patient, record_measure
from tracker.gate import Door, check
from tracker.labs.services import LabInput
from tracker.labs.services import record_result as record_lab
from tracker.models import Medication, SafetyAlert, SessionNote
from tracker.models.base import utcnow
from tracker.protocols.schema import GENERAL_CRITICAL_LIMITS
from tracker.screening.services import MedicationInput, add_medication

CSSRS_HIGH = ["yes", "yes", "no", "yes", "no", "no"]


def test_a_dose_dated_before_an_open_alert_is_refused_when_entered_after_it(client, people, protocols):
    patient = in_dosing(people.patient, people.lead, protocols)
    session = held_session(patient, people.lead, protocols, started_minutes_ago=300)  # dose at 290 minutes ago
    record_measure(patient, people.lead, "cssrs", CSSRS_HIGH)  # raised now: after the time the dose will carry
    db.session.commit()
    alert = db.session.scalar(select(SafetyAlert).where(SafetyAlert.patient_id == patient.id))
    assert alert is not None and alert.high_risk and alert.raised_at > ago(290)
    login(client, people.lead)
    response = client.post(
        session_url(patient, session, "/note"), data=dosing_note(started_minutes_ago=300, discharged_at="")
    )
    assert response.status_code == 422
    assert f"A high-risk safety alert is open now (#{alert.id}," in response.text
    assert "after the time entered for this dose" in response.text
    assert db.session.scalar(select(SessionNote).where(SessionNote.session_id == session.id)) is None


def test_a_medication_start_cannot_move_later_than_a_dosing_session_it_covered(client, people, protocols):
    patient = in_dosing(people.patient, people.lead, protocols)
    # Dosed yesterday, five minutes after the move to dosing (a day ago): yesterday on the clinic's (UTC) calendar.
    held_session(patient, people.lead, protocols, started_minutes_ago=24 * 60 - 5, duration=60)
    day = clinic_day(people.patient)
    row = add_medication(
        people.lead,
        people.patient,
        MedicationInput(
            name="Phenelzine",
            drug_class="maoi",
            dose="15 mg",
            started_on=day - timedelta(days=30),
            stopped_on=None,
            taper_plan=None,
            taper_end_on=None,
        ),
        day,
    )
    db.session.commit()
    login(client, people.lead)
    url = f"/patients/{people.patient.id}/medications/{row.id}/edit"
    later = {
        "name": "Phenelzine",
        "drug_class": "maoi",
        "dose": "15 mg",
        "started_on": day.isoformat(),
        "stopped_on": "",
        "taper_plan": "",
        "taper_end_on": "",
    }
    response = client.post(url, data=later)
    assert response.status_code == 422
    assert "would take it out of the checks of the dosing session of" in response.text
    db.session.expire_all()
    assert db.session.get(Medication, row.id).started_on == day - timedelta(days=30)
    earlier = {**later, "started_on": (day - timedelta(days=40)).isoformat()}
    assert client.post(url, data=earlier).status_code == 302


def test_an_sp_o2_past_its_critical_limit_alerts_in_a_protocol_that_does_not_monitor_it(client, people, protocols):
    patient = make_patient(
        people.lead, people.co_therapist, protocols=protocols, protocol_code="psilocybin-mdd", record_number="SPO-1"
    )
    assert "spo2" not in protocols["psilocybin-mdd"].monitored_signs
    in_dosing(patient, people.lead, protocols)
    session = held_session(patient, people.lead, protocols)
    login(client, people.lead)
    response = client.post(
        session_url(patient, session, "/vitals"),
        data=vitals_form(30, systolic="120", diastolic="80", heart_rate="80", spo2="75", temperature="41.5"),
    )
    assert response.status_code == 302
    alert = db.session.scalar(select(SafetyAlert).where(SafetyAlert.patient_id == patient.id))
    assert alert is not None and "SpO2" in alert.summary and "emperature" in alert.summary
    assert {limit.sign for limit in GENERAL_CRITICAL_LIMITS} == {
        "systolic",
        "diastolic",
        "heart_rate",
        "spo2",
        "temperature",
    }


def test_an_alt_far_above_its_range_holds_the_alcohol_protocols_dose(people, protocols):
    protocol = protocols["psilocybin-aud"]
    patient = make_patient(
        people.lead, people.co_therapist, protocols=protocols, protocol_code="psilocybin-aud", record_number="ALT-1"
    )
    in_dosing(patient, people.lead, protocols)
    db.session.commit()
    now = utcnow()
    unmet = [
        u for u in check(db.session, patient, protocol, Door.MOVE_TO_DOSING, now=now) if u.condition == "required_labs"
    ]
    assert unmet == []  # the factories record an ALT in range
    with time_machine.travel(now + timedelta(minutes=1), tick=False):
        record_lab(people.lead, patient, LabInput("alt", 4800, "U/L", clinic_day(patient)), clinic_day(patient))
    db.session.commit()
    later = now + timedelta(minutes=2)
    unmet = [
        u.message
        for u in check(db.session, patient, protocol, Door.MOVE_TO_DOSING, now=later)
        if u.condition == "required_labs"
    ]
    assert len(unmet) == 1 and "is higher than its reference range" in unmet[0]
