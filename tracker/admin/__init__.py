"""Administration: add staff, change their roles and supervisor, deactivate them; read the protocol templates; see
the alert e-mail that was not delivered."""

from flask import Blueprint, Flask

bp = Blueprint("admin", __name__)


def register(app: Flask) -> None:
    """Add these pages to ``app``: their modules add their routes to ``bp`` as they are imported, here rather than
    at the top so that importing this package (its services, from the command line or a job) loads no views."""
    from tracker.admin import alert_mail, modality_views, views  # noqa: F401

    app.register_blueprint(bp, url_prefix="/admin")
