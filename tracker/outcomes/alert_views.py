"""Safety alerts: one alert with its acknowledgement form, and the supervisor's queue of open alerts."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from tracker import audit
from tracker.extensions import db
from tracker.instruments import get_instrument
from tracker.models import MeasureResult, Patient, Role, SafetyAlert
from tracker.models.base import utcnow
from tracker.outcomes import bp
from tracker.outcomes.forms import AcknowledgeForm, PageArgs
from tracker.outcomes.queries import alert_queue
from tracker.outcomes.services import MeasureError, acknowledge_alert
from tracker.patients.services import load_for_page
from tracker.permissions import CLINICAL_ROLES, actor, require_role


def _alert_or_404(patient: Patient, alert_id: int) -> SafetyAlert:
    """:raise 404: no such alert for this patient."""
    alert = db.session.scalar(
        select(SafetyAlert)
        .where(SafetyAlert.id == alert_id, SafetyAlert.patient_id == patient.id)
        .options(
            joinedload(SafetyAlert.result).joinedload(MeasureResult.entered_by),
            joinedload(SafetyAlert.acknowledged_by),
        )
    )
    if alert is None:
        abort(404)
    return alert


def _render(patient: Patient, alert: SafetyAlert, form: AcknowledgeForm, status: int = 200) -> ResponseReturnValue:
    instrument = get_instrument(alert.result.instrument) if alert.result is not None else None
    page = render_template("outcomes/alert.html", patient=patient, alert=alert, instrument=instrument, form=form)
    return page, status


@bp.route("/patients/<int:patient_id>/alerts/<int:alert_id>", methods=["GET", "POST"])
@require_role(*CLINICAL_ROLES)
def alert(patient_id: int, alert_id: int) -> ResponseReturnValue:
    """An alert, and (while open) the form acknowledging it. Anyone on the care team, or their supervisor, may
    acknowledge: the action taken is required, recorded with who and when, and audited.

    :raise 404: patient outside the user's scope, or no such alert for this patient.
    """
    patient = load_for_page(actor(), patient_id)
    found = _alert_or_404(patient, alert_id)
    form = AcknowledgeForm()
    if request.method == "GET":
        audit.record(
            actor(), "alert.view", "Viewed a safety alert", patient=patient, target_type="safety_alert",
            target_id=found.id,
        )
        db.session.commit()
        return _render(patient, found, AcknowledgeForm(formdata=None))
    if not found.is_open:
        form.action_taken.errors = [
            f"Already acknowledged by {found.acknowledged_by.full_name if found.acknowledged_by else 'someone'}."
        ]
        return _render(patient, found, form, 409)
    if form.validate_on_submit():
        try:
            acknowledge_alert(actor(), patient, found, form.action_taken.data or "", utcnow())
        except MeasureError as error:
            form.action_taken.errors = [str(error)]
            return _render(patient, found, form, 409)
        db.session.commit()
        flash("Alert acknowledged; the action taken is recorded.", "success")
        return redirect(url_for("outcomes.alert", patient_id=patient.id, alert_id=found.id))
    return _render(patient, found, form, 422)


@bp.route("/alerts")
@require_role(Role.SUPERVISOR)
def queue() -> ResponseReturnValue:
    """Open safety alerts of the patients the supervisor may see, oldest first."""
    args = PageArgs(formdata=request.args)
    if not args.validate():
        abort(400, description="The queue cannot be shown with these settings (page: use a whole number).")
    page = db.paginate(
        alert_queue(actor()),
        page=max(args.page.data or 1, 1),
        per_page=current_app.config["SAFETY_ALERTS_PER_PAGE"],
        error_out=False,
    )
    audit.record(
        actor(),
        "alert.queue",
        f"Listed {len(page.items)} open safety alerts",
        data={"patient_ids": sorted({a.patient_id for a in page.items}), "alert_ids": [a.id for a in page.items]},
    )
    db.session.commit()
    return render_template("outcomes/queue.html", page=page)
