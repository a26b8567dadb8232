"""What the FHIR export says, resource by resource, where the R4B definitions decide: an unsigned note's content
stays in (its safety signal leaves as a Flag), safety alerts as Flags, a correction keeping its result's ids, ids
that reveal no database id, and the elements each fact belongs in."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from tests.conftest import login
from tests.fhir_data import full_course
from tracker.extensions import db
from tracker.factories import clear_for_dosing, complete_dosing, record_measure, walk_to
from tracker.fhir.bundle import model_class
from tracker.fhir.resources import resource_id
from tracker.models import (
    AdministrationMode,
    MeasureResult,
    Outcome,
    Phase,
    SafetyAlert,
    SessionNote,
    Severity,
    TherapySession,
)
from tracker.models.base import utcnow
from tracker.notes import saving
from tracker.outcomes.services import ResultInput, correct_result, record_result
from tracker.sessions import queries


def bundle_of(client, patient) -> list[dict[str, Any]]:
    response = client.get(f"/patients/{patient.id}/fhir")
    assert response.status_code == 200, response.text
    resources = [entry["resource"] for entry in json.loads(response.text)["entry"]]
    for resource in resources:
        model_class(resource["resourceType"]).model_validate(resource)
    return resources


def of_type(resources, kind: str) -> list[dict[str, Any]]:
    return [r for r in resources if r["resourceType"] == kind]


def test_an_unsigned_dosing_note_leaves_nothing_but_its_serious_adverse_event_leaves_as_a_flag(
    client, people, protocols
):
    patient, lead = people.patient, people.lead
    start = utcnow() - timedelta(days=1)
    clear_for_dosing(patient, lead, protocols, at=start - timedelta(days=3))
    walk_to(patient, Phase.DOSING, lead, protocols, at=start)
    dosing = complete_dosing(
        patient, lead, protocols, sign=False, out_of_range=True, held_at=start + timedelta(hours=1)
    )
    note = queries.load_note(db.session, dosing)  # with its adverse events: whatever the session still keeps
    saving.add_adverse_event(
        lead,
        patient,
        dosing,
        note,
        saving.AdverseEventInput(
            "Chest pain, taken to the emergency department",
            start + timedelta(hours=2),
            Severity.SEVERE,
            True,
            "Ambulance called",
            Outcome.RECOVERING,
            None,
            None,
            None,
        ),
        utcnow(),
    )
    db.session.commit()
    assert db.session.scalar(select(SessionNote.signed_at).where(SessionNote.session_id == dosing.id)) is None
    login(client, lead)
    resources = bundle_of(client, patient)
    assert not of_type(resources, "MedicationAdministration") and not of_type(resources, "AdverseEvent")
    assert not [o for o in of_type(resources, "Observation") if o["category"][0]["coding"][0]["code"] == "vital-signs"]
    encounter = f"urn:uuid:{resource_id(people.clinic.id, 'session', dosing.id)}"
    assert encounter in {f"urn:uuid:{e['id']}" for e in of_type(resources, "Encounter")}  # the session was held
    signed = [t["reference"] for p in of_type(resources, "Provenance") for t in p["target"]]
    assert encounter not in signed
    [flag] = of_type(resources, "Flag")  # the serious adverse event's alert, open
    assert flag["status"] == "active" and flag["encounter"]["reference"] == encounter
    assert flag["code"]["coding"][0]["code"] == "adverse_event"
    assert "high risk" in flag["code"]["text"] and "Chest pain" in flag["code"]["text"]


def test_a_signed_dosing_notes_dose_and_adverse_events_leave_with_its_provenance(client, people, protocols):
    patient, lead = people.patient, people.lead
    start = utcnow() - timedelta(days=1)
    clear_for_dosing(patient, lead, protocols, at=start - timedelta(days=3))
    walk_to(patient, Phase.DOSING, lead, protocols, at=start)
    dosing = complete_dosing(patient, lead, protocols, held_at=start + timedelta(hours=1))
    db.session.commit()
    login(client, lead)
    resources = bundle_of(client, patient)
    [dose] = of_type(resources, "MedicationAdministration")
    encounter = f"urn:uuid:{resource_id(people.clinic.id, 'session', dosing.id)}"
    signed = {t["reference"] for p in of_type(resources, "Provenance") for t in p["target"]}
    assert encounter in signed and f"urn:uuid:{dose['id']}" in signed and "meta" not in dose


def test_safety_alerts_are_flags_active_while_open(client, people):
    today = utcnow().date()
    result = record_result(
        people.lead,
        people.patient,
        ResultInput("phq9", [1, 1, 2, 1, 0, 1, 0, 0, 2], today, AdministrationMode.WITH_PATIENT),
        today,
    )
    db.session.commit()
    alert = db.session.scalars(select(SafetyAlert)).one()
    login(client, people.lead)
    resources = bundle_of(client, people.patient)
    [flag] = of_type(resources, "Flag")
    assert flag["status"] == "active" and flag["category"][0]["coding"][0]["code"] == "safety"
    assert flag["code"]["text"].startswith("Safety alert, urgent measure answer: PHQ-9 of")
    [score] = [o for o in of_type(resources, "Observation") if o["category"][0]["coding"][0]["code"] == "survey"]
    assert flag["extension"][0]["valueReference"]["reference"] == f"urn:uuid:{score['id']}"
    assert flag["id"] == resource_id(people.clinic.id, "alert", alert.id) and result.id
    acknowledged = client.post(
        f"/patients/{people.patient.id}/alerts/{alert.id}",
        data={
            "actions": ["patient_contacted"],
            "action_taken": "Called the patient; safety plan reviewed together.",
        },
    )
    assert acknowledged.status_code == 302
    [flag] = of_type(bundle_of(client, people.patient), "Flag")
    assert flag["status"] == "inactive" and "end" in flag["period"]
    assert "safety plan reviewed" in flag["extension"][-1]["valueString"]


def test_an_alert_from_a_corrected_result_points_at_the_corrections_observation(client, people):
    today = utcnow().date()
    first = record_result(
        people.lead,
        people.patient,
        ResultInput("phq9", [1, 1, 2, 1, 0, 1, 0, 0, 2], today, AdministrationMode.WITH_PATIENT),
        today,
    )
    db.session.commit()
    correct_result(
        people.lead,
        people.patient,
        first,
        ResultInput("phq9", [1, 1, 2, 1, 0, 1, 0, 1, 2], today, AdministrationMode.WITH_PATIENT),
        "Item 8 copied wrongly",
        today,
    )
    db.session.commit()
    login(client, people.lead)
    resources = bundle_of(client, people.patient)
    scores = [o for o in of_type(resources, "Observation") if o["category"][0]["coding"][0]["code"] == "survey"]
    [score] = scores
    assert score["status"] == "corrected"
    references = {f["extension"][0]["valueReference"]["reference"] for f in of_type(resources, "Flag")}
    assert references == {f"urn:uuid:{score['id']}"}


def test_a_corrected_result_keeps_its_observation_and_response_ids(client, people):
    first = record_measure(people.patient, people.lead, "gad7", on=utcnow().date())
    db.session.commit()
    login(client, people.lead)
    before = of_type(bundle_of(client, people.patient), "Observation")
    answers = [1, 1, 1, 1, 1, 1, 2]
    correct_result(
        people.lead,
        people.patient,
        first,
        ResultInput("gad7", answers, first.administered_on, AdministrationMode.WITH_PATIENT),
        "Item 7 copied wrongly",
        utcnow().date(),
    )
    db.session.commit()
    resources = bundle_of(client, people.patient)
    after = of_type(resources, "Observation")
    assert [o["id"] for o in after] == [o["id"] for o in before]
    assert after[0]["status"] == "corrected" and after[0]["valueInteger"] == 8
    [response] = of_type(resources, "QuestionnaireResponse")
    assert response["status"] == "amended"
    assert after[0]["derivedFrom"][0]["reference"] == f"urn:uuid:{response['id']}"


def test_ids_are_keyed_by_this_installation_and_stable_across_its_exports(app, client, people):
    login(client, people.lead)
    first, second = bundle_of(client, people.patient), bundle_of(client, people.patient)
    [patient] = of_type(first, "Patient")
    assert patient["id"] == of_type(second, "Patient")[0]["id"]
    namespace = uuid.UUID("6f1c7a52-3f0e-4d55-9a5e-1d2b8c0f4e71")  # the fixed namespace ids used to come from
    guesses = {str(uuid.uuid5(namespace, f"{people.clinic.id}/patient/{n}")) for n in range(1, 1000)}
    assert patient["id"] not in guesses
    with app.app_context():
        mine = resource_id(people.clinic.id, "patient", people.patient.id)
        key = app.config.get("FHIR_ID_KEY")
        app.config["FHIR_ID_KEY"] = "another installation's key"
        try:
            theirs = resource_id(people.clinic.id, "patient", people.patient.id)
        finally:
            app.config["FHIR_ID_KEY"] = key
    assert mine == patient["id"] and theirs != mine


def test_elements_hold_what_r4b_defines_them_for(client, people, protocols):
    full_course(people.patient, people.lead, people.supervisor, protocols)
    db.session.commit()
    login(client, people.lead)
    resources = bundle_of(client, people.patient)
    for statement in of_type(resources, "MedicationStatement"):  # category is where it is taken, not the class
        assert "category" not in statement and statement["note"][0]["text"].startswith("Drug class: ")
    dosings = [e for e in of_type(resources, "Encounter") if e["type"][0]["coding"][0]["code"] == "dosing"]
    assert [e["extension"][0]["valuePositiveInt"] for e in dosings] == [1, 2]
    assert all("serviceType" not in e for e in of_type(resources, "Encounter"))
    administered = {str(d) for d in db.session.scalars(select(MeasureResult.administered_on))}
    assert {r["authored"] for r in of_type(resources, "QuestionnaireResponse")} <= administered
    for questionnaire in of_type(resources, "Questionnaire"):
        description = questionnaire["description"]
        assert ".md" not in description and "before shipping" not in description.lower()  # no file of the code


def test_a_discontinued_course_is_finished_unless_it_never_started(client, people, protocols):
    from tracker import workflow

    login(client, people.lead)
    workflow.move(
        db.session,
        people.patient,
        Phase.DISCONTINUED,
        people.lead,
        protocols[people.patient.protocol_code],
        "Moved away before starting",
    )
    db.session.commit()
    [episode] = of_type(bundle_of(client, people.patient), "EpisodeOfCare")
    assert episode["status"] == "cancelled"
    held = db.session.scalar(select(TherapySession).where(TherapySession.patient_id == people.patient.id))
    assert held is None
    from tracker.factories import log_sessions
    from tracker.models import SessionKind

    log_sessions(people.patient, people.lead, SessionKind.PREPARATION, 1, days_ago=3)
    db.session.commit()
    [episode] = of_type(bundle_of(client, people.patient), "EpisodeOfCare")
    assert episode["status"] == "finished" and episode["statusHistory"][-1]["status"] == "finished"
