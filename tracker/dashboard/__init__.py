"""The supervisor dashboard (``/dashboard``), the therapist's day (``/today``) and the clinic overview
(``/overview``). The rules of what needs attention live in ``tracker.attention``; these pages only choose whose
patients to look at, and show the result."""

from flask import Blueprint

bp = Blueprint("dashboard", __name__)

from tracker.dashboard import views  # noqa: E402,F401  (registers the routes)
