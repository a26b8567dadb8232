"""The autosave of drafts (``static/js/drafts.js``) and discarding one (``tracker.notes.drafts``)."""

from __future__ import annotations

from flask import abort, flash, jsonify, redirect, request
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm

from tracker import clinictime
from tracker.auth.forms import EmptyForm
from tracker.clinics import current_zone
from tracker.extensions import db
from tracker.models.base import utcnow
from tracker.notes import drafts
from tracker.pages import load_patient
from tracker.permissions import CLINICAL_ROLES, actor, require_role
from tracker.sessions import bp


class DraftForm(FlaskForm):
    """Only the CSRF token is checked; the other posted fields are the draft."""


@bp.route("/patients/<int:patient_id>/drafts/<key>", methods=["POST"])
@require_role(*CLINICAL_ROLES)
def save_draft(patient_id: int, key: str) -> ResponseReturnValue:
    """Autosave (``static/js/drafts.js``): keep what the user typed into the form ``key``. Answers JSON."""
    patient = load_patient(patient_id)
    if not DraftForm().validate_on_submit():
        return jsonify(saved=False, error="The form has expired; reload the page."), 400
    try:
        draft = drafts.save(actor(), patient, key, drafts.clean(request.form), utcnow())
    except drafts.DraftError as error:
        return jsonify(saved=False, error=str(error)), 422
    db.session.commit()
    return jsonify(saved=True, saved_at=clinictime.shown(draft.saved_at, current_zone(), "%H:%M:%S"))


@bp.route("/patients/<int:patient_id>/drafts/<key>/discard", methods=["POST"])
@require_role(*CLINICAL_ROLES)
def discard_draft(patient_id: int, key: str) -> ResponseReturnValue:
    """Drop the user's draft of ``key`` and go back to the form, which shows the saved version again."""
    patient = load_patient(patient_id)
    if not EmptyForm().validate_on_submit() or not drafts.known(key):
        abort(400)
    drafts.discard(actor(), patient, key, on_request=True)
    db.session.commit()
    flash("Draft discarded.", "success")
    return redirect(drafts.page_of(key, patient.id)), 303
