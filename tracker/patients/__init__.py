"""Patients: the caseload list, the patient page with its phase timeline, enrolment and edits, phase moves."""

from flask import Blueprint

bp = Blueprint("patients", __name__)

from tracker.patients import views  # noqa: E402,F401  (registers the routes on bp)
