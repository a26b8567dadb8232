"""The clinic overview counting its figures again never fails the page for want of a lock: two views counting at once
both answer (one kept row, the later one's), a view whose keeping cannot have the write lock shows what it counted
and keeps nothing, and a view whose counting the database refuses shows the kept figures however old.

The two lock tests serve a real app on a fresh database (real commits from several connections), on SQLite and on
the PostgreSQL server of ``TEST_DATABASE_URL``. Seen failing before ``overview.figures`` caught the lock error: the
locked view answered 503 ("The record is busy"), as one view did in a load test's server log.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from config import TestConfig
from tests.conftest import RequestClient, login
from tests.databases import fresh_database
from tracker import create_app
from tracker.dashboard import overview
from tracker.database import AppSession
from tracker.extensions import db
from tracker.factories import make_clinic, make_patient, make_user
from tracker.models import ClinicOverview, Role, User
from tracker.models.base import utcnow


def preparing(html: str) -> int:
    """MDMA patients in preparation, as the overview counts them."""
    table = html.split('id="phase-protocol"', 1)[1]
    match = re.search(r"MDMA[^<]*</th>\s*<td[^>]*>(\d+)</td>", table)
    assert match, "no MDMA row on the overview"
    return int(match.group(1))


@pytest.fixture
def served(monkeypatch) -> Iterator[tuple[Flask, str, dict[str, int]]]:
    """A real app on a fresh database: a supervisor, their therapist and one patient; yields (app, url, ids)."""
    with fresh_database() as url:
        app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url)
        app.test_client_class = RequestClient
        monkeypatch.setattr(db, "session", db._make_scoped_session({"class_": AppSession, "expire_on_commit": False}))
        with app.app_context():
            upgrade()
            clinic = make_clinic()
            supervisor = make_user(clinic, Role.SUPERVISOR)
            lead = make_user(clinic, Role.THERAPIST, supervisor=supervisor)
            make_patient(lead, protocols=app.extensions["protocols"])
            db.session.commit()
            ids = {"clinic": clinic.id, "supervisor": supervisor.id, "lead": lead.id}
            db.session.remove()
        yield app, url, ids
        with app.app_context():
            db.engine.dispose()


def signed_in(app: Flask, user_id: int) -> Any:
    client = app.test_client()
    with app.app_context():
        login(client, db.session.get(User, user_id))
        db.session.remove()
    return client


def kept_row(app: Flask) -> tuple[int, Any]:
    with app.app_context():
        rows = db.session.execute(select(func.count(), func.max(ClinicOverview.computed_at))).one()
        db.session.remove()
    return rows[0], rows[1]


def test_two_views_counting_at_once_both_answer_and_keep_one_row(served, monkeypatch):
    app, _url, ids = served
    both = threading.Barrier(2, timeout=20)
    real: Callable[..., overview.Snapshot] = overview.snapshot

    def counted_together(*args: Any, **kwargs: Any) -> overview.Snapshot:
        found = real(*args, **kwargs)
        both.wait()  # neither keeps its figures before the other has counted: both write the row
        return found

    monkeypatch.setattr(overview, "snapshot", counted_together)
    clients = [signed_in(app, ids["supervisor"]) for _ in range(2)]
    statuses: list[int] = []

    def view(client: Any) -> None:
        statuses.append(client.get("/overview").status_code)

    threads = [threading.Thread(target=view, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert statuses == [200, 200]
    assert kept_row(app)[0] == 1


def hold_write_lock(url: str, clinic_id: int) -> Callable[[], None]:
    """Take the lock a recount's keeping needs (SQLite's write lock; on PostgreSQL the kept row's lock) and hold it
    until the returned function is called."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        connection = sqlite3.connect(parsed.database or "", timeout=0, isolation_level=None, check_same_thread=False)
        connection.execute("BEGIN IMMEDIATE")

        def release_sqlite() -> None:
            connection.execute("ROLLBACK")
            connection.close()

        return release_sqlite
    engine = create_engine(url)
    held = engine.connect()
    held.execute(text("SELECT clinic_id FROM clinic_overview WHERE clinic_id = :id FOR UPDATE"), {"id": clinic_id})

    def release_postgresql() -> None:
        held.rollback()
        held.close()
        engine.dispose()

    return release_postgresql


