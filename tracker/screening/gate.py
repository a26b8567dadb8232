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
from tracker.models import Medication, Phase, ScreeningAnswer, SessionKind, TherapySession
from tracker.screening.services import assess, current_checklist, latest_answers
from tracker.workflow import GuardContext, guard


def _today() -> date:
    from tracker.models.base import utcnow

    return utcnow().date()


def _medications(ctx: GuardContext) -> list[Medication]:
    return list(ctx.session.scalars(select(Medication).where(Medication.patient_id == ctx.patient.id)))


def screening_eligible(ctx: GuardContext) -> list[str]:
    if ctx.protocol is None:
        return ["The patient's protocol is not known, so screening cannot be checked."]
    checklist = current_checklist(ctx.session, ctx.patient)
    result = assess(checklist, ctx.protocol, _medications(ctx), _today())
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


def pre_dosing_checks(ctx: GuardContext) -> list[str]:
    if ctx.protocol is None or not ctx.protocol.pre_dosing:
        return []
    checklist = current_checklist(ctx.session, ctx.patient)
    answers: dict[str, ScreeningAnswer] = latest_answers(checklist) if checklist else {}
    today = _today()
    problems = []
    for check in ctx.protocol.pre_dosing:
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


def tapers_finished(ctx: GuardContext) -> list[str]:
    if ctx.protocol is None:
        return []
    today = _today()
    facts = {m.id: m for m in _medications(ctx)}
    problems = []
    for rule in ctx.protocol.interactions:
        if not rule.taper_before_dosing:
            continue
        for medication in facts.values():
            fact = eligibility.MedicationFact(
                medication.id, medication.name, medication.drug_class, medication.is_current(today)
            )
            if fact.current and eligibility.matches(rule, fact):
                end = medication.taper_end_on.isoformat() if medication.taper_end_on else "no end date planned"
                problems.append(
                    f"{medication.name} must be stopped before dosing ({rule.note}); taper ends: {end}. "
                    "Record the stop date in the medication review."
                )
    return problems


for _source in (Phase.PREPARATION, Phase.INTEGRATION, Phase.ON_HOLD):
    guard(_source, Phase.DOSING)(screening_eligible)
    guard(_source, Phase.DOSING)(pre_dosing_checks)
    guard(_source, Phase.DOSING)(tapers_finished)
guard(Phase.PREPARATION, Phase.DOSING)(preparation_held)
