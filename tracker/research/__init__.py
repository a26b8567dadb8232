"""The de-identified research export: outcome measures as CSV, one file per instrument, with a data dictionary."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("research", __name__)


def register(app: Flask) -> None:
    """Add these pages to ``app``: their modules add their routes to ``bp`` as they are imported, here rather than
    at the top so that importing this package (its services, from the command line or a job) loads no views."""
    from tracker.research import views  # noqa: F401

    app.register_blueprint(bp)
