"""Signing notes, addenda, and supervisors' co-signatures (HIPAA 45 CFR 164.312(c), (d); corrections as appended
amendments, 164.526).

Signing asks for the signer's password again (OpenEMR's e-sign does the same), checks that the note is complete
(a dosing note also needs discharge and its next-day follow-up contact), and sets signer, time and the SHA-256 of
the note's canonical content in one UPDATE; the database refuses every later change. The form carries the hash of
the content the signer was shown, so a note changed by someone else in the meantime is not signed unseen.

Co-signature: a note signed by a therapist flagged ``needs_cosign`` waits for their supervisor, who co-signs it or
returns it with a comment. A returned note is answered with an addendum, which puts it back in the queue; so does
any addendum signed after a decision (the supervisor vouches for the record as it stands).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from tracker import audit, gate
from tracker.auth import reauth
from tracker.extensions import db
from tracker.models import (
    CosignDecision,
    CosignOutcome,
    NoteAddendum,
    Patient,
    SessionKind,
    SessionNote,
    TherapySession,
    User,
)
from tracker.protocols import Protocol
from tracker.sessions import content
from tracker.sessions.content import TEXT_FIELDS, note_content, sha256
from tracker.sessions.notes import NoteError, NoteSigned
from tracker.sessions.structured import unanswered_practices

#: How long after a dosing session its follow-up contact may be: "next day", counted in hours (48 of them) so a
#: session that ends late in the evening still has the whole of the next day on the clinic's clock.
FOLLOW_UP_WINDOW = timedelta(hours=48)


class SignRefused(Exception):
    """The note is not complete enough to sign; ``reasons`` says what is missing."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(" ".join(reasons))
        self.reasons = reasons


class ContentChanged(Exception):
    """The note changed after the signer (or co-signer) opened it: they must look again (409)."""


class NotTheirSupervisor(Exception):
    """Only the signer's supervisor may co-sign or return a note (403)."""


def follow_up_ok(session: TherapySession, follow_ups: Sequence[TherapySession]) -> bool:
    """Whether a follow-up contact of the same cycle is on record within ``FOLLOW_UP_WINDOW`` after the dosing
    session ended (or started, when its length is not known yet)."""
    if session.held_at is None:
        return False
    after = session.ended_at or session.held_at
    return any(
        f.kind is SessionKind.FOLLOW_UP and f.cycle == session.cycle and after < f.when <= session.held_at
        + FOLLOW_UP_WINDOW
        for f in follow_ups
    )


def blockers(
    patient: Patient, note: SessionNote, session: TherapySession, protocol: Protocol | None, follow_ups_ok: bool,
    now: datetime,
) -> list[str]:
    """Why the note cannot be signed yet; empty when it can. A dosing note is signed only through the dosing gate
    (``gate.Door.SIGN``: the session, the dose, discharge and the follow-up contact); other notes need content.
    Needs the session's therapists present loaded."""
    if session.kind is SessionKind.DOSING:
        unmet = gate.check(
            db.session, patient, protocol, gate.Door.SIGN, now=now, visit=gate.visit_of(session),
            administration=gate.administration_of(note), note_id=note.id, follow_up_ok=follow_ups_ok,
        )
        return [u.message for u in unmet]
    reasons = []
    if session.held_at is None:
        reasons.append("The session has not taken place yet: record when it was held first.")
    names = [f.name for f in TEXT_FIELDS[session.kind]]
    if not note.body.strip() and not any((note.fields.get(n) or "").strip() for n in names):
        reasons.append("The note is empty.")
    if session.kind is SessionKind.INTEGRATION and not note.fields.get("risk_check"):
        reasons.append("Record the risk check.")
    if session.kind is SessionKind.INTEGRATION:
        missing = unanswered_practices(db.session, patient, note)
        if missing:
            reasons.append("Check in on each practice of the integration plan (or mark it not discussed): "
                           + ", ".join(missing) + ".")
    return reasons


def content_hash(note: SessionNote, session: TherapySession) -> str:
    return sha256(note_content(note, session))


