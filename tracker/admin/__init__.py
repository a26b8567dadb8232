"""Administration: add staff, change their roles and supervisor, deactivate them; read the protocol templates."""

from flask import Blueprint

bp = Blueprint("admin", __name__)

from tracker.admin import modality_views, views  # noqa: E402,F401  (registers the routes on bp)
