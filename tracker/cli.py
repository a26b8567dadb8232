"""Command-line tools: thin wrappers over the same services the pages use."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from tracker.admin.services import AccountDetails, AccountError, create_user
from tracker.clinics import SettingsError, new_clinic
from tracker.demo import CLINICS, DEMO_PASSWORD, DEMO_STAFF, seed_demo
from tracker.extensions import db
from tracker.fhir.cli import fhir
from tracker.models import Clinic, Role
from tracker.patients.cli import patients
from tracker.protocols import loaded_protocols
from tracker.reports.cli import reports

users = AppGroup("users", help="Manage staff accounts.")


@users.command("create")
@click.argument("username")
@click.option("--name", "full_name", required=True, help="The person's full name.")
@click.option("--clinic", "clinic_name", required=True, help="Clinic name; created if it does not exist.")
@click.option(
    "--time-zone",
    "time_zone",
    default=None,
    help="The clinic's IANA time zone (e.g. America/Denver): required when the clinic is created.",
)
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    type=click.Choice([r.value for r in Role]),
    help="Repeat for several roles.",
)
@click.option("--supervisor", "supervisor_username", default=None, help="Username of the therapist's supervisor.")
@click.option(
    "--password",
    default=None,
    help="The server operator's own first account only (scripts, demo set-ups): without it a one-time "
    "set-password link is printed, for the account's owner.",
)
def create_user_command(
    username: str,
    full_name: str,
    clinic_name: str,
    time_zone: str | None,
    roles: tuple[str, ...],
    supervisor_username: str | None,
    password: str | None,
) -> None:
    """Create a staff account (the first admin of a new deployment is made this way) and print a one-time link on
    BASE_URL where its owner sets the password."""
    from tracker.auth import credentials
    from tracker.models import User
    from tracker.models.base import utcnow

    clinic = db.session.scalar(select(Clinic).where(Clinic.name == clinic_name))
    if clinic is None:
        if time_zone is None:
            raise click.UsageError(
                f"{clinic_name!r} is a new clinic: give its --time-zone, an IANA name such as America/Denver "
                "(every time is typed and shown in it; an admin can change it later under Clinic settings)."
            )
        try:
            clinic = new_clinic(clinic_name, time_zone)
        except SettingsError as error:
            raise click.UsageError(str(error)) from None
    elif time_zone is not None and time_zone != clinic.time_zone:
        raise click.UsageError(
            f"{clinic.name} already exists, in {clinic.time_zone}: change its zone under Clinic settings."
        )
    supervisor_id = None
    if supervisor_username:
        supervisor_id = db.session.scalar(select(User.id).where(User.username == supervisor_username.casefold()))
        if supervisor_id is None:
            raise click.UsageError(f"No account named {supervisor_username!r}.")
    details = AccountDetails(full_name, frozenset(Role(r) for r in roles), supervisor_id)
    try:
        user = create_user(None, clinic.id, username, password, details)
        token = None if password is not None else credentials.issue_link(None, user, utcnow())
    except AccountError as error:
        raise click.UsageError(f"{error.field}: {error}") from None
    db.session.commit()
    click.echo(f"Created {user.username} ({', '.join(sorted(roles))}) in {clinic.name}.")
    if token is not None:
        click.echo("Set-password link (works once, shown only now):")
        click.echo(credentials.link_url(token))


@users.command("reset-password")
@click.argument("username")
@click.option(
    "--next-sign-in",
    "at_next_sign_in",
    is_flag=True,
    help="Ask for a new password at the next sign-in instead of printing a set-password link.",
)
def reset_password_command(username: str, at_next_sign_in: bool) -> None:
    """Print a one-time set-password link for an account (or ask for a new password at its next sign-in), ending
    its sessions; audited as done from the command line. For the clinic's only admin who forgot theirs."""
    from tracker.auth import credentials
    from tracker.models import User
    from tracker.models.base import utcnow

    user = db.session.scalar(select(User).where(User.username == username.strip().casefold()))
    if user is None:
        raise click.UsageError(f"No account named {username!r}.")
    try:
        if at_next_sign_in:
            credentials.force_change(None, user, utcnow())
        else:
            token = credentials.issue_link(None, user, utcnow())
    except credentials.CredentialError as error:
        raise click.UsageError(str(error)) from None
    db.session.commit()
    if at_next_sign_in:
        click.echo(f"{user.username} will choose a new password at their next sign-in.")
    else:
        click.echo(f"Set-password link for {user.username} (works once, shown only now):")
        click.echo(credentials.link_url(token))


