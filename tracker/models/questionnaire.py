"""Questionnaire links: a measure (or several) sent to the patient to fill in on their own device.

The link carries a random token that is shown once (as a URL and a QR code) and stored only as its SHA-256, so the
database never holds a usable link. A link is used once: its answers become results recorded as filled in by the
patient (``AdministrationMode.PATIENT_DEVICE``), and ``used_at`` is set in the same transaction, by an UPDATE that
only touches a link still unused, unexpired and not withdrawn, so two submissions at once cannot both count.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.models.base import Base, UTCDateTime, utcnow
from tracker.models.patient import Patient
from tracker.models.user import User


class QuestionnaireLink(Base):
    __tablename__ = "questionnaire_link"
    __table_args__ = (
        CheckConstraint("expires_at > created_at", name="expires_after_creation"),
        CheckConstraint("used_at IS NULL OR withdrawn_at IS NULL", name="used_or_withdrawn"),
        CheckConstraint("(used_at IS NULL) = (result_ids IS NULL)", name="results_iff_used"),
        Index("ix_questionnaire_link_patient_created", "patient_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    #: Instrument codes (``tracker.instruments``), in the order the patient answers them.
    instruments: Mapped[list[str]] = mapped_column(JSON)
    #: SHA-256 (hex) of the token in the link; the token itself is never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The clinician who sent it; the results it becomes name them as the one who entered them.
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: The results the answers became, in the order of ``instruments``.
    result_ids: Mapped[list[int] | None] = mapped_column(JSON(none_as_null=True))
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    patient: Mapped[Patient] = relationship(lazy="raise_on_sql")
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id], lazy="raise_on_sql")

    def status(self, now: datetime) -> str:
        """``used``, ``withdrawn``, ``expired`` or ``open``, for the clinician's list."""
        if self.used_at is not None:
            return "used"
        if self.withdrawn_at is not None:
            return "withdrawn"
        return "expired" if self.expires_at <= now else "open"
