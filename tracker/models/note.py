"""Clinical notes of sessions: one note per session (structured fields per session kind plus free text), the
vital signs and adverse events of a dosing session, addenda, co-signature decisions, and private process notes.

Integrity (HIPAA 45 CFR 164.312(c); SQLAlchemy's version counter, https://docs.sqlalchemy.org/en/20/orm/versioning.html;
a signed record takes nothing new, only amendments, as OpenEMR users asked of its e-sign: openemr/openemr#11492):

- a draft is edited under optimistic locking (``version_id``), so a stale save is refused, never silently lost;
- signing stores who, when, and the SHA-256 of the signed content in one UPDATE; from then on database triggers
  (see the migration) refuse any UPDATE or DELETE of the note, any INSERT, UPDATE or DELETE of its vital signs and
  adverse events, and any change to its session and the therapists present;
- corrections are addenda, each signed as it is written and never changed afterwards (append-only, like the
  co-signature decisions); an adverse event's seriousness marked by mistake is corrected by a signed row of its own
  (``AdverseEventCorrection``), which every count reads through ``tracker.adverse_events``;
- private process notes (HIPAA 164.501 psychotherapy notes) are a separate table that only its author ever reads,
  and nothing else (patient page, lists, hashes, exports) looks at.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
    func,
    select,
    text,
)
from sqlalchemy.orm import Mapped, column_property, mapped_column, relationship

from tracker.models.base import Base, UTCDateTime, enum_type, utcnow
from tracker.models.session import TherapySession
from tracker.models.user import User
from tracker.vitals import PLAUSIBLE


class DoseUnit(enum.StrEnum):
    MG = "mg"
    MG_PER_KG = "mg_per_kg"
    #: Weight-adjusted to a 70 kg adult, as the Johns Hopkins psilocybin trials dosed (Davis AK et al. 2021, JAMA
    #: Psychiatry 78:481, doi:10.1001/jamapsychiatry.2020.3285): the dose in mg is amount x weight / 70.
    MG_PER_70KG = "mg_per_70kg"

    @property
    def label(self) -> str:
        return {"mg": "mg", "mg_per_kg": "mg/kg", "mg_per_70kg": "mg/70 kg"}[self.value]

    @property
    def per_weight(self) -> bool:
        """Whether the dose depends on the weight measured on the day."""
        return self is not DoseUnit.MG

    def total_mg(self, amount: float, weight_kg: float | None) -> float | None:
        """The dose in mg (None when the weight it needs is missing)."""
        if self is DoseUnit.MG:
            return round(amount, 3)
        if weight_kg is None:
            return None
        return round(amount * weight_kg / (70 if self is DoseUnit.MG_PER_70KG else 1), 3)


class Route(enum.StrEnum):
    ORAL = "oral"
    INTRAVENOUS = "intravenous"
    INTRAMUSCULAR = "intramuscular"
    INTRANASAL = "intranasal"
    SUBLINGUAL = "sublingual"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class SessionNote(Base):
    """The clinical note of one session. Columns from ``substance`` to ``discharged_at`` are filled for dosing
    sessions only; the other kinds keep their structured fields in ``fields``."""

    __tablename__ = "session_note"
    __table_args__ = (
        CheckConstraint(
            "(signed_at IS NULL) = (signed_by_id IS NULL) AND (signed_at IS NULL) = (content_sha256 IS NULL)",
            name="signature_complete",
        ),
        CheckConstraint("dose_amount IS NULL OR dose_amount > 0", name="dose_positive"),
        CheckConstraint("weight_kg IS NULL OR weight_kg > 0", name="weight_positive"),
        CheckConstraint("supplemental_mg IS NULL OR supplemental_mg > 0", name="supplemental_positive"),
        CheckConstraint("dose_unit IS NULL OR dose_unit = 'mg' OR weight_kg IS NOT NULL", name="weight_for_mg_per_kg"),
        CheckConstraint("distress_baseline IS NULL OR distress_baseline BETWEEN 0 AND 10", name="suds_baseline"),
        CheckConstraint(
            "distress_at_discharge IS NULL OR distress_at_discharge BETWEEN 0 AND 10", name="suds_discharge"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("therapy_session.id"), unique=True)
    #: Who started the note; "unsigned notes older than 24 hours" are listed for them.
    author_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    #: Optimistic lock: a save made from a stale form is refused (409) instead of overwriting a newer one.
    version_id: Mapped[int] = mapped_column(Integer)
    #: Structured text fields of the session kind (``tracker.notes.fields``), validated by the forms.
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: Free text.
    body: Mapped[str] = mapped_column(Text, default="")

    # Dosing: the administration. Dose and lot number as the SPRAVATO REMS Patient Monitoring Form records them
    # (https://www.spravatorems.com); the supplemental half-dose 1.5-2 h after the first as in MAPP (Mitchell JM et al.
    # 2021, Nat Med 27:1025, doi:10.1038/s41591-021-01336-3); weight on the day for mg/kg dosing (Andrade C 2017,
    # J Clin Psychiatry 78:e852, doi:10.4088/JCP.17f11738) and mg/70 kg dosing (Davis AK et al. 2021, JAMA
    # Psychiatry 78:481, doi:10.1001/jamapsychiatry.2020.3285).
    substance: Mapped[str | None] = mapped_column(String(80))
    dose_amount: Mapped[float | None] = mapped_column(Float)
    dose_unit: Mapped[DoseUnit | None] = mapped_column(enum_type(DoseUnit, "dose_unit"))
    #: Weight measured on the day, needed for mg/kg dosing.
    weight_kg: Mapped[float | None] = mapped_column(Float)
    #: Computed by the service: the dose in mg (amount, or amount x weight).
    dose_total_mg: Mapped[float | None] = mapped_column(Float)
    route: Mapped[Route | None] = mapped_column(enum_type(Route, "route"))
    lot_number: Mapped[str | None] = mapped_column(String(60))
    dose_given_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    supplemental_mg: Mapped[float | None] = mapped_column(Float)
    supplemental_given_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Dosing: discharge. An escort home, and discharge criteria rather than an end time: SUDS at or below baseline,
    # physiological signs and agreement (MAPS manual 2005: A Manual for MDMA-Assisted Psychotherapy in the Treatment
    # of Posttraumatic Stress Disorder, https://maps.org/research-archive/mdma/ptsd_study/treatment-manual/); someone
    # drives the patient home (SPRAVATO, https://www.spravato.com/treatment-with-SPRAVATO). Distress as SUDS 0-10, as in
    # the MAPS manual.
    distress_baseline: Mapped[int | None]
    distress_at_discharge: Mapped[int | None]
    escort_name: Mapped[str | None] = mapped_column(String(120))
    discharged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: The clinician's written decision to give the dose although the pre-dose blood pressure was above the
    #: protocol's threshold (``Protocol.pre_dose_blood_pressure``: esketamine's label asks to weigh the risk).
    pre_dose_decision: Mapped[str | None] = mapped_column(Text)

    # Signature: set together in one UPDATE; afterwards the row is immutable (database trigger).
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    signed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    #: SHA-256 of the canonical JSON of the signed content (``tracker.notes.signing.note_content``).
    content_sha256: Mapped[str | None] = mapped_column(String(64))
    #: The version of the signed content the hash was computed under (``tracker.notes.fields.CONTENT_VERSION``
    #: at signing); notes signed before versions are version 1.
    content_version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    #: The signer needed a co-signature when signing: the note waits in their supervisor's queue.
    cosign_required: Mapped[bool] = mapped_column(Boolean, server_default=false())

    __mapper_args__ = {"version_id_col": version_id}

    session: Mapped[TherapySession] = relationship(lazy="raise_on_sql")
    author: Mapped[User] = relationship(foreign_keys=[author_id], lazy="raise_on_sql")
    updated_by: Mapped[User] = relationship(foreign_keys=[updated_by_id], lazy="raise_on_sql")
    signed_by: Mapped[User | None] = relationship(foreign_keys=[signed_by_id], lazy="raise_on_sql")
    vitals: Mapped[list[VitalReading]] = relationship(
        back_populates="note", lazy="raise_on_sql", order_by="(VitalReading.taken_at, VitalReading.id)"
    )
    adverse_events: Mapped[list[AdverseEvent]] = relationship(
        back_populates="note", lazy="raise_on_sql", order_by="(AdverseEvent.onset_at, AdverseEvent.id)"
    )
    addenda: Mapped[list[NoteAddendum]] = relationship(
        back_populates="note", lazy="raise_on_sql", order_by="NoteAddendum.id"
    )
    cosign_decisions: Mapped[list[CosignDecision]] = relationship(
        back_populates="note", lazy="raise_on_sql", order_by="CosignDecision.id"
    )

    @property
    def is_signed(self) -> bool:
        return self.signed_at is not None

    @property
    def total_mg(self) -> float | None:
        """Everything given in the session: the dose plus any supplemental dose."""
        if self.dose_total_mg is None:
            return None
        return round(self.dose_total_mg + (self.supplemental_mg or 0), 3)


def _plausible(sign: str) -> CheckConstraint:
    low, high = PLAUSIBLE[sign]
    return CheckConstraint(f"{sign} IS NULL OR {sign} BETWEEN {low:g} AND {high:g}", name=f"{sign}_plausible")


class VitalReading(Base):
    """One set of vital signs taken during a dosing session; ``flags`` keeps what was out of range when it was
    entered, with the protocol's limit, so the patient page can list it without re-reading protocol files."""

    __tablename__ = "vital_reading"
    __table_args__ = (
        CheckConstraint(
            "systolic IS NOT NULL OR diastolic IS NOT NULL OR heart_rate IS NOT NULL OR temperature IS NOT NULL "
            "OR spo2 IS NOT NULL",
            name="has_a_value",
        ),
        CheckConstraint(
            "systolic IS NULL OR diastolic IS NULL OR systolic > diastolic", name="systolic_above_diastolic"
        ),
        *(_plausible(sign) for sign in PLAUSIBLE),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    note_id: Mapped[int] = mapped_column(ForeignKey("session_note.id"), index=True)
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime())
    systolic: Mapped[int | None]
    diastolic: Mapped[int | None]
    heart_rate: Mapped[int | None]
    temperature: Mapped[float | None] = mapped_column(Float)
    spo2: Mapped[int | None]
    #: ``{sign: "Heart rate 112 bpm is above the protocol's limit of 100 bpm"}``; None when all were in range.
    flags: Mapped[dict[str, str] | None] = mapped_column(JSON(none_as_null=True))
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    note: Mapped[SessionNote] = relationship(back_populates="vitals", lazy="raise_on_sql")


