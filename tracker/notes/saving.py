"""Draft notes: saving the structured fields and free text under optimistic locking, and the vital signs and
adverse events of a dosing note. Each operation takes the acting user, audits, and leaves the commit to the caller.
A reading past the protocol's critical limits, a serious adverse event and an integration risk check marked
escalated raise a safety alert (``tracker.alerts.raising``) in the same transaction.

Audit rows name the fields that changed but never hold note text (``tracker.audit.record``); typed values (dose,
times, vital signs) are kept in the diff, as for any other record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from tracker import audit, gate, vitals
from tracker.alerts import raising
from tracker.extensions import db
from tracker.models import (
    AdverseEvent,
    DoseUnit,
    Outcome,
    Patient,
    SessionKind,
    SessionNote,
    Severity,
    TherapySession,
    User,
    VitalReading,
)
from tracker.notes import structured
from tracker.notes.fields import DOSING_FIELDS, LATER_FIELDS, TEXT_DOSING_FIELDS, field_names
from tracker.protocols import Protocol

#: Saving any of these saves a dose: the dosing gate must hold (``gate.Door.DOSE``).
DOSE_FIELDS = ("dose_amount", "route", "dose_given_at", "supplemental_mg", "supplemental_given_at")


class NoteError(ValueError):
    """A change refused for a reason the form shows next to ``field`` (``reasons``: every sentence, when the
    dosing gate refuses for several)."""

    def __init__(self, field: str, message: str, reasons: list[str] | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.reasons = reasons or [message]


class NoteSigned(Exception):
    """The note is signed: it cannot change any more (409); corrections are addenda."""


class StaleNote(Exception):
    """The note was saved by someone else after the form was opened; ``current`` holds the saved values."""

    def __init__(self, current: dict[str, Any]) -> None:
        super().__init__("stale note")
        self.current = current


@dataclass
class NoteInput:
    """What a note form gives: structured fields (text, and the later fields of ``fields.STRUCTURED``), free text,
    and for dosing notes the typed values."""

    fields: dict[str, Any] = field(default_factory=dict)
    body: str = ""
    dosing: dict[str, Any] = field(default_factory=dict)


def saved_values(note: SessionNote, kind: SessionKind) -> dict[str, Any]:
    """The note's saved values under the names the form uses (for the conflict view)."""
    values: dict[str, Any] = {name: note.fields.get(name) for name in (*field_names(kind), *LATER_FIELDS[kind])}
    values["body"] = note.body
    if kind is SessionKind.DOSING:
        values.update({name: getattr(note, name) for name in DOSING_FIELDS})
    return values


def _check_dosing(values: dict[str, Any], visit: TherapySession, now: datetime) -> None:
    """Cross-field rules of the administration and discharge (the forms check each field alone).

    :raise NoteError: with the field to show it next to.
    """
    for name in ("dose_given_at", "supplemental_given_at", "discharged_at"):
        moment = values.get(name)
        if moment is not None and moment > now:
            raise NoteError(name, "This time is in the future.")
    unit = values.get("dose_unit")
    weighed = values.get("weight_kg") is not None
    if isinstance(unit, DoseUnit) and unit.per_weight and not weighed:  # the table's check ck_..._weight_for_mg_per_kg
        raise NoteError("weight_kg", f"Enter the weight measured today: the dose is in {unit.label}.")
    supplement, supplement_at = values.get("supplemental_mg"), values.get("supplemental_given_at")
    if (supplement is None) != (supplement_at is None):
        missing = "supplemental_given_at" if supplement_at is None else "supplemental_mg"
        raise NoteError(missing, "Enter both the supplemental dose and the time it was given, or neither.")
    given_at = values.get("dose_given_at")
    if supplement_at is not None:
        if given_at is None:
            raise NoteError("dose_given_at", "Enter the time of the first dose before a supplemental dose.")
        if supplement_at <= given_at:
            raise NoteError("supplemental_given_at", "The supplemental dose comes after the first dose.")
    discharged = values.get("discharged_at")
    if discharged is not None:
        last = max((t for t in (given_at, supplement_at) if t is not None), default=None)
        if last is not None and discharged < last:
            raise NoteError("discharged_at", "Discharge comes after the last dose.")
    if given_at is not None and visit.held_at is not None and given_at < visit.held_at:
        raise NoteError("dose_given_at", "The dose cannot be given before the session started.")
    if given_at is not None and visit.held_at is None:
        raise NoteError("dose_given_at", "Record when the session was held before recording the dose.")


