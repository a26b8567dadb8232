"""The audit trail: one append-only row per read or write of patient data and per security event.

Rows are written only by ``tracker.audit.record``; database triggers (see the migrations) refuse UPDATE, DELETE,
SQLite's INSERT OR REPLACE and PostgreSQL's TRUNCATE. Each row is chained to the one before it in its clinic's
chain (``tracker.auditchain``), so a change made behind the triggers' back is found by ``flask audit verify``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.models.base import Base, UTCDateTime, utcnow
from tracker.models.patient import Patient
from tracker.models.user import User


class AuditEvent(Base):
    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_clinic_created", "clinic_id", "created_at"),
        Index("ix_audit_event_patient_created", "patient_id", "created_at"),
        Index("ix_audit_event_actor_created", "actor_id", "created_at"),
        # No two rows at one place of a chain: a forked chain is refused, not stored.
        UniqueConstraint("chain", "chain_seq", name="uq_audit_event_chain_seq"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: None only for events with no known clinic, such as a failed login for an unknown name.
    clinic_id: Mapped[int | None] = mapped_column(ForeignKey("clinic.id"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    #: Dotted verb such as ``patient.view``, ``patient.update``, ``auth.login_failed``.
    action: Mapped[str] = mapped_column(String(60))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patient.id"))
    target_type: Mapped[str | None] = mapped_column(String(40))
    target_id: Mapped[str | None] = mapped_column(String(40))
    summary: Mapped[str] = mapped_column(String(255))
    #: Structured detail; for updates ``{"changes": {field: [old, new]}}``. Never passwords or tokens.
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    ip: Mapped[str | None] = mapped_column(String(45))
    #: The hash chain the row belongs to: its clinic's id, or 0 for rows of no clinic.
    chain: Mapped[int]
    #: Its place in that chain, from 1, without gaps.
    chain_seq: Mapped[int]
    #: ``row_hash`` of the row before it in the chain (64 zeros for the first).
    prev_hash: Mapped[str] = mapped_column(String(64))
    #: SHA-256 of the row's content, chain, place and ``prev_hash`` (``tracker.auditchain.row_hash``).
    row_hash: Mapped[str] = mapped_column(String(64))

    actor: Mapped[User | None] = relationship(lazy="raise_on_sql")
    patient: Mapped[Patient | None] = relationship(lazy="raise_on_sql")


class AuditChainHead(Base):
    """The newest row of each hash chain: writers lock it to append (one at a time per clinic), and
    ``flask audit verify`` compares the chain's end with it."""

    __tablename__ = "audit_chain_head"

    #: A clinic's id, or 0 for the rows of no clinic (``tracker.auditchain.NO_CLINIC``).
    chain: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_seq: Mapped[int]
    last_hash: Mapped[str] = mapped_column(String(64))


class AuditHeadNote(Base):
    """A chain's head as it was at some moment (noted by ``flask audit verify`` and by the background worker every
    ``AUDIT_HEAD_NOTE_MINUTES``): a later verify finds that row again, with the same hash, or reports the chain
    truncated. Removing the newest rows and rewinding ``audit_chain_head`` is then seen too, unless these notes were
    removed as well; the heads ``flask audit verify`` prints, kept outside the database, cover that."""

    __tablename__ = "audit_head_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    chain: Mapped[int] = mapped_column(index=True)
    seq: Mapped[int]
    row_hash: Mapped[str] = mapped_column(String(64))
    noted_at: Mapped[datetime] = mapped_column(UTCDateTime())
