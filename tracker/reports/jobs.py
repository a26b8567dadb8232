"""Background jobs kept in the memory of this process: a batch of PDFs rendered by the pool, or any other task
(the FHIR bulk export), while the browser polls.

A job belongs to the user who started it (anyone else gets 404), expires ``JOB_TTL`` after it was started, and its
output lives only here (never on disk) until downloaded. This assumes one web process, as ``make run`` serves; a
deployment with several processes needs sticky sessions or a shared job store (README, "Reports").
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from tracker.models.base import utcnow
from tracker.reports import renderer

JOB_TTL = timedelta(minutes=15)
MAX_JOBS_PER_USER = 3


@dataclass
class Job:
    id: str
    user_id: int
    total: int
    filename: str
    started_at: datetime
    done: int = 0
    #: The finished document (a PDF, a zip...), once ready.
    output: bytes | None = None
    error: str | None = None

    @property
    def ready(self) -> bool:
        return self.output is not None


_jobs: dict[str, Job] = {}
_lock = threading.Lock()


class TooManyJobs(Exception):
    pass


def _expire(now: datetime) -> None:
    for key in [k for k, job in _jobs.items() if now - job.started_at > JOB_TTL]:
        del _jobs[key]


def new_id() -> str:
    return secrets.token_urlsafe(12)


#: A job's work: given a callback for "this many done", it returns the finished document.
Task = Callable[[Callable[[int], None]], bytes]


def start_task(
    job_id: str, user_id: int, total: int, filename: str, task: Task, *, label: str = "PDF", inline: bool = False
) -> Job:
    """Run ``task`` in a background thread (or, with ``inline``, before returning: the test suite's single database
    connection cannot be shared with a thread).

    :raise TooManyJobs: the user already has ``MAX_JOBS_PER_USER`` jobs running or waiting to be downloaded.
    """
    now = utcnow()
    with _lock:
        _expire(now)
        if sum(1 for job in _jobs.values() if job.user_id == user_id) >= MAX_JOBS_PER_USER:
            raise TooManyJobs
        job = Job(job_id, user_id, total, filename, now)
        _jobs[job_id] = job

    def run() -> None:
        def tick(done: int) -> None:
            job.done = done

        try:
            job.output = task(tick)
        except Exception as error:  # reported to the user through the status endpoint
            job.error = f"The {label} could not be made ({type(error).__name__})."

    if inline:
        run()
    else:
        threading.Thread(target=run, name=f"job-{job_id[:6]}", daemon=True).start()
    return job


def start(job_id: str, user_id: int, documents: Sequence[str], filename: str, workers: int) -> Job:
    """Render ``documents`` into one PDF in a background thread (which only hands HTML to the pool: no database
    access). :raise TooManyJobs: as ``start_task``."""

    def render(tick: Callable[[int], None]) -> bytes:
        return renderer.merge(list(renderer.render_each(documents, workers, tick)))

    return start_task(job_id, user_id, len(documents), filename, render)


def get(job_id: str, user_id: int) -> Job | None:
    """The user's own job, if it exists and has not expired."""
    with _lock:
        _expire(utcnow())
        job = _jobs.get(job_id)
    return job if job is not None and job.user_id == user_id else None


def take(job_id: str, user_id: int) -> Job | None:
    """The user's finished job, removed from memory (a PDF is downloaded once)."""
    with _lock:
        job = _jobs.get(job_id)
        if job is None or job.user_id != user_id or not job.ready:
            return None
        return _jobs.pop(job_id)
