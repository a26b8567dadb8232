"""Break-glass review: every emergency access grant waits in the clinic's supervisors' queue until one of them, not
the clinician who used it, judges it justified or not, in writing (HIPAA 164.308(a)(1)(ii)(D) information system
activity review; OpenEMR logs every use of its emergency accounts for such review). Grants still unreviewed a day
after they were made are on the supervisor dashboard (``tracker.attention``). A review is final: the table is
append-only.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import joinedload

from tracker import audit
from tracker.extensions import db
from tracker.models import AuditEvent, EmergencyAccess, EmergencyReview, Patient, User
from tracker.validators import FieldError

#: A judgement someone can check later; a word is not one.
COMMENT_MIN_LENGTH = 20


class ReviewError(FieldError):
    """A review of an emergency access refused for a reason shown next to ``field``."""


def clinic_grants(user: User) -> Select[EmergencyAccess, EmergencyReview]:
    """Every emergency access grant made in ``user``'s clinic, with who used it, the patient and its review."""
    return (
        select(EmergencyAccess, EmergencyReview)
        .join(User, User.id == EmergencyAccess.user_id)
        .outerjoin(EmergencyReview, EmergencyReview.access_id == EmergencyAccess.id)
        .where(User.clinic_id == user.clinic_id)
        .options(joinedload(EmergencyAccess.user), joinedload(EmergencyAccess.patient))
    )


def waiting(user: User) -> Select[EmergencyAccess, EmergencyReview]:
    return (
        clinic_grants(user).where(EmergencyReview.id.is_(None)).order_by(EmergencyAccess.granted_at, EmergencyAccess.id)
    )


def reviewed(user: User) -> Select[EmergencyAccess, EmergencyReview]:
    return (
        clinic_grants(user)
        .where(EmergencyReview.id.is_not(None))
        .order_by(EmergencyReview.reviewed_at.desc(), EmergencyReview.id.desc())
    )


def actions_under(grants: list[EmergencyAccess]) -> dict[int, int]:
    """How many audit rows each grant's user wrote about its patient while the grant ran (one grouped query)."""
    if not grants:
        return {}
    rows = db.session.execute(
        select(EmergencyAccess.id, func.count(AuditEvent.id))
        .join(
            AuditEvent,
            and_(
                AuditEvent.actor_id == EmergencyAccess.user_id,
                AuditEvent.patient_id == EmergencyAccess.patient_id,
                AuditEvent.created_at >= EmergencyAccess.granted_at,
                AuditEvent.created_at <= EmergencyAccess.expires_at,
            ),
        )
        .where(EmergencyAccess.id.in_([g.id for g in grants]))
        .group_by(EmergencyAccess.id)
    )
    return {access_id: count for access_id, count in rows}


def grant_for_review(user: User, access_id: int) -> tuple[EmergencyAccess, EmergencyReview | None] | None:
    """A grant of ``user``'s clinic and its review, or None (another clinic's, or none at all)."""
    row = db.session.execute(clinic_grants(user).where(EmergencyAccess.id == access_id)).first()
    return (row[0], row[1]) if row is not None else None


def review(actor: User, access: EmergencyAccess, justified: bool, comment: str, now: datetime) -> EmergencyReview:
    """Record ``actor``'s judgement of ``access`` (audited; the caller commits).

    :raise ReviewError: one's own grant, a grant already reviewed, or a comment too short.
    """
    if access.user_id == actor.id:
        raise ReviewError("justified", "Another supervisor reviews your own emergency access.")
    if db.session.scalar(select(EmergencyReview.id).where(EmergencyReview.access_id == access.id)) is not None:
        raise ReviewError("justified", "This emergency access has been reviewed already.")
    if len(comment.strip()) < COMMENT_MIN_LENGTH:
        raise ReviewError("comment", f"Give your reasons in at least {COMMENT_MIN_LENGTH} characters.")
    row = EmergencyReview(
        access_id=access.id, reviewer_id=actor.id, justified=justified, comment=comment.strip(), reviewed_at=now
    )
    db.session.add(row)
    db.session.flush()
    patient = db.session.get(Patient, access.patient_id)
    audit.record(
        actor,
        "emergency.review",
        f"Reviewed emergency access #{access.id}: {'justified' if justified else 'not justified'}",
        patient=patient,
        target_type="emergency_access",
        target_id=access.id,
        data={"justified": justified, "user_id": access.user_id},
    )
    return row
