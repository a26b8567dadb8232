"""Recording laboratory results, and correcting them. Each operation takes the acting user, writes the row and its
audit row, and leaves the commit to the caller; a result is never changed afterwards (the database refuses it), so a
correction is a new result that supersedes the old one."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from sqlalchemy import exists, select

from tracker import audit
from tracker.extensions import db
from tracker.labs import Marker, describe_range, markers, out_of_range
from tracker.models import LabResult, Patient, User
from tracker.validators import EARLIEST_DATE as EARLIEST
from tracker.validators import FieldError

LABORATORY_MAX_LENGTH = 120
REASON_MAX_LENGTH = 2000


class LabError(FieldError):
    """A result refused for a reason shown next to ``field``."""


@dataclass(frozen=True)
class LabInput:
    """One result as entered: the reference range is the laboratory's when either end is given, else the marker's
    default for the unit."""

    marker: str
    value: float
    unit: str
    collected_on: date
    reference_low: float | None = None
    reference_high: float | None = None
    laboratory: str | None = None


def _marker(code: str) -> Marker:
    found = markers().get(code)
    if found is None:
        raise LabError("marker", "Choose a marker from the list.")
    return found


def _checked(given: LabInput, today: date) -> tuple[Marker, float | None, float | None, bool, str]:
    """The marker, the range to read the value against, whether it is the laboratory's, and its source.

    :raise LabError: on the field at fault.
    """
    marker = _marker(given.marker)
    unit = marker.unit(given.unit)
    if unit is None:
        raise LabError("unit", f"{marker.name} is recorded in {' or '.join(u.unit for u in marker.units)}.")
    for name in ("value", "reference_low", "reference_high"):
        number = getattr(given, name)
        if number is not None and (not math.isfinite(number) or number < 0):
            raise LabError(name, "Enter a number of 0 or more.")
    if not EARLIEST <= given.collected_on <= today:
        raise LabError("collected_on", "The date cannot be in the future (or before 1900).")
    if given.laboratory is not None and len(given.laboratory) > LABORATORY_MAX_LENGTH:
        raise LabError("laboratory", f"Use at most {LABORATORY_MAX_LENGTH} characters.")
    low, high = given.reference_low, given.reference_high
    if low is not None or high is not None:
        if low is not None and high is not None and low >= high:
            raise LabError("reference_low", "The low end of the range must be below the high end.")
        return marker, low, high, True, given.laboratory or "the laboratory's report"
    return marker, unit.low, unit.high, False, f"default range of the tracker: {unit.source}"


def _row(actor: User, patient: Patient, given: LabInput, today: date) -> LabResult:
    marker, low, high, from_laboratory, source = _checked(given, today)
    return LabResult(
        patient_id=patient.id,
        marker=marker.code,
        value=given.value,
        unit=given.unit,
        reference_low=low,
        reference_high=high,
        range_from_laboratory=from_laboratory,
        range_source=source,
        flag=out_of_range(given.value, low, high),
        collected_on=given.collected_on,
        laboratory=given.laboratory,
        entered_by_id=actor.id,
    )


def _audit_data(row: LabResult) -> dict[str, object]:
    return {
        "marker": row.marker,
        "value": row.value,
        "unit": row.unit,
        "collected_on": row.collected_on,
        "range": describe_range(row.reference_low, row.reference_high, row.unit),
        "flag": row.flag,
    }


def record_result(actor: User, patient: Patient, given: LabInput, today: date) -> LabResult:
    """Record one result, flagged against its range. :raise LabError: on the field at fault (nothing is saved)."""
    row = _row(actor, patient, given, today)
    db.session.add(row)
    db.session.flush()
    name = markers()[row.marker].name
    audit.record(
        actor,
        "lab.record",
        f"Recorded a laboratory result: {name}" + (f" ({row.flag})" if row.flag else ""),
        patient=patient,
        target_type="lab_result",
        target_id=row.id,
        data=_audit_data(row),
    )
    return row


def is_superseded(result: LabResult) -> bool:
    return bool(db.session.scalar(select(exists().where(LabResult.supersedes_id == result.id))))


def correct_result(
    actor: User, patient: Patient, original: LabResult, given: LabInput, reason: str, today: date
) -> LabResult:
    """A new result that supersedes ``original``; both are kept.

    :raise LabError: the original was already corrected, the reason is missing or too long, or a field is wrong.
    """
    if is_superseded(original):
        raise LabError("reason", "This result was already corrected: correct the newest version instead.")
    reason = reason.strip()
    if not reason:
        raise LabError("reason", "Say why the result is being corrected.")
    if len(reason) > REASON_MAX_LENGTH:
        raise LabError("reason", f"Use at most {REASON_MAX_LENGTH} characters.")
    row = _row(actor, patient, given, today)
    row.supersedes_id, row.correction_reason = original.id, reason
    db.session.add(row)
    db.session.flush()
    audit.record(
        actor,
        "lab.correct",
        f"Corrected a laboratory result: {markers()[row.marker].name}",
        patient=patient,
        target_type="lab_result",
        target_id=row.id,
        data={**_audit_data(row), "supersedes": original.id},
    )
    return row
