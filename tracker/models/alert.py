"""Safety alerts, whatever raised them, and the e-mail that tells people about them.

A ``SafetyAlert`` is raised by an urgent signal from one of five sources (``AlertSource``): a measure result with an
urgent flag, a vital sign past the protocol's critical limit during a dosing session, a serious adverse event, an
integration note's risk check marked escalated, or an urgent answer posted on a questionnaire link that had closed
meanwhile (which stores no result). It names its source (the result; the session whose note holds the reading,
event or risk check, with that row's id; or the questionnaire link's id) and keeps, in ``summary``, why it was
raised as it was then: a draft note's mistyped reading can be removed afterwards, and the alert must still say what
it was about.

It stays open until it is acknowledged with the action taken: who, when, the clinic's actions chosen and the
action in words. A ``high_risk`` alert (C-SSRS high risk, a suicide-plan answer, a serious adverse event, an
escalated risk check) holds the next dose (``tracker.gate``) and is closed only by a supervisor. Database triggers
refuse deleting an alert, changing what it is about, or changing it again once acknowledged (see the migration).

An ``AlertNotice`` is one e-mail about an alert to one person: at once to the care team and their supervisors
(level 0), then, while the alert stays open, to the next supervisor up (level 1, 2...). It records the delivery
(queued, sent, failed, with the attempts and the last error) for the admin's page; the message itself holds no
health information.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship, selectinload
from sqlalchemy.orm.interfaces import LoaderOption

from tracker.models.base import Base, UTCDateTime, enum_type, utcnow
from tracker.models.outcome import MeasureResult
from tracker.models.patient import Patient
from tracker.models.user import User


class AlertSource(enum.StrEnum):
    """What raised an alert."""

    MEASURE = "measure"
    VITAL_SIGN = "vital_sign"
    ADVERSE_EVENT = "adverse_event"
    RISK_CHECK = "risk_check"
    QUESTIONNAIRE_LINK = "questionnaire_link"

    @property
    def label(self) -> str:
        return {
            AlertSource.MEASURE: "Urgent measure answer",
            AlertSource.VITAL_SIGN: "Vital sign past the critical limit",
            AlertSource.ADVERSE_EVENT: "Serious adverse event",
            AlertSource.RISK_CHECK: "Risk check escalated",
            AlertSource.QUESTIONNAIRE_LINK: "Urgent answer on a closed questionnaire link",
        }[self]


#: What each source names: a measure its result; a questionnaire link its link (``source_row_id``), no session; the
#: others their session and row.
NAMES_ITS_SOURCE = (
    "(source = 'measure') = (result_id IS NOT NULL) "
    "AND (source IN ('measure', 'questionnaire_link')) = (session_id IS NULL) "
    "AND (source = 'measure') = (source_row_id IS NULL)"
)
#: The sources raised once per row.
ONE_PER_ROW = "source <> 'questionnaire_link'"


class SafetyAlert(Base):
    __tablename__ = "safety_alert"
    __table_args__ = (
        # Acknowledged means: by whom, when, the actions chosen and the action in words, all four.
        CheckConstraint(
            "(acknowledged_at IS NULL) = (acknowledged_by_id IS NULL) "
            "AND (acknowledged_at IS NULL) = (action_taken IS NULL) "
            "AND (acknowledged_at IS NULL) = (actions IS NULL)",
            name="acknowledged_with_action",
        ),
        CheckConstraint("action_taken IS NULL OR length(trim(action_taken)) > 0", name="action_not_blank"),
        # A measure alert names its result; a questionnaire link's names the link; every other source names the
        # session and the row it came from.
        CheckConstraint(NAMES_ITS_SOURCE, name="names_its_source"),
        CheckConstraint("length(trim(summary)) > 0", name="summary_not_blank"),
        Index(
            "ix_safety_alert_open",
            "patient_id",
            sqlite_where=text("acknowledged_at IS NULL"),
            postgresql_where=text("acknowledged_at IS NULL"),
        ),
        # One alert per reading, adverse event or note (a measure alert is one per result: result_id is unique). A
        # closed questionnaire link may raise another once its alert is acknowledged (``alerts.raising``).
        Index(
            "uq_safety_alert_source_row",
            "source",
            "source_row_id",
            unique=True,
            sqlite_where=text(ONE_PER_ROW),
            postgresql_where=text(ONE_PER_ROW),
        ),
        Index("ix_safety_alert_session_id", "session_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    source: Mapped[AlertSource] = mapped_column(enum_type(AlertSource, "alert_source"))
    #: Holds the next dose (``tracker.gate``) and is closed only by a supervisor.
    high_risk: Mapped[bool] = mapped_column(Boolean)
    #: A measure alert: the result (its urgent flags say why). One alert per result.
    result_id: Mapped[int | None] = mapped_column(ForeignKey("measure_result.id"), unique=True)
    #: A vital sign, adverse event or risk check: the session whose note holds it (the link target).
    session_id: Mapped[int | None] = mapped_column(ForeignKey("therapy_session.id"))
    #: The ``vital_reading``, ``adverse_event``, ``session_note`` or ``questionnaire_link`` id, not a foreign key: a
    #: draft's mistaken entry may be removed, and its alert stays until someone acknowledges it (saying it was an
    #: entry error).
    source_row_id: Mapped[int | None] = mapped_column(Integer)
    #: Why it was raised, in words, as it was then.
    summary: Mapped[str] = mapped_column(Text)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    #: The clinic's actions chosen (codes of ``tracker.alerts.acknowledge.ACTIONS``).
    actions: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))
    #: What was done about it, in the clinician's words.
    action_taken: Mapped[str | None] = mapped_column(Text)

    patient: Mapped[Patient] = relationship(lazy="raise_on_sql")
    result: Mapped[MeasureResult | None] = relationship(lazy="raise_on_sql")
    acknowledged_by: Mapped[User | None] = relationship(lazy="raise_on_sql")

    @property
    def is_open(self) -> bool:
        return self.acknowledged_at is None

    def __repr__(self) -> str:
        return f"<SafetyAlert {self.id} {self.source.value}{' high risk' if self.high_risk else ''}>"


def with_open_alerts() -> LoaderOption:
    """Loader option for ``Patient.open_alerts`` with each alert's result and who entered it (one more query).

    Every loader of a patient page passes it, so the banner is loaded with the page's data, before the view
    commits, rather than queried while the template renders.
    """
    return selectinload(Patient.open_alerts).joinedload(SafetyAlert.result).joinedload(MeasureResult.entered_by)


class NoticeStatus(enum.StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    #: Not needed any more: the alert was acknowledged, or the account deactivated, before it went.
    CANCELLED = "cancelled"


class AlertNotice(Base):
    """One e-mail about one alert to one person; ``user_id`` None records an escalation that found nobody further
    up the supervision chain (failed, so the admin sees it)."""

    __tablename__ = "alert_notice"
    __table_args__ = (
        Index("uq_alert_notice_alert_user", "alert_id", "user_id", unique=True),
        # The delivery sweep: what is due.
        Index("ix_alert_notice_status_due", "status", "due_at"),
        CheckConstraint("level >= 0", name="level_not_negative"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        CheckConstraint("(status = 'sent') = (sent_at IS NOT NULL)", name="sent_at_iff_sent"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("safety_alert.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    #: 0: at once, to the care team and their supervisors; n: the n-th escalation up the supervision chain.
    level: Mapped[int] = mapped_column(Integer)
    status: Mapped[NoticeStatus] = mapped_column(enum_type(NoticeStatus, "notice_status"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: When the next attempt is due (queued) or was claimed (sending).
    due_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: The address it went (or was to go) to.
    address: Mapped[str | None] = mapped_column(String(254))
    #: Why the last attempt failed, for the admin (never health information).
    last_error: Mapped[str | None] = mapped_column(String(300))

    alert: Mapped[SafetyAlert] = relationship(lazy="raise_on_sql")
    user: Mapped[User | None] = relationship(lazy="raise_on_sql")
