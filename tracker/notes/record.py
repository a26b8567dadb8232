"""The dosing note as a record: one table of what it shows, in order, for the session page and the PDF alike.

Each row is a label and how its value reads, written once here, so a field the record prints is added in one place
and the screen and the printed record cannot drift apart. Times read on the clinic's clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import tzinfo

from tracker import clinictime
from tracker.models import SessionNote

NONE = "—"


@dataclass(frozen=True)
class Row:
    label: str
    value: str


@dataclass(frozen=True)
class Field:
    """One line of the record: its label, how its value reads, and whether a note shows it at all."""

    label: str
    value: Callable[[SessionNote, tzinfo], str]
    shown: Callable[[SessionNote], bool] = lambda note: True


def _number(value: float | None) -> str:
    return NONE if value is None else f"{value:g}"


def _dose(note: SessionNote, tz: tzinfo) -> str:
    if note.dose_amount is None or note.dose_unit is None:
        return NONE
    text = f"{note.dose_amount:g} {note.dose_unit.label}"
    if note.dose_unit.per_weight:
        text += f" at {_number(note.weight_kg)} kg = {_number(note.dose_total_mg)} mg"
    return text


def _supplemental(note: SessionNote, tz: tzinfo) -> str:
    if not note.supplemental_mg:
        return "none"
    return f"{note.supplemental_mg:g} mg at {clinictime.shown(note.supplemental_given_at, tz)}"


def _distress(note: SessionNote, tz: tzinfo) -> str:
    baseline, discharge = _number(note.distress_baseline), _number(note.distress_at_discharge)
    return f"baseline {baseline}, at discharge {discharge}"


def _weight_apart(note: SessionNote) -> bool:
    """The weight has its own line when the dose does not already show it (a dose per kilogram does)."""
    return note.weight_kg is not None and not (note.dose_unit is not None and note.dose_unit.per_weight)


#: The administration, in the order the record prints it.
ADMINISTRATION: tuple[Field, ...] = (
    Field("Substance", lambda note, tz: note.substance or NONE),
    Field("Dose", _dose),
    Field("Weight today", lambda note, tz: f"{_number(note.weight_kg)} kg", _weight_apart),
    Field("Route", lambda note, tz: note.route.label if note.route else NONE),
    Field("Lot number", lambda note, tz: note.lot_number or NONE),
    Field("Given at", lambda note, tz: clinictime.shown(note.dose_given_at, tz)),
    Field("Supplemental dose", _supplemental),
    Field("Total given", lambda note, tz: NONE if note.total_mg is None else f"{note.total_mg:g} mg"),
)

#: Discharge, in the order the record prints it.
DISCHARGE: tuple[Field, ...] = (
    Field("Distress (SUDS)", _distress),
    Field("Escort or driver", lambda note, tz: note.escort_name or NONE),
    Field("Discharged at", lambda note, tz: clinictime.shown(note.discharged_at, tz)),
)


def rows(fields: tuple[Field, ...], note: SessionNote, tz: tzinfo) -> list[Row]:
    return [Row(field.label, field.value(note, tz)) for field in fields if field.shown(note)]
