"""Where sessions fall in a protocol's plan, and what comes next: "dosing 2 of 3", "integration 1 of 3 after
dosing 2". Pure functions over counts the read side loads in one query (``tracker.sessions.queries``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tracker.models import Phase, SessionKind
from tracker.protocols import SessionPlan


def session_label(kind: SessionKind, cycle: int | None, ordinal: int | None, plan: SessionPlan | None) -> str:
    """The session's name in the plan. ``ordinal`` counts sessions of the same kind and cycle (1-based)."""
    number = ordinal or 1

    def of(planned: int | None) -> str:
        if planned is None:
            return ""
        if number > planned:
            return f" ({planned} planned)"
        return f" of {planned}"

    if kind is SessionKind.PREPARATION:
        return f"Preparation {number}{of(plan.preparation if plan else None)}"
    if kind is SessionKind.DOSING:
        planned = plan.dosing if plan else None
        return f"Dosing {cycle}" + (f" of {planned}" if planned is not None else "")
    if kind is SessionKind.INTEGRATION:
        return f"Integration {number}{of(plan.integration_per_dosing if plan else None)} after dosing {cycle}"
    return f"Follow-up contact {number} after dosing {cycle}"


@dataclass(frozen=True)
class Tally:
    """Sessions of one kind and cycle: how many are on record, held, and held with a signed note."""

    kind: SessionKind
    cycle: int | None
    total: int
    held: int
    signed: int


@dataclass(frozen=True)
class PlanRow:
    label: str
    planned: int | None
    held: int
    signed: int
    scheduled: int


@dataclass(frozen=True)
class Progress:
    rows: list[PlanRow]
    #: What the plan asks for next, in words.
    next_step: str


def _sum(tallies: Iterable[Tally], kind: SessionKind, cycle: int | None = None) -> tuple[int, int, int]:
    chosen = [t for t in tallies if t.kind is kind and (cycle is None or t.cycle == cycle)]
    total = sum(t.total for t in chosen)
    held = sum(t.held for t in chosen)
    return held, sum(t.signed for t in chosen), total - held


def progress(plan: SessionPlan, tallies: list[Tally], phase: Phase, cycle: int, held_from: Phase | None) -> Progress:
    """Planned against done per phase, and the next step, for a patient in ``phase`` whose current dosing cycle is
    ``cycle`` (0 before the first dosing session)."""
    prep_held, prep_signed, prep_scheduled = _sum(tallies, SessionKind.PREPARATION)
    dose_held, dose_signed, dose_scheduled = _sum(tallies, SessionKind.DOSING)
    rows = [
        PlanRow("Preparation", plan.preparation, prep_held, prep_signed, prep_scheduled),
        PlanRow("Dosing", plan.dosing, dose_held, dose_signed, dose_scheduled),
    ]
    cycles = sorted({t.cycle for t in tallies if t.cycle is not None} | set(range(1, cycle + 1)))
    if plan.integration_per_dosing:
        for number in cycles:
            held, signed, scheduled = _sum(tallies, SessionKind.INTEGRATION, number)
            rows.append(
                PlanRow(f"Integration after dosing {number}", plan.integration_per_dosing, held, signed, scheduled)
            )
    follow_held, follow_signed, follow_scheduled = _sum(tallies, SessionKind.FOLLOW_UP)
    if follow_held or follow_scheduled:
        rows.append(PlanRow("Follow-up contacts", None, follow_held, follow_signed, follow_scheduled))
    return Progress(rows, _next_step(plan, tallies, phase, cycle, held_from))


def _next_step(plan: SessionPlan, tallies: list[Tally], phase: Phase, cycle: int, held_from: Phase | None) -> str:
    if phase is Phase.ON_HOLD:
        resumes = held_from.label.lower() if held_from else "the phase it left"
        return f"On hold; treatment resumes in {resumes}."
    if phase in (Phase.COMPLETED, Phase.DISCONTINUED):
        return "No further sessions: treatment has ended."
    if phase is Phase.PREPARATION:
        held, _, _ = _sum(tallies, SessionKind.PREPARATION)
        if held < plan.preparation:
            return f"Preparation {held + 1} of {plan.preparation}."
        return f"Dosing 1 of {plan.dosing}, once the dosing gate is passed."
    if phase is Phase.DOSING:
        held, signed, _ = _sum(tallies, SessionKind.DOSING, cycle)
        if not held:
            return f"Dosing {cycle} of {plan.dosing}."
        if not signed:
            return f"Sign the note of dosing {cycle} of {plan.dosing} (discharge and next-day follow-up first)."
        return f"Move to integration after dosing {cycle}."
    held, signed, _ = _sum(tallies, SessionKind.INTEGRATION, cycle)
    needed = plan.integration_per_dosing
    if held < needed:
        return f"Integration {held + 1} of {needed} after dosing {cycle}."
    if signed < needed:
        return f"Sign the notes of the integration sessions after dosing {cycle}."
    if cycle < plan.dosing:
        return f"Dosing {cycle + 1} of {plan.dosing}, once the dosing gate is passed."
    return "All planned sessions are done: move the patient to completed."
