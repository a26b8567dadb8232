"""FHIR R4B export: one patient's record as a Bundle, and the clinic (or a supervisor's scope) as bulk NDJSON."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("fhir", __name__)

from tracker.fhir import views  # noqa: E402,F401  (registers the routes on bp)
