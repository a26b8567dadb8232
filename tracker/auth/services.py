"""Authentication: checking credentials, opening and closing login sessions, and the Flask-Login loader."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, g
from sqlalchemy import select

from tracker import audit, passwords
from tracker.auth import sessions
from tracker.database import writing
from tracker.extensions import db, login_manager
from tracker.models import SessionEnd, User
from tracker.models.base import utcnow

#: One message for every failure, so the page never reveals whether an account exists.
LOGIN_FAILED = "Invalid username or password."


def normalise_username(username: str) -> str:
    return username.strip().casefold()


def authenticate(username: str, password: str, ip: str | None) -> User | None:
    """The active user with these credentials, signed in with a new login session; None otherwise.

    Failures are audited with the name as typed. A deactivated account fails exactly like a wrong password.
    """
    name = normalise_username(username)
    user: User | None = db.session.scalar(select(User).where(User.username == name))
    valid = passwords.verify_password(user.password_hash if user else None, password)
    if user is None or not valid or not user.active:
        audit.record(
            user, "auth.login_failed", f"Failed sign-in as {name[:80]!r}", data={"username": name[:80]},
            clinic_id=user.clinic_id if user else None,
        )
        return None
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    sessions.start(db.session, user, ip, utcnow())
    audit.record(user, "auth.login", f"{user.username} signed in")
    return user


def sign_out(user: User) -> None:
    token = user.get_id()
    if token:
        sessions.end(db.session, token, SessionEnd.LOGOUT, utcnow())
    audit.record(user, "auth.logout", f"{user.username} signed out")


def is_safe_next(target: str | None) -> bool:
    """Only same-site relative paths: no scheme, no host, no ``//`` or ``\\`` tricks (ASVS 3.7.2)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return False
    if "\\" in target or any(ord(ch) < 32 for ch in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


@login_manager.user_loader
def load_user(token: str) -> User | None:
    """Resume the login session named by the cookie; commits its last-seen time (the idle clock)."""
    config = current_app.config
    with writing(db.session):  # a short write transaction of its own, in read requests too
        resumed = sessions.resume(
            db.session, token, utcnow(), config["IDLE_TIMEOUT"], config["ABSOLUTE_SESSION_LIFETIME"]
        )
        db.session.commit()
    if resumed.ended is not None:
        g.session_ended = resumed.ended
    user: User | None = resumed.user
    return user
