"""The supervisor's co-signature of a note (co-sign or return with a comment) and their queue of notes waiting for
it (``tracker.notes.cosign``)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from tracker import audit
from tracker.extensions import db
from tracker.models import CosignOutcome, Role
from tracker.models.base import utcnow
from tracker.notes.cosign import CosignState, NotTheirSupervisor, cosign_state, decide_cosign
from tracker.notes.forms import CosignForm
from tracker.notes.saving import NoteError
from tracker.notes.sign_views import CHANGED, LIST_PAGE_SIZE, fresh
from tracker.notes.signing import ContentChanged
from tracker.pages import load_patient, paginate
from tracker.permissions import actor, require_role
from tracker.protocols import loaded_protocols
from tracker.sessions import bp, queries
from tracker.sessions.pages import Forms, label_of, render_session


@bp.route("/patients/<int:patient_id>/sessions/<int:session_id>/cosign", methods=["POST"])
@require_role(Role.SUPERVISOR)
def cosign(patient_id: int, session_id: int) -> ResponseReturnValue:
    """The signer's supervisor co-signs the note, or returns it with a comment.

    :raise 403: the user is not the supervisor of the therapist who signed.
    :raise 404: no signed note on this session.
    """
    patient = load_patient(patient_id)
    visit = queries.load_session_or_404(db.session, patient, session_id)
    note = queries.load_note(db.session, visit)
    if note is None or note.signed_by is None:
        abort(404, description="This session has no signed note.")
    if note.signed_by.supervisor_id != actor().id:
        abort(403, description="Only the supervisor of the therapist who signed can co-sign or return this note.")
    if cosign_state(note) is not CosignState.PENDING:
        return render_session(patient, visit, Forms(notices=["This note is not waiting for a co-signature."]), 409)
    form = CosignForm()
    if form.validate_on_submit():
        decision = CosignOutcome(form.decision.data)
        try:
            decide_cosign(
                actor(),
                patient,
                note,
                note.signed_by,
                decision,
                form.comment.data,
                form.content_hash.data or None,
                utcnow(),
                password=form.password.data or "",
            )
        except NotTheirSupervisor:
            abort(403)
        except NoteError as error:
            db.session.commit()  # the audit row of a wrong password
            getattr(form, error.field).errors.append(str(error))
            return render_session(*fresh(patient_id, session_id), Forms(cosign=form), 422)
        except ContentChanged:
            return render_session(*fresh(patient_id, session_id), Forms(notices=[CHANGED]), 409)
        db.session.commit()
        flash("Note co-signed." if decision is CosignOutcome.COSIGNED else "Note returned to its author.", "success")
        return redirect(url_for("sessions.cosign_queue"))
    return render_session(patient, visit, Forms(cosign=form), 422)


@bp.route("/notes/cosign")
@require_role(Role.SUPERVISOR)
def cosign_queue() -> ResponseReturnValue:
    """Notes signed by the supervisor's supervisees that wait for their co-signature, oldest first."""
    page = paginate(queries.cosign_queue(actor()), LIST_PAGE_SIZE)
    audit.record(
        actor(),
        "note.cosign_queue",
        f"Listed {len(page.items)} notes waiting for co-signature",
        data={"note_ids": [n.id for n in page.items]},
    )
    db.session.commit()
    catalogue = loaded_protocols()
    labels = {n.id: label_of(n.session, catalogue.get(n.session.patient.protocol_code)) for n in page.items}
    return render_template("sessions/cosign_queue.html", page=page, labels=labels)
