"""Preparation-phase screening: checklists, medication review and supervisors' reviews (the dosing gate reads them:
``tracker.gate``)."""

from flask import Blueprint, Flask

bp = Blueprint("screening", __name__)


def register(app: Flask) -> None:
    """Add these pages to ``app``: their modules add their routes to ``bp`` as they are imported, here rather than
    at the top so that importing this package (its services, from the command line or a job) loads no views."""
    from tracker.screening import medication_views, views  # noqa: F401

    app.register_blueprint(bp)
