"""Who the load benchmark's simulated clinicians are and what they work on, read from the bench clinic before the
server starts, so the Locust users (``bench/locustfile.py``) need no database of their own.

Each therapist gets their own patients (they lead), the unsigned notes of held sessions they can save and sign
(preparation, integration and follow-up notes: a dosing note would also need the dosing gate's discharge checks),
the patients with an integration plan to print, and the instrument each patient's protocol measures first; each
supervisor the patients of their supervisees. The batch is one supervisor's: a supervisee's caseload in the phase
whose size comes closest to ``BATCH_SIZE`` without passing it, printed as integration plans.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select

from bench.seed import PASSWORD
from tracker.dashboard.overview import measures_with_a_total
from tracker.extensions import db
from tracker.models import (
    CareRole,
    CareTeamMember,
    IntegrationPlanVersion,
    Patient,
    Phase,
    SessionKind,
    SessionNote,
    TherapySession,
    User,
)
from tracker.reports.selection import caseload_in_phase

#: Patients of one user the plan lists (a user works on a few dozen in a run at most).
PATIENTS_PER_USER = 40
NOTES_PER_THERAPIST = 30
BATCH_SIZE = 50
SIGNABLE = (SessionKind.PREPARATION, SessionKind.INTEGRATION, SessionKind.FOLLOW_UP)


def build(app: Flask) -> dict[str, Any]:
    """The plan: accounts with their subjects, the batch, the password."""
    with app.app_context():
        session = db.session
        protocols = app.extensions["protocols"]
        instrument = {code: found[0].code for code, p in protocols.items() if (found := measures_with_a_total(p))}
        users = list(session.scalars(select(User).where(User.active.is_(True)).order_by(User.id)))
        led: dict[int, list[tuple[int, str]]] = defaultdict(list)
        for user_id, patient_id, code in session.execute(
            select(CareTeamMember.user_id, Patient.id, Patient.protocol_code)
            .join(Patient, Patient.id == CareTeamMember.patient_id)
            .where(CareTeamMember.role == CareRole.LEAD)
            .order_by(CareTeamMember.user_id, Patient.id)
        ):
            led[user_id].append((patient_id, code))
        planned = set(session.scalars(select(IntegrationPlanVersion.patient_id).distinct()))
        notes: dict[int, list[dict[str, int]]] = defaultdict(list)
        for author_id, patient_id, session_id in session.execute(
            select(SessionNote.author_id, TherapySession.patient_id, TherapySession.id)
            .join(TherapySession, TherapySession.id == SessionNote.session_id)
            .where(
                SessionNote.signed_at.is_(None), TherapySession.held_at.is_not(None), TherapySession.kind.in_(SIGNABLE)
            )
            .order_by(SessionNote.author_id, TherapySession.id)
        ):
            if len(notes[author_id]) < NOTES_PER_THERAPIST:
                notes[author_id].append({"patient": patient_id, "session": session_id})
        therapists, supervisors = [], []
        for user in users:
            if user.is_therapist and led[user.id]:
                own = led[user.id][:PATIENTS_PER_USER]
                therapists.append(
                    {
                        "username": user.username,
                        "patients": [p for p, _ in own],
                        "measures": [{"patient": p, "instrument": instrument[c]} for p, c in own if c in instrument],
                        "plans": [p for p, _ in own if p in planned],
                        "notes": notes[user.id],
                    }
                )
            elif user.is_supervisor:
                team = [u.id for u in users if u.supervisor_id == user.id]
                patients = [p for t in team for p, _ in led[t]]
                if patients:
                    supervisors.append(
                        {
                            "username": user.username,
                            "patients": patients[:: max(1, len(patients) // PATIENTS_PER_USER)][:PATIENTS_PER_USER],
                            "therapists": team,
                        }
                    )
        batch = _batch(session, users, supervisors)
        session.remove()
    return {"password": PASSWORD, "therapists": therapists, "supervisors": supervisors, "batch": batch}


def _batch(session: Any, users: list[User], supervisors: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The first supervisor's batch: the supervisee's caseload in one phase nearest ``BATCH_SIZE`` (at most it)."""
    if not supervisors:
        return None
    first = supervisors[0]
    supervisor = next(u for u in users if u.username == first["username"])
    best: tuple[int, int, Phase] | None = None
    for therapist_id in first["therapists"]:
        for phase in (Phase.INTEGRATION, Phase.COMPLETED):
            count = len(caseload_in_phase(session, supervisor, therapist_id, phase))
            if count <= BATCH_SIZE and (best is None or count > best[0]):
                best = (count, therapist_id, phase)
    if best is None or best[0] == 0:
        return None
    return {"username": first["username"], "therapist_id": best[1], "phase": best[2].value, "patients": best[0]}


def write(plan: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(plan, indent=1))
