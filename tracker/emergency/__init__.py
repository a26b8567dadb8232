"""Emergency ("break-glass") access to a patient outside one's care: time-boxed, with a reason and the password,
every action flagged in the audit trail."""

from flask import Blueprint

bp = Blueprint("emergency", __name__)

from tracker.emergency import views  # noqa: E402,F401  (registers the routes on bp)
