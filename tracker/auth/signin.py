"""The steps of a sign-in after the password: the second factor (or enrolling one, when the clinic requires it of
every account, admins included), then a new password when an admin asked for one. Only after the last step does
the server-side login session start, so a half-done sign-in opens nothing.

Between steps the signed cookie holds which account is signing in, since when, and what was done; the steps must
be finished within ``SIGN_IN_STEP_MINUTES``, and a second factor is checked against the account, never the cookie.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import current_app, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import login_user
from sqlalchemy import select

from tracker.auth import twofactor
from tracker.auth.services import start_session
from tracker.database import writing
from tracker.extensions import db
from tracker.models import Clinic, User
from tracker.models.base import utcnow

KEY = "sign_in"


def begin(user: User, target: str) -> dict[str, Any]:
    """A new sign-in after a correct password: nothing from before survives it (ASVS 7.2.4)."""
    session.clear()
    return {"user": user.id, "at": utcnow().timestamp(), "second": None, "next": target}


def current(now: datetime) -> tuple[User, dict[str, Any]] | None:
    """The sign-in under way in this browser, if it is recent and its account still active."""
    state = session.get(KEY)
    if not isinstance(state, dict) or not isinstance(state.get("user"), int):
        return None
    started = datetime.fromtimestamp(float(state.get("at", 0)), tz=now.tzinfo)
    if now - started > timedelta(minutes=int(current_app.config["SIGN_IN_STEP_MINUTES"])):
        session.pop(KEY, None)
        return None
    user = db.session.get(User, state["user"])
    if user is None or not user.active:
        session.pop(KEY, None)
        return None
    return user, state


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
    if step is not None:
        session[KEY] = state
        db.session.commit()  # what the step before wrote (audit rows, a used code)
        return redirect(url_for(step))
    session.clear()
    how = "password" + (f"+{state['second']}" if state.get("second") else "")
    with writing(db.session):  # a write, even at the end of a GET (after the recovery codes were shown)
        start_session(user, request.remote_addr, how)
        login_user(user)
        db.session.commit()
    return redirect(state.get("next") or url_for("main.home"))
