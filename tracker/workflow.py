"""The phase workflow: which moves between phases are allowed, the conditions that must hold, and the history row.

Plain Python over the ORM (no Flask): the patients service and the CLI call ``move`` and audit the result; tests
call it directly. A refused move raises ``TransitionError`` listing every reason, and writes nothing.

The conditions of a move into dosing or integration are the dosing gate's (``tracker.gate``): one table, judged the
same way whoever calls ``move``, from a page, a command or a script. Nothing registers itself on import.
"""

from __future__ import annotations

from datetime import datetime

from tracker import gate
from tracker.database import AnySession
from tracker.gate.load import dosing_entries
from tracker.models import Patient, Phase, PhaseTransition, User
from tracker.models.base import utcnow
from tracker.protocols import Protocol

#: The moves the care model allows, before guards. On hold is not listed: it returns only to the phase it was
#: entered from, or ends in discontinued (``allowed_targets``).
ALLOWED_MOVES: dict[Phase, frozenset[Phase]] = {
    Phase.PREPARATION: frozenset({Phase.DOSING, Phase.ON_HOLD, Phase.DISCONTINUED}),
    Phase.DOSING: frozenset({Phase.INTEGRATION, Phase.ON_HOLD, Phase.DISCONTINUED}),
    # Multi-dose protocols cycle integration -> dosing; the guard below stops it when no dosing session is left.
    Phase.INTEGRATION: frozenset({Phase.DOSING, Phase.COMPLETED, Phase.ON_HOLD, Phase.DISCONTINUED}),
    Phase.COMPLETED: frozenset(),
    Phase.DISCONTINUED: frozenset(),
}

#: Moves that must say why (on hold and discontinued are decisions someone will ask about later).
REASON_REQUIRED = frozenset({Phase.ON_HOLD, Phase.DISCONTINUED})

REASON_MAX_LENGTH = 2000


class TransitionError(Exception):
    """A refused move. ``reasons`` are sentences a clinician can act on."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(" ".join(reasons))
        self.reasons = reasons


#: The gate's door for a move into these phases.
DOORS = {Phase.DOSING: gate.Door.MOVE_TO_DOSING, Phase.INTEGRATION: gate.Door.MOVE_TO_INTEGRATION}


def allowed_targets(patient: Patient) -> frozenset[Phase]:
    """The phases the rules allow from the patient's current phase, before guards."""
    if patient.phase is Phase.ON_HOLD:
        assert patient.held_from_phase is not None  # guaranteed by a CHECK constraint
        return frozenset({patient.held_from_phase, Phase.DISCONTINUED})
    return ALLOWED_MOVES[patient.phase]


def refusals(
    db: AnySession,
    patient: Patient,
    protocol: Protocol | None,
    target: Phase,
    reason: str | None,
    now: datetime | None = None,
) -> list[str]:
    """Every reason the move would be refused; empty when it is allowed. ``now`` is the moment of the move (a
    back-dated move in the demo data); None means now."""
    if target is patient.phase:
        return [f"The patient is already in {target.label.lower()}."]
    if target not in allowed_targets(patient):
        targets = sorted(allowed_targets(patient), key=list(Phase).index)
        allowed = ", ".join(p.label.lower() for p in targets) or "none (final phase)"
        return [
            f"A patient in {patient.phase.label.lower()} cannot move to {target.label.lower()}. "
            f"Allowed next: {allowed}."
        ]
    problems: list[str] = []
    if target in REASON_REQUIRED and not (reason and reason.strip()):
        problems.append(f"Give a reason for moving the patient to {target.label.lower()}.")
    if reason and len(reason) > REASON_MAX_LENGTH:
        problems.append(f"Keep the reason under {REASON_MAX_LENGTH} characters.")
    door = DOORS.get(target)
    if door is not None:
        moment = now or utcnow()
        problems += [u.message for u in gate.check(db, patient, protocol, door, now=moment, at=moment)]
    return problems


def move(
    db: AnySession,
    patient: Patient,
    target: Phase,
    actor: User,
    protocol: Protocol | None,
    reason: str | None = None,
    now: datetime | None = None,
) -> PhaseTransition:
    """Move ``patient`` to ``target`` and add the history row (the caller audits and commits).

    :raise TransitionError: the move is not allowed or a guard fails; nothing is changed.
    """
    problems = refusals(db, patient, protocol, target, reason, now)
    if problems:
        raise TransitionError(problems)
    when = now or utcnow()
    transition = PhaseTransition(
        patient_id=patient.id,
        from_phase=patient.phase,
        to_phase=target,
        actor_id=actor.id,
        reason=reason.strip() if reason and reason.strip() else None,
        created_at=when,
    )
    patient.held_from_phase = patient.phase if target is Phase.ON_HOLD else None
    patient.phase = target
    patient.phase_changed_at = when
    db.add(transition)
    return transition


def enrol(db: AnySession, patient: Patient, actor: User) -> PhaseTransition:
    """The first history row of a new patient, who starts in preparation."""
    patient.phase = Phase.PREPARATION
    transition = PhaseTransition(patient=patient, from_phase=None, to_phase=Phase.PREPARATION, actor_id=actor.id)
    db.add(transition)
    return transition


def dosing_sessions_started(db: AnySession, patient: Patient) -> int:
    """How many times the patient has entered dosing (one per dosing cycle)."""
    return len(dosing_entries(db, patient.id))
