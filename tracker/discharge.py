"""When a patient may go home after a dosing session, and whether the administration is fully recorded.

Pure functions over a note's administration and its vital-sign readings (ORM rows or the gate's plain facts: both
carry the same attribute names). The criteria:

- vital signs: every sign the protocol monitors has a reading after the dose, the latest full set (a reading of
  every monitored sign) is within the protocol's limits, and nothing read after that set is outside them; so one
  temperature-only reading cannot discharge a patient whose blood pressure was last 220;
- distress at or below baseline (SUDS 0-10, as the MAPS treatment manual's end-of-session criteria: "subjective
  units of distress at or below baseline": MAPS, A Manual for MDMA-Assisted Psychotherapy in the Treatment of
  PTSD, 2005, https://maps.org/research-archive/mdma/ptsd_study/treatment-manual/);
- the protocol's minimum observation time after the last dose (SPRAVATO REMS: at least 2 hours, and until the
  patient is clinically stable: https://www.spravatorems.com);
- an escort or driver named (a person, not "none" or "self"), and the time of discharge;
- the latest full set of readings taken after the last dose, and within the protocol's ``discharge_reading_minutes``
  before discharge (the SPRAVATO Patient Monitoring Form records a pre-discharge blood pressure:
  https://www.spravatorems.com; how close to discharge is a clinic setting); readings after discharge do not count.
A dosing note cannot be signed until all hold (``tracker.gate``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Protocol as Structure

from tracker import vitals
from tracker.models import DoseUnit
from tracker.protocols import Protocol


class NoteLike(Structure):
    @property
    def dose_amount(self) -> float | None: ...
    @property
    def dose_unit(self) -> DoseUnit | None: ...
    @property
    def weight_kg(self) -> float | None: ...
    @property
    def substance(self) -> str | None: ...
    @property
    def route(self) -> object: ...
    @property
    def lot_number(self) -> str | None: ...
    @property
    def dose_given_at(self) -> datetime | None: ...
    @property
    def supplemental_given_at(self) -> datetime | None: ...
    @property
    def distress_baseline(self) -> int | None: ...
    @property
    def distress_at_discharge(self) -> int | None: ...
    @property
    def escort_name(self) -> str | None: ...
    @property
    def discharged_at(self) -> datetime | None: ...


class ReadingLike(Structure):
    @property
    def taken_at(self) -> datetime: ...
    @property
    def systolic(self) -> int | None: ...
    @property
    def diastolic(self) -> int | None: ...
    @property
    def heart_rate(self) -> int | None: ...
    @property
    def temperature(self) -> float | None: ...
    @property
    def spo2(self) -> int | None: ...


@dataclass(frozen=True)
class Criterion:
    label: str
    met: bool
    detail: str


VITALS_LABEL = "Vital signs back within the protocol's limits"


def as_reading(row: ReadingLike) -> vitals.Reading:
    return vitals.Reading(row.systolic, row.diastolic, row.heart_rate, row.temperature, row.spo2)


def _signs(signs: Sequence[str]) -> str:
    return ", ".join(vitals.LABELS[sign] for sign in signs)


def _order(row: ReadingLike) -> tuple[datetime, int]:
    return row.taken_at, getattr(row, "id", 0) or 0


def _monitored(protocol: Protocol | None, readings: Sequence[ReadingLike]) -> tuple[str, ...]:
    """The signs a full set holds: the protocol's monitored signs, or (a protocol monitoring none) the signs of
    the latest reading."""
    if protocol is not None and protocol.monitored_signs:
        return protocol.monitored_signs
    latest = max(readings, key=_order, default=None)
    return tuple(as_reading(latest).values()) if latest is not None else ()


def _last_dose(note: NoteLike) -> datetime | None:
    return max((t for t in (note.dose_given_at, note.supplemental_given_at) if t is not None), default=None)


def _clock(moment: datetime, tz: tzinfo) -> str:
    return moment.astimezone(tz).strftime("%H:%M")


def vitals_criterion(
    note: NoteLike, readings: Sequence[ReadingLike], protocol: Protocol | None, tz: tzinfo = UTC
) -> Criterion:
    """Every monitored sign read after the dose; the latest full set taken after the last dose and shortly before
    discharge (the protocol's ``discharge_reading_minutes``), and it and anything read after it in range. Readings
    after the time of discharge do not count for it. Times are named on the clinic's clock ``tz``."""
    limits = protocol.vital_limits if protocol else ()
    dose_at, discharged = note.dose_given_at, note.discharged_at
    if dose_at is None:
        return Criterion(VITALS_LABEL, False, "Record the time the dose was given; readings after it count.")
    after = sorted(
        (r for r in readings if r.taken_at >= dose_at and (discharged is None or r.taken_at <= discharged)),
        key=_order,
    )
    monitored = _monitored(protocol, after)
    if not after or not monitored:
        return Criterion(VITALS_LABEL, False, "No reading recorded after the dose yet.")
    read = {sign for row in after for sign in as_reading(row).values()}
    missing = [sign for sign in monitored if sign not in read]
    if missing:
        return Criterion(VITALS_LABEL, False, f"No reading after the dose of: {_signs(missing)}.")
    full = [row for row in after if set(monitored) <= set(as_reading(row).values())]
    if not full:
        return Criterion(
            VITALS_LABEL, False, f"No full set after the dose (one reading of {_signs(monitored)} together)."
        )
    last = full[-1]
    flags = vitals.check(as_reading(last), limits)
    if flags:
        detail = "; ".join(flag.text for flag in flags)
        return Criterion(VITALS_LABEL, False, f"Latest full set ({_clock(last.taken_at, tz)}): {detail}.")
    for row in after[after.index(last) + 1 :]:
        later = vitals.check(as_reading(row), limits)
        if later:
            detail = "; ".join(flag.text for flag in later)
            return Criterion(VITALS_LABEL, False, f"A later reading ({_clock(row.taken_at, tz)}): {detail}.")
    last_dose = _last_dose(note)
    if last_dose is not None and last.taken_at < last_dose:
        return Criterion(
            VITALS_LABEL,
            False,
            f"No full set after the last dose ({_clock(last_dose, tz)}); take one before discharge.",
        )
    window = protocol.discharge_reading_minutes if protocol else None
    if window is not None and discharged is not None and last.taken_at < discharged - timedelta(minutes=window):
        return Criterion(
            VITALS_LABEL,
            False,
            f"The latest full set ({_clock(last.taken_at, tz)}) is more than {window} minutes before discharge "
            f"({_clock(discharged, tz)}): take one before the patient leaves.",
        )
    return Criterion(VITALS_LABEL, True, f"Latest full set ({_clock(last.taken_at, tz)}) in range.")


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)


