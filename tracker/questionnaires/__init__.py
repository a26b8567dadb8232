"""Questionnaires on the patient's own device: a clinician sends measures as a single-use link (and QR code); the
patient fills them in without an account; the answers become results like any other, and raise the same alerts."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("questionnaires", __name__)

from tracker.questionnaires import public, views  # noqa: E402,F401  (registers the routes on bp)
