"""A user's own account: their password and their two-factor sign-in."""

from flask import Blueprint

bp = Blueprint("account", __name__)

from tracker.account import views  # noqa: E402,F401  (registers the routes on bp)