class Severity(enum.StrEnum):
    MILD = "mild"
    MODERATE = "moderate"
    SEVERE = "severe"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class Outcome(enum.StrEnum):
    """Outcome categories of ICH E2B adverse-event reporting."""

    RECOVERED = "recovered"
    RECOVERING = "recovering"
    NOT_RECOVERED = "not_recovered"
    RECOVERED_WITH_SEQUELAE = "recovered_with_sequelae"
    FATAL = "fatal"
    UNKNOWN = "unknown"

    @property
    def label(self) -> str:
        return {
            "recovered": "Recovered / resolved",
            "recovering": "Recovering / resolving",
            "not_recovered": "Not recovered / not resolved",
            "recovered_with_sequelae": "Recovered with sequelae",
            "fatal": "Fatal",
            "unknown": "Unknown",
        }[self.value]


class AdverseEventCorrection(Base):
    """A signed correction of an adverse event's seriousness (a serious event marked by mistake, or the reverse):
    the event and its signed note stay as they were, this row says what stands from now on, with the reason, who
    signed it (password re-entered) and the SHA-256 of what they signed. Append-only (the migration's triggers);
    the newest correction of an event stands (``tracker.adverse_events``)."""

    __tablename__ = "adverse_event_correction"

    id: Mapped[int] = mapped_column(primary_key=True)
    adverse_event_id: Mapped[int] = mapped_column(ForeignKey("adverse_event.id"), index=True)
    serious: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(String(200))
    signed_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    content_sha256: Mapped[str] = mapped_column(String(64))

    signed_by: Mapped[User] = relationship(lazy="raise_on_sql")


