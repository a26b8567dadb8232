"""Session operations: each takes the acting user, writes the audit row and leaves the commit to the caller."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from tracker import audit
from tracker.database import AnySession
from tracker.extensions import db
from tracker.models import Patient, SessionKind, TherapySession, User

#: The longest session that can be logged, in minutes (an MDMA dosing day runs about 8 hours plus observation).
MAX_DURATION_MINUTES = 720


class SessionError(ValueError):
    """A session refused for a reason shown next to ``field``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class SessionInput:
    kind: SessionKind
    held_at: datetime  # timezone-aware
    duration_minutes: int


def log_session(actor: User, patient: Patient, given: SessionInput, now: datetime) -> TherapySession:
    """Record a session that took place.

    :raise SessionError: the session is dated after ``now``, or its duration is outside 1-720 minutes.
    """
    if given.held_at > now:
        raise SessionError("held_at", "A session that took place cannot be in the future.")
    if not 1 <= given.duration_minutes <= MAX_DURATION_MINUTES:
        raise SessionError("duration_minutes", f"Enter a duration between 1 and {MAX_DURATION_MINUTES} minutes.")
    row = TherapySession(
        patient_id=patient.id,
        kind=given.kind,
        held_at=given.held_at,
        duration_minutes=given.duration_minutes,
        logged_by_id=actor.id,
    )
    db.session.add(row)
    db.session.flush()
    audit.record(
        actor,
        "session.log",
        f"Logged a {given.kind.label.lower()} session",
        patient=patient,
        target_type="therapy_session",
        target_id=row.id,
        data={"kind": given.kind, "held_at": given.held_at, "duration_minutes": given.duration_minutes},
    )
    return row


def sessions_of(session: AnySession, patient: Patient) -> list[TherapySession]:
    """The patient's sessions, newest first, with who logged them (one query)."""
    when = func.coalesce(TherapySession.held_at, TherapySession.scheduled_at)
    return list(
        session.scalars(
            select(TherapySession)
            .where(TherapySession.patient_id == patient.id)
            .options(joinedload(TherapySession.logged_by))
            .order_by(when.desc(), TherapySession.id.desc())
        )
    )


def preparation_held(sessions: list[TherapySession]) -> int:
    """How many of ``sessions`` are preparation sessions that took place (what the dosing gate counts)."""
    return sum(1 for s in sessions if s.kind is SessionKind.PREPARATION and s.held_at is not None)
