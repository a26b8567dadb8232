"""Laboratory results of the pre-treatment evaluation (``tracker.labs`` holds the markers).

A result is never changed (the database refuses UPDATE and DELETE, like a measure result): a correction is a new row
that supersedes the old one, and both are kept. Each row carries the reference range it was read against and where
that range came from, so how it was flagged stays as it was when it was entered.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, CheckConstraint, Date, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.models.base import Base, UTCDateTime, utcnow
from tracker.models.patient import Patient
from tracker.models.user import User


class LabResult(Base):
    __tablename__ = "lab_result"
    __table_args__ = (
        # The patient page, the summary and the dosing gate read a patient's results by marker and date.
        Index("ix_lab_result_patient_marker", "patient_id", "marker", "collected_on"),
        # A result is superseded at most once: corrections form a chain, not a fork.
        Index("uq_lab_result_supersedes_id", "supersedes_id", unique=True),
        CheckConstraint("(supersedes_id IS NULL) = (correction_reason IS NULL)", name="reason_iff_correction"),
        CheckConstraint("supersedes_id IS NULL OR supersedes_id <> id", name="not_own_correction"),
        CheckConstraint(
            "reference_low IS NULL OR reference_high IS NULL OR reference_low < reference_high", name="range_ordered"
        ),
        CheckConstraint("flag IS NULL OR flag IN ('low', 'high')", name="flag_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    #: Marker code (``tracker.labs.markers``), e.g. ``glucose_fasting``.
    marker: Mapped[str] = mapped_column(String(40))
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(20))
    reference_low: Mapped[float | None] = mapped_column(Float)
    reference_high: Mapped[float | None] = mapped_column(Float)
    #: True: the range is the laboratory's, from its report; False: the marker's default for the unit.
    range_from_laboratory: Mapped[bool] = mapped_column(Boolean)
    #: Where the range comes from, in words (the laboratory, or the default's source).
    range_source: Mapped[str] = mapped_column(Text)
    #: "low" or "high" when the value was outside the range it carries; None within it.
    flag: Mapped[str | None] = mapped_column(String(4))
    #: The day the sample was taken: what the dosing gate's windows go by.
    collected_on: Mapped[date] = mapped_column(Date)
    laboratory: Mapped[str | None] = mapped_column(String(120))
    entered_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("lab_result.id"))
    correction_reason: Mapped[str | None] = mapped_column(Text)

    patient: Mapped[Patient] = relationship(lazy="raise_on_sql")
    entered_by: Mapped[User] = relationship(lazy="raise_on_sql")

    def __repr__(self) -> str:
        return f"<LabResult {self.id} {self.marker} {self.collected_on}>"
