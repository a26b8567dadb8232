"""Builders shared by the session and note tests: a patient in dosing, a held dosing session, valid form data."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tracker.extensions import db
from tracker.factories import clear_for_dosing, walk_to
from tracker.models import Patient, Phase, SessionKind, TherapySession, User
from tracker.models.base import utcnow
from tracker.sessions.services import SessionInput, record_session

FORMAT = "%Y-%m-%dT%H:%M"


def ago(minutes: float) -> datetime:
    return (utcnow() - timedelta(minutes=minutes)).replace(second=0, microsecond=0)


def stamp(moment: datetime) -> str:
    return moment.strftime(FORMAT)


def minutes_ago(minutes: float) -> str:
    return stamp(ago(minutes))


def in_dosing(patient: Patient, actor: User, protocols: dict[str, Any]) -> Patient:
    clear_for_dosing(patient, actor, protocols)
    walk_to(patient, Phase.DOSING, actor, protocols)
    db.session.commit()
    return patient


#: How long ago the test's dosing session started: the MDMA protocol observes for 8 hours after the dose.
STARTED = 600


def held_session(
    patient: Patient,
    actor: User,
    protocols: dict[str, Any],
    kind: SessionKind = SessionKind.DOSING,
    started_minutes_ago: int = STARTED,
    duration: int = 540,
) -> TherapySession:
    """A session of ``kind`` held some hours ago (a dosing one needs the patient in dosing, ``in_dosing``, and has
    the whole care team present)."""
    present = tuple(m.user_id for m in patient.care_team) if kind is SessionKind.DOSING else (actor.id,)
    row = record_session(
        actor,
        patient,
        SessionInput(kind, ago(started_minutes_ago), duration, location="Room 1", present_ids=present),
        protocols[patient.protocol_code],
        utcnow(),
    )
    db.session.commit()
    return row


def session_url(patient: Patient, session: TherapySession, suffix: str = "") -> str:
    return f"/patients/{patient.id}/sessions/{session.id}{suffix}"


def dosing_note(started_minutes_ago: int = STARTED, **overrides: str) -> dict[str, str]:
    """A complete dosing note for a session that started ``started_minutes_ago`` (MDMA: 120 mg, the half dose 90
    minutes later, discharge 8 h 20 min after the supplemental dose)."""
    given = ago(started_minutes_ago - 10)
    data = {
        "substance": "MDMA",
        "dose_amount": "120",
        "dose_unit": "mg",
        "weight_kg": "70",
        "route": "oral",
        "lot_number": "LOT-A1",
        "dose_given_at": stamp(given),
        "supplemental_mg": "60",
        "supplemental_given_at": stamp(given + timedelta(minutes=90)),
        "distress_baseline": "5",
        "distress_at_discharge": "3",
        "escort_name": "Sam (partner), driving",
        "discharged_at": stamp(given + timedelta(minutes=580)),
        "body": "Steady session; processing in hour two.",
        "version_id": "",
    }
    data.update(overrides)
    return data


#: A full set of the MDMA protocol's monitored signs, within its limits.
FULL_SET = {"systolic": "124", "diastolic": "80", "heart_rate": "74", "temperature": "36.8"}


def vitals_form(minutes: float = 60, **values: str) -> dict[str, str]:
    data = {
        "taken_at": minutes_ago(minutes),
        "systolic": "",
        "diastolic": "",
        "heart_rate": "",
        "temperature": "",
        "spo2": "",
    }
    data.update(values)
    return data


def adverse_event_form(**overrides: str) -> dict[str, str]:
    data = {
        "description": "Nausea and brief vomiting",
        "onset_at": minutes_ago(200),
        "severity": "mild",
        "serious": "no",
        "action_taken": "Ginger tea; sat upright",
        "outcome": "recovered",
        "rescue_medication": "",
        "rescue_dose": "",
        "rescue_given_at": "",
    }
    data.update(overrides)
    return data
