"""What a note of each session kind holds, and the canonical form of a note that its signature hashes.

The structured text fields per kind follow the issue and the care model of the trials the protocol files cite
(preparation, dosing and integration sessions, e.g. MAPP1: Mitchell JM et al. 2021, Nat Med 27:1025,
doi:10.1038/s41591-021-01336-3; Johnson MW, Richards WA, Griffiths RR 2008, J Psychopharmacol 22:603,
doi:10.1177/0269881108093587): preparation
covers topics, intention, consent and questions; integration covers themes and insights, practices, plan updates
and a risk check; dosing notes keep the administration, vital signs, adverse events and discharge in typed
columns and tables (they are queried); every kind has free text.

``note_content`` is the signed record: the session's facts (times, place, therapists present), every field, and
every vital-sign reading and adverse event. ``sha256`` hashes its canonical JSON (sorted keys, no spaces), so the
stored hash can be recomputed from the database at any time (``tracker.notes.signing.verify``).

The signed content is versioned (``SessionNote.content_version``): a note is hashed as the version it was signed
under, so a field added later never changes an earlier note's hash. To add a field: list it where its kind's fields
are listed, name it in ``FIELD_SINCE`` with the next version, and raise ``CONTENT_VERSION`` to that version.
Version 1, the content before versions, held the later fields (``LATER_FIELDS``, ``LATER_DOSING_FIELDS``) only
when filled in; from version 2 a note's content holds every field of its version, filled in or not, and says its
version.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tracker.models import AdverseEvent, SessionKind, SessionNote, TherapySession, VitalReading


@dataclass(frozen=True)
class TextField:
    name: str
    label: str
    help: str = ""


TEXT_FIELDS: dict[SessionKind, tuple[TextField, ...]] = {
    SessionKind.PREPARATION: (
        TextField("topics", "Topics covered", "What was discussed: expectations, the setting, the session day."),
        TextField("intention", "Intention", "The patient's intention for treatment, in their words where possible."),
        TextField("consent", "Consent items", "Consents discussed or confirmed: treatment, recording, touch, data."),
        TextField("questions", "Questions raised", "The patient's questions and the answers given."),
    ),
    SessionKind.DOSING: (),
    SessionKind.INTEGRATION: (
        TextField("themes", "Themes and insights"),
        TextField("practices", "Practices discussed", "Sleep, movement, nature, breathwork, contemplative practice."),
        TextField("plan_updates", "Integration plan updates"),
        TextField("risk_notes", "Risk check: details", "What was asked and found; the safety plan if one was made."),
    ),
    SessionKind.FOLLOW_UP: (),
}

#: The integration risk check (a structured answer, required before signing an integration note).
RISK_CHECK = {
    "no_concern": "No safety concern identified",
    "concern_plan": "Concern identified; safety plan reviewed with the patient",
    "concern_escalated": "Concern identified; escalated (supervisor, crisis team or emergency services)",
}

#: Dosing-note columns, in form order: the administration, the supplemental dose, discharge.
DOSING_FIELDS = (
    "substance",
    "dose_amount",
    "dose_unit",
    "weight_kg",
    "route",
    "lot_number",
    "dose_given_at",
    "supplemental_mg",
    "supplemental_given_at",
    "distress_baseline",
    "distress_at_discharge",
    "escort_name",
    "discharged_at",
    "pre_dose_decision",
)

#: Dosing fields added after notes were first signed: hashed only when filled in, so an earlier note's signed
#: content (which never held them) hashes as it did when it was signed.
LATER_DOSING_FIELDS = frozenset({"pre_dose_decision"})

BODY_LABEL = {
    SessionKind.PREPARATION: "Further notes",
    SessionKind.DOSING: "Session narrative",
    SessionKind.INTEGRATION: "Further notes",
    SessionKind.FOLLOW_UP: "Contact summary",
}


def field_names(kind: SessionKind) -> list[str]:
    """The keys a note of ``kind`` always keeps in ``SessionNote.fields`` (None when empty)."""
    names = [f.name for f in TEXT_FIELDS[kind]]
    return [*names, "risk_check"] if kind is SessionKind.INTEGRATION else names


#: Structured fields added after notes were first signed: kept in ``SessionNote.fields`` and hashed only when filled
#: in, so an earlier note's signed content (which never held them) hashes as it did when it was signed.
#: ``modality``: the clinic's name of the session's therapeutic modality (``tracker.modalities``);
#: ``practice_checkin``: how each practice of the integration plan went (``tracker.plans.practices``);
#: ``set_and_setting``: the protocol's set-and-setting checklist as confirmed for the dosing session.
LATER_FIELDS: dict[SessionKind, tuple[str, ...]] = {
    SessionKind.PREPARATION: ("modality",),
    SessionKind.DOSING: ("set_and_setting",),
    SessionKind.INTEGRATION: ("modality", "practice_checkin"),
    SessionKind.FOLLOW_UP: (),
}


#: The version of the signed content that signing writes now (see the module's docstring).
CONTENT_VERSION = 2
#: Fields added after version 2, with the version that first held them (none yet).
FIELD_SINCE: dict[str, int] = {}


def holds(name: str, version: int) -> bool:
    """Whether the signed content of ``version`` holds the field ``name``."""
    return FIELD_SINCE.get(name, 1) <= version


def note_fields(note: SessionNote, kind: SessionKind, version: int = CONTENT_VERSION) -> dict[str, Any]:
    """The note's structured fields as signed under ``version``."""
    if version == 1:  # every field of the kind, and each later field only when filled in
        fields = {name: note.fields.get(name) for name in field_names(kind)}
        fields.update({name: note.fields[name] for name in LATER_FIELDS[kind] if note.fields.get(name) is not None})
        return fields
    return {name: note.fields.get(name) for name in (*field_names(kind), *LATER_FIELDS[kind]) if holds(name, version)}


