"""What a protocol template holds, and the validation that names the file and field of any mistake."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from tracker.instruments import instruments
from tracker.labs import markers
from tracker.medicines import DRUG_CLASSES
from tracker.models import DoseUnit, Indication, Route

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
    #: For requirements that do not apply to everyone: "not applicable" may be answered (with a reason and a
    #: supervisor's review once the checklist is signed off).
    allow_not_applicable: bool = False
    #: The item applies only when this fact of the patient's record holds (``APPLICABILITY``); it is then
    #: required, and "not applicable" is never accepted for it: the record decides, not the answer.
    applies_if: str | None = None
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
    #: Whole days without the medication between its last day taken and a dosing day (None: none beyond the
    #: stop itself). Implies the medication must be stopped.
    washout_days: int | None = None
    #: Set when the washout is a clinic setting rather than a sourced fact.
    setting_note: str | None = None

    @property
    def must_stop(self) -> bool:
        return self.taper_before_dosing or self.washout_days is not None


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


#: NEWS2 2017: Royal College of Physicians. National Early Warning Score (NEWS) 2: Standardising the assessment of
#: acute-illness severity in the NHS. London: RCP, 2017. ACC/AHA 2017: Whelton PK et al., Hypertension
#: 2018;71:e13-e115, doi:10.1161/HYP.0000000000000065.
_GENERAL = "No protocol source gives an in-session critical limit for this sign: clinic setting."

#: The critical limits every reading is held to when its protocol names none for that sign: a reading of a sign the
#: protocol does not monitor (an SpO2 of 75% in a psilocybin session) must still raise a safety alert. Each value
#: is the protocol files' own for that sign, from the same sources.
GENERAL_CRITICAL_LIMITS: tuple[VitalLimit, ...] = (
    VitalLimit(
        "systolic",
        None,
        180,
        "Above 180 mmHg systolic is a hypertensive crisis, to be evaluated at once (ACC/AHA 2017)",
        _GENERAL,
    ),
    VitalLimit(
        "diastolic",
        None,
        120,
        "Above 120 mmHg diastolic is a hypertensive crisis, to be evaluated at once (ACC/AHA 2017)",
        _GENERAL,
    ),
    VitalLimit(
        "heart_rate",
        41,
        130,
        "40/min or less and 131/min or more score 3 on NEWS2: a single red score calls "
        "for an urgent clinical review (NEWS2 2017)",
        _GENERAL,
    ),
    VitalLimit(
        "spo2",
        92,
        None,
        "91% or less scores 3 on NEWS2 scale 1: a single red score calls for an urgent clinical review (NEWS2 2017)",
        _GENERAL,
    ),
    VitalLimit(
        "temperature",
        35.1,
        39.0,
        "Low: 35.0 C or less scores 3 on NEWS2 (NEWS2 2017); high: 39.1 C or more is NEWS2's highest temperature band",
        _GENERAL + " The high limit is the clinic's choice, not a NEWS2 red score.",
    ),
)


@dataclass(frozen=True)
class SupplementalDose:
    """An optional second dose in the same session, as the protocol defines it (MDMA: half the initial dose,
    1.5 to 2 hours after it)."""

    fraction_of_initial: float
    earliest_minutes: int
    latest_minutes: int
    source: str


@dataclass(frozen=True)
class DoseRule:
    """What may be given in a dosing session: the protocol's substance (``Protocol.substance``) by one of its
    routes, in its unit, within its bounds."""

    unit: DoseUnit
    routes: tuple[Route, ...]
    minimum: float
    maximum: float
    source: str
    #: When set, only these doses (in ``unit``) may be given.
    allowed: tuple[float, ...] = ()
    #: When set, the first dosing session's dose must be one of these.
    first_session: tuple[float, ...] = ()
    #: Everything given in one session, supplemental dose included, in mg.
    max_total_mg: float | None = None
    supplemental: SupplementalDose | None = None
    setting_note: str | None = None

    def describe(self) -> str:
        """The rule in a sentence for the dosing note form and the protocol page."""

        def amounts(values: tuple[float, ...]) -> str:
            return " or ".join(f"{v:g}" for v in values) + f" {self.unit.label}"

        doses = amounts(self.allowed) if self.allowed else f"{self.minimum:g} to {self.maximum:g} {self.unit.label}"
        parts = [f"{doses}, " + " or ".join(route.label.lower() for route in self.routes)]
        if self.first_session:
            parts.append(f"{amounts(self.first_session)} at the first dosing session")
        if self.supplemental:
            extra = self.supplemental
            parts.append(
                f"an optional supplemental dose of {extra.fraction_of_initial:g} of the initial dose, "
                f"{extra.earliest_minutes} to {extra.latest_minutes} minutes after it"
            )
        else:
            parts.append("no supplemental dose")
        if self.max_total_mg is not None:
            parts.append(f"at most {self.max_total_mg:g} mg in all per session")
        return "; ".join(parts) + "."


@dataclass(frozen=True)
class PreDoseBloodPressure:
    """A blood pressure reading is required before the dose; above these values the clinician records a written
    decision to proceed (esketamine's label: weigh the risk of a short rise in blood pressure)."""

    systolic: float
    diastolic: float
    source: str


@dataclass(frozen=True)
class RequiredReading:
    """A reading of ``signs`` required about ``after_dose_minutes`` after the dose (within the tolerance)."""

    after_dose_minutes: int
    tolerance_minutes: int
    signs: tuple[str, ...]
    source: str
    setting_note: str | None = None


@dataclass(frozen=True)
class MeasureDue:
    instrument: str
    timepoints: tuple[str, ...]
    source: str
    setting_note: str | None = None


@dataclass(frozen=True)
class RegulatoryStatus:
    """Where the treatment stands with regulators, shown wherever the protocol is: the patient page, the admin's
    protocol page and every PDF of a patient under it."""

    #: "research" (no regulator has approved it for this indication), "approved", or "off_label".
    status: str
    note: str
    source: str
    #: Early evidence only (a handful of open-label patients): marked beside the research marker.
    exploratory: bool = False

    @property
    def marker(self) -> str | None:
        """The words shown where the status is "research"."""
        return RESEARCH_MARKER if self.status == "research" else None


RESEARCH_MARKER = "Research protocol \u2014 not an approved treatment"
REGULATORY_STATUSES = ("research", "approved", "off_label")


@dataclass(frozen=True)
class SetAndSettingItem:
    """One thing a clinic checks for a dosing session's set and setting (room, music, eyeshades, a sitter, touch
    consent), confirmed on the dosing note."""

    id: str
    text: str
    source: str
    setting_note: str | None = None


@dataclass(frozen=True)
class RequiredLab:
    """A laboratory result (``tracker.labs`` marker) that must be on record before each dosing session."""

    marker: str
    source: str
    #: Collected at most this many days before the session; None: any date before it.
    within_days: int | None = None
    setting_note: str | None = None
    #: The newest result must lie within the reference range it carries: one flagged low or high holds the dose
    #: until a result in range is recorded.
    in_range: bool = False


VITAL_SIGNS = ("systolic", "diastolic", "heart_rate", "temperature", "spo2")
TIMEPOINTS = ("baseline", "after_each_dosing", "end_of_treatment", "follow_up")
#: Facts of the patient's record a screening item may depend on (``ScreeningItem.applies_if``).
APPLICABILITY = ("pregnancy_possible",)


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
    #: Beyond these (strictly, as ``vital_limits``) a reading during a dosing session raises a safety alert
    #: (``tracker.alerts``); each lies at or outside the sign's ``vital_limits``, so a critical value is flagged too.
    critical_limits: tuple[VitalLimit, ...] = ()
    #: The vital signs monitored during a dosing session: each has a low and a high limit, and discharge needs a
    #: reading of each after the dose.
    monitored_signs: tuple[str, ...] = ()
    vitals_schedule: str | None = None
    minimum_observation_minutes: int | None = None
    #: The latest full set of readings must be this recent at discharge (a clinic setting).
    discharge_reading_minutes: int | None = None
    dose: DoseRule | None = None
    pre_dose_blood_pressure: PreDoseBloodPressure | None = None
    required_readings: tuple[RequiredReading, ...] = ()
    measures: tuple[MeasureDue, ...] = ()
    integration_plan_sections: tuple[str, ...] = ()
    regulatory: RegulatoryStatus | None = None
    set_and_setting: tuple[SetAndSettingItem, ...] = ()
    required_labs: tuple[RequiredLab, ...] = ()
    path: str = field(default="", compare=False)

    @property
    def research_marker(self) -> str | None:
        """ "Research protocol - not an approved treatment" where that is the regulatory state, else None."""
        return self.regulatory.marker if self.regulatory else None

    @property
    def dosing_sessions(self) -> int:
        return self.sessions.dosing

    @property
    def alerting_limits(self) -> tuple[VitalLimit, ...]:
        """The critical limits a reading is held to: the protocol's own, and the general one for each other sign."""
        own = {limit.sign for limit in self.critical_limits}
        return self.critical_limits + tuple(g for g in GENERAL_CRITICAL_LIMITS if g.sign not in own)

    def item(self, item_id: str) -> ScreeningItem:
        return next(i for i in self.screening if i.id == item_id)

    def limit(self, sign: str) -> VitalLimit | None:
        return next((limit for limit in self.vital_limits if limit.sign == sign), None)


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

    def choice_in(self, value: str, options: type[enum.Enum]) -> str:
        """``value`` (an element of a list field) when it is one of ``options``."""
        allowed = tuple(m.value for m in options)
        if value not in allowed:
            raise ProtocolError(f"{self.file.name}: field '{self.prefix}' holds {value!r}; use {', '.join(allowed)}")
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
        applies_if=reader.choice("applies_if", APPLICABILITY) if "applies_if" in reader.data else None,
        note=reader.get("note", str, None),
    )
    reader.known.add("applies_if")
    reader.reject_unknown()
    if item.applies_if and item.allow_not_applicable:
        raise reader.fail("allow_not_applicable", "cannot be set with applies_if: the patient's record decides")
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
        if item.kind is not ItemKind.REQUIREMENT and (
            item.acceptable or item.choices or item.allow_not_applicable or item.applies_if
        ):
            raise top.fail(
                f"screening[{index}]",
                "only requirement items take acceptable, choices, allow_not_applicable or applies_if",
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
            washout_days=reader.positive("washout_days", None),
            setting_note=reader.get("setting_note", str, None),
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
    vital_limits = [_vital_limit(reader) for reader in top.tables("vital_limits")]
    _check_unique_signs(top, vital_limits, "vital_limits")
    critical_limits = _critical_limits(top, vital_limits)
    monitored = top.strings("monitored_signs", ())
    for sign in monitored:
        if sign not in VITAL_SIGNS:
            raise top.fail("monitored_signs", f"has unknown sign {sign!r}; use {', '.join(VITAL_SIGNS)}")
        found = next((item for item in vital_limits if item.sign == sign), None)
        if found is None or found.low is None or found.high is None:
            raise top.fail("monitored_signs", f"{sign!r} is monitored, so vital_limits needs its low and high")
    dose = _dose(top)
    pre_dose = _pre_dose_blood_pressure(top)
    required_readings = tuple(_required_reading(reader) for reader in top.tables("required_readings"))
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
    regulatory = _regulatory(top)
    set_and_setting = tuple(_set_and_setting(reader) for reader in top.tables("set_and_setting"))
    _check_unique(top, "set_and_setting", [item.id for item in set_and_setting])
    required_labs = tuple(_required_lab(reader) for reader in top.tables("required_labs"))
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
        critical_limits=critical_limits,
        monitored_signs=monitored,
        vitals_schedule=top.get("vitals_schedule", str, None),
        minimum_observation_minutes=top.positive("minimum_observation_minutes", None),
        discharge_reading_minutes=top.positive("discharge_reading_minutes", None),
        dose=dose,
        pre_dose_blood_pressure=pre_dose,
        required_readings=required_readings,
        measures=tuple(measures),
        integration_plan_sections=top.strings("integration_plan_sections", ()),
        regulatory=regulatory,
        set_and_setting=set_and_setting,
        required_labs=required_labs,
        path=str(path),
    )
    top.reject_unknown()
    return protocol


