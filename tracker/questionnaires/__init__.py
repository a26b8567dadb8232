"""Questionnaires on the patient's own device: a clinician sends measures as a single-use link (and QR code); the
patient fills them in without an account; the answers become results like any other, and raise the same alerts."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("questionnaires", __name__)


def register(app: Flask) -> None:
    """Add these pages to ``app``: their modules add their routes to ``bp`` as they are imported, here rather than
    at the top so that importing this package (its services, from the command line or a job) loads no views."""
    from tracker.questionnaires import public, views  # noqa: F401

    app.register_blueprint(bp)
