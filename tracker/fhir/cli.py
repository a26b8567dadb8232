"""``flask fhir export``: one patient's Bundle to a file, or a bulk NDJSON export to a directory, through the same
code as the web (``tracker.fhir.bundle``, ``tracker.fhir.bulk``).

``--patient`` and ``--clinic ... --as USER`` are audited as that user and limited to what that user may export
(their care scope: the same as the web). ``--clinic`` without ``--as`` is the server operator's whole-clinic export,
for moving the clinic to another system: whoever can run commands on the server can read its database anyway, so
it is offered there and nowhere else, and audited as the operator's. A refusal is audited too. The audit rows are
committed only after the files are written, and the files are readable by their owner alone.
"""

from __future__ import annotations

import getpass
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from tracker import audit
from tracker.extensions import db
from tracker.fhir.bulk import ExportRefused, export_clinic
from tracker.fhir.bundle import dumps, patient_bundle
from tracker.fhir.files import write_private
from tracker.models import Clinic, Patient, User

fhir = AppGroup("fhir", help="FHIR R4B export.")


def _refuse(message: str, actor: User | None, clinic_id: int | None, **data: object) -> click.ClickException:
    """Audit a refused export (committed at once: the command stops here) and the error to raise."""
    db.session.rollback()
    audit.record(
        actor,
        "fhir.export_refused",
        f"Refused a FHIR export on the command line: {message}",
        clinic_id=clinic_id,
        data={"os_user": _os_user(), **data},
    )
    db.session.commit()
    return click.ClickException(message)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        return "unknown"


def _user(username: str, clinic_id: int | None) -> User:
    user: User | None = db.session.scalar(
        select(User).where(User.username == username.casefold(), User.active.is_(True))
    )
    if user is None or not user.is_clinician:
        raise _refuse(f"No active clinician account {username!r}.", None, clinic_id, username=username)
    return user


@fhir.command("export")
@click.option("--patient", "record_number", help="One patient, by record number in the user's clinic: a Bundle.")
@click.option(
    "--clinic",
    "clinic_name",
    help="A clinic: NDJSON files of the whole clinic (server operator), or of "
    "the care scope of the user named with --as.",
)
@click.option("--as", "username", help="The user the export is made (and audited) as; needed with --patient.")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    required=True,
    help="A file for --patient, a new or empty directory for --clinic (created readable by you alone).",
)
def export_command(record_number: str | None, clinic_name: str | None, username: str | None, output: Path) -> None:
    """Export one patient's record (--patient) or a clinic (--clinic) as FHIR R4B."""
    if (record_number is None) == (clinic_name is None):
        raise click.UsageError("Give exactly one of --patient RECORD or --clinic NAME.")
    if record_number is not None:
        if username is None:
            raise click.UsageError("--patient needs --as USER: a patient's record is exported as a clinician.")
        _export_patient(record_number, username, output)
    else:
        assert clinic_name is not None
        _export_clinic(clinic_name, username, output)


def _export_patient(record_number: str, username: str, output: Path) -> None:
    user = _user(username, None)
    patient_id = db.session.scalar(
        select(Patient.id).where(Patient.clinic_id == user.clinic_id, Patient.record_number == record_number)
    )
    if patient_id is None:
        raise _refuse(
            f"No patient with record number {record_number!r} in {username}'s clinic.",
            user,
            None,
            record_number=record_number,
        )
    try:
        bundle = patient_bundle(user, patient_id)
    except HTTPException as error:
        message = (
            f"{username} sees this patient only under emergency access, which is for viewing: no export."
            if error.code == 403
            else f"{username} may not see this patient."
        )
        raise _refuse(message, user, None, patient_id=patient_id) from None
    try:
        write_private(output, dumps(bundle) + "\n")
    except OSError as error:
        db.session.rollback()  # nothing was exported: no audit row says otherwise
        raise click.ClickException(f"Could not write {output}: {error.strerror}.") from None
    db.session.commit()
    click.echo(f"Wrote {output} ({len(bundle['entry'])} resources).")


def _export_clinic(clinic_name: str, username: str | None, output: Path) -> None:
    clinic = db.session.scalar(select(Clinic).where(Clinic.name == clinic_name))
    if clinic is None:
        raise _refuse(f"No clinic named {clinic_name!r}.", None, None, clinic=clinic_name)
    user = _user(username, clinic.id) if username is not None else None
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise click.ClickException(f"{output} must be a new or empty directory.")
    directory = output.resolve()
    try:
        manifest = export_clinic(
            clinic,
            user,
            output,
            lambda done, total: click.echo(f"{done} of {total} patients"),
            request_url=directory.as_uri(),
            base_url=directory.as_uri() + "/",
        )
    except ExportRefused:
        raise _refuse(
            f"{username} may not export {clinic_name} in bulk (supervisors, and admins who also hold a clinical "
            "role, may export the patients in their care; the whole clinic is exported without --as).",
            user,
            clinic.id,
        ) from None
    except OSError as error:
        db.session.rollback()  # the batch being written is not claimed as exported
        raise click.ClickException(f"Could not write the export into {output}: {error.strerror}.") from None
    files = ", ".join(f"{o['type']} {o['count']}" for o in manifest["output"])
    scope = "the whole clinic" if user is None else f"the care scope of {user.username}"
    click.echo(f"Wrote {output} ({scope}): {files}.")