def _vital_limit(reader: _Reader) -> VitalLimit:
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
    return limit


def _critical_limits(top: _Reader, vital_limits: list[VitalLimit]) -> tuple[VitalLimit, ...]:
    """The critical limits: each for a sign with vital limits, and no closer to normal than them (a critical value
    is also out of range)."""
    critical = []
    for reader in top.tables("critical_limits"):
        limit = _vital_limit(reader)
        usual = next((item for item in vital_limits if item.sign == limit.sign), None)
        if usual is None:
            raise reader.fail("sign", f"{limit.sign!r} needs its vital_limits first")
        if limit.high is not None and (usual.high is None or limit.high < usual.high):
            raise reader.fail("high", f"must be at or above the vital limit's high ({usual.high})")
        if limit.low is not None and (usual.low is None or limit.low > usual.low):
            raise reader.fail("low", f"must be at or below the vital limit's low ({usual.low})")
        critical.append(limit)
    _check_unique_signs(top, critical, "critical_limits")
    return tuple(critical)


def _check_unique_signs(top: _Reader, limits: list[VitalLimit], name: str) -> None:
    seen: set[str] = set()
    for index, limit in enumerate(limits):
        if limit.sign in seen:
            raise top.fail(f"{name}[{index}].sign", f"repeats {limit.sign!r}: one limit per sign")
        seen.add(limit.sign)