def _dosing(note: SessionNote, version: int) -> dict[str, Any]:
    names = (*DOSING_FIELDS, "dose_total_mg")
    if version == 1:  # the later dosing fields only when filled in
        return {
            name: _value(getattr(note, name))
            for name in names
            if name not in LATER_DOSING_FIELDS or getattr(note, name) is not None
        }
    return {name: _value(getattr(note, name)) for name in names if holds(name, version)}


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "value"):  # enums
        return value.value
    return value


def _vital(reading: VitalReading) -> dict[str, Any]:
    return {
        "id": reading.id,
        "taken_at": _value(reading.taken_at),
        "systolic": reading.systolic,
        "diastolic": reading.diastolic,
        "heart_rate": reading.heart_rate,
        "temperature": reading.temperature,
        "spo2": reading.spo2,
        "flags": reading.flags,
    }


def _event(event: AdverseEvent) -> dict[str, Any]:
    names = ("id", "description", "onset_at", "severity", "serious", "action_taken", "outcome", "rescue_medication",
             "rescue_dose", "rescue_given_at")
    return {name: _value(getattr(event, name)) for name in names}


def note_content(note: SessionNote, session: TherapySession, version: int | None = None) -> dict[str, Any]:
    """The note as signed under ``version`` (default: the note's own when signed, else ``CONTENT_VERSION``): needs
    ``session.present``, ``note.vitals`` and ``note.adverse_events`` loaded."""
    if version is None:
        version = note.content_version if note.signed_at is not None else CONTENT_VERSION
    content: dict[str, Any] = {
        "note_id": note.id,
        "session": {
            "id": session.id,
            "patient_id": session.patient_id,
            "kind": session.kind.value,
            "cycle": session.cycle,
            "held_at": _value(session.held_at),
            "duration_minutes": session.duration_minutes,
            "scheduled_at": _value(session.scheduled_at),
            "scheduled_minutes": session.scheduled_minutes,
            "location": session.location,
            "present": sorted(user.id for user in session.present),
        },
        "fields": note_fields(note, session.kind, version),
        "body": note.body,
    }
    if version > 1:
        content["version"] = version
    if session.kind is SessionKind.DOSING:
        content["dosing"] = _dosing(note, version)
        ordered_vitals = sorted(note.vitals, key=lambda r: (r.taken_at, r.id))
        content["vitals"] = [_vital(r) for r in ordered_vitals]
        ordered_events = sorted(note.adverse_events, key=lambda e: (e.onset_at, e.id))
        content["adverse_events"] = [_event(e) for e in ordered_events]
    return content


def addendum_content(note: SessionNote, reason: str, body: str) -> dict[str, object]:
    """What an addendum's signature hashes: the note it belongs to (and that note's hash), its reason and text."""
    return {"note_id": note.id, "note_sha256": note.content_sha256, "reason": reason, "body": body}


def canonical_json(content: Any) -> str:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256(content: Any) -> str:
    return hashlib.sha256(canonical_json(content).encode("utf-8")).hexdigest()
