"""Batch jobs in the database: owner only, expiry, the PDF handed over once and then deleted, housekeeping that
deletes expired jobs and queues again the jobs whose worker died, a run that was replaced stopping, and the queue
setting. (The suite's queue runs a task at once; tests/test_served.py runs the real worker.)"""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from config import ImproperlyConfigured
from tests.conftest import login
from tests.test_reports_batch import caseload, ticked  # noqa: F401 - the fixture
from tracker import queue
from tracker.extensions import db
from tracker.models import AuditEvent, JobStatus, ReportJob, ReportJobDocument
from tracker.models.base import utcnow
from tracker.reports import jobs


@pytest.fixture
def not_run(monkeypatch):
    """Queue nothing: the job stays as the request left it, as if no worker were running."""
    queued: list[str] = []
    monkeypatch.setattr(jobs, "start", queued.append)
    return queued


def _start(client, caseload) -> dict:  # noqa: F811
    response = client.post("/reports/batch/jobs", data=ticked([p.id for p in caseload]))
    assert response.status_code == 202, response.text
    return response.get_json()


def _job() -> ReportJob:
    return db.session.scalars(select(ReportJob).execution_options(populate_existing=True)).one()


def test_the_job_its_documents_and_its_pdf_live_in_the_database(client, people, caseload):  # noqa: F811
    login(client, people.lead)
    job = _start(client, caseload)
    row = _job()
    assert row.status is JobStatus.READY and row.user_id == people.lead.id and row.attempts == 1
    assert row.output is not None and row.output.startswith(b"%PDF")
    assert db.session.scalar(select(func.count()).select_from(ReportJobDocument)) == 0  # rendered: deleted
    assert client.get(job["download_url"]).status_code == 200
    row = _job()
    assert row.status is JobStatus.TAKEN and row.output is None  # handed over once, then gone
    assert client.get(job["status_url"]).status_code == 404


def test_a_queued_job_waits_with_its_documents(client, people, caseload, not_run):  # noqa: F811
    login(client, people.lead)
    job = _start(client, caseload)
    assert not_run == [job["status_url"].rsplit("/", 1)[1]]
    assert client.get(job["status_url"]).get_json() == {"done": 0, "total": 4, "ready": False, "error": None}
    assert client.get(job["download_url"]).status_code == 404  # not ready yet
    assert db.session.scalar(select(func.count()).select_from(ReportJobDocument)) == 4


def test_a_job_expires_for_everyone_and_housekeeping_deletes_it(client, people, caseload):  # noqa: F811
    login(client, people.lead)
    job = _start(client, caseload)
    with time_machine.travel(utcnow() + jobs.JOB_TTL + timedelta(seconds=1)):
        login(client, people.lead)
        assert client.get(job["status_url"]).status_code == 404
        assert client.get(job["download_url"]).status_code == 404
        jobs.tidy_jobs()
    assert db.session.scalar(select(func.count()).select_from(ReportJob)) == 0


def test_a_job_whose_worker_died_is_queued_again_and_finishes(client, people, caseload, monkeypatch):  # noqa: F811
    login(client, people.lead)
    queued: list[str] = []
    monkeypatch.setattr(jobs, "start", queued.append)
    job = _start(client, caseload)
    row = _job()
    row.status, row.attempts, row.claim, row.heartbeat_at = JobStatus.RUNNING, 1, "dead-run", utcnow()
    db.session.commit()
    jobs.tidy_jobs()  # still fresh: left alone
    assert _job().status is JobStatus.RUNNING
    with time_machine.travel(utcnow() + jobs.STALE_AFTER + timedelta(seconds=1)):
        jobs.tidy_jobs()  # quiet too long: queued again, and run at once by the suite's queue
    row = _job()
    assert row.status is JobStatus.READY and row.attempts == 2
    login(client, people.lead)
    assert client.get(job["download_url"]).status_code == 200


def test_a_job_that_keeps_losing_its_worker_fails_with_a_message(client, people, caseload, not_run):  # noqa: F811
    login(client, people.lead)
    job = _start(client, caseload)
    row = _job()
    row.status, row.attempts, row.heartbeat_at = JobStatus.RUNNING, jobs.MAX_ATTEMPTS, utcnow()
    db.session.commit()
    with time_machine.travel(utcnow() + jobs.STALE_AFTER + timedelta(seconds=1)):
        jobs.tidy_jobs()
        login(client, people.lead)
        state = client.get(job["status_url"]).get_json()
    assert state["ready"] is False and "worker stopped" in state["error"]


def test_a_run_that_was_replaced_stops_without_writing(client, people, caseload, not_run, monkeypatch):  # noqa: F811
    login(client, people.lead)
    _start(client, caseload)
    real_step = jobs._step

    def takeover_then_step(job_id, claim, **values):
        db.session.execute(ReportJob.__table__.update().values(claim="another-run"))  # another run claimed it
        return real_step(job_id, claim, **values)

    monkeypatch.setattr(jobs, "_step", takeover_then_step)
    jobs.render_batch(_job().id)
    row = _job()
    assert row.status is JobStatus.RUNNING and row.output is None and row.done == 0


