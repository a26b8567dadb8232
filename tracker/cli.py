"""Command-line tools: thin wrappers over the same services the pages use."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select

from tracker.admin.services import AccountDetails, AccountError, create_user
from tracker.demo import CLINICS, DEMO_PASSWORD, DEMO_STAFF, seed_demo
from tracker.extensions import db
from tracker.models import Clinic, Role

users = AppGroup("users", help="Manage staff accounts.")


@users.command("create")
@click.argument("username")
@click.option("--name", "full_name", required=True, help="The person's full name.")
@click.option("--clinic", "clinic_name", required=True, help="Clinic name; created if it does not exist.")
@click.option(
    "--role", "roles", multiple=True, required=True, type=click.Choice([r.value for r in Role]),
    help="Repeat for several roles.",
)
@click.option("--supervisor", "supervisor_username", default=None, help="Username of the therapist's supervisor.")
@click.password_option("--password", help="At least 12 characters; prompted for when not given.")
def create_user_command(
    username: str, full_name: str, clinic_name: str, roles: tuple[str, ...], supervisor_username: str | None,
    password: str,
) -> None:
    """Create a staff account (the first admin of a new deployment is made this way)."""
    from tracker.models import User

    clinic = db.session.scalar(select(Clinic).where(Clinic.name == clinic_name))
    if clinic is None:
        clinic = Clinic(name=clinic_name)
        db.session.add(clinic)
        db.session.flush()
    supervisor_id = None
    if supervisor_username:
        supervisor_id = db.session.scalar(select(User.id).where(User.username == supervisor_username.casefold()))
        if supervisor_id is None:
            raise click.UsageError(f"No account named {supervisor_username!r}.")
    details = AccountDetails(full_name, frozenset(Role(r) for r in roles), supervisor_id)
    try:
        user = create_user(None, clinic.id, username, password, details)
    except AccountError as error:
        raise click.UsageError(f"{error.field}: {error}") from None
    db.session.commit()
    click.echo(f"Created {user.username} ({', '.join(sorted(roles))}) in {clinic.name}.")


@click.command("seed-demo")
def seed_demo_command() -> None:
    """Load two demo clinics with staff and patients (does nothing if they are already there)."""
    if seed_demo(current_app.extensions["protocols"]):
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


def init_app(app: Flask) -> None:
    app.cli.add_command(users)
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(demo_accounts_command)
