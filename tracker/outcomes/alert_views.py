"""Safety alerts: one alert with its source and its acknowledgement form, the supervisor's queue of open alerts, and
the link the alert's e-mail carries (``/alerts/<id>``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import exists, select
from sqlalchemy.orm import joinedload, selectinload
from werkzeug.datastructures import MultiDict

from tracker import audit
from tracker.adverse_events import is_serious
from tracker.alerts import recipients
from tracker.alerts.acknowledge import ACTIONS, AlertError, acknowledge, may_close
from tracker.extensions import db
from tracker.instruments import get_instrument
from tracker.models import (
    AdverseEvent,
    AdverseEventCorrection,
    AlertNotice,
    AlertSource,
    MeasureResult,
    Patient,
    Role,
    SafetyAlert,
    TherapySession,
    VitalReading,
)
from tracker.models.base import utcnow
from tracker.notes import drafts
from tracker.outcomes import bp
from tracker.outcomes.forms import AcknowledgeForm
from tracker.outcomes.queries import alert_queue
from tracker.pages import PageArgs, load_patient, paginate, read_args
from tracker.permissions import CLINICAL_ROLES, actor, can_view_patient, require_role

#: Where a removed entry of a draft note would have been.
_ROWS: dict[AlertSource, type[VitalReading] | type[AdverseEvent]] = {
    AlertSource.VITAL_SIGN: VitalReading,
    AlertSource.ADVERSE_EVENT: AdverseEvent,
}


@dataclass(frozen=True)
class AlertPage:
    alert: SafetyAlert
    #: The session a non-measure alert came from (None for a measure alert).
    session: TherapySession | None
    #: The reading or adverse event was taken out of the draft note after the alert was raised.
    source_removed: bool
    #: Who may close it: everyone who may open the patient, or (high risk) these supervisors.
    closers: list[str]
    may_close: bool
    #: The signed correction that made the serious adverse event behind it stand as not serious, if any.
    corrected: AdverseEventCorrection | None = None


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


def _page(patient: Patient, alert: SafetyAlert) -> AlertPage:
    visit = db.session.get(TherapySession, alert.session_id) if alert.session_id is not None else None
    row = _ROWS.get(alert.source)
    removed = row is not None and not db.session.scalar(select(exists().where(row.id == alert.source_row_id)))
    corrected = _correction(alert) if alert.source is AlertSource.ADVERSE_EVENT and not removed else None
    if not alert.high_risk:
        return AlertPage(alert, visit, removed, [], True, corrected)
    chain = recipients.chain_of(db.session, patient)
    return AlertPage(
        alert,
        visit,
        removed,
        recipients.names(db.session, chain.closers()),
        may_close(actor(), alert, chain),
        corrected,
    )


def _correction(alert: SafetyAlert) -> AdverseEventCorrection | None:
    """The newest signed correction of the alert's adverse event, when the event no longer stands as serious
    (``tracker.adverse_events``)."""
    event = db.session.scalar(
        select(AdverseEvent)
        .where(AdverseEvent.id == alert.source_row_id)
        .options(selectinload(AdverseEvent.corrections).joinedload(AdverseEventCorrection.signed_by))
    )
    if event is None or is_serious(event) or not event.corrections:
        return None
    return event.corrections[-1]


def _render(
    patient: Patient,
    alert: SafetyAlert,
    form: AcknowledgeForm,
    status: int = 200,
    *,
    restored: bool = False,
    notice: str | None = None,
) -> ResponseReturnValue:
    instrument = get_instrument(alert.result.instrument) if alert.result is not None else None
    page = render_template(
        "outcomes/alert.html",
        patient=patient,
        alert=alert,
        instrument=instrument,
        form=form,
        page=_page(patient, alert),
        actions=ACTIONS,
        restored=restored,
        draft_key=f"alert-{alert.id}",
        notice=notice,
    )
    return page, status


def _rerender(view_args: dict[str, Any], typing: MultiDict[str, str]) -> ResponseReturnValue:
    """After a refused CSRF token: the alert with the posted typing in its form (``drafts.rescue``)."""
    patient = load_patient(view_args["patient_id"], phase_history=True)
    found = _alert_or_404(patient, view_args["alert_id"])
    return _render(patient, found, AcknowledgeForm(formdata=typing), 400, notice=drafts.EXPIRED_NOTICE)


@bp.route("/patients/<int:patient_id>/alerts/<int:alert_id>", methods=["GET", "POST"])
@require_role(*CLINICAL_ROLES)
@drafts.keeps_draft("alert-{alert_id}", "outcomes.alert", _rerender)
def alert(patient_id: int, alert_id: int) -> ResponseReturnValue:
    """An alert, its source, and (while open) the form acknowledging it: the actions chosen and the action in words,
    recorded with who and when, and audited. Anyone who may open the patient acknowledges an alert; a high-risk one
    only a supervisor above the care team (403 for anyone else).

    :raise 404: patient outside the user's scope, or no such alert for this patient.
    """
    patient = load_patient(patient_id, phase_history=True)
    found = _alert_or_404(patient, alert_id)
    form = AcknowledgeForm()
    key = f"alert-{found.id}"
    if request.method == "GET":
        typing = drafts.kept(actor(), patient, key) if found.is_open else None
        audit.record(
            actor(),
            "alert.view",
            "Viewed a safety alert",
            patient=patient,
            target_type="safety_alert",
            target_id=found.id,
        )
        db.session.commit()
        return _render(patient, found, AcknowledgeForm(formdata=typing), restored=typing is not None)
    if not found.is_open:
        form.action_taken.errors = [
            f"Already acknowledged by {found.acknowledged_by.full_name if found.acknowledged_by else 'someone'}."
        ]
        return _render(patient, found, form, 409)
    if found.high_risk and not may_close(actor(), found, recipients.chain_of(db.session, patient)):
        audit.record(
            actor(),
            "alert.acknowledge_refused",
            "Refused closing a high-risk safety alert",
            patient=patient,
            target_type="safety_alert",
            target_id=found.id,
        )
        db.session.commit()
        form.action_taken.errors = [
            "A high-risk alert holds the next dose and is closed only by a supervisor of the care team."
        ]
        return _render(patient, found, form, 403)
    if not form.validate_on_submit():
        return _render(patient, found, form, 422)
    try:
        acknowledge(actor(), patient, found, form.actions.data or [], form.action_taken.data or "", utcnow())
    except AlertError as error:
        getattr(form, error.field).errors = [str(error)]
        return _render(patient, found, form, 403 if error.forbidden else 409)
    drafts.discard(actor(), patient, key)
    db.session.commit()
    flash("Alert acknowledged; the actions taken are recorded.", "success")
    return redirect(url_for("outcomes.alert", patient_id=patient.id, alert_id=found.id))


@bp.route("/alerts")
@require_role(Role.SUPERVISOR)
def queue() -> ResponseReturnValue:
    """Open safety alerts of the patients the supervisor may see, oldest first."""
    args = read_args(PageArgs, "queue")
    page = paginate(alert_queue(actor()), current_app.config["SAFETY_ALERTS_PER_PAGE"], args.page.data)
    audit.record(
        actor(),
        "alert.queue",
        f"Listed {len(page.items)} open safety alerts",
        data={"patient_ids": sorted({a.patient_id for a in page.items}), "alert_ids": [a.id for a in page.items]},
    )
    db.session.commit()
    return render_template("outcomes/queue.html", page=page)


@bp.route("/alerts/<int:alert_id>")
@require_role(*CLINICAL_ROLES)
def from_mail(alert_id: int) -> ResponseReturnValue:
    """The link in an alert's e-mail (which names no patient): to the alert, for someone who may open the patient;
    for a supervisor it was escalated to who may not, the way to open the record by emergency access.

    :raise 404: no such alert in the user's clinic, or the user may neither open the patient nor was told of it.
    """
    row = db.session.execute(
        select(SafetyAlert.id, SafetyAlert.patient_id, Patient.record_number, Patient.clinic_id)
        .join(Patient, Patient.id == SafetyAlert.patient_id)
        .where(SafetyAlert.id == alert_id)
    ).one_or_none()
    user = actor()
    if row is None or row.clinic_id != user.clinic_id:
        abort(404)
    if can_view_patient(user, row.patient_id):
        return redirect(url_for("outcomes.alert", patient_id=row.patient_id, alert_id=alert_id))
    told = db.session.scalar(select(exists().where(AlertNotice.alert_id == alert_id, AlertNotice.user_id == user.id)))
    if not told:
        audit.record(
            user,
            "alert.access_denied",
            f"Refused the link of safety alert #{alert_id}",
            target_type="safety_alert",
            target_id=alert_id,
        )
        db.session.commit()
        abort(404)
    audit.record(
        user,
        "alert.escalated_link",
        "Opened the link of a safety alert escalated to them, outside their care",
        target_type="safety_alert",
        target_id=alert_id,
        data={"patient_id": row.patient_id},
    )
    db.session.commit()
    return render_template("outcomes/alert_escalated.html", record_number=row.record_number)
