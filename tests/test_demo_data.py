"""The demo a clinician would believe: its dates in order (enrolled before anything happened, screening signed off
before the first dose, phase moves in time order), its sessions in office hours on each clinic's own clock (Sydney
and Denver), and every state the README says it holds actually there (today's dosing draft, with a reading out of
range, for every patient in dosing). Checked on the seeded demo, at two times of the UTC day, so each clinic is
loaded once in its morning and once in its evening."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

from tracker.clinictime import day_of
from tracker.demo import OFFICE_CLOSES, OFFICE_OPENS, demo_now, seed_demo
from tracker.extensions import db
from tracker.models import (
    Clinic,
    MeasureResult,
    Patient,
    Phase,
    PhaseTransition,
    ScreeningChecklist,
    SessionKind,
    SessionNote,
    TherapySession,
    VitalReading,
)


def _problems() -> list[str]:
    """Every way the seeded demo contradicts itself (an empty list: it holds together)."""
    problems: list[str] = []
    clinics = {c.id: c for c in db.session.scalars(select(Clinic))}
    patients = {p.id: p for p in db.session.scalars(select(Patient))}
    sessions: dict[int, list[TherapySession]] = defaultdict(list)
    for row in db.session.scalars(select(TherapySession).order_by(TherapySession.id)):
        sessions[row.patient_id].append(row)
    notes = {n.session_id: n for n in db.session.scalars(select(SessionNote))}
    flagged = {r.note_id for r in db.session.scalars(select(VitalReading)) if r.flags}
    moves: dict[int, list[PhaseTransition]] = defaultdict(list)
    for move in db.session.scalars(select(PhaseTransition).order_by(PhaseTransition.id)):
        moves[move.patient_id].append(move)
    signed_off: dict[int, list[datetime]] = defaultdict(list)
    for checklist in db.session.scalars(select(ScreeningChecklist)):
        if checklist.signed_off_at is not None:
            signed_off[checklist.patient_id].append(checklist.signed_off_at)
    results: dict[int, list[MeasureResult]] = defaultdict(list)
    for result in db.session.scalars(select(MeasureResult)):
        results[result.patient_id].append(result)
    for patient in patients.values():
        zone = clinics[patient.clinic_id].zone
        who = f"{patient.record_number} ({patient.protocol_code}, {patient.phase.value})"
        enrolled = patient.created_at
        dosings = sorted(
            (s for s in sessions[patient.id] if s.kind is SessionKind.DOSING and s.held_at),
            key=lambda s: s.held_at or enrolled,
        )
        for session in sessions[patient.id]:
            when = session.held_at or session.scheduled_at
            assert when is not None
            if when < enrolled:
                problems.append(f"{who}: a {session.kind.value} session before the enrolment")
            local = when.astimezone(zone).time()
            if not OFFICE_OPENS <= local <= OFFICE_CLOSES:
                problems.append(f"{who}: a {session.kind.value} session at {local:%H:%M} on the clinic's clock")
        if dosings:
            first = dosings[0].held_at
            assert first is not None
            if not any(at < first for at in signed_off[patient.id]):
                problems.append(f"{who}: dosed before the screening was signed off")
        times = [m.created_at for m in moves[patient.id]]
        if times != sorted(times):
            problems.append(f"{who}: phase moves out of time order")
        if any(t < enrolled for t in times):
            problems.append(f"{who}: a phase move before the enrolment")
        for result in results[patient.id]:
            if result.administered_on < day_of(enrolled, zone):
                problems.append(f"{who}: a {result.instrument} result before the enrolment")
        if patient.phase is Phase.DOSING:
            # The clinic's working day the demo was laid out on (the day before, when loaded before it began).
            today = day_of(demo_now(zone, datetime.now(UTC)), zone)
            todays = [s for s in dosings if s.held_at and day_of(s.held_at, zone) == today]
            drafts = [s for s in todays if s.id in notes and not notes[s.id].is_signed]
            if not drafts:
                problems.append(f"{who}: in dosing without today's dosing note as a draft")
            elif not any(notes[s.id].id in flagged for s in drafts):
                problems.append(f"{who}: today's dosing draft has no reading out of range")
    return problems


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 12, 3, 2, 30, tzinfo=UTC),  # Sydney 13:30, Denver 19:30 the day before
        datetime(2026, 12, 3, 16, 0, tzinfo=UTC),  # Sydney 03:00 the next day, Denver 09:00
    ],
    ids=["sydney-afternoon", "denver-morning"],
)
def test_the_seeded_demo_holds_together(protocols: dict[str, Any], moment: datetime) -> None:
    with time_machine.travel(moment, tick=False):
        assert seed_demo(protocols, patients_per_clinic=14)
        db.session.flush()
        problems = _problems()
        assert problems == [], "\n".join(problems)


@pytest.mark.parametrize(
    ("wall", "expected"),
    [
        ("2026-12-03T03:00", "2026-12-03T14:00"),  # 14:00 in Sydney: now itself
        ("2026-12-03T00:00", "2026-12-02T16:00"),  # 11:00 there, before the day's notes: the day before at 16:00
        ("2026-12-03T10:00", "2026-12-03T16:00"),  # 21:00 there: 16:00 that day
    ],
)
def test_the_demo_is_laid_out_from_a_moment_in_office_hours(wall: str, expected: str) -> None:
    sydney = ZoneInfo("Australia/Sydney")
    now = datetime.fromisoformat(wall).replace(tzinfo=UTC)
    laid_out = demo_now(sydney, now)
    assert laid_out <= now
    assert laid_out.astimezone(sydney).strftime("%Y-%m-%dT%H:%M") == expected