def test_a_recount_that_cannot_keep_its_figures_shows_them_and_keeps_nothing(served, monkeypatch):
    app, url, ids = served
    client = signed_in(app, ids["supervisor"])
    first = client.get("/overview")
    assert first.status_code == 200
    _, computed = kept_row(app)
    with app.app_context():
        lead = db.session.get(User, ids["lead"])
        make_patient(lead, protocols=app.extensions["protocols"])
        db.session.commit()
        db.session.remove()
    held: list[Callable[[], None]] = []
    released = threading.Event()
    real_snapshot, real_reason = overview.snapshot, overview._reason

    def counted_then_locked(*args: Any, **kwargs: Any) -> overview.Snapshot:
        found = real_snapshot(*args, **kwargs)
        held.append(hold_write_lock(url, ids["clinic"]))  # someone else writes just as this view would keep
        return found

    def reason_then_release(error: OperationalError) -> str:
        # The keeping has given up: let go of the lock, so the page's own audit row can be written (a read is
        # audited, and that write waits for the lock as every write does).
        held.pop()()
        released.set()
        return real_reason(error)

    monkeypatch.setattr(overview, "snapshot", counted_then_locked)
    monkeypatch.setattr(overview, "_reason", reason_then_release)
    try:
        with time_machine.travel(utcnow() + timedelta(minutes=6), tick=True):
            page = client.get("/overview")
    finally:
        for release in held:
            release()
    assert released.is_set(), "the keeping never waited for the lock"
    assert page.status_code == 200
    assert preparing(page.text) == preparing(first.text) + 1  # counted now
    assert kept_row(app) == (1, computed)  # and not kept: the row is the first view's


def test_a_recount_the_database_refuses_shows_the_kept_figures(client, people, monkeypatch):
    login(client, people.supervisor)
    first = client.get("/overview")
    computed = db.session.scalar(select(ClinicOverview.computed_at))

    def refused(*_args: Any, **_kwargs: Any) -> overview.Snapshot:
        raise OperationalError("SELECT ...", {}, Exception("database is locked"))

    monkeypatch.setattr(overview, "snapshot", refused)
    with time_machine.travel(computed + timedelta(minutes=6), tick=False):
        page = client.get("/overview")
    assert page.status_code == 200
    assert preparing(page.text) == preparing(first.text)
    assert computed.strftime("%H:%M") in page.text  # the page says when the figures it shows were counted


def test_with_nothing_kept_a_refused_count_is_the_usual_503(client, people, monkeypatch):
    def refused(*_args: Any, **_kwargs: Any) -> overview.Snapshot:
        raise OperationalError("SELECT ...", {}, Exception("database is locked"))

    monkeypatch.setattr(overview, "snapshot", refused)
    login(client, people.supervisor)
    page = client.get("/overview")
    assert page.status_code == 503
    assert "SELECT" not in page.text


def test_an_audit_row_recorded_after_a_commit_inside_a_read_waits_for_the_write_step(app, people):
    """The overview's view commits in the middle of its request (keeping its figures), then audits the view: the
    audit row must still wait for the commit's write step, not be flushed in the next read snapshot, where its
    first write fails at once if anyone committed meanwhile (how the load test's one 503 came about)."""
    from tracker import audit
    from tracker.models import AuditEvent, Clinic

    with app.test_request_context("/overview", method="GET"):
        db.session.scalar(select(Clinic.id))  # the read transaction begins
        db.session.commit()  # as ``overview.figures`` does after keeping its figures
        event = audit.record(people.supervisor, "dashboard.overview", "Viewed the clinic overview (counts only)")
        assert event not in db.session.new  # held for the write step
        db.session.commit()
    assert db.session.scalar(select(func.count()).where(AuditEvent.action == "dashboard.overview")) == 1
