"""Signing a note with the password, and each author's notes needing attention (unsigned, returned, waiting for
co-signature)."""

from __future__ import annotations

from datetime import timedelta

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from tracker import audit
from tracker.clinics import clinic_of
from tracker.extensions import db
from tracker.models import Patient, TherapySession
from tracker.models.base import utcnow
from tracker.notes.forms import SignForm
from tracker.notes.saving import NoteError, NoteSigned
from tracker.notes.signing import ContentChanged, SignRefused, follow_up_ok, sign_note
from tracker.notes.views import SIGNED_NOTICE
from tracker.pages import load_patient, protocol_of
from tracker.permissions import CLINICAL_ROLES, actor, require_role
from tracker.protocols import loaded_protocols
from tracker.sessions import bp, queries
from tracker.sessions.pages import Forms, label_of, render_session
from tracker.validators import requested_page

LIST_PAGE_SIZE = 25
CHANGED = "The note changed after you opened it (someone saved or added to it). Read it again, then sign."


def list_page() -> int:
    """The page of a list the request asks for (``?page=``)."""
    return requested_page(request.args.get("page"))


def fresh(patient_id: int, session_id: int) -> tuple[Patient, TherapySession]:
    """The patient and session loaded again after a rollback (what was loaded before is expired)."""
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
    visit = queries.load_session_or_404(db.session, patient, session_id)
    note = queries.load_note(db.session, visit)
    if note is None:
        abort(404, description="This session has no note to sign yet.")
    if note.is_signed:
        return render_session(patient, visit, Forms(notices=[SIGNED_NOTICE]), 409)
    form = SignForm()
    if not form.validate_on_submit():
        return render_session(patient, visit, Forms(sign=form), 422)
    follows = follow_up_ok(visit, queries.follow_ups(db.session, visit))
    try:
        sign_note(
            actor(),
            patient,
            visit,
            note,
            protocol_of(patient),
            form.password.data or "",
            form.content_hash.data or None,
            follows,
            utcnow(),
        )
    except NoteError as error:  # wrong password: keep the audit row of the attempt
        db.session.commit()
        form.password.errors.append(str(error))
        return render_session(patient, visit, Forms(sign=form), 422)
    except SignRefused as refused:
        form.password.errors.extend(refused.reasons)
        return render_session(*fresh(patient_id, session_id), Forms(sign=form), 409)
    except ContentChanged:
        return render_session(*fresh(patient_id, session_id), Forms(notices=[CHANGED]), 409)
    except NoteSigned:
        return render_session(*fresh(patient_id, session_id), Forms(notices=[SIGNED_NOTICE]), 409)
    db.session.commit()
    flash("Note signed. It can no longer be changed; corrections are added as addenda.", "success")
    return redirect(url_for("sessions.detail", patient_id=patient.id, session_id=visit.id, _anchor="signature"))


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
    number = list_page()
    rows = db.session.execute(query.limit(LIST_PAGE_SIZE).offset((number - 1) * LIST_PAGE_SIZE)).all()
    audit.record(
        actor(),
        "note.my_list",
        f"Listed own notes: {titles[show].lower()}",
        data={"session_ids": [visit.id for visit, _ in rows]},
    )
    db.session.commit()
    catalogue = loaded_protocols()
    labels = {visit.id: label_of(visit, catalogue.get(visit.patient.protocol_code)) for visit, _ in rows}
    pages = max(1, -(-total // LIST_PAGE_SIZE))
    return render_template(
        "sessions/my_notes.html",
        rows=rows,
        labels=labels,
        show=show,
        counts=counts,
        titles=titles,
        page=number,
        pages=pages,
        now=now,
    )
