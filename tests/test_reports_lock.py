"""Rendering holds no database lock: the request builds the HTML, writes its audit row and commits, and only then
hands the HTML to WeasyPrint. On SQLite every transaction begins IMMEDIATE (tracker/database.py), so a render inside
the transaction would keep every other writer waiting for half a second per PDF, or a whole batch.

The renderer is replaced by one that blocks until released; while it blocks, another connection writes and
commits at once. Seen failing (in a scratch copy): with the commit moved after the render, the write waited for the
busy timeout and the test failed on the elapsed time.
"""

from __future__ import annotations

import threading
import time

from flask_migrate import upgrade
from sqlalchemy import update

from config import TestConfig
from tests.conftest import RequestClient, login
from tests.databases import fresh_database
from tests.reports_data import write_plan
from tracker import create_app
from tracker.database import AppSession
from tracker.extensions import db
from tracker.factories import make_clinic, make_patient, make_user
from tracker.models import Clinic, Role
from tracker.reports import renderer


def test_another_writer_commits_while_a_report_renders(monkeypatch):
    real_render = renderer.render_pdf
    started, release = threading.Event(), threading.Event()

    def blocking_render(html: str) -> bytes:
        started.set()
        assert release.wait(20)
        return real_render(html)

    with fresh_database() as url:
        app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url)
        app.test_client_class = RequestClient
        # The suite's per-test fixture points the shared ``db.session`` at its own connection; this app gets its own.
        monkeypatch.setattr(db, "session", db._make_scoped_session({"class_": AppSession, "expire_on_commit": False}))
        monkeypatch.setattr(renderer, "render_pdf", blocking_render)
        client = app.test_client()
        with app.app_context():
            upgrade()
            clinic = make_clinic()
            lead = make_user(clinic, Role.THERAPIST)
            patient = make_patient(lead, protocols=app.extensions["protocols"])
            write_plan(patient, lead)
            db.session.commit()
            login(client, lead)
            patient_id, clinic_id = patient.id, clinic.id
            db.session.remove()
        answer: dict[str, object] = {}

        def request_report() -> None:
            response = client.get(f"/patients/{patient_id}/reports/plan.pdf")
            answer["status"], answer["body"] = response.status_code, response.data

        thread = threading.Thread(target=request_report)
        thread.start()
        try:
            assert started.wait(20), "the renderer was never called"
            with app.app_context():
                begun = time.monotonic()
                with db.engine.begin() as connection:  # BEGIN IMMEDIATE on SQLite: needs the write lock
                    connection.execute(update(Clinic).where(Clinic.id == clinic_id).values(phone="0800 000"))
                elapsed = time.monotonic() - begun
        finally:
            release.set()
            thread.join(30)
        assert elapsed < 1.0, f"the write waited {elapsed:.2f} s for the report's transaction"
        assert answer["status"] == 200
        assert bytes(answer["body"]).startswith(b"%PDF")  # type: ignore[arg-type]
        with app.app_context():
            db.engine.dispose()
