"""``flask fhir export``: one patient's Bundle to a file, or a clinic's bulk NDJSON to a directory, through the same
code as the web (``tracker.fhir.bundle``, ``tracker.fhir.bulk``), audited as the user named with ``--as`` and limited
to what that user may export."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from tracker.extensions import db
from tracker.fhir.bulk import ExportRefused, export_clinic
from tracker.fhir.bundle import dumps, patient_bundle
from tracker.models import Clinic, Patient, User

fhir = AppGroup("fhir", help="FHIR R4B export.")


def _user(username: str) -> User:
    user: User | None = db.session.scalar(
        select(User).where(User.username == username.casefold(), User.active.is_(True))
    )
    if user is None or not user.is_clinician:
        raise click.ClickException(f"No active clinician account {username!r}.")
    return user


@fhir.command("export")
@click.option("--patient", "record_number", help="One patient, by record number in the user's clinic: a Bundle.")
@click.option("--clinic", "clinic_name", help="A whole clinic (or the supervisor's scope of it): NDJSON files.")
@click.option("--as", "username", required=True, help="The user the export is made (and audited) as.")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="A file for --patient, a directory for --clinic.")
def export_command(record_number: str | None, clinic_name: str | None, username: str, output: Path) -> None:
    """Export one patient's record (--patient) or a clinic (--clinic) as FHIR R4B."""
    if (record_number is None) == (clinic_name is None):
        raise click.UsageError("Give exactly one of --patient RECORD or --clinic NAME.")
    user = _user(username)
    if record_number is not None:
        patient_id = db.session.scalar(
            select(Patient.id).where(Patient.clinic_id == user.clinic_id, Patient.record_number == record_number)
        )
        if patient_id is None:
            raise click.ClickException(f"No patient with record number {record_number!r} in {username}'s clinic.")
        try:
            bundle = patient_bundle(user, patient_id)
        except HTTPException:
            db.session.commit()  # the refusal's audit row
            raise click.ClickException(f"{username} may not see this patient.") from None
        db.session.commit()
        output.write_text(dumps(bundle) + "\n", encoding="utf-8")
        click.echo(f"Wrote {output} ({len(bundle['entry'])} resources).")
        return
    clinic = db.session.scalar(select(Clinic).where(Clinic.name == clinic_name))
    if clinic is None:
        raise click.ClickException(f"No clinic named {clinic_name!r}.")
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise click.ClickException(f"{output} must be a new or empty directory.")
    try:
        manifest = export_clinic(clinic, user, output, lambda done, total: click.echo(f"{done} of {total} patients"))
    except ExportRefused:
        raise click.ClickException(
            f"{username} may not export {clinic_name} in bulk (admins with a clinical role, and supervisors for "
            "their own patients and their supervisees', may)."
        ) from None
    files = ", ".join(f"{o['type']} {o['count']}" for o in manifest["output"])
    click.echo(f"Wrote {output}: {files}.")
