"""Session operations: scheduling and recording sessions, and editing them until their note is signed. Each takes
the acting user, writes the audit row and leaves the commit to the caller."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from tracker import audit, gate
from tracker.clinics import clinic_of
from tracker.clinictime import day_of
from tracker.database import AnySession
from tracker.extensions import db
from tracker.models import Patient, Phase, SessionKind, SessionNote, TherapySession, User, VitalReading
from tracker.protocols import Protocol
from tracker.workflow import dosing_sessions_started

#: The longest session that can be logged, in minutes (an MDMA dosing day runs about 8 hours plus observation).
MAX_DURATION_MINUTES = 720

#: How far ahead a session may be scheduled: further is a typing mistake in the year.
MAX_SCHEDULE_AHEAD = timedelta(days=2 * 366)

#: The session facts audited (and compared) on every change.
SESSION_FIELDS = ["held_at", "duration_minutes", "scheduled_at", "scheduled_minutes", "cycle", "location"]


class SessionError(ValueError):
    """A session refused for a reason shown next to ``field``; ``reasons`` holds every sentence (the dosing gate
    can refuse for several)."""

    def __init__(self, field: str, message: str, reasons: list[str] | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.reasons = reasons or [message]


class SessionLocked(Exception):
    """The session's note is signed, so the session is part of the signed record and cannot change (409)."""


@dataclass(frozen=True)
class SessionInput:
    """A session as a form gives it. ``cycle=None`` means the default for the kind (``default_cycle``);
    ``present_ids=None`` means the acting therapist alone."""

    kind: SessionKind
    held_at: datetime | None  # timezone-aware
    duration_minutes: int | None
    scheduled_at: datetime | None = None
    scheduled_minutes: int | None = None
    cycle: int | None = None
    location: str | None = None
    present_ids: tuple[int, ...] | None = None


def current_cycle(db: AnySession, patient: Patient) -> int:
    """The patient's dosing cycle now: how many times they have entered dosing (0 before the first time)."""
    return dosing_sessions_started(db, patient)


def default_cycle(db: AnySession, patient: Patient, kind: SessionKind) -> int | None:
    """The cycle a new session of ``kind`` most likely belongs to: none for preparation; for dosing, the current
    cycle while the patient is in dosing and the next one before; for the others the current cycle (at least 1)."""
    if kind is SessionKind.PREPARATION:
        return None
    started = current_cycle(db, patient)
    if kind is SessionKind.DOSING:
        return started if patient.phase is Phase.DOSING else started + 1
    return max(started, 1)


def care_team_ids(patient: Patient) -> set[int]:
    return {member.user_id for member in patient.care_team}


def _check(
    actor: User,
    patient: Patient,
    given: SessionInput,
    protocol: Protocol | None,
    now: datetime,
    editing: TherapySession | None = None,
) -> None:
    """:raise SessionError: with the field and the message for the form."""
    if given.held_at is None and given.scheduled_at is None:
        raise SessionError("held_at", "Enter when the session took place, or when it is scheduled.")
    _check_times(patient, given, now)
    for field in ("duration_minutes", "scheduled_minutes"):
        minutes = getattr(given, field)
        if minutes is not None and not 1 <= minutes <= MAX_DURATION_MINUTES:
            raise SessionError(field, f"Enter a duration between 1 and {MAX_DURATION_MINUTES} minutes.")
    if given.kind is SessionKind.PREPARATION:
        if given.cycle is not None:
            raise SessionError("cycle", "Preparation sessions come before dosing and belong to no dosing cycle.")
    else:
        planned = protocol.dosing_sessions if protocol else None
        if given.cycle is None or given.cycle < 1 or (planned is not None and given.cycle > planned):
            raise SessionError("cycle", f"Choose a dosing cycle between 1 and {planned or 'the planned number'}.")
    if given.present_ids is not None:
        allowed = care_team_ids(patient) | {actor.id}
        if not set(given.present_ids) <= allowed:
            raise SessionError("present_ids", "Choose therapists of the patient's care team.")
    if given.kind is SessionKind.DOSING:
        _check_dosing(actor, patient, given, protocol, now, editing)


