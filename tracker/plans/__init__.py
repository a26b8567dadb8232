"""The integration plan: per patient, written for the patient from the protocol's plan sections, versioned, with its
practices as structured items checked in on at each integration session."""

from flask import Blueprint

from tracker.plans.practices import ADHERENCE, FREQUENCIES

bp = Blueprint("plans", __name__)


@bp.app_template_global("practice_labels")
def practice_labels() -> dict[str, dict[str, str]]:
    """The words for a practice's frequency and a check-in's answer, for templates (pages and PDFs)."""
    return {"frequency": FREQUENCIES, "adherence": ADHERENCE}


from tracker.plans import views  # noqa: E402,F401  (registers the routes on bp)
