"""Vital signs during a dosing session: what a reading may hold, and which values a protocol flags.

Pure Python (no Flask, no database), so the rules are unit- and property-tested on their own and shared by the
form, the service, the discharge check and the database's CHECK constraints (``PLAUSIBLE``).

Two different questions, kept apart:

- *Is the number possible at all?* ``validate`` rejects values no living patient shows (a negative pressure, a
  heart rate of 400, a systolic pressure not above the diastolic): they are typing mistakes, refused with a message
  next to the field. The bounds are deliberately wide, so any real, even alarming, measurement is accepted.
- *Is it outside the protocol's thresholds?* ``check`` compares each value with the protocol's ``vital_limits``
  (each with its source in the protocol file) and returns a flag per value strictly above ``high`` or strictly
  below ``low``; a value equal to a limit is within it (the sources say "SBP > 160", "HR > 100"). The same
  function with the protocol's ``critical_limits`` (``critical=True``) finds the values that raise a safety alert.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only a type here: the models import this module for their CHECK constraints
    from tracker.protocols import VitalLimit

SIGNS = ("systolic", "diastolic", "heart_rate", "temperature", "spo2")

LABELS = {
    "systolic": "Systolic BP",
    "diastolic": "Diastolic BP",
    "heart_rate": "Heart rate",
    "temperature": "Temperature",
    "spo2": "SpO2",
}
UNITS = {"systolic": "mmHg", "diastolic": "mmHg", "heart_rate": "bpm", "temperature": "°C", "spo2": "%"}

#: The values a measurement can take at all (inclusive). Outside them a value is a typing mistake, not an alert:
#: e.g. heart rates up to 250 occur in supraventricular tachycardia, so 250 is accepted and 400 is refused.
PLAUSIBLE: dict[str, tuple[float, float]] = {
    "systolic": (50, 300),
    "diastolic": (20, 200),
    "heart_rate": (20, 250),
    "temperature": (30.0, 45.0),
    "spo2": (50, 100),
}


@dataclass(frozen=True)
class Reading:
    """One set of measurements taken together; any sign may be missing, but not all of them."""

    systolic: int | None = None
    diastolic: int | None = None
    heart_rate: int | None = None
    temperature: float | None = None
    spo2: int | None = None

    def values(self) -> dict[str, float]:
        """The signs that were measured, by name."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


def _format(sign: str, value: float) -> str:
    number = f"{value:.1f}" if sign == "temperature" else f"{value:g}"
    return f"{number} {UNITS[sign]}" if UNITS[sign] != "%" else f"{number}%"


def validate(reading: Reading) -> dict[str, str]:
    """The impossible values of ``reading``, as ``{field: message}``; empty when the reading can be saved.

    A reading with no value at all is refused under ``systolic`` (the first field of the form).
    """
    values = reading.values()
    if not values:
        return {"systolic": "Enter at least one measurement."}
    problems: dict[str, str] = {}
    for sign, value in values.items():
        low, high = PLAUSIBLE[sign]
        if value < 0:
            problems[sign] = f"{LABELS[sign]} cannot be negative."
        elif not low <= value <= high:
            problems[sign] = (
                f"{LABELS[sign]} of {_format(sign, value)} is not possible; enter a value between "
                f"{_format(sign, low)} and {_format(sign, high)}."
            )
    systolic, diastolic = values.get("systolic"), values.get("diastolic")
    if systolic is not None and diastolic is not None and "systolic" not in problems and systolic <= diastolic:
        problems["systolic"] = "Systolic pressure must be above diastolic pressure; check the two values."
    return problems


@dataclass(frozen=True)
class Flag:
    """One value outside a protocol threshold."""

    sign: str
    value: float
    limit: float
    #: "above" or "below"
    direction: str
    source: str
    #: Past a critical limit (a safety alert) rather than a flagging limit.
    critical: bool = False

    @property
    def text(self) -> str:
        kind = "critical limit" if self.critical else "limit"
        return (
            f"{LABELS[self.sign]} {_format(self.sign, self.value)} is {self.direction} the protocol's {kind} of "
            f"{_format(self.sign, self.limit)}"
        )


def outside(value: float, limit: VitalLimit) -> str | None:
    """ "above" or "below" when ``value`` is outside ``limit``, else None (a value on the limit is within it)."""
    if limit.high is not None and value > limit.high:
        return "above"
    if limit.low is not None and value < limit.low:
        return "below"
    return None


def check(reading: Reading, limits: Iterable[VitalLimit], critical: bool = False) -> list[Flag]:
    """Every value of ``reading`` outside one of ``limits``, in the order of ``SIGNS`` (``critical``: the limits
    are the protocol's critical limits)."""
    values = reading.values()
    flags = []
    for limit in sorted(limits, key=lambda item: SIGNS.index(item.sign)):
        value = values.get(limit.sign)
        if value is None:
            continue
        direction = outside(value, limit)
        if direction is not None:
            bound = limit.high if direction == "above" else limit.low
            assert bound is not None
            flags.append(Flag(limit.sign, value, bound, direction, limit.source, critical))
    return flags
