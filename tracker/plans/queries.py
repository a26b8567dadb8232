"""Reading the practice check-ins of a patient's signed integration notes, for the adherence table beside the
measures: one query, the newest ``CHECK_INS_SHOWN``."""

from __future__ import annotations

from sqlalchemy import select

from tracker.database import AnySession
from tracker.models import SessionKind, SessionNote, TherapySession
from tracker.plans.practices import AdherenceRow, CheckIn, adherence
from tracker.plans.services import current_version

#: The adherence table shows this many check-ins at most (the newest), so it stays one screen wide.
CHECK_INS_SHOWN = 12


def check_ins(db: AnySession, patient_id: int, limit: int = CHECK_INS_SHOWN) -> list[CheckIn]:
    """The check-ins of the patient's signed integration notes, oldest first (the newest ``limit``)."""
    rows = db.execute(
        select(TherapySession.held_at, TherapySession.cycle, SessionNote.fields)
        .join(SessionNote, SessionNote.session_id == TherapySession.id)
        .where(
            TherapySession.patient_id == patient_id,
            TherapySession.kind == SessionKind.INTEGRATION,
            TherapySession.held_at.is_not(None),
            SessionNote.signed_at.is_not(None),
        )
        .order_by(TherapySession.held_at.desc(), TherapySession.id.desc())
        .limit(limit)
    ).all()
    found = []
    for held_at, cycle, fields in reversed(rows):
        checked = (fields or {}).get("practice_checkin")
        if not checked:
            continue
        answers = {item["practice"]: item.get("adherence") for item in checked.get("items", [])}
        found.append(CheckIn(held_at, f"{held_at:%Y-%m-%d} (after dosing {cycle})", answers))
    return found


def adherence_table(db: AnySession, patient_id: int) -> tuple[list[CheckIn], list[AdherenceRow]]:
    """The check-ins and one row per practice (the current plan's first): two queries."""
    plan = current_version(db, patient_id)
    found = check_ins(db, patient_id)
    return found, adherence(plan.practice_items if plan is not None else [], found)