class AdverseEvent(Base):
    """An adverse event during a dosing session, with any rescue medication given (rescue personnel and equipment
    are required where ketamine is given: ASA statement on the safe use of ketamine,
    https://www.asahq.org/standards-and-practice-parameters/statement-on-safe-use-of-ketamine; SPRAVATO REMS)."""

    __tablename__ = "adverse_event"
    __table_args__ = (
        # The dashboard lists serious events by onset (tracker.attention.serious_adverse_events).
        Index("ix_adverse_event_onset_at", "onset_at"),
        CheckConstraint(
            "(rescue_medication IS NULL) = (rescue_dose IS NULL) "
            "AND (rescue_medication IS NULL) = (rescue_given_at IS NULL)",
            name="rescue_complete",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    note_id: Mapped[int] = mapped_column(ForeignKey("session_note.id"), index=True)
    description: Mapped[str] = mapped_column(Text)
    onset_at: Mapped[datetime] = mapped_column(UTCDateTime())
    severity: Mapped[Severity] = mapped_column(enum_type(Severity, "severity"))
    #: Serious in the regulatory sense (death, life-threatening, hospitalisation, disability...): reportable, as
    #: recorded. Every reader asks ``serious_now`` (``tracker.adverse_events``), which a signed correction
    #: overrides.
    serious: Mapped[bool] = mapped_column(Boolean)
    action_taken: Mapped[str] = mapped_column(Text)
    outcome: Mapped[Outcome] = mapped_column(enum_type(Outcome, "outcome"))
    rescue_medication: Mapped[str | None] = mapped_column(String(120))
    rescue_dose: Mapped[str | None] = mapped_column(String(60))
    rescue_given_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    note: Mapped[SessionNote] = relationship(back_populates="adverse_events", lazy="raise_on_sql")
    corrections: Mapped[list[AdverseEventCorrection]] = relationship(
        order_by=(AdverseEventCorrection.signed_at, AdverseEventCorrection.id),
        lazy="raise_on_sql",
        viewonly=True,
    )

    #: The seriousness that stands: the newest signed correction's, else the recorded one. Loaded with the row (a
    #: correlated subquery, no extra statement); also usable in queries (``AdverseEvent.serious_now``).
    serious_now: Mapped[bool] = column_property(
        func.coalesce(
            select(AdverseEventCorrection.serious)
            .where(AdverseEventCorrection.adverse_event_id == id)
            .order_by(AdverseEventCorrection.signed_at.desc(), AdverseEventCorrection.id.desc())
            .limit(1)
            .correlate_except(AdverseEventCorrection)
            .scalar_subquery(),
            serious,
        )
    )


class NoteAddendum(Base):
    """A correction or later addition to a signed note: signed as it is written, and never changed (the
    database refuses UPDATE and DELETE). HIPAA 164.526(c)(1): linked to the record it amends."""

    __tablename__ = "note_addendum"

    id: Mapped[int] = mapped_column(primary_key=True)
    note_id: Mapped[int] = mapped_column(ForeignKey("session_note.id"), index=True)
    reason: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    signed_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    content_sha256: Mapped[str] = mapped_column(String(64))

    note: Mapped[SessionNote] = relationship(back_populates="addenda", lazy="raise_on_sql")
    signed_by: Mapped[User] = relationship(lazy="raise_on_sql")


class CosignOutcome(enum.StrEnum):
    COSIGNED = "cosigned"
    RETURNED = "returned"

    @property
    def label(self) -> str:
        return "Co-signed" if self is CosignOutcome.COSIGNED else "Returned to the author"


class CosignDecision(Base):
    """A supervisor's decision on a note awaiting co-signature: co-signed, or returned with a comment. Another
    signature row (as OpenEMR keeps several per object), append-only; the latest decision counts until a newer
    addendum asks for another look (``tracker.notes.cosign``)."""

    __tablename__ = "cosign_decision"
    __table_args__ = (
        CheckConstraint("decision <> 'returned' OR comment IS NOT NULL", name="returned_with_comment"),
        Index("ix_cosign_decision_note_decided", "note_id", "decided_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    note_id: Mapped[int] = mapped_column(ForeignKey("session_note.id"))
    supervisor_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    decision: Mapped[CosignOutcome] = mapped_column(enum_type(CosignOutcome, "decision"))
    comment: Mapped[str | None] = mapped_column(Text)
    #: The note and addenda hashes the supervisor looked at, hashed together.
    content_sha256: Mapped[str] = mapped_column(String(64))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime())

    note: Mapped[SessionNote] = relationship(back_populates="cosign_decisions", lazy="raise_on_sql")
    supervisor: Mapped[User] = relationship(lazy="raise_on_sql")


class ProcessNote(Base):
    """A psychotherapy process note: the therapist's private working notes about a session, readable only by
    their author, never signed, and left out of everything else (HIPAA 45 CFR 164.501, psychotherapy notes)."""

    __tablename__ = "process_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("therapy_session.id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    body: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    version_id: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("uq_process_note_session_author", "session_id", "author_id", unique=True),)
    __mapper_args__ = {"version_id_col": version_id}

    session: Mapped[TherapySession] = relationship(lazy="raise_on_sql")


class FormDraft(Base):
    """What a user has typed into a form but not saved yet, kept on the server (never in the browser, which may be
    a shared clinic computer) so a note is not lost to a timeout or an expired form. One per user and form."""

    __tablename__ = "form_draft"
    __table_args__ = (Index("uq_form_draft_user_key", "user_id", "key", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    #: Which form: ``note-<session id>``, ``addendum-<session id>``, ``private-<note id>``...
    key: Mapped[str] = mapped_column(String(60))
    #: Field name -> list of values as posted (passwords and CSRF tokens are never kept).
    data: Mapped[dict[str, list[str]]] = mapped_column(JSON)
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
