"""Requests that only read hold no write lock while they work; their audit rows are written when they commit, in a
short write transaction of their own; a change keeps its audit row in its own transaction (tracker/database.py).

The lock tests serve a real app on a fresh database and stop a page in the middle of its reads; meanwhile a second
connection that will not wait at all (SQLite ``busy_timeout`` 0) takes the write lock and commits. Seen failing (in
a scratch copy): with every transaction beginning IMMEDIATE again, that connection got "database is locked".
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import create_engine, func, select, update
from sqlalchemy.engine import make_url

from config import TestConfig
from tests.conftest import RequestClient, login
from tests.databases import fresh_database
from tests.reports_data import write_plan
from tracker import audit, create_app
from tracker.database import AppSession, WriteInReadRequest
from tracker.extensions import db
from tracker.factories import make_clinic, make_patient, make_user
from tracker.models import AuditEvent, Clinic, Role, User

# Reads done without the lock ------------------------------------------------------------------------------------


def write_without_waiting(url: str, clinic_id: int) -> None:
    """Take the write lock and commit, failing at once if anyone holds it (SQLite); a plain write on PostgreSQL."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        connection = sqlite3.connect(parsed.database or "", timeout=0, isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("UPDATE clinic SET phone = '0800 000' WHERE id = ?", (clinic_id,))
            connection.execute("COMMIT")
        finally:
            connection.close()
        return
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(update(Clinic).where(Clinic.id == clinic_id).values(phone="0800 000"))
    engine.dispose()


@pytest.fixture
def served(monkeypatch) -> Iterator[tuple[Flask, str, dict[str, int]]]:
    """A real app on a fresh database with one therapist and two patients with plans; yields (app, url, ids)."""
    with fresh_database() as url:
        app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url)
        app.test_client_class = RequestClient
        monkeypatch.setattr(db, "session", db._make_scoped_session({"class_": AppSession, "expire_on_commit": False}))
        with app.app_context():
            upgrade()
            clinic = make_clinic()
            lead = make_user(clinic, Role.THERAPIST)
            patients = [make_patient(lead, protocols=app.extensions["protocols"]) for _ in range(2)]
            for patient in patients:
                write_plan(patient, lead)
            db.session.commit()
            ids = {"clinic": clinic.id, "lead": lead.id, "first": patients[0].id, "second": patients[1].id}
            db.session.remove()
        yield app, url, ids
        with app.app_context():
            db.engine.dispose()


def stop_inside(monkeypatch, target: str) -> tuple[threading.Event, threading.Event]:
    """Make the function at ``module:name`` wait, once called, until released; returns (reached, release)."""
    module_name, name = target.split(":")
    module = __import__(module_name, fromlist=[name])
    real: Callable[..., Any] = getattr(module, name)
    reached, release = threading.Event(), threading.Event()

    def waiting(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        reached.set()
        assert release.wait(20), "never released"
        return result

    monkeypatch.setattr(module, name, waiting)
    return reached, release


@pytest.mark.parametrize(
    "method,path,stop",
    [
        ("GET", "/patients/", "tracker.patients.views:patients_with_open_alerts"),
        ("GET", "/patients/{first}", "tracker.patients.page:patient_sessions"),
        ("POST", "/reports/batch", "tracker.reports.exports:plan_documents"),
    ],
    ids=["patient list", "patient page", "batch of reports"],
)
def test_a_page_reading_holds_no_write_lock_and_audits_when_it_commits(served, monkeypatch, method, path, stop):
    app, url, ids = served
    reached, release = stop_inside(monkeypatch, stop)
    client = app.test_client()
    with app.app_context():
        lead = db.session.get(User, ids["lead"])
        login(client, lead)
        before = db.session.scalar(select(func.count()).select_from(AuditEvent))
        db.session.remove()
    answer: dict[str, Any] = {}
    form = {"kind": "plan", "selection": "ticked", "patient_ids": [str(ids["first"]), str(ids["second"])], "draft": "0"}

    def ask() -> None:
        response = client.open(path.format(**ids), method=method, data=form if method == "POST" else None)
        answer["status"] = response.status_code

    thread = threading.Thread(target=ask)
    thread.start()
    try:
        assert reached.wait(20), "the page never reached its reads"
        write_without_waiting(url, ids["clinic"])  # would raise "database is locked" if the page held the lock
    finally:
        release.set()
        thread.join(60)
    assert answer["status"] == 200
    with app.app_context():
        after = db.session.scalar(select(func.count()).select_from(AuditEvent))
        db.session.remove()
    assert after > before  # the page's audit row was written, in its own write transaction


# The session's rules, inside the suite's per-test transaction ----------------------------------------------------


def test_audit_rows_of_a_read_wait_for_the_commit(app, people):
    with app.test_request_context("/patients/", method="GET"):
        db.session.scalar(select(Clinic.id))  # the read transaction begins
        audit.record(people.lead, "patient.list", "Listed 0 patients")
        assert not db.session.new  # held back: an autoflush would need the write lock in the middle of the reads
        db.session.commit()
    assert db.session.scalar(select(func.count()).where(AuditEvent.action == "patient.list")) == 1


def test_audit_rows_of_a_read_are_dropped_with_a_rollback(app, people):
    with app.test_request_context("/patients/", method="GET"):
        db.session.scalar(select(Clinic.id))
        audit.record(people.lead, "patient.list", "Listed 0 patients")
        db.session.rollback()
        db.session.commit()
    assert db.session.scalar(select(func.count()).where(AuditEvent.action == "patient.list")) == 0


def test_a_change_and_its_audit_row_share_one_transaction(app, people):
    with app.test_request_context("/patients/1/edit", method="POST"):
        people.patient.phone = "0800 123"
        event = audit.record(people.lead, "patient.updated", "Changed the phone", patient=people.patient)
        assert event in db.session.new  # flushed with the change, so both commit or neither
        db.session.rollback()
    assert db.session.scalar(select(func.count()).where(AuditEvent.action == "patient.updated")) == 0


def test_a_read_request_that_changes_a_row_fails_loudly(app, people):
    with app.test_request_context("/patients/", method="GET"):
        db.session.scalar(select(Clinic.id))  # the read transaction begins
        people.patient.phone = "0800 999"
        with pytest.raises(WriteInReadRequest, match="Patient"):
            db.session.flush()
        db.session.rollback()


def test_the_batch_post_is_a_read_and_a_form_post_is_a_write(app):
    from tracker.database import in_read_request

    with app.test_request_context("/reports/batch", method="POST"):
        assert in_read_request()
    with app.test_request_context("/patients/1/edit", method="POST"):
        assert not in_read_request()
    with app.test_request_context("/patients/", method="GET"):
        assert in_read_request()
    assert not in_read_request()  # CLI, worker, scripts: always a write transaction
