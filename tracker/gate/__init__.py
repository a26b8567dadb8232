"""The dosing gate: every condition that must hold before a dose, a held dosing session or a signed dosing note,
in one table (``tracker.gate.conditions``), judged by one function for every entry point.

``check`` gathers the patient's facts (``tracker.gate.load``) and returns what is unmet for a door; ``require``
raises ``GateRefused`` with every reason. Callers (the workflow's moves, the session, note and signing services,
the CLI) call one of the two; none keeps a rule of its own.
"""

from __future__ import annotations

from typing import Any

from tracker.database import AnySession
from tracker.gate.conditions import CONDITIONS, Condition, Unmet, conditions_for, evaluate
from tracker.gate.facts import ARRIVAL, SESSION_SPAN, Administration, Door, Facts, Reading, Visit
from tracker.gate.load import administration_of, load_facts, visit_of
from tracker.models import Patient
from tracker.protocols import Protocol

__all__ = [
    "ARRIVAL",
    "CONDITIONS",
    "SESSION_SPAN",
    "Administration",
    "Condition",
    "Door",
    "Facts",
    "GateRefused",
    "Reading",
    "Unmet",
    "Visit",
    "administration_of",
    "check",
    "conditions_for",
    "evaluate",
    "load_facts",
    "require",
    "visit_of",
]


class GateRefused(Exception):
    """The door stays shut; ``unmet`` holds every condition that does not hold, in the gate's order."""

    def __init__(self, door: Door, unmet: list[Unmet]) -> None:
        super().__init__(" ".join(u.message for u in unmet))
        self.door = door
        self.unmet = unmet

    @property
    def reasons(self) -> list[str]:
        return [u.message for u in self.unmet]


def check(db: AnySession, patient: Patient, protocol: Protocol | None, door: Door, **given: Any) -> list[Unmet]:
    """What is unmet for ``door`` (``given``: the keyword arguments of ``load_facts``)."""
    return evaluate(load_facts(db, patient, protocol, door, **given), door)


def require(db: AnySession, patient: Patient, protocol: Protocol | None, door: Door, **given: Any) -> None:
    """:raise GateRefused: with every unmet condition of ``door``."""
    unmet = check(db, patient, protocol, door, **given)
    if unmet:
        raise GateRefused(door, unmet)
