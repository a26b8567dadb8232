"""Signing a note (HIPAA 45 CFR 164.312(c), (d)); addenda are ``tracker.notes.addenda``, co-signature
``tracker.notes.cosign``.

Signing asks for the signer's password again (OpenEMR's e-sign does the same), checks that the note is complete
(a dosing note also needs discharge and its next-day follow-up contact), and sets signer, time and the SHA-256 of
the note's canonical content in one UPDATE; the database refuses every later change. The form carries the hash of
the content the signer was shown, so a note changed by someone else in the meantime is not signed unseen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from tracker import audit, gate
from tracker.auth import reauth
from tracker.extensions import db
from tracker.models import (
    Patient,
    SessionKind,
    SessionNote,
    TherapySession,
    User,
)
from tracker.notes import fields
from tracker.notes.fields import TEXT_FIELDS, addendum_content, note_content, sha256
from tracker.notes.saving import NoteError, NoteSigned
from tracker.notes.structured import unanswered_practices
from tracker.protocols import Protocol

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


def follow_up_ok(visit: TherapySession, follow_ups: Sequence[TherapySession]) -> bool:
    """Whether a follow-up contact of the same cycle is on record within ``FOLLOW_UP_WINDOW`` after the dosing
    session ended (or started, when its length is not known yet)."""
    if visit.held_at is None:
        return False
    after = visit.ended_at or visit.held_at
    return any(
        f.kind is SessionKind.FOLLOW_UP
        and f.cycle == visit.cycle
        and after < f.when <= visit.held_at + FOLLOW_UP_WINDOW
        for f in follow_ups
    )


def blockers(
    patient: Patient,
    note: SessionNote,
    visit: TherapySession,
    protocol: Protocol | None,
    follow_ups_ok: bool,
    now: datetime,
) -> list[str]:
    """Why the note cannot be signed yet; empty when it can. A dosing note is signed only through the dosing gate
    (``gate.Door.SIGN``: the session, the dose, discharge and the follow-up contact); other notes need content.
    Needs the session's therapists present loaded."""
    if visit.kind is SessionKind.DOSING:
        unmet = gate.check(
            db.session,
            patient,
            protocol,
            gate.Door.SIGN,
            now=now,
            visit=gate.visit_of(visit),
            administration=gate.administration_of(note),
            note_id=note.id,
            follow_up_ok=follow_ups_ok,
        )
        return [u.message for u in unmet]
    reasons = []
    if visit.held_at is None:
        reasons.append("The session has not taken place yet: record when it was held first.")
    names = [f.name for f in TEXT_FIELDS[visit.kind]]
    if not note.body.strip() and not any((note.fields.get(n) or "").strip() for n in names):
        reasons.append("The note is empty.")
    if visit.kind is SessionKind.INTEGRATION and not note.fields.get("risk_check"):
        reasons.append("Record the risk check.")
    if visit.kind is SessionKind.INTEGRATION:
        missing = unanswered_practices(db.session, patient, note)
        if missing:
            reasons.append(
                "Check in on each practice of the integration plan (or mark it not discussed): "
                + ", ".join(missing)
                + "."
            )
    return reasons


def content_hash(note: SessionNote, visit: TherapySession) -> str:
    return sha256(note_content(note, visit))


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
    actor: User,
    patient: Patient,
    visit: TherapySession,
    note: SessionNote,
    protocol: Protocol | None,
    password: str,
    seen_hash: str | None,
    follow_ups_ok: bool,
    now: datetime,
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
    check_password(actor, patient, password, f"a {visit.kind.label.lower()} note")
    reasons = blockers(patient, note, visit, protocol, follow_ups_ok, now)
    if reasons:
        raise SignRefused(reasons)
    digest = content_hash(note, visit)
    if seen_hash is not None and seen_hash != digest:
        raise ContentChanged()
    note.signed_at, note.signed_by, note.content_sha256 = now, actor, digest
    note.content_version = fields.CONTENT_VERSION
    note.cosign_required = actor.needs_cosign
    db.session.flush()
    audit.record(
        actor,
        "note.sign",
        f"Signed the note of a {visit.kind.label.lower()} session",
        patient=patient,
        target_type="session_note",
        target_id=note.id,
        data={
            "content_sha256": digest,
            "content_version": note.content_version,
            "cosign_required": note.cosign_required,
        },
    )
    return digest


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
    for note, visit in notes:
        if note.content_sha256 and content_hash(note, visit) != note.content_sha256:
            found.append(Mismatch("note", note.id, note.content_sha256, content_hash(note, visit)))
        for addendum in note.addenda:
            computed = sha256(addendum_content(note, addendum.reason, addendum.body))
            if computed != addendum.content_sha256:
                found.append(Mismatch("addendum", addendum.id, addendum.content_sha256, computed))
    return found
