"""Preparation-phase screening: checklists, medication review, supervisors' reviews, and the dosing gate."""

from tracker.screening import gate  # noqa: F401  (registers the dosing gate's guards with the workflow)