def _check_times(patient: Patient, given: SessionInput, now: datetime) -> None:
    """Plausible times: a session held is not in the future; nothing is dated before the patient's enrolment day
    (days on the clinic's calendar), or scheduled years ahead."""
    tz = clinic_of(db.session, patient.clinic_id).zone
    enrolled = day_of(patient.created_at, tz)
    if given.held_at is not None:
        if given.held_at > now:
            raise SessionError("held_at", "A session that took place cannot be in the future.")
        if day_of(given.held_at, tz) < enrolled:
            raise SessionError(
                "held_at", f"This is before the patient was enrolled ({enrolled.isoformat()}); check the date."
            )
        if given.duration_minutes is None:
            raise SessionError("duration_minutes", "Enter the duration in minutes.")
    elif given.duration_minutes is not None:
        raise SessionError("held_at", "Enter when the session started, or leave the duration empty.")
    if given.scheduled_at is not None:
        if day_of(given.scheduled_at, tz) < enrolled:
            raise SessionError(
                "scheduled_at", f"This is before the patient was enrolled ({enrolled.isoformat()}); check the date."
            )
        if given.scheduled_at > now + MAX_SCHEDULE_AHEAD:
            raise SessionError("scheduled_at", "This is more than two years ahead; check the year.")


def _check_dosing(
    actor: User,
    patient: Patient,
    given: SessionInput,
    protocol: Protocol | None,
    now: datetime,
    editing: TherapySession | None,
) -> None:
    """One dosing session per cycle; a held one only through the dosing gate, judged at its time.

    :raise SessionError: on ``kind`` (or ``cycle``), with every unmet condition of the gate.
    """
    taken = db.session.scalar(
        select(TherapySession.id).where(
            TherapySession.patient_id == patient.id,
            TherapySession.kind == SessionKind.DOSING,
            TherapySession.cycle == given.cycle,
            TherapySession.id != (editing.id if editing else -1),
        )
    )
    if taken is not None:
        raise SessionError("cycle", f"Dosing {given.cycle} already has a session on record; open and edit that one.")
    if given.held_at is None:
        if editing is not None and editing.held_at is not None and _records_a_dose(editing):
            raise SessionError(
                "held_at",
                "This session's note records a dose or vital signs, so the session stays recorded as held. Correct "
                "its start time if it is wrong.",
            )
        return  # scheduling a dosing session plans it; holding it is what the gate guards
    present = _present(actor, patient, given) if given.present_ids is not None or editing is None else None
    therapists = present if present is not None else (editing.present if editing else [])
    visit = gate.Visit(
        editing.id if editing else None,
        SessionKind.DOSING,
        given.cycle,
        given.held_at,
        present_therapists=sum(1 for u in therapists if u.is_therapist),
        duration_minutes=given.duration_minutes,
    )
    recording = editing is None or editing.held_at is None
    unmet = gate.check(db.session, patient, protocol, gate.Door.SESSION, now=now, visit=visit, recording=recording)
    if unmet:
        reasons = [u.message for u in unmet]
        timing = ("session_time", "after_the_move", "dose_spacing", "within_the_session")
        field = "held_at" if unmet[0].condition in timing else "kind"
        raise SessionError(field, reasons[0], reasons)


def _records_a_dose(row: TherapySession) -> bool:
    """Whether the session's note holds a dose or a vital-sign reading (which only a held session can have)."""
    note = db.session.scalar(select(SessionNote).where(SessionNote.session_id == row.id))
    if note is None:
        return False
    if any(getattr(note, name) is not None for name in ("dose_amount", "dose_given_at", "supplemental_mg")):
        return True
    return db.session.scalar(select(VitalReading.id).where(VitalReading.note_id == note.id).limit(1)) is not None


def _present(actor: User, patient: Patient, given: SessionInput) -> list[User]:
    ids = set(given.present_ids) if given.present_ids is not None else ({actor.id} if actor.is_therapist else set())
    if not ids:
        return []
    return list(db.session.scalars(select(User).where(User.id.in_(ids), User.clinic_id == patient.clinic_id)))


