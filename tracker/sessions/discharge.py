"""When a patient may go home after a dosing session, and whether the administration is fully recorded.

Pure functions over a note and its vital-sign readings (already loaded). The criteria (DOMAIN.md section 5 item 7):
vital signs back within the protocol's limits; distress at or below baseline (SUDS, as in the MAPS manual [48]);
the protocol's minimum observation time since the last administration (Spravato REMS: at least 2 hours [72]); an
escort or driver named (item 5); and the time of discharge. A dosing note cannot be signed until all hold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from tracker.models import DoseUnit, SessionNote, VitalReading


@dataclass(frozen=True)
class Criterion:
    label: str
    met: bool
    detail: str


def latest_reading(readings: Sequence[VitalReading]) -> VitalReading | None:
    return max(readings, key=lambda r: (r.taken_at, r.id or 0), default=None)


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)


def criteria(note: SessionNote, readings: Sequence[VitalReading], minimum_minutes: int | None) -> list[Criterion]:
    """Every discharge criterion with whether it is met and why, in the order the page lists them."""
    latest = latest_reading(readings)
    if latest is None:
        vitals = Criterion("Vital signs back within the protocol's limits", False, "No reading recorded yet.")
    elif latest.flags:
        vitals = Criterion(
            "Vital signs back within the protocol's limits",
            False,
            f"Latest reading ({latest.taken_at:%H:%M}): " + "; ".join(latest.flags.values()) + ".",
        )
    else:
        vitals = Criterion(
            "Vital signs back within the protocol's limits", True, f"Latest reading ({latest.taken_at:%H:%M}) in range."
        )

    baseline, now = note.distress_baseline, note.distress_at_discharge
    if baseline is None or now is None:
        distress = Criterion("Distress at or below baseline", False, "Record the SUDS at baseline and at discharge.")
    else:
        distress = Criterion(
            "Distress at or below baseline", now <= baseline, f"SUDS {now} at discharge, baseline {baseline}."
        )

    last_dose = max((t for t in (note.dose_given_at, note.supplemental_given_at) if t is not None), default=None)
    label = "Minimum observation time met"
    if note.discharged_at is None or last_dose is None:
        observation = Criterion(label, False, "Record the time the dose was given and the time of discharge.")
    else:
        observed = _minutes(note.discharged_at - last_dose)
        if minimum_minutes is None:
            observation = Criterion(
                label, observed >= 0, f"Observed {observed} min after the last dose; the protocol sets no minimum."
            )
        else:
            observation = Criterion(
                label,
                observed >= minimum_minutes,
                f"Observed {observed} min after the last dose; the protocol asks for at least {minimum_minutes} min.",
            )
    escort = Criterion(
        "Escort or driver named",
        bool(note.escort_name and note.escort_name.strip()),
        note.escort_name or "Name the person taking the patient home.",
    )
    return [vitals, distress, observation, escort]


def is_complete(note: SessionNote, readings: Sequence[VitalReading], minimum_minutes: int | None) -> bool:
    return all(c.met for c in criteria(note, readings, minimum_minutes))


def missing_dose_items(note: SessionNote) -> list[str]:
    """What the administration record still lacks (DOMAIN.md section 5 item 1: dose, lot, route, time)."""
    missing = []
    if not note.substance:
        missing.append("substance")
    if note.dose_amount is None or note.dose_unit is None:
        missing.append("dose and unit")
    elif note.dose_unit is DoseUnit.MG_PER_KG and note.weight_kg is None:
        missing.append("weight on the day")
    if note.route is None:
        missing.append("route")
    if not note.lot_number:
        missing.append("lot number")
    if note.dose_given_at is None:
        missing.append("time given")
    return missing
