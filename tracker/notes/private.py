"""Private psychotherapy process notes (HIPAA 164.501): a therapist's own working notes about a session.

Only the author ever reads or edits one; every other user, whatever their role, gets the same 404 as for a note
that does not exist. They are never signed, and nothing else (the patient page, session lists, signed content,
exports) reads this table.
"""

from __future__ import annotations

from datetime import datetime

from flask import abort
from sqlalchemy import select

from tracker import audit
from tracker.extensions import db
from tracker.models import Patient, ProcessNote, TherapySession, User
from tracker.notes.saving import StaleNote

MAX_LENGTH = 50_000


def own_note_id(actor: User, visit: TherapySession) -> int | None:
    """The id of ``actor``'s process note on ``session``, if they keep one (one query)."""
    return db.session.scalar(
        select(ProcessNote.id).where(ProcessNote.session_id == visit.id, ProcessNote.author_id == actor.id)
    )


def start(actor: User, patient: Patient, visit: TherapySession, now: datetime) -> ProcessNote:
    """``actor``'s process note on ``session``, started empty if they have none."""
    existing = own_note_id(actor, visit)
    if existing is not None:
        found = db.session.get(ProcessNote, existing)
        assert found is not None
        return found
    note = ProcessNote(session_id=visit.id, author_id=actor.id, body="", created_at=now, updated_at=now)
    db.session.add(note)
    db.session.flush()
    audit.record(
        actor,
        "process_note.create",
        "Started a private process note",
        patient=patient,
        target_type="process_note",
        target_id=note.id,
    )
    return note


def get_for_author_or_404(actor: User, patient: Patient, note_id: int) -> ProcessNote:
    """The process note, if ``actor`` wrote it and it belongs to ``patient``.

    :raise 404: anyone else, admins and supervisors included (audited like any refused patient record).
    """
    note = db.session.scalar(
        select(ProcessNote)
        .join(TherapySession, TherapySession.id == ProcessNote.session_id)
        .where(ProcessNote.id == note_id, ProcessNote.author_id == actor.id, TherapySession.patient_id == patient.id)
    )
    if note is None:
        audit.record(
            actor,
            "process_note.access_denied",
            f"Refused access to process note #{note_id}",
            patient=patient,
            target_type="process_note",
            target_id=note_id,
        )
        db.session.commit()
        abort(404)
    return note


def save(actor: User, patient: Patient, note: ProcessNote, body: str, seen_version: int, now: datetime) -> bool:
    """Save the author's text from a form opened at ``seen_version``; returns whether anything changed.

    :raise StaleNote: the author saved it from another window after this form was opened.
    """
    if seen_version != note.version_id:
        raise StaleNote({"body": note.body})
    if body == note.body:
        return False
    note.body, note.updated_at = body, now
    db.session.flush()
    audit.record(
        actor,
        "process_note.update",
        "Edited a private process note",
        patient=patient,
        target_type="process_note",
        target_id=note.id,
    )
    return True
