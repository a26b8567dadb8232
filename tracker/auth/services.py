"""Authentication: checking credentials, opening and closing login sessions, and the Flask-Login loader."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import current_app, g
from sqlalchemy import select

from tracker import audit, passwords
from tracker.auth import sessions, throttle
from tracker.database import writing
from tracker.extensions import db, login_manager
from tracker.models import SessionEnd, User
from tracker.models.base import utcnow

log = logging.getLogger(__name__)

#: One message for every failure, so the page never reveals whether an account exists.
LOGIN_FAILED = "Invalid username or password."


def normalise_username(username: str) -> str:
    return username.strip().casefold()


class Throttled(Exception):
    """Too many failed sign-ins for this account name in the current window; the password was not checked."""


def check_credentials(username: str, password: str, ip: str | None = None) -> User | None:
    """The active user with these credentials; None otherwise. Starts no session: the sign-in may have steps
    left (``tracker.auth.signin``).

    Runs its own short transactions, so no database lock is held while Argon2 checks the password (a tenth of a
    second of CPU): the attempt is charged to the account name at this address and everywhere
    (``tracker.auth.throttle``) and committed first, then the password is checked, then the outcome is written. No
    count of the address alone ever refuses an attempt: a clinic signs in from behind one NAT address, so failures
    at other names from it must never stop a colleague's correct sign-in; the address is flagged instead
    (``_count_address_failure``), and the front proxy caps the rate (README, "Deployment"). Failures are audited:
    against the account when the name is one, with nothing typed when it is not (a password typed into the name box
    would otherwise sit in the trail). A deactivated account fails exactly like a wrong password.

    :raise Throttled: the account name, at this address or everywhere, has used up its attempts for the window
        (audited, committed).
    """
    config = current_app.config
    name = normalise_username(username)
    now, window = utcnow(), config["LOGIN_FAILURE_WINDOW"]
    keys = [throttle.pair_key(name, ip), throttle.account_key(name)]
    limits = [config["LOGIN_FAILURES_PER_ACCOUNT_ADDRESS"], config["LOGIN_FAILURES_PER_ACCOUNT"]]
    counts = [throttle.charge(db.session, key, now, window) for key in keys]
    if counts[0] > limits[0] or counts[1] > limits[1]:
        known = db.session.scalar(select(User).where(User.username == name))
        where = "from this address" if counts[0] > limits[0] else "from every address"
        audit.record(
            known,
            "auth.login_throttled",
            f"Refused a sign-in: too many failures for this account {where}",
            clinic_id=known.clinic_id if known else None,
        )
        db.session.commit()
        raise Throttled
    db.session.commit()  # the attempt counts, whatever happens next
    stored = db.session.scalar(select(User.password_hash).where(User.username == name))
    db.session.commit()
    valid = passwords.verify_password(stored, password)
    # Read the account again: it may have been deactivated or given a new password while the hash was checked.
    user: User | None = db.session.scalar(
        select(User).where(User.username == name).execution_options(populate_existing=True)
    )
    if user is None:
        # The row (time and address) shows the server's operator that names are being guessed (README, "Audit").
        audit.record(None, "auth.login_failed", "Failed sign-in with an account name nobody has", clinic_id=None)
    elif not valid or not user.active or user.password_hash != stored:
        audit.record(user, "auth.login_failed", f"Failed sign-in as {user.username}", data={"username": user.username})
    if user is None or not valid or not user.active or user.password_hash != stored:
        if ip:
            _count_address_failure(ip)
        return None
    for key in keys:
        throttle.refund(db.session, key)
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    return user


def start_session(user: User, ip: str | None, how: str) -> None:
    """Open the login session (the last step of a sign-in) and audit it; ``how``: "password", "password+totp",
    "password+recovery code"."""
    sessions.start(db.session, user, ip, utcnow())
    audit.record(user, "auth.login", f"{user.username} signed in", data={"with": how})


def authenticate(username: str, password: str, ip: str | None) -> User | None:
    """Password-only sign-in in one call (the command line and tests of accounts without further steps).

    :raise Throttled: as ``check_credentials``.
    """
    user = check_credentials(username, password, ip)
    if user is not None:
        start_session(user, ip, "password")
    return user


def _count_address_failure(ip: str) -> None:
    """Count a failure against the client address, and flag the address once as it passes the threshold."""
    config = current_app.config
    failures = throttle.charge(db.session, throttle.address_key(ip), utcnow(), config["LOGIN_FAILURE_WINDOW"])
    if failures == config["LOGIN_FAILURES_FLAG_ADDRESS"]:
        log.warning("login failures from one address passed the threshold", extra={"client": ip, "failures": failures})
        audit.record(
            None,
            "auth.address_flagged",
            f"{failures} failed sign-ins from {ip} within the window",
            data={"failures": failures},
        )


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
    """Resume the login session named by the cookie. Most requests only read it, in the request's own transaction;
    when the idle clock is due to move (``sessions.TOUCH_EVERY``) or the session ends, that is committed in a
    short write transaction of its own, in read requests too. A request refused for its CSRF token writes nothing
    but an ended session."""
    config = current_app.config
    now, touch = utcnow(), not g.get("csrf_refused", False)
    idle, lifetime = config["IDLE_TIMEOUT"], config["ABSOLUTE_SESSION_LIFETIME"]
    resumed = sessions.resume(db.session, token, now, idle, lifetime, touch=touch, write=False)
    if resumed is None:
        with writing(db.session):
            resumed = sessions.resume(db.session, token, now, idle, lifetime, touch=touch)
            assert resumed is not None
            db.session.commit()
    if resumed.ended is not None:
        g.session_ended = resumed.ended
    user: User | None = resumed.user
    return user
