"""Integration plan operations: save a new version, mark a version given to the patient.

Each takes the acting user, writes the rows and their audit rows, and leaves the commit to the caller. Versions are
never changed: saving adds one, numbered after the version the form was opened on, so a save made from a stale form
is refused (``StalePlan``) instead of silently replacing a colleague's newer version.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from sqlalchemy import select

from tracker import audit
from tracker.clinics import clinic_of
from tracker.clinictime import day_of
from tracker.database import AnySession
from tracker.extensions import db
from tracker.models import IntegrationPlanVersion, Patient, PlanHandout, User
from tracker.validators import FieldError

SECTION_MAX_LENGTH = 4000
CRISIS_LINE_MAX_LENGTH = 200


class PlanError(FieldError):
    """A plan change refused for a reason shown next to ``field``."""


class StalePlan(Exception):
    """Someone saved a newer version after the form was opened; ``current`` is that version."""

    def __init__(self, current: IntegrationPlanVersion | None) -> None:
        super().__init__("stale plan")
        self.current = current


def current_version(db: AnySession, patient_id: int) -> IntegrationPlanVersion | None:
    """The newest version (the current plan), or None before the first save (one query)."""
    return db.scalar(
        select(IntegrationPlanVersion)
        .where(IntegrationPlanVersion.patient_id == patient_id)
        .order_by(IntegrationPlanVersion.number.desc())
        .limit(1)
    )


def save_version(
    actor: User,
    patient: Patient,
    texts: Mapping[str, str],
    crisis_line: str,
    based_on: int,
    practices: Sequence[Mapping[str, str]] | None = None,
) -> IntegrationPlanVersion | None:
    """Save the plan as a new version: ``texts`` maps each section title to its text, in the order to keep;
    ``practices`` are the structured practices (``tracker.plans.practices.clean``), None keeping the current ones.

    Returns the new version, or None when nothing differs from the current one (no empty versions, like indico's
    note revisions).

    :raise StalePlan: the current version is not ``based_on`` (0: no plan yet) any more; nothing is saved.
    :raise PlanError: every section is empty, a section is too long, or the crisis line is missing or too long.
    """
    current = current_version(db.session, patient.id)
    if (current.number if current else 0) != based_on:
        raise StalePlan(current)
    sections = [{"title": title, "text": text.strip()} for title, text in texts.items()]
    crisis_line = crisis_line.strip()
    if not any(section["text"] for section in sections):
        raise PlanError("sections", "Write at least one section of the plan.")
    for index, section in enumerate(sections, start=1):
        if len(section["text"]) > SECTION_MAX_LENGTH:
            raise PlanError(f"section_{index}", f"Use at most {SECTION_MAX_LENGTH} characters.")
    if not crisis_line:
        raise PlanError("crisis_line", "Give the crisis line the patient can call; it is printed with the plan.")
    if len(crisis_line) > CRISIS_LINE_MAX_LENGTH:
        raise PlanError("crisis_line", f"Use at most {CRISIS_LINE_MAX_LENGTH} characters.")
    before = current.practice_items if current is not None else []
    kept = [dict(p) for p in practices] if practices is not None else before
    if current is not None and current.sections == sections and current.crisis_line == crisis_line and before == kept:
        return None
    version = IntegrationPlanVersion(
        patient_id=patient.id,
        number=based_on + 1,
        protocol_code=patient.protocol_code,
        sections=sections,
        crisis_line=crisis_line,
        practices=kept or None,
        created_by_id=actor.id,
    )
    db.session.add(version)
    db.session.flush()
    changed = [s["title"] for s in sections if current is None or current.text_of(s["title"]) != s["text"]]
    audit.record(
        actor,
        "plan.save",
        f"Saved version {version.number} of the integration plan",
        patient=patient,
        target_type="integration_plan_version",
        target_id=version.id,
        data={"version": version.number, "sections_changed": changed}
        | ({"practices": [p["practice"] for p in kept]} if before != kept else {}),
    )
    return version


def mark_given(
    actor: User, patient: Patient, version: IntegrationPlanVersion, given_on: date, today: date
) -> PlanHandout:
    """Record that ``version`` was given to the patient on ``given_on`` (a version can be given more than once).

    :raise PlanError: the date is in the future, or before the version was saved.
    """
    if given_on > today:
        raise PlanError("given_on", "The date cannot be in the future.")
    saved_on = day_of(version.created_at, clinic_of(db.session, patient.clinic_id).zone)
    if given_on < saved_on:
        raise PlanError("given_on", f"Version {version.number} was only saved on {saved_on.isoformat()}.")
    handout = PlanHandout(version_id=version.id, given_on=given_on, recorded_by_id=actor.id)
    db.session.add(handout)
    db.session.flush()
    audit.record(
        actor,
        "plan.given",
        f"Marked version {version.number} of the integration plan as given to the patient",
        patient=patient,
        target_type="integration_plan_version",
        target_id=version.id,
        data={"version": version.number, "given_on": given_on},
    )
    return handout
