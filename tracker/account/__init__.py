"""A user's own account: their password and their two-factor sign-in."""

from flask import Blueprint, Flask

bp = Blueprint("account", __name__)


def register(app: Flask) -> None:
    """Add these pages to ``app``: their modules add their routes to ``bp`` as they are imported, here rather than
    at the top so that importing this package (its services, from the command line or a job) loads no views."""
    from tracker.account import views  # noqa: F401

    app.register_blueprint(bp)
