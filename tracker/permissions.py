"""Who may see what: the one place a reviewer checks access.

Deny by default. Every view declares its policy with ``@public`` or ``@require_role(...)``; a test walks the URL
map and fails on any view with neither. Patient access is decided in SQL by ``patient_scope``: a therapist sees
the patients whose care team they are on; a supervisor also sees the patients of the therapists they supervise;
a clinician with an unexpired emergency-access grant sees that patient, every action flagged in the audit trail;
nobody sees patients of another clinic; an admin-only account sees no patient.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort
from flask_login import current_user
from sqlalchemy import ColumnElement, and_, false, or_, select
from sqlalchemy.orm.interfaces import LoaderOption

from tracker import audit
from tracker.extensions import db
from tracker.models import CareTeamMember, EmergencyAccess, Patient, Role, User
from tracker.models.base import utcnow

F = TypeVar("F", bound=Callable[..., Any])

#: The roles that see clinical content.
CLINICAL_ROLES = (Role.THERAPIST, Role.SUPERVISOR)


def public(view: F) -> F:
    """Mark a view as open to anonymous users (the login page)."""
    view._access_policy = "public"  # type: ignore[attr-defined]
    return view


def require_role(*roles: Role) -> Callable[[F], F]:
    """Let in only users holding one of ``roles``; others get 403. Anonymous users were already sent to login
    by the app-wide ``before_request`` hook."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated or not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        wrapper._access_policy = frozenset(roles)  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def any_signed_in_user(view: F) -> F:
    """Mark a view as open to every signed-in user, whatever their role (home page, logout)."""
    view._access_policy = "authenticated"  # type: ignore[attr-defined]
    return view


def access_policy(view: Callable[..., Any]) -> object:
    return getattr(view, "_access_policy", None)


def actor() -> User:
    """The signed-in user as a ``User`` (not Flask-Login's proxy), for services and audit rows."""
    user: User = current_user._get_current_object()
    return user


def care_scope(user: User) -> ColumnElement[bool]:
    """SQL condition selecting the patients in ``user``'s care: their care teams, and their supervisees'."""
    if not user.is_clinician:
        return false()
    on_team: ColumnElement[bool] = CareTeamMember.user_id == user.id
    if user.is_supervisor:
        # One IN over the user and their supervisees, not "own OR supervisees'": PostgreSQL cannot turn an OR with
        # a subquery into a join, and estimated such a scope at most of the clinic (4,218 of 5,000 patients for
        # ~500), so the dashboard's rules scanned every note of the clinic instead of seeking the caseload's.
        team = select(User.id).where(
            or_(User.id == user.id, and_(User.supervisor_id == user.id, User.clinic_id == user.clinic_id))
        )
        on_team = CareTeamMember.user_id.in_(team)
    visible_ids = select(CareTeamMember.patient_id).where(on_team)
    return and_(Patient.clinic_id == user.clinic_id, Patient.id.in_(visible_ids))


def emergency_scope(user: User) -> ColumnElement[bool]:
    """SQL condition selecting the patients ``user`` holds an unexpired emergency-access grant for."""
    if not user.is_clinician:
        return false()
    granted = select(EmergencyAccess.patient_id).where(
        EmergencyAccess.user_id == user.id, EmergencyAccess.expires_at > utcnow()
    )
    return and_(Patient.clinic_id == user.clinic_id, Patient.id.in_(granted))


def patient_scope(user: User) -> ColumnElement[bool]:
    """SQL condition selecting exactly the patients ``user`` may see."""
    return or_(care_scope(user), emergency_scope(user))


def can_view_patient(user: User, patient_id: int) -> bool:
    found = db.session.scalar(select(Patient.id).where(Patient.id == patient_id, patient_scope(user)))
    return found is not None


def get_patient_for_user_or_404(user: User, patient_id: int, *options: LoaderOption) -> Patient:
    """The patient, if ``user`` may see it. Seen under an emergency grant, the request is marked so every audit
    row it writes for this patient is flagged, and every page shows the banner.

    :raise 404: the patient does not exist, or ``user`` may not see it (the same answer, so ids outside a
        caseload cannot be probed). The refusal is audited and committed before the 404 is raised.
    """
    query = select(Patient).where(Patient.id == patient_id).options(*options)
    patient: Patient | None = db.session.scalar(query.where(care_scope(user)))
    if patient is None:
        patient = db.session.scalar(query.where(emergency_scope(user)))
        if patient is not None:
            audit.mark_emergency_access(patient.id)
    if patient is None:
        audit.record(
            user,
            "patient.access_denied",
            f"Refused access to patient #{patient_id}",
            target_type="patient",
            target_id=patient_id,
        )
        db.session.commit()
        abort(404)
    return patient


#: Why an export or a questionnaire link is refused on a record opened under emergency access.
EMERGENCY_VIEW_ONLY = (
    "Emergency access is for viewing this record only: {what} needs a place on the patient's care team (or "
    "supervising a therapist on it). Ask the care team, or their supervisor, to do it."
)


def require_care(user: User, patient: Patient, what: str) -> None:
    """Refuse what goes beyond viewing a record (exporting it, sending the patient a questionnaire link) when
    ``user`` reaches ``patient`` only under an emergency-access grant: the grant is for reading in an emergency,
    and a copy or a link outlives it. One query; call it after the patient was loaded for ``user``.

    :raise 403: ``patient`` is outside ``user``'s care scope; the refusal is audited and committed first.
    """
    if db.session.scalar(select(Patient.id).where(Patient.id == patient.id, care_scope(user))) is not None:
        return
    audit.record(
        user,
        "patient.emergency_refused",
        f"Refused {what} under emergency access (view only)",
        patient=patient,
        target_type="patient",
        target_id=patient.id,
        data={"emergency_access": True},
    )
    db.session.commit()
    abort(403, description=EMERGENCY_VIEW_ONLY.format(what=what[0].upper() + what[1:]))


def clinic_users(user: User) -> ColumnElement[bool]:
    """SQL condition selecting the staff accounts of ``user``'s clinic."""
    return User.clinic_id == user.clinic_id


def assignable_therapists(actor: User) -> ColumnElement[bool]:
    """Therapists ``actor`` may put on a care team: any active therapist of the same clinic."""
    return and_(clinic_users(actor), User.is_therapist.is_(True), User.active.is_(True))


def may_export_in_bulk(user: User) -> bool:
    """The bulk FHIR export from the web is for supervisors, and for admins who also hold a clinical role."""
    return user.is_clinician and (user.is_supervisor or user.is_admin)


def bulk_export_scope(user: User) -> ColumnElement[bool]:
    """SQL condition selecting the patients a bulk export by ``user`` holds: exactly their care scope (their care
    teams, and a supervisor's supervisees' patients), so an export never reaches a record the account cannot open
    (an admin role adds nothing; emergency grants are for viewing one record, never for exporting). A whole clinic
    leaves only by the server operator's ``flask fhir export --clinic`` on the command line."""
    return care_scope(user) if may_export_in_bulk(user) else false()


def research_export_scope(user: User) -> ColumnElement[bool]:
    """SQL condition selecting the patients of a supervisor's de-identified research export: those of their care
    scope who agreed to research use (``Patient.research_consent``)."""
    return and_(care_scope(user), Patient.research_consent.is_(True)) if user.is_supervisor else false()
