"""Private process notes (author only; everyone else gets 404)."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import MultiDict

from tracker import audit
from tracker.auth.forms import EmptyForm
from tracker.extensions import db
from tracker.models import Patient, ProcessNote, Role, TherapySession
from tracker.models.base import utcnow
from tracker.notes import drafts, private
from tracker.notes.forms import ProcessNoteForm
from tracker.notes.saving import StaleNote
from tracker.pages import load_patient, protocol_of
from tracker.permissions import CLINICAL_ROLES, actor, require_role
from tracker.sessions import bp, queries
from tracker.sessions.pages import label_of


@bp.route("/patients/<int:patient_id>/sessions/<int:session_id>/private-notes", methods=["POST"])
@require_role(*CLINICAL_ROLES)
def start_private_note(patient_id: int, session_id: int) -> ResponseReturnValue:
    """Open the user's own process note on the session, starting it if needed."""
    patient = load_patient(patient_id)
    visit = queries.load_session_or_404(db.session, patient, session_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    note = private.start(actor(), patient, visit, utcnow())
    db.session.commit()
    return redirect(url_for("sessions.private_note", patient_id=patient.id, note_id=note.id)), 303


def _rerender_private(view_args: dict[str, Any], typing: MultiDict[str, str]) -> ResponseReturnValue:
    """After a refused CSRF token: the author's note page with the posted typing (``drafts.rescue``)."""
    patient = load_patient(view_args["patient_id"])
    note = private.get_for_author_or_404(actor(), patient, view_args["note_id"])
    visit = queries.load_session_or_404(db.session, patient, note.session_id)
    return _page(patient, visit, note, ProcessNoteForm(formdata=typing), notice=drafts.EXPIRED_NOTICE), 400


def _page(
    patient: Patient,
    visit: TherapySession,
    note: ProcessNote,
    form: ProcessNoteForm,
    *,
    conflict: dict[str, Any] | None = None,
    restored: bool = False,
    notice: str | None = None,
) -> str:
    return render_template(
        "sessions/private_note.html",
        patient=patient,
        session=visit,
        note=note,
        form=form,
        conflict=conflict,
        restored=restored,
        draft_key=f"private-{note.id}",
        discard_form=EmptyForm(formdata=None),
        label=label_of(visit, protocol_of(patient)),
        notice=notice,
    )


# Admins reach the view so that, like everyone but the author, they get the 404 of a note that does not exist.
@bp.route("/patients/<int:patient_id>/private-notes/<int:note_id>", methods=["GET", "POST"])
@require_role(Role.THERAPIST, Role.SUPERVISOR, Role.ADMIN)
@drafts.keeps_draft("private-{note_id}", "sessions.private_note", _rerender_private)
def private_note(patient_id: int, note_id: int) -> ResponseReturnValue:
    """The author's private process note.

    :raise 404: the user is not the author (or may not see the patient), whoever they are.
    """
    patient = load_patient(patient_id)
    note = private.get_for_author_or_404(actor(), patient, note_id)
    visit = queries.load_session_or_404(db.session, patient, note.session_id)
    key = f"private-{note.id}"
    form = ProcessNoteForm()
    conflict = None
    status = 200
    restored = False
    if request.method == "GET":
        kept = drafts.load(actor(), patient, [key]).get(key)
        if kept is not None and kept.saved_at > note.updated_at:
            form = ProcessNoteForm(formdata=drafts.restored(actor(), patient, kept))
            restored = True
        else:
            form = ProcessNoteForm(formdata=None, body=note.body, version_id=str(note.version_id))
        audit.record(
            actor(),
            "process_note.view",
            "Opened a private process note",
            patient=patient,
            target_type="process_note",
            target_id=note.id,
        )
        db.session.commit()
    elif form.validate_on_submit():
        try:
            changed = private.save(actor(), patient, note, form.body.data or "", form.seen_version(), utcnow())
            drafts.discard(actor(), patient, key)
            db.session.commit()
        except StaleNote as stale:
            db.session.rollback()
            conflict = stale.current
            patient = load_patient(patient_id)
            note = private.get_for_author_or_404(actor(), patient, note_id)
            visit = queries.load_session_or_404(db.session, patient, note.session_id)
            form.version_id.data = str(note.version_id)
            status = 409
        else:
            flash("Private note saved." if changed else "Nothing had changed.", "success")
            return redirect(url_for("sessions.private_note", patient_id=patient.id, note_id=note.id))
    else:
        status = 422
    return _page(patient, visit, note, form, conflict=conflict, restored=restored), status