def _observation(note: NoteLike, minimum_minutes: int | None) -> Criterion:
    last_dose = _last_dose(note)
    label = "Minimum observation time met"
    if note.discharged_at is None or last_dose is None:
        return Criterion(label, False, "Record the time the dose was given and the time of discharge.")
    observed = _minutes(note.discharged_at - last_dose)
    if minimum_minutes is None:
        return Criterion(
            label, observed >= 0, f"Observed {observed} min after the last dose; the protocol sets no minimum."
        )
    return Criterion(
        label,
        observed >= minimum_minutes,
        f"Observed {observed} min after the last dose; the protocol asks for at least {minimum_minutes} min.",
    )


def criteria(
    note: NoteLike, readings: Sequence[ReadingLike], protocol: Protocol | None, tz: tzinfo = UTC
) -> list[Criterion]:
    """Every discharge criterion with whether it is met and why, in the order the page lists them."""
    baseline, now = note.distress_baseline, note.distress_at_discharge
    if baseline is None or now is None:
        distress = Criterion("Distress at or below baseline", False, "Record the SUDS at baseline and at discharge.")
    else:
        distress = Criterion(
            "Distress at or below baseline", now <= baseline, f"SUDS {now} at discharge, baseline {baseline}."
        )
    named = is_a_name(note.escort_name)
    escort = Criterion(
        "Escort or driver named",
        named,
        (note.escort_name or "") if named else "Name the person taking the patient home.",
    )
    minimum = protocol.minimum_observation_minutes if protocol else None
    return [vitals_criterion(note, readings, protocol, tz), distress, _observation(note, minimum), escort]


#: What is typed when nobody is there; an escort must be a person.
NOBODY = frozenset({"none", "no", "no one", "noone", "nobody", "n a", "na", "nil", "unknown", "self", "alone", "tbd"})


def is_a_name(text: str | None) -> bool:
    """Whether ``text`` names someone: two letters or more, and not a word for nobody ("none", "n/a", "self")."""
    words = " ".join("".join(ch if ch.isalpha() else " " for ch in (text or "").casefold()).split())
    return sum(ch.isalpha() for ch in words) >= 2 and words not in NOBODY


def is_complete(note: NoteLike, readings: Sequence[ReadingLike], protocol: Protocol | None) -> bool:
    return all(c.met for c in criteria(note, readings, protocol))  # the clock only words the reasons


def missing_dose_items(note: NoteLike) -> list[str]:
    """What the administration record still lacks: dose, lot number, route and time, as the SPRAVATO REMS
    Patient Monitoring Form asks for every session (https://www.spravatorems.com)."""
    missing = []
    if not note.substance:
        missing.append("substance")
    if note.dose_amount is None or note.dose_unit is None:
        missing.append("dose and unit")
    elif note.dose_unit.per_weight and note.weight_kg is None:
        missing.append("weight on the day")
    if note.route is None:
        missing.append("route")
    if not note.lot_number:
        missing.append("lot number")
    if note.dose_given_at is None:
        missing.append("time given")
    supplemental_mg = getattr(note, "supplemental_mg", None)
    if supplemental_mg is not None and note.supplemental_given_at is None:
        missing.append("time of the supplemental dose")
    return missing
