"""Scoring answers against a definition, and reading the change between two totals: pure functions, no I/O.

Answers arrive as a list in item order. Numeric items take whole numbers on the item's scale (never bools, floats or
strings that look like numbers); coded items take one of their option codes; an item that skip logic leaves out
must be None, and every other item must be answered. Anything else raises ``ScoringError`` naming the item.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tracker.instruments.definition import Answer, Band, FlagRule, Instrument, Item, StandingAnswer, span
from tracker.instruments.rules import RULES, Answers, subscale_score


class ScoringError(ValueError):
    """Answers (or totals, or a setting) that cannot be scored, with the instrument and item named.

    ``item`` is the number of the item at fault (from 1), or None when the fault is not one item's (a wrong
    count, an unknown instrument), so a form can show the message next to the item.
    """

    def __init__(self, message: str, item: int | None = None) -> None:
        super().__init__(message)
        self.item = item


@dataclass(frozen=True)
class Flag:
    code: str
    message: str
    #: Needs clinician attention now (e.g. PHQ-9 item 9 above 0, C-SSRS moderate or high risk).
    urgent: bool
    source: str
    #: Holds the next dose until a supervisor closes the alert (a suicide plan, C-SSRS high risk).
    high_risk: bool = False


@dataclass(frozen=True)
class SubscaleScore:
    """A cluster (PCL-5 B to E) or domain (QIDS-SR16) score."""

    code: str
    name: str
    score: int
    #: For subscales in a provisional diagnosis: items endorsed, items needed, and whether that is enough; for a
    #: share of the maximum (MEQ-30), ``endorsed`` is None and ``required`` the points needed.
    endorsed: int | None = None
    required: int | None = None
    met: bool | None = None


@dataclass(frozen=True)
class ScoreResult:
    instrument: str
    answers: Answers
    #: None for instruments without a total (C-SSRS).
    total: int | None
    band: str
    #: Position of the band, 0 = least severe; compares severity without parsing labels.
    band_index: int
    subscales: tuple[SubscaleScore, ...] = ()
    #: Whether the provisional diagnosis rule is met (PCL-5); None where the instrument has none.
    provisional_diagnosis: bool | None = None
    #: The cut-point the band was read at, for instruments whose bands are a clinic-set cut-point (PCL-5).
    cut_point: int | None = None
    flags: tuple[Flag, ...] = ()

    @property
    def urgent(self) -> bool:
        return any(flag.urgent for flag in self.flags)

    @property
    def high_risk(self) -> bool:
        return any(flag.high_risk for flag in self.flags)

    def subscale(self, code: str) -> SubscaleScore:
        """:raise KeyError: if the instrument has no such subscale."""
        for subscale in self.subscales:
            if subscale.code == code:
                return subscale
        raise KeyError(code)


@dataclass(frozen=True)
class ChangeResult:
    instrument: str
    baseline_total: int
    current_total: int
    #: current - baseline: negative means fewer symptoms (on every instrument here a higher total is worse).
    difference: int
    #: |difference| is at least the reliable-change size; None where the sources give none.
    reliable: bool | None = None
    #: |difference| is at least the clinically meaningful size (either way: read the sign of ``difference``).
    clinically_meaningful: bool | None = None
    #: The total dropped by at least the response percentage; None without a rule or with a baseline of 0.
    response: bool | None = None
    #: The current total is at or below the remission threshold; None without a rule.
    remission: bool | None = None


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _check_answer(instrument: Instrument, item: Item, answer: object, asked: bool) -> Answer:
    where = f"{instrument.short_name} item {item.number}"
    condition = item.ask_if
    if answer is None:
        if not asked:
            return None
        because = f" (asked because item {condition.item} is {condition.equals!r})" if condition else ""
        raise ScoringError(f"{where}: answer missing{because}", item.number)
    if not asked:
        assert condition is not None
        raise ScoringError(
            f"{where}: must be left unanswered (None) because item {condition.item} is not {condition.equals!r} "
            f"(skip logic), got {_show(answer)}",
            item.number,
        )
    scale = item.scale
    if scale.numeric:
        if isinstance(answer, bool) or not isinstance(answer, int):
            raise ScoringError(f"{where}: {_show(answer)} is not a whole number {scale.describe()}", item.number)
        if not scale.lowest <= answer <= scale.highest:
            raise ScoringError(f"{where}: {answer} is outside {scale.describe()}", item.number)
        if answer not in scale.values:
            raise ScoringError(f"{where}: {answer} is not one of {scale.describe()}", item.number)
        return int(answer)
    if not isinstance(answer, str) or answer not in scale.values:
        raise ScoringError(f"{where}: {_show(answer)} is not one of {scale.describe()}", item.number)
    return str(answer)


def check_answers(instrument: Instrument, answers: object) -> Answers:
    """The answers, checked and normalised to a tuple. :raise ScoringError: naming the first bad item."""
    name = instrument.short_name
    if isinstance(answers, str | bytes) or not isinstance(answers, Sequence):
        raise ScoringError(f"{name}: answers must be a list in item order, got {type(answers).__name__}")
    count = len(instrument.items)
    if len(answers) != count:
        raise ScoringError(f"{name}: expected {count} answers (items {span(1, count)} in order), got {len(answers)}")
    checked: list[Answer] = []
    for item, answer in zip(instrument.items, answers, strict=True):
        asked = item.ask_if is None or item.ask_if.holds(checked)
        checked.append(_check_answer(instrument, item, answer, asked))
        _check_bound(instrument, item, checked)
    return tuple(checked)


def _check_bound(instrument: Instrument, item: Item, checked: Sequence[object]) -> None:
    """:raise ScoringError: the item's answer exceeds the earlier item it is bounded by (``at_most_item``)."""
    if item.at_most_item is None:
        return
    answer, bound = checked[item.number - 1], checked[item.at_most_item - 1]
    if isinstance(answer, int) and isinstance(bound, int) and answer > bound:
        other = instrument.item(item.at_most_item)
        raise ScoringError(
            f"{instrument.short_name} item {item.number}: {answer} is more than the {bound} given for item "
            f"{other.number} ({other.text})",
            item.number,
        )


