"""Signing in and out, and the server-side login sessions behind the cookie."""

from flask import Blueprint

bp = Blueprint("auth", __name__)

from tracker.auth import views  # noqa: E402,F401  (registers the routes on bp)
