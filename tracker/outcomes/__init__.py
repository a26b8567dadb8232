"""Outcome measures: recording and correcting results, the schedule, trends, and the safety alerts they raise."""

from __future__ import annotations

from flask import Blueprint

from tracker.instruments import Instrument, get_instrument

bp = Blueprint("outcomes", __name__)


@bp.app_template_global("get_instrument")
def instrument_for_templates(code: str) -> Instrument:
    """An instrument's definition by code, for templates (names, items, wording notes)."""
    return get_instrument(code)


from tracker.outcomes import alert_views, views  # noqa: E402,F401  (registers the routes on bp)
