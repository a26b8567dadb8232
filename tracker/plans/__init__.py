"""The integration plan: per patient, written for the patient from the protocol's plan sections, versioned, with its
practices as structured items checked in on at each integration session."""

from flask import Blueprint, Flask

from tracker.plans.practices import ADHERENCE, FREQUENCIES

bp = Blueprint("plans", __name__)


@bp.app_template_global("practice_labels")
def practice_labels() -> dict[str, dict[str, str]]:
    """The words for a practice's frequency and a check-in's answer, for templates (pages and PDFs)."""
    return {"frequency": FREQUENCIES, "adherence": ADHERENCE}


def register(app: Flask) -> None:
    """Add these pages to ``app``: their modules add their routes to ``bp`` as they are imported, here rather than
    at the top so that importing this package (its services, from the command line or a job) loads no views."""
    from tracker.plans import views  # noqa: F401

    app.register_blueprint(bp)
