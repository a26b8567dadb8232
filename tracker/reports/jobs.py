"""Background jobs a user waits for: a batch of PDF reports, or a clinic's FHIR export. The request records the job
(for a batch, with its documents, built and audited there); the worker does the work; the browser polls, then
downloads the output once.

The job record, its documents and the finished output live in the database, so every web process and every worker
sees them and a restart loses nothing. A job belongs to the user who started it (anyone else gets the same 404 as
for a job that never existed), and expires ``JOB_TTL`` after it was started, when the housekeeping task deletes it
with its output. A job whose worker died (or whose queue message was lost) is queued again by the housekeeping,
up to ``MAX_ATTEMPTS`` runs; each run claims the job, so a run that has been replaced stops at its next step.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.orm import Session

from tracker.database import AnySession, add_on_commit
from tracker.extensions import db
from tracker.models import JobKind, JobStatus, ReportJob, ReportJobDocument, User
from tracker.models.base import utcnow
from tracker.queue import background_task, enqueue, every_minute
from tracker.reports import renderer

log = logging.getLogger(__name__)

JOB_TTL = timedelta(minutes=15)
MAX_JOBS_PER_USER = 3
#: A running job with no progress for this long is taken to have lost its worker (above the renderer's per-document
#: timeout, so a slow document is not mistaken for a dead worker).
STALE_AFTER = timedelta(seconds=renderer.RENDER_TIMEOUT_SECONDS + 30)
MAX_ATTEMPTS = 3

_OPEN = (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.READY)


class TooManyJobs(Exception):
    pass


class Superseded(Exception):
    """Another run has claimed the job (this one was taken for dead); stop quietly."""


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    status: JobStatus
    error: str | None

    @property
    def ready(self) -> bool:
        return self.status is JobStatus.READY


def new_id() -> str:
    return secrets.token_urlsafe(16)


def _alive(now: datetime) -> ColumnElement[bool]:
    return ReportJob.created_at > now - JOB_TTL


def check_room(db: AnySession, user_id: int, now: datetime) -> None:
    """:raise TooManyJobs: the user already has ``MAX_JOBS_PER_USER`` batches in progress or waiting for download."""
    count = db.scalar(
        select(func.count()).where(ReportJob.user_id == user_id, ReportJob.status.in_(_OPEN), _alive(now))
    )
    if (count or 0) >= MAX_JOBS_PER_USER:
        raise TooManyJobs


def _room_when_written(user_id: int) -> Callable[[Session], None]:
    """``check_room`` again in the transaction that writes the job: the first check ran on the request's snapshot,
    and parallel requests of one user would each have seen room. The user's row is locked first (PostgreSQL; on
    SQLite the write transaction already holds the one write lock), so their checks take turns."""

    def guard(db: Session) -> None:
        db.execute(select(User.id).where(User.id == user_id).with_for_update())
        check_room(db, user_id, utcnow())

    return guard


def create(db: AnySession, job_id: str, user_id: int, documents: Sequence[str], filename: str) -> None:
    """Add a batch of PDFs and its documents to the transaction that also holds the export's audit rows (in a read
    request both are written by the commit's short write transaction, where the limit of batches is checked again).

    :raise TooManyJobs: at commit, when the user's other batches filled the room meanwhile."""
    job = ReportJob(
        id=job_id,
        kind=JobKind.PDF_BATCH,
        user_id=user_id,
        total=len(documents),
        filename=filename,
        status=JobStatus.QUEUED,
        done=0,
        attempts=0,
        created_at=utcnow(),
        documents=[ReportJobDocument(position=n, html=html) for n, html in enumerate(documents)],
    )
    add_on_commit(db, job, _room_when_written(user_id))


def create_export(db: AnySession, job_id: str, user_id: int, total: int, filename: str) -> None:
    """Add a FHIR export of the user's export scope; the worker reads (and audits) the patients itself."""
    job = ReportJob(
        id=job_id,
        kind=JobKind.FHIR_EXPORT,
        user_id=user_id,
        total=total,
        filename=filename,
        status=JobStatus.QUEUED,
        done=0,
        attempts=0,
        created_at=utcnow(),
    )
    add_on_commit(db, job, _room_when_written(user_id))


def start(job_id: str, kind: JobKind = JobKind.PDF_BATCH) -> None:
    """Queue the work (after the job is committed). :raise Exception: the queue cannot be reached."""
    enqueue(_WORK[kind], job_id)


def progress(
    db: AnySession, job_id: str, user_id: int, now: datetime, kind: JobKind = JobKind.PDF_BATCH
) -> Progress | None:
    """How far the user's own, unexpired job of this kind has got; None for anyone else's, an expired or a
    downloaded one."""
    row = db.execute(
        select(ReportJob.done, ReportJob.total, ReportJob.status, ReportJob.error).where(
            ReportJob.id == job_id,
            ReportJob.kind == kind,
            ReportJob.user_id == user_id,
            ReportJob.status != JobStatus.TAKEN,
            _alive(now),
        )
    ).one_or_none()
    return Progress(row.done, row.total, row.status, row.error) if row else None


def take(
    db: AnySession, job_id: str, user_id: int, now: datetime, kind: JobKind = JobKind.PDF_BATCH
) -> tuple[bytes, str] | None:
    """The user's finished output and its file name, deleted from the database as it is handed over (a job is
    downloaded once). Call inside a write transaction: of two simultaneous downloads only one gets it."""
    job = db.scalar(
        select(ReportJob)
        .where(
            ReportJob.id == job_id,
            ReportJob.kind == kind,
            ReportJob.user_id == user_id,
            ReportJob.status == JobStatus.READY,
            _alive(now),
        )
        .with_for_update()
    )
    if job is None or job.output is None:
        return None
    output, filename = job.output, job.filename
    job.output, job.status = None, JobStatus.TAKEN
    return output, filename


