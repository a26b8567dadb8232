"""Test fixtures: one app and one migrated schema per run, a rolled-back transaction per test, personas per role.

The schema is built by running the migrations (never ``create_all``), so the tests exercise exactly what a
deployment gets, triggers included. Set ``TEST_DATABASE_URL`` to run the suite on PostgreSQL.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from flask_sqlalchemy.session import _app_ctx_id
from hypothesis import settings
from sqlalchemy import event, text, update
from sqlalchemy.orm import Session, scoped_session, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from config import TestConfig
from tests.databases import reset_database
from tracker import create_app
from tracker.auth import sessions
from tracker.database import PlainSession
from tracker.extensions import db
from tracker.factories import make_clinic, make_patient, make_user
from tracker.models import Clinic, Patient, Role, User
from tracker.models.base import utcnow

settings.register_profile("ci", max_examples=300, deadline=None, derandomize=True)
settings.register_profile("dev", max_examples=60, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

PASSWORD = "correct horse battery"

#: How long before the test the ``people`` fixture's patient was enrolled (within the dashboard's 30 days without a
#: session, so the patient raises no item for that).
ENROLLED_DAYS_AGO = 20


class RequestClient(FlaskClient):
    """A test client that gives each request its own app context, as a real server does.

    Without this, requests reuse the test's app context: they would share ``g`` and the test's database session,
    and an object the test loaded would hide a lazy load the page makes in production.
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite'}"
    reset_database(url)
    return url


@pytest.fixture(scope="session")
def app(database_url: str) -> Iterator[Flask]:
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=database_url)
    app.test_client_class = RequestClient
    app.jinja_env.undefined = __import__("jinja2").StrictUndefined
    with app.app_context():
        upgrade()
        db.engine.dispose()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _transaction(app: Flask) -> Iterator[None]:
    """Run each test inside one outer transaction that is rolled back; commits become savepoints."""
    with app.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
        original = db.session
        factory = sessionmaker(
            bind=connection, class_=PlainSession, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        db.session = scoped_session(factory, scopefunc=_app_ctx_id)
        try:
            yield
        finally:
            db.session.remove()
            db.session = original
            outer.rollback()
            connection.close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def csrf_app(app: Flask) -> Iterator[Flask]:
    """The same app with CSRF protection on, as in production."""
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        yield app
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


def login(client: FlaskClient, user: User) -> str:
    """Sign ``user`` in by opening a server-side session directly (the login form has tests of its own)."""
    token = sessions.start(db.session, user, "127.0.0.1", utcnow())
    db.session.commit()
    with client.session_transaction() as flask_session:
        flask_session["_user_id"] = token
        flask_session["_fresh"] = True
    return token


@dataclass
class Clinicians:
    """Personas around one patient: the care team, their supervisor, and people who must not see the patient."""

    clinic: Clinic
    supervisor: User
    lead: User
    co_therapist: User
    other_therapist: User
    other_supervisor: User
    admin: User
    outsider: User  # a supervisor-therapist of another clinic
    patient: Patient


@pytest.fixture
def protocols(app: Flask) -> dict[str, Any]:
    return app.extensions["protocols"]  # type: ignore[no-any-return]


@pytest.fixture
def people(protocols: dict[str, Any]) -> Clinicians:
    clinic = make_clinic()
    supervisor = make_user(clinic, Role.SUPERVISOR, full_name="Sue Pervisor")
    lead = make_user(clinic, Role.THERAPIST, supervisor=supervisor, full_name="Lena Lead")
    co = make_user(clinic, Role.THERAPIST, supervisor=supervisor, full_name="Cody Co")
    other_supervisor = make_user(clinic, Role.SUPERVISOR, full_name="Otto Othersup")
    other = make_user(clinic, Role.THERAPIST, supervisor=other_supervisor, full_name="Olga Other")
    admin = make_user(clinic, Role.ADMIN, full_name="Ada Admin")
    elsewhere = make_clinic()
    outsider = make_user(elsewhere, Role.THERAPIST, Role.SUPERVISOR, supervisor=None, full_name="Xavier Elsewhere")
    patient = make_patient(
        lead, co, protocols=protocols, given_name="Canary", family_name="Zzpatient", record_number="CANARY-1"
    )
    # Enrolled some days ago, so the sessions tests log hours or days back fall after the enrolment (a Core UPDATE:
    # the record stays at version 1, as a patient just enrolled is).
    enrolled = utcnow() - timedelta(days=ENROLLED_DAYS_AGO)
    db.session.execute(update(Patient).where(Patient.id == patient.id).values(created_at=enrolled))
    db.session.commit()
    set_committed_value(patient, "created_at", enrolled)  # no refresh: the test's first query begins its transaction
    return Clinicians(clinic, supervisor, lead, co, other, other_supervisor, admin, outsider, patient)


@contextlib.contextmanager
def count_queries() -> Iterator[list[str]]:
    """Collect the SQL statements run inside the block (SQLAlchemy's before_cursor_execute event:
    https://docs.sqlalchemy.org/en/20/core/events.html#sqlalchemy.events.ConnectionEvents.before_cursor_execute)."""
    statements: list[str] = []

    def before_cursor_execute(*args: Any) -> None:
        statements.append(args[2])

    event.listen(db.engine, "before_cursor_execute", before_cursor_execute)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", before_cursor_execute)


def audit_actions(session: Session | None = None) -> list[str]:
    rows = (session or db.session).execute(text("SELECT action FROM audit_event ORDER BY id"))
    return [row[0] for row in rows]
