"""``flask patients``: the phase workflow from the command line, through the same service as the patient page
(``patients.services.change_phase``, so the same dosing gate), audited as the user named with ``--as`` and limited
to the patients that user may see."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.exceptions import HTTPException

from tracker import gate
from tracker.extensions import db
from tracker.models import CareTeamMember, Patient, Phase, User
from tracker.models.base import utcnow
from tracker.patients.services import change_phase
from tracker.permissions import get_patient_for_user_or_404
from tracker.protocols import protocol_of
from tracker.workflow import TransitionError

patients = AppGroup("patients", help="Patients and their phase in the care model.")

AS = click.option("--as", "username", required=True, help="The clinician the command acts (and is audited) as.")
RECORD = click.argument("record_number")


def _clinician(username: str) -> User:
    user: User | None = db.session.scalar(
        select(User).where(User.username == username.casefold(), User.active.is_(True))
    )
    if user is None or not user.is_clinician:
        raise click.ClickException(f"No active clinician account {username!r}.")
    return user


def _patient(user: User, record_number: str) -> Patient:
    """The patient with this record number in the user's clinic, if the user may see them (audited otherwise)."""
    patient_id = db.session.scalar(
        select(Patient.id).where(Patient.clinic_id == user.clinic_id, Patient.record_number == record_number)
    )
    if patient_id is None:
        raise click.ClickException(f"No patient with record number {record_number!r} in {user.username}'s clinic.")
    try:
        return get_patient_for_user_or_404(
            user, patient_id, selectinload(Patient.care_team).joinedload(CareTeamMember.user)
        )
    except HTTPException:
        raise click.ClickException(f"{user.username} may not see patient {record_number}.") from None


@patients.command("move")
@RECORD
@click.argument("target", type=click.Choice([p.value for p in Phase]))
@click.option("--reason", default=None, help="Why (required for on hold and discontinued).")
@AS
def move_command(record_number: str, target: str, reason: str | None, username: str) -> None:
    """Move a patient to TARGET; a refused move prints every reason and exits 1."""
    user = _clinician(username)
    patient = _patient(user, record_number)
    try:
        change_phase(user, patient, Phase(target), reason, protocol_of(patient))
    except TransitionError as refused:
        db.session.rollback()
        for line in refused.reasons:
            click.echo(f"- {line}", err=True)
        raise click.ClickException(f"{record_number} stays in {patient.phase.label.lower()}.") from None
    db.session.commit()
    click.echo(f"{record_number} moved to {patient.phase.label.lower()}.")


@patients.command("gate")
@RECORD
@AS
def gate_command(record_number: str, username: str) -> None:
    """List the dosing gate's conditions for the patient's next move to dosing, each held or not; exits 1 when any
    is unmet."""
    user = _clinician(username)
    patient = _patient(user, record_number)
    protocol = protocol_of(patient)
    unmet = gate.check(db.session, patient, protocol, gate.Door.MOVE_TO_DOSING, now=utcnow())
    db.session.commit()
    failing = {u.condition for u in unmet}
    for condition in gate.conditions_for(gate.Door.MOVE_TO_DOSING):
        click.echo(f"[{'unmet' if condition.name in failing else 'met'}] {condition.summary}")
        for item in unmet:
            if item.condition == condition.name:
                click.echo(f"    - {item.message}")
    if unmet:
        raise SystemExit(1)
