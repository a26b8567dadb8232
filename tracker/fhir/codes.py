"""The LOINC codes of the FHIR export, read from ``codes.toml`` (one data file, each code with where it was checked).

Local codes (``urn:care-tracker:...``) name what LOINC has no checked code for: an instrument's own items and
answers, a total without a LOINC code, session kinds, phases and protocols.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CODES_FILE = Path(__file__).resolve().parent / "codes.toml"

#: Local code systems: URNs, because these codes mean something only to this application.
LOCAL = "urn:care-tracker"


@dataclass(frozen=True)
class Code:
    code: str
    display: str
    unit: str | None = None


@dataclass(frozen=True)
class InstrumentCodes:
    """LOINC codes of one instrument; any part may be missing (None) where no code could be checked."""

    panel: Code | None = None
    total: Code | None = None
    #: Item codes in item order.
    items: tuple[str, ...] | None = None
    #: Answer codes in the order of the scale's options.
    answers: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Codes:
    loinc: str
    ucum: str
    vital_signs: dict[str, Code]
    instruments: dict[str, InstrumentCodes]
    #: Instrument code -> why it has no LOINC codes.
    uncoded: dict[str, str]

    def instrument(self, code: str) -> InstrumentCodes:
        return self.instruments.get(code, InstrumentCodes())


def _code(data: dict[str, Any]) -> Code:
    return Code(data["code"], data["display"], data.get("unit"))


def load_codes(path: Path = CODES_FILE) -> Codes:
    with path.open("rb") as file:
        data = tomllib.load(file)
    instruments = {
        name: InstrumentCodes(
            panel=_code(entry["panel"]) if "panel" in entry else None,
            total=_code(entry["total"]) if "total" in entry else None,
            items=tuple(entry["items"]) if "items" in entry else None,
            answers=tuple(entry["answers"]) if "answers" in entry else None,
        )
        for name, entry in data["instruments"].items()
    }
    return Codes(
        loinc=data["loinc"],
        ucum=data["ucum"],
        vital_signs={name: _code(entry) for name, entry in data["vital_signs"].items()},
        instruments=instruments,
        uncoded=dict(data["uncoded"]),
    )


@functools.cache
def codes() -> Codes:
    """The shipped codes, read once."""
    return load_codes()
