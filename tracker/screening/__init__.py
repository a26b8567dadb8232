"""Preparation-phase screening: checklists, medication review, supervisors' reviews, and the dosing gate."""

from flask import Blueprint

from tracker.screening import gate  # noqa: F401  (registers the dosing gate's guards with the workflow)

bp = Blueprint("screening", __name__)

from tracker.screening import medication_views, views  # noqa: E402,F401  (registers the routes on bp)
