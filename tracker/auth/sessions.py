"""Server-side login sessions (OWASP ASVS 5.0.0 7.3, 7.4: logout invalidates the session at the backend, which
Flask's signed-cookie session cannot do: https://github.com/maxcountryman/flask-login/issues/480).

The cookie holds only a random token; its SHA-256 is stored in ``login_session``. Logging out, idling past the
timeout, passing the absolute lifetime, or being deactivated ends the row, and a copy of the cookie taken before
then opens nothing afterwards.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from tracker.database import AnySession
from tracker.models import LoginSession, SessionEnd, User


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(db: AnySession, user: User, ip: str | None, now: datetime) -> str:
    """Open a login session for ``user`` and return the token to put in the cookie."""
    token = secrets.token_urlsafe(32)
    db.add(LoginSession(token_hash=digest(token), user_id=user.id, created_at=now, last_seen_at=now, ip=ip))
    user.attach_login(token)
    return token


@dataclass(frozen=True)
class Resumed:
    user: User | None
    ended: SessionEnd | None = None  # why the session just ended, for the login page


#: The idle clock moves at most this often: a request within a minute of the last recorded one writes nothing, so
#: a clinician's clicks are not each a write transaction (and, on SQLite, a wait for the one write lock). A session
#: may therefore end up to this much before ``IDLE_TIMEOUT`` of real inactivity, never after it.
TOUCH_EVERY = timedelta(minutes=1)


def resume(
    db: AnySession,
    token: str,
    now: datetime,
    idle: timedelta,
    lifetime: timedelta,
    *,
    touch: bool = True,
    write: bool = True,
) -> Resumed | None:
    """The user behind ``token`` if the session is still open; otherwise end it and say why. ``touch=False`` leaves
    the idle clock alone (a refused, possibly forged, request is not activity). With ``write=False`` nothing is
    changed: None when the session would have to be ended or its idle clock moved, for the caller to do that in
    a write transaction."""
    row = db.scalar(
        select(LoginSession)
        .where(LoginSession.token_hash == digest(token))
        # The user's clinic in the same statement: every page reads its time zone (tracker.clinics).
        .options(joinedload(LoginSession.user).joinedload(User.clinic))
    )
    if row is None or row.ended_at is not None:
        return Resumed(None)
    reason = None
    if not row.user.active:
        reason = SessionEnd.DEACTIVATED
    elif now - row.last_seen_at > idle:
        reason = SessionEnd.IDLE
    elif now - row.created_at > lifetime:
        reason = SessionEnd.EXPIRED
    moves = touch and now - row.last_seen_at >= TOUCH_EVERY
    if not write and (reason is not None or moves):
        return None
    if reason is not None:
        row.ended_at, row.end_reason = now, reason.value
        return Resumed(None, reason)
    if moves:
        row.last_seen_at = now
    row.user.attach_login(token)
    return Resumed(row.user)


def end(db: AnySession, token: str, reason: SessionEnd, now: datetime) -> None:
    db.execute(
        update(LoginSession)
        .where(LoginSession.token_hash == digest(token), LoginSession.ended_at.is_(None))
        .values(ended_at=now, end_reason=reason.value)
    )


def end_all_for(db: AnySession, user: User, reason: SessionEnd, now: datetime) -> None:
    """End every open session of ``user`` (deactivation, password change)."""
    db.execute(
        update(LoginSession)
        .where(LoginSession.user_id == user.id, LoginSession.ended_at.is_(None))
        .values(ended_at=now, end_reason=reason.value)
    )
