"""The research export page (a supervisor's patients) and its download."""

from __future__ import annotations

from flask import Response, abort, current_app, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select

from tracker import audit
from tracker.auth.forms import EmptyForm
from tracker.extensions import db
from tracker.models import Patient, Role
from tracker.permissions import actor, care_scope, require_role, research_export_scope
from tracker.research import bp
from tracker.research.export import research_export


@bp.route("/exports/research", methods=["GET", "POST"])
@require_role(Role.SUPERVISOR)
def export() -> ResponseReturnValue:
    """GET: what the export holds; POST: the zip (CSV per instrument, data dictionary) of the consenting patients in
    the supervisor's care, k-anonymous on the participants' quasi-identifiers, audited per patient."""
    form = EmptyForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400, description="The form has expired: open the export page again.")
        made = research_export(actor())
        db.session.commit()
        response = Response(made.content, mimetype="application/zip")
        response.headers["Content-Disposition"] = 'attachment; filename="research-export.zip"'
        return response
    count = db.session.scalar(select(func.count()).select_from(Patient).where(research_export_scope(actor()))) or 0
    in_care = db.session.scalar(select(func.count()).select_from(Patient).where(care_scope(actor()))) or 0
    audit.record(actor(), "research.export_page", "Opened the research export page")
    db.session.commit()
    return render_template(
        "research/export.html",
        form=form,
        count=count,
        not_consenting=in_care - count,
        k=current_app.config["RESEARCH_MIN_CELL_SIZE"],
    )
