"""The practices of an integration plan as structured items (practice, frequency), and the short check-in on each
at every integration session: how it went since the last one. Plain Python over plain data.

The lifestyle practices offered as suggestions are those the integrative-psychiatry article names for integration
(mindful movement, nature, breathwork, contemplative practice) and for the body's terrain (sleep and circadian
rhythm, blood sugar): "Psychedelic-Assisted Therapy: Where Are We Now and Where Are We Headed?". A clinic may write
any other practice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

#: How often the patient means to do a practice.
FREQUENCIES = {
    "daily": "Every day",
    "most_days": "Most days (5 or 6 a week)",
    "few_per_week": "A few times a week (2 to 4)",
    "weekly": "Once a week",
    "as_needed": "When needed",
}

#: The check-in at an integration session: how the practice went since the last session.
ADHERENCE = {
    "as_planned": "As planned",
    "partly": "Partly",
    "not_done": "Not done",
    "not_discussed": "Not discussed",
}

SUGGESTED = (
    "Mindful movement (walking, yoga, tai chi)",
    "Time in nature",
    "Breathwork",
    "Contemplative practice (meditation, prayer)",
    "Sleep routine (regular hours, morning light)",
    "Steady meals for stable blood sugar",
    "Journaling",
)

MAX_PRACTICES = 12
MAX_PRACTICE_LENGTH = 120


class PracticeError(ValueError):
    """A practice row refused: ``row`` is its position (0-based), ``field`` "practice" or "frequency"."""

    def __init__(self, row: int, field: str, message: str) -> None:
        super().__init__(message)
        self.row = row
        self.field = field


def clean(rows: Iterable[tuple[str | None, str | None]]) -> list[dict[str, str]]:
    """The plan's practices from form rows (practice, frequency): empty rows dropped, each kept row complete.

    :raise PracticeError: a row with only one half, an unknown frequency, a repeat, too long, or too many rows.
    """
    practices: list[dict[str, str]] = []
    for index, (practice, frequency) in enumerate(rows):
        name = " ".join((practice or "").split())
        if not name and not frequency:
            continue
        if not name:
            raise PracticeError(index, "practice", "Name the practice, or clear its frequency.")
        if len(name) > MAX_PRACTICE_LENGTH:
            raise PracticeError(index, "practice", f"Use at most {MAX_PRACTICE_LENGTH} characters.")
        if frequency not in FREQUENCIES:
            raise PracticeError(index, "frequency", "Choose how often.")
        if name.casefold() in (p["practice"].casefold() for p in practices):
            raise PracticeError(index, "practice", f"{name!r} is already in the plan.")
        practices.append({"practice": name, "frequency": frequency})
    if len(practices) > MAX_PRACTICES:
        raise PracticeError(MAX_PRACTICES, "practice", f"Keep the plan to {MAX_PRACTICES} practices at most.")
    return practices


def check_in(practices: Sequence[Mapping[str, str]], answers: Sequence[str | None]) -> list[dict[str, str | None]]:
    """The check-in of an integration note: each practice of the plan with how it went (None: not answered yet).

    :raise PracticeError: more or fewer answers than practices, or an answer that is not an adherence level.
    """
    if len(answers) != len(practices):
        raise PracticeError(
            0,
            "practice_checkin",
            "The integration plan changed since the page was opened: check in on its practices again.",
        )
    items: list[dict[str, str | None]] = []
    for index, (practice, answer) in enumerate(zip(practices, answers, strict=True)):
        if answer and answer not in ADHERENCE:
            raise PracticeError(index, "practice_checkin", "Choose how the practice went.")
        items.append(
            {"practice": practice["practice"], "frequency": practice["frequency"], "adherence": answer or None}
        )
    return items


@dataclass(frozen=True)
class CheckIn:
    """One integration session's check-in, as the adherence table reads it."""

    held_at: datetime
    label: str
    answers: Mapping[str, str | None]  # practice -> adherence


@dataclass(frozen=True)
class AdherenceRow:
    practice: str
    frequency: str
    #: One cell per check-in, oldest first: the adherence code, or None where the practice was not in that plan.
    cells: tuple[str | None, ...]

    @property
    def share(self) -> str:
        """ "2 of 3 check-ins as planned" over the check-ins that asked about it."""
        asked = [c for c in self.cells if c is not None and c != "not_discussed"]
        kept = sum(1 for c in asked if c == "as_planned")
        return f"{kept} of {len(asked)} check-ins as planned" if asked else "not checked in yet"


def adherence(current: Sequence[Mapping[str, str]], check_ins: Sequence[CheckIn]) -> list[AdherenceRow]:
    """The current plan's practices against every check-in so far (a practice no longer in the plan but checked in
    on before is listed after them)."""
    rows = [(p["practice"], p["frequency"]) for p in current]
    seen = {name.casefold() for name, _ in rows}
    for entry in check_ins:
        for name in entry.answers:
            if name.casefold() not in seen:
                rows.append((name, ""))
                seen.add(name.casefold())
    return [
        AdherenceRow(name, frequency, tuple(entry.answers.get(name) for entry in check_ins)) for name, frequency in rows
    ]
