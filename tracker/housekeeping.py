"""Security housekeeping the worker runs every minute: expired sign-in counters and half-done sign-ins are deleted
(a counter's key is a hash of an account name or an address: nothing is kept longer than it counts), and the audit
chains' heads are noted every ``AUDIT_HEAD_NOTE_MINUTES`` so a later ``flask audit verify`` finds the newest rows
removed (tracker/auditchain.py)."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app

from tracker import auditchain
from tracker.auth import signin, throttle
from tracker.extensions import db
from tracker.models.base import utcnow
from tracker.queue import every_minute


@every_minute
def tidy_security() -> None:
    now, config = utcnow(), current_app.config
    longest = max(
        config["LOGIN_FAILURE_WINDOW"],
        config["QUESTIONNAIRE_REQUEST_WINDOW"],
        config["QUESTIONNAIRE_REFUSAL_WINDOW"],
        timedelta(minutes=int(config["REAUTH_WINDOW_MINUTES"])),
    )
    throttle.purge_expired(db.session, now, longest)
    signin.purge_expired(now)
    auditchain.note_heads(db.session, now, timedelta(minutes=int(config["AUDIT_HEAD_NOTE_MINUTES"])))
    db.session.commit()
