"""The integration plan a patient takes home: versions that are never changed, and the record of each version given
to the patient.

Each save adds an ``IntegrationPlanVersion`` (number 1, 2, 3... per patient; the highest is the current one), so
what the patient was given on any date can be shown exactly (clinical content is append-only). Marking a version
"given to patient" adds a ``PlanHandout`` row rather than changing the version. Database triggers refuse UPDATE and
DELETE on both tables (see the migration); a unique (patient, number) makes two saves from the same starting version
conflict instead of both becoming "version 4".
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.models.base import Base, UTCDateTime, utcnow
from tracker.models.patient import Patient
from tracker.models.user import User


class IntegrationPlanVersion(Base):
    __tablename__ = "integration_plan_version"
    __table_args__ = (
        UniqueConstraint("patient_id", "number", name="uq_integration_plan_version_patient_number"),
        CheckConstraint("number >= 1", name="number_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: No index of its own: the unique (patient_id, number) index serves lookups by patient.
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    #: 1 for the first save, then one more per save; the highest is the current plan.
    number: Mapped[int] = mapped_column(Integer)
    #: The protocol whose plan sections the version was written under.
    protocol_code: Mapped[str] = mapped_column(String(40))
    #: ``[{"title": ..., "text": ...}]`` in the protocol's order, written for the patient in plain language.
    sections: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    #: The crisis line printed with this version (the clinic's local line, a clinic setting).
    crisis_line: Mapped[str] = mapped_column(String(200))
    #: ``[{"practice": ..., "frequency": ...}]``: the practices the patient agreed to (``tracker.plans.practices``),
    #: checked in on at each integration session; NULL on versions saved before practices were structured.
    practices: Mapped[list[dict[str, str]] | None] = mapped_column(JSON(none_as_null=True))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))

    patient: Mapped[Patient] = relationship(lazy="raise_on_sql")
    created_by: Mapped[User] = relationship(lazy="raise_on_sql")
    handouts: Mapped[list[PlanHandout]] = relationship(
        back_populates="version", lazy="raise_on_sql", order_by="PlanHandout.id"
    )

    @property
    def practice_items(self) -> list[dict[str, str]]:
        return list(self.practices or [])

    def text_of(self, title: str) -> str:
        return next((s["text"] for s in self.sections if s["title"] == title), "")


class PlanHandout(Base):
    """A version of the plan given to the patient on a date (printed, emailed, or handed over in a session)."""

    __tablename__ = "integration_plan_handout"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("integration_plan_version.id"), index=True)
    given_on: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))

    version: Mapped[IntegrationPlanVersion] = relationship(back_populates="handouts", lazy="raise_on_sql")
    recorded_by: Mapped[User] = relationship(lazy="raise_on_sql")
