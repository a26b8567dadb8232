"""Which patients a batch prints, in the order it prints them (family name, given name, record number).

"Seen on a day" and "a therapist's caseload in a phase" read only the patients the user may see (a therapist's
batch of today's patients is their own; a colleague's caseload shows only the patients shared with them), so no
count or message tells anyone the size of a caseload they cannot see. "Ticked patients" name patients directly, so
they are taken as asked and checked against the user's scope by ``exports.export_batch``, which refuses the whole
batch if any is outside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import select

from tracker.clinics import clinic_of
from tracker.clinictime import day_bounds
from tracker.database import AnySession
from tracker.models import CareTeamMember, Patient, Phase, TherapySession, User
from tracker.permissions import patient_scope

ORDER = (Patient.family_name, Patient.given_name, Patient.record_number)


def seen_on(db: AnySession, actor: User, day: date) -> list[int]:
    """Patients in ``actor``'s scope with a session held on ``day`` (the clinic's calendar day)."""
    start, end = day_bounds(day, clinic_of(db, actor.clinic_id).zone)
    held = select(TherapySession.patient_id).where(TherapySession.held_at >= start, TherapySession.held_at < end)
    return list(db.scalars(select(Patient.id).where(Patient.id.in_(held), patient_scope(actor)).order_by(*ORDER)))


def caseload_in_phase(db: AnySession, actor: User, therapist_id: int, phase: Phase) -> list[int]:
    """Patients on ``therapist_id``'s care teams in ``phase`` that ``actor`` may see."""
    teams = select(CareTeamMember.patient_id).where(CareTeamMember.user_id == therapist_id)
    return list(
        db.scalars(
            select(Patient.id)
            .where(Patient.id.in_(teams), Patient.phase == phase, patient_scope(actor))
            .order_by(*ORDER)
        )
    )


def in_order(db: AnySession, patient_ids: Sequence[int]) -> list[int]:
    """The ticked ids in print order; ids of no patient at all are kept at the end (the export refuses them)."""
    known = list(db.scalars(select(Patient.id).where(Patient.id.in_(patient_ids)).order_by(*ORDER)))
    return known + [pid for pid in dict.fromkeys(patient_ids) if pid not in set(known)]


def pickable(db: AnySession, actor: User, limit: int) -> list[Patient]:
    """Patients ``actor`` may tick on the batch page: their scope, active phases first by name."""
    return list(
        db.scalars(
            select(Patient)
            .where(patient_scope(actor), Patient.phase.in_([Phase.PREPARATION, Phase.DOSING, Phase.INTEGRATION]))
            .order_by(*ORDER)
            .limit(limit)
        )
    )