def item_problems(instrument: Instrument, answers: Sequence[object]) -> dict[int, str]:
    """Every item's problem at once, by item number (``check_answers`` stops at the first): for a form, so that a
    clinician entering a long questionnaire from paper sees every missing or bad answer in one go. Empty when the
    answers are fine or are not one answer per item (``score`` then says what is wrong)."""
    if isinstance(answers, str | bytes) or len(answers) != len(instrument.items):
        return {}
    given: list[object] = []
    problems: dict[int, str] = {}
    for item, answer in zip(instrument.items, answers, strict=True):
        asked = item.ask_if is None or item.ask_if.holds(given)  # type: ignore[arg-type]
        try:
            _check_answer(instrument, item, answer, asked)
            _check_bound(instrument, item, [*given, answer])
        except ScoringError as error:
            problems[item.number] = str(error)
        given.append(answer)
    return problems


def _band_index(bands: tuple[Band, ...], total: int) -> int:
    return next(index for index, band in enumerate(bands) if band.contains(total))


def _raised(rule: FlagRule, answers: Answers, total: int | None, band: str) -> bool:
    if rule.item is not None:
        answer = answers[rule.item - 1]
        if not isinstance(answer, int) or rule.at_least is None or answer < rule.at_least:
            return False
        return rule.at_most is None or answer <= rule.at_most
    if rule.total_at_least is not None:
        return total is not None and total >= rule.total_at_least
    return rule.band == band


def _cut_point(instrument: Instrument, cut_point: object) -> int | None:
    if cut_point is None:
        return instrument.cut_point.default if instrument.cut_point else None
    setting = instrument.cut_point
    if setting is None:
        raise ScoringError(f"{instrument.short_name}: has no cut-point to set")
    if isinstance(cut_point, bool) or not isinstance(cut_point, int):
        raise ScoringError(f"{instrument.short_name}: cut-point {_show(cut_point)} is not a whole number")
    if not setting.lowest <= cut_point <= setting.highest:
        raise ScoringError(
            f"{instrument.short_name}: cut-point {cut_point} is outside {span(setting.lowest, setting.highest)}"
        )
    return cut_point


