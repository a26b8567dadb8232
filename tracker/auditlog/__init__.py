"""The audit page: who read or changed what, when, and from where."""

from flask import Blueprint

bp = Blueprint("auditlog", __name__)

from tracker.auditlog import views  # noqa: E402,F401  (registers the routes on bp)
