"""FHIR R4B export: one patient's record as a Bundle, and the clinic (or a supervisor's scope) as bulk NDJSON."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("fhir", __name__)


def register(app: Flask) -> None:
    """Add these pages to ``app``: their modules add their routes to ``bp`` as they are imported, here rather than
    at the top so that importing this package (its services, from the command line or a job) loads no views."""
    from tracker.fhir import views  # noqa: F401

    app.register_blueprint(bp)
