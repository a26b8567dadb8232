"""The de-identified research export: outcome measures as CSV, one file per instrument, with a data dictionary."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("research", __name__)

from tracker.research import views  # noqa: E402,F401  (registers the routes on bp)
