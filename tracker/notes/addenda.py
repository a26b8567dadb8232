"""Addenda: what is added to a signed note, which itself never changes (HIPAA 45 CFR 164.526: corrections as
appended amendments). An addendum is signed with the password when it is added and never changed afterwards.

The signed correction of an adverse event's seriousness marked by mistake (the rule it changes is
``tracker.adverse_events``):

A correction never changes the signed note or the event: it is a row of its own (append-only in the database),
signed with the password like an addendum (the same re-entry throttle), with its reason, and audited. Correcting
to serious raises the high-risk safety alert a serious event raises. Correcting to not serious leaves the alert the
event raised where it is: it stays in the history, still holds the next dose while open, and its page says the
seriousness was corrected, so the supervisor who may close it acknowledges it as an entry error. The clinic
overview's kept figures are forgotten, so its count follows at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete

from tracker import audit
from tracker.adverse_events import is_serious, label
from tracker.alerts import raising
from tracker.extensions import db
from tracker.models import (
    AdverseEvent,
    AdverseEventCorrection,
    ClinicOverview,
    NoteAddendum,
    Patient,
    SessionNote,
    TherapySession,
    User,
)
from tracker.notes.fields import addendum_content, sha256
from tracker.notes.saving import NoteError
from tracker.notes.signing import check_password


def add_addendum(
    actor: User, patient: Patient, note: SessionNote, reason: str, body: str, password: str, now: datetime
) -> NoteAddendum:
    """Add an addendum to a signed note, signed at once by ``actor`` (it is never changed afterwards).

    :raise NoteError: the note is still a draft (edit it instead), or a wrong password (audited).
    """
    if not note.is_signed:
        raise NoteError("body", "This note is still a draft: edit it instead of adding an addendum.")
    check_password(actor, patient, password, "an addendum")
    addendum = NoteAddendum(
        reason=reason,
        body=body,
        signed_by=actor,
        signed_at=now,
        content_sha256=sha256(addendum_content(note, reason, body)),
    )
    note.addenda.append(addendum)
    db.session.flush()
    audit.record(
        actor,
        "note.addendum",
        "Signed an addendum to a note",
        patient=patient,
        target_type="note_addendum",
        target_id=addendum.id,
        data={"note_id": note.id, "content_sha256": addendum.content_sha256},
    )
    return addendum


def correction_content(event: AdverseEvent, note: SessionNote, serious: bool, reason: str) -> dict[str, Any]:
    """What the corrector signs: the event, the signed note it belongs to, the new seriousness and the reason."""
    return {"adverse_event_id": event.id, "note_sha256": note.content_sha256, "serious": serious, "reason": reason}


def correct(
    actor: User,
    patient: Patient,
    visit: TherapySession,
    note: SessionNote,
    event: AdverseEvent,
    serious: bool,
    reason: str,
    password: str,
    now: datetime,
) -> AdverseEventCorrection:
    """Sign a correction of ``event``'s seriousness on a signed note.

    :raise NoteError: the note is a draft (change the event there), the seriousness already stands as asked, no
        reason, or a wrong password (audited; the caller commits that row).
    """
    if not note.is_signed:
        raise NoteError("serious", "This note is still a draft: remove the event and record it again instead.")
    before = is_serious(event)
    if serious == before:
        raise NoteError("serious", f"This event already stands as {label(serious)}.")
    if not reason.strip():
        raise NoteError("reason", "Say why the seriousness is corrected.")
    check_password(actor, patient, password, "a correction of an adverse event's seriousness")
    row = AdverseEventCorrection(
        adverse_event_id=event.id,
        serious=serious,
        reason=reason.strip(),
        signed_by_id=actor.id,
        signed_at=now,
        content_sha256=sha256(correction_content(event, note, serious, reason.strip())),
    )
    db.session.add(row)
    db.session.flush()
    db.session.refresh(event, ["serious_now"])
    audit.record(
        actor,
        "adverse_event.correct_seriousness",
        f"Signed a correction of an adverse event's seriousness: {label(before)} to {label(serious)}",
        patient=patient,
        target_type="adverse_event",
        target_id=event.id,
        data={"from": before, "to": serious, "correction_id": row.id, "content_sha256": row.content_sha256},
    )
    if serious:
        raising.for_adverse_event(actor, patient, visit, event)
    # The clinic overview keeps its counts for a few minutes: a corrected count must show at once.
    db.session.execute(delete(ClinicOverview).where(ClinicOverview.clinic_id == patient.clinic_id))
    return row