#: Where each gate condition's refusal is shown on the dosing note form.
GATE_FIELDS = {
    "dose_within_protocol": "dose_amount",
    "pre_dose_decision": "pre_dose_decision",
    "within_the_session": "dose_given_at",
    "dose_spacing": "dose_given_at",
}


def _check_gate(
    patient: Patient,
    visit: TherapySession,
    note: SessionNote | None,
    values: dict[str, Any],
    protocol: Protocol | None,
    now: datetime,
) -> None:
    """Saving a dose opens the gate's dose door: judged at the session's time, with the values as they would be
    saved.

    :raise NoteError: on the field of the first unmet condition, with every reason.
    """
    if all(values.get(name) is None for name in DOSE_FIELDS):
        return  # a draft without a dose (the narrative, discharge) records no dose
    present = list(visit.present)
    unmet = gate.check(
        db.session,
        patient,
        protocol,
        gate.Door.DOSE,
        now=now,
        visit=gate.visit_of(visit, present),
        administration=gate.Administration(**{k: values.get(k) for k in gate.Administration.__dataclass_fields__}),
        note_id=note.id if note is not None else None,
    )
    if unmet:
        reasons = [u.message for u in unmet]
        raise NoteError(GATE_FIELDS.get(unmet[0].condition, "dose_amount"), reasons[0], reasons)


def new_note(actor: User, visit: TherapySession, now: datetime) -> SessionNote:
    """An empty draft, not yet in the database (``_insert`` adds it)."""
    return SessionNote(
        session_id=visit.id,
        author_id=actor.id,
        updated_by_id=actor.id,
        created_at=now,
        updated_at=now,
        fields={name: None for name in field_names(visit.kind)},
        body="",
        vitals=[],
        adverse_events=[],
        addenda=[],
        cosign_decisions=[],
    )


def _insert(note: SessionNote) -> None:
    """:raise StaleNote: someone else started the note of this session a moment ago (theirs is the one to edit)."""
    db.session.add(note)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise StaleNote({}) from None


def ensure_note(
    actor: User, patient: Patient, visit: TherapySession, note: SessionNote | None, now: datetime
) -> SessionNote:
    """The session's note, started as an empty draft if there is none yet.

    :raise NoteSigned: the note is signed.
    """
    if note is not None:
        if note.is_signed:
            raise NoteSigned()
        return note
    note = new_note(actor, visit, now)
    _insert(note)
    audit.record(
        actor,
        "note.create",
        f"Started the note of a {visit.kind.label.lower()} session",
        patient=patient,
        target_type="session_note",
        target_id=note.id,
    )
    return note


