"""Signing a note, adding signed addenda, the supervisor's co-signature, and the lists that keep notes moving:
the supervisor's co-sign queue and each author's notes needing attention."""

from __future__ import annotations

from datetime import timedelta

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from tracker import audit
from tracker.clinics import clinic_of
from tracker.extensions import db
from tracker.models import CosignOutcome, Patient, Role, TherapySession
from tracker.models.base import utcnow
from tracker.permissions import CLINICAL_ROLES, actor, require_role
from tracker.protocols import loaded_protocols
from tracker.sessions import bp, drafts, queries
from tracker.sessions.note_forms import AddendumForm, CosignForm, SignForm
from tracker.sessions.note_views import SIGNED_NOTICE
from tracker.sessions.notes import NoteError, NoteSigned
from tracker.sessions.pages import Forms, label_of, load_patient, protocol_of, render_session, rerender_with_typing
from tracker.sessions.signing import (
    ContentChanged,
    CosignState,
    NotTheirSupervisor,
    SignRefused,
    add_addendum,
    cosign_state,
    decide_cosign,
    follow_up_ok,
    sign_note,
)
from tracker.validators import requested_page

LIST_PAGE_SIZE = 25
DRAFT_NOTICE = "This note is still a draft: edit it instead of adding an addendum."
CHANGED = "The note changed after you opened it (someone saved or added to it). Read it again, then sign."


def _page() -> int:
    return requested_page(request.args.get("page"))


def _fresh(patient_id: int, session_id: int) -> tuple[Patient, TherapySession]:
    db.session.rollback()
    patient = load_patient(patient_id)
    return patient, queries.load_session_or_404(db.session, patient, session_id)


@bp.route("/patients/<int:patient_id>/sessions/<int:session_id>/sign", methods=["POST"])
@require_role(*CLINICAL_ROLES)
def sign(patient_id: int, session_id: int) -> ResponseReturnValue:
    """Sign and lock the note with the user's password.

    :raise 404: no note on this session yet.
    """
    patient = load_patient(patient_id)
    session = queries.load_session_or_404(db.session, patient, session_id)
    note = queries.load_note(db.session, session)
    if note is None:
        abort(404, description="This session has no note to sign yet.")
    if note.is_signed:
        return render_session(patient, session, Forms(notices=[SIGNED_NOTICE]), 409)
    form = SignForm()
    if not form.validate_on_submit():
        return render_session(patient, session, Forms(sign=form), 422)
    follows = follow_up_ok(session, queries.follow_ups(db.session, session))
    try:
        sign_note(actor(), patient, session, note, protocol_of(patient), form.password.data or "",
                  form.content_hash.data or None, follows, utcnow())
    except NoteError as error:  # wrong password: keep the audit row of the attempt
        db.session.commit()
        form.password.errors.append(str(error))
        return render_session(patient, session, Forms(sign=form), 422)
    except SignRefused as refused:
        form.password.errors.extend(refused.reasons)
        return render_session(*_fresh(patient_id, session_id), Forms(sign=form), 409)
    except ContentChanged:
        return render_session(*_fresh(patient_id, session_id), Forms(notices=[CHANGED]), 409)
    except NoteSigned:
        return render_session(*_fresh(patient_id, session_id), Forms(notices=[SIGNED_NOTICE]), 409)
    db.session.commit()
    flash("Note signed. It can no longer be changed; corrections are added as addenda.", "success")
    return redirect(url_for("sessions.detail", patient_id=patient.id, session_id=session.id, _anchor="signature"))


@bp.route("/patients/<int:patient_id>/sessions/<int:session_id>/addenda", methods=["POST"])
@require_role(*CLINICAL_ROLES)
@drafts.keeps_draft("addendum-{session_id}", "sessions.detail", rerender_with_typing("addendum"))
def addendum(patient_id: int, session_id: int) -> ResponseReturnValue:
    patient = load_patient(patient_id)
    session = queries.load_session_or_404(db.session, patient, session_id)
    note = queries.load_note(db.session, session)
    if note is None or not note.is_signed:
        return render_session(patient, session, Forms(notices=[DRAFT_NOTICE]), 409)
    form = AddendumForm()
    if form.validate_on_submit():
        try:
            add_addendum(actor(), patient, note, form.reason.data or "", form.body.data or "",
                         form.password.data or "", utcnow())
        except NoteError as error:
            db.session.commit()  # the audit row of a wrong password
            getattr(form, error.field).errors.append(str(error))
            return render_session(*_fresh(patient_id, session_id), Forms(addendum=form), 422)
        drafts.discard(actor(), patient, f"addendum-{session.id}")
        db.session.commit()
        flash("Addendum signed and added beneath the note.", "success")
        return redirect(url_for("sessions.detail", patient_id=patient.id, session_id=session.id, _anchor="addenda"))
    return render_session(patient, session, Forms(addendum=form), 422)


