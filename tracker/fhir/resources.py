"""One patient's record as FHIR R4B resources (plain JSON here; ``tracker.fhir.bundle`` validates each one).

Ids are stable and reveal nothing: a UUID made from an HMAC-SHA256, keyed with a secret of this installation
(``FHIR_ID_KEY``, else one derived from ``SECRET_KEY``), of the clinic, the kind of row and its id. Two exports of
the same installation give the same ids, but nobody without the key can recover a database id from one (a plain
name-based UUID over a namespace written in the source could be reversed by trying ids). A corrected result keeps
its first result's ids. References are made by a function the caller passes: ``urn:uuid:<id>`` inside a Bundle,
``<Type>/<id>`` in the bulk NDJSON files.

A note's vital signs, dose and adverse events leave once it is signed (``tracker.fhir.record``). Safety alerts are
Flags (``tracker.fhir.safety``): active while open, inactive once acknowledged.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from flask import current_app

from tracker import clinictime
from tracker.adverse_events import is_serious
from tracker.fhir.codes import LOCAL, Code, codes
from tracker.fhir.questionnaires import answer_coding, link_id, questionnaire, questionnaire_url
from tracker.fhir.record import PatientRecord
from tracker.fhir.safety import alert_flag
from tracker.instruments import Instrument, get_instrument
from tracker.models import (
    AdministrationMode,
    AdverseEvent,
    CosignOutcome,
    MeasureResult,
    Outcome,
    Phase,
    SessionNote,
    TherapySession,
    User,
    VitalReading,
)

JSON = dict[str, Any]
#: (resource type, id) -> the reference string.
Referencer = Callable[[str, str], str]

#: What the id key is derived from ``SECRET_KEY`` with, when ``FHIR_ID_KEY`` is not set.
ID_KEY_PURPOSE = b"care-tracker: FHIR resource ids"

TERMINOLOGY = "http://terminology.hl7.org/CodeSystem"
#: Phase -> EpisodeOfCare status (HL7 FHIR R4B, valueset-episode-of-care-status). A discontinued course is
#: "finished" (care was given and has ended), or "cancelled" if it never started (no session was held): see
#: ``episode_status``.
EPISODE_STATUS = {
    Phase.PREPARATION: "active",
    Phase.DOSING: "active",
    Phase.INTEGRATION: "active",
    Phase.ON_HOLD: "onhold",
    Phase.COMPLETED: "finished",
    Phase.DISCONTINUED: "finished",
}
#: Adverse event outcome (ICH E2B categories) -> FHIR R4B adverse-event-outcome.
AE_OUTCOME = {
    Outcome.RECOVERED: ("resolved", "Resolved"),
    Outcome.RECOVERING: ("recovering", "Recovering"),
    Outcome.NOT_RECOVERED: ("ongoing", "Ongoing"),
    Outcome.RECOVERED_WITH_SEQUELAE: ("resolvedWithSequelae", "Resolved with Sequelae"),
    Outcome.FATAL: ("fatal", "Fatal"),
    Outcome.UNKNOWN: ("unknown", "Unknown"),
}


def _id_key() -> bytes:
    configured = current_app.config.get("FHIR_ID_KEY")
    if configured:
        return str(configured).encode("utf-8")
    secret = str(current_app.config["SECRET_KEY"]).encode("utf-8")
    return hmac.new(secret, ID_KEY_PURPOSE, hashlib.sha256).digest()


def resource_id(clinic_id: int, kind: str, key: object) -> str:
    """The id of row ``key`` of ``kind`` in clinic ``clinic_id``: stable for this installation's key, opaque
    without it (a UUID of version 4's form made of the HMAC's first 16 bytes). Needs an app context."""
    digest = hmac.new(_id_key(), f"{clinic_id}/{kind}/{key}".encode(), hashlib.sha256).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def episode_status(phase: Phase, started: bool) -> str:
    """The EpisodeOfCare status of a course in ``phase``; ``started``: a session was held."""
    if phase is Phase.DISCONTINUED and not started:
        return "cancelled"
    return EPISODE_STATUS[phase]


def bundle_reference(resource_type: str, resource_id: str) -> str:
    return f"urn:uuid:{resource_id}"


def relative_reference(resource_type: str, resource_id: str) -> str:
    return f"{resource_type}/{resource_id}"


def instant(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _concept(system: str, code: str, display: str) -> JSON:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def _loinc(code: Code) -> JSON:
    return {"coding": [{"system": codes().loinc, "code": code.code, "display": code.display}], "text": code.display}


def _quantity(value: float, unit: str) -> JSON:
    return {"value": value, "unit": unit, "system": codes().ucum, "code": unit}


def questionnaire_resource(instrument: Instrument, clinic_id: int) -> JSON:
    return {**questionnaire(instrument), "id": resource_id(clinic_id, "questionnaire", instrument.code)}


class RecordResources:
    """Builds the resources of one ``PatientRecord``; ``staff`` holds every user the record refers to."""

    def __init__(self, record: PatientRecord, staff: dict[int, User], ref: Referencer) -> None:
        self.record, self.staff, self._ref = record, staff, ref
        self.clinic_id = record.patient.clinic_id
        self.patient_id = self.id("patient", record.patient.id)

    def id(self, kind: str, key: object) -> str:
        return resource_id(self.clinic_id, kind, key)

    def ref(self, resource_type: str, resource_id: str, display: str | None = None) -> JSON:
        reference: JSON = {"reference": self._ref(resource_type, resource_id)}
        if display:
            reference["display"] = display
        return reference

    def subject(self) -> JSON:
        return self.ref("Patient", self.patient_id)

    def practitioner(self, user_id: int) -> JSON:
        return self.ref("Practitioner", self.id("practitioner", user_id), self.staff[user_id].full_name)

    def encounter(self, held: TherapySession) -> JSON:
        return self.ref("Encounter", self.id("session", held.id))

    # The resources ----------------------------------------------------------------------------------------------

    def all(self) -> Iterator[JSON]:
        yield self.patient()
        yield self.episode_of_care()
        for held in self.record.sessions:
            yield self.encounter_resource(held)
            note = self.record.notes.get(held.id)
            if note is not None:
                yield from self.note_resources(held, note)
        for result in self.record.results:
            yield self.questionnaire_response(result)
            yield self.score_observation(result)
        for medication in self.record.medications:
            yield self.medication_statement(medication)
        if self.record.plan is not None:
            yield self.care_plan()
        for alert in self.record.alerts:
            yield alert_flag(self, alert)

    def patient(self) -> JSON:
        patient = self.record.patient
        resource: JSON = {
            "resourceType": "Patient",
            "id": self.patient_id,
            "identifier": [
                {
                    "use": "usual",
                    "type": _concept(f"{TERMINOLOGY}/v2-0203", "MR", "Medical record number"),
                    "system": f"{LOCAL}:clinic:{self.clinic_id}:record-number",
                    "value": patient.record_number,
                }
            ],
            "active": patient.phase.is_active or patient.phase is Phase.ON_HOLD,
            "name": [{"use": "official", "family": patient.family_name, "given": [patient.given_name]}],
            "birthDate": patient.date_of_birth.isoformat(),
            "managingOrganization": {"display": self.record.clinic.name},
        }
        telecom = [{"system": "phone", "value": patient.phone}] if patient.phone else []
        if patient.email:
            telecom.append({"system": "email", "value": patient.email})
        if telecom:
            resource["telecom"] = telecom
        if patient.support_contact_name:
            contact: JSON = {"name": {"text": patient.support_contact_name}}
            if patient.support_contact_relationship:
                contact["relationship"] = [{"text": patient.support_contact_relationship}]
            if patient.support_contact_phone:
                contact["telecom"] = [{"system": "phone", "value": patient.support_contact_phone}]
            resource["contact"] = [contact]
        return resource

    def episode_of_care(self) -> JSON:
        """The course of treatment under its protocol; each phase is a status period, named by an extension."""
        patient = self.record.patient
        moves = patient.transitions
        started = bool(self.record.sessions)
        history = []
        for index, move in enumerate(moves):
            period: JSON = {"start": instant(move.created_at)}
            if index + 1 < len(moves):
                period["end"] = instant(moves[index + 1].created_at)
            history.append(
                {
                    "extension": [{"url": f"{LOCAL}:fhir:phase", "valueCode": move.to_phase.value}],
                    "status": episode_status(move.to_phase, started),
                    "period": period,
                }
            )
        resource: JSON = {
            "resourceType": "EpisodeOfCare",
            "id": self.id("episode", patient.id),
            "status": episode_status(patient.phase, started),
            "statusHistory": history,
            "type": [
                _concept(f"{LOCAL}:protocol", patient.protocol_code, patient.protocol_code),
                _concept(f"{LOCAL}:indication", patient.indication.value, patient.indication.label),
            ],
            "patient": self.subject(),
            "managingOrganization": {"display": self.record.clinic.name},
            "period": {"start": instant(moves[0].created_at if moves else patient.created_at)},
        }
        if patient.phase in (Phase.COMPLETED, Phase.DISCONTINUED):
            resource["period"]["end"] = instant(patient.phase_changed_at)
        lead = patient.lead_therapist
        if lead is not None:
            resource["careManager"] = self.practitioner(lead.id)
        return resource

    def encounter_resource(self, held: TherapySession) -> JSON:
        assert held.held_at is not None
        period: JSON = {"start": instant(held.held_at)}
        if held.ended_at is not None:
            period["end"] = instant(held.ended_at)
        resource: JSON = {
            "resourceType": "Encounter",
            "id": self.id("session", held.id),
            "status": "finished",
            "class": {
                "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                "code": "AMB",
                "display": "ambulatory",
            },
            "type": [_concept(f"{LOCAL}:session-kind", held.kind.value, held.kind.label)],
            "subject": self.subject(),
            "episodeOfCare": [self.ref("EpisodeOfCare", self.id("episode", self.record.patient.id))],
            "period": period,
        }
        if held.present:
            resource["participant"] = [{"individual": self.practitioner(u.id)} for u in held.present]
        if held.cycle is not None:  # no element of R4B's Encounter holds a course's cycle number
            resource["extension"] = [{"url": f"{LOCAL}:fhir:dosing-cycle", "valuePositiveInt": held.cycle}]
        return resource

    def note_resources(self, held: TherapySession, note: SessionNote) -> Iterator[JSON]:
        """The signed note's vital signs, weight, doses and adverse events, and the Provenance of its signature."""
        derived: list[JSON] = []
        for reading in note.vitals:
            for observation in self.vital_observations(held, note, reading):
                derived.append(observation)
        weight = self.weight_observation(held, note)
        if weight is not None:
            derived.append(weight)
        doses = list(self.administrations(held, note))
        derived.extend(doses)
        dose_ref = self.ref("MedicationAdministration", doses[0]["id"]) if doses else None
        for event in note.adverse_events:
            derived.append(self.adverse_event(held, event, dose_ref))
        yield from derived
        yield self.provenance(held, note, derived)

    def _vital(self, held: TherapySession, note: SessionNote, key: str, when: datetime, code: Code) -> JSON:
        return {
            "resourceType": "Observation",
            "id": self.id("vital", key),
            "status": "final",
            "category": [_concept(f"{TERMINOLOGY}/observation-category", "vital-signs", "Vital Signs")],
            "code": _loinc(code),
            "subject": self.subject(),
            "encounter": self.encounter(held),
            "effectiveDateTime": instant(when),
            "performer": [self.practitioner(note.signed_by_id or note.author_id)],
        }

    def vital_observations(self, held: TherapySession, note: SessionNote, reading: VitalReading) -> Iterator[JSON]:
        signs = codes().vital_signs
        flags = reading.flags or {}
        abnormal = [_concept(f"{TERMINOLOGY}/v3-ObservationInterpretation", "A", "Abnormal")]

        def flagged(resource: JSON, *names: str) -> JSON:
            notes = [flags[n] for n in names if n in flags]
            if notes:
                resource["interpretation"] = abnormal
                resource["note"] = [{"text": text} for text in notes]
            return resource

        if reading.systolic is not None or reading.diastolic is not None:
            resource = self._vital(held, note, f"{reading.id}/bp", reading.taken_at, signs["blood_pressure"])
            resource["component"] = [
                {"code": _loinc(signs[name]), "valueQuantity": _quantity(value, signs[name].unit or "")}
                for name, value in (("systolic", reading.systolic), ("diastolic", reading.diastolic))
                if value is not None
            ]
            yield flagged(resource, "systolic", "diastolic")
        for name, value in (("heart_rate", reading.heart_rate), ("temperature", reading.temperature)):
            if value is not None:
                resource = self._vital(held, note, f"{reading.id}/{name}", reading.taken_at, signs[name])
                resource["valueQuantity"] = _quantity(value, signs[name].unit or "")
                yield flagged(resource, name)
        if reading.spo2 is not None:
            resource = self._vital(held, note, f"{reading.id}/spo2", reading.taken_at, signs["spo2"])
            oximetry = signs["spo2_pulse_oximetry"]
            resource["code"]["coding"].append(
                {"system": codes().loinc, "code": oximetry.code, "display": oximetry.display}
            )
            resource["valueQuantity"] = _quantity(reading.spo2, "%")
            yield flagged(resource, "spo2")

    def weight_observation(self, held: TherapySession, note: SessionNote) -> JSON | None:
        if note.weight_kg is None:
            return None
        assert held.held_at is not None
        resource = self._vital(
            held, note, f"note-{note.id}/weight", note.dose_given_at or held.held_at, codes().vital_signs["weight"]
        )
        resource["valueQuantity"] = _quantity(note.weight_kg, "kg")
        return resource

    def administrations(self, held: TherapySession, note: SessionNote) -> Iterator[JSON]:
        """The dose, a supplemental dose, and any rescue medication given for an adverse event."""
        performer = [{"actor": self.practitioner(note.signed_by_id or note.author_id)}]
        base: JSON = {
            "resourceType": "MedicationAdministration",
            "status": "completed",
            "subject": self.subject(),
            "context": self.encounter(held),
            "performer": performer,
        }
        if note.substance and note.dose_total_mg is not None and note.dose_given_at is not None:
            text = f"{note.dose_amount:g} {note.dose_unit.label if note.dose_unit else 'mg'}"
            if note.weight_kg is not None and note.dose_unit is not None and note.dose_unit.value == "mg_per_kg":
                text += f" x {note.weight_kg:g} kg = {note.dose_total_mg:g} mg"
            dosage: JSON = {"text": text, "dose": _quantity(note.dose_total_mg, "mg")}
            if note.route is not None:
                dosage["route"] = {"text": note.route.label}
            yield {
                **base,
                "id": self.id("dose", note.id),
                "medicationCodeableConcept": {"text": note.substance},
                "effectiveDateTime": instant(note.dose_given_at),
                "dosage": dosage,
            }
            if note.supplemental_mg is not None and note.supplemental_given_at is not None:
                yield {
                    **base,
                    "id": self.id("supplemental-dose", note.id),
                    "medicationCodeableConcept": {"text": note.substance},
                    "effectiveDateTime": instant(note.supplemental_given_at),
                    "dosage": {
                        "text": f"Supplemental dose {note.supplemental_mg:g} mg",
                        "dose": _quantity(note.supplemental_mg, "mg"),
                    },
                }
        for event in note.adverse_events:
            if event.rescue_medication and event.rescue_given_at is not None:
                yield {
                    **base,
                    "id": self.id("rescue", event.id),
                    "medicationCodeableConcept": {"text": event.rescue_medication},
                    "effectiveDateTime": instant(event.rescue_given_at),
                    "reasonReference": [self.ref("AdverseEvent", self.id("adverse-event", event.id))],
                    "dosage": {"text": event.rescue_dose or ""},
                }

    def adverse_event(self, held: TherapySession, event: AdverseEvent, dose: JSON | None) -> JSON:
        code, display = AE_OUTCOME[event.outcome]
        serious = ("Serious", "Serious") if is_serious(event) else ("Non-serious", "Non-serious")
        resource: JSON = {
            "resourceType": "AdverseEvent",
            "id": self.id("adverse-event", event.id),
            "actuality": "actual",
            "subject": self.subject(),
            "event": {"text": event.description},
            "encounter": self.encounter(held),
            "date": instant(event.onset_at),
            "recordedDate": instant(event.created_at),
            "seriousness": _concept(f"{TERMINOLOGY}/adverse-event-seriousness", *serious),
            "severity": _concept(f"{TERMINOLOGY}/adverse-event-severity", event.severity.value, event.severity.label),
            "outcome": _concept(f"{TERMINOLOGY}/adverse-event-outcome", code, display),
        }
        if dose is not None:
            resource["suspectEntity"] = [{"instance": dose}]
        return resource

    def provenance(self, held: TherapySession, note: SessionNote, derived: list[JSON]) -> JSON:
        """Who signed the note, when (and who co-signed it): the note's session and everything taken from it."""
        assert note.signed_at is not None and note.signed_by_id is not None
        targets = [self.encounter(held)] + [self.ref(r["resourceType"], r["id"]) for r in derived]
        author = _concept("http://terminology.hl7.org/CodeSystem/provenance-participant-type", "author", "Author")
        agents = [{"type": author, "who": self.practitioner(note.signed_by_id)}]
        signatures = [
            {
                "type": [
                    {
                        "system": "urn:iso-astm:E1762-95:2013",
                        "code": "1.2.840.10065.1.12.1.1",
                        "display": "Author's Signature",
                    }
                ],
                "when": instant(note.signed_at),
                "who": self.practitioner(note.signed_by_id),
            }
        ]
        for decision in note.cosign_decisions:
            if decision.decision is CosignOutcome.COSIGNED:
                verifier = _concept(
                    "http://terminology.hl7.org/CodeSystem/provenance-participant-type", "verifier", "Verifier"
                )
                agents.append({"type": verifier, "who": self.practitioner(decision.supervisor_id)})
                signatures.append(
                    {
                        "type": [
                            {
                                "system": "urn:iso-astm:E1762-95:2013",
                                "code": "1.2.840.10065.1.12.1.5",
                                "display": "Verification Signature",
                            }
                        ],
                        "when": instant(decision.decided_at),
                        "who": self.practitioner(decision.supervisor_id),
                    }
                )
        return {
            "resourceType": "Provenance",
            "id": self.id("provenance", note.id),
            "target": targets,
            "recorded": instant(note.signed_at),
            "activity": {"text": f"{held.kind.label} note signed (SHA-256 {note.content_sha256})"},
            "agent": agents,
            "signature": signatures,
        }

    def first_of(self, result: MeasureResult) -> int:
        """The first result of ``result``'s correction chain: a correction keeps its resources' ids."""
        return self.record.result_roots.get(result.id, result.id)

    def _reporter(self, result: MeasureResult) -> JSON:
        if result.mode is AdministrationMode.PATIENT_DEVICE:
            return self.subject()
        return self.practitioner(result.entered_by_id)

    def questionnaire_response(self, result: MeasureResult) -> JSON:
        instrument = get_instrument(result.instrument)
        items = []
        for item, answer in zip(instrument.items, result.answers, strict=True):
            entry: JSON = {"linkId": link_id(item), "text": item.text}
            if answer is not None:
                entry["answer"] = [{"valueCoding": answer_coding(instrument, item, answer)}]
            items.append(entry)
        return {
            "resourceType": "QuestionnaireResponse",
            "id": self.id("response", self.first_of(result)),
            "questionnaire": questionnaire_url(instrument.code),
            "status": "amended" if result.supersedes_id is not None else "completed",
            "subject": self.subject(),
            "authored": result.administered_on.isoformat(),  # the day it was answered, not the day it was typed in
            "author": self._reporter(result),
            "source": self.subject()
            if result.mode is not AdministrationMode.CLINICIAN_RATED
            else self.practitioner(result.entered_by_id),
            "item": items,
        }

    def score_observation(self, result: MeasureResult) -> JSON:
        instrument = get_instrument(result.instrument)
        total = codes().instrument(instrument.code).total
        resource: JSON = {
            "resourceType": "Observation",
            "id": self.id("score", self.first_of(result)),
            "status": "corrected" if result.supersedes_id is not None else "final",
            "category": [_concept(f"{TERMINOLOGY}/observation-category", "survey", "Survey")],
            "subject": self.subject(),
            "effectiveDateTime": result.administered_on.isoformat(),
            "issued": instant(result.entered_at),
            "performer": [self._reporter(result)],
            "interpretation": [{"text": result.band}],
            "derivedFrom": [self.ref("QuestionnaireResponse", self.id("response", self.first_of(result)))],
            "method": {"text": result.mode.label},
        }
        if result.total is not None:
            resource["code"] = (
                _loinc(total)
                if total
                else _concept(f"{LOCAL}:instrument", f"{instrument.code}-total", f"{instrument.short_name} total score")
            )
            resource["valueInteger"] = result.total
        else:
            resource["code"] = _concept(
                f"{LOCAL}:instrument", f"{instrument.code}-level", f"{instrument.short_name} result"
            )
            resource["valueCodeableConcept"] = {"text": result.band}
        if result.subscales:
            resource["component"] = [
                {
                    "code": _concept(f"{LOCAL}:instrument:{instrument.code}:subscale", s["code"], s["name"]),
                    "valueInteger": s["score"],
                }
                for s in result.subscales
            ]
        return resource

    def medication_statement(self, medication: Any) -> JSON:
        today = clinictime.today(self.record.clinic.zone)  # the clinic's date decides "still taken"
        period: JSON = {}
        if medication.started_on:
            period["start"] = medication.started_on.isoformat()
        if medication.stopped_on:
            period["end"] = medication.stopped_on.isoformat()
        resource: JSON = {
            "resourceType": "MedicationStatement",
            "id": self.id("medication", medication.id),
            "status": "active" if medication.is_current(today) else "completed",
            "medicationCodeableConcept": {"text": medication.name},
            "subject": self.subject(),
            "dateAsserted": instant(medication.created_at),
        }
        if period:
            resource["effectivePeriod"] = period
        if medication.dose:
            resource["dosage"] = [{"text": medication.dose}]
        # The drug class is not MedicationStatement.category (where it is taken: inpatient, outpatient, community).
        notes = [f"Drug class: {medication.drug_class}"] if medication.drug_class else []
        notes += [text for text in (medication.taper_plan,) if text]
        if medication.taper_end_on:
            notes.append(f"Taper planned to finish {medication.taper_end_on.isoformat()}")
        if notes:
            resource["note"] = [{"text": text} for text in notes]
        return resource

    def care_plan(self) -> JSON:
        plan = self.record.plan
        assert plan is not None
        sections = [s for s in plan.sections if s.get("text")]
        phase = self.record.patient.phase
        return {
            "resourceType": "CarePlan",
            "id": self.id("plan", plan.id),
            "status": "completed" if phase in (Phase.COMPLETED, Phase.DISCONTINUED) else "active",
            "intent": "plan",
            "title": f"Integration plan, version {plan.number}",
            "subject": self.subject(),
            "created": instant(plan.created_at),
            "author": self.practitioner(plan.created_by_id),
            "note": [{"text": f"{s['title']}: {s['text']}"} for s in sections]
            + [{"text": f"Crisis line: {plan.crisis_line}"}],
        }


def practitioner_resource(user: User, clinic_id: int) -> JSON:
    """A staff member as a Practitioner: the name only (no account name, no roles)."""
    return {
        "resourceType": "Practitioner",
        "id": resource_id(clinic_id, "practitioner", user.id),
        "active": user.active,
        "name": [{"text": user.full_name}],
    }
