"""A full course's record as a FHIR R4B Bundle, validated resource by resource with fhir.resources; who may have it."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle

from tests.conftest import audit_actions, login
from tests.fhir_data import full_course
from tracker.extensions import db
from tracker.fhir.bundle import model_class
from tracker.fhir.codes import codes
from tracker.instruments import instruments

EXPECTED_TYPES = {
    "Patient",
    "EpisodeOfCare",
    "Encounter",
    "Observation",
    "QuestionnaireResponse",
    "Questionnaire",
    "MedicationStatement",
    "MedicationAdministration",
    "AdverseEvent",
    "CarePlan",
    "Provenance",
    "Practitioner",
}


def _codings(node: Any) -> list[dict[str, Any]]:
    """Every Coding in a JSON tree (anything with a system and a code)."""
    found = []
    if isinstance(node, dict):
        if "system" in node and "code" in node:
            found.append(node)
        for value in node.values():
            found += _codings(value)
    elif isinstance(node, list):
        for value in node:
            found += _codings(value)
    return found


def known_loinc() -> set[str]:
    known = {c.code for c in codes().vital_signs.values()}
    for entry in codes().instruments.values():
        known |= {c.code for c in (entry.panel, entry.total) if c}
        known |= set(entry.items or ()) | set(entry.answers or ())
    return known


@pytest.fixture
def bundle(client, people, protocols) -> dict[str, Any]:
    full_course(people.patient, people.lead, people.supervisor, protocols)
    db.session.commit()
    login(client, people.lead)
    response = client.get(f"/patients/{people.patient.id}/fhir")
    assert response.status_code == 200
    assert response.mimetype == "application/fhir+json"
    document: dict[str, Any] = json.loads(response.text)
    return document


def test_it_exports_a_full_course_as_a_bundle_that_validates(bundle):
    parsed = Bundle.model_validate(bundle)
    assert parsed.type == "collection"
    for entry in bundle["entry"]:
        resource = entry["resource"]
        model_class(resource["resourceType"]).model_validate(resource)
        assert entry["fullUrl"] == f"urn:uuid:{resource['id']}"
    kinds = Counter(entry["resource"]["resourceType"] for entry in bundle["entry"])
    assert set(kinds) == EXPECTED_TYPES
    assert kinds["Patient"] == kinds["EpisodeOfCare"] == kinds["CarePlan"] == kinds["AdverseEvent"] == 1


def test_every_reference_points_into_the_bundle(bundle):
    urls = {entry["fullUrl"] for entry in bundle["entry"]}
    text = json.dumps(bundle)
    references = {part.split('"')[0] for part in text.split('"reference": "')[1:]}
    assert references and references <= urls


def test_it_uses_only_the_loinc_codes_of_the_data_file(bundle):
    loinc = [c["code"] for c in _codings(bundle) if c["system"] == "http://loinc.org"]
    assert set(loinc) <= known_loinc()
    assert {"44261-6", "85354-9", "8480-6", "8462-4", "8867-4", "8310-5", "2708-6", "59408-5", "29463-7"} <= set(loinc)


def test_vital_signs_carry_ucum_units_and_the_vital_signs_category(bundle):
    vitals = [
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Observation"
        and e["resource"]["category"][0]["coding"][0]["code"] == "vital-signs"
    ]
    assert vitals
    for observation in vitals:
        quantities = [observation.get("valueQuantity")] + [c["valueQuantity"] for c in observation.get("component", [])]
        for quantity in filter(None, quantities):
            assert quantity["system"] == "http://unitsofmeasure.org"
            assert quantity["code"] in {"mm[Hg]", "/min", "Cel", "%", "kg"}
    assert any(o.get("interpretation") for o in vitals), "the out-of-range reading is marked abnormal"


def test_scores_are_coded_and_corrections_replace_the_corrected_result(bundle):
    scores = [
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Observation"
        and e["resource"]["category"][0]["coding"][0]["code"] == "survey"
    ]
    phq9 = [s for s in scores if s["code"]["coding"][0]["code"] == "44261-6"]
    assert [s["status"] for s in phq9] == ["corrected"]
    cssrs = [s for s in scores if s["code"]["coding"][0]["system"] == "urn:care-tracker:instrument"]
    assert cssrs and "valueCodeableConcept" in cssrs[0]


def test_signed_notes_have_a_provenance_with_the_signature_and_the_cosignature(bundle):
    provenances = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Provenance"]
    cosigned = [p for p in provenances if len(p["signature"]) == 2]
    assert len(cosigned) == 1
    assert {a["type"]["coding"][0]["code"] for a in cosigned[0]["agent"]} == {"author", "verifier"}


def test_questionnaires_are_generated_from_every_instrument_file():
    from tracker.fhir.bundle import validated
    from tracker.fhir.resources import questionnaire_resource

    for instrument in instruments().values():
        resource = validated(questionnaire_resource(instrument, 1))
        items = [i for i in resource["item"] if i["type"] == "choice"]
        assert len(items) == len(instrument.items)
        entry = codes().instrument(instrument.code)
        system = resource["code"][0]["system"]
        if entry.panel is not None:
            assert (system, resource["code"][0]["code"]) == ("http://loinc.org", entry.panel.code)
        else:
            assert system == "urn:care-tracker:instrument" and instrument.code in codes().uncoded


def test_every_instrument_has_loinc_codes_or_says_why_not():
    for code, instrument in instruments().items():
        entry = codes().instrument(code)
        assert entry.panel is not None or code in codes().uncoded, code
        if entry.items is not None:
            assert len(entry.items) == len(instrument.items), code
        if entry.answers is not None:
            assert all(len(entry.answers) == len(i.scale.options) for i in instrument.items), code


def test_the_export_is_audited(bundle):
    assert audit_actions()[-1] == "fhir.export"


PERSONAS = {
    "lead": 200,
    "co_therapist": 200,
    "supervisor": 200,
    "other_therapist": 404,
    "other_supervisor": 404,
    "admin": 403,
    "outsider": 404,
}


@pytest.mark.parametrize("persona", list(PERSONAS))
def test_only_those_who_see_the_patient_get_the_bundle(client, people, persona):
    login(client, getattr(people, persona))
    response = client.get(f"/patients/{people.patient.id}/fhir")
    assert response.status_code == PERSONAS[persona]
    assert ("Zzpatient" in response.text) is (PERSONAS[persona] == 200)


def test_the_bundle_takes_the_same_number_of_queries_however_long_the_record(client, people, protocols):
    from tests.conftest import count_queries
    from tracker.factories import record_measure

    full_course(people.patient, people.lead, people.supervisor, protocols)
    db.session.commit()
    login(client, people.lead)
    with count_queries() as short:
        assert client.get(f"/patients/{people.patient.id}/fhir").status_code == 200
    for _ in range(5):
        record_measure(people.patient, people.lead, "gad7")
    db.session.commit()
    with count_queries() as longer:
        assert client.get(f"/patients/{people.patient.id}/fhir").status_code == 200
    assert len(longer) == len(short)
