"""The integration plan: per patient, written for the patient from the protocol's plan sections, versioned."""

from flask import Blueprint

bp = Blueprint("plans", __name__)

from tracker.plans import views  # noqa: E402,F401  (registers the routes on bp)