@click.command("seed-demo")
def seed_demo_command() -> None:
    """Load two demo clinics with staff and patients (does nothing if they are already there). Refused in
    production: demo accounts with a published password must never reach a clinic's database."""
    from flask import current_app

    if current_app.config["ENV_NAME"] == "production":
        raise click.ClickException("seed-demo is refused in production (TRACKER_ENV=production).")
    if seed_demo(loaded_protocols()):
        db.session.commit()
        click.echo("Demo clinics loaded.")
    else:
        click.echo("Demo clinics already present; nothing added.")


@click.command("demo-accounts")
def demo_accounts_command() -> None:
    """Print the demo accounts and their password."""
    click.echo(f"Demo accounts (password for all: {DEMO_PASSWORD}):")
    for clinic_name, prefix in CLINICS:
        click.echo(f"  {clinic_name}:")
        for username, full_name, roles, _ in DEMO_STAFF:
            click.echo(f"    {prefix + username:<16} {full_name:<20} {', '.join(r.value for r in roles)}")


notes = AppGroup("notes", help="Session notes.")


@notes.command("verify")
@click.option("--batch", default=200, show_default=True, help="Notes loaded per query.")
def verify_notes_command(batch: int) -> None:
    """Recompute the hash of every signed note and addendum and report any that differ from the one stored at
    signing (HIPAA 45 CFR 164.312(c)(2): corroborate that the record has not been altered). Exits 1 when something
    differs."""
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    from tracker.models import SessionNote, TherapySession
    from tracker.notes.signing import verify

    checked, found, last = 0, [], 0
    while True:
        rows = list(
            db.session.scalars(
                select(SessionNote)
                .where(SessionNote.signed_at.is_not(None), SessionNote.id > last)
                .order_by(SessionNote.id)
                .limit(batch)
                .options(
                    selectinload(SessionNote.session).selectinload(TherapySession.present),
                    selectinload(SessionNote.vitals),
                    selectinload(SessionNote.adverse_events),
                    selectinload(SessionNote.addenda),
                )
                # What the database holds, not a copy the session already keeps: a note loaded before someone else
                # signed it would mix its old columns with the signature's.
                .execution_options(populate_existing=True)
            )
        )
        if not rows:
            break
        found += verify([(note, note.session) for note in rows])
        checked, last = checked + len(rows), rows[-1].id
        db.session.expunge_all()
    for mismatch in found:
        click.echo(f"MISMATCH {mismatch.kind} #{mismatch.id}: stored {mismatch.stored}, now {mismatch.computed}")
    click.echo(f"Checked {checked} signed notes and their addenda: {len(found)} mismatch(es).")
    if found:
        raise SystemExit(1)


audit_group = AppGroup("audit", help="The audit trail.")


@audit_group.command("verify")
@click.option("--batch", default=1000, show_default=True, help="Rows loaded per query.")
@click.option(
    "--expect",
    "expected",
    multiple=True,
    metavar="CHAIN:SEQ:HASH",
    help="A head printed by an earlier run and kept outside the database; repeat for each chain.",
)
@click.option("--no-note", is_flag=True, help="Do not note the heads in the database after a clean check.")
def verify_audit_command(batch: int, expected: tuple[str, ...], no_note: bool) -> None:
    """Walk every clinic's hash chain of audit rows and report any row changed, removed or inserted since it was
    written, and any chain cut back behind a head noted earlier (in the database by this command and by the worker,
    or given with --expect). After a clean check the heads are noted, and printed as --expect arguments: keep them
    outside the database to catch a truncation that also removed the notes. Exits 1 when something is wrong."""
    from tracker.auditchain import Noted, check_noted, note_heads, verify
    from tracker.models.base import utcnow

    try:
        wanted = [Noted.parse(text) for text in expected]
    except ValueError as error:
        raise click.UsageError(f"--expect takes CHAIN:SEQ:HASH as printed by an earlier run ({error}).") from None
    reports = verify(db.session, batch)
    problems = [problem for report in reports for problem in report.problems] + check_noted(db.session, wanted)
    for problem in problems:
        click.echo(str(problem))
    for report in reports:
        name = f"clinic {report.chain}" if report.chain else "no clinic"
        click.echo(f"Chain {report.chain} ({name}): {report.rows} rows, head {report.head_seq} {report.head_hash}")
    click.echo(
        f"Checked {sum(r.rows for r in reports)} audit rows in {len(reports)} chains: {len(problems)} problem(s)."
    )
    if problems:
        raise SystemExit(1)
    if not no_note:
        note_heads(db.session, utcnow())
        db.session.commit()
    heads = " ".join(f"--expect {r.chain}:{r.head_seq}:{r.head_hash}" for r in reports if r.head_seq)
    click.echo(f"Keep for the next run: {heads}")