# The worker's side -----------------------------------------------------------------------------------------------


def _claim(job_id: str) -> str | None:
    """Claim a queued or running job for this run (a new run replaces a dead one); None when there is nothing to do
    (expired, finished, failed or downloaded). Commits."""
    now = utcnow()
    job = db.session.scalar(select(ReportJob).where(ReportJob.id == job_id, _alive(now)).with_for_update())
    if job is None or job.status not in (JobStatus.QUEUED, JobStatus.RUNNING):
        db.session.commit()
        return None
    claim = secrets.token_hex(8)
    job.status, job.claim, job.heartbeat_at, job.done = JobStatus.RUNNING, claim, now, 0
    job.attempts += 1
    db.session.commit()
    return claim


@background_task
def render_batch(job_id: str) -> None:
    """Render the job's documents in order, report progress, store the merged PDF; a failure is stored as a message
    for the user. Safe to run again: a new run claims the job and starts over."""
    claim = _claim(job_id)
    if claim is None:
        return
    documents = list(
        db.session.scalars(
            select(ReportJobDocument.html)
            .where(ReportJobDocument.job_id == job_id)
            .order_by(ReportJobDocument.position)
        )
    )
    db.session.commit()
    try:
        pdfs = renderer.render_each(
            documents, int(current_app.config["REPORT_WORKERS"]), lambda done: _step(job_id, claim, done=done)
        )
        merged = renderer.merge(list(pdfs))
    except Superseded:
        log.info("report job %s was claimed by another run; this one stops", job_id)
        return
    except Exception as error:
        log.exception("report job %s failed", job_id)
        _step(job_id, claim, status=JobStatus.FAILED, error=f"The PDF could not be made ({type(error).__name__}).")
        return
    _step(job_id, claim, status=JobStatus.READY, output=merged, done=len(documents))
    db.session.execute(delete(ReportJobDocument).where(ReportJobDocument.job_id == job_id))
    db.session.commit()


@background_task
def export_fhir(job_id: str) -> None:
    """Export the job owner's FHIR scope (``tracker.fhir.bulk``), auditing each patient as it goes, and store the
    zip. Safe to run again: a new run claims the job and exports afresh (audited again, as it is a new export)."""
    from tracker.fhir.bulk import requested_from, run_export  # the FHIR package imports this module's callers

    claim = _claim(job_id)
    if claim is None:
        return
    owner = db.session.scalar(select(ReportJob.user_id).where(ReportJob.id == job_id))
    clinic_id = db.session.scalar(select(User.clinic_id).where(User.id == owner))
    address = requested_from(job_id)
    db.session.commit()
    try:
        if owner is None or clinic_id is None:
            raise LookupError("the job's owner is gone")
        output = run_export(
            clinic_id, owner, lambda done, _total: _step(job_id, claim, done=done), job_id=job_id, ip=address
        )
    except Superseded:
        log.info("FHIR export %s was claimed by another run; this one stops", job_id)
        return
    except Exception as error:
        db.session.rollback()
        log.exception("FHIR export %s failed", job_id)
        _step(job_id, claim, status=JobStatus.FAILED, error=f"The export could not be made ({type(error).__name__}).")
        return
    _step(job_id, claim, status=JobStatus.READY, output=output)


_WORK = {JobKind.PDF_BATCH: render_batch, JobKind.FHIR_EXPORT: export_fhir}


def _step(job_id: str, claim: str, **values: object) -> None:
    """Write progress or the outcome, if this run still owns the job. :raise Superseded: it does not."""
    result = db.session.execute(
        update(ReportJob)
        .where(ReportJob.id == job_id, ReportJob.claim == claim, ReportJob.status == JobStatus.RUNNING)
        .values(heartbeat_at=utcnow(), **values)
    )
    db.session.commit()
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise Superseded


@every_minute
def tidy_jobs() -> None:
    """Delete expired jobs with their documents and PDFs; queue again the jobs whose worker went quiet."""
    now = utcnow()
    expired = select(ReportJob.id).where(ReportJob.created_at <= now - JOB_TTL)
    db.session.execute(delete(ReportJobDocument).where(ReportJobDocument.job_id.in_(expired)))
    db.session.execute(delete(ReportJob).where(ReportJob.created_at <= now - JOB_TTL))
    quiet = now - STALE_AFTER
    stalled = list(
        db.session.scalars(
            select(ReportJob)
            .where(
                ReportJob.status.in_((JobStatus.QUEUED, JobStatus.RUNNING)),
                func.coalesce(ReportJob.heartbeat_at, ReportJob.created_at) <= quiet,
                _alive(now),
            )
            .with_for_update()
        )
    )
    again: list[tuple[str, JobKind]] = []
    for job in stalled:
        if job.attempts >= MAX_ATTEMPTS:
            job.status, job.error = JobStatus.FAILED, "The PDF could not be made (the worker stopped repeatedly)."
        else:
            job.heartbeat_at, job.claim = now, None  # the old run, if it wakes up, no longer owns the job
            again.append((job.id, job.kind))
    db.session.commit()
    for job_id, kind in again:
        log.warning("background job %s lost its worker; queued again", job_id)
        enqueue(_WORK[kind], job_id)