def save_note(
    actor: User,
    patient: Patient,
    visit: TherapySession,
    note: SessionNote | None,
    given: NoteInput,
    seen_version: int | None,
    now: datetime,
    protocol: Protocol | None = None,
) -> tuple[SessionNote, list[str]]:
    """Save a draft from a form opened at ``seen_version`` (None: the form was opened before any note existed);
    returns the note and the names of the fields that changed. A dosing note that holds a dose is saved only
    through the dosing gate (``protocol`` is the patient's; the session's therapists present must be loaded).

    :raise NoteSigned: the note is signed (nothing changes).
    :raise StaleNote: someone saved the note after the form was opened (nothing changes).
    :raise NoteError: a cross-field rule fails, or the gate refuses the dose (nothing changes).
    """
    if note is not None and note.is_signed:
        raise NoteSigned()
    if note is not None and seen_version != note.version_id:
        raise StaleNote(saved_values(note, visit.kind))
    values: dict[str, Any] = {}
    if visit.kind is SessionKind.DOSING:
        values = {name: given.dosing.get(name) for name in DOSING_FIELDS}
        _check_dosing(values, visit, now)
        _check_gate(patient, visit, note, values, protocol, now)
    try:
        later = structured.later_values(db.session, patient, visit.kind, note, given.fields, protocol)
    except structured.StructuredError as error:
        raise NoteError(error.field, str(error)) from None
    created = note is None
    if note is None:
        note = new_note(actor, visit, now)
    before = saved_values(note, visit.kind)
    note.fields = {name: given.fields.get(name) for name in field_names(visit.kind)}
    note.fields.update({name: value for name, value in later.items() if value is not None})
    note.body = given.body or ""
    for name, value in values.items():
        setattr(note, name, value)
    if visit.kind is SessionKind.DOSING:
        note.dose_total_mg = _total(note)
    after = saved_values(note, visit.kind)
    changed = sorted(name for name in after if before.get(name) != after.get(name))
    if changed or created:
        note.updated_at, note.updated_by_id = now, actor.id
        if created:
            _insert(note)
        else:
            db.session.flush()
        typed = [n for n in changed if n in DOSING_FIELDS and n not in TEXT_DOSING_FIELDS]
        audit.record(
            actor,
            "note.create" if created else "note.update",
            f"{'Started' if created else 'Edited'} the note of a {visit.kind.label.lower()} session",
            patient=patient,
            target_type="session_note",
            target_id=note.id,
            data={
                "fields": changed,
                "changes": audit.diff({n: before[n] for n in typed}, {n: after[n] for n in typed}),
            },
        )
    if visit.kind is SessionKind.INTEGRATION:
        raising.for_risk_check(actor, patient, visit, note)
    return note, changed


def _total(note: SessionNote) -> float | None:
    """The dose in mg: the amount, or the amount scaled by the weight on the day for weight-based units."""
    if note.dose_amount is None or note.dose_unit is None:
        return None
    return note.dose_unit.total_mg(note.dose_amount, note.weight_kg)


