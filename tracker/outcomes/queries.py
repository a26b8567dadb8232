"""What the measure pages show, loaded in a constant number of queries whatever the length of the history: a
patient's results, dosing dates, schedule and trends; the open alerts of a patient; the supervisor's queue.

Reads only: the pages audit what they show, and changes go through ``tracker.outcomes.services``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, tzinfo

from sqlalchemy import Select, select
from sqlalchemy.orm import joinedload

from tracker.clinics import clinic_of
from tracker.clinictime import day_of
from tracker.database import AnySession
from tracker.models import (
    CareTeamMember,
    MeasureResult,
    Patient,
    Phase,
    PhaseTransition,
    SafetyAlert,
    SessionKind,
    TherapySession,
    User,
)
from tracker.outcomes.trends import Trend, trends
from tracker.permissions import care_scope
from tracker.protocols import Protocol
from tracker.schedule import Course, Dated, Occurrence, Settings, schedule


def dosing_dates(db: AnySession, patient_id: int, tz: tzinfo) -> list[date]:
    """The days the patient was dosed (on the clinic's calendar, ``tz``), oldest first: the only place the outcome
    pages read sessions.

    A held session of kind dosing gives its day. A dosing cycle (a move into dosing, not a return from a hold) with
    no dosing session logged between its start and the next cycle gives the day of the move, so a clinic that
    moves patients through the phases but does not log sessions still sees its dosing days. Two queries.
    """
    held = sorted(
        day_of(when, tz)
        for when in db.scalars(  # the query leaves out sessions not held yet (held_at NULL)
            select(TherapySession.held_at).where(
                TherapySession.patient_id == patient_id,
                TherapySession.kind == SessionKind.DOSING,
                TherapySession.held_at.is_not(None),
            )
        )
        if when is not None
    )
    starts = sorted(
        day_of(when, tz)
        for when in db.scalars(
            select(PhaseTransition.created_at).where(
                PhaseTransition.patient_id == patient_id,
                PhaseTransition.to_phase == Phase.DOSING,
                PhaseTransition.from_phase != Phase.ON_HOLD,
            )
        )
    )
    return dosing_days(held, starts)


def dosing_days(held: Sequence[date], starts: Sequence[date]) -> list[date]:
    """``dosing_dates``'s rule as a pure function of the days dosing sessions were held and the days of the moves
    into dosing (both sorted), for callers that load them for many patients at once (the research export)."""
    days = set(held)
    for index, start in enumerate(starts):
        end = starts[index + 1] if index + 1 < len(starts) else None
        if not any(start <= day and (end is None or day < end) for day in held):
            days.add(start)
    return sorted(days)


def results_of(db: AnySession, patient_id: int) -> list[MeasureResult]:
    """Every result of the patient, superseded ones included, newest administration first (one query)."""
    return list(
        db.scalars(
            select(MeasureResult)
            .where(MeasureResult.patient_id == patient_id)
            .options(joinedload(MeasureResult.entered_by))
            .order_by(MeasureResult.administered_on.desc(), MeasureResult.id.desc())
        )
    )


def superseded_by(results: Sequence[MeasureResult]) -> dict[int, int]:
    """Result id -> the id of the correction that replaced it."""
    return {r.supersedes_id: r.id for r in results if r.supersedes_id is not None}


def current_results(results: Sequence[MeasureResult]) -> list[MeasureResult]:
    """The results nothing supersedes (what the schedule, the charts and the gate count)."""
    replaced = superseded_by(results)
    return [r for r in results if r.id not in replaced]


def completed_on(patient: Patient, tz: tzinfo) -> date | None:
    """The clinic's day of the move to completed (``patient.transitions`` must be loaded)."""
    moves = [day_of(t.created_at, tz) for t in patient.transitions if t.to_phase is Phase.COMPLETED]
    return moves[-1] if moves else None


@dataclass(frozen=True)
class MeasuresState:
    """A patient's measures as the pages show them."""

    protocol: Protocol | None
    #: Every result, newest first, superseded ones included.
    results: list[MeasureResult]
    current: list[MeasureResult]
    replaced_by: dict[int, int]
    dosing: list[date]
    #: None when nothing is scheduled: unknown protocol, or a discontinued patient.
    schedule: list[Occurrence] | None
    trends: list[Trend]

    @property
    def attention(self) -> list[Occurrence]:
        return [o for o in self.schedule or [] if o.needs_attention]


def measures_state(
    db: AnySession,
    patient: Patient,
    protocol: Protocol | None,
    today: date,
    settings: Settings | None = None,
    with_trends: bool = True,
) -> MeasuresState:
    """Results, dosing dates, schedule and (unless ``with_trends`` is False: the patient page shows no charts)
    trends, in three queries (``patient.transitions`` must be loaded). ``today`` is the clinic's date; the windows
    are the clinic's unless ``settings`` are given."""
    clinic = clinic_of(db, patient.clinic_id)
    results = results_of(db, patient.id)
    current = current_results(results)
    dosing = dosing_dates(db, patient.id, clinic.zone)
    planned = [m.instrument for m in protocol.measures] if protocol else []
    occurrences = None
    if protocol is not None and patient.phase is not Phase.DISCONTINUED:
        course = Course(protocol.sessions.dosing, tuple(dosing), completed_on(patient, clinic.zone))
        dated = [Dated(r.id, r.instrument, r.administered_on) for r in current]
        occurrences = schedule(protocol.measures, course, dated, today, settings or Settings.of_clinic(clinic))
    return MeasuresState(
        protocol=protocol,
        results=results,
        current=current,
        replaced_by=superseded_by(results),
        dosing=dosing,
        schedule=occurrences,
        trends=trends(planned, current, dosing) if with_trends else [],
    )


def open_alerts(db: AnySession, patient_id: int) -> list[SafetyAlert]:
    """The patient's alerts not yet acknowledged, oldest first, with their results (one query)."""
    return list(
        db.scalars(
            select(SafetyAlert)
            .where(SafetyAlert.patient_id == patient_id, SafetyAlert.acknowledged_at.is_(None))
            .options(joinedload(SafetyAlert.result).joinedload(MeasureResult.entered_by))
            .order_by(SafetyAlert.raised_at, SafetyAlert.id)
        )
    )


def alerts_of(db: AnySession, patient_id: int) -> list[SafetyAlert]:
    """Every alert of the patient, open and acknowledged, newest first (one query)."""
    return list(
        db.scalars(
            select(SafetyAlert)
            .where(SafetyAlert.patient_id == patient_id)
            .options(
                joinedload(SafetyAlert.result).joinedload(MeasureResult.entered_by),
                joinedload(SafetyAlert.acknowledged_by),
            )
            .order_by(SafetyAlert.raised_at.desc(), SafetyAlert.id.desc())
        )
    )


def patients_with_open_alerts(db: AnySession, patient_ids: Sequence[int]) -> set[int]:
    """Which of these patients have an open alert (one query; for the caseload list)."""
    if not patient_ids:
        return set()
    rows = db.scalars(
        select(SafetyAlert.patient_id)
        .where(SafetyAlert.patient_id.in_(patient_ids), SafetyAlert.acknowledged_at.is_(None))
        .distinct()
    )
    return set(rows)


def alert_queue(actor: User) -> Select[SafetyAlert]:
    """Open alerts of every patient in ``actor``'s care, oldest first, for ``db.paginate`` (three queries a page:
    the count, the alerts with their results and patients, and the patients' care teams).

    Wider than the screening review queue on purpose: a supervisor sees the open alerts of their own care teams as
    well as their supervisees', since an alert must not wait for the one person whose queue it landed in. Patients
    opened under an emergency grant are left out: they are someone else's care, and stay in their queues.
    """
    return (
        select(SafetyAlert)
        .join(Patient, Patient.id == SafetyAlert.patient_id)
        .where(SafetyAlert.acknowledged_at.is_(None), care_scope(actor))
        .options(
            joinedload(SafetyAlert.result).joinedload(MeasureResult.entered_by),
            joinedload(SafetyAlert.patient).selectinload(Patient.care_team).joinedload(CareTeamMember.user),
        )
        .order_by(SafetyAlert.raised_at, SafetyAlert.id)
    )
