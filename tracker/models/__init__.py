"""All models, imported here so Alembic's autogenerate and the schema test see every table."""

from tracker.models.alert import AlertNotice, AlertSource, NoticeStatus, SafetyAlert
from tracker.models.audit import AuditChainHead, AuditEvent, AuditHeadNote
from tracker.models.base import Base
from tracker.models.clinic import Clinic
from tracker.models.emergency import EmergencyAccess, EmergencyReview
from tracker.models.lab import LabResult
from tracker.models.note import (
    AdverseEvent,
    AdverseEventCorrection,
    CosignDecision,
    CosignOutcome,
    DoseUnit,
    FormDraft,
    NoteAddendum,
    Outcome,
    ProcessNote,
    Route,
    SessionNote,
    Severity,
    VitalReading,
)
from tracker.models.outcome import AdministrationMode, MeasureResult
from tracker.models.overview import ClinicOverview
from tracker.models.patient import (
    ACTIVE_PHASES,
    CareRole,
    CareTeamMember,
    Indication,
    Patient,
    Phase,
    PhaseTransition,
    SexAtBirth,
)
from tracker.models.plan import IntegrationPlanVersion, PlanHandout
from tracker.models.questionnaire import QuestionnaireLink
from tracker.models.report_job import JobKind, JobStatus, ReportJob, ReportJobDocument
from tracker.models.screening import (
    AnswerValue,
    Medication,
    ReviewDecision,
    ScreeningAnswer,
    ScreeningChecklist,
    ScreeningReview,
)
from tracker.models.session import SessionKind, TherapySession, session_therapist
from tracker.models.throttle import LoginThrottle
from tracker.models.user import LoginSession, PasswordReset, PendingSignIn, RecoveryCode, Role, SessionEnd, User

__all__ = [
    "ACTIVE_PHASES",
    "AdministrationMode",
    "AdverseEvent",
    "AdverseEventCorrection",
    "AlertNotice",
    "AlertSource",
    "AnswerValue",
    "AuditChainHead",
    "AuditEvent",
    "AuditHeadNote",
    "Base",
    "CareRole",
    "CareTeamMember",
    "Clinic",
    "ClinicOverview",
    "CosignDecision",
    "CosignOutcome",
    "DoseUnit",
    "EmergencyAccess",
    "EmergencyReview",
    "FormDraft",
    "Indication",
    "IntegrationPlanVersion",
    "JobKind",
    "JobStatus",
    "LabResult",
    "LoginSession",
    "LoginThrottle",
    "MeasureResult",
    "Medication",
    "NoteAddendum",
    "NoticeStatus",
    "Outcome",
    "PasswordReset",
    "Patient",
    "PendingSignIn",
    "Phase",
    "PhaseTransition",
    "PlanHandout",
    "ProcessNote",
    "QuestionnaireLink",
    "RecoveryCode",
    "ReportJob",
    "ReportJobDocument",
    "ReviewDecision",
    "Role",
    "Route",
    "SafetyAlert",
    "ScreeningAnswer",
    "ScreeningChecklist",
    "ScreeningReview",
    "SessionEnd",
    "SessionKind",
    "SessionNote",
    "Severity",
    "SexAtBirth",
    "TherapySession",
    "User",
    "VitalReading",
    "session_therapist",
]
