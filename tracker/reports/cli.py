"""``flask reports render``: the same reports as the "Print / PDF" buttons, written to a file, through the same code
(``tracker.reports.exports``), audited as the user named with ``--as`` and limited to what that user may see."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from tracker.extensions import db
from tracker.models import Patient, User
from tracker.models.base import utcnow
from tracker.reports import renderer
from tracker.reports.content import NothingToPrint, ReportKind, Stamp
from tracker.reports.exports import export_one

reports = AppGroup("reports", help="PDF reports.")


@reports.command("render")
@click.argument("kind", type=click.Choice([k.value for k in ReportKind]))
@click.option("--patient", "record_number", required=True, help="The patient's record number in the user's clinic.")
@click.option("--session", "session_id", type=int, help="The session (for a session record).")
@click.option("--draft", is_flag=True, help="Print unsigned content too, marked DRAFT on every page.")
@click.option("--as", "username", required=True, help="The user the export is made (and audited) as.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True, path_type=Path), required=True)
def render_command(
    kind: str, record_number: str, session_id: int | None, draft: bool, username: str, output: Path
) -> None:
    """Render one report of one patient to OUTPUT."""
    report = ReportKind(kind)
    if report is ReportKind.RECORD and session_id is None:
        raise click.UsageError("A session record needs --session ID.")
    user = db.session.scalar(select(User).where(User.username == username, User.active.is_(True)))
    if user is None or not user.is_clinician:
        raise click.ClickException(f"No active clinician account {username!r}.")
    patient_id = db.session.scalar(
        select(Patient.id).where(Patient.clinic_id == user.clinic_id, Patient.record_number == record_number)
    )
    try:
        if patient_id is None:
            raise click.ClickException(f"No patient with record number {record_number!r} in {username}'s clinic.")
        export = export_one(user, report, patient_id, Stamp(by=user, at=utcnow(), draft=draft), session_id)
    except NothingToPrint as reason:
        db.session.rollback()
        raise click.ClickException(str(reason)) from None
    except HTTPException:
        db.session.commit()  # the refusal's audit row
        raise click.ClickException(f"{username} may not see this patient or session.") from None
    db.session.commit()
    output.write_bytes(renderer.render(export.documents[0], current_app.config["REPORT_WORKERS"]))
    click.echo(f"Wrote {output} ({export.kind.label}).")
