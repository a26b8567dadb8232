"""Account administration: add staff, change their roles and supervisor, deactivate them."""

from flask import Blueprint

bp = Blueprint("admin", __name__)

from tracker.admin import views  # noqa: E402,F401  (registers the routes on bp)
