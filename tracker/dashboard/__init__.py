"""The supervisor dashboard (``/dashboard``), the therapist's day (``/today``) and the clinic overview
(``/overview``). The rules of what needs attention live in ``tracker.attention``; these pages only choose whose
patients to look at, and show the result."""

from flask import Blueprint, Flask

bp = Blueprint("dashboard", __name__)


def register(app: Flask) -> None:
    """Add these pages to ``app``: their modules add their routes to ``bp`` as they are imported, here rather than
    at the top so that importing this package (its services, from the command line or a job) loads no views."""
    from tracker.dashboard import views  # noqa: F401

    app.register_blueprint(bp)
