"""The clinic overview: counts and rates over the whole clinic, with no patient named or numbered.

Four aggregate queries: patients by phase and protocol, sessions held per week, adverse events by severity, and
each patient's first and latest result on their protocol's primary measure (the first measure the protocol lists
that has a total), read with the change rules its instrument file gives (``tracker.instruments.change``: MADRS
response and remission [V] DOMAIN.md [53]; PCL-5 clinically meaningful change [S] [92]; PHQ-9, GAD-7 and
QIDS-SR16 have none in DOMAIN.md, so the page says so instead of inventing one).

Small cells are shown as they are (a count of 1 is a count): the page names no one and is for the clinic's own
supervisors; suppression would matter for an export, which this is not.

The figures are kept, not recomputed on every view: they count the whole clinic (about 80 ms at 5,000 patients on
SQLite, ten times that at 50,000), and every supervisor's view would pay for it. ``figures`` answers the last
computation while it is younger than ``OVERVIEW_MAX_AGE_MINUTES`` (5), else computes them again and keeps them in
``clinic_overview``, one row per clinic shared by every web process; the page says when they were computed. Only
counts are kept, never a patient.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, case, exists, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased

from tracker.database import AnySession, writing
from tracker.instruments import Instrument, change, get_instrument
from tracker.models import (
    AdverseEvent,
    ClinicOverview,
    MeasureResult,
    Patient,
    Phase,
    SessionNote,
    Severity,
    TherapySession,
)
from tracker.protocols import Protocol
from tracker.sqldates import day_of

WEEKS = 12


def primary_measure(protocol: Protocol) -> Instrument | None:
    """The first measure the protocol lists that has a total (the C-SSRS, a risk screen, has none)."""
    for measure in protocol.measures:
        instrument = get_instrument(measure.instrument)
        if instrument.total_range is not None:
            return instrument
    return None


def phase_counts(session: AnySession, clinic_id: int) -> dict[tuple[str, Phase], int]:
    rows = session.execute(
        select(Patient.protocol_code, Patient.phase, func.count())
        .where(Patient.clinic_id == clinic_id)
        .group_by(Patient.protocol_code, Patient.phase)
    )
    return {(code, Phase(phase)): total for code, phase, total in rows}


def sessions_per_week(session: AnySession, clinic_id: int, today: date) -> list[tuple[date, int]]:
    """Sessions held in each of the last ``WEEKS`` weeks (Monday to Sunday, UTC), oldest first."""
    this_monday = today - timedelta(days=today.weekday())
    first = this_monday - timedelta(weeks=WEEKS - 1)
    day = day_of(TherapySession.held_at)
    rows = session.execute(
        select(day, func.count())
        .join(Patient, Patient.id == TherapySession.patient_id)
        .where(Patient.clinic_id == clinic_id, TherapySession.held_at >= datetime.combine(first, time(0), tzinfo=UTC),
               TherapySession.held_at.is_not(None))
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


def adverse_events(session: AnySession, clinic_id: int) -> list[SeverityCount]:
    rows = session.execute(
        select(AdverseEvent.severity, func.count(), func.count().filter(AdverseEvent.serious.is_(True)))
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
    """Change from baseline on a protocol's primary measure, over the patients with at least two results."""

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


def _first_or_latest(instrument: ColumnElement[str], latest: bool) -> ScalarSelect[int]:
    """The id of the patient's first (or latest) current result on ``instrument``: one index seek per patient
    (``ix_measure_result_patient_instrument``), rather than sorting every result of the clinic."""
    newer = aliased(MeasureResult)
    order = (MeasureResult.administered_on, MeasureResult.id)
    return (
        select(MeasureResult.id)
        .where(
            MeasureResult.patient_id == Patient.id,
            MeasureResult.instrument == instrument,
            MeasureResult.total.is_not(None),
            ~exists().where(newer.supersedes_id == MeasureResult.id),  # a corrected result counts as corrected
        )
        .order_by(*(o.desc() for o in order) if latest else order)
        .limit(1)
        .correlate(Patient)
        .scalar_subquery()
    )


