"""What an instrument definition holds once its data file has been read and validated.

Plain frozen dataclasses, no behaviour beyond small lookups: the rules that turn answers into a score live in
``rules.py`` and ``scoring.py``; the reading and checking of data files lives in ``schema.py``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


def span(low: int, high: int) -> str:
    """A range as clinicians write it ("0", en dash, "3"); the dash is an escape so the source stays ASCII."""
    return f"{low}\u2013{high}"


#: One answer as it arrives: a whole number on numeric scales, an option code on coded scales, None if not asked.
Answer = int | str | None


class InstrumentError(ValueError):
    """A definition file that cannot be used, with the file and field named."""


class Administration(enum.StrEnum):
    SELF_REPORT = "self-report"
    CLINICIAN = "clinician"
    #: The C-SSRS screener may be asked by a clinician or by trained lay staff (The Columbia Lighthouse Project,
    #: https://cssrs.columbia.edu/).
    CLINICIAN_OR_TRAINED_STAFF = "clinician or trained lay staff"


class Wording(enum.StrEnum):
    #: Item text as published (only for instruments free to reproduce).
    VERBATIM = "verbatim"
    #: Short neutral paraphrases, because the licence to reproduce the published text is not confirmed.
    PARAPHRASED = "paraphrased"
    #: Short symptom labels only; the published item text is not held.
    LABELS = "labels"


@dataclass(frozen=True)
class Option:
    value: int | str
    label: str


@dataclass(frozen=True)
class Scale:
    """The response options of an item: whole numbers in a run (0 to 3), or codes ("yes", "no")."""

    name: str
    options: tuple[Option, ...]

    @property
    def numeric(self) -> bool:
        return isinstance(self.options[0].value, int)

    @property
    def values(self) -> tuple[int | str, ...]:
        return tuple(option.value for option in self.options)

    @property
    def lowest(self) -> int:
        value = self.options[0].value
        assert isinstance(value, int)
        return value

    @property
    def highest(self) -> int:
        value = self.options[-1].value
        assert isinstance(value, int)
        return value

    @property
    def consecutive(self) -> bool:
        """Whole numbers counting up by one (AUDIT items 9 and 10 score 0, 2 or 4: not consecutive)."""
        return self.numeric and list(self.values) == list(range(self.lowest, self.highest + 1))

    def describe(self) -> str:
        if self.consecutive:
            return span(self.lowest, self.highest)
        if self.numeric:
            *first, last = (str(value) for value in self.values)
            return f"{', '.join(first)} or {last}"
        return ", ".join(repr(value) for value in self.values)


@dataclass(frozen=True)
class Condition:
    """Item ``item`` (1-based) was answered ``equals``."""

    item: int
    equals: int | str

    def holds(self, answers: tuple[Answer, ...] | list[Answer]) -> bool:
        return answers[self.item - 1] == self.equals


@dataclass(frozen=True)
class Item:
    number: int
    text: str
    scale: Scale
    #: Skip logic: the item is asked only when this holds; otherwise its answer must be None.
    ask_if: Condition | None = None
    #: The answer cannot exceed the answer to this earlier item (heavy drinking days are drinking days).
    at_most_item: int | None = None


@dataclass(frozen=True)
class Band:
    """A severity band, least severe first. Bands of a total have a range; bands of answers have conditions."""

    label: str
    source: str
    min: int | None = None
    max: int | None = None
    #: For instruments without a total: the band applies when any of these holds (checked most severe first).
    when_any: tuple[Condition, ...] = ()

    def contains(self, total: int) -> bool:
        return self.min is not None and self.max is not None and self.min <= total <= self.max


@dataclass(frozen=True)
class CutPoint:
    """A single cut-point that a clinic may set within a published range; it splits the total into two bands."""

    default: int
    lowest: int
    highest: int
    below: str
    at_or_above: str
    source: str
    note: str


@dataclass(frozen=True)
class Subscale:
    """A cluster or domain: the sum or the maximum of some items."""

    code: str
    name: str
    items: tuple[int, ...]
    combine: str  # "sum" or "max"
    source: str


@dataclass(frozen=True)
class Diagnosis:
    """A classification read from the subscales: a provisional diagnosis (PCL-5: enough endorsed items, answer
    ≥ ``endorsed_at_least``, in each named subscale), or, with ``percent_of_maximum``, each named subscale scoring at
    least that share of its highest possible score (MEQ-30: a "complete mystical experience" at 60% of every
    factor). ``required`` pairs each subscale with the items needed, or with the points needed in the second case."""

    label: str
    endorsed_at_least: int | None
    required: tuple[tuple[str, int], ...]  # (subscale code, items or points needed)
    source: str
    percent_of_maximum: int | None = None

    def needs(self, subscale: str) -> int | None:
        return dict(self.required).get(subscale)


@dataclass(frozen=True)
class FlagRule:
    """A flag raised by one item's answer, by the total, or by the band; exactly one trigger is set."""

    code: str
    message: str
    urgent: bool
    source: str
    item: int | None = None
    at_least: int | None = None
    total_at_least: int | None = None
    band: str | None = None
    #: With ``item``: the flag is raised up to this answer only (so each answer level carries its own message).
    at_most: int | None = None
    #: Set when part of the rule (often its urgency) is a clinic choice rather than a sourced fact.
    setting_note: str | None = None
    #: An urgent flag that also holds the next dose until a supervisor closes its alert (a suicide plan, C-SSRS
    #: high risk): ``tracker.gate`` reads it from the alert.
    high_risk: bool = False


