"""Sessions with the patient. This foundation records what the screening gate needs (which sessions were held);
the sessions issue adds notes, vitals and signing."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.models.base import Base, UTCDateTime, enum_type, utcnow
from tracker.models.patient import Patient
from tracker.models.user import User


class SessionKind(enum.StrEnum):
    PREPARATION = "preparation"
    DOSING = "dosing"
    INTEGRATION = "integration"
    FOLLOW_UP = "follow_up"

    @property
    def label(self) -> str:
        return self.value.replace("_", "-").capitalize()


class TherapySession(Base):
    __tablename__ = "therapy_session"
    __table_args__ = (Index("ix_therapy_session_patient_kind", "patient_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    kind: Mapped[SessionKind] = mapped_column(enum_type(SessionKind, "kind"))
    #: When the session took place (start); None while only scheduled.
    held_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    duration_minutes: Mapped[int | None]
    logged_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    patient: Mapped[Patient] = relationship(lazy="raise_on_sql")
    logged_by: Mapped[User] = relationship(lazy="raise_on_sql")
