"""Outcome measures: recording and correcting results, the schedule, trends, and the safety alerts they raise."""

from __future__ import annotations

from flask import Blueprint, Flask

from tracker.instruments import Instrument, get_instrument

bp = Blueprint("outcomes", __name__)


@bp.app_template_global("get_instrument")
def instrument_for_templates(code: str) -> Instrument:
    """An instrument's definition by code, for templates (names, items, wording notes)."""
    return get_instrument(code)


def register(app: Flask) -> None:
    """Add these pages to ``app``: their modules add their routes to ``bp`` as they are imported, here rather than
    at the top so that importing this package (its services, from the command line or a job) loads no views."""
    from tracker.outcomes import alert_views, views  # noqa: F401

    app.register_blueprint(bp)
