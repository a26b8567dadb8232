"""The steps of a sign-in after the password: the second factor (or enrolling one, when the clinic requires it of
every account, admins included), then a new password when an admin asked for one. Only after the last step does
the server-side login session start, so a half-done sign-in opens nothing.

Between steps the signed cookie holds only a random token (and where to go afterwards); the server keeps which
account is signing in, since when and what was done (``PendingSignIn``, only the token's SHA-256). The row is
consumed when the login session opens, so a copy of the cookie taken at any step opens nothing later; it is void
when the steps take longer than ``SIGN_IN_STEP_MINUTES``, when the account's password changes, and when the
account is deactivated or a reset is issued (``cancel_for``). A second factor is checked against the account.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from flask import current_app, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import login_user
from sqlalchemy import delete, select, update

from tracker.auth import twofactor
from tracker.auth.services import start_session
from tracker.database import writing
from tracker.extensions import db
from tracker.models import Clinic, PendingSignIn, User
from tracker.models.base import utcnow

KEY = "sign_in"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def begin(user: User, target: str) -> dict[str, Any]:
    """A new sign-in after a correct password: nothing from before survives it (ASVS 7.2.4). Adds the pending row
    (the caller's transaction commits it)."""
    session.clear()
    token = secrets.token_urlsafe(32)
    db.session.add(PendingSignIn(token_hash=_digest(token), user_id=user.id, started_at=utcnow()))
    return {"token": token, "second": None, "next": target}


def current(now: datetime) -> tuple[User, dict[str, Any]] | None:
    """The sign-in under way in this browser, if its row is still there, recent, older than the account's last
    password change, and its account still active."""
    state = session.get(KEY)
    if not isinstance(state, dict) or not isinstance(state.get("token"), str):
        return None
    pending = db.session.scalar(select(PendingSignIn).where(PendingSignIn.token_hash == _digest(state["token"])))
    user = db.session.get(User, pending.user_id) if pending is not None else None
    limit = timedelta(minutes=int(current_app.config["SIGN_IN_STEP_MINUTES"]))
    if (
        pending is None
        or user is None
        or not user.active
        or now - pending.started_at > limit
        or (user.password_changed_at is not None and user.password_changed_at > pending.started_at)
    ):
        session.pop(KEY, None)
        return None
    return user, {"token": state["token"], "second": pending.second, "next": state.get("next")}


def cancel_for(user: User) -> None:
    """Void every sign-in of ``user`` under way (deactivation, a reset link, a forced new password)."""
    db.session.execute(delete(PendingSignIn).where(PendingSignIn.user_id == user.id))


def record_step(state: dict[str, Any]) -> None:
    """Keep the second factor just used on the pending row (the caller commits)."""
    db.session.execute(
        update(PendingSignIn)
        .where(PendingSignIn.token_hash == _digest(state["token"]))
        .values(second=state.get("second"))
    )


def purge_expired(now: datetime) -> int:
    """Delete pending sign-ins older than the steps may take (the every-minute tidy job); returns how many."""
    limit = timedelta(minutes=int(current_app.config["SIGN_IN_STEP_MINUTES"]))
    result = db.session.execute(delete(PendingSignIn).where(PendingSignIn.started_at < now - limit))
    return int(getattr(result, "rowcount", 0) or 0)


def clinic_requires_two_factor(user: User) -> bool:
    return bool(db.session.scalar(select(Clinic.require_two_factor).where(Clinic.id == user.clinic_id)))


def next_step(user: User, state: dict[str, Any]) -> str | None:
    """The endpoint of the next step, or None when the sign-in is complete."""
    if state.get("second") is None:
        if user.has_two_factor:
            return "auth.two_factor"
        if twofactor.required_for(user, clinic_requires_two_factor(user)):
            return "auth.enrol"
    if user.must_change_password:
        return "auth.new_password"
    return None


def proceed(user: User, state: dict[str, Any]) -> ResponseReturnValue:
    """Go to the next step, or finish: open the login session, commit, and go where the user was headed."""
    step = next_step(user, state)
    digest = _digest(state["token"])
    if step is not None:
        record_step(state)
        session[KEY] = {"token": state["token"], "next": state.get("next")}
        db.session.commit()  # what the step before wrote (audit rows, a used code) and the step done
        return redirect(url_for(step))
    session.clear()
    how = "password" + (f"+{state['second']}" if state.get("second") else "")
    with writing(db.session):  # a write, even at the end of a GET (after the recovery codes were shown)
        consumed = db.session.execute(
            delete(PendingSignIn).where(PendingSignIn.token_hash == digest).execution_options(synchronize_session=False)
        )
        if getattr(consumed, "rowcount", 0) != 1:  # used already (a replayed copy of the cookie), or cancelled
            db.session.rollback()
            return redirect(url_for("auth.login"))
        start_session(user, request.remote_addr, how)
        login_user(user)
        db.session.commit()
    return redirect(state.get("next") or url_for("main.home"))
