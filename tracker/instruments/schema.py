"""Reading an instrument definition file, with an error naming the file and field for any mistake.

Beyond types, the checks make a definition safe to score with: items numbered 1..n in order; numeric scales a run of
whole numbers; skip logic pointing at an earlier item and one of its options; subscales within the items; bands
least severe first, with ranges that cover the total exactly (the range the rule really yields, which must match the
``total`` the file declares) or, without a total, conditions on the answers; flags pointing at something that exists.
"""

from __future__ import annotations

import enum
import itertools
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from tracker.instruments.definition import (
    Administration,
    Band,
    ChangeRules,
    Condition,
    CutPoint,
    Diagnosis,
    FlagRule,
    Instrument,
    InstrumentError,
    Item,
    Option,
    Scale,
    StandingAnswer,
    Subscale,
    Wording,
    span,
)
from tracker.instruments.rules import RULES

T = TypeVar("T")
_REQUIRED: Any = ...


class _Reader:
    """Reads one table of a definition file, naming ``file: field 'path'`` in every error."""

    def __init__(self, data: Any, file: Path, prefix: str = "") -> None:
        if not isinstance(data, dict):
            raise InstrumentError(f"{file.name}: field '{prefix or '(top)'}' must be a table")
        self.data, self.file, self.prefix = data, file, prefix

    def only(self, *names: str) -> _Reader:
        """:raise InstrumentError: for a field this table does not take (a misspelt field would be ignored)."""
        unknown = sorted(set(self.data) - set(names))
        if unknown:
            raise self.fail(unknown[0], f"is not a field here; use {', '.join(names)}")
        return self

    def where(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def fail(self, name: str, message: str) -> InstrumentError:
        return InstrumentError(f"{self.file.name}: field '{self.where(name)}' {message}")

    def get(self, name: str, kind: type[T], default: Any = _REQUIRED) -> T:
        if name not in self.data:
            if default is _REQUIRED:
                raise InstrumentError(f"{self.file.name}: missing field '{self.where(name)}'")
            return default  # type: ignore[no-any-return]
        value = self.data[name]
        if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
            raise self.fail(name, f"must be {kind.__name__}, got {type(value).__name__}")
        if isinstance(value, str) and not value.strip():
            raise self.fail(name, "must not be blank")
        return value

    def scalar(self, name: str) -> int | str:
        value = self.data.get(name)
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise self.fail(name, f"must be a whole number or a string, got {type(value).__name__}")
        return value

    def ints(self, name: str) -> tuple[int, ...]:
        values = self.get(name, list)
        if not values or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            raise self.fail(name, "must be a non-empty list of whole numbers")
        return tuple(values)

    def strings(self, name: str) -> tuple[str, ...]:
        values = self.get(name, list)
        if not values or not all(isinstance(v, str) and v.strip() for v in values):
            raise self.fail(name, "must be a non-empty list of strings")
        return tuple(values)

    def choice(self, name: str, options: type[enum.StrEnum] | tuple[str, ...]) -> str:
        value = self.get(name, str)
        allowed = tuple(m.value for m in options) if isinstance(options, type) else options
        if value not in allowed:
            raise self.fail(name, f"must be one of {', '.join(map(repr, allowed))}, got {value!r}")
        return value

    def tables(self, name: str, required: bool = False) -> list[_Reader]:
        values = self.get(name, list, _REQUIRED if required else [])
        if required and not values:
            raise self.fail(name, "must not be empty")
        return [_Reader(value, self.file, f"{self.where(name)}[{index}]") for index, value in enumerate(values)]

    def table(self, name: str) -> _Reader | None:
        return _Reader(self.data[name], self.file, self.where(name)) if name in self.data else None

    def item_number(self, name: str, count: int, default: Any = _REQUIRED) -> Any:
        number: int | None = self.get(name, int, default)
        if number is not None and not 1 <= number <= count:
            raise self.fail(name, f"must be an item number {span(1, count)}, got {number}")
        return number


def _scale(reader: _Reader, name: str) -> Scale:
    """Options listed one by one, or ``range = [low, high]`` for a count or a total entered as a number (every whole
    number from low to high, labelled by itself)."""
    reader.only("options", "range")
    if "range" in reader.data:
        if "options" in reader.data:
            raise reader.fail("range", "and options cannot both be given")
        bounds = reader.ints("range")
        if len(bounds) != 2 or not 0 <= bounds[0] < bounds[1] <= 1000:
            raise reader.fail("range", f"must be [low, high] with 0 <= low < high <= 1000, got {list(bounds)}")
        return Scale(name, tuple(Option(value, str(value)) for value in range(bounds[0], bounds[1] + 1)))
    options = []
    for option in reader.tables("options", required=True):
        option.only("value", "label")
        value = option.scalar("value")
        options.append(Option(value, option.get("label", str, str(value))))
    values = [o.value for o in options]
    if all(isinstance(v, int) for v in values):
        # Counting up, not always by one: AUDIT items 9 and 10 score 0, 2 or 4 (Babor 2001).
        if any(int(b) <= int(a) for a, b in itertools.pairwise(values)) or int(values[0]) < 0:
            raise reader.fail("options", f"must be whole numbers from 0 up, each above the one before, got {values}")
    elif not all(isinstance(v, str) for v in values) or len(set(values)) != len(values):
        raise reader.fail("options", "must be all whole numbers or all distinct strings")
    return Scale(name, tuple(options))


def _condition(reader: _Reader, items: list[Item] | tuple[Item, ...]) -> Condition:
    """A condition on one of ``items`` (for skip logic: the items before the one being read)."""
    reader.only("item", "equals")
    item = reader.get("item", int)
    if not 1 <= item <= len(items):
        raise reader.fail("item", f"must be the number of an earlier item ({span(1, len(items))}), got {item}")
    equals = reader.scalar("equals")
    scale = items[item - 1].scale
    if equals not in scale.values or isinstance(equals, int) != scale.numeric:
        raise reader.fail("equals", f"must be an answer of item {item} ({scale.describe()}), got {equals!r}")
    return Condition(item, equals)


def _items(top: _Reader, scales: dict[str, Scale]) -> tuple[Item, ...]:
    default = top.get("scale", str)
    if default not in scales:
        raise top.fail("scale", f"must name one of the scales ({', '.join(scales)}), got {default!r}")
    items: list[Item] = []
    for index, reader in enumerate(top.tables("items", required=True)):
        reader.only("number", "text", "scale", "ask_if", "at_most_item")
        number = reader.get("number", int)
        if number != index + 1:
            raise reader.fail("number", f"must be {index + 1} (items are numbered in order), got {number}")
        scale_name = reader.get("scale", str, default)
        if scale_name not in scales:
            raise reader.fail("scale", f"must name one of the scales ({', '.join(scales)}), got {scale_name!r}")
        condition = reader.table("ask_if")
        ask_if = _condition(condition, items) if condition else None
        at_most = reader.get("at_most_item", int, None)
        if at_most is not None and (
            not 1 <= at_most <= len(items) or not items[at_most - 1].scale.numeric or not scales[scale_name].numeric
        ):
            raise reader.fail("at_most_item", f"must be the number of an earlier numeric item, got {at_most}")
        items.append(Item(number, reader.get("text", str), scales[scale_name], ask_if, at_most))
    return tuple(items)


def _subscales(top: _Reader, items: tuple[Item, ...]) -> tuple[Subscale, ...]:
    subscales = []
    for reader in top.tables("subscales"):
        reader.only("code", "name", "items", "combine", "source")
        numbers = reader.ints("items")
        for number in numbers:
            if not 1 <= number <= len(items) or not items[number - 1].scale.numeric:
                raise reader.fail("items", f"must be numbers of numeric items {span(1, len(items))}, got {number}")
        subscales.append(
            Subscale(
                code=reader.get("code", str),
                name=reader.get("name", str),
                items=numbers,
                combine=reader.choice("combine", ("sum", "max")),
                source=reader.get("source", str),
            )
        )
    codes = [s.code for s in subscales]
    if len(set(codes)) != len(codes):
        raise top.fail("subscales", f"repeat a code: {codes}")
    return tuple(subscales)


def _range_bands(top: _Reader, readers: list[_Reader], total_range: tuple[int, int]) -> tuple[Band, ...]:
    bands = tuple(
        Band(r.get("label", str), r.get("source", str), min=r.get("min", int), max=r.get("max", int))
        for r in (reader.only("label", "source", "min", "max") for reader in readers)
    )
    expected = total_range[0]
    for reader, band in zip(readers, bands, strict=True):
        assert band.min is not None and band.max is not None
        if band.min != expected:
            raise reader.fail("min", f"must be {expected} (bands run up from the lowest total without gaps)")
        if band.max < band.min:
            raise reader.fail("max", f"must not be below min ({band.min})")
        expected = band.max + 1
    if expected != total_range[1] + 1:
        raise top.fail("bands", f"must end at the highest total, {total_range[1]}")
    return bands


def _level_bands(readers: list[_Reader], items: tuple[Item, ...]) -> tuple[Band, ...]:
    bands = []
    for index, reader in enumerate(readers):
        reader.only("label", "source", "when_any")
        conditions = tuple(_condition(r, items) for r in reader.tables("when_any", required=index > 0))
        if index == 0 and "when_any" in reader.data:
            raise reader.fail("when_any", "must be left out on the first band: it applies when no other does")
        bands.append(Band(reader.get("label", str), reader.get("source", str), when_any=conditions))
    return tuple(bands)


def _cut_point(reader: _Reader, total_range: tuple[int, int]) -> CutPoint:
    reader.only("default", "allowed", "below", "at_or_above", "source", "note")
    allowed = reader.ints("allowed")
    lowest, highest = (allowed[0], allowed[-1]) if len(allowed) == 2 else (0, -1)
    if not total_range[0] < lowest <= highest <= total_range[1]:
        raise reader.fail("allowed", f"must be [lowest, highest] within {span(total_range[0] + 1, total_range[1])}")
    default = reader.get("default", int)
    if not lowest <= default <= highest:
        raise reader.fail("default", f"must be within the allowed {span(lowest, highest)}, got {default}")
    return CutPoint(
        default,
        lowest,
        highest,
        below=reader.get("below", str),
        at_or_above=reader.get("at_or_above", str),
        source=reader.get("source", str),
        note=reader.get("note", str),
    )


def subscale_maximum(subscale: Subscale, items: tuple[Item, ...]) -> int:
    highest = [items[n - 1].scale.highest for n in subscale.items]
    return max(highest) if subscale.combine == "max" else sum(highest)


def _share_of_maximum(reader: _Reader, subscales: tuple[Subscale, ...], items: tuple[Item, ...]) -> Diagnosis:
    """``percent_of_maximum`` and the ``subscales`` that must each reach it: the points needed per subscale are the
    smallest whole score at or above that share of its maximum (MEQ-30: 60% of 75 = 45)."""
    reader.only("label", "percent_of_maximum", "subscales", "source")
    percent = reader.get("percent_of_maximum", int)
    if not 1 <= percent <= 100:
        raise reader.fail("percent_of_maximum", "must be 1 to 100")
    codes = {s.code: s for s in subscales}
    named = reader.strings("subscales")
    unknown = [code for code in named if code not in codes]
    if unknown:
        raise reader.fail("subscales", f"names {unknown[0]!r}, which is not a subscale")
    required = tuple((code, -(-percent * subscale_maximum(codes[code], items) // 100)) for code in named)
    return Diagnosis(
        label=reader.get("label", str),
        endorsed_at_least=None,
        required=required,
        source=reader.get("source", str),
        percent_of_maximum=percent,
    )


def _diagnosis(reader: _Reader, subscales: tuple[Subscale, ...], items: tuple[Item, ...]) -> Diagnosis:
    if "percent_of_maximum" in reader.data:
        return _share_of_maximum(reader, subscales, items)
    reader.only("label", "endorsed_at_least", "required", "source")
    required = reader.get("required", dict)
    if not required:
        raise reader.fail("required", "must name at least one subscale")
    codes = {s.code: s for s in subscales}
    for code, needed in required.items():
        if code not in codes:
            raise reader.fail("required", f"names {code!r}, which is not a subscale")
        if isinstance(needed, bool) or not isinstance(needed, int) or not 1 <= needed <= len(codes[code].items):
            raise reader.fail(f"required.{code}", f"must be a whole number {span(1, len(codes[code].items))}")
    endorsed_at_least = reader.get("endorsed_at_least", int)
    if endorsed_at_least < 1:
        raise reader.fail("endorsed_at_least", "must be at least 1")
    return Diagnosis(
        label=reader.get("label", str),
        endorsed_at_least=endorsed_at_least,
        required=tuple(required.items()),
        source=reader.get("source", str),
    )


def _flag(reader: _Reader, instrument: Instrument) -> FlagRule:
    reader.only(
        "code",
        "message",
        "urgent",
        "high_risk",
        "source",
        "item",
        "at_least",
        "at_most",
        "total_at_least",
        "band",
        "setting_note",
    )
    item = reader.item_number("item", len(instrument.items), None)
    at_least = reader.get("at_least", int, None)
    at_most = reader.get("at_most", int, None)
    total_at_least = reader.get("total_at_least", int, None)
    band = reader.get("band", str, None)
    if [item is not None, total_at_least is not None, band is not None].count(True) != 1:
        raise reader.fail("item", "or total_at_least or band: exactly one of them must say what raises the flag")
    if item is not None and (at_least is None or not instrument.item(item).scale.numeric):
        raise reader.fail("at_least", f"must be given, and item {item} must have a numeric scale")
    if at_most is not None and (item is None or at_least is None or at_most < at_least):
        raise reader.fail("at_most", "needs an item flag and must not be below at_least")
    urgent = reader.get("urgent", bool)
    high_risk = reader.get("high_risk", bool, False)
    if high_risk and not urgent:
        raise reader.fail("high_risk", "needs urgent = true: a flag that holds the dose raises an alert")
    if total_at_least is not None and instrument.total_range is None:
        raise reader.fail("total_at_least", "needs an instrument with a total")
    if band is not None and band not in {b.label for b in instrument.bands}:
        raise reader.fail("band", f"must be one of the band labels, got {band!r}")
    return FlagRule(
        code=reader.get("code", str),
        message=reader.get("message", str),
        urgent=urgent,
        source=reader.get("source", str),
        item=item,
        at_least=at_least,
        total_at_least=total_at_least,
        band=band,
        at_most=at_most,
        setting_note=reader.get("setting_note", str, None),
        high_risk=high_risk,
    )


def _standing_answer(reader: _Reader, instrument: Instrument) -> StandingAnswer:
    """An answer a re-test repeats (see ``StandingAnswer``). It must be an answer of its item that no other item's
    skip logic depends on, since the rule asks what the result would be without it."""
    reader.only("item", "equals", "source")
    item = reader.item_number("item", len(instrument.items))
    equals = reader.scalar("equals")
    scale = instrument.item(item).scale
    if equals not in scale.values or equals == scale.values[0]:
        raise reader.fail("equals", f"must be an answer of item {item} other than its first ({scale.describe()})")
    if any(other.ask_if is not None and other.ask_if.item == item for other in instrument.items):
        raise reader.fail("item", f"must not be one that skip logic depends on (item {item} is)")
    return StandingAnswer(item, equals, reader.get("source", str))


def _change_rules(reader: _Reader, instrument: Instrument) -> ChangeRules:
    reader.only(
        "source",
        "reliable_change",
        "clinically_meaningful_change",
        "response_percent_drop",
        "remission_at_or_below",
        "remission_requires_response",
        "note",
    )
    if instrument.total_range is None:
        raise reader.fail("source", "is misplaced: change rules need an instrument with a total")
    low, high = instrument.total_range
    rules = ChangeRules(
        source=reader.get("source", str),
        reliable_change=reader.get("reliable_change", int, None),
        clinically_meaningful_change=reader.get("clinically_meaningful_change", int, None),
        response_percent_drop=reader.get("response_percent_drop", int, None),
        remission_at_or_below=reader.get("remission_at_or_below", int, None),
        remission_requires_response=reader.get("remission_requires_response", bool, False),
        note=reader.get("note", str, None),
    )
    if rules.remission_requires_response and (
        rules.response_percent_drop is None or rules.remission_at_or_below is None
    ):
        raise reader.fail("remission_requires_response", "needs response_percent_drop and remission_at_or_below")
    if rules.response_percent_drop is not None and not 0 < rules.response_percent_drop <= 100:
        raise reader.fail("response_percent_drop", "must be 1 to 100")
    for name in ("reliable_change", "clinically_meaningful_change"):
        size = getattr(rules, name)
        if size is not None and not 0 < size <= high - low:
            raise reader.fail(name, f"must be a number of points {span(1, high - low)}")
    if rules.remission_at_or_below is not None and not low <= rules.remission_at_or_below <= high:
        raise reader.fail("remission_at_or_below", f"must be a total {span(low, high)}")
    return rules


_TOP_FIELDS = (
    "code", "name", "short_name", "administration", "recall_period", "licence", "wording", "wording_note", "stem",
    "rule", "total", "sources", "notes", "scale", "scales", "items", "bands", "cut_point", "subscales", "diagnosis",
    "flags", "change_rules", "standing_answers", "total_items",
)  # fmt: skip


def parse_instrument(data: dict[str, Any], path: Path) -> Instrument:
    top = _Reader(data, path).only(*_TOP_FIELDS)
    code = top.get("code", str)
    if code != path.stem:
        raise top.fail("code", f"must match the file name ({path.stem!r}), got {code!r}")
    rule_name = top.choice("rule", tuple(RULES))
    rule = RULES[rule_name]
    scales_table = top.get("scales", dict)
    scales = {name: _scale(_Reader(value, path, f"scales.{name}"), name) for name, value in scales_table.items()}
    items = _items(top, scales)
    instrument = Instrument(
        code=code,
        name=top.get("name", str),
        short_name=top.get("short_name", str),
        administration=Administration(top.choice("administration", Administration)),
        recall_period=top.get("recall_period", str),
        licence=top.get("licence", str),
        wording=Wording(top.choice("wording", Wording)),
        wording_note=top.get("wording_note", str),
        rule=rule_name,
        sources=top.strings("sources"),
        items=items,
        bands=(),
        total_range=None,
        stem=top.get("stem", str, None),
        subscales=_subscales(top, items),
        notes=top.strings("notes") if "notes" in data else (),
        path=str(path),
    )
    if rule.has_total:
        instrument = _with_total(top, instrument)
    else:
        if "total" in data or "cut_point" in data or "total_items" in data:
            raise top.fail("total", f"and cut_point do not apply: rule {rule_name!r} gives no total")
        instrument = replace(instrument, bands=_level_bands(top.tables("bands", required=True), items))
    if len({b.label for b in instrument.bands}) != len(instrument.bands):
        raise top.fail("bands", "repeat a label")
    diagnosis = top.table("diagnosis")
    change = top.table("change_rules")
    flags = tuple(_flag(reader, instrument) for reader in top.tables("flags"))
    codes = [flag.code for flag in flags]
    if len(set(codes)) != len(codes):
        raise top.fail("flags", f"repeat a code: {codes}")
    return replace(
        instrument,
        diagnosis=_diagnosis(diagnosis, instrument.subscales, instrument.items) if diagnosis else None,
        flags=flags,
        change_rules=_change_rules(change, instrument) if change else None,
        standing_answers=tuple(_standing_answer(r, instrument) for r in top.tables("standing_answers")),
    )


def _with_total(top: _Reader, instrument: Instrument) -> Instrument:
    """Checks what an instrument with a total needs, and fills in its total range and bands."""
    for item in instrument.items:
        if not item.scale.numeric or item.ask_if is not None:
            raise top.fail(f"items[{item.number - 1}]", f"must be numeric and always asked: rule {instrument.rule!r}")
    if instrument.rule == "sum_of_subscales":
        used = sorted(n for s in instrument.subscales for n in s.items)
        if used != list(range(1, len(instrument.items) + 1)):
            raise top.fail("subscales", "must use every item exactly once: the total is the sum of the subscales")
    if "total_items" in top.data:
        chosen = top.ints("total_items")
        if instrument.rule != "sum":
            raise top.fail("total_items", f"applies to the rule 'sum' only, not {instrument.rule!r}")
        if len(set(chosen)) != len(chosen) or not all(1 <= n <= len(instrument.items) for n in chosen):
            raise top.fail("total_items", f"must be distinct item numbers {span(1, len(instrument.items))}")
        instrument = replace(instrument, total_items=tuple(sorted(chosen)))
    apply = RULES[instrument.rule].apply
    lowest = apply(instrument, tuple(item.scale.lowest for item in instrument.items)).total
    highest = apply(instrument, tuple(item.scale.highest for item in instrument.items)).total
    assert lowest is not None and highest is not None
    total = _Reader(top.get("total", dict), top.file, "total").only("min", "max")
    declared = (total.get("min", int), total.get("max", int))
    if declared != (lowest, highest):
        raise total.fail("min", f"and max must be the range the items give, {span(lowest, highest)}, got {declared}")
    instrument = replace(instrument, total_range=declared)
    cut_table = top.table("cut_point")
    if cut_table is not None:
        if "bands" in top.data:
            raise top.fail("bands", "must be left out when there is a cut_point: its two bands are derived from it")
        cut_point = _cut_point(cut_table, declared)
        instrument = replace(instrument, cut_point=cut_point)
        return replace(instrument, bands=instrument.bands_at(None))
    return replace(instrument, bands=_range_bands(top, top.tables("bands", required=True), declared))


def load_instrument_file(path: Path) -> Instrument:
    """One definition file, checked. :raise InstrumentError: naming the file and field of the first mistake."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InstrumentError(f"{path.name}: not valid TOML ({exc})") from None
    return parse_instrument(data, path)
