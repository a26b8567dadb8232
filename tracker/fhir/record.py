"""What the FHIR export reads of a group of patients, loaded in a constant number of queries per group.

Signed notes only: a note's vital signs, doses and adverse events leave the app once they are signed, as in the
PDF reports (an unsigned note may still change; what it holds that is urgent has raised a safety alert, which
leaves at once as a Flag). Current results only: a corrected result is replaced by its correction, which keeps the
original's resource ids (``result_roots``) and is exported with the status "corrected". Safety alerts, open or
acknowledged. Private process notes are never loaded.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.interfaces import LoaderOption

from tracker.database import AnySession
from tracker.models import (
    CareTeamMember,
    Clinic,
    IntegrationPlanVersion,
    MeasureResult,
    Medication,
    Patient,
    SafetyAlert,
    SessionNote,
    TherapySession,
    User,
)
from tracker.outcomes.queries import current_results


@dataclass
class PatientRecord:
    patient: Patient
    clinic: Clinic
    #: Held sessions, oldest first, with the therapists present.
    sessions: list[TherapySession] = field(default_factory=list)
    #: Session id -> its signed note (vital signs, adverse events, co-signature decisions loaded).
    notes: dict[int, SessionNote] = field(default_factory=dict)
    #: Current results (nothing supersedes them), oldest first.
    results: list[MeasureResult] = field(default_factory=list)
    #: Result id -> the id of the first result of its correction chain (whose resource ids every correction keeps).
    result_roots: dict[int, int] = field(default_factory=dict)
    #: Safety alerts, oldest first.
    alerts: list[SafetyAlert] = field(default_factory=list)
    medications: list[Medication] = field(default_factory=list)
    plan: IntegrationPlanVersion | None = None


def patient_options() -> tuple[LoaderOption, ...]:
    """Loader options for the patients given to ``load_records``: care team and phase history."""
    return (
        selectinload(Patient.care_team).joinedload(CareTeamMember.user),
        selectinload(Patient.transitions),
    )


def load_records(db: AnySession, clinic: Clinic, patients: Sequence[Patient]) -> list[PatientRecord]:
    """The records of ``patients`` (loaded with ``patient_options``), in their order: seven queries for any
    number."""
    records = {p.id: PatientRecord(p, clinic) for p in patients}
    ids = list(records)
    if not ids:
        return []
    held = db.scalars(
        select(TherapySession)
        .where(TherapySession.patient_id.in_(ids), TherapySession.held_at.is_not(None))
        .options(selectinload(TherapySession.present))
        .order_by(TherapySession.held_at, TherapySession.id)
    )
    for held_session in held:
        records[held_session.patient_id].sessions.append(held_session)
    session_ids = {s.id: s.patient_id for r in records.values() for s in r.sessions}
    if session_ids:
        notes = db.scalars(
            select(SessionNote)
            .where(SessionNote.session_id.in_(list(session_ids)), SessionNote.signed_at.is_not(None))
            .options(
                selectinload(SessionNote.vitals),
                selectinload(SessionNote.adverse_events),
                selectinload(SessionNote.cosign_decisions),
            )
        )
        for note in notes:
            records[session_ids[note.session_id]].notes[note.session_id] = note
    results: dict[int, list[MeasureResult]] = defaultdict(list)
    for row in db.scalars(
        select(MeasureResult)
        .where(MeasureResult.patient_id.in_(ids))
        .order_by(MeasureResult.administered_on, MeasureResult.id)
    ):
        results[row.patient_id].append(row)
    for patient_id, rows in results.items():
        records[patient_id].results = current_results(rows)
        records[patient_id].result_roots = _roots(rows)
    for alert in db.scalars(
        select(SafetyAlert).where(SafetyAlert.patient_id.in_(ids)).order_by(SafetyAlert.raised_at, SafetyAlert.id)
    ):
        records[alert.patient_id].alerts.append(alert)
    for medication in db.scalars(select(Medication).where(Medication.patient_id.in_(ids)).order_by(Medication.id)):
        records[medication.patient_id].medications.append(medication)
    newest = (
        select(IntegrationPlanVersion.patient_id, func.max(IntegrationPlanVersion.number).label("number"))
        .where(IntegrationPlanVersion.patient_id.in_(ids))
        .group_by(IntegrationPlanVersion.patient_id)
        .subquery()
    )
    for plan in db.scalars(
        select(IntegrationPlanVersion).join(
            newest,
            (IntegrationPlanVersion.patient_id == newest.c.patient_id)
            & (IntegrationPlanVersion.number == newest.c.number),
        )
    ):
        records[plan.patient_id].plan = plan
    return [records[p.id] for p in patients]


def _roots(rows: Sequence[MeasureResult]) -> dict[int, int]:
    """Each result's chain root: corrections point back through ``supersedes_id`` to the result first recorded."""
    parent = {row.id: row.supersedes_id for row in rows}
    roots: dict[int, int] = {}
    for row in rows:
        root = row.id
        while parent.get(root) is not None:
            root = parent[root]  # type: ignore[assignment]
        roots[row.id] = root
    return roots


def staff_ids(records: Sequence[PatientRecord]) -> set[int]:
    """Every staff account the records refer to (care teams, sessions, signatures, results, plans)."""
    found: set[int] = set()
    for record in records:
        found.update(m.user_id for m in record.patient.care_team)
        found.update(t.actor_id for t in record.patient.transitions)
        for held in record.sessions:
            found.update(u.id for u in held.present)
        for note in record.notes.values():
            found.add(note.signed_by_id or note.author_id)
            found.update(d.supervisor_id for d in note.cosign_decisions)
        found.update(r.entered_by_id for r in record.results)
        if record.plan is not None:
            found.add(record.plan.created_by_id)
        found.update(a.acknowledged_by_id for a in record.alerts if a.acknowledged_by_id is not None)
    return found


def load_staff(db: AnySession, ids: set[int]) -> dict[int, User]:
    if not ids:
        return {}
    return {u.id: u for u in db.scalars(select(User).where(User.id.in_(sorted(ids))))}
