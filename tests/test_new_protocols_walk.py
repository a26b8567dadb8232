"""One patient of each new protocol walks through the dosing gate, unchanged, to a signed dosing note: enrolled for
the protocol's indication, screened and signed off, prepared, the baseline measures recorded (and, where the protocol
asks, the laboratory results), moved to dosing, dosed within the protocol's rule, discharged, and the note signed.
Then the protocol's own rules refuse what they should: a dose outside its rule, a missing laboratory result."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.conftest import Clinicians
from tracker import gate, workflow
from tracker.extensions import db
from tracker.factories import clear_for_dosing, complete_dosing, make_patient, walk_to
from tracker.models import Indication, Phase, SessionNote, TherapySession
from tracker.models.base import utcnow
from tracker.protocols import Protocol

NEW = ["psilocybin-cancer-hopkins", "psilocybin-cancer-nyu", "psilocybin-aud", "psilocybin-tobacco", "psilocybin-ocd"]


def enrol(people: Clinicians, protocols: dict[str, Protocol], code: str):
    return make_patient(
        people.lead, people.co_therapist, protocols=protocols, protocol_code=code, family_name=f"Walker-{code}"
    )


@pytest.mark.parametrize("code", NEW)
def test_a_patient_of_each_new_protocol_reaches_a_signed_dosing_note(people, protocols, code):
    patient = enrol(people, protocols, code)
    assert patient.indication in protocols[code].indications
    clear_for_dosing(patient, people.lead, protocols)
    walk_to(patient, Phase.DOSING, people.lead, protocols)
    session = complete_dosing(patient, people.lead, protocols)
    note = db.session.scalar(select(SessionNote).where(SessionNote.session_id == session.id))
    assert note is not None and note.is_signed
    rule = protocols[code].dose
    assert rule is not None and note.dose_unit is rule.unit and note.dose_amount in rule.allowed
    walk_to(patient, Phase.INTEGRATION, people.lead, protocols)
    assert patient.phase is Phase.INTEGRATION


@pytest.mark.parametrize("code", NEW)
def test_the_gate_refuses_a_dose_outside_the_new_protocol(people, protocols, code):
    patient = enrol(people, protocols, code)
    clear_for_dosing(patient, people.lead, protocols)
    walk_to(patient, Phase.DOSING, people.lead, protocols)
    session = complete_dosing(patient, people.lead, protocols, sign=False)
    rule = protocols[code].dose
    assert rule is not None
    unmet = gate.check(
        db.session,
        patient,
        protocols[code],
        gate.Door.DOSE,
        now=utcnow(),
        visit=gate.visit_of(session),
        administration=gate.Administration(
            substance="Psilocybin", dose_amount=rule.maximum * 2, dose_unit=rule.unit, weight_kg=70.0
        ),
    )
    assert [u.condition for u in unmet] == ["dose_within_protocol"]


def test_the_cancer_protocols_accept_only_cancer_related_distress(people, protocols):
    from tracker.patients.services import PatientError

    with pytest.raises(PatientError, match="is for: Anxiety and depression with life-threatening cancer"):
        make_patient_for(people, protocols, "psilocybin-cancer-hopkins", Indication.ANXIETY)


def make_patient_for(people: Clinicians, protocols: dict[str, Protocol], code: str, indication: Indication):
    from datetime import date

    from tracker.patients.services import CareTeam, PatientDetails, create_patient

    details = PatientDetails("Ann", "Other", date(1970, 1, 1), "MRN-X1", indication, code)
    return create_patient(people.lead, details, CareTeam(people.lead.id, (people.co_therapist.id,)), protocols)


def test_dosing_twice_follows_the_alcohol_protocols_spacing_and_second_dose(people, protocols):
    """Bogenschutz 2015: 0.3 mg/kg at week 4, up to 0.4 mg/kg at week 8 (28 days apart, a debriefing between)."""
    import time_machine

    code = "psilocybin-aud"
    patient = enrol(people, protocols, code)
    clear_for_dosing(patient, people.lead, protocols)
    walk_to(patient, Phase.DOSING, people.lead, protocols)
    complete_dosing(patient, people.lead, protocols)
    walk_to(patient, Phase.INTEGRATION, people.lead, protocols)
    with time_machine.travel(utcnow() + timedelta(days=29), tick=False):
        walk_to(patient, Phase.DOSING, people.lead, protocols)
        second = complete_dosing(patient, people.lead, protocols)
    note = db.session.scalar(select(SessionNote).where(SessionNote.session_id == second.id))
    assert note is not None and note.is_signed and note.dose_amount == 0.4
    held = db.session.scalars(
        select(TherapySession.cycle).where(TherapySession.patient_id == patient.id, TherapySession.kind == "dosing")
    )
    assert sorted(held) == [1, 2]
    assert workflow.dosing_sessions_started(db.session, patient) == 2
