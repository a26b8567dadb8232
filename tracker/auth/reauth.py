"""Re-entering one's password to confirm a serious act: signing a note or an addendum, emergency access, changing
one's own password or two-factor settings (HIPAA 164.312(d); ASVS 5.0 V6.3.1, V16.3.1).

One check for every door. It is throttled per account, across every door and every server process, by a counter in
the database (``tracker.auth.throttle``, no counter that a restart or a second worker would reset): each attempt is
charged atomically before the password is checked, so concurrent attempts cannot all slip under the limit, and a
right password gives its charge back. After ``REAUTH_MAX_FAILURES`` wrong passwords within ``REAUTH_WINDOW_MINUTES``
even the right one is refused until the window has passed. The charge is committed before Argon2 runs, so no
database write lock is held while the hash is checked (a tenth of a second of CPU that would otherwise stall every
writer of a SQLite clinic): check first, then write. Every wrong password and every refused attempt leaves an
audit row, which the caller commits even though the act itself fails.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select

from tracker import audit, passwords
from tracker.auth import throttle
from tracker.extensions import db
from tracker.models import AuditEvent, Patient, User
from tracker.models.base import utcnow

FAILED = "auth.reauth_failed"
THROTTLED = "auth.reauth_throttled"

WRONG_PASSWORD = "That is not your password. Enter the password you sign in with."  # noqa: S105 - a message


class ReauthFailed(ValueError):
    """The password was wrong, or re-entry is throttled; the message is for the password field."""


class ReauthThrottled(ReauthFailed):
    pass


def recent_failures(user: User, action: str, now: datetime, window: timedelta) -> int:
    """How many ``action`` rows the audit trail holds for ``user`` since ``now - window``. On PostgreSQL the
    account's row is locked first, so two concurrent attempts cannot both read the count below the limit."""
    db.session.execute(select(User.id).where(User.id == user.id).with_for_update())
    count = db.session.scalar(
        select(func.count(AuditEvent.id)).where(
            AuditEvent.actor_id == user.id, AuditEvent.action == action, AuditEvent.created_at >= now - window
        )
    )
    return count or 0


def throttled_message(minutes: int) -> str:
    return (
        f"Too many wrong passwords. Wait {minutes} minutes before trying again; every attempt is recorded in the "
        "audit trail."
    )


def confirm_password(actor: User, password: str, purpose: str, *, patient: Patient | None = None) -> None:
    """Check ``password`` against ``actor``'s own, to ``purpose`` (e.g. "sign a dosing note").

    :raise ReauthThrottled: too many recent failures; the password was not even checked (audited).
    :raise ReauthFailed: a wrong password (audited).
    """
    config = current_app.config
    minutes = int(config["REAUTH_WINDOW_MINUTES"])
    key = f"reauth:{actor.id}"
    attempts = throttle.charge(db.session, key, utcnow(), timedelta(minutes=minutes))
    if attempts > int(config["REAUTH_MAX_FAILURES"]):
        audit.record(
            actor,
            THROTTLED,
            f"Password re-entry refused after repeated failures: {purpose}",
            patient=patient,
            data={"purpose": purpose},
        )
        raise ReauthThrottled(throttled_message(minutes))
    stored = db.session.scalar(select(User.password_hash).where(User.id == actor.id))
    db.session.commit()  # the charge counts, and the write lock is let go before the hash is checked
    if passwords.verify_password(stored, password):
        throttle.refund(db.session, key)
        db.session.commit()  # kept whatever the caller does next: a step refused after this (a signing the gate
        return  # holds back, a note changed meanwhile) rolls back, and a right password must never count as wrong
    audit.record(actor, FAILED, f"Wrong password re-entered to {purpose}", patient=patient, data={"purpose": purpose})
    raise ReauthFailed(WRONG_PASSWORD)