@bp.route("/patients/<int:patient_id>/sessions/<int:session_id>/cosign", methods=["POST"])
@require_role(Role.SUPERVISOR)
def cosign(patient_id: int, session_id: int) -> ResponseReturnValue:
    """The signer's supervisor co-signs the note, or returns it with a comment.

    :raise 403: the user is not the supervisor of the therapist who signed.
    :raise 404: no signed note on this session.
    """
    patient = load_patient(patient_id)
    session = queries.load_session_or_404(db.session, patient, session_id)
    note = queries.load_note(db.session, session)
    if note is None or note.signed_by is None:
        abort(404, description="This session has no signed note.")
    if note.signed_by.supervisor_id != actor().id:
        abort(403, description="Only the supervisor of the therapist who signed can co-sign or return this note.")
    if cosign_state(note) is not CosignState.PENDING:
        return render_session(patient, session, Forms(notices=["This note is not waiting for a co-signature."]), 409)
    form = CosignForm()
    if form.validate_on_submit():
        decision = CosignOutcome(form.decision.data)
        try:
            decide_cosign(actor(), patient, note, note.signed_by, decision, form.comment.data,
                          form.content_hash.data or None, utcnow(), password=form.password.data or "")
        except NotTheirSupervisor:
            abort(403)
        except NoteError as error:
            db.session.commit()  # the audit row of a wrong password
            getattr(form, error.field).errors.append(str(error))
            return render_session(*_fresh(patient_id, session_id), Forms(cosign=form), 422)
        except ContentChanged:
            return render_session(*_fresh(patient_id, session_id), Forms(notices=[CHANGED]), 409)
        db.session.commit()
        flash("Note co-signed." if decision is CosignOutcome.COSIGNED else "Note returned to its author.", "success")
        return redirect(url_for("sessions.cosign_queue"))
    return render_session(patient, session, Forms(cosign=form), 422)


@bp.route("/notes/cosign")
@require_role(Role.SUPERVISOR)
def cosign_queue() -> ResponseReturnValue:
    """Notes signed by the supervisor's supervisees that wait for their co-signature, oldest first."""
    page = db.paginate(queries.cosign_queue(actor()), page=_page(), per_page=LIST_PAGE_SIZE, error_out=False)
    audit.record(
        actor(), "note.cosign_queue", f"Listed {len(page.items)} notes waiting for co-signature",
        data={"note_ids": [n.id for n in page.items]},
    )
    db.session.commit()
    catalogue = loaded_protocols()
    labels = {n.id: label_of(n.session, catalogue.get(n.session.patient.protocol_code)) for n in page.items}
    return render_template("sessions/cosign_queue.html", page=page, labels=labels)


def _my_titles(overdue_hours: int) -> dict[str, str]:
    return {
        "overdue": f"Unsigned notes older than {overdue_hours} hour{'' if overdue_hours == 1 else 's'}",
        "returned": "Returned by your supervisor",
        "waiting": "Waiting for co-signature",
    }


@bp.route("/notes/mine")
@require_role(*CLINICAL_ROLES)
def my_notes() -> ResponseReturnValue:
    """The user's notes needing attention, one list at a time (``?show=overdue|returned|waiting``)."""
    show = request.args.get("show", "overdue")
    if show not in queries.MY_LISTS:
        abort(400, description="Choose one of the lists: overdue, returned or waiting.")
    now = utcnow()
    hours = clinic_of(db.session, actor().clinic_id).attention_note_unsigned_hours  # the dashboard's, so both agree
    titles = _my_titles(hours)
    lists = {name: queries.my_notes(actor(), name, now, timedelta(hours=hours)) for name in queries.MY_LISTS}
    counts = {name: queries.count(db.session, query) for name, query in lists.items()}
    query = lists[show]
    total = counts[show]
    number = _page()
    rows = db.session.execute(query.limit(LIST_PAGE_SIZE).offset((number - 1) * LIST_PAGE_SIZE)).all()
    audit.record(
        actor(), "note.my_list", f"Listed own notes: {titles[show].lower()}",
        data={"session_ids": [session.id for session, _ in rows]},
    )
    db.session.commit()
    catalogue = loaded_protocols()
    labels = {session.id: label_of(session, catalogue.get(session.patient.protocol_code)) for session, _ in rows}
    pages = max(1, -(-total // LIST_PAGE_SIZE))
    return render_template(
        "sessions/my_notes.html", rows=rows, labels=labels, show=show, counts=counts, titles=titles,
        page=number, pages=pages, now=now,
    )
