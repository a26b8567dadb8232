"""The calendar: week and month views of sessions, scheduled and held, on the clinic's clock, and a per-user iCal
feed behind a secret, revocable link that carries initials and the session's kind only."""

from flask import Blueprint, Flask

bp = Blueprint("calendar", __name__)


def register(app: Flask) -> None:
    """Add these pages to ``app``: their modules add their routes to ``bp`` as they are imported, here rather than
    at the top so that importing this package (its services, from the command line or a job) loads no views."""
    from tracker.calendar import views  # noqa: F401

    app.register_blueprint(bp)
