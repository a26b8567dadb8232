"""Scoring rules, keyed by the name a definition file gives in ``rule``.

A rule turns checked answers into a total (or, for an instrument without one, straight into a band). Everything
else (subscales, the provisional diagnosis, flags) is read from the definition and applied in ``scoring.py`` the
same way for every instrument, so a new instrument needs a new rule here only if its total is computed in a new way.
Rules get answers that ``scoring.check_answers`` has already validated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tracker.instruments.definition import Answer, Instrument, Subscale

Answers = tuple[Answer, ...]


@dataclass(frozen=True)
class Outcome:
    total: int | None
    #: Set by rules that band on the answers rather than on a total; otherwise the band comes from the total.
    band_index: int | None = None


@dataclass(frozen=True)
class Rule:
    #: Whether the rule yields a total; such instruments need numeric items and bands with ranges.
    has_total: bool
    apply: Callable[[Instrument, Answers], Outcome]


def numbers(answers: Answers, item_numbers: tuple[int, ...] | None = None) -> list[int]:
    """The numeric answers to the given items (1-based), or to every item."""
    picked = answers if item_numbers is None else tuple(answers[n - 1] for n in item_numbers)
    values = [a for a in picked if isinstance(a, int)]
    if len(values) != len(picked):
        raise TypeError("a total rule was given non-numeric answers")  # schema.py rules this out
    return values


def subscale_score(subscale: Subscale, answers: Answers) -> int:
    values = numbers(answers, subscale.items)
    return max(values) if subscale.combine == "max" else sum(values)


def _sum(instrument: Instrument, answers: Answers) -> Outcome:
    """Total = the sum of every item (PHQ-9, GAD-7, PCL-5, MADRS), or of the items the definition names in
    ``total_items`` (the Timeline Followback: heavy drinking days, with drinking days recorded beside them)."""
    return Outcome(total=sum(numbers(answers, instrument.total_items or None)))


def _sum_of_subscales(instrument: Instrument, answers: Answers) -> Outcome:
    """Total = the sum of the subscale scores, each the sum or maximum of its items.

    QIDS-SR16: nine domains, three of them the maximum of several items, so the total is not the 16-item sum
    (Rush AJ et al. 2003, Biol Psychiatry 54:573, doi:10.1016/S0006-3223(02)01866-8). ``schema.py`` checks that the
    subscales use every item exactly once.
    """
    return Outcome(total=sum(subscale_score(s, answers) for s in instrument.subscales))


def _first_matching_level(instrument: Instrument, answers: Answers) -> Outcome:
    """No total: the most severe band any of whose conditions holds; the first (least severe) band otherwise.

    C-SSRS screener triage (The Columbia Lighthouse Project, https://cssrs.columbia.edu/) [S]: the levels and their
    conditions are in its data file, with their sources.
    """
    for index in range(len(instrument.bands) - 1, 0, -1):
        if any(condition.holds(answers) for condition in instrument.bands[index].when_any):
            return Outcome(total=None, band_index=index)
    return Outcome(total=None, band_index=0)


RULES: dict[str, Rule] = {
    "sum": Rule(has_total=True, apply=_sum),
    "sum_of_subscales": Rule(has_total=True, apply=_sum_of_subscales),
    "first_matching_level": Rule(has_total=False, apply=_first_matching_level),
}
