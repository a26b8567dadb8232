"""What the dosing gate knows about a patient at one moment: plain data, built from the database by
``tracker.gate.load`` (or by hand in the unit tests), so the conditions in ``tracker.gate.conditions`` are plain
Python over these values."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo

from tracker.eligibility import Recorded
from tracker.models import DoseUnit, Phase, Route, SessionKind
from tracker.protocols import Protocol
from tracker.schedule import Dated, Settings


class Door(enum.StrEnum):
    """The entry points that can reach a dose or a signed dosing note; each condition names the doors it guards."""

    MOVE_TO_DOSING = "move_to_dosing"
    MOVE_TO_INTEGRATION = "move_to_integration"
    #: Recording a dosing session as held, or editing a held one.
    SESSION = "session"
    #: Saving the dose (substance, amount, route, times) on a dosing note.
    DOSE = "dose"
    #: Signing a dosing note.
    SIGN = "sign"

    @property
    def label(self) -> str:
        return {
            "move_to_dosing": "the move to dosing",
            "move_to_integration": "the move to integration",
            "session": "recording a dosing session",
            "dose": "recording the dose",
            "sign": "signing the dosing note",
        }[self.value]


#: Doors that concern one dosing session (its time is the moment the gate is evaluated at).
SESSION_DOORS = frozenset({Door.SESSION, Door.DOSE, Door.SIGN})
#: Doors that lead to a dose.
DOSING_DOORS = SESSION_DOORS | {Door.MOVE_TO_DOSING}


@dataclass(frozen=True)
class Review:
    item_id: str
    decision: str  # "cleared" or "declined"
    rationale: str
    basis: str
    decided_at: datetime


@dataclass(frozen=True)
class Medication:
    id: int
    name: str
    drug_class: str
    started_on: date | None
    stopped_on: date | None
    taper_end_on: date | None

    def current_on(self, day: date) -> bool:
        """Taken on ``day``: started by then (or no start recorded) and not stopped before it."""
        started = self.started_on is None or self.started_on <= day
        return started and (self.stopped_on is None or self.stopped_on >= day)


#: Readings taken on arrival count for a session that starts up to this long after them (a plausibility bound on
#: what a dosing note may hold, not a clinical rule).
ARRIVAL = timedelta(minutes=60)
#: Discharge and the readings of a dosing note fall within this long of the session's start: a day session, or an
#: overnight stay after it (MDMA-assisted therapy: NCT03537014, an overnight stay after each experimental session).
SESSION_SPAN = timedelta(hours=36)


@dataclass(frozen=True)
class Visit:
    """A therapy session as the gate sees it."""

    id: int | None
    kind: SessionKind
    cycle: int | None
    held_at: datetime | None
    #: When its note was signed (None: not signed).
    signed_at: datetime | None = None
    #: For a dosing session: when the dose was given (None when not recorded).
    dose_given_at: datetime | None = None
    #: How many of the therapists present hold the therapist role.
    present_therapists: int = 0
    duration_minutes: int | None = None

    @property
    def note_signed(self) -> bool:
        return self.signed_at is not None

    def signed_by(self, moment: datetime) -> bool:
        """Its note was signed at or before ``moment``."""
        return self.signed_at is not None and self.signed_at <= moment

    @property
    def ends_at(self) -> datetime | None:
        """The end of the session as recorded (its start plus its duration)."""
        if self.held_at is None or self.duration_minutes is None:
            return None
        return self.held_at + timedelta(minutes=self.duration_minutes)

    @property
    def dosed_at(self) -> datetime | None:
        """When the dose was given, or (none recorded) when the session started."""
        return self.dose_given_at or self.held_at


@dataclass(frozen=True)
class Administration:
    """A dosing note's administration and discharge, under the names of ``SessionNote``'s columns (so the
    discharge criteria read either)."""

    substance: str | None = None
    dose_amount: float | None = None
    dose_unit: DoseUnit | None = None
    weight_kg: float | None = None
    route: Route | None = None
    lot_number: str | None = None
    dose_given_at: datetime | None = None
    supplemental_mg: float | None = None
    supplemental_given_at: datetime | None = None
    distress_baseline: int | None = None
    distress_at_discharge: int | None = None
    escort_name: str | None = None
    discharged_at: datetime | None = None
    pre_dose_decision: str | None = None

    @property
    def dose_total_mg(self) -> float | None:
        if self.dose_amount is None or self.dose_unit is None:
            return None
        return self.dose_unit.total_mg(self.dose_amount, self.weight_kg)


@dataclass(frozen=True)
class Reading:
    """One set of vital signs, under the names of ``VitalReading``'s columns."""

    taken_at: datetime
    systolic: int | None = None
    diastolic: int | None = None
    heart_rate: int | None = None
    temperature: float | None = None
    spo2: int | None = None
    id: int = 0

    def value(self, sign: str) -> float | None:
        value: float | None = getattr(self, sign)
        return value


@dataclass(frozen=True)
class HoldingAlert:
    """A high-risk safety alert (``tracker.models.alert``): open from ``raised_at`` until a supervisor closes it."""

    id: int
    source: str
    summary: str
    raised_at: datetime
    closed_at: datetime | None = None
    #: The dosing session whose own vital sign, adverse event or note raised it (None for a measure's alert).
    session_id: int | None = None

    def open_at(self, moment: datetime) -> bool:
        return self.raised_at <= moment and (self.closed_at is None or self.closed_at > moment)


@dataclass(frozen=True)
class LabFact:
    """A current laboratory result: which marker, and the day its sample was taken."""

    marker: str
    collected_on: date
    #: "low" or "high" when outside the reference range the result carries; None within it.
    flag: str | None = None


@dataclass(frozen=True)
class Facts:
    """Everything the conditions read. ``at`` is the moment judged: the session's start at a session door, the
    moment of the move otherwise; ``cycle`` is the dosing cycle concerned."""

    protocol: Protocol | None
    protocol_code: str
    now: datetime
    at: datetime
    cycle: int
    phase: Phase
    enrolled_at: datetime
    #: The dosing cycle the patient is in now (how many times they entered dosing).
    current_cycle: int = 0
    #: Facts of the patient's record screening items may depend on (``ScreeningItem.applies_if``).
    record: Mapping[str, bool] = field(default_factory=dict)
    #: Dosing cycle -> when the patient moved into dosing for it.
    entered_dosing: Mapping[int, datetime] = field(default_factory=dict)
    signed_off_at: datetime | None = None
    has_checklist: bool = True
    answers: tuple[Recorded, ...] = ()
    reviews: tuple[Review, ...] = ()
    medications: tuple[Medication, ...] = ()
    visits: tuple[Visit, ...] = ()
    results: tuple[Dated, ...] = ()
    settings: Settings = field(default_factory=Settings)
    co_therapists: int = 0
    #: The dosing session concerned (at a session door), as it would be saved.
    session: Visit | None = None
    #: True when this call records the session as held (a new session, or a scheduled one now held).
    recording: bool = False
    administration: Administration | None = None
    readings: tuple[Reading, ...] = ()
    follow_up_ok: bool = False
    #: The patient's high-risk safety alerts, open or closed (those closed before the moment judged hold nothing).
    alerts: tuple[HoldingAlert, ...] = ()
    #: Current laboratory results of the markers the protocol requires (``Protocol.required_labs``).
    labs: tuple[LabFact, ...] = ()
    tz: tzinfo = UTC

    def day(self, moment: datetime) -> date:
        """The calendar day of ``moment`` in the clinic's time."""
        return moment.astimezone(self.tz).date()

    @property
    def on(self) -> date:
        return self.day(self.at)
