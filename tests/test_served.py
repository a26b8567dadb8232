"""The app served the production way: gunicorn with four sync workers, the background worker, and the queue on a
SQLite file (one machine) or on a real Redis server (several hosts), on SQLite or on PostgreSQL.

- A batch started through one worker is polled and downloaded through others: the worker that started it is
  killed (SIGKILL) straight after, so everything after goes to other processes.
- While the batch renders, other pages keep answering 200 (no "database is locked").
- The per-account sign-in limit counts across workers: 30 simultaneous wrong passwords for one account are spread
  over the workers, and exactly 5 are checked; failures from this one address do not stop a colleague's sign-in.

Seen failing before this design (issue 13's report): polls on another worker answered 404 (jobs in one process's
memory), and 20 of 30 guesses got through the per-account limit (a counter per process).
The figures go to stdout (shown with ``-s``); CI's junit report uses xunit2, which has no properties.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from io import BytesIO
from pathlib import Path

import pytest
from flask_migrate import upgrade
from pypdf import PdfReader
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from config import TestConfig
from tests.databases import fresh_database
from tests.reports_data import write_plan
from tests.served import SECRET, Client, redis_server, serve
from tracker import create_app
from tracker.auth import throttle
from tracker.database import AppSession
from tracker.extensions import db
from tracker.factories import make_clinic, make_patient, make_user
from tracker.models import AuditEvent, LoginThrottle, Role

PASSWORD = "correct horse battery staple"
PATIENTS = 12
GUESSES = 30


@pytest.fixture(params=["sqlite-file", "redis"])
def queue_url(request, tmp_path) -> object:
    if request.param == "sqlite-file":
        yield f"sqlite:///{tmp_path / 'queue.sqlite'}"
        return
    with redis_server(tmp_path) as url:
        yield url


@pytest.fixture
def clinic_db(monkeypatch) -> object:
    """A fresh, migrated database with a therapist, a co-therapist and ``PATIENTS`` patients with plans."""
    with fresh_database() as url:
        app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url)
        monkeypatch.setattr(db, "session", db._make_scoped_session({"class_": AppSession, "expire_on_commit": False}))
        with app.app_context():
            upgrade()
            clinic = make_clinic("Served Clinic")
            lead = make_user(clinic, Role.THERAPIST, username="served.lead", password=PASSWORD)
            co = make_user(clinic, Role.THERAPIST, username="served.co", password=PASSWORD)
            ids = []
            for _ in range(PATIENTS):
                patient = make_patient(lead, co, protocols=app.extensions["protocols"])
                write_plan(patient, lead)
                ids.append(patient.id)
            db.session.commit()
            db.session.remove()
            db.engine.dispose()
        yield url, app, ids
        with app.app_context():
            db.engine.dispose()


def test_several_workers_share_jobs_and_throttles(clinic_db, queue_url, tmp_path):
    url, app, ids = clinic_db
    figures: dict[str, object] = {
        "database": make_url(url).get_backend_name(),
        "queue": str(queue_url).split(":", 1)[0],
    }
    with serve(url, str(queue_url), tmp_path, workers=4) as served:
        lead = Client(served)
        assert lead.login("served.lead", PASSWORD).status == 302

        # A batch started through one worker, whose process is then killed.
        token = lead.csrf("/reports/batch")
        started = lead.request(
            "POST",
            "/reports/batch/jobs",
            form={
                "kind": "plan",
                "selection": "ticked",
                "patient_ids": [str(i) for i in ids],
                "draft": "0",
                "csrf_token": token,
            },
        )
        assert started.status == 202, started.text[:500]
        job = started.json()
        begun = time.monotonic()
        starter = served.pids_by_request()[started.request_id]
        os.kill(starter, signal.SIGKILL)

        # Meanwhile other pages answer, and another user cannot see the job.
        co = Client(served)
        assert co.login("served.co", PASSWORD).status == 302
        assert co.get(str(job["status_url"])).status == 404
        with ThreadPoolExecutor(4) as pool:
            pages = list(pool.map(lambda _: lead.get("/patients/").status, range(16)))
        assert pages == [200] * 16, Counter(pages)

        polls: list[tuple[int, str]] = []
        state: dict[str, object] = {}
        deadline = time.monotonic() + 180  # a bound for a broken run; the batch takes a few seconds
        while time.monotonic() < deadline:
            answer = lead.get(str(job["status_url"]))
            assert answer.status == 200, (answer.status, answer.text[:300])
            polls.append((answer.status, answer.request_id))
            state = answer.json()
            if state["ready"] or state["error"]:
                break
            time.sleep(0.05)
        figures["batch_seconds"] = round(time.monotonic() - begun, 1)
        assert state["ready"] is True, state
        assert co.get(str(job["download_url"])).status == 404  # not the owner
        download = lead.get(str(job["download_url"]))
        assert download.status == 200 and download.headers["content-type"] == "application/pdf"
        assert len(PdfReader(BytesIO(download.body)).pages) == PATIENTS
        assert lead.get(str(job["download_url"])).status == 404  # once

        pids = served.pids_by_request()
        poll_pids = {pids[rid] for _, rid in polls}
        assert starter not in poll_pids and pids[download.request_id] != starter
        figures.update(
            batch_patients=PATIENTS,
            polls=len(polls),
            poll_workers=len(poll_pids),
            other_pages_ok=len(pages),
            download_worker_differs=True,
        )

        # The sign-in limit across workers: 30 simultaneous wrong passwords for one account.
        guessers = [Client(served) for _ in range(GUESSES)]
        tokens = [guesser.csrf("/login") for guesser in guessers]

        def guess(n: int) -> tuple[int, str]:
            answer = guessers[n].request(
                "POST",
                "/login",
                form={
                    "username": "served.co",
                    "password": f"wrong guess {n:04d}",
                    "csrf_token": tokens[n],
                    "next": "",
                },
            )
            return answer.status, answer.request_id

        with ThreadPoolExecutor(8) as pool:
            guesses = list(pool.map(guess, range(GUESSES)))
        statuses = Counter(status for status, _ in guesses)
        guess_pids = {served.pids_by_request()[rid] for _, rid in guesses}
        assert statuses == {401: 5, 429: GUESSES - 5}, statuses
        assert len(guess_pids) >= 2
        assert Client(served).login("served.co", PASSWORD).status == 429  # the account waits, right password or not
        assert Client(served).login("served.lead", PASSWORD).status == 302  # a colleague at the same address does not
        figures.update(
            guesses=GUESSES, guesses_checked=statuses[401], guesses_refused=statuses[429], guess_workers=len(guess_pids)
        )

    with app.app_context():
        counted = db.session.scalar(
            select(LoginThrottle.failures).where(LoginThrottle.key == throttle.hashed("account:served.co", SECRET))
        )
        throttled = db.session.scalar(select(func.count()).where(AuditEvent.action == "auth.login_throttled"))
        db.session.remove()
    assert counted == GUESSES + 1 and throttled == GUESSES + 1 - 5
    print("\nserved figures:", figures)


def test_the_served_app_refuses_what_production_must_refuse(tmp_path):
    """Production is chosen explicitly: gunicorn without TRACKER_ENV does not fall back to development."""
    import subprocess
    import sys

    from tests.live import ROOT

    env = {k: v for k, v in os.environ.items() if k not in ("TRACKER_ENV", "TEST_DATABASE_URL")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'x.sqlite'}"
    result = subprocess.run(
        [sys.executable, "-c", "import tracker; tracker.create_app()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and "TRACKER_ENV is not set, but this looks like a deployment" in result.stderr
    assert Path(ROOT / "gunicorn.conf.py").exists()
