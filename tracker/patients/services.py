"""Patient operations. Each takes the acting user, changes the models, writes the audit row, and leaves the
commit to the caller (the view or CLI command), so a change and its audit row land together."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import date
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from tracker import audit, workflow
from tracker.extensions import db
from tracker.gate.load import dosing_entries
from tracker.models import CareRole, CareTeamMember, Indication, Patient, Phase, PhaseTransition, SexAtBirth, User
from tracker.permissions import assignable_therapists, patient_scope
from tracker.protocols import Protocol
from tracker.screening.services import start_checklist
from tracker.validators import FieldError


class PatientError(FieldError):
    """A patient change refused for a reason the form shows next to ``field``."""


class StaleEdit(Exception):
    """The patient changed since the form was opened; ``current`` holds the saved values."""

    def __init__(self, current: dict[str, Any]) -> None:
        super().__init__("stale edit")
        self.current = current


@dataclass
class PatientDetails:
    """The fields a clinician edits on the patient form (never phase, clinic or version: no mass assignment)."""

    given_name: str
    family_name: str
    date_of_birth: date
    record_number: str
    indication: Indication
    protocol_code: str
    phone: str | None = None
    email: str | None = None
    support_contact_name: str | None = None
    support_contact_relationship: str | None = None
    support_contact_phone: str | None = None
    sex_at_birth: SexAtBirth | None = None
    can_become_pregnant: bool | None = None
    #: Agreed to the de-identified research use of their measures (``tracker.research``).
    research_consent: bool = False


DETAIL_FIELDS = [f.name for f in fields(PatientDetails)]


@dataclass(frozen=True)
class CareTeam:
    lead_id: int
    co_therapist_ids: tuple[int, ...] = ()


def _check_record(details: PatientDetails) -> None:
    """The record's facts agree with each other (they decide which screening tests apply).

    :raise PatientError: on ``can_become_pregnant``.
    """
    if details.sex_at_birth is SexAtBirth.MALE and details.can_become_pregnant is True:
        raise PatientError(
            "can_become_pregnant",
            "The record says male at birth, so a pregnancy is not possible: correct the sex at birth, or answer no.",
        )


def _check_protocol(details: PatientDetails, protocols: dict[str, Protocol]) -> None:
    protocol = protocols.get(details.protocol_code)
    if protocol is None:
        raise PatientError("protocol_code", "Choose a protocol from the list.")
    if details.indication not in protocol.indications:
        wanted = ", ".join(i.label for i in protocol.indications)
        raise PatientError("protocol_code", f"{protocol.name} is for: {wanted}.")


def _check_team(actor: User, team: CareTeam) -> dict[int, User]:
    ids = {team.lead_id, *team.co_therapist_ids}
    if team.lead_id in team.co_therapist_ids:
        raise PatientError("co_therapist_ids", "The lead therapist cannot also be listed as a co-therapist.")
    therapists = {
        u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids), assignable_therapists(actor)))
    }
    if team.lead_id not in therapists:
        raise PatientError("lead_therapist_id", "Choose an active therapist of your clinic.")
    if set(team.co_therapist_ids) - therapists.keys():
        raise PatientError("co_therapist_ids", "Choose active therapists of your clinic.")
    visible = actor.id in ids or (actor.is_supervisor and any(u.supervisor_id == actor.id for u in therapists.values()))
    if not visible:
        raise PatientError(
            "lead_therapist_id",
            "You would lose access to this patient: put yourself, or a therapist you supervise, on the care team.",
        )
    return therapists


def _apply_team(patient: Patient, team: CareTeam) -> tuple[dict[str, str], dict[str, str]]:
    """Make the care team match ``team``; return the team before and after as ``{user id: role}`` for the audit."""
    wanted = {team.lead_id: CareRole.LEAD, **{uid: CareRole.CO_THERAPIST for uid in team.co_therapist_ids}}
    before = {str(m.user_id): m.role.value for m in patient.care_team}
    for member in list(patient.care_team):
        if member.user_id not in wanted:
            patient.care_team.remove(member)
        else:
            member.role = wanted[member.user_id]
    present = {m.user_id for m in patient.care_team}
    for user_id, role in wanted.items():
        if user_id not in present:
            patient.care_team.append(CareTeamMember(user_id=user_id, role=role))
    return before, {str(uid): role.value for uid, role in wanted.items()}


def _check_protocol_change(patient: Patient) -> None:
    """A protocol changes only in preparation, or on hold (the patient then resumes in preparation): a patient in
    dosing or integration would otherwise continue under a protocol whose screening never happened.

    :raise PatientError: on ``protocol_code``.
    """
    if dosing_entries(db.session, patient.id):
        raise PatientError(
            "protocol_code",
            "Dosing has begun under this protocol, so it cannot be changed: the number of dosing sessions, the "
            "first session's dose and the spacing between doses belong to this course. Complete or discontinue "
            "this course; another protocol is a new course, with its own enrolment and screening.",
        )
    if patient.phase not in (Phase.PREPARATION, Phase.ON_HOLD):
        raise PatientError(
            "protocol_code",
            f"The protocol can be changed only in preparation or on hold (the patient is in "
            f"{patient.phase.label.lower()}): put the patient on hold first; they resume in preparation, with a "
            "new screening for the new protocol.",
        )


def _flush_or_duplicate() -> None:
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise PatientError("record_number", "Another patient of this clinic already has this record number.") from None


def _record_number_taken(actor: User, record_number: str, exclude_id: int | None = None) -> bool:
    """Whether another patient of the clinic has this record number, whatever its case ("h-1000" is "H-1000")."""
    query = select(Patient.id).where(
        Patient.clinic_id == actor.clinic_id, func.lower(Patient.record_number) == record_number.casefold()
    )
    if exclude_id is not None:
        query = query.where(Patient.id != exclude_id)
    return db.session.scalar(query) is not None


def possible_duplicates(actor: User, details: PatientDetails) -> list[Patient]:
    """Patients of the clinic with the same names (in any case) and date of birth: one person enrolled twice splits
    their record, so enrolment asks first."""
    given = " ".join(details.given_name.lower().split())
    family = " ".join(details.family_name.lower().split())
    return list(
        db.session.scalars(
            select(Patient)
            .where(
                Patient.clinic_id == actor.clinic_id,
                # lower() on both sides, as the database lowers: casefold would make "ß" "ss" and miss "Straße"; the
                # names either way round ("Noble, Tina" typed as given name Noble).
                or_(
                    and_(func.lower(Patient.given_name) == given, func.lower(Patient.family_name) == family),
                    and_(func.lower(Patient.given_name) == family, func.lower(Patient.family_name) == given),
                ),
                Patient.date_of_birth == details.date_of_birth,
            )
            .order_by(Patient.id)
            .limit(5)
        )
    )


def create_patient(actor: User, details: PatientDetails, team: CareTeam, protocols: dict[str, Protocol]) -> Patient:
    """Enrol a patient in ``actor``'s clinic, starting in preparation.

    :raise PatientError: unknown protocol, protocol not for this indication, bad care team, duplicate record number.
    """
    _check_record(details)
    _check_protocol(details, protocols)
    _check_team(actor, team)
    if _record_number_taken(actor, details.record_number):
        raise PatientError("record_number", "Another patient of this clinic already has this record number.")
    patient = Patient(clinic_id=actor.clinic_id, care_team=[], transitions=[], **vars(details))
    _, team_after = _apply_team(patient, team)
    db.session.add(patient)
    workflow.enrol(db.session, patient, actor)
    start_checklist(db.session, patient, actor, protocols)
    _flush_or_duplicate()
    audit.record(
        actor,
        "patient.create",
        f"Enrolled patient {patient.record_number}",
        patient=patient,
        target_type="patient",
        target_id=patient.id,
        data={"changes": audit.diff({}, {**vars(details), "care_team": team_after})},
    )
    return patient


def update_patient(
    actor: User,
    patient: Patient,
    details: PatientDetails,
    team: CareTeam,
    seen_version: int,
    protocols: dict[str, Protocol],
) -> dict[str, Any]:
    """Save an edit made from a form showing version ``seen_version``; return the field-level changes.

    :raise StaleEdit: someone saved the patient after the form was opened; nothing is changed.
    :raise PatientError: as for ``create_patient``.
    """
    if seen_version != patient.version_id:
        raise StaleEdit({name: getattr(patient, name) for name in DETAIL_FIELDS})
    _check_record(details)
    _check_protocol(details, protocols)
    _check_team(actor, team)
    if _record_number_taken(actor, details.record_number, exclude_id=patient.id):
        raise PatientError("record_number", "Another patient of this clinic already has this record number.")
    changes_protocol = details.protocol_code != patient.protocol_code
    if changes_protocol:
        _check_protocol_change(patient)
    before = {name: getattr(patient, name) for name in DETAIL_FIELDS}
    for name, value in vars(details).items():
        setattr(patient, name, value)
    if changes_protocol:
        if patient.phase is Phase.ON_HOLD:
            patient.held_from_phase = Phase.PREPARATION  # the new protocol starts with its own screening
        start_checklist(db.session, patient, actor, protocols)  # a new protocol needs a new screening
    changes = audit.diff(before, vars(details))
    team_before, team_after = _apply_team(patient, team)
    if team_before != team_after:
        changes["care_team"] = [team_before, team_after]
    if changes:
        _flush_or_duplicate()
        audit.record(
            actor,
            "patient.update",
            f"Edited patient {patient.record_number}",
            patient=patient,
            target_type="patient",
            target_id=patient.id,
            data={"changes": changes},
        )
    return changes


def change_phase(
    actor: User, patient: Patient, target: Phase, reason: str | None, protocol: Protocol | None
) -> PhaseTransition:
    """Move the patient through the workflow and audit it.

    :raise workflow.TransitionError: the move is not allowed now, with every reason.
    """
    source = patient.phase
    transition = workflow.move(db.session, patient, target, actor, protocol, reason)
    audit.record(
        actor,
        "patient.phase_change",
        f"{source.label} -> {target.label}",
        patient=patient,
        target_type="patient",
        target_id=patient.id,
        data={"changes": {"phase": [source.value, target.value]}, "reason": transition.reason},
    )
    return transition


SORTS: dict[str, tuple[Any, ...]] = {
    "name": (Patient.family_name, Patient.given_name, Patient.id),
    "record": (Patient.record_number, Patient.id),
    "dob": (Patient.date_of_birth, Patient.id),
    "phase": (Patient.phase, Patient.family_name, Patient.id),
    "changed": (Patient.phase_changed_at, Patient.id),
}


def search_words(search: str | None) -> list[str]:
    """The words of a search, each of which must match a name or the record number, in any order: "Noble, Tina",
    "tina noble" and "h-1000" all find the patient the list prints as "Noble, Tina" (H-1000)."""
    # lower(), as the database's lower() does: casefold would turn "ß" into "ss" and never match "Straße".
    return [word for word in re.split(r"[\s,;]+", (search or "").lower()) if word][:6]


def caseload_query(actor: User, search: str | None, sort: str, descending: bool) -> Select[Patient]:
    """The patients ``actor`` may see, filtered by name or record number, in the requested order."""
    query = (
        select(Patient)
        .where(patient_scope(actor))
        .options(selectinload(Patient.care_team).joinedload(CareTeamMember.user))
    )
    for word in search_words(search):
        term = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(
                *(
                    func.lower(column).like(term, escape="\\")
                    for column in (Patient.given_name, Patient.family_name, Patient.record_number)
                )
            )
        )
    columns = SORTS.get(sort, SORTS["name"])
    return query.order_by(*(c.desc() if descending else c.asc() for c in columns))


def therapist_choices(actor: User) -> list[User]:
    return list(db.session.scalars(select(User).where(assignable_therapists(actor)).order_by(User.full_name)))
