"""Sessions with the patient: scheduled and held preparation, dosing, integration and follow-up sessions, with
the therapists present and where each falls in the protocol's plan.

A session's place in the plan is its ``cycle`` (the dosing session it belongs to: dosing 2 and the integration
sessions after it share cycle 2) plus its ``ordinal`` among sessions of the same kind and cycle, computed in SQL
when a page asks for it (``tracker.sessions.queries``). The clinical note of a session lives in
``tracker.models.note``; once it is signed, the database refuses to change the session row as well.
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta

from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, String, Table, text
from sqlalchemy.orm import Mapped, mapped_column, query_expression, relationship

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
        return "Follow-up contact" if self is SessionKind.FOLLOW_UP else self.value.capitalize()


#: The therapists present at a session (a protocol may require two for dosing: the MDMA co-therapist pair of the
#: MAPS trials, ClinicalTrials.gov NCT01211405 and NCT03537014; at least two monitors for psilocybin, Johnson MW,
#: Richards WA, Griffiths RR 2008, J Psychopharmacol 22:603, doi:10.1177/0269881108093587).
session_therapist = Table(
    "session_therapist",
    Base.metadata,
    Column("session_id", ForeignKey("therapy_session.id"), primary_key=True),
    Column("user_id", ForeignKey("user_account.id"), primary_key=True, index=True),
)


class TherapySession(Base):
    __tablename__ = "therapy_session"
    __table_args__ = (
        Index("ix_therapy_session_patient_kind", "patient_id", "kind"),
        # The dashboard's rules: last session held per patient, sessions held before a cut-off.
        Index("ix_therapy_session_patient_held", "patient_id", "held_at"),
        # The clinic overview: sessions held per week.
        Index("ix_therapy_session_held_at", "held_at"),
        # One dosing session per dosing cycle: the workflow guards look it up by cycle.
        Index(
            "uq_therapy_session_dosing_cycle",
            "patient_id",
            "cycle",
            unique=True,
            sqlite_where=text("kind = 'dosing'"),
            postgresql_where=text("kind = 'dosing'"),
        ),
        CheckConstraint("held_at IS NOT NULL OR scheduled_at IS NOT NULL", name="held_or_scheduled"),
        # Preparation comes before any dosing; every other session belongs to a dosing cycle.
        CheckConstraint("(kind = 'preparation') = (cycle IS NULL)", name="cycle_unless_preparation"),
        CheckConstraint("cycle IS NULL OR cycle >= 1", name="cycle_positive"),
        CheckConstraint("duration_minutes IS NULL OR duration_minutes > 0", name="duration_positive"),
        CheckConstraint("scheduled_minutes IS NULL OR scheduled_minutes > 0", name="scheduled_minutes_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    kind: Mapped[SessionKind] = mapped_column(enum_type(SessionKind, "kind"))
    #: The dosing cycle (1 = the first dosing session and what follows it); None for preparation.
    cycle: Mapped[int | None]
    #: Actual start; None while the session is only scheduled.
    held_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Actual length, so the actual end is ``held_at + duration``.
    duration_minutes: Mapped[int | None]
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Planned length, so the planned end is ``scheduled_at + scheduled_minutes``.
    scheduled_minutes: Mapped[int | None]
    location: Mapped[str | None] = mapped_column(String(120))
    logged_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    #: Position among the patient's sessions of the same kind and cycle, loaded only on request
    #: (``with_expression``); None when not loaded.
    ordinal: Mapped[int | None] = query_expression()

    patient: Mapped[Patient] = relationship(lazy="raise_on_sql")
    logged_by: Mapped[User] = relationship(lazy="raise_on_sql")
    present: Mapped[list[User]] = relationship(
        secondary=session_therapist, lazy="raise_on_sql", order_by="User.full_name"
    )

    @property
    def is_held(self) -> bool:
        return self.held_at is not None

    @property
    def when(self) -> datetime:
        """When it took place, or failing that when it is planned."""
        moment = self.held_at or self.scheduled_at
        assert moment is not None  # CHECK held_or_scheduled
        return moment

    @property
    def ended_at(self) -> datetime | None:
        if self.held_at is None or self.duration_minutes is None:
            return None
        return self.held_at + timedelta(minutes=self.duration_minutes)

    @property
    def scheduled_end_at(self) -> datetime | None:
        if self.scheduled_at is None or self.scheduled_minutes is None:
            return None
        return self.scheduled_at + timedelta(minutes=self.scheduled_minutes)
