"""The dosing note as a record: what it shows, in order, for the session page and the PDF alike.

The lines come from the dosing note's table (``tracker.notes.fields.DOSING``: each field's label on the record and
how its value reads), so a field the record prints is added in one place and the screen and the printed record
cannot drift apart. Times read on the clinic's clock. Both print through one macro (``templates/macros/record.html``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo

from tracker.models import SessionNote
from tracker.notes.fields import Line, Section, record_lines


@dataclass(frozen=True)
class Row:
    label: str
    value: str


#: The administration and the supplemental dose, in the order the record prints them.
ADMINISTRATION: tuple[Line, ...] = record_lines(Section.ADMINISTRATION, Section.SUPPLEMENTAL)

#: Discharge, in the order the record prints it.
DISCHARGE: tuple[Line, ...] = record_lines(Section.DISCHARGE)


def rows(lines: tuple[Line, ...], note: SessionNote, tz: tzinfo) -> list[Row]:
    return [Row(line.label, line.value(note, tz)) for line in lines if line.shown(note)]
