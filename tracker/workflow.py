"""The phase workflow: which moves between phases are allowed, the guards that must hold, and the history row.

Plain Python over the ORM (no Flask): the patients service calls ``move`` and audits the result; tests call it
directly. A refused move raises ``TransitionError`` listing every reason, and writes nothing.

Adding a guard is one decorated function::

    @guard(Phase.PREPARATION, Phase.DOSING)
    def screening_cleared(ctx: GuardContext) -> str | None:
        return None if ... else "Screening has not been cleared."
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from tracker.database import AnySession
from tracker.models import CareRole, CareTeamMember, Patient, Phase, PhaseTransition, User
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


@dataclass(frozen=True)
class GuardContext:
    session: AnySession
    patient: Patient
    protocol: Protocol | None
    target: Phase
    #: The moment of the move when ``move`` was given one (a back-dated move in the demo data); None means now.
    now: datetime | None = None


Guard = Callable[[GuardContext], str | list[str] | None]

#: Guards per move; each returns None (or an empty list) when satisfied, or the reasons the move is refused.
GUARDS: dict[tuple[Phase, Phase], list[Guard]] = {}


def guard(source: Phase, target: Phase) -> Callable[[Guard], Guard]:
    """Register a guard for the move ``source -> target``."""

    def register(func_: Guard) -> Guard:
        GUARDS.setdefault((source, target), []).append(func_)
        return func_

    return register


def allowed_targets(patient: Patient) -> frozenset[Phase]:
    """The phases the rules allow from the patient's current phase, before guards."""
    if patient.phase is Phase.ON_HOLD:
        assert patient.held_from_phase is not None  # guaranteed by a CHECK constraint
        return frozenset({patient.held_from_phase, Phase.DISCONTINUED})
    return ALLOWED_MOVES[patient.phase]


def refusals(ctx: GuardContext, reason: str | None) -> list[str]:
    """Every reason the move in ``ctx`` would be refused; empty when it is allowed."""
    patient, target = ctx.patient, ctx.target
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
    for check in GUARDS.get((patient.phase, target), []):
        problem = check(ctx)
        if isinstance(problem, str):
            problems.append(problem)
        elif problem:
            problems.extend(problem)
    return problems


def move(
    session: AnySession,
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
    problems = refusals(GuardContext(session, patient, protocol, target, now), reason)
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
    session.add(transition)
    return transition


def enrol(session: AnySession, patient: Patient, actor: User) -> PhaseTransition:
    """The first history row of a new patient, who starts in preparation."""
    patient.phase = Phase.PREPARATION
    transition = PhaseTransition(patient=patient, from_phase=None, to_phase=Phase.PREPARATION, actor_id=actor.id)
    session.add(transition)
    return transition


def dosing_sessions_started(session: AnySession, patient: Patient) -> int:
    """How many times the patient has entered dosing (one per dosing cycle)."""
    return session.scalar(
        select(func.count())
        .select_from(PhaseTransition)
        .where(
            PhaseTransition.patient_id == patient.id,
            PhaseTransition.to_phase == Phase.DOSING,
            PhaseTransition.from_phase != Phase.ON_HOLD,
        )
    ) or 0


@guard(Phase.INTEGRATION, Phase.DOSING)
def dosing_session_remaining(ctx: GuardContext) -> str | None:
    """Multi-dose protocols cycle back to dosing only while planned dosing sessions remain."""
    if ctx.protocol is None:
        return "The patient's protocol is not known, so the number of dosing sessions cannot be checked."
    done = dosing_sessions_started(ctx.session, ctx.patient)
    if done >= ctx.protocol.dosing_sessions:
        return (
            f"All {ctx.protocol.dosing_sessions} planned dosing sessions of {ctx.protocol.name} have been held; "
            "move the patient to completed, or change the plan."
        )
    return None


def _has_co_therapist(ctx: GuardContext) -> str | None:
    if ctx.protocol is None or not ctx.protocol.co_therapy_required:
        return None
    count = ctx.session.scalar(
        select(func.count())
        .select_from(CareTeamMember)
        .where(CareTeamMember.patient_id == ctx.patient.id, CareTeamMember.role == CareRole.CO_THERAPIST)
    )
    if not count:
        return f"{ctx.protocol.name} needs a co-therapist on the care team before any dosing session."
    return None


for _source in (Phase.PREPARATION, Phase.INTEGRATION, Phase.ON_HOLD):
    guard(_source, Phase.DOSING)(_has_co_therapist)