def outcomes(session: AnySession, clinic_id: int, protocols: Mapping[str, Protocol]) -> list[OutcomeSummary]:
    """Each patient's first and latest current result on their protocol's primary measure, read with
    ``tracker.instruments.change``. One statement; about 50 ms for 5,000 patients and 170,000 results on SQLite
    (``make bench``), where ranking every result with window functions took 340 ms."""
    primaries = {code: m for code, p in protocols.items() if (m := primary_measure(p)) is not None}
    if not primaries:
        return []
    instrument = case({code: m.code for code, m in primaries.items()}, value=Patient.protocol_code)
    ends = (
        select(
            Patient.protocol_code,
            _first_or_latest(instrument, latest=False).label("first_id"),
            _first_or_latest(instrument, latest=True).label("latest_id"),
        )
        .where(Patient.clinic_id == clinic_id, Patient.protocol_code.in_(primaries))
        .subquery()
    )
    first, latest = aliased(MeasureResult), aliased(MeasureResult)
    rows = session.execute(
        select(ends.c.protocol_code, first.total, latest.total)
        .join(first, first.id == ends.c.first_id)
        .join(latest, latest.id == ends.c.latest_id)
        .where(ends.c.first_id != ends.c.latest_id)  # a patient with one result has no change yet
    )
    summaries = {code: OutcomeSummary(protocols[code], m) for code, m in primaries.items()}
    for code, baseline, current in rows:
        summary = summaries[code]
        result = change(summary.instrument.code, baseline, current)
        summary.patients += 1
        summary.total_change += result.difference
        if result.response is not None:
            summary.response = (summary.response or 0) + result.response
        if result.remission is not None:
            summary.remission = (summary.remission or 0) + result.remission
        if result.clinically_meaningful is not None:
            summary.improved = (summary.improved or 0) + (result.clinically_meaningful and result.difference < 0)
    return sorted(summaries.values(), key=lambda s: s.protocol.name)


@dataclass(frozen=True)
class Snapshot:
    """Everything the overview shows, as computed at ``computed_at``."""

    computed_at: datetime
    phases: dict[tuple[str, Phase], int]
    weeks: list[tuple[date, int]]
    events: list[SeverityCount]
    outcomes: list[OutcomeSummary]


def snapshot(session: AnySession, clinic_id: int, protocols: Mapping[str, Protocol], now: datetime) -> Snapshot:
    return Snapshot(
        computed_at=now,
        phases=phase_counts(session, clinic_id),
        weeks=sessions_per_week(session, clinic_id, now.date()),
        events=adverse_events(session, clinic_id),
        outcomes=outcomes(session, clinic_id, protocols),
    )


# Kept figures ---------------------------------------------------------------------------------------------------

#: Bump when ``encode``'s shape changes: a kept row of another format is computed again.
FORMAT = 1


def figures(session: AnySession, clinic_id: int, protocols: Mapping[str, Protocol], now: datetime,
            max_age: timedelta) -> Snapshot:
    """The clinic's figures as last kept, if computed less than ``max_age`` ago; else computed now and kept (in a
    short write transaction of its own: a view is a read request)."""
    kept = session.get(ClinicOverview, clinic_id)
    if kept is not None and now - kept.computed_at < max_age and kept.figures.get("format") == FORMAT:
        found = decode(kept.figures, kept.computed_at, protocols)
        if found is not None:
            return found
    fresh = snapshot(session, clinic_id, protocols, now)
    with writing(session):
        keep(session, clinic_id, fresh)
        session.commit()
    return fresh


def keep(session: AnySession, clinic_id: int, figures: Snapshot) -> None:
    """Insert or replace the clinic's kept figures (two views computing at once: the later one stays)."""
    values = {"clinic_id": clinic_id, "computed_at": figures.computed_at, "figures": encode(figures)}
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(ClinicOverview).values(values)
    session.execute(statement.on_conflict_do_update(
        index_elements=[ClinicOverview.clinic_id],
        set_={"computed_at": statement.excluded.computed_at, "figures": statement.excluded.figures},
    ))


def encode(figures: Snapshot) -> dict[str, Any]:
    """Plain JSON of the counts (protocols and instruments by code)."""
    return {
        "format": FORMAT,
        "phases": [[code, phase.value, total] for (code, phase), total in sorted(figures.phases.items())],
        "weeks": [[monday.isoformat(), total] for monday, total in figures.weeks],
        "events": [[e.severity.value, e.total, e.serious] for e in figures.events],
        "outcomes": [[o.protocol.code, o.instrument.code, o.patients, o.total_change, o.response, o.remission,
                      o.improved] for o in figures.outcomes],
    }


def decode(data: dict[str, Any], computed_at: datetime, protocols: Mapping[str, Protocol]) -> Snapshot | None:
    """The snapshot ``encode`` kept; None when it names a protocol no longer loaded (compute again)."""
    outcomes = []
    for code, instrument, patients, total_change, response, remission, improved in data["outcomes"]:
        if code not in protocols:
            return None
        outcomes.append(OutcomeSummary(protocols[code], get_instrument(instrument), patients, total_change,
                                       response, remission, improved))
    return Snapshot(
        computed_at=computed_at,
        phases={(code, Phase(phase)): total for code, phase, total in data["phases"]},
        weeks=[(date.fromisoformat(monday), total) for monday, total in data["weeks"]],
        events=[SeverityCount(Severity(severity), total, serious) for severity, total, serious in data["events"]],
        outcomes=outcomes,
    )
