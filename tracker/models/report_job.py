"""Background jobs (a batch of reports, a FHIR export): the job record every web process and worker sees, a batch's
documents until they are rendered, and the output until its owner downloads it or it expires
(tracker/reports/jobs.py)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.models.base import Base, UTCDateTime, enum_type, utcnow


class JobStatus(enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    READY = "ready"
    FAILED = "failed"
    TAKEN = "taken"  # downloaded: the PDF is gone


class JobKind(enum.Enum):
    PDF_BATCH = "pdf_batch"  # a batch of printed reports, merged into one PDF
    FHIR_EXPORT = "fhir_export"  # the user's bulk FHIR export, a zip of NDJSON files


class ReportJob(Base):
    __tablename__ = "report_job"
    __table_args__ = (Index("ix_report_job_user_created", "user_id", "created_at"),)

    #: A random token (the URL holds it); only its owner is ever answered about it.
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[JobKind] = mapped_column(enum_type(JobKind, "report_job_kind"), default=JobKind.PDF_BATCH)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    status: Mapped[JobStatus] = mapped_column(enum_type(JobStatus, "report_job_status"), default=JobStatus.QUEUED)
    total: Mapped[int]
    done: Mapped[int] = mapped_column(default=0)
    filename: Mapped[str] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: Last sign of life from the worker rendering it; a stale one is queued again (a worker restarted mid-batch).
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Which run owns the job now; a run that has been replaced stops at its next step.
    claim: Mapped[str | None] = mapped_column(String(32))
    attempts: Mapped[int] = mapped_column(default=0)
    #: The finished PDF or zip, deleted once downloaded; loaded only when asked for.
    output: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)

    documents: Mapped[list[ReportJobDocument]] = relationship(
        cascade="all, delete-orphan", order_by="ReportJobDocument.position", lazy="raise_on_sql"
    )


class ReportJobDocument(Base):
    """One patient's report as HTML, built (and audited) by the request; deleted once the batch is rendered."""

    __tablename__ = "report_job_document"

    job_id: Mapped[str] = mapped_column(ForeignKey("report_job.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(primary_key=True)
    html: Mapped[str] = mapped_column(Text)
