"""The gate before every dosing session: guards on preparation -> dosing, integration -> dosing, and on hold ->
dosing (a dosing session resumed after a hold: medications or test dates may have changed in the meantime).

A move to dosing is refused, with every unmet condition in words a clinician can act on, unless the screening
is eligible, the protocol's preparation sessions have been held (before the first dosing session), each
pre-dosing check holds, and every medication that must be tapered off has been stopped.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select

from tracker import eligibility
from tracker.models import Medication, Phase, ScreeningChecklist, SessionKind, TherapySession
from tracker.models.base import utcnow
from tracker.protocols import Protocol
from tracker.screening.services import (
    assess,
    current_checklist,
    latest_answers,
    medication_facts,
    medications_of,
)
from tracker.workflow import GuardContext, guard


def screening_gate(ctx: GuardContext) -> list[str]:
    """Eligibility, pre-dosing checks and tapers, from one load of the checklist and the medications."""
    if ctx.protocol is None:
        return ["The patient's protocol is not known, so screening cannot be checked."]
    checklist = current_checklist(ctx.session, ctx.patient)
    medications = medications_of(ctx.session, [ctx.patient.id])[ctx.patient.id]
    today = utcnow().date()
    return (
        screening_eligible(checklist, ctx.protocol, medications, today)
        + pre_dosing_checks(checklist, ctx.protocol, today)
        + tapers_finished(ctx.protocol, medications, today)
    )


def screening_eligible(
    checklist: ScreeningChecklist | None, protocol: Protocol, medications: list[Medication], today: date
) -> list[str]:
    result = assess(checklist, protocol, medications, today)
    if result.is_eligible:
        return []
    problems = [reason.text for reason in result.reasons if reason.status is not eligibility.Status.INCOMPLETE]
    unanswered = [r for r in result.reasons if r.status is eligibility.Status.INCOMPLETE and r.item_id]
    if unanswered:
        problems.append(
            f"Screening is incomplete: {len(unanswered)} item{'s' if len(unanswered) != 1 else ''} not answered "
            "or recorded yet (see the screening checklist)."
        )
    problems += [r.text for r in result.reasons if r.status is eligibility.Status.INCOMPLETE and not r.item_id]
    return problems


def pre_dosing_checks(checklist: ScreeningChecklist | None, protocol: Protocol, today: date) -> list[str]:
    answers = latest_answers(checklist) if checklist else {}
    problems = []
    for check in protocol.pre_dosing:
        answer = answers.get(check.requirement)
        if answer is not None and answer.answer.value == "not_applicable":
            continue
        if answer is None or answer.done_on is None:
            problems.append(f"Before dosing: {check.text} - not recorded.")
        elif check.within_days is not None and answer.done_on < today - timedelta(days=check.within_days):
            problems.append(
                f"Before dosing: {check.text} - the last one is dated {answer.done_on.isoformat()}, "
                f"more than {check.within_days} days ago. Record a new one in the screening checklist."
            )
    return problems


def tapers_finished(protocol: Protocol, medications: list[Medication], today: date) -> list[str]:
    by_id = {m.id: m for m in medications}
    problems = []
    for rule in protocol.interactions:
        if not rule.taper_before_dosing:
            continue
        for fact in medication_facts(medications, today):
            if fact.current and eligibility.matches(rule, fact):
                medication = by_id[fact.id]
                end = medication.taper_end_on.isoformat() if medication.taper_end_on else "no end date planned"
                problems.append(
                    f"{medication.name} must be stopped before dosing ({rule.note}); taper ends: {end}. "
                    "Record the stop date in the medication review."
                )
    return problems


def preparation_held(ctx: GuardContext) -> str | None:
    if ctx.protocol is None:
        return None
    required = ctx.protocol.sessions.preparation
    held = (
        ctx.session.scalar(
            select(func.count())
            .select_from(TherapySession)
            .where(
                TherapySession.patient_id == ctx.patient.id,
                TherapySession.kind == SessionKind.PREPARATION,
                TherapySession.held_at.is_not(None),
            )
        )
        or 0
    )
    if held < required:
        return (
            f"{held} of {required} preparation sessions held; "
            f"all {required} are needed before the first dosing session."
        )
    return None


for _source in (Phase.PREPARATION, Phase.INTEGRATION, Phase.ON_HOLD):
    guard(_source, Phase.DOSING)(screening_gate)
guard(Phase.PREPARATION, Phase.DOSING)(preparation_held)
