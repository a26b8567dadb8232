"""The clinician's side: the patient's questionnaire links, sending one (shown once as a QR code), withdrawing one."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from tracker import audit
from tracker.auth.forms import EmptyForm
from tracker.extensions import db
from tracker.models import Clinic, Patient, QuestionnaireLink
from tracker.models.base import utcnow
from tracker.outcomes.queries import measures_state
from tracker.pages import load_patient, local_today, protocol_of
from tracker.permissions import CLINICAL_ROLES, actor, require_care, require_role
from tracker.questionnaires import bp
from tracker.questionnaires.delivery import email_questionnaire_link, qr_svg
from tracker.questionnaires.forms import SendForm
from tracker.questionnaires.services import LinkError, links_of, send_link, sendable, withdraw


def _due(patient: Patient) -> list[str]:
    """The sendable measures the protocol has due or overdue now, in the catalogue's order."""
    state = measures_state(db.session, patient, protocol_of(patient), local_today(), with_trends=False)
    due = {o.instrument for o in state.attention}
    return [i.code for i in sendable() if i.code in due]


def _page(patient: Patient, form: SendForm, status: int = 200) -> ResponseReturnValue:
    now = utcnow()
    return render_template(
        "questionnaires/index.html",
        patient=patient,
        form=form,
        links=links_of(patient.id),
        now=now,
        due=_due(patient),
        withdraw_form=EmptyForm(),
        hours=current_app.config["QUESTIONNAIRE_LINK_HOURS"],
    ), status


def _send_form(patient: Patient) -> SendForm:
    form = SendForm()
    form.instruments.choices = [(i.code, f"{i.short_name}: {i.name}") for i in sendable()]
    return form


@bp.route("/patients/<int:patient_id>/questionnaires", methods=["GET", "POST"])
@require_role(*CLINICAL_ROLES)
def index(patient_id: int) -> ResponseReturnValue:
    """GET: the links sent and the form; POST: a new link, shown once with its QR code (never stored readable).

    :raise 404: the patient is outside the user's scope. :raise 403: a POST under emergency access (view only).
    """
    patient = load_patient(patient_id, phase_history=True)
    form = _send_form(patient)
    if request.method == "GET":
        form.instruments.data = _due(patient)
        audit.record(actor(), "questionnaire.view", "Viewed the questionnaire links", patient=patient)
        db.session.commit()
        return _page(patient, form)
    require_care(actor(), patient, "sending the patient a questionnaire link")
    if not form.validate_on_submit():
        return _page(patient, form, 422)
    codes = _due(patient) if request.form.get("send") == "due" else list(form.instruments.data or [])
    now = utcnow()
    try:
        link, token = send_link(actor(), patient, codes, now, current_app.config["QUESTIONNAIRE_LINK_HOURS"])
    except LinkError as error:
        form.instruments.errors = [*form.instruments.errors, str(error)]
        return _page(patient, form, 422)
    db.session.commit()
    # On the configured BASE_URL, never the request's Host header: this link is e-mailed to the patient.
    url = current_app.config["BASE_URL"].rstrip("/") + url_for("questionnaires.fill", token=token)
    clinic = db.session.get(Clinic, patient.clinic_id)
    assert clinic is not None
    emailed = bool(patient.email) and email_questionnaire_link(patient, url, link.expires_at, clinic.name)
    return render_template(
        "questionnaires/sent.html", patient=patient, link=link, url=url, qr=qr_svg(url), emailed=emailed
    )


@bp.route("/patients/<int:patient_id>/questionnaires/<int:link_id>/withdraw", methods=["POST"])
@require_role(*CLINICAL_ROLES)
def withdraw_link(patient_id: int, link_id: int) -> ResponseReturnValue:
    """Close a link the patient has not used. :raise 404: patient outside scope, or not this patient's link.
    :raise 403: under emergency access (view only)."""
    patient = load_patient(patient_id, phase_history=True)
    link = db.session.scalar(
        select(QuestionnaireLink).where(QuestionnaireLink.id == link_id, QuestionnaireLink.patient_id == patient.id)
    )
    if link is None:
        abort(404)
    if not EmptyForm().validate_on_submit():
        abort(400, description="The form has expired: open the page again.")
    require_care(actor(), patient, "withdrawing a questionnaire link")
    try:
        withdraw(actor(), patient, link, utcnow())
    except LinkError as error:
        flash(str(error), "warning")
    else:
        db.session.commit()
        flash("The link was withdrawn: it no longer opens the questionnaire.", "success")
    return redirect(url_for("questionnaires.index", patient_id=patient.id))
