"""Emergency ("break-glass") access: a clinician opens a patient outside their care for a limited time, with a
written reason and their password, and everything they do under it is flagged in the audit trail
(HIPAA 45 CFR 164.312(a)(2)(ii), emergency access procedure)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.models.base import Base, UTCDateTime, utcnow
from tracker.models.patient import Patient
from tracker.models.user import User


class EmergencyAccess(Base):
    __tablename__ = "emergency_access"
    __table_args__ = (Index("ix_emergency_access_user_expires", "user_id", "expires_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: The grant ends by itself; the user asks again (and is audited again) if the emergency goes on.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship(lazy="raise_on_sql")
    patient: Mapped[Patient] = relationship(lazy="raise_on_sql")


class EmergencyReview(Base):
    """A supervisor's written judgement of one emergency access grant: justified or not. One per grant, never
    changed (database triggers), by a supervisor of the clinic other than the one who used the access."""

    __tablename__ = "emergency_review"

    id: Mapped[int] = mapped_column(primary_key=True)
    access_id: Mapped[int] = mapped_column(ForeignKey("emergency_access.id"), unique=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    justified: Mapped[bool] = mapped_column(Boolean)
    #: Why, in the reviewer's words (what was found in the audit trail, what was said with the clinician).
    comment: Mapped[str] = mapped_column(Text)
    reviewed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    access: Mapped[EmergencyAccess] = relationship(lazy="raise_on_sql")
    reviewer: Mapped[User] = relationship(lazy="raise_on_sql")
