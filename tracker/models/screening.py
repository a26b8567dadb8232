"""Screening: one checklist per patient and protocol, its answers (every revision kept), supervisors' reviews,
and the patient's current medications."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.models.base import Base, UTCDateTime, enum_type, utcnow
from tracker.models.patient import Patient
from tracker.models.user import User


class ScreeningChecklist(Base):
    """Created from the protocol's screening items when a patient enters preparation under that protocol."""

    __tablename__ = "screening_checklist"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    #: The protocol whose items this checklist holds; a change of protocol starts a new screening.
    protocol_code: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    #: Once signed off, answers can no longer be revised.
    signed_off_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    signed_off_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    #: The facts of the patient's record items depended on at sign-off (``ScreeningItem.applies_if``): a test that
    #: applied then keeps applying, whatever the record says later (``tracker.eligibility.record_for``).
    record_at_sign_off: Mapped[dict[str, bool] | None] = mapped_column(JSON)

    patient: Mapped[Patient] = relationship(lazy="raise_on_sql")
    signed_off_by: Mapped[User | None] = relationship(foreign_keys=[signed_off_by_id], lazy="raise_on_sql")
    answers: Mapped[list[ScreeningAnswer]] = relationship(
        back_populates="checklist", lazy="raise_on_sql", order_by="ScreeningAnswer.id"
    )
    reviews: Mapped[list[ScreeningReview]] = relationship(
        back_populates="checklist", lazy="raise_on_sql", order_by="ScreeningReview.id"
    )


class AnswerValue(enum.StrEnum):
    YES = "yes"
    NO = "no"
    RECORDED = "recorded"
    NOT_APPLICABLE = "not_applicable"

    @property
    def label(self) -> str:
        return {"yes": "Yes", "no": "No", "recorded": "Recorded", "not_applicable": "Not applicable"}[self.value]


class ScreeningAnswer(Base):
    """One answer to one item. Revising adds a row; the newest row per item is the current answer."""

    __tablename__ = "screening_answer"
    __table_args__ = (Index("ix_screening_answer_checklist_item", "checklist_id", "item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    checklist_id: Mapped[int] = mapped_column(ForeignKey("screening_checklist.id"))
    #: The item's id in the protocol file.
    item_id: Mapped[str] = mapped_column(String(60))
    answer: Mapped[AnswerValue] = mapped_column(enum_type(AnswerValue, "answer"))
    #: For requirements: what was recorded (a result, a reading, a name).
    value: Mapped[str | None] = mapped_column(String(200))
    #: For requirements: the date it was done.
    done_on: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    answered_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    checklist: Mapped[ScreeningChecklist] = relationship(back_populates="answers", lazy="raise_on_sql")
    answered_by: Mapped[User] = relationship(lazy="raise_on_sql")


class ReviewDecision(enum.StrEnum):
    CLEARED = "cleared"
    DECLINED = "declined"


class ScreeningReview(Base):
    """A supervisor's written decision on a review item. It holds for exactly what was reviewed (``basis``):
    a later answer or medication change needs a new review."""

    __tablename__ = "screening_review"

    id: Mapped[int] = mapped_column(primary_key=True)
    checklist_id: Mapped[int] = mapped_column(ForeignKey("screening_checklist.id"), index=True)
    item_id: Mapped[str] = mapped_column(String(60))
    decision: Mapped[ReviewDecision] = mapped_column(enum_type(ReviewDecision, "decision"))
    rationale: Mapped[str] = mapped_column(Text)
    #: What the decision was about, e.g. ``answer:12`` or ``medication:3,7``.
    basis: Mapped[str] = mapped_column(String(200))
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    checklist: Mapped[ScreeningChecklist] = relationship(back_populates="reviews", lazy="raise_on_sql")
    reviewer: Mapped[User] = relationship(lazy="raise_on_sql")


class Medication(Base):
    """A medication the patient takes or took; matched against the protocol's interaction rules."""

    __tablename__ = "medication"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    #: Drug class from ``tracker.protocols.schema.DRUG_CLASSES``, chosen by the clinician.
    drug_class: Mapped[str] = mapped_column(String(40))
    dose: Mapped[str | None] = mapped_column(String(80))
    started_on: Mapped[date | None] = mapped_column(Date)
    #: The last day it is taken; None while current.
    stopped_on: Mapped[date | None] = mapped_column(Date)
    taper_plan: Mapped[str | None] = mapped_column(Text)
    #: When the taper is planned to finish.
    taper_end_on: Mapped[date | None] = mapped_column(Date)
    #: The last day the record showed it as still taken: a stop date entered later cannot be earlier than this, so
    #: back-dating a stop cannot shorten a washout the record already contradicts.
    last_current_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    version_id: Mapped[int] = mapped_column(Integer)

    __mapper_args__ = {"version_id_col": version_id}

    def is_current(self, today: date) -> bool:
        return self.stopped_on is None or self.stopped_on >= today
