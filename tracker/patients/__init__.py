"""Patients: the caseload list, the patient page with its phase timeline, enrolment and edits, phase moves."""

from flask import Blueprint, Flask

bp = Blueprint("patients", __name__)


def register(app: Flask) -> None:
    """Add these pages to ``app``: their modules add their routes to ``bp`` as they are imported, here rather than
    at the top so that importing this package (its services, from the command line or a job) loads no views."""
    from tracker.patients import views  # noqa: F401

    app.register_blueprint(bp, url_prefix="/patients")
