"""Gathers the gate's facts about one patient from the database: a fixed handful of queries whatever the length of
the patient's history (phase moves, screening, medications, sessions, measure results, the note's readings, and the
laboratory results a protocol requires)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from tracker.clinics import clinic_of
from tracker.database import AnySession
from tracker.eligibility import Recorded, record_for
from tracker.gate.facts import Administration, Door, Facts, HoldingAlert, LabFact, Medication, Reading, Review, Visit
from tracker.labs.queries import current as current_lab
from tracker.models import (
    AlertSource,
    CareRole,
    CareTeamMember,
    LabResult,
    MeasureResult,
    Patient,
    Phase,
    PhaseTransition,
    SafetyAlert,
    ScreeningAnswer,
    ScreeningChecklist,
    ScreeningReview,
    SessionKind,
    SessionNote,
    TherapySession,
    User,
    VitalReading,
    session_therapist,
)
from tracker.models import Medication as MedicationRow
from tracker.protocols import Protocol
from tracker.schedule import Dated, Settings

#: Administration columns of ``SessionNote`` the gate reads.
ADMINISTRATION_FIELDS = tuple(Administration.__dataclass_fields__)


def dosing_entries(db: AnySession, patient_id: int) -> dict[int, datetime]:
    """Dosing cycle -> when the patient moved into dosing for it (a return from a hold starts no new cycle)."""
    rows = db.execute(
        select(PhaseTransition.from_phase, PhaseTransition.created_at)
        .where(PhaseTransition.patient_id == patient_id, PhaseTransition.to_phase == Phase.DOSING)
        .order_by(PhaseTransition.id)
    )
    entries: dict[int, datetime] = {}
    for source, when in rows:
        if source is not Phase.ON_HOLD:
            entries[len(entries) + 1] = when
    return entries


@dataclass(frozen=True)
class _Screening:
    started: bool = False
    signed_off_at: datetime | None = None
    record_at_sign_off: dict[str, bool] | None = None
    answers: tuple[Recorded, ...] = ()
    reviews: tuple[Review, ...] = ()


def _screening(db: AnySession, patient: Patient) -> _Screening:
    row = db.execute(
        select(ScreeningChecklist.id, ScreeningChecklist.signed_off_at, ScreeningChecklist.record_at_sign_off)
        .where(ScreeningChecklist.patient_id == patient.id, ScreeningChecklist.protocol_code == patient.protocol_code)
        .order_by(ScreeningChecklist.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return _Screening()
    checklist_id, signed_off_at, record_at_sign_off = row
    answers = tuple(
        Recorded(a.id, a.item_id, a.answer.value, a.value, a.done_on, a.answered_at)
        for a in db.execute(
            select(
                ScreeningAnswer.id,
                ScreeningAnswer.item_id,
                ScreeningAnswer.answer,
                ScreeningAnswer.value,
                ScreeningAnswer.done_on,
                ScreeningAnswer.answered_at,
            )
            .where(ScreeningAnswer.checklist_id == checklist_id)
            .order_by(ScreeningAnswer.id)
        )
    )
    reviews = tuple(
        Review(r.item_id, r.decision.value, r.rationale, r.basis, r.decided_at)
        for r in db.execute(
            select(
                ScreeningReview.item_id,
                ScreeningReview.decision,
                ScreeningReview.rationale,
                ScreeningReview.basis,
                ScreeningReview.decided_at,
            )
            .where(ScreeningReview.checklist_id == checklist_id)
            .order_by(ScreeningReview.id)
        )
    )
    return _Screening(True, signed_off_at, record_at_sign_off, answers, reviews)


def _medications(db: AnySession, patient_id: int) -> tuple[Medication, ...]:
    return tuple(
        Medication(m.id, m.name, m.drug_class, m.started_on, m.stopped_on, m.taper_end_on)
        for m in db.execute(
            select(
                MedicationRow.id,
                MedicationRow.name,
                MedicationRow.drug_class,
                MedicationRow.started_on,
                MedicationRow.stopped_on,
                MedicationRow.taper_end_on,
            )
            .where(MedicationRow.patient_id == patient_id)
            .order_by(MedicationRow.id)
        )
    )


def _visits(db: AnySession, patient_id: int) -> tuple[Visit, ...]:
    therapists = (
        select(func.count())
        .select_from(session_therapist)
        .join(User, User.id == session_therapist.c.user_id)
        .where(session_therapist.c.session_id == TherapySession.id, User.is_therapist.is_(True))
        .correlate(TherapySession)
        .scalar_subquery()
    )
    rows = db.execute(
        select(
            TherapySession.id,
            TherapySession.kind,
            TherapySession.cycle,
            TherapySession.held_at,
            SessionNote.signed_at,
            SessionNote.dose_given_at,
            therapists,
            TherapySession.duration_minutes,
        )
        .outerjoin(SessionNote, SessionNote.session_id == TherapySession.id)
        .where(TherapySession.patient_id == patient_id)
        .order_by(TherapySession.id)
    )
    return tuple(
        Visit(row.id, row.kind, row.cycle, row.held_at, row.signed_at, row.dose_given_at, row[6], row.duration_minutes)
        for row in rows
    )


def _results(db: AnySession, patient_id: int) -> tuple[Dated, ...]:
    rows = list(
        db.execute(
            select(
                MeasureResult.id, MeasureResult.instrument, MeasureResult.administered_on, MeasureResult.supersedes_id
            ).where(MeasureResult.patient_id == patient_id)
        )
    )
    replaced = {row.supersedes_id for row in rows if row.supersedes_id is not None}
    return tuple(Dated(row.id, row.instrument, row.administered_on) for row in rows if row.id not in replaced)


def _labs(db: AnySession, patient_id: int, protocol: Protocol | None) -> tuple[LabFact, ...]:
    """The current results of the markers the protocol requires: one query, and none for a protocol that requires
    no laboratory result (so the other protocols' gate reads exactly what it read before)."""
    required = sorted({r.marker for r in protocol.required_labs}) if protocol is not None else []
    if not required:
        return ()
    rows = db.execute(
        select(LabResult.marker, LabResult.collected_on, LabResult.flag)
        .where(LabResult.patient_id == patient_id, LabResult.marker.in_(required), current_lab())
        .order_by(LabResult.collected_on, LabResult.id)
    )
    return tuple(LabFact(row.marker, row.collected_on, row.flag) for row in rows)


def _co_therapists(db: AnySession, patient_id: int) -> int:
    return (
        db.scalar(
            select(func.count())
            .select_from(CareTeamMember)
            .where(CareTeamMember.patient_id == patient_id, CareTeamMember.role == CareRole.CO_THERAPIST)
        )
        or 0
    )


def _holding_alerts(db: AnySession, patient_id: int) -> tuple[HoldingAlert, ...]:
    """The patient's high-risk safety alerts (a handful at most), open or closed."""
    return tuple(
        HoldingAlert(
            row.id, AlertSource(row.source).label, row.summary, row.raised_at, row.acknowledged_at, row.session_id
        )
        for row in db.execute(
            select(
                SafetyAlert.id,
                SafetyAlert.source,
                SafetyAlert.summary,
                SafetyAlert.raised_at,
                SafetyAlert.acknowledged_at,
                SafetyAlert.session_id,
            )
            .where(SafetyAlert.patient_id == patient_id, SafetyAlert.high_risk.is_(True))
            .order_by(SafetyAlert.id)
        )
    )


def readings_of(db: AnySession, note_id: int | None) -> tuple[Reading, ...]:
    if note_id is None:
        return ()
    return tuple(
        Reading(r.taken_at, r.systolic, r.diastolic, r.heart_rate, r.temperature, r.spo2, r.id)
        for r in db.execute(
            select(
                VitalReading.id,
                VitalReading.taken_at,
                VitalReading.systolic,
                VitalReading.diastolic,
                VitalReading.heart_rate,
                VitalReading.temperature,
                VitalReading.spo2,
            )
            .where(VitalReading.note_id == note_id)
            .order_by(VitalReading.taken_at, VitalReading.id)
        )
    )


def administration_of(note: SessionNote | None) -> Administration | None:
    if note is None:
        return None
    return Administration(**{name: getattr(note, name) for name in ADMINISTRATION_FIELDS})


def record_of(patient: Patient) -> dict[str, bool]:
    """The facts of the patient's record that screening items may depend on."""
    return {"pregnancy_possible": patient.pregnancy_possible}


def visit_of(row: TherapySession, present: Sequence[User] | None = None) -> Visit:
    """The gate's view of a session as it would be saved (``present``: the people present after the change; None
    keeps the row's, which must be loaded)."""
    people = row.present if present is None else present
    return Visit(
        row.id,
        row.kind,
        row.cycle,
        row.held_at,
        None,
        None,
        sum(1 for u in people if u.is_therapist),
        row.duration_minutes,
    )


def _note_of(db: AnySession, session_id: int) -> tuple[Administration | None, int | None]:
    """A held session's note as the gate reads it (its administration and id), for a change of the session itself."""
    note = db.scalar(select(SessionNote).where(SessionNote.session_id == session_id))
    return (administration_of(note), note.id) if note is not None else (None, None)


def load_facts(
    db: AnySession,
    patient: Patient,
    protocol: Protocol | None,
    door: Door,
    *,
    now: datetime,
    at: datetime | None = None,
    visit: Visit | None = None,
    recording: bool = False,
    administration: Administration | None = None,
    note_id: int | None = None,
    follow_up_ok: bool = False,
) -> Facts:
    """The facts for ``door``: at a session door, ``visit`` is the dosing session concerned as it would be saved
    (its time is the moment judged) and ``administration`` the note's values as they would be saved; a move is
    judged at ``at`` (default ``now``)."""
    entries = dosing_entries(db, patient.id)
    current = len(entries)
    visits = _visits(db, patient.id)
    if visit is not None:
        visits = tuple(v for v in visits if v.id != visit.id or visit.id is None)
        cycle = visit.cycle or current
        moment = visit.held_at or now
    else:
        cycle = current if patient.phase is Phase.ON_HOLD or door is Door.MOVE_TO_INTEGRATION else current + 1
        moment = at or now
    if door is Door.SESSION and visit is not None and visit.id is not None and administration is None:
        administration, note_id = _note_of(db, visit.id)  # moving a session must keep its dose inside it
    screening = _screening(db, patient)
    clinic = clinic_of(db, patient.clinic_id)  # no statement in a request: loaded with the signed-in user
    return Facts(
        protocol=protocol,
        protocol_code=patient.protocol_code,
        now=now,
        at=moment,
        cycle=cycle,
        phase=patient.phase,
        enrolled_at=patient.created_at,
        current_cycle=current,
        record=record_for(record_of(patient), screening.record_at_sign_off),
        entered_dosing=entries,
        signed_off_at=screening.signed_off_at,
        has_checklist=screening.started,
        answers=screening.answers,
        reviews=screening.reviews,
        medications=_medications(db, patient.id),
        visits=visits,
        results=_results(db, patient.id),
        settings=Settings.of_clinic(clinic),
        co_therapists=_co_therapists(db, patient.id),
        session=visit,
        recording=recording,
        administration=administration,
        readings=readings_of(db, note_id),
        follow_up_ok=follow_up_ok,
        tz=clinic.zone,
        alerts=_holding_alerts(db, patient.id),
        labs=_labs(db, patient.id, protocol),
    )


def dosing_visit(visits: Sequence[Visit], cycle: int) -> Visit | None:
    return next((v for v in visits if v.kind is SessionKind.DOSING and v.cycle == cycle), None)
