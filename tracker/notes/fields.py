"""What a note of each session kind holds: one table per kind, and the canonical form of a note that its signature
hashes.

The structured text fields per kind follow the issue and the care model of the trials the protocol files cite
(preparation, dosing and integration sessions, e.g. MAPP1: Mitchell JM et al. 2021, Nat Med 27:1025,
doi:10.1038/s41591-021-01336-3; Johnson MW, Richards WA, Griffiths RR 2008, J Psychopharmacol 22:603,
doi:10.1177/0269881108093587): preparation
covers topics, intention, consent and questions; integration covers themes and insights, practices, plan updates
and a risk check; dosing notes keep the administration, vital signs, adverse events and discharge in typed
columns and tables (they are queried); every kind has free text.

The tables: ``TEXT_FIELDS`` (the text fields of each kind), ``STRUCTURED`` (the structured answers, each with code
of its own in ``tracker.notes.structured`` and the forms), and for the dosing note ``DOSING``: each typed column
with its input on the form (``tracker.notes.widgets``), whether it is free text (the audit names it but never
holds its value), the version of the signed content that first held it, and its line on the record (the session
page and the PDF, ``tracker.notes.record``). The form, saving, the audit diff, the signed content and the record
all read the table, so a dosing field is added in one place (with its column and migration).

``note_content`` is the signed record: the session's facts (times, place, therapists present), every field, and
every vital-sign reading and adverse event. ``sha256`` hashes its canonical JSON (sorted keys, no spaces), so the
stored hash can be recomputed from the database at any time (``tracker.notes.signing.verify``).

The signed content is versioned (``SessionNote.content_version``): a note is hashed as the version it was signed
under, so a field added later never changes an earlier note's hash. To add a field: add it to its kind's table
with ``since`` set to the next version (``FIELD_SINCE`` and ``CONTENT_VERSION`` follow). Version 1, the content
before versions, held the later fields (``later=True``) only when filled in; from version 2 a note's content holds
every field of its version, filled in or not, and says its version.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from tracker import clinictime
from tracker.models import AdverseEvent, DoseUnit, Route, SessionKind, SessionNote, TherapySession, VitalReading
from tracker.notes import widgets


@dataclass(frozen=True)
class TextField:
    """A text field of a note, kept in ``SessionNote.fields``: on the form, signed, printed under its label."""

    name: str
    label: str
    help: str = ""
    since: int = 1  # the version of the signed content that first held it


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

BODY_LABEL = {
    SessionKind.PREPARATION: "Further notes",
    SessionKind.DOSING: "Session narrative",
    SessionKind.INTEGRATION: "Further notes",
    SessionKind.FOLLOW_UP: "Contact summary",
}


@dataclass(frozen=True)
class Structured:
    """A structured answer kept in ``SessionNote.fields``, with code of its own (``tracker.notes.structured``, the
    forms, the record's templates). ``later``: added after notes were first signed, so version 1 held it only when
    filled in."""

    name: str
    label: str
    later: bool = True
    since: int = 1


#: ``risk_check``: the integration risk check (``RISK_CHECK``, required before signing);
#: ``modality``: the clinic's name of the session's therapeutic modality (``tracker.modalities``);
#: ``practice_checkin``: how each practice of the integration plan went (``tracker.plans.practices``);
#: ``set_and_setting``: the protocol's set-and-setting checklist as confirmed for the dosing session.
STRUCTURED: dict[SessionKind, tuple[Structured, ...]] = {
    SessionKind.PREPARATION: (Structured("modality", "Therapeutic modality"),),
    SessionKind.DOSING: (Structured("set_and_setting", "Set and setting confirmed"),),
    SessionKind.INTEGRATION: (
        Structured("risk_check", "Risk check", later=False),
        Structured("modality", "Therapeutic modality"),
        Structured("practice_checkin", "Check-in on the plan's practices"),
    ),
    SessionKind.FOLLOW_UP: (),
}


def field_names(kind: SessionKind) -> list[str]:
    """The keys a note of ``kind`` always keeps in ``SessionNote.fields`` (None when empty)."""
    return [*(f.name for f in TEXT_FIELDS[kind]), *(s.name for s in STRUCTURED[kind] if not s.later)]


#: Structured fields added after notes were first signed: kept in ``SessionNote.fields`` and hashed under version 1
#: only when filled in, so a note signed before them hashes as it did when it was signed.
LATER_FIELDS: dict[SessionKind, tuple[str, ...]] = {
    kind: tuple(s.name for s in answers if s.later) for kind, answers in STRUCTURED.items()
}


# The dosing note: its record's lines. ---------------------------------------------------------------------------

NONE = "—"


@dataclass(frozen=True)
class Line:
    """A line of the record: its label, how its value reads (on the clinic's clock ``tz``), and whether a note
    shows it at all."""

    label: str
    value: Callable[[SessionNote, tzinfo], str]
    shown: Callable[[SessionNote], bool] = lambda note: True


def _number(value: float | None) -> str:
    return NONE if value is None else f"{value:g}"


def _text(name: str) -> Callable[[SessionNote, tzinfo], str]:
    return lambda note, tz: getattr(note, name) or NONE


def _time(name: str) -> Callable[[SessionNote, tzinfo], str]:
    return lambda note, tz: clinictime.shown(getattr(note, name), tz)


def _dose(note: SessionNote, tz: tzinfo) -> str:
    if note.dose_amount is None or note.dose_unit is None:
        return NONE
    text = f"{note.dose_amount:g} {note.dose_unit.label}"
    if note.dose_unit.per_weight:
        text += f" at {_number(note.weight_kg)} kg = {_number(note.dose_total_mg)} mg"
    return text


def _supplemental(note: SessionNote, tz: tzinfo) -> str:
    if not note.supplemental_mg:
        return "none"
    return f"{note.supplemental_mg:g} mg at {clinictime.shown(note.supplemental_given_at, tz)}"


def _distress(note: SessionNote, tz: tzinfo) -> str:
    baseline, discharge = _number(note.distress_baseline), _number(note.distress_at_discharge)
    return f"baseline {baseline}, at discharge {discharge}"


def _weight_apart(note: SessionNote) -> bool:
    """The weight has its own line when the dose does not already show it (a dose per kilogram does)."""
    return note.weight_kg is not None and not (note.dose_unit is not None and note.dose_unit.per_weight)


# The dosing note's table. ----------------------------------------------------------------------------------------


class Section(enum.StrEnum):
    """Where a dosing field sits: the form's group of fields; the record prints the administration and the
    supplemental dose together, and discharge after the vital signs and adverse events."""

    ADMINISTRATION = "administration"
    SUPPLEMENTAL = "supplemental"
    DISCHARGE = "discharge"
    BEFORE_DOSE = "before_dose"  # on the form only where the protocol asks for a decision above a blood pressure


@dataclass(frozen=True)
class DosingField:
    """A typed column of the dosing note (what each records, and its source, is in ``tracker.models.note``).

    ``input``: how the form asks for it (None: computed when the note is saved); ``width``: its columns of the
    form's row (of 12); ``text``: free text, which the audit names but never holds; ``since``: the version of the
    signed content that first held it; ``later``: added after notes were first signed, held by version 1 only when
    filled in; ``line``: its line on the record (None: another field's line shows it, or the record leaves it out).
    """

    name: str
    label: str
    section: Section
    input: widgets.Input | None
    help: str = ""
    width: int = 4
    text: bool = False
    since: int = 1
    later: bool = False
    line: Line | None = None


A, S, D, B = Section.ADMINISTRATION, Section.SUPPLEMENTAL, Section.DISCHARGE, Section.BEFORE_DOSE
LOT_NUMBER = (r"^[A-Za-z0-9][A-Za-z0-9 ./\-]*$", "Use letters, digits, spaces, dots, slashes or dashes.")

#: The dosing note's columns in the order of the form and the record. Composite parts with code of their own:
#: the dose with the weight (``_dose``, and ``dose_total_mg`` computed when saving), the vital signs and adverse
#: events (rows of their own: ``VitalsForm``, ``AdverseEventForm``, ``_vital``, ``_event``), the set-and-setting
#: checklist (``STRUCTURED``).
DOSING: tuple[DosingField, ...] = (
    DosingField("substance", "Substance", A, widgets.line(80), width=12, line=Line("Substance", _text("substance"))),
    DosingField("dose_amount", "Dose", A, widgets.amount(2000), "In the unit chosen below.", line=Line("Dose", _dose)),
    DosingField("dose_unit", "Unit", A, widgets.choice(DoseUnit)),
    DosingField(
        "weight_kg",
        "Weight today (kg)",
        A,
        widgets.amount(350),
        "Measured on the day; needed for mg/kg and mg/70 kg dosing.",
        line=Line("Weight today", lambda note, tz: f"{_number(note.weight_kg)} kg", _weight_apart),
    ),
    DosingField(
        "route",
        "Route",
        A,
        widgets.choice(Route),
        line=Line("Route", lambda note, tz: note.route.label if note.route else NONE),
    ),
    DosingField(
        "lot_number",
        "Lot number",
        A,
        widgets.line(60, "Use at most 60 characters.", LOT_NUMBER),
        line=Line("Lot number", _text("lot_number")),
    ),
    DosingField("dose_given_at", "Time given", A, widgets.moment(), line=Line("Given at", _time("dose_given_at"))),
    DosingField(
        "supplemental_mg",
        "Supplemental dose (mg)",
        S,
        widgets.amount(2000),
        "Leave empty if none was given.",
        width=6,
        line=Line("Supplemental dose", _supplemental),
    ),
    DosingField("supplemental_given_at", "Supplemental dose given at", S, widgets.moment(), width=6),
    DosingField(
        "dose_total_mg",
        "Dose given (mg)",
        S,
        None,
        line=Line("Total given", lambda note, tz: NONE if note.total_mg is None else f"{note.total_mg:g} mg"),
    ),
    DosingField(
        "distress_baseline",
        "Distress at baseline (SUDS 0-10)",
        D,
        widgets.score(0, 10),
        width=6,
        line=Line("Distress (SUDS)", _distress),
    ),
    DosingField("distress_at_discharge", "Distress at discharge (SUDS 0-10)", D, widgets.score(0, 10), width=6),
    DosingField(
        "escort_name",
        "Escort or driver",
        D,
        widgets.line(120, "Use at most 120 characters."),
        "Who takes the patient home.",
        width=6,
        text=True,
        line=Line("Escort or driver", _text("escort_name")),
    ),
    DosingField(
        "discharged_at",
        "Discharged at",
        D,
        widgets.moment(),
        width=6,
        line=Line("Discharged at", _time("discharged_at")),
    ),
    DosingField(
        "pre_dose_decision",
        "Decision to dose despite the blood pressure",
        B,
        widgets.text(4000),
        "Where the protocol asks for it: why the dose was given although the blood pressure before it was "
        "above the protocol's threshold.",
        width=12,
        text=True,
        later=True,
    ),
)

#: The dosing columns the form gives and saving copies, in form order.
DOSING_FIELDS = tuple(f.name for f in DOSING if f.input is not None)

#: Dosing fields added after notes were first signed: hashed under version 1 only when filled in, so an earlier
#: note's signed content (which never held them) hashes as it did when it was signed.
LATER_DOSING_FIELDS = frozenset(f.name for f in DOSING if f.later)

#: Free text among the dosing columns: the audit diff names them but never holds their values.
TEXT_DOSING_FIELDS = frozenset(f.name for f in DOSING if f.text)


def dosing_inputs(section: Section) -> list[DosingField]:
    """The dosing fields the form asks for in ``section``, in order."""
    return [f for f in DOSING if f.section is section and f.input is not None]


def record_lines(*sections: Section) -> tuple[Line, ...]:
    """The record's lines of the dosing fields in ``sections``, in order."""
    return tuple(f.line for f in DOSING if f.section in sections and f.line is not None)


# Versions of the signed content. ---------------------------------------------------------------------------------

#: Fields added after version 2, with the version that first held them (none yet).
FIELD_SINCE: dict[str, int] = {
    name: since
    for name, since in (
        *((f.name, f.since) for f in DOSING),
        *((f.name, f.since) for kind in TEXT_FIELDS.values() for f in kind),
        *((s.name, s.since) for kind in STRUCTURED.values() for s in kind),
    )
    if since > 2
}
#: The version of the signed content that signing writes now: the newest field's (see the module's docstring).
CONTENT_VERSION = max((2, *FIELD_SINCE.values()))


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
    names = [f.name for f in DOSING]
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
    names = (
        "id",
        "description",
        "onset_at",
        "severity",
        "serious",
        "action_taken",
        "outcome",
        "rescue_medication",
        "rescue_dose",
        "rescue_given_at",
    )
    return {name: _value(getattr(event, name)) for name in names}


def note_content(note: SessionNote, visit: TherapySession, version: int | None = None) -> dict[str, Any]:
    """The note as signed under ``version`` (default: the note's own when signed, else ``CONTENT_VERSION``): needs
    ``session.present``, ``note.vitals`` and ``note.adverse_events`` loaded."""
    if version is None:
        version = note.content_version if note.signed_at is not None else CONTENT_VERSION
    content: dict[str, Any] = {
        "note_id": note.id,
        "session": {
            "id": visit.id,
            "patient_id": visit.patient_id,
            "kind": visit.kind.value,
            "cycle": visit.cycle,
            "held_at": _value(visit.held_at),
            "duration_minutes": visit.duration_minutes,
            "scheduled_at": _value(visit.scheduled_at),
            "scheduled_minutes": visit.scheduled_minutes,
            "location": visit.location,
            "present": sorted(user.id for user in visit.present),
        },
        "fields": note_fields(note, visit.kind, version),
        "body": note.body,
    }
    if version > 1:
        content["version"] = version
    if visit.kind is SessionKind.DOSING:
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