def _number(reader: _Reader, name: str, default: Any = ...) -> Any:
    value: float | None = reader.get(name, float, default)
    if value is not None and value <= 0:
        raise reader.fail(name, "must be above 0")
    return value


def _numbers(reader: _Reader, name: str) -> tuple[float, ...]:
    values = reader.get(name, list, [])
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and v > 0 for v in values):
        raise reader.fail(name, "must be a list of numbers above 0")
    return tuple(float(v) for v in values)


def _dose(top: _Reader) -> DoseRule | None:
    """The ``[dose]`` table: unit, routes, bounds, optional discrete doses, total cap and supplemental dose."""
    if "dose" not in top.data:
        top.known.add("dose")
        return None
    reader = _Reader(top.get("dose", dict), top.file, "dose")
    routes = tuple(Route(reader.choice_in(name, Route)) for name in reader.strings("routes"))
    if not routes:
        raise reader.fail("routes", "must name at least one route")
    supplemental = None
    if "supplemental" in reader.data:
        extra = _Reader(reader.get("supplemental", dict), top.file, "dose.supplemental")
        supplemental = SupplementalDose(
            fraction_of_initial=_number(extra, "fraction_of_initial"),
            earliest_minutes=extra.positive("earliest_minutes"),
            latest_minutes=extra.positive("latest_minutes"),
            source=extra.get("source", str),
        )
        extra.reject_unknown()
        if supplemental.earliest_minutes > supplemental.latest_minutes:
            raise extra.fail("earliest_minutes", "must not be after latest_minutes")
    reader.known.add("supplemental")
    rule = DoseRule(
        unit=DoseUnit(reader.choice("unit", DoseUnit)),
        routes=routes,
        minimum=_number(reader, "min"),
        maximum=_number(reader, "max"),
        source=reader.get("source", str),
        allowed=_numbers(reader, "allowed"),
        first_session=_numbers(reader, "first_session"),
        max_total_mg=_number(reader, "max_total_mg", None),
        supplemental=supplemental,
        setting_note=reader.get("setting_note", str, None),
    )
    reader.reject_unknown()
    if rule.minimum > rule.maximum:
        raise reader.fail("min", "must not be above max")
    for name, values in (("allowed", rule.allowed), ("first_session", rule.first_session)):
        if any(not rule.minimum <= value <= rule.maximum for value in values):
            raise reader.fail(name, "must lie between min and max")
    return rule


