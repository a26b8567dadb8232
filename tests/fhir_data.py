"""A full course of treatment for the export tests: screening, a medication, two dosing cycles (the first with an
out-of-range reading, an adverse event with rescue medication, and a co-signed note), integration sessions,
measure results (one corrected, one filled in by the patient through a link) and an integration plan."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from tests.reports_data import write_plan
from tracker.extensions import db
from tracker.factories import (
    PASSWORD,
    clear_for_dosing,
    complete_dosing,
    record_measure,
    sample_answers,
    walk_course,
    walk_to,
)
from tracker.models import (
    AdministrationMode,
    CosignOutcome,
    Outcome,
    Patient,
    Phase,
    SessionNote,
    Severity,
    TherapySession,
    User,
)
from tracker.models.base import utcnow
from tracker.notes import cosign, saving, signing
from tracker.outcomes.services import ResultInput, correct_result
from tracker.screening.services import MedicationInput, add_medication
from tracker.sessions import queries


def _note(dosing: TherapySession) -> SessionNote:
    note = db.session.scalar(
        select(SessionNote)
        .where(SessionNote.session_id == dosing.id)
        .options(selectinload(SessionNote.vitals), selectinload(SessionNote.adverse_events))
        .execution_options(populate_existing=True)
    )
    assert note is not None
    return note


def full_course(patient: Patient, lead: User, supervisor: User, protocols: dict[str, Any]) -> None:
    """The patient ends in integration after two dosing cycles."""
    protocol = protocols[patient.protocol_code]
    add_medication(
        lead,
        patient,
        MedicationInput(
            "Sertraline",
            "ssri",
            "50 mg daily",
            date(2025, 1, 10),
            utcnow().date() - timedelta(days=60),
            "Halve for two weeks, stop",
        ),
    )
    add_medication(lead, patient, MedicationInput("Melatonin", "other", "2 mg at night", date(2025, 6, 1)))
    start = utcnow() - timedelta(days=40)  # two dosing sessions four weeks apart, the second 12 days ago
    clear_for_dosing(patient, lead, protocols, at=start - timedelta(days=3))
    walk_to(patient, Phase.DOSING, lead, protocols, at=start)
    dosing = complete_dosing(
        patient, lead, protocols, sign=False, out_of_range=True, held_at=start + timedelta(hours=1)
    )
    now = utcnow()
    note = _note(dosing)
    onset = start + timedelta(hours=3)
    saving.add_adverse_event(
        lead,
        patient,
        dosing,
        note,
        saving.AdverseEventInput(
            "Nausea and one episode of vomiting",
            onset,
            Severity.MODERATE,
            False,
            "Ondansetron given; rested",
            Outcome.RECOVERED,
            "Ondansetron",
            "4 mg orally",
            onset + timedelta(minutes=10),
        ),
        now,
    )
    db.session.flush()
    note = _note(dosing)
    dosing = db.session.scalar(
        select(TherapySession)
        .where(TherapySession.id == dosing.id)
        .options(selectinload(TherapySession.present))
        .execution_options(populate_existing=True)
    )
    assert dosing is not None
    follow = signing.follow_up_ok(dosing, queries.follow_ups(db.session, dosing))
    lead.needs_cosign = True  # this note waits for the supervisor's co-signature
    signing.sign_note(lead, patient, dosing, note, protocol, PASSWORD, None, follow, start + timedelta(hours=12))
    lead.needs_cosign = False
    db.session.flush()
    note = db.session.scalar(
        select(SessionNote)
        .where(SessionNote.session_id == dosing.id)
        .options(selectinload(SessionNote.addenda), selectinload(SessionNote.cosign_decisions))
        .execution_options(populate_existing=True)
    )
    assert note is not None
    cosign.decide_cosign(
        supervisor, patient, note, lead, CosignOutcome.COSIGNED, None, None, utcnow(), password=PASSWORD
    )
    walk_course(
        patient,
        lead,
        protocols,
        [
            (Phase.INTEGRATION, start + timedelta(days=1), None),
            (Phase.DOSING, start + timedelta(days=28), None),
            (Phase.INTEGRATION, start + timedelta(days=29), None),
        ],
    )
    today = utcnow().date()
    first = record_measure(patient, lead, "phq9", on=today - timedelta(days=2), level=0.4)
    answers = sample_answers("phq9", 0.5)
    correct_result(
        lead,
        patient,
        first,
        ResultInput("phq9", answers, first.administered_on, AdministrationMode.WITH_PATIENT),
        "Item 3 copied wrongly",
        today,
    )
    record_measure(patient, lead, "cssrs", on=today)
    write_plan(patient, lead)
    db.session.flush()
