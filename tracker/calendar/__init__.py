"""The calendar: week and month views of sessions, scheduled and held, on the clinic's clock, and a per-user iCal
feed behind a secret, revocable link that carries initials and the session's kind only."""

from flask import Blueprint

bp = Blueprint("calendar", __name__)

from tracker.calendar import views  # noqa: E402,F401  (registers the routes)