@audit_group.command("unknown-names")
@click.option("--days", default=7, show_default=True, help="How many last days.")
@click.option("--limit", default=50, show_default=True, help="How many of the newest to list.")
def unknown_names_command(days: int, limit: int) -> None:
    """Failed sign-ins with an account name nobody has, for the server's operator only (they belong to no clinic, so
    no clinic's admin sees them): how many, and the newest with their time (UTC) and address. Many from one address
    suggest someone guessing names. What was typed is never kept."""
    from datetime import timedelta

    from tracker.auditlog.trail import unknown_name_failures
    from tracker.models.base import utcnow

    total, latest = unknown_name_failures(utcnow() - timedelta(days=days), limit)
    click.echo(f"Failed sign-ins with an account name nobody has, last {days} days: {total}")
    for event in latest:
        click.echo(f"  {event.created_at:%Y-%m-%d %H:%M:%S} UTC from {event.ip or 'an unknown address'}")


@click.command("backup")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the copy (default: instance/backups/tracker-DATE-TIME.sqlite).",
)
def backup_command(output: Path | None) -> None:
    """Copy the SQLite database while it is in use (SQLite's online backup API) and check the copy. For
    PostgreSQL use pg_dump (README, Backups)."""
    from flask import current_app

    from tracker.backup import BackupError, back_up, default_target
    from tracker.models.base import utcnow

    target = output or default_target(Path(current_app.instance_path) / "backups", utcnow())
    try:
        written = back_up(current_app.config["SQLALCHEMY_DATABASE_URI"], target)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Backed up to {written} (integrity check ok).")


@click.command("restore")
@click.argument("backup", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--keep-in",
    "keep_in",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the replaced database is copied first (default: instance/backups/).",
)
@click.confirmation_option(prompt="This replaces everything in the database. Are the web and worker stopped?")
def restore_command(backup: Path, keep_in: Path | None) -> None:
    """Replace the SQLite database with BACKUP: checked first (a sound tracker database at this release's
    migration), the current database copied to instance/backups/ first, refused while the web processes or the
    worker run."""
    from flask import current_app

    from tracker.backup import BackupError, restore
    from tracker.extensions import db
    from tracker.health import migration_heads
    from tracker.models.base import utcnow

    heads = migration_heads()
    db.session.remove()
    db.engine.dispose()  # no pooled connection of ours keeps the old file's pages
    try:
        kept = restore(
            backup,
            current_app.config["SQLALCHEMY_DATABASE_URI"],
            heads,
            keep_in or Path(current_app.instance_path) / "backups",
            utcnow(),
            current_app.config["PROCESS_LOCK"],
        )
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    if kept is not None:
        click.echo(f"The database it replaced is kept in {kept}.")
    click.echo(f"Restored from {backup} (integrity check ok).")


#: How much lower the background worker's renderers' CPU priority is than the web's (``nice``: 0 to 19; a process at
#: 10 gets about a tenth of the processor time of one at 0 when both are busy: Linux sched(7), "nice value").
WORKER_NICENESS = 10


@click.command("worker")
@click.option("--threads", default=2, show_default=True, help="Tasks run at once (each batch renders in the pool).")
@click.option(
    "--niceness",
    default=WORKER_NICENESS,
    show_default=True,
    type=click.IntRange(0, 19),
    help="Lower CPU priority for the worker's renderers (0: the web's own).",
)
def worker_command(threads: int, niceness: int) -> None:
    """Run the background worker (batch reports and housekeeping) until stopped: SIGTERM stops at once, Ctrl-C
    after the running tasks. A job cut short is queued again by the housekeeping. The renderers it starts run at a
    lower CPU priority (``--niceness``), so a batch rendering on every core does not slow the pages clinicians are
    waiting for (the batch takes longer while the web is busy); the worker itself keeps the web's priority, since
    its short database writes take the same write lock as every sign-in (``renderer.set_niceness``)."""
    from flask import current_app

    from tracker.queue import run_worker
    from tracker.reports import renderer

    renderer.set_niceness(niceness)
    run_worker(current_app._get_current_object(), threads)  # type: ignore[attr-defined]


def init_app(app: Flask) -> None:
    app.cli.add_command(audit_group)
    app.cli.add_command(notes)
    app.cli.add_command(users)
    app.cli.add_command(reports)
    app.cli.add_command(patients)
    app.cli.add_command(fhir)
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(demo_accounts_command)
    app.cli.add_command(worker_command)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
