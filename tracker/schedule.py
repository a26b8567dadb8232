"""When each outcome measure is due: a pure function of the protocol's timepoints, the dosing dates, the end of
treatment and the dates of the results recorded (no database, no Flask; tests call it directly).

Each protocol lists its measures with the timepoints they are due at (``measures`` in tracker/protocols/*.toml,
each citing its primary source in the protocol's ``sources``). This module turns those into dated occurrences:

- **baseline**: before the first dosing session. A result counts if dated on or before the first dosing day and
  at most ``baseline_max_age_days`` before it; while no dosing session has been held, the window ends today.
  Missing baselines also block the move to dosing (``baseline_problems``, a condition of ``tracker.gate``).
- **after_each_dosing**: one occurrence per dosing session, due from the day after it for
  ``after_dosing_window_days``, and closing early on the day of the next dosing session. Sessions planned by the
  protocol but not held yet are listed as upcoming, without dates.
- **end_of_treatment**: around the end of treatment: the day the patient was moved to completed, or, before
  that, ``end_after_last_dosing_days`` after the last planned dosing session; ``end_window_days`` either side
  (never before the day after the last dosing session).
- **follow_up**: ``follow_up_days`` after the end of treatment, ``follow_up_window_days`` either side.

Every window is a clinic setting (``Settings``; config.py ``MEASURE_*`` gives a new clinic its values): the protocols
name the timepoints but give no windows. Days are the clinic's calendar days (``tracker.clinictime``).
A result counts for every occurrence whose window holds its date, so one administration can serve two timepoints
(after the last dosing session and the end of treatment, when they meet). Statuses: done (a result in the window),
upcoming (the window has not opened, or its date is not known yet), due (open today) and overdue (closed with no
result; a result from paper dated inside the window still makes it done).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol as Structure

from tracker.instruments import get_instrument
from tracker.protocols import MeasureDue


class Timepoint(enum.StrEnum):
    BASELINE = "baseline"
    AFTER_EACH_DOSING = "after_each_dosing"
    END_OF_TREATMENT = "end_of_treatment"
    FOLLOW_UP = "follow_up"


class Status(enum.StrEnum):
    DONE = "done"
    DUE = "due"
    OVERDUE = "overdue"
    UPCOMING = "upcoming"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class ClinicWindows(Structure):
    """What ``Settings`` reads of a clinic (``tracker.models.Clinic``)."""

    measure_baseline_max_age_days: int
    measure_after_dosing_window_days: int
    measure_end_after_last_dosing_days: int
    measure_end_window_days: int
    measure_follow_up_window_days: int

    @property
    def follow_up_days(self) -> tuple[int, ...]: ...


@dataclass(frozen=True)
class Settings:
    """The clinic's windows, in days: each clinic sets its own (the clinic settings page); config.py ``MEASURE_*``
    gives a new clinic its values and says why each is a setting."""

    baseline_max_age_days: int = 30
    after_dosing_window_days: int = 14
    end_after_last_dosing_days: int = 28
    end_window_days: int = 14
    follow_up_days: tuple[int, ...] = (90, 180)
    follow_up_window_days: int = 14

    @classmethod
    def of_clinic(cls, clinic: ClinicWindows) -> Settings:
        return cls(
            baseline_max_age_days=clinic.measure_baseline_max_age_days,
            after_dosing_window_days=clinic.measure_after_dosing_window_days,
            end_after_last_dosing_days=clinic.measure_end_after_last_dosing_days,
            end_window_days=clinic.measure_end_window_days,
            follow_up_days=clinic.follow_up_days,
            follow_up_window_days=clinic.measure_follow_up_window_days,
        )


@dataclass(frozen=True)
class Dated:
    """A current (not superseded) result, as the schedule sees it."""

    id: int
    instrument: str
    on: date


@dataclass(frozen=True)
class Course:
    """The treatment so far: how many dosing sessions the protocol plans, the days they were held, and the day the
    patient was moved to completed (None while treatment goes on)."""

    planned_dosings: int
    dosing_dates: tuple[date, ...] = ()
    completed_on: date | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "dosing_dates", tuple(sorted(set(self.dosing_dates))))


@dataclass(frozen=True)
class Occurrence:
    """One time a measure is due, with its window (both days included) and status."""

    instrument: str
    timepoint: Timepoint
    status: Status
    opens: date | None = None
    closes: date | None = None
    #: Which dosing session (after_each_dosing) or which follow-up, from 1.
    number: int | None = None
    #: Follow-ups: days after the end of treatment.
    offset_days: int | None = None
    #: The results dated inside the window.
    results: tuple[int, ...] = ()

    @property
    def label(self) -> str:
        if self.timepoint is Timepoint.BASELINE:
            return "Baseline (before the first dosing session)"
        if self.timepoint is Timepoint.AFTER_EACH_DOSING:
            return f"After dosing session {self.number}"
        if self.timepoint is Timepoint.END_OF_TREATMENT:
            return "End of treatment"
        return f"Follow-up {self.number} ({self.offset_days} days after the end of treatment)"

    @property
    def needs_attention(self) -> bool:
        return self.status in (Status.DUE, Status.OVERDUE)


def end_of_treatment(course: Course, settings: Settings) -> date | None:
    """The day treatment ended (moved to completed), or is expected to end once every planned dosing session has
    been held; None before that."""
    if course.completed_on is not None:
        return course.completed_on
    if course.dosing_dates and len(course.dosing_dates) >= course.planned_dosings:
        return course.dosing_dates[-1] + timedelta(days=settings.end_after_last_dosing_days)
    return None


def _occurrence(
    instrument: str,
    timepoint: Timepoint,
    opens: date | None,
    closes: date | None,
    results: Sequence[Dated],
    today: date,
    *,
    number: int | None = None,
    offset_days: int | None = None,
) -> Occurrence:
    if opens is None or closes is None:
        return Occurrence(instrument, timepoint, Status.UPCOMING, number=number, offset_days=offset_days)
    inside = tuple(r.id for r in results if r.instrument == instrument and opens <= r.on <= closes)
    if inside:
        status = Status.DONE
    elif today < opens:
        status = Status.UPCOMING
    elif today <= closes:
        status = Status.DUE
    else:
        status = Status.OVERDUE
    return Occurrence(instrument, timepoint, status, opens, closes, number, offset_days, inside)


def _baseline(instrument: str, course: Course, results: Sequence[Dated], today: date, s: Settings) -> Occurrence:
    first = course.dosing_dates[0] if course.dosing_dates else None
    if first is None:
        # Not dosed yet: a recent enough result counts; otherwise it is due (the gate will ask for it).
        return _occurrence(
            instrument, Timepoint.BASELINE, today - timedelta(days=s.baseline_max_age_days), today, results, today
        )
    return _occurrence(
        instrument, Timepoint.BASELINE, first - timedelta(days=s.baseline_max_age_days), first, results, today
    )


def _after_dosing(
    instrument: str, course: Course, results: Sequence[Dated], today: date, s: Settings
) -> list[Occurrence]:
    dates = course.dosing_dates
    found = []
    for index, day in enumerate(dates):
        closes = day + timedelta(days=s.after_dosing_window_days)
        if index + 1 < len(dates):
            closes = min(closes, dates[index + 1])
        found.append(
            _occurrence(
                instrument,
                Timepoint.AFTER_EACH_DOSING,
                day + timedelta(days=1),
                closes,
                results,
                today,
                number=index + 1,
            )
        )
    if course.completed_on is None:  # planned sessions still to come; none once treatment has ended
        for number in range(len(dates) + 1, course.planned_dosings + 1):
            found.append(Occurrence(instrument, Timepoint.AFTER_EACH_DOSING, Status.UPCOMING, number=number))
    return found


def _end(instrument: str, course: Course, results: Sequence[Dated], today: date, s: Settings) -> Occurrence:
    end = end_of_treatment(course, s)
    if end is None:
        return Occurrence(instrument, Timepoint.END_OF_TREATMENT, Status.UPCOMING)
    opens = end - timedelta(days=s.end_window_days)
    if course.dosing_dates:
        opens = max(opens, course.dosing_dates[-1] + timedelta(days=1))
    closes = max(end + timedelta(days=s.end_window_days), opens)
    return _occurrence(instrument, Timepoint.END_OF_TREATMENT, opens, closes, results, today)


def _follow_ups(
    instrument: str, course: Course, results: Sequence[Dated], today: date, s: Settings
) -> list[Occurrence]:
    end = end_of_treatment(course, s)
    found = []
    for number, offset in enumerate(s.follow_up_days, start=1):
        if end is None:
            found.append(
                Occurrence(instrument, Timepoint.FOLLOW_UP, Status.UPCOMING, number=number, offset_days=offset)
            )
            continue
        middle = end + timedelta(days=offset)
        window = timedelta(days=s.follow_up_window_days)
        found.append(
            _occurrence(
                instrument,
                Timepoint.FOLLOW_UP,
                middle - window,
                middle + window,
                results,
                today,
                number=number,
                offset_days=offset,
            )
        )
    return found


def schedule(
    measures: Sequence[MeasureDue],
    course: Course,
    results: Sequence[Dated],
    today: date,
    settings: Settings | None = None,
) -> list[Occurrence]:
    """Every occurrence of every measure the protocol lists, in the protocol's order of measures, each measure's
    occurrences in time order. ``results`` are the patient's current results (superseded ones left out).

    A protocol listing a timepoint this module does not know would have been refused when its file was read
    (tracker/protocols/schema.py ``TIMEPOINTS``).
    """
    s = settings or Settings()
    found: list[Occurrence] = []
    for measure in measures:
        points = set(measure.timepoints)
        code = measure.instrument
        if Timepoint.BASELINE in points:
            found.append(_baseline(code, course, results, today, s))
        if Timepoint.AFTER_EACH_DOSING in points:
            found.extend(_after_dosing(code, course, results, today, s))
        if Timepoint.END_OF_TREATMENT in points:
            found.append(_end(code, course, results, today, s))
        if Timepoint.FOLLOW_UP in points:
            found.extend(_follow_ups(code, course, results, today, s))
    return found


def baseline_problems(
    measures: Sequence[MeasureDue], results: Sequence[Dated], dosing_on: date, settings: Settings | None = None
) -> list[str]:
    """Why a first dosing session on ``dosing_on`` would lack a baseline: one sentence per measure the protocol
    wants at baseline with no current result dated on or before that day, or only an older one than the clinic's
    ``baseline_max_age_days``. Empty when every baseline is in place."""
    s = settings or Settings()
    problems = []
    for measure in measures:
        if Timepoint.BASELINE not in measure.timepoints:
            continue
        name = get_instrument(measure.instrument).short_name
        dated = [r.on for r in results if r.instrument == measure.instrument and r.on <= dosing_on]
        if not dated:
            problems.append(
                f"Baseline {name} not recorded: record it on the patient's measures page before the first "
                "dosing session."
            )
        elif max(dated) < dosing_on - timedelta(days=s.baseline_max_age_days):
            problems.append(
                f"Baseline {name}: the latest is dated {max(dated).isoformat()}, more than "
                f"{s.baseline_max_age_days} days before this first dosing session. Record a new one."
            )
    return problems
