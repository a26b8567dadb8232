"""What is added to a signed note (``tracker.notes.addenda``): a signed addendum, and the signed correction of an
adverse event's seriousness, a page of its own with the event, the corrections already signed, and the form (the
choice, a reason, the password; the rule lives in ``tracker.adverse_events``)."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from tracker import audit
from tracker.adverse_events import is_serious, label
from tracker.extensions import db
from tracker.models import AdverseEvent, Patient, TherapySession
from tracker.models.base import utcnow
from tracker.notes import addenda, drafts
from tracker.notes.addenda import add_addendum
from tracker.notes.forms import AddendumForm, SeriousnessCorrectionForm
from tracker.notes.saving import NoteError
from tracker.notes.sign_views import fresh
from tracker.pages import load_patient
from tracker.permissions import CLINICAL_ROLES, actor, require_role
from tracker.sessions import bp, queries
from tracker.sessions.pages import Forms, render_session, rerender_with_typing

DRAFT_NOTICE = "This note is still a draft: edit it instead of adding an addendum."
DRAFT = "This note is still a draft: remove the event and record it again instead of correcting it."


def _render(
    patient: Patient, visit: TherapySession, event: AdverseEvent, form: SeriousnessCorrectionForm, status: int = 200
) -> ResponseReturnValue:
    return render_template(
        "sessions/correct_seriousness.html", patient=patient, session=visit, event=event, form=form
    ), status


@bp.route(
    "/patients/<int:patient_id>/sessions/<int:session_id>/adverse-events/<int:event_id>/seriousness",
    methods=["GET", "POST"],
)
@require_role(*CLINICAL_ROLES)
def correct_seriousness(patient_id: int, session_id: int, event_id: int) -> ResponseReturnValue:
    """GET: the event and the correction form (audited as a view); POST: sign the correction.

    :raise 404: patient outside the user's care, or no such event on this session's note.
    """
    patient = load_patient(patient_id)
    visit = queries.load_session_or_404(db.session, patient, session_id)
    note = queries.load_note(db.session, visit)
    event = next((e for e in note.adverse_events if e.id == event_id), None) if note else None
    if note is None or event is None:
        return render_session(patient, visit, Forms(notices=["That event is not on this note."]), 404)
    if not note.is_signed:
        return render_session(patient, visit, Forms(notices=[DRAFT]), 409)
    form = SeriousnessCorrectionForm()
    if not form.is_submitted():
        audit.record(
            actor(),
            "session.view",
            "Opened the correction of an adverse event's seriousness",
            patient=patient,
            target_type="adverse_event",
            target_id=event.id,
        )
        db.session.commit()
        return _render(patient, visit, event, SeriousnessCorrectionForm(formdata=None))
    if not form.validate():
        return _render(patient, visit, event, form, 422)
    try:
        addenda.correct(
            actor(),
            patient,
            visit,
            note,
            event,
            form.serious.data == "yes",
            form.reason.data or "",
            form.password.data or "",
            utcnow(),
        )
    except NoteError as error:
        db.session.commit()  # the audit row of a wrong password
        getattr(form, error.field).errors.append(str(error))
        return _render(patient, visit, event, form, 422)
    db.session.commit()
    flash(
        f"Correction signed: the event now stands as {label(is_serious(event))}. The signed note is unchanged.",
        "success",
    )
    return redirect(url_for("sessions.detail", patient_id=patient.id, session_id=visit.id, _anchor="adverse-events"))


@bp.route("/patients/<int:patient_id>/sessions/<int:session_id>/addenda", methods=["POST"])
@require_role(*CLINICAL_ROLES)
@drafts.keeps_draft("addendum-{session_id}", "sessions.detail", rerender_with_typing("addendum"))
def addendum(patient_id: int, session_id: int) -> ResponseReturnValue:
    patient = load_patient(patient_id)
    visit = queries.load_session_or_404(db.session, patient, session_id)
    note = queries.load_note(db.session, visit)
    if note is None or not note.is_signed:
        return render_session(patient, visit, Forms(notices=[DRAFT_NOTICE]), 409)
    form = AddendumForm()
    if form.validate_on_submit():
        try:
            add_addendum(
                actor(), patient, note, form.reason.data or "", form.body.data or "", form.password.data or "", utcnow()
            )
        except NoteError as error:
            db.session.commit()  # the audit row of a wrong password
            getattr(form, error.field).errors.append(str(error))
            return render_session(*fresh(patient_id, session_id), Forms(addendum=form), 422)
        drafts.discard(actor(), patient, f"addendum-{visit.id}")
        db.session.commit()
        flash("Addendum signed and added beneath the note.", "success")
        return redirect(url_for("sessions.detail", patient_id=patient.id, session_id=visit.id, _anchor="addenda"))
    return render_session(patient, visit, Forms(addendum=form), 422)
