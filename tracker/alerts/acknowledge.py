"""Acknowledging an alert: what was done, chosen from the actions a clinic takes and told in words, by someone
allowed to close it.

Anyone who may open the patient (care team, their supervisors, emergency access) acknowledges an alert; a high-risk
alert (it holds the next dose) only a supervisor in the chain above the care team (``recipients.closers``), so a
second clinician has looked at it before the next dose. The words must say something: at least
``ACTION_MIN_LENGTH`` characters and ``ACTION_MIN_WORDS`` words, so "." or "ok" cannot close an alert.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm.attributes import set_committed_value

from tracker import audit
from tracker.alerts import recipients
from tracker.extensions import db
from tracker.models import Patient, SafetyAlert, User
from tracker.validators import FieldError
from tracker.wording import says_something

#: The actions a clinic takes after a safety alert (the form's checkboxes). Codes are stored; labels may change.
ACTIONS: dict[str, str] = {
    "patient_contacted": "Contacted the patient",
    "safety_plan_reviewed": "Safety plan reviewed with the patient",
    "support_contact_informed": "Support person contacted",
    "crisis_team_contacted": "Crisis team contacted",
    "emergency_services": "Emergency services called",
    "medical_review": "Medical review of the patient",
    "supervisor_consulted": "Supervisor consulted",
    "appointment_brought_forward": "Appointment brought forward",
    "dose_postponed": "Next dose postponed",
    "referred": "Referred for psychiatric assessment",
    "entry_error": "Entered in error: no risk",
    "other": "Other (described below)",
}
ACTION_MIN_LENGTH = 20
ACTION_MIN_WORDS = 3
ACTION_MAX_LENGTH = 4000


class AlertError(FieldError):
    """An acknowledgement refused, for a reason shown next to ``field``; ``forbidden`` when the user may not close
    this alert at all (403) rather than having filled in the form wrongly."""

    def __init__(self, field: str, message: str, forbidden: bool = False) -> None:
        super().__init__(field, message)
        self.forbidden = forbidden


def words_problem(text: str) -> str | None:
    """Why ``text`` does not describe an action, or None when it does."""
    text = text.strip()
    if not says_something(text, ACTION_MIN_LENGTH, ACTION_MIN_WORDS):
        return (
            f"Describe what was done in at least {ACTION_MIN_LENGTH} characters and {ACTION_MIN_WORDS} different words "
            "(who did what, and when): an alert is not closed with a mark or a word repeated."
        )
    if len(text) > ACTION_MAX_LENGTH:
        return f"Use at most {ACTION_MAX_LENGTH} characters."
    return None


def may_close(actor: User, alert: SafetyAlert, chain: recipients.Chain) -> bool:
    """Whether ``actor`` (who may open the patient) may acknowledge ``alert``."""
    return not alert.high_risk or (actor.is_supervisor and actor.id in chain.closers())


def acknowledge(
    actor: User, patient: Patient, alert: SafetyAlert, actions: Sequence[str], text: str, now: datetime
) -> None:
    """Close an open alert with the actions chosen and the action in words.

    The update touches only a row still open, so of two people acknowledging at once one succeeds and the other is
    told; the database refuses any later change.

    :raise AlertError: a high-risk alert and ``actor`` is not a supervisor above the care team (``forbidden``); no
        action chosen, an unknown one, words that say nothing; the alert is no longer open.
    """
    chain = recipients.chain_of(db.session, patient) if alert.high_risk else None
    if chain is not None and not may_close(actor, alert, chain):
        who = ", ".join(recipients.names(db.session, chain.closers()))
        raise AlertError(
            "action_taken",
            "A high-risk alert holds the next dose and is closed only by a supervisor of the care team"
            + (f" ({who})." if who else "; none is set up: ask an admin to name the care team's supervisors."),
            forbidden=True,
        )
    chosen = list(dict.fromkeys(actions))
    if not chosen:
        raise AlertError("actions", "Choose at least one action taken.")
    unknown = [code for code in chosen if code not in ACTIONS]
    if unknown:
        raise AlertError("actions", "Choose actions from the list.")
    problem = words_problem(text)
    if problem:
        raise AlertError("action_taken", problem)
    text = text.strip()
    changed = db.session.execute(
        update(SafetyAlert)
        .where(SafetyAlert.id == alert.id, SafetyAlert.acknowledged_at.is_(None))
        .values(acknowledged_at=now, acknowledged_by_id=actor.id, actions=chosen, action_taken=text)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise AlertError("action_taken", "Someone else has acknowledged this alert already.")
    # Mirror the UPDATE on the loaded object without marking it dirty (a second UPDATE would hit the trigger).
    for name, value in (
        ("acknowledged_at", now),
        ("acknowledged_by_id", actor.id),
        ("actions", chosen),
        ("action_taken", text),
    ):
        set_committed_value(alert, name, value)
    audit.record(
        actor,
        "alert.acknowledge",
        "Acknowledged a safety alert with the action taken",
        patient=patient,
        target_type="safety_alert",
        target_id=alert.id,
        data={"result": alert.result_id, "source": alert.source, "high_risk": alert.high_risk, "actions": chosen},
    )
