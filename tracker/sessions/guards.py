"""Workflow guards that depend on session notes (registered with ``tracker.workflow`` when imported, by the
sessions blueprint):

- dosing -> integration: the dosing session of the current cycle was held, its note is signed, and discharge
  was complete (signing already requires it; checked again so the rule stands on its own);
- integration -> dosing (multi-dose protocols): the protocol's integration sessions after the current dosing
  session were all held and their notes signed.

Each unmet condition is one sentence a clinician can act on.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from tracker.models import Phase, SessionKind, SessionNote, TherapySession
from tracker.sessions import discharge
from tracker.workflow import GuardContext, dosing_sessions_started, guard


@guard(Phase.DOSING, Phase.INTEGRATION)
def dosing_note_signed(ctx: GuardContext) -> list[str]:
    cycle = dosing_sessions_started(ctx.session, ctx.patient)
    dosing = ctx.session.scalar(
        select(TherapySession).where(
            TherapySession.patient_id == ctx.patient.id,
            TherapySession.kind == SessionKind.DOSING,
            TherapySession.cycle == cycle,
            TherapySession.held_at.is_not(None),
        )
    )
    if dosing is None:
        return [f"Dosing session {cycle} has not been recorded as held: log it, with its note, first."]
    note = ctx.session.scalar(
        select(SessionNote).where(SessionNote.session_id == dosing.id).options(selectinload(SessionNote.vitals))
    )
    problems = []
    if note is None or note.signed_at is None:
        problems.append(f"The note of dosing session {cycle} is not signed.")
    minimum = ctx.protocol.minimum_observation_minutes if ctx.protocol else None
    if note is None or not discharge.is_complete(note, note.vitals, minimum):
        problems.append(
            f"Discharge after dosing session {cycle} is not complete (vital signs, distress, observation time, "
            "escort): see the session's note."
        )
    return problems


@guard(Phase.INTEGRATION, Phase.DOSING)
def integration_cycle_signed(ctx: GuardContext) -> str | None:
    if ctx.protocol is None:
        return None  # the workflow's own guard already refuses a patient without a known protocol
    needed = ctx.protocol.sessions.integration_per_dosing
    if not needed:
        return None
    cycle = dosing_sessions_started(ctx.session, ctx.patient)
    held, signed = ctx.session.execute(
        select(func.count(TherapySession.id), func.count(SessionNote.signed_at))
        .outerjoin(SessionNote, SessionNote.session_id == TherapySession.id)
        .where(
            TherapySession.patient_id == ctx.patient.id,
            TherapySession.kind == SessionKind.INTEGRATION,
            TherapySession.cycle == cycle,
            TherapySession.held_at.is_not(None),
        )
    ).one()
    if held >= needed and signed >= needed:
        return None
    return (
        f"Integration after dosing {cycle}: {held} of {needed} sessions held, {signed} with a signed note; "
        f"all {needed} must be held and signed before dosing {cycle + 1}."
    )