def add_vital_reading(
    actor: User,
    patient: Patient,
    visit: TherapySession,
    note: SessionNote | None,
    taken_at: datetime,
    reading: vitals.Reading,
    protocol: Protocol | None,
    now: datetime,
) -> VitalReading:
    """Add a reading to a dosing note (started if needed), flagging values outside the protocol's limits; a value
    past its critical limit raises a safety alert.

        :raise NoteSigned: the note is signed.
        :raise NoteError: an impossible value (``tracker.vitals.validate``), or a time in the future.
    """
    if visit.kind is not SessionKind.DOSING:
        raise NoteError("taken_at", "Vital signs are recorded on dosing sessions.")
    problems = vitals.validate(reading)
    if problems:
        field_name, message = next(iter(problems.items()))
        raise NoteError(field_name, message)
    if taken_at > now:
        raise NoteError("taken_at", "This time is in the future.")
    if visit.held_at is None:
        raise NoteError("taken_at", "Record when the session started first: readings belong to a held session.")
    if not visit.held_at - gate.ARRIVAL <= taken_at <= visit.held_at + gate.SESSION_SPAN:
        hours = int(gate.SESSION_SPAN.total_seconds() // 3600)
        raise NoteError(
            "taken_at",
            f"This time is outside the session: readings are taken from an hour before its start to {hours} hours "
            "after it. Check the date and time.",
        )
    note = ensure_note(actor, patient, visit, note, now)
    flags = vitals.check(reading, protocol.vital_limits if protocol else ())
    row = VitalReading(
        taken_at=taken_at,
        recorded_by_id=actor.id,
        created_at=now,
        flags={flag.sign: flag.text for flag in flags} or None,
        **reading.values(),
    )
    note.vitals.append(row)  # keeps the loaded collection (hashed when signing) in step with the database
    db.session.flush()
    audit.record(
        actor,
        "vitals.add",
        "Recorded vital signs" + (" (out of range)" if flags else ""),
        patient=patient,
        target_type="vital_reading",
        target_id=row.id,
        data={"taken_at": taken_at, **reading.values(), "out_of_range": sorted(f.sign for f in flags)},
    )
    raising.for_reading(actor, patient, visit, row, reading, protocol)
    return row


def remove_vital_reading(actor: User, patient: Patient, note: SessionNote, row: VitalReading) -> None:
    """Take a mistyped reading out of a draft (the audit row keeps its values); a safety alert it raised stays
    until someone acknowledges it.

    :raise NoteSigned: the note is signed.
    """
    if note.is_signed:
        raise NoteSigned()
    values = {name: getattr(row, name) for name in vitals.SIGNS if getattr(row, name) is not None}
    note.vitals.remove(row)
    db.session.delete(row)
    db.session.flush()
    audit.record(
        actor,
        "vitals.remove",
        "Removed a vital-signs reading from a draft note",
        patient=patient,
        target_type="vital_reading",
        target_id=row.id,
        data={"taken_at": row.taken_at, **values},
    )


@dataclass(frozen=True)
class AdverseEventInput:
    description: str
    onset_at: datetime
    severity: Severity
    serious: bool
    action_taken: str
    outcome: Outcome
    rescue_medication: str | None = None
    rescue_dose: str | None = None
    rescue_given_at: datetime | None = None


def add_adverse_event(
    actor: User,
    patient: Patient,
    visit: TherapySession,
    note: SessionNote | None,
    given: AdverseEventInput,
    now: datetime,
) -> AdverseEvent:
    """Record an adverse event on a dosing note (started if needed); a serious one raises a high-risk safety alert.

    :raise NoteSigned: the note is signed.
    :raise NoteError: a time in the future, an onset before the patient arrived for the session, or rescue
        medication without its dose and time.
    """
    if visit.kind is not SessionKind.DOSING:
        raise NoteError("description", "Adverse events are recorded on dosing sessions.")
    if given.onset_at > now:
        raise NoteError("onset_at", "This time is in the future.")
    if visit.held_at is not None and given.onset_at < visit.held_at - gate.ARRIVAL:
        # An event of this session starts once the patient has arrived; one that began earlier is history, not an
        # adverse event of this dose (a slipped date, 2000 for 2026, is the usual cause).
        raise NoteError("onset_at", "The onset cannot be before the patient arrived for this session.")
    rescue = (given.rescue_medication, given.rescue_dose, given.rescue_given_at)
    if any(v is not None for v in rescue) and not all(v is not None for v in rescue):
        missing = ("rescue_medication", "rescue_dose", "rescue_given_at")[[v is None for v in rescue].index(True)]
        raise NoteError(missing, "For rescue medication give the medication, the dose and the time.")
    if given.rescue_given_at is not None and given.rescue_given_at > now:
        raise NoteError("rescue_given_at", "This time is in the future.")
    note = ensure_note(actor, patient, visit, note, now)
    row = AdverseEvent(recorded_by_id=actor.id, created_at=now, **vars(given))
    note.adverse_events.append(row)
    db.session.flush()
    audit.record(
        actor,
        "adverse_event.add",
        f"Recorded a {given.severity.value} adverse event" + (" (serious)" if given.serious else ""),
        patient=patient,
        target_type="adverse_event",
        target_id=row.id,
        data={
            "severity": given.severity,
            "serious": given.serious,
            "outcome": given.outcome,
            "rescue": given.rescue_medication is not None,
        },
    )
    raising.for_adverse_event(actor, patient, visit, row)
    return row


def remove_adverse_event(actor: User, patient: Patient, note: SessionNote, row: AdverseEvent) -> None:
    """Take a mistaken entry out of a draft (audited); a safety alert it raised stays until someone acknowledges
    it.

    :raise NoteSigned: the note is signed.
    """
    if note.is_signed:
        raise NoteSigned()
    note.adverse_events.remove(row)
    db.session.delete(row)
    db.session.flush()
    audit.record(
        actor,
        "adverse_event.remove",
        "Removed an adverse event from a draft note",
        patient=patient,
        target_type="adverse_event",
        target_id=row.id,
        data={"severity": row.severity, "serious": row.serious},
    )
