"""What a protocol template holds, and the validation that names the file and field of any mistake."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from tracker.instruments import instruments
from tracker.models import Indication

T = TypeVar("T")


class ProtocolError(ValueError):
    """A protocol file that cannot be used, with the file and field named."""


class ItemKind(enum.StrEnum):
    #: "Yes" makes the patient ineligible for this protocol; no one can override it.
    EXCLUSION = "exclusion"
    #: "Yes" needs a supervisor's review and a written decision.
    REVIEW = "review"
    #: Something that must be recorded, with its value and date.
    REQUIREMENT = "requirement"


class Effect(enum.StrEnum):
    EXCLUSION = "exclusion"
    REVIEW = "review"


@dataclass(frozen=True)
class ScreeningItem:
    id: str
    kind: ItemKind
    text: str
    source: str
    #: For requirements: the values that satisfy it (e.g. "negative"); empty means any recorded value does.
    acceptable: tuple[str, ...] = ()
    #: For requirements: a choice list for the value; empty means free text.
    choices: tuple[str, ...] = ()
    #: For requirements that do not apply to everyone (a pregnancy test).
    allow_not_applicable: bool = False
    note: str | None = None


@dataclass(frozen=True)
class PreDosingCheck:
    """A condition that must hold before each dosing session: a requirement recorded recently enough."""

    id: str
    text: str
    requirement: str
    source: str
    #: The requirement's date must be within this many days before the session; None: any date.
    within_days: int | None = None
    #: Set when the value is a clinic setting rather than a sourced fact.
    setting_note: str | None = None


@dataclass(frozen=True)
class InteractionRule:
    """A current medication that matches by class or name raises a screening item automatically."""

    id: str
    drug_classes: tuple[str, ...]
    drug_names: tuple[str, ...]
    raises: str
    note: str
    source: str
    #: The medication must be stopped (its taper finished) before any dosing session.
    taper_before_dosing: bool = False


@dataclass(frozen=True)
class SessionPlan:
    preparation: int
    dosing: int
    integration_per_dosing: int
    dosing_spacing_days: int | None = None
    #: The first integration session after a dosing session is due within this many days of it; None: no rule.
    integration_within_days: int | None = None
    note: str | None = None


@dataclass(frozen=True)
class VitalLimit:
    """An alert threshold for one vital sign during a dosing session (used by the sessions pages)."""

    sign: str
    low: float | None
    high: float | None
    source: str
    setting_note: str | None = None


@dataclass(frozen=True)
class MeasureDue:
    instrument: str
    timepoints: tuple[str, ...]
    source: str
    setting_note: str | None = None


VITAL_SIGNS = ("systolic", "diastolic", "heart_rate", "temperature", "spo2")
TIMEPOINTS = ("baseline", "after_each_dosing", "end_of_treatment", "follow_up")
DRUG_CLASSES = (
    "ssri",
    "snri",
    "maoi",
    "tricyclic",
    "lithium",
    "antipsychotic",
    "mood_stabiliser",
    "benzodiazepine",
    "sedative_hypnotic",
    "psychostimulant",
    "opioid",
    "other_psychiatric",
    "other",
)


@dataclass(frozen=True)
class Protocol:
    code: str
    name: str
    substance: str
    indications: tuple[Indication, ...]
    co_therapy_required: bool
    sources: tuple[str, ...]
    sessions: SessionPlan
    screening: tuple[ScreeningItem, ...] = ()
    pre_dosing: tuple[PreDosingCheck, ...] = ()
    interactions: tuple[InteractionRule, ...] = ()
    vital_limits: tuple[VitalLimit, ...] = ()
    vitals_schedule: str | None = None
    minimum_observation_minutes: int | None = None
    measures: tuple[MeasureDue, ...] = ()
    integration_plan_sections: tuple[str, ...] = ()
    path: str = field(default="", compare=False)

    @property
    def dosing_sessions(self) -> int:
        return self.sessions.dosing

    def item(self, item_id: str) -> ScreeningItem:
        return next(i for i in self.screening if i.id == item_id)


class _Reader:
    """Reads one table of a protocol file, naming ``file: field 'path'`` in every error."""

    def __init__(self, data: Any, file: Path, prefix: str = "") -> None:
        if not isinstance(data, dict):
            raise ProtocolError(f"{file.name}: field '{prefix or '(top)'}' must be a table")
        self.data, self.file, self.prefix = data, file, prefix
        #: The fields read so far; anything else in the table is a mistake (see ``reject_unknown``).
        self.known: set[str] = set()

    def where(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def fail(self, name: str, message: str) -> ProtocolError:
        return ProtocolError(f"{self.file.name}: field '{self.where(name)}' {message}")

    def get(self, name: str, kind: type[T], default: Any = ...) -> T:
        self.known.add(name)
        if name not in self.data:
            if default is ...:
                raise ProtocolError(f"{self.file.name}: missing field '{self.where(name)}'")
            return default  # type: ignore[no-any-return]
        value = self.data[name]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if (kind in (int, float) and isinstance(value, bool)) or not isinstance(value, kind):
            raise self.fail(name, f"must be {kind.__name__}, got {type(value).__name__}")
        return value

    def strings(self, name: str, default: Any = ...) -> tuple[str, ...]:
        values = self.get(name, list, default)
        if not all(isinstance(v, str) for v in values):
            raise self.fail(name, "must be a list of strings")
        return tuple(values)

    def choice(self, name: str, options: tuple[str, ...] | type[enum.Enum]) -> str:
        value = self.get(name, str)
        allowed = tuple(m.value for m in options) if isinstance(options, type) else options
        if value not in allowed:
            raise self.fail(name, f"must be one of {', '.join(allowed)}, got {value!r}")
        return value

    def reject_unknown(self) -> None:
        """Refuse fields the schema does not read: a misspelt optional field (``within_day``,
        ``taper_before_dosng``) would otherwise be dropped silently, and with it a safety check."""
        unknown = sorted(set(self.data) - self.known)
        if unknown:
            raise self.fail(unknown[0], "is not a known field; check its spelling")

    def tables(self, name: str) -> list[_Reader]:
        values = self.get(name, list, [])
        return [_Reader(value, self.file, f"{self.where(name)}[{index}]") for index, value in enumerate(values)]

    def positive(self, name: str, default: Any = ...) -> Any:
        value: int | None = self.get(name, int, default)
        if value is not None and value < 0:
            raise self.fail(name, "must not be negative")
        return value


def _screening(reader: _Reader) -> ScreeningItem:
    item = ScreeningItem(
        id=reader.get("id", str),
        kind=ItemKind(reader.choice("kind", ItemKind)),
        text=reader.get("text", str),
        source=reader.get("source", str),
        acceptable=reader.strings("acceptable", ()),
        choices=reader.strings("choices", ()),
        allow_not_applicable=reader.get("allow_not_applicable", bool, False),
        note=reader.get("note", str, None),
    )
    reader.reject_unknown()
    return item


def _check_unique(reader: _Reader, name: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for index, item_id in enumerate(ids):
        if item_id in seen:
            raise reader.fail(f"{name}[{index}].id", f"repeats {item_id!r}")
        seen.add(item_id)


def parse_protocol(data: dict[str, Any], path: Path) -> Protocol:
    top = _Reader(data, path)
    try:
        indications = tuple(Indication(value) for value in top.strings("indications"))
    except ValueError as exc:
        raise top.fail("indications", str(exc)) from None
    sources = top.strings("sources")
    if not sources:
        raise top.fail("sources", "must cite at least one source")
    plan = _Reader(top.get("sessions", dict), path, "sessions")
    sessions = SessionPlan(
        preparation=plan.positive("preparation"),
        dosing=plan.positive("dosing"),
        integration_per_dosing=plan.positive("integration_per_dosing"),
        dosing_spacing_days=plan.positive("dosing_spacing_days", None),
        integration_within_days=plan.positive("integration_within_days", None),
        note=plan.get("note", str, None),
    )
    plan.reject_unknown()
    if sessions.dosing < 1:
        raise plan.fail("dosing", "must be at least 1")
    screening = tuple(_screening(r) for r in top.tables("screening"))
    _check_unique(top, "screening", [i.id for i in screening])
    by_id = {item.id: item for item in screening}
    for index, item in enumerate(screening):
        if item.kind is not ItemKind.REQUIREMENT and (item.acceptable or item.choices or item.allow_not_applicable):
            raise top.fail(
                f"screening[{index}]", "only requirement items take acceptable, choices or allow_not_applicable"
            )
        if item.choices and not set(item.acceptable) <= set(item.choices):
            raise top.fail(f"screening[{index}].acceptable", "must be among its choices")
    pre_dosing = []
    for reader in top.tables("pre_dosing"):
        check = PreDosingCheck(
            id=reader.get("id", str),
            text=reader.get("text", str),
            requirement=reader.get("requirement", str),
            source=reader.get("source", str),
            within_days=reader.positive("within_days", None),
            setting_note=reader.get("setting_note", str, None),
        )
        reader.reject_unknown()
        target = by_id.get(check.requirement)
        if target is None or target.kind is not ItemKind.REQUIREMENT:
            raise reader.fail(
                "requirement", f"must name a requirement item of this protocol, got {check.requirement!r}"
            )
        pre_dosing.append(check)
    interactions = []
    for reader in top.tables("interactions"):
        rule = InteractionRule(
            id=reader.get("id", str),
            drug_classes=reader.strings("drug_classes", ()),
            drug_names=tuple(n.casefold() for n in reader.strings("drug_names", ())),
            raises=reader.get("raises", str),
            note=reader.get("note", str),
            source=reader.get("source", str),
            taper_before_dosing=reader.get("taper_before_dosing", bool, False),
        )
        reader.reject_unknown()
        unknown = set(rule.drug_classes) - set(DRUG_CLASSES)
        if unknown:
            raise reader.fail("drug_classes", f"has unknown classes {sorted(unknown)}; use {', '.join(DRUG_CLASSES)}")
        if not rule.drug_classes and not rule.drug_names:
            raise reader.fail("drug_classes", "or drug_names must name at least one drug")
        if any(not name.strip() for name in rule.drug_names):
            raise reader.fail("drug_names", "must not hold an empty name (it would match every medication)")
        raised = by_id.get(rule.raises)
        if raised is None or raised.kind is ItemKind.REQUIREMENT:
            raise reader.fail("raises", f"must name an exclusion or review item of this protocol, got {rule.raises!r}")
        interactions.append(rule)
    _check_unique(top, "pre_dosing", [check.id for check in pre_dosing])
    _check_unique(top, "interactions", [rule.id for rule in interactions])
    vital_limits = []
    for reader in top.tables("vital_limits"):
        limit = VitalLimit(
            sign=reader.choice("sign", VITAL_SIGNS),
            low=reader.get("low", float, None),
            high=reader.get("high", float, None),
            source=reader.get("source", str),
            setting_note=reader.get("setting_note", str, None),
        )
        reader.reject_unknown()
        if limit.low is None and limit.high is None:
            raise reader.fail("high", "or low must be given")
        if limit.low is not None and limit.high is not None and limit.low >= limit.high:
            raise reader.fail("low", "must be below high")
        vital_limits.append(limit)
    measures = []
    for reader in top.tables("measures"):
        timepoints = reader.strings("timepoints")
        bad = set(timepoints) - set(TIMEPOINTS)
        if bad or not timepoints:
            raise reader.fail("timepoints", f"must be some of {', '.join(TIMEPOINTS)}")
        measures.append(
            MeasureDue(
                # A misspelt instrument would silently drop a measure from the schedule and the dosing gate.
                instrument=reader.choice("instrument", tuple(sorted(instruments()))),
                timepoints=timepoints,
                source=reader.get("source", str),
                setting_note=reader.get("setting_note", str, None),
            )
        )
        reader.reject_unknown()
    protocol = Protocol(
        code=top.get("code", str),
        name=top.get("name", str),
        substance=top.get("substance", str),
        indications=indications,
        co_therapy_required=top.get("co_therapy_required", bool),
        sources=sources,
        sessions=sessions,
        screening=screening,
        pre_dosing=tuple(pre_dosing),
        interactions=tuple(interactions),
        vital_limits=tuple(vital_limits),
        vitals_schedule=top.get("vitals_schedule", str, None),
        minimum_observation_minutes=top.positive("minimum_observation_minutes", None),
        measures=tuple(measures),
        integration_plan_sections=top.strings("integration_plan_sections", ()),
        path=str(path),
    )
    top.reject_unknown()
    return protocol