def check_password(actor: User, patient: Patient, password: str, what: str, verb: str = "sign") -> None:
    """Re-authentication before a signature or a co-signature (HIPAA 164.312(d)): throttled per account across
    every door, every failure audited (``tracker.auth.reauth``).

    :raise NoteError: on the ``password`` field, when it is wrong or re-entry is throttled.
    """
    try:
        reauth.confirm_password(actor, password, f"{verb} {what}", patient=patient)
    except reauth.ReauthFailed as failed:
        raise NoteError("password", str(failed)) from None


def sign_note(
    actor: User, patient: Patient, session: TherapySession, note: SessionNote, protocol: Protocol | None,
    password: str, seen_hash: str | None, follow_ups_ok: bool, now: datetime,
) -> str:
    """Sign and lock the note; returns the stored hash. Needs the session's therapists, and the note's vitals and
    adverse events, loaded.

    :raise NoteSigned: already signed.
    :raise NoteError: wrong password (audited; the caller commits that row).
    :raise SignRefused: the note is incomplete.
    :raise ContentChanged: the content differs from ``seen_hash``, what the signer was shown.
    """
    if note.is_signed:
        raise NoteSigned()
    check_password(actor, patient, password, f"a {session.kind.label.lower()} note")
    reasons = blockers(patient, note, session, protocol, follow_ups_ok, now)
    if reasons:
        raise SignRefused(reasons)
    digest = content_hash(note, session)
    if seen_hash is not None and seen_hash != digest:
        raise ContentChanged()
    note.signed_at, note.signed_by, note.content_sha256 = now, actor, digest
    note.content_version = content.CONTENT_VERSION
    note.cosign_required = actor.needs_cosign
    db.session.flush()
    audit.record(
        actor, "note.sign", f"Signed the note of a {session.kind.label.lower()} session", patient=patient,
        target_type="session_note", target_id=note.id,
        data={"content_sha256": digest, "content_version": note.content_version,
              "cosign_required": note.cosign_required},
    )
    return digest


def addendum_content(note: SessionNote, reason: str, body: str) -> dict[str, object]:
    return {"note_id": note.id, "note_sha256": note.content_sha256, "reason": reason, "body": body}


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
        reason=reason, body=body, signed_by=actor, signed_at=now,
        content_sha256=sha256(addendum_content(note, reason, body)),
    )
    note.addenda.append(addendum)
    db.session.flush()
    audit.record(
        actor, "note.addendum", "Signed an addendum to a note", patient=patient, target_type="note_addendum",
        target_id=addendum.id, data={"note_id": note.id, "content_sha256": addendum.content_sha256},
    )
    return addendum


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
    actor: User, patient: Patient, note: SessionNote, signer: User, decision: CosignOutcome, comment: str | None,
    seen_hash: str | None, now: datetime, *, password: str,
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
    check_password(actor, patient, password, "a note", verb="co-sign" if decision is CosignOutcome.COSIGNED
                   else "return")
    digest = review_hash(note)
    if seen_hash is not None and seen_hash != digest:
        raise ContentChanged()
    row = CosignDecision(
        supervisor=actor, decision=decision, comment=(comment or "").strip() or None, content_sha256=digest,
        decided_at=now,
    )
    note.cosign_decisions.append(row)
    db.session.flush()
    audit.record(
        actor, f"note.{decision.value}", f"{decision.label}: note of a session", patient=patient,
        target_type="session_note", target_id=note.id, data={"content_sha256": digest},
    )
    return row


@dataclass(frozen=True)
class Mismatch:
    kind: str
    id: int
    stored: str
    computed: str


def verify(notes: Sequence[tuple[SessionNote, TherapySession]]) -> list[Mismatch]:
    """Recompute the hash of each signed note and addendum (OpenEMR's ``verify()``); the ones that differ from
    what was stored at signing. Needs the same relationships loaded as ``sign_note``, plus addenda."""
    found = []
    for note, session in notes:
        if note.content_sha256 and content_hash(note, session) != note.content_sha256:
            found.append(Mismatch("note", note.id, note.content_sha256, content_hash(note, session)))
        for addendum in note.addenda:
            computed = sha256(addendum_content(note, addendum.reason, addendum.body))
            if computed != addendum.content_sha256:
                found.append(Mismatch("addendum", addendum.id, addendum.content_sha256, computed))
    return found
