"""Patients, their care teams, and their phase in the care model with its full history."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from tracker.models.base import Base, UTCDateTime, enum_type, utcnow
from tracker.models.user import User

if TYPE_CHECKING:
    from tracker.models.alert import SafetyAlert


class Phase(enum.StrEnum):
    """Where a patient is in the care model. Moves between them go through ``tracker.workflow`` only."""

    PREPARATION = "preparation"
    DOSING = "dosing"
    INTEGRATION = "integration"
    COMPLETED = "completed"
    ON_HOLD = "on_hold"
    DISCONTINUED = "discontinued"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()

    @property
    def is_active(self) -> bool:
        return self in ACTIVE_PHASES


ACTIVE_PHASES = frozenset({Phase.PREPARATION, Phase.DOSING, Phase.INTEGRATION})


class Indication(enum.StrEnum):
    """What a patient is treated for. The enrolment form offers only the indications some installed protocol
    accepts (``Protocol.indications``); "anxiety" and "other" stay for protocols a clinic adds itself."""

    PTSD = "ptsd"
    MAJOR_DEPRESSION = "major_depression"
    TREATMENT_RESISTANT_DEPRESSION = "treatment_resistant_depression"
    ANXIETY = "anxiety"
    OTHER = "other"
    #: Anxiety and depression in life-threatening cancer (Griffiths 2016; Ross 2016).
    CANCER_RELATED_DISTRESS = "cancer_related_distress"
    ALCOHOL_USE_DISORDER = "alcohol_use_disorder"
    TOBACCO_USE_DISORDER = "tobacco_use_disorder"
    OBSESSIVE_COMPULSIVE_DISORDER = "obsessive_compulsive_disorder"

    @property
    def label(self) -> str:
        return {
            Indication.PTSD: "PTSD",
            Indication.MAJOR_DEPRESSION: "Major depressive disorder",
            Indication.TREATMENT_RESISTANT_DEPRESSION: "Treatment-resistant depression",
            Indication.ANXIETY: "Anxiety",
            Indication.OTHER: "Other",
            Indication.CANCER_RELATED_DISTRESS: "Anxiety and depression with life-threatening cancer",
            Indication.ALCOHOL_USE_DISORDER: "Alcohol use disorder",
            Indication.TOBACCO_USE_DISORDER: "Tobacco use disorder (smoking cessation)",
            Indication.OBSESSIVE_COMPULSIVE_DISORDER: "Obsessive-compulsive disorder",
        }[self]


class SexAtBirth(enum.StrEnum):
    FEMALE = "female"
    MALE = "male"
    INTERSEX = "intersex"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class Patient(Base):
    __tablename__ = "patient"
    __table_args__ = (
        UniqueConstraint("clinic_id", "record_number", name="uq_patient_clinic_record_number"),
        # "h-1000" and "H-1000" are one record number (tracker.patients.services checks first, with a message).
        Index("uq_patient_clinic_record_number_folded", "clinic_id", "record_number_folded", unique=True),
        # A patient on hold remembers the phase to resume, and only then (indico-style state constraint).
        CheckConstraint("(phase = 'on_hold') = (held_from_phase IS NOT NULL)", name="held_from_phase_iff_on_hold"),
        CheckConstraint("held_from_phase IN ('preparation', 'dosing', 'integration')", name="held_from_active"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"), index=True)
    #: The clinic's own record number (MRN), unique within the clinic.
    record_number: Mapped[str] = mapped_column(String(40))
    #: The record number in lower case, kept by ``_fold_record_number``: unique per clinic, so case never makes two.
    record_number_folded: Mapped[str | None] = mapped_column(String(40))
    given_name: Mapped[str] = mapped_column(String(80))
    family_name: Mapped[str] = mapped_column(String(80), index=True)
    date_of_birth: Mapped[date] = mapped_column(Date)
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(254))
    #: The person the clinic calls in an emergency, and who escorts the patient home after dosing.
    support_contact_name: Mapped[str | None] = mapped_column(String(120))
    support_contact_relationship: Mapped[str | None] = mapped_column(String(60))
    support_contact_phone: Mapped[str | None] = mapped_column(String(40))
    #: Recorded once, so whether a pregnancy test applies follows the record, not a clinician's answer each time.
    sex_at_birth: Mapped[SexAtBirth | None] = mapped_column(enum_type(SexAtBirth, "sex_at_birth"))
    #: Whether the patient can become pregnant (None: not recorded, which counts as possible).
    can_become_pregnant: Mapped[bool | None] = mapped_column(Boolean)
    indication: Mapped[Indication] = mapped_column(enum_type(Indication, "indication"))
    #: The patient agreed that their outcome measures, de-identified, may be used for research: only they are in
    #: the research export (``tracker.research``). Set on the patient form, each change audited.
    research_consent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: Code of the protocol template (``tracker.protocols``) the patient is treated under.
    protocol_code: Mapped[str] = mapped_column(String(40))
    phase: Mapped[Phase] = mapped_column(enum_type(Phase, "phase"), default=Phase.PREPARATION, index=True)
    #: The active phase a patient on hold returns to.
    held_from_phase: Mapped[Phase | None] = mapped_column(enum_type(Phase, "held_from_phase"))
    phase_changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: Optimistic lock: an edit made from a stale form is refused instead of overwriting a newer one.
    version_id: Mapped[int] = mapped_column(Integer)

    __mapper_args__ = {"version_id_col": version_id}

    care_team: Mapped[list[CareTeamMember]] = relationship(
        back_populates="patient", lazy="raise_on_sql", cascade="all, delete-orphan"
    )
    transitions: Mapped[list[PhaseTransition]] = relationship(
        back_populates="patient", lazy="raise_on_sql", order_by="PhaseTransition.id"
    )
    #: Safety alerts not yet acknowledged, for the banner on every patient page (read-only; the loaders of the
    #: patient pages load it with ``tracker.models.alert.with_open_alerts``).
    open_alerts: Mapped[list[SafetyAlert]] = relationship(
        primaryjoin="and_(SafetyAlert.patient_id == Patient.id, SafetyAlert.acknowledged_at.is_(None))",
        viewonly=True,
        lazy="raise_on_sql",
        order_by="(SafetyAlert.raised_at, SafetyAlert.id)",
    )

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    @property
    def pregnancy_possible(self) -> bool:
        """A pregnancy test applies unless the record says male at birth or unable to become pregnant."""
        return not (self.sex_at_birth is SexAtBirth.MALE or self.can_become_pregnant is False)

    @property
    def lead_therapist(self) -> User | None:
        return next((m.user for m in self.care_team if m.role is CareRole.LEAD), None)

    @property
    def co_therapists(self) -> list[User]:
        return [m.user for m in self.care_team if m.role is CareRole.CO_THERAPIST]

    @validates("record_number")
    def _fold_record_number(self, _key: str, value: str) -> str:
        self.record_number_folded = value.casefold()
        return value

    def __repr__(self) -> str:
        return f"<Patient {self.id} {self.record_number!r}>"


class CareRole(enum.StrEnum):
    LEAD = "lead"
    CO_THERAPIST = "co_therapist"

    @property
    def label(self) -> str:
        return "Lead therapist" if self is CareRole.LEAD else "Co-therapist"


class CareTeamMember(Base):
    """A therapist on a patient's care team: one lead, and any number of co-therapists."""

    __tablename__ = "care_team_member"
    __table_args__ = (
        # Whose patients a user sees (``permissions.care_scope``): looked up by user, with the patient in the index,
        # so the dashboard's scope never scans every care team of the clinic.
        Index("ix_care_team_member_user_patient", "user_id", "patient_id"),
        Index(
            "uq_care_team_member_one_lead",
            "patient_id",
            unique=True,
            sqlite_where=text("role = 'lead'"),
            postgresql_where=text("role = 'lead'"),
        ),
    )

    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), primary_key=True, index=True)
    role: Mapped[CareRole] = mapped_column(enum_type(CareRole, "care_role"))

    patient: Mapped[Patient] = relationship(back_populates="care_team", lazy="raise_on_sql")
    user: Mapped[User] = relationship(lazy="raise_on_sql")


class PhaseTransition(Base):
    """One move in a patient's phase history: who, when, from where to where, and why. Never edited."""

    __tablename__ = "phase_transition"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    from_phase: Mapped[Phase | None] = mapped_column(enum_type(Phase, "from_phase"))  # None: enrolment
    to_phase: Mapped[Phase] = mapped_column(enum_type(Phase, "to_phase"))
    actor_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    patient: Mapped[Patient] = relationship(back_populates="transitions", lazy="raise_on_sql")
    actor: Mapped[User] = relationship(lazy="raise_on_sql")
