"""The clinic overview: counts and rates over the whole clinic, with no patient named or numbered.

Four aggregate queries: patients by phase and protocol, sessions held per week, adverse events by severity, and
each patient's change from baseline on every measure of their protocol that has a total, read with the change rules
its instrument file gives (``tracker.instruments.change``): PHQ-9 and QIDS-SR16 response and remission for the
depression protocols (NCQA HEDIS DRR-E; Trivedi et al. 2006, STAR*D), MADRS response and remission (Goodwin et al.
2022), PCL-5 clinically meaningful change; an instrument whose sources give no rule says so instead of inventing one.

The baseline is the trends page's (``tracker.outcomes.trends``): the newest result on or before the first dosing
day, against the newest result after it; the first dosing day is ``tracker.outcomes.queries.dosing_days``'s, in SQL
(``first_dosing_day``), so the two pages read the same change.

Small cells are shown as they are (a count of 1 is a count): the page names no one and is for the clinic's own
supervisors; suppression would matter for an export, which this is not.

The figures are kept, not recomputed on every view: they count the whole clinic (about 80 ms at 5,000 patients on
SQLite, ten times that at 50,000), and every supervisor's view would pay for it. ``figures`` answers the last
computation while it is younger than ``OVERVIEW_MAX_AGE_MINUTES`` (5), else computes them again and keeps them in
``clinic_overview``, one row per clinic shared by every web process (an upsert: two processes counting at once both
succeed, the later stays); the page says when they were computed. Keeping waits at most ``KEEP_WAIT`` for the
write lock and is skipped, not failed, when it cannot have it. Only counts are kept, never a patient.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, ScalarSelect, and_, case, exists, func, literal, or_, select, union_all
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import aliased

from tracker import clinictime
from tracker.adverse_events import SERIOUS
from tracker.clinictime import DEFAULT_ZONE, start_of_day, week_start
from tracker.database import AnySession, writing
from tracker.instruments import Instrument, change, get_instrument
from tracker.models import (
    AdverseEvent,
    Clinic,
    ClinicOverview,
    MeasureResult,
    Patient,
    Phase,
    PhaseTransition,
    SessionKind,
    SessionNote,
    Severity,
    TherapySession,
)
from tracker.protocols import Protocol
from tracker.sqldates import day_of

log = logging.getLogger(__name__)

WEEKS = 12


def measures_with_a_total(protocol: Protocol) -> list[Instrument]:
    """The measures the protocol lists that have a total, in its order (the C-SSRS, a risk screen, has none)."""
    found = [get_instrument(measure.instrument) for measure in protocol.measures]
    return [instrument for instrument in dict.fromkeys(found) if instrument.total_range is not None]


def phase_counts(db: AnySession, clinic_id: int) -> dict[tuple[str, Phase], int]:
    rows = db.execute(
        select(Patient.protocol_code, Patient.phase, func.count())
        .where(Patient.clinic_id == clinic_id)
        .group_by(Patient.protocol_code, Patient.phase)
    )
    return {(code, Phase(phase)): total for code, phase, total in rows}


def sessions_per_week(db: AnySession, clinic_id: int, today: date, tz: ZoneInfo) -> list[tuple[date, int]]:
    """Sessions held in each of the last ``WEEKS`` weeks (Monday to Sunday on the clinic's calendar, ``tz``),
    oldest first."""
    first = week_start(today) - timedelta(weeks=WEEKS - 1)
    day = day_of(TherapySession.held_at, tz.key)
    rows = db.execute(
        select(day, func.count())
        .join(Patient, Patient.id == TherapySession.patient_id)
        .where(
            Patient.clinic_id == clinic_id,
            TherapySession.held_at >= start_of_day(first, tz),
            TherapySession.held_at.is_not(None),
        )
        .group_by(day)
    )
    weeks = {first + timedelta(weeks=n): 0 for n in range(WEEKS)}
    for held_on, total in rows:
        held = held_on if isinstance(held_on, date) else date.fromisoformat(held_on)
        monday = held - timedelta(days=held.weekday())
        if monday in weeks:
            weeks[monday] += total
    return list(weeks.items())


@dataclass(frozen=True)
class SeverityCount:
    severity: Severity
    total: int
    serious: int


def adverse_events(db: AnySession, clinic_id: int) -> list[SeverityCount]:
    rows = db.execute(
        select(AdverseEvent.severity, func.count(), func.count().filter(SERIOUS.is_(True)))
        .join(SessionNote, SessionNote.id == AdverseEvent.note_id)
        .join(TherapySession, TherapySession.id == SessionNote.session_id)
        .join(Patient, Patient.id == TherapySession.patient_id)
        .where(Patient.clinic_id == clinic_id)
        .group_by(AdverseEvent.severity)
    )
    found = {Severity(severity): (total, serious) for severity, total, serious in rows}
    return [SeverityCount(s, *found.get(s, (0, 0))) for s in Severity]


@dataclass
class OutcomeSummary:
    """Change from baseline on one measure of a protocol, over the patients with a baseline and a later result."""

    protocol: Protocol
    instrument: Instrument
    patients: int = 0
    #: The sum of every patient's change (latest minus first): with ``patients``, the mean change.
    total_change: int = 0
    response: int | None = None
    remission: int | None = None
    improved: int | None = None

    @property
    def mean_change(self) -> float | None:
        return self.total_change / self.patients if self.patients else None

    def share(self, count: int | None) -> float | None:
        return None if count is None or not self.patients else count / self.patients


def first_dosing_day(zone_name: str = DEFAULT_ZONE) -> ColumnElement[Any]:
    """The patient's first dosing day on the clinic's calendar (``zone_name``), as
    ``tracker.outcomes.queries.dosing_dates`` reads it (correlated with ``Patient``): the first held dosing session's
    day, or the day of the first move into dosing (not a return from a hold) when that cycle has no held dosing
    session and the move came first. None before any dosing."""
    held = day_of(TherapySession.held_at, zone_name)
    dosed = (
        TherapySession.patient_id == Patient.id,
        TherapySession.kind == SessionKind.DOSING,
        TherapySession.held_at.is_not(None),
    )
    first_held = select(func.min(held)).where(*dosed).correlate(Patient).scalar_subquery()
    moves = (
        PhaseTransition.patient_id == Patient.id,
        PhaseTransition.to_phase == Phase.DOSING,
        PhaseTransition.from_phase != Phase.ON_HOLD,
    )
    moved = day_of(PhaseTransition.created_at, zone_name)
    order = (PhaseTransition.created_at, PhaseTransition.id)
    first_move = select(moved).where(*moves).order_by(*order).limit(1).correlate(Patient).scalar_subquery()
    second_move = select(moved).where(*moves).order_by(*order).limit(1).offset(1).correlate(Patient).scalar_subquery()
    cycle_one_held = (
        exists().where(*dosed, held >= first_move, or_(second_move.is_(None), held < second_move)).correlate(Patient)
    )
    earlier = case((or_(first_held.is_(None), first_move < first_held), first_move), else_=first_held)
    return case((and_(first_move.is_not(None), ~cycle_one_held), earlier), else_=first_held)


def _around(
    patient_id: ColumnElement[int], instrument: ColumnElement[str], first_day: ColumnElement[Any], after: bool
) -> ScalarSelect[int]:
    """The id of the patient's newest current result on ``instrument`` on or before ``first_day`` (the baseline),
    or after it (the latest): one index seek each (``ix_measure_result_patient_instrument``)."""
    newer = aliased(MeasureResult)
    when = MeasureResult.administered_on > first_day if after else MeasureResult.administered_on <= first_day
    return (
        select(MeasureResult.id)
        .where(
            MeasureResult.patient_id == patient_id,
            MeasureResult.instrument == instrument,
            MeasureResult.total.is_not(None),
            when,
            ~exists().where(newer.supersedes_id == MeasureResult.id),  # a corrected result counts as corrected
        )
        .order_by(MeasureResult.administered_on.desc(), MeasureResult.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def outcomes(
    db: AnySession, clinic_id: int, protocols: Mapping[str, Protocol], tz: ZoneInfo | None = None
) -> list[OutcomeSummary]:
    """Each patient's baseline and latest current result on each measure of their protocol that has a total, read
    with ``tracker.instruments.change`` (days on the clinic's calendar, ``tz``). One statement: the protocol and
    measure pairs as literal rows, each patient's first dosing day, then the two results either side of it."""
    measured = {code: measures_with_a_total(p) for code, p in protocols.items()}
    pairs = [(code, instrument.code) for code, found in measured.items() for instrument in found]
    if not pairs:
        return []
    table = union_all(
        *(
            select(literal(code).label("protocol_code"), literal(instrument).label("instrument"))
            for code, instrument in pairs
        )
    ).subquery("pair")
    dosed = (
        select(Patient.id, Patient.protocol_code, first_dosing_day(tz.key if tz else DEFAULT_ZONE).label("first_day"))
        .where(Patient.clinic_id == clinic_id, Patient.protocol_code.in_(measured))
        .subquery("dosed")
    )
    ends = (
        select(
            dosed.c.protocol_code,
            table.c.instrument,
            _around(dosed.c.id, table.c.instrument, dosed.c.first_day, after=False).label("baseline_id"),
            _around(dosed.c.id, table.c.instrument, dosed.c.first_day, after=True).label("latest_id"),
        )
        .join(table, table.c.protocol_code == dosed.c.protocol_code)
        .where(dosed.c.first_day.is_not(None))
        .subquery()
    )
    baseline, latest = aliased(MeasureResult), aliased(MeasureResult)
    rows = db.execute(
        select(ends.c.protocol_code, ends.c.instrument, baseline.total, latest.total)
        .join(baseline, baseline.id == ends.c.baseline_id)
        .join(latest, latest.id == ends.c.latest_id)
    )
    summaries = {(code, i.code): OutcomeSummary(protocols[code], i) for code, found in measured.items() for i in found}
    for code, instrument, before, after in rows:
        summary = summaries[(code, instrument)]
        result = change(instrument, before, after)
        summary.patients += 1
        summary.total_change += result.difference
        if result.response is not None:
            summary.response = (summary.response or 0) + result.response
        if result.remission is not None:
            summary.remission = (summary.remission or 0) + result.remission
        if result.clinically_meaningful is not None:
            summary.improved = (summary.improved or 0) + (result.clinically_meaningful and result.difference < 0)
    order = {code: [i.code for i in found] for code, found in measured.items()}
    return sorted(summaries.values(), key=lambda s: (s.protocol.name, order[s.protocol.code].index(s.instrument.code)))


@dataclass(frozen=True)
class Snapshot:
    """Everything the overview shows, as computed at ``computed_at``."""

    computed_at: datetime
    phases: dict[tuple[str, Phase], int]
    weeks: list[tuple[date, int]]
    events: list[SeverityCount]
    outcomes: list[OutcomeSummary]


def snapshot(db: AnySession, clinic: Clinic, protocols: Mapping[str, Protocol], now: datetime) -> Snapshot:
    return Snapshot(
        computed_at=now,
        phases=phase_counts(db, clinic.id),
        weeks=sessions_per_week(db, clinic.id, clinictime.today(clinic.zone, now), clinic.zone),
        events=adverse_events(db, clinic.id),
        outcomes=outcomes(db, clinic.id, protocols, clinic.zone),
    )


# Kept figures ---------------------------------------------------------------------------------------------------

#: Bump when ``encode``'s shape changes: a kept row of another format is computed again.
FORMAT = 1


#: How long a recount waits for the write lock to keep its figures. Another process may hold it (keeping its own
#: figures, or any write under load); after this the page shows what it counted without keeping it, and a later
#: view counts again: the kept figures are a saving, never a reason to fail or to keep a supervisor waiting.
KEEP_WAIT = timedelta(seconds=1)


def figures(
    db: AnySession, clinic: Clinic, protocols: Mapping[str, Protocol], now: datetime, max_age: timedelta
) -> Snapshot:
    """The clinic's figures as last kept, if computed less than ``max_age`` ago; else computed now and kept (in a
    short write transaction of its own: a view is a read request). A recount never fails the page for want of the
    database's locks: figures counted but not kept are shown as they are; kept figures, however old, are shown
    when the counting itself is refused."""
    kept = db.get(ClinicOverview, clinic.id)
    last = None
    if kept is not None and kept.figures.get("format") == FORMAT:
        last = decode(kept.figures, kept.computed_at, protocols)
        if last is not None and now - kept.computed_at < max_age:
            return last
    try:
        fresh = snapshot(db, clinic, protocols, now)
    except OperationalError as error:
        if last is None:
            raise
        db.rollback()
        log.warning("clinic overview: not counted again, the kept figures shown (%s)", _reason(error))
        return last
    try:
        with writing(db, lock_wait=KEEP_WAIT):
            keep(db, clinic.id, fresh)
            db.commit()
    except OperationalError as error:  # busy, a lock timeout, a serialization failure: keeping is optional
        db.rollback()
        log.warning("clinic overview: figures counted but not kept (%s)", _reason(error))
    return fresh


def _reason(error: OperationalError) -> str:
    """The driver's message, first line (no SQL, no parameters)."""
    return str(error.orig).splitlines()[0] if error.orig is not None else type(error).__name__


def keep(db: AnySession, clinic_id: int, figures: Snapshot) -> None:
    """Insert or replace the clinic's kept figures (two views computing at once: the later one stays)."""
    values = {"clinic_id": clinic_id, "computed_at": figures.computed_at, "figures": encode(figures)}
    insert = postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(ClinicOverview).values(values)
    db.execute(
        statement.on_conflict_do_update(
            index_elements=[ClinicOverview.clinic_id],
            set_={"computed_at": statement.excluded.computed_at, "figures": statement.excluded.figures},
        )
    )


def encode(figures: Snapshot) -> dict[str, Any]:
    """Plain JSON of the counts (protocols and instruments by code)."""
    return {
        "format": FORMAT,
        "phases": [[code, phase.value, total] for (code, phase), total in sorted(figures.phases.items())],
        "weeks": [[monday.isoformat(), total] for monday, total in figures.weeks],
        "events": [[e.severity.value, e.total, e.serious] for e in figures.events],
        "outcomes": [
            [o.protocol.code, o.instrument.code, o.patients, o.total_change, o.response, o.remission, o.improved]
            for o in figures.outcomes
        ],
    }


def decode(data: dict[str, Any], computed_at: datetime, protocols: Mapping[str, Protocol]) -> Snapshot | None:
    """The snapshot ``encode`` kept; None when it names a protocol no longer loaded (compute again)."""
    outcomes = []
    for code, instrument, patients, total_change, response, remission, improved in data["outcomes"]:
        if code not in protocols:
            return None
        outcomes.append(
            OutcomeSummary(
                protocols[code], get_instrument(instrument), patients, total_change, response, remission, improved
            )
        )
    return Snapshot(
        computed_at=computed_at,
        phases={(code, Phase(phase)): total for code, phase, total in data["phases"]},
        weeks=[(date.fromisoformat(monday), total) for monday, total in data["weeks"]],
        events=[SeverityCount(Severity(severity), total, serious) for severity, total, serious in data["events"]],
        outcomes=outcomes,
    )
