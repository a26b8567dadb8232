"""Signing in and out, and the server-side login sessions behind the cookie."""

from flask import Blueprint, Flask

bp = Blueprint("auth", __name__)


def register(app: Flask) -> None:
    """Add these pages to ``app``: their modules add their routes to ``bp`` as they are imported, here rather than
    at the top so that importing this package (its services, from the command line or a job) loads no views."""
    from tracker.auth import views  # noqa: F401

    app.register_blueprint(bp)
