"""The pre-treatment evaluation: laboratory markers (a data file, ``markers.toml``) and the reading of a result
against its reference range. Plain Python, no database: the results themselves are ``tracker.models.LabResult``
rows, written by ``tracker.labs.services``.

A result carries the reference range it was read against (the laboratory's own, from its report, or the marker's
default for that unit, each with its source), so a later change of the defaults never changes how a recorded
result was flagged.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MARKERS_FILE = Path(__file__).resolve().parent / "markers.toml"


class MarkerError(ValueError):
    """A markers file that cannot be used, with the marker and field named."""


@dataclass(frozen=True)
class UnitRange:
    """One unit a marker is reported in, with its default reference range (either end may be missing)."""

    unit: str
    low: float | None
    high: float | None
    source: str


@dataclass(frozen=True)
class Marker:
    code: str
    name: str
    category: str
    units: tuple[UnitRange, ...]
    sources: tuple[str, ...]
    setting_note: str | None = None

    def unit(self, name: str) -> UnitRange | None:
        return next((u for u in self.units if u.unit == name), None)


def _number(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MarkerError(f"{where} must be a number")
    return float(value)


def _unit(data: dict[str, Any], where: str) -> UnitRange:
    unknown = set(data) - {"unit", "low", "high", "source"}
    if unknown:
        raise MarkerError(f"{where}: unknown field {sorted(unknown)[0]!r}")
    if not isinstance(data.get("unit"), str) or not isinstance(data.get("source"), str):
        raise MarkerError(f"{where} needs a unit and a source")
    low, high = _number(data.get("low"), f"{where}.low"), _number(data.get("high"), f"{where}.high")
    if low is not None and high is not None and low >= high:
        raise MarkerError(f"{where}.low must be below high")
    return UnitRange(data["unit"], low, high, data["source"])


def load_markers(path: Path = MARKERS_FILE) -> dict[str, Marker]:
    """Every marker in ``path`` by code. :raise MarkerError: naming the marker and field of the first mistake."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    catalogue: dict[str, Marker] = {}
    for index, entry in enumerate(data.get("markers", [])):
        where = f"{path.name}: markers[{index}]"
        unknown = set(entry) - {"code", "name", "category", "units", "sources", "setting_note"}
        if unknown:
            raise MarkerError(f"{where}: unknown field {sorted(unknown)[0]!r}")
        units = tuple(_unit(u, f"{where}.units[{n}]") for n, u in enumerate(entry.get("units", [])))
        if not units or not entry.get("sources") or not entry.get("code") or not entry.get("name"):
            raise MarkerError(f"{where} needs a code, a name, units and sources")
        marker = Marker(
            entry["code"],
            entry["name"],
            entry.get("category", ""),
            units,
            tuple(entry["sources"]),
            entry.get("setting_note"),
        )
        if marker.code in catalogue:
            raise MarkerError(f"{where}: code {marker.code!r} repeats")
        catalogue[marker.code] = marker
    return catalogue


@functools.cache
def markers() -> dict[str, Marker]:
    """The shipped markers, read once."""
    return load_markers()


def out_of_range(value: float, low: float | None, high: float | None) -> str | None:
    """ "low" below the range, "high" above it, None within it (the limits themselves are within)."""
    if low is not None and value < low:
        return "low"
    if high is not None and value > high:
        return "high"
    return None


def describe_range(low: float | None, high: float | None, unit: str) -> str:
    """The range as a report prints it: "3.9-5.5 mmol/L", "< 5.6 %", "> 8 %", or "no range"."""
    if low is not None and high is not None:
        return f"{low:g}-{high:g} {unit}"
    if high is not None:
        return f"up to {high:g} {unit}"
    if low is not None:
        return f"{low:g} {unit} or more"
    return "no range given"
