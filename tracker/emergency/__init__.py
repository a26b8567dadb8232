"""Emergency ("break-glass") access to a patient outside one's care: time-boxed, with a reason and the password,
every action flagged in the audit trail."""

from flask import Blueprint, Flask

bp = Blueprint("emergency", __name__)


def register(app: Flask) -> None:
    """Add these pages to ``app``: their modules add their routes to ``bp`` as they are imported, here rather than
    at the top so that importing this package (its services, from the command line or a job) loads no views."""
    from tracker.emergency import views  # noqa: F401

    app.register_blueprint(bp)
