"""Outcome and safety instruments: each one a data file, scored by one pure module.

A definition (``definitions/<code>.toml``) holds the items, response options, scoring rule, bands, item-level
flags, change rules, licence and sources of one instrument; every cutoff in it names its primary source, listed in
full in the file's ``sources``.
The files are read and checked on first use; a malformed file raises ``InstrumentError`` naming the file and field.
Adding an instrument is adding a file, plus a function in ``rules.py`` only if its total is computed a new way.

    >>> result = score("phq9", [0, 1, 1, 2, 0, 1, 0, 0, 1])
    >>> result.total, result.band, [flag.code for flag in result.flags]
    (6, 'mild', ['phq9-item9'])
"""

from __future__ import annotations

import functools
from pathlib import Path

from tracker.instruments.definition import (
    Administration,
    Answer,
    Band,
    ChangeRules,
    Instrument,
    InstrumentError,
    Item,
    StandingAnswer,
    Wording,
)
from tracker.instruments.rules import RULES
from tracker.instruments.schema import load_instrument_file
from tracker.instruments.scoring import (
    ChangeResult,
    Flag,
    ScoreResult,
    ScoringError,
    SubscaleScore,
    change_between,
    item_problems,
    score_answers,
)
from tracker.instruments.scoring import standing_only as _standing_only

DEFINITIONS_DIR = Path(__file__).resolve().parent / "definitions"

__all__ = [
    "DEFINITIONS_DIR",
    "RULES",
    "Administration",
    "Answer",
    "Band",
    "ChangeResult",
    "ChangeRules",
    "Flag",
    "Instrument",
    "InstrumentError",
    "Item",
    "ScoreResult",
    "ScoringError",
    "StandingAnswer",
    "SubscaleScore",
    "Wording",
    "change",
    "get_instrument",
    "instruments",
    "item_problems",
    "load_instrument_file",
    "load_instruments",
    "score",
    "standing_only",
]


def load_instruments(directory: Path = DEFINITIONS_DIR) -> dict[str, Instrument]:
    """Every definition in ``directory``, by code. :raise InstrumentError: for the first bad file."""
    catalogue: dict[str, Instrument] = {}
    for path in sorted(directory.glob("*.toml")):
        instrument = load_instrument_file(path)
        catalogue[instrument.code] = instrument  # codes are unique: each must match its file name
    if not catalogue:
        raise InstrumentError(f"{directory}: no instrument definitions (*.toml)")
    return catalogue


@functools.cache
def instruments() -> dict[str, Instrument]:
    """The shipped definitions, read and checked once."""
    return load_instruments()


def get_instrument(code: str) -> Instrument:
    """:raise ScoringError: if no instrument has this code."""
    catalogue = instruments()
    try:
        return catalogue[code]
    except (KeyError, TypeError):
        raise ScoringError(f"unknown instrument {code!r}; known: {', '.join(sorted(catalogue))}") from None


def score(code: str, answers: object, *, cut_point: int | None = None) -> ScoreResult:
    """Score one administration of instrument ``code``.

    ``answers`` is a list in item order. Numeric items take whole numbers on their scale; the C-SSRS screener
    takes "yes"/"no" for questions 1 to 5 (None for 3 to 5 when question 2 is "no", as its skip logic leaves them out)
    and "no", "past_3_months" or "lifetime" (more than 3 months ago) for question 6, suicidal behaviour.
    ``cut_point`` sets the PCL-5 provisional cut-point within its published range (default in its file).

    :raise ScoringError: for an unknown code, a wrong number of answers, an answer that is missing, skipped
        but given, of the wrong type or outside its scale (the item is named), or a cut-point out of range.
    """
    return score_answers(get_instrument(code), answers, cut_point)


def standing_only(code: str, answers: object) -> tuple[StandingAnswer, ...]:
    """The standing answers (``StandingAnswer``) that alone make this administration of ``code`` urgent; empty when
    it is not urgent or something new or worse makes it so. :raise ScoringError: as ``score``."""
    return _standing_only(get_instrument(code), answers)


def change(code: str, baseline_total: int, current_total: int) -> ChangeResult:
    """The change between two totals of instrument ``code``, read with the change rules its sources give.

    PCL-5: reliable (≥5 points) and clinically meaningful (≥10 points) change; MADRS: response (≥50% drop) and
    remission (≤10); PHQ-9: response (≥50% drop) and remission (<5, NCQA HEDIS DRR-E); QIDS-SR16: response (≥50%
    drop) and remission (≤5, STAR*D). An instrument without change rules in its file (GAD-7) gives the difference
    only, with the rule fields None.

    :raise ScoringError: for an unknown code, an instrument without a total (C-SSRS), or a total outside its range.
    """
    return change_between(get_instrument(code), baseline_total, current_total)
