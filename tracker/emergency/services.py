"""Granting emergency access. The grant is the caller's to commit, with its audit row."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from tracker import audit
from tracker.auth import reauth
from tracker.extensions import db
from tracker.models import EmergencyAccess, Patient, User
from tracker.permissions import care_scope
from tracker.validators import FieldError

#: A reason someone reviewing the audit trail later can judge; a word or two is not one.
REASON_MIN_LENGTH = 20


class EmergencyAccessError(FieldError):
    """A request refused for a reason shown next to ``field``."""


def grant(actor: User, record_number: str, reason: str, password: str, now: datetime, hours: int) -> EmergencyAccess:
    """Open the patient with ``record_number`` (in the actor's clinic) to ``actor`` for ``hours``.

    :raise EmergencyAccessError: wrong password (re-authentication: throttled per account, audited; the caller
        commits that row), a reason too short, no such patient in the clinic, or a patient already in the actor's
        care.
    """
    if not actor.is_clinician:
        raise EmergencyAccessError("record_number", "Only therapists and supervisors can use emergency access.")
    try:
        reauth.confirm_password(actor, password, "open a patient with emergency access")
    except reauth.ReauthFailed as failed:
        raise EmergencyAccessError("password", str(failed)) from None
    if len(reason.strip()) < REASON_MIN_LENGTH:
        raise EmergencyAccessError("reason", f"Describe the emergency in at least {REASON_MIN_LENGTH} characters.")
    patient = db.session.scalar(
        select(Patient).where(Patient.clinic_id == actor.clinic_id, Patient.record_number == record_number.strip())
    )
    if patient is None:
        raise EmergencyAccessError("record_number", "No patient of your clinic has this record number.")
    if db.session.scalar(select(Patient.id).where(Patient.id == patient.id, care_scope(actor))) is not None:
        raise EmergencyAccessError("record_number", "This patient is already in your care: open them from the list.")
    access = EmergencyAccess(
        user_id=actor.id,
        patient_id=patient.id,
        reason=reason.strip(),
        granted_at=now,
        expires_at=now + timedelta(hours=hours),
    )
    db.session.add(access)
    db.session.flush()
    audit.mark_emergency_access(patient.id)
    audit.record(
        actor,
        "emergency.grant",
        f"Emergency access to patient {patient.record_number} for {hours} h",
        patient=patient,
        target_type="emergency_access",
        target_id=access.id,
        data={"reason": access.reason, "expires_at": access.expires_at},
    )
    return access
