"""Administration: add staff, change their roles and supervisor, deactivate them; read the protocol templates; see
the alert e-mail that was not delivered."""

from flask import Blueprint

bp = Blueprint("admin", __name__)

from tracker.admin import alert_mail, modality_views, views  # noqa: E402,F401  (registers the routes on bp)
