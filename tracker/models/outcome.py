"""Outcome measures: the results of each administration of an instrument.

A ``MeasureResult`` is one administration of an instrument, scored by ``tracker.instruments.score`` when it was
recorded, and never changed afterwards (as opal's health data samples: opalmedapps/opal-admin,
opal/health_data/models.py, where a sample refuses an update): database triggers refuse
UPDATE and DELETE (see the migration). A correction is a new row whose ``supersedes_id`` points at the result it
replaces; both are kept, and the current result is the one nothing supersedes (a unique index lets a result be
superseded once, so corrections form a chain rather than a fork).

A result with an urgent flag raises a safety alert (``tracker.models.alert``).
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.models.base import Base, UTCDateTime, enum_type, utcnow
from tracker.models.patient import Patient
from tracker.models.user import User


class AdministrationMode(enum.StrEnum):
    """How the answers reached the tracker."""

    WITH_PATIENT = "with_patient"
    FROM_PAPER = "from_paper"
    CLINICIAN_RATED = "clinician_rated"
    #: Filled in by the patient, alone, through a questionnaire link (``tracker.questionnaires``); never offered on
    #: the clinician's recording form.
    PATIENT_DEVICE = "patient_device"

    @property
    def label(self) -> str:
        return {
            AdministrationMode.WITH_PATIENT: "Filled in with the patient",
            AdministrationMode.FROM_PAPER: "Entered from a paper form",
            # Who may ask is the instrument's rule (MADRS: a clinician; C-SSRS: a clinician or trained lay staff).
            AdministrationMode.CLINICIAN_RATED: "Asked and rated in an interview",
            AdministrationMode.PATIENT_DEVICE: "Filled in by the patient on their own device",
        }[self]


class MeasureResult(Base):
    __tablename__ = "measure_result"
    __table_args__ = (
        Index("ix_measure_result_patient_instrument", "patient_id", "instrument", "administered_on"),
        # A result is superseded at most once: a correction of a correction points at the newest one.
        Index("uq_measure_result_supersedes_id", "supersedes_id", unique=True),
        CheckConstraint("(supersedes_id IS NULL) = (correction_reason IS NULL)", name="reason_iff_correction"),
        CheckConstraint("supersedes_id IS NULL OR supersedes_id <> id", name="not_own_correction"),
        CheckConstraint("total IS NULL OR total >= 0", name="total_not_negative"),
        CheckConstraint("band_index >= 0", name="band_index_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    #: Instrument code (``tracker.instruments``), e.g. ``phq9``.
    instrument: Mapped[str] = mapped_column(String(20))
    #: The day the patient answered (or was rated): what the schedule and the charts go by, not the entry time.
    administered_on: Mapped[date] = mapped_column(Date)
    mode: Mapped[AdministrationMode] = mapped_column(enum_type(AdministrationMode, "mode"))
    #: The answers in item order as given to ``score()``: whole numbers, option codes, or null where skip logic
    #: left an item out.
    answers: Mapped[list[Any]] = mapped_column(JSON)
    #: Everything below is ``score()``'s result at the time of recording, kept as it was then.
    total: Mapped[int | None] = mapped_column(Integer)
    band: Mapped[str] = mapped_column(String(60))
    band_index: Mapped[int] = mapped_column(Integer)
    #: ``[{"code", "name", "score", "endorsed", "required", "met"}]`` (PCL-5 clusters, QIDS-SR16 domains).
    subscales: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    #: ``[{"code", "message", "urgent", "source", "high_risk"}]`` (``high_risk`` since safety alerts of every source;
    #: absent, it is false).
    flags: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    provisional_diagnosis: Mapped[bool | None]
    #: The cut-point the band was read at (PCL-5's clinic-set provisional cut-point).
    cut_point: Mapped[int | None] = mapped_column(Integer)
    #: Who entered the answers; for a result the patient filled in through a link (mode ``patient_device``), the
    #: clinician who sent the link.
    entered_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: The result this one corrects; that one stays, marked as superseded.
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("measure_result.id"))
    correction_reason: Mapped[str | None] = mapped_column(Text)

    patient: Mapped[Patient] = relationship(lazy="raise_on_sql")
    entered_by: Mapped[User] = relationship(lazy="raise_on_sql")
    supersedes: Mapped[MeasureResult | None] = relationship(remote_side=[id], lazy="raise_on_sql")

    @property
    def entered_by_text(self) -> str:
        """Who entered it, in words (``entered_by`` must be loaded): the patient, for a result from a link."""
        if self.mode is AdministrationMode.PATIENT_DEVICE:
            return f"the patient, on their own device (link sent by {self.entered_by.full_name})"
        return self.entered_by.full_name

    @property
    def urgent_flags(self) -> list[dict[str, Any]]:
        return [flag for flag in self.flags if flag.get("urgent")]

    def __repr__(self) -> str:
        return f"<MeasureResult {self.id} {self.instrument} {self.administered_on}>"