def test_a_failed_render_is_reported_to_the_user(client, people, caseload, monkeypatch):  # noqa: F811
    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(jobs.renderer, "merge", broken)
    login(client, people.lead)
    job = _start(client, caseload)
    state = client.get(job["status_url"]).get_json()
    assert state == {"done": 4, "total": 4, "ready": False, "error": "The PDF could not be made (OSError)."}


def test_a_user_has_at_most_three_batches_at_once(client, people, caseload, not_run):  # noqa: F811
    login(client, people.lead)
    for _ in range(jobs.MAX_JOBS_PER_USER):
        _start(client, caseload)
    refused = client.post("/reports/batch/jobs", data=ticked([caseload[0].id]))
    assert refused.status_code == 429 and "3 batches in progress" in refused.get_json()["error"]
    login(client, people.co_therapist)  # someone else is not held up by it
    assert client.post("/reports/batch/jobs", data=ticked([caseload[0].id])).status_code == 202


def test_the_limit_holds_when_parallel_requests_each_saw_room_in_their_snapshot(
    client,
    people,
    caseload,  # noqa: F811
    not_run,
    monkeypatch,
):
    """Parallel requests of one user each check the limit on their own read snapshot and all see room; the check
    made again where the job is written refuses the one too many, and writes nothing of it (no job, no audit)."""
    login(client, people.lead)
    for _ in range(jobs.MAX_JOBS_PER_USER):
        _start(client, caseload)
    real, calls = jobs.check_room, []

    def stale_first(*args, **kwargs):  # the request's early check saw the snapshot before the others committed
        calls.append(1)
        if len(calls) > 1:
            real(*args, **kwargs)

    monkeypatch.setattr(jobs, "check_room", stale_first)
    printed = db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action.like("report.%")))
    refused = client.post("/reports/batch/jobs", data=ticked([caseload[0].id]))
    assert refused.status_code == 429 and "3 batches in progress" in refused.get_json()["error"]
    assert len(calls) == 2
    assert db.session.scalar(select(func.count()).select_from(ReportJob)) == jobs.MAX_JOBS_PER_USER
    assert (
        db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action.like("report.%")))
        == printed
    )


def test_an_unreachable_queue_still_records_the_job_for_the_housekeeping(client, people, caseload, monkeypatch):  # noqa: F811
    def down(job_id: str) -> None:
        raise ConnectionError("queue down")

    monkeypatch.setattr(jobs, "start", down)
    login(client, people.lead)
    job = _start(client, caseload)
    assert _job().status is JobStatus.QUEUED
    monkeypatch.undo()
    with time_machine.travel(utcnow() + jobs.STALE_AFTER + timedelta(seconds=1)):
        jobs.tidy_jobs()
    assert _job().status is JobStatus.READY
    assert client.get(job["download_url"]).status_code == 200


@pytest.mark.parametrize(
    "url,kind",
    [
        ("sqlite:////tmp/queue.sqlite", "SqliteHuey"),
        ("redis://127.0.0.1:6379/0", "RedisHuey"),
        ("memory://", "MemoryHuey"),
    ],
)
def test_one_setting_chooses_the_queue(url, kind):
    assert type(queue.make_huey(url)).__name__ == kind


@pytest.mark.parametrize("url", ["amqp://broker", "sqlite://relative", "queue.sqlite"])
def test_an_unknown_queue_is_refused_at_start_up(url):
    with pytest.raises(ImproperlyConfigured, match="JOB_QUEUE_URL"):
        queue.make_huey(url)


def test_the_worker_renders_at_a_lower_cpu_priority_than_the_web(app, monkeypatch):
    """The renderers give way to the web; the worker itself does not (its writes take SQLite's one write lock, and
    a starved holder of it made sign-ins wait past the busy timeout under load)."""
    import os

    from tracker.reports import renderer

    calls: list[object] = []
    monkeypatch.setattr(os, "nice", lambda step: calls.append(("nice", step)))
    monkeypatch.setattr(renderer, "_niceness", 0)
    monkeypatch.setattr("tracker.queue.run_worker", lambda application, threads: calls.append(("run", threads)))
    assert app.test_cli_runner().invoke(args=["worker"]).exit_code == 0
    assert calls == [("run", 2)]  # the worker's own priority is left alone
    assert renderer._niceness == 10  # set before the renderers start
    monkeypatch.setattr(renderer, "render_pdf", lambda html: b"")
    calls.clear()
    renderer._start_worker(renderer._niceness)  # what each renderer runs first
    assert calls == [("nice", 10)]
    assert app.test_cli_runner().invoke(args=["worker", "--niceness", "0"]).exit_code == 0
    assert renderer._niceness == 0
    assert app.test_cli_runner().invoke(args=["worker", "--niceness", "25"]).exit_code == 2