def score_answers(instrument: Instrument, answers: object, cut_point: object = None) -> ScoreResult:
    """Score ``answers`` (a list in item order). :raise ScoringError: for bad answers or a bad cut-point."""
    checked = check_answers(instrument, answers)
    at = _cut_point(instrument, cut_point)
    bands = instrument.bands_at(at)
    outcome = RULES[instrument.rule].apply(instrument, checked)
    if outcome.band_index is not None:
        band_index = outcome.band_index
    else:
        assert outcome.total is not None
        band_index = _band_index(bands, outcome.total)
    band = bands[band_index].label
    subscales = []
    diagnosis = instrument.diagnosis
    for subscale in instrument.subscales:
        needed = diagnosis.needs(subscale.code) if diagnosis else None
        if diagnosis is None or needed is None:
            subscales.append(SubscaleScore(subscale.code, subscale.name, subscale_score(subscale, checked)))
            continue
        points = subscale_score(subscale, checked)
        if diagnosis.endorsed_at_least is None:  # a share of the subscale's maximum: ``needed`` is in points
            subscales.append(SubscaleScore(subscale.code, subscale.name, points, required=needed, met=points >= needed))
            continue
        endorsed = sum(
            1 for n in subscale.items if isinstance(a := checked[n - 1], int) and a >= diagnosis.endorsed_at_least
        )
        subscales.append(
            SubscaleScore(
                subscale.code,
                subscale.name,
                points,
                endorsed=endorsed,
                required=needed,
                met=endorsed >= needed,
            )
        )
    met = [s.met for s in subscales if s.met is not None]
    return ScoreResult(
        instrument=instrument.code,
        answers=checked,
        total=outcome.total,
        band=band,
        band_index=band_index,
        subscales=tuple(subscales),
        provisional_diagnosis=all(met) if diagnosis else None,
        cut_point=at,
        flags=tuple(
            Flag(rule.code, rule.message, rule.urgent, rule.source, rule.high_risk)
            for rule in instrument.flags
            if _raised(rule, checked, outcome.total, band)
        ),
    )


def standing_only(instrument: Instrument, answers: object, cut_point: object = None) -> tuple[StandingAnswer, ...]:
    """The standing answers given in ``answers`` when they alone make the result urgent: with each of them set back
    to its item's first option, the result would not be urgent. Empty when the result is not urgent at all, or when
    something else (a new or worse answer) makes it urgent too.

    :raise ScoringError: as ``score_answers``.
    """
    checked = check_answers(instrument, answers)
    given = tuple(s for s in instrument.standing_answers if checked[s.item - 1] == s.equals)
    if not given or not score_answers(instrument, checked, cut_point).urgent:
        return ()
    without = list(checked)
    for standing in given:
        without[standing.item - 1] = instrument.item(standing.item).scale.values[0]
    return () if score_answers(instrument, without, cut_point).urgent else given


def _total(instrument: Instrument, label: str, total: object) -> int:
    assert instrument.total_range is not None
    low, high = instrument.total_range
    if isinstance(total, bool) or not isinstance(total, int):
        raise ScoringError(f"{instrument.short_name}: {label} total {_show(total)} is not a whole number")
    if not low <= total <= high:
        raise ScoringError(f"{instrument.short_name}: {label} total {total} is outside {span(low, high)}")
    return total


def change_between(instrument: Instrument, baseline_total: object, current_total: object) -> ChangeResult:
    """Read the change from ``baseline_total`` to ``current_total`` with the rules the sources give.

    :raise ScoringError: if the instrument has no total, or a total is not a whole number in its range.
    """
    if instrument.total_range is None:
        raise ScoringError(f"{instrument.short_name}: has no total, so no change between totals")
    baseline = _total(instrument, "baseline", baseline_total)
    current = _total(instrument, "current", current_total)
    difference = current - baseline
    rules = instrument.change_rules
    if rules is None:
        return ChangeResult(instrument.code, baseline, current, difference)
    reliable = meaningful = response = remission = None
    if rules.reliable_change is not None:
        reliable = abs(difference) >= rules.reliable_change
    if rules.clinically_meaningful_change is not None:
        meaningful = abs(difference) >= rules.clinically_meaningful_change
    if rules.response_percent_drop is not None and baseline > 0:
        # Whole-number arithmetic: a drop of exactly the percentage counts, with no rounding at the boundary.
        response = (baseline - current) * 100 >= rules.response_percent_drop * baseline
    if rules.remission_at_or_below is not None:
        remission = current <= rules.remission_at_or_below
        if rules.remission_requires_response:
            remission = remission and bool(response)
    return ChangeResult(instrument.code, baseline, current, difference, reliable, meaningful, response, remission)