def record_session(
    actor: User, patient: Patient, given: SessionInput, protocol: Protocol | None, now: datetime
) -> TherapySession:
    """Schedule a session, or record one that took place (or both: scheduled, then held).

    :raise SessionError: a time in the future for a held session, a duration outside 1-720 minutes, no time at
        all, a cycle outside the plan, a held dosing session outside the dosing phase or its cycle, a second
        session for one dosing cycle, or therapists not on the care team.
    """
    if given.cycle is None and given.kind is not SessionKind.PREPARATION:
        given = replace(given, cycle=default_cycle(db.session, patient, given.kind))
    _check(actor, patient, given, protocol, now)
    row = TherapySession(
        patient_id=patient.id,
        kind=given.kind,
        cycle=given.cycle,
        held_at=given.held_at,
        duration_minutes=given.duration_minutes,
        scheduled_at=given.scheduled_at,
        scheduled_minutes=given.scheduled_minutes,
        location=given.location,
        logged_by_id=actor.id,
        present=_present(actor, patient, given),
    )
    db.session.add(row)
    db.session.flush()
    done = "Logged" if given.held_at else "Scheduled"
    audit.record(
        actor,
        "session.log" if given.held_at else "session.schedule",
        f"{done} a {given.kind.label.lower()} session",
        patient=patient,
        target_type="therapy_session",
        target_id=row.id,
        data={
            "kind": given.kind,
            **{name: getattr(row, name) for name in SESSION_FIELDS},
            "present": sorted(u.id for u in row.present),
        },
    )
    return row


def log_session(
    actor: User, patient: Patient, given: SessionInput, now: datetime, protocol: Protocol | None = None
) -> TherapySession:
    """Record a session that took place (the quick form on the patient page).

    :raise SessionError: as for ``record_session``.
    """
    return record_session(actor, patient, given, protocol, now)


def note_is_signed(db: AnySession, therapy_session: TherapySession) -> bool:
    signed = db.scalar(select(SessionNote.signed_at).where(SessionNote.session_id == therapy_session.id))
    return signed is not None


def update_session(
    actor: User,
    patient: Patient,
    row: TherapySession,
    given: SessionInput,
    protocol: Protocol | None,
    now: datetime,
) -> dict[str, list[object]]:
    """Change a session's times, cycle, place or therapists present (its kind stays); returns the changes.

    :raise SessionLocked: the session's note is signed.
    :raise SessionError: as for ``record_session``.
    """
    if note_is_signed(db.session, row):
        raise SessionLocked()
    given = replace(given, kind=row.kind)
    _check(actor, patient, given, protocol, now, editing=row)
    before = {name: getattr(row, name) for name in SESSION_FIELDS} | {"present": sorted(u.id for u in row.present)}
    for name in SESSION_FIELDS:
        setattr(row, name, getattr(given, name))
    if given.present_ids is not None:
        row.present = _present(actor, patient, given)
    after = {name: getattr(row, name) for name in SESSION_FIELDS} | {"present": sorted(u.id for u in row.present)}
    changes = audit.diff(before, after)
    if changes:
        db.session.flush()
        audit.record(
            actor,
            "session.update",
            f"Edited a {row.kind.label.lower()} session",
            patient=patient,
            target_type="therapy_session",
            target_id=row.id,
            data={"changes": changes},
        )
    return changes


def sessions_of(db: AnySession, patient: Patient) -> list[TherapySession]:
    """The patient's sessions, newest first, with who logged them (one query)."""
    when = func.coalesce(TherapySession.held_at, TherapySession.scheduled_at)
    return list(
        db.scalars(
            select(TherapySession)
            .where(TherapySession.patient_id == patient.id)
            .options(joinedload(TherapySession.logged_by))
            .order_by(when.desc(), TherapySession.id.desc())
        )
    )


def preparation_held(sessions: list[TherapySession]) -> int:
    """How many of ``sessions`` are preparation sessions that took place (what the dosing gate counts)."""
    return sum(1 for s in sessions if s.kind is SessionKind.PREPARATION and s.held_at is not None)
