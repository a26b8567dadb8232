"""Staff accounts, their roles and supervision links, and their server-side login sessions."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, String, false, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.models.base import Base, UTCDateTime, utcnow
from tracker.models.clinic import Clinic


class Role(enum.StrEnum):
    THERAPIST = "therapist"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class User(UserMixin, Base):
    __tablename__ = "user_account"  # "user" is reserved in PostgreSQL
    __table_args__ = (
        CheckConstraint("is_therapist OR is_supervisor OR is_admin", name="has_a_role"),
        CheckConstraint("supervisor_id IS NULL OR supervisor_id <> id", name="not_own_supervisor"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"), index=True)
    #: Login name, stored case-folded so "Ana" and "ana" cannot be two accounts.
    username: Mapped[str] = mapped_column(String(80), unique=True)
    full_name: Mapped[str] = mapped_column(String(120))
    #: Where urgent safety alerts are e-mailed (``tracker.alerts.notices``); None: the person is told in the app only.
    email: Mapped[str | None] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_therapist: Mapped[bool] = mapped_column(Boolean, server_default=false())
    is_supervisor: Mapped[bool] = mapped_column(Boolean, server_default=false())
    is_admin: Mapped[bool] = mapped_column(Boolean, server_default=false())
    #: The supervisor who reviews this therapist's caseload.
    supervisor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    #: Their signed notes wait for their supervisor's co-signature (trainees, supervised licences).
    needs_cosign: Mapped[bool] = mapped_column(Boolean, server_default=false())
    #: Deactivated accounts keep their history (audit rows point at them) but cannot log in.
    active: Mapped[bool] = mapped_column(Boolean, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: An admin asked for a new password: the next sign-in sets one before anything else.
    must_change_password: Mapped[bool] = mapped_column(Boolean, server_default=false())
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: The TOTP secret (RFC 6238, base32): kept while enrolment is under way, in use once ``totp_enabled_at`` is set.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: The time step of the last code accepted: a code is usable once (ASVS V6.5.1), never an older one either.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    #: SHA-256 of the secret in the user's calendar feed link (``tracker.calendar.feed``); None: no link.
    calendar_token_sha256: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)

    clinic: Mapped[Clinic] = relationship(lazy="raise_on_sql")
    supervisor: Mapped[User | None] = relationship(remote_side=[id], lazy="raise_on_sql")

    def attach_login(self, token: str) -> None:
        """Remember the login session this object was loaded for (not a column).

        Flask-Login stores ``get_id()`` in the cookie; returning the session token instead of the user id means
        that ending the session on the server ends the cookie too (a Flask session cookie otherwise outlives logout:
        https://github.com/maxcountryman/flask-login/issues/480).
        """
        self._login_token = token

    def get_id(self) -> str | None:
        return getattr(self, "_login_token", None)

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def roles(self) -> set[Role]:
        flags = {Role.THERAPIST: self.is_therapist, Role.SUPERVISOR: self.is_supervisor, Role.ADMIN: self.is_admin}
        return {role for role, held in flags.items() if held}

    def has_role(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def has_two_factor(self) -> bool:
        return self.totp_enabled_at is not None

    @property
    def is_clinician(self) -> bool:
        """Clinical content is for therapists and supervisors; an admin-only account never sees it."""
        return self.is_therapist or self.is_supervisor

    def __repr__(self) -> str:
        return f"<User {self.id} {self.username!r}>"


class SessionEnd(enum.StrEnum):
    LOGOUT = "logout"
    IDLE = "idle"
    EXPIRED = "expired"
    DEACTIVATED = "deactivated"
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 - why a session ended, not a password


class LoginSession(Base):
    """One login, held on the server. The cookie carries only a random token whose hash is stored here."""

    __tablename__ = "login_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    end_reason: Mapped[str | None] = mapped_column(String(20))
    ip: Mapped[str | None] = mapped_column(String(45))

    user: Mapped[User] = relationship(lazy="raise_on_sql")


class PasswordReset(Base):
    """A one-time, expiring set-password link an admin (or the command line) issued for an account. Only the SHA-256
    of the link's token is stored; the link itself is shown once, to whoever issued it."""

    __tablename__ = "password_reset"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: None when issued from the command line.
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: Set when the link was used, or cancelled by a newer link; a link works once.
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="raise_on_sql")


class RecoveryCode(Base):
    """A single-use two-factor recovery code, for a lost phone. Stored as its SHA-256 (the codes are random, 80
    bits each, so a fast hash is enough); shown once, when made."""

    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PendingSignIn(Base):
    """A sign-in whose password was right but whose later steps (second factor, enrolment, new password) are not done.
    The cookie carries a random token whose SHA-256 is stored here, with the steps done so far: the row is consumed
    when the login session opens, so a copy of the cookie replayed afterwards finds nothing, and it is void once the
    account's password changes or the account is deactivated."""

    __tablename__ = "pending_sign_in"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: The second factor used ("totp", "recovery"), once the step is done.
    second: Mapped[str | None] = mapped_column(String(20))
