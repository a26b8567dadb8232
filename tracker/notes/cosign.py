"""Co-signature: a note signed by a therapist flagged ``needs_cosign`` waits for their supervisor, who co-signs it
or returns it with a comment, with their password as for signing. A returned note is answered with an addendum,
which puts it back in the queue; so does any addendum signed after a decision (the supervisor vouches for the
record as it stands).
"""

from __future__ import annotations

import enum
from datetime import datetime

from tracker import audit
from tracker.extensions import db
from tracker.models import CosignDecision, CosignOutcome, Patient, SessionNote, User
from tracker.notes.fields import sha256
from tracker.notes.saving import NoteError
from tracker.notes.signing import ContentChanged, check_password


class NotTheirSupervisor(Exception):
    """Only the signer's supervisor may co-sign or return a note (403)."""


class CosignState(enum.StrEnum):
    NOT_REQUIRED = "not_required"
    PENDING = "pending"
    RETURNED = "returned"
    COSIGNED = "cosigned"

    @property
    def label(self) -> str:
        return {
            "not_required": "No co-signature needed",
            "pending": "Waiting for co-signature",
            "returned": "Returned by the supervisor",
            "cosigned": "Co-signed",
        }[self.value]


def cosign_state(note: SessionNote) -> CosignState:
    """Needs the note's addenda and decisions loaded. The latest decision stands unless an addendum was signed
    after it; the same rule as the queue's SQL (``tracker.sessions.queries``)."""
    if not note.is_signed or not note.cosign_required:
        return CosignState.NOT_REQUIRED
    latest = max(note.cosign_decisions, key=lambda d: (d.decided_at, d.id), default=None)
    if latest is None or any(a.signed_at > latest.decided_at for a in note.addenda):
        return CosignState.PENDING
    return CosignState.COSIGNED if latest.decision is CosignOutcome.COSIGNED else CosignState.RETURNED


def review_hash(note: SessionNote) -> str:
    """What a co-signer vouches for: the note's hash with those of its addenda, in order."""
    return sha256({"note": note.content_sha256, "addenda": [a.content_sha256 for a in note.addenda]})


def decide_cosign(
    actor: User,
    patient: Patient,
    note: SessionNote,
    signer: User,
    decision: CosignOutcome,
    comment: str | None,
    seen_hash: str | None,
    now: datetime,
    *,
    password: str,
) -> CosignDecision:
    """The supervisor co-signs the note or returns it to its author with a comment, with their password as for
    signing (a co-signature is a signature too; the same throttle).

    :raise NotTheirSupervisor: ``actor`` is not the signer's supervisor.
    :raise NoteError: nothing is waiting for a decision, a return without a comment, or a wrong password
        (audited; the caller commits that row).
    :raise ContentChanged: an addendum arrived after the supervisor opened the note.
    """
    if signer.supervisor_id != actor.id:
        raise NotTheirSupervisor()
    if cosign_state(note) is not CosignState.PENDING:
        raise NoteError("decision", "This note is not waiting for a co-signature.")
    if decision is CosignOutcome.RETURNED and not (comment and comment.strip()):
        raise NoteError("comment", "Say what the author should correct or add.")
    check_password(
        actor, patient, password, "a note", verb="co-sign" if decision is CosignOutcome.COSIGNED else "return"
    )
    digest = review_hash(note)
    if seen_hash is not None and seen_hash != digest:
        raise ContentChanged()
    row = CosignDecision(
        supervisor=actor,
        decision=decision,
        comment=(comment or "").strip() or None,
        content_sha256=digest,
        decided_at=now,
    )
    note.cosign_decisions.append(row)
    db.session.flush()
    audit.record(
        actor,
        f"note.{decision.value}",
        f"{decision.label}: note of a session",
        patient=patient,
        target_type="session_note",
        target_id=note.id,
        data={"content_sha256": digest},
    )
    return row
