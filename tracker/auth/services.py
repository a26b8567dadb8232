"""Authentication: checking credentials, opening and closing login sessions, and the Flask-Login loader."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, g
from sqlalchemy import select

from tracker import audit, passwords
from tracker.auth import sessions
from tracker.extensions import db, login_manager
from tracker.models import SessionEnd, User
from tracker.models.base import utcnow

#: One message for every failure, so the page never reveals whether an account exists.
LOGIN_FAILED = "Invalid username or password."


def normalise_username(username: str) -> str:
    return username.strip().casefold()


def check_credentials(username: str, password: str) -> User | None:
    """The active user with these credentials; None otherwise. Starts no session: the sign-in may have steps
    left (``tracker.auth.signin``).

    Failures are audited: against the account when the name is one, with nothing typed when it is not (a password
    typed into the name box would otherwise sit in the trail). A deactivated account fails exactly like a wrong
    password.
    """
    name = normalise_username(username)
    user: User | None = db.session.scalar(select(User).where(User.username == name))
    valid = passwords.verify_password(user.password_hash if user else None, password)
    if user is None:
        # The row (time and address) shows admins that names are being guessed (tracker/auditlog/trail.py).
        audit.record(None, "auth.login_failed", "Failed sign-in with an account name nobody has", clinic_id=None)
        return None
    if not valid or not user.active:
        audit.record(user, "auth.login_failed", f"Failed sign-in as {user.username}", data={"username": user.username})
        return None
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    return user


def start_session(user: User, ip: str | None, how: str) -> None:
    """Open the login session (the last step of a sign-in) and audit it; ``how``: "password", "password+totp",
    "password+recovery code"."""
    sessions.start(db.session, user, ip, utcnow())
    audit.record(user, "auth.login", f"{user.username} signed in", data={"with": how})


def authenticate(username: str, password: str, ip: str | None) -> User | None:
    """Password-only sign-in in one call (the command line and tests of accounts without further steps)."""
    user = check_credentials(username, password)
    if user is not None:
        start_session(user, ip, "password")
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
    """Resume the login session named by the cookie; commits its last-seen time (the idle clock), except for a
    request refused for its CSRF token, which writes nothing."""
    config = current_app.config
    resumed = sessions.resume(
        db.session, token, utcnow(), config["IDLE_TIMEOUT"], config["ABSOLUTE_SESSION_LIFETIME"],
        touch=not g.get("csrf_refused", False),
    )
    if resumed.ended is not None:
        g.session_ended = resumed.ended
    db.session.commit()
    user: User | None = resumed.user
    return user
