"""All models, imported here so Alembic's autogenerate and the schema test see every table."""

from tracker.models.audit import AuditEvent
from tracker.models.base import Base
from tracker.models.clinic import Clinic
from tracker.models.patient import (
    ACTIVE_PHASES,
    CareRole,
    CareTeamMember,
    Indication,
    Patient,
    Phase,
    PhaseTransition,
)
from tracker.models.user import LoginSession, Role, SessionEnd, User

__all__ = [
    "ACTIVE_PHASES",
    "AuditEvent",
    "Base",
    "CareRole",
    "CareTeamMember",
    "Clinic",
    "Indication",
    "LoginSession",
    "Patient",
    "Phase",
    "PhaseTransition",
    "Role",
    "SessionEnd",
    "User",
]
