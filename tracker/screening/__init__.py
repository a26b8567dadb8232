"""Preparation-phase screening: checklists, medication review and supervisors' reviews (the dosing gate reads them:
``tracker.gate``)."""

from flask import Blueprint

bp = Blueprint("screening", __name__)

from tracker.screening import medication_views, views  # noqa: E402,F401  (registers the routes on bp)