@dataclass(frozen=True)
class StandingAnswer:
    """An answer about the distant past (the C-SSRS's suicidal behaviour "more than 3 months ago"), which every
    re-test repeats: its urgency is raised once as an alert, and again only when something new or worse comes with
    it (``tracker.instruments.standing_only``)."""

    item: int
    equals: int | str
    source: str


@dataclass(frozen=True)
class ChangeRules:
    """How to read the change between two totals; a rule the sources do not give is None."""

    source: str
    #: A change of at least this many points, either way, is more than measurement noise.
    reliable_change: int | None = None
    #: A change of at least this many points, either way, is clinically meaningful.
    clinically_meaningful_change: int | None = None
    #: A drop of at least this percentage of the baseline total is a response.
    response_percent_drop: int | None = None
    #: A current total at or below this is remission.
    remission_at_or_below: int | None = None
    #: Remission also needs a response (Griffiths 2016: a drop of at least 50% and a total of 7 or less).
    remission_requires_response: bool = False
    note: str | None = None


@dataclass(frozen=True)
class Instrument:
    code: str
    name: str
    short_name: str
    administration: Administration
    recall_period: str
    licence: str
    wording: Wording
    wording_note: str
    rule: str
    sources: tuple[str, ...]
    items: tuple[Item, ...]
    #: Least severe first. With a cut-point these are the bands at its default.
    bands: tuple[Band, ...]
    #: The range of the total, or None for instruments that have no total (C-SSRS).
    total_range: tuple[int, int] | None
    stem: str | None = None
    cut_point: CutPoint | None = None
    subscales: tuple[Subscale, ...] = ()
    diagnosis: Diagnosis | None = None
    flags: tuple[FlagRule, ...] = ()
    change_rules: ChangeRules | None = None
    standing_answers: tuple[StandingAnswer, ...] = ()
    notes: tuple[str, ...] = ()
    #: The items the total adds up (rule ``sum``); empty: every item. Items outside it are recorded and shown but
    #: not added (the Timeline Followback's drinking days beside its total of heavy drinking days).
    total_items: tuple[int, ...] = ()
    path: str = field(default="", compare=False)

    def item(self, number: int) -> Item:
        return self.items[number - 1]

    def subscale(self, code: str) -> Subscale:
        return next(s for s in self.subscales if s.code == code)

    def bands_at(self, cut_point: int | None) -> tuple[Band, ...]:
        """The bands with the cut-point set to ``cut_point`` (its default when None); unchanged without one."""
        if self.cut_point is None or self.total_range is None:
            return self.bands
        at = self.cut_point.default if cut_point is None else cut_point
        low, high = self.total_range
        source = self.cut_point.source
        return (
            Band(self.cut_point.below, source, low, at - 1),
            Band(self.cut_point.at_or_above, source, at, high),
        )