def _pre_dose_blood_pressure(top: _Reader) -> PreDoseBloodPressure | None:
    if "pre_dose_blood_pressure" not in top.data:
        top.known.add("pre_dose_blood_pressure")
        return None
    reader = _Reader(top.get("pre_dose_blood_pressure", dict), top.file, "pre_dose_blood_pressure")
    check = PreDoseBloodPressure(
        systolic=_number(reader, "systolic"), diastolic=_number(reader, "diastolic"), source=reader.get("source", str)
    )
    reader.reject_unknown()
    return check


def _required_reading(reader: _Reader) -> RequiredReading:
    signs = reader.strings("signs")
    if not signs or set(signs) - set(VITAL_SIGNS):
        raise reader.fail("signs", f"must be some of {', '.join(VITAL_SIGNS)}")
    required = RequiredReading(
        after_dose_minutes=reader.positive("after_dose_minutes"),
        tolerance_minutes=reader.positive("tolerance_minutes"),
        signs=signs,
        source=reader.get("source", str),
        setting_note=reader.get("setting_note", str, None),
    )
    reader.reject_unknown()
    return required


def _regulatory(top: _Reader) -> RegulatoryStatus | None:
    """The ``[regulatory]`` table: status, the note saying why, its source, and whether the evidence is exploratory."""
    if "regulatory" not in top.data:
        top.known.add("regulatory")
        return None
    reader = _Reader(top.get("regulatory", dict), top.file, "regulatory")
    status = RegulatoryStatus(
        status=reader.choice("status", REGULATORY_STATUSES),
        note=reader.get("note", str),
        source=reader.get("source", str),
        exploratory=reader.get("exploratory", bool, False),
    )
    reader.reject_unknown()
    return status


def _set_and_setting(reader: _Reader) -> SetAndSettingItem:
    item = SetAndSettingItem(
        id=reader.get("id", str),
        text=reader.get("text", str),
        source=reader.get("source", str),
        setting_note=reader.get("setting_note", str, None),
    )
    reader.reject_unknown()
    return item


def _required_lab(reader: _Reader) -> RequiredLab:
    required = RequiredLab(
        # A misspelt marker would silently drop a check from the dosing gate.
        marker=reader.choice("marker", tuple(sorted(markers()))),
        source=reader.get("source", str),
        within_days=reader.positive("within_days", None),
        setting_note=reader.get("setting_note", str, None),
        in_range=reader.get("in_range", bool, False),
    )
    reader.reject_unknown()
    return required
