"""Writing a draft note: its fields (optimistic locking: a stale save answers 409 with both versions and keeps the
user's typing), its vital signs and its adverse events. Every write to a signed note answers 409."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm.exc import StaleDataError

from tracker import audit
from tracker.auth.forms import EmptyForm
from tracker.extensions import db
from tracker.models import AdverseEvent, Patient, SessionKind, SessionNote, TherapySession, VitalReading
from tracker.models.base import utcnow
from tracker.notes import drafts, fields
from tracker.notes.fields import DosingField, Section
from tracker.notes.forms import NOTE_FORMS, AdverseEventForm, VitalsForm
from tracker.notes.saving import (
    NoteError,
    NoteSigned,
    StaleNote,
    add_adverse_event,
    add_vital_reading,
    remove_adverse_event,
    remove_vital_reading,
    save_note,
    saved_values,
)
from tracker.pages import load_patient, protocol_of
from tracker.permissions import CLINICAL_ROLES, actor, require_role
from tracker.sessions import bp, queries
from tracker.sessions.pages import Forms, render_session, rerender_with_typing

SIGNED_NOTICE = "This note is signed and can no longer be changed; corrections are added as addenda."


@bp.app_template_global()
def dosing_inputs(section: str) -> list[DosingField]:
    """The dosing note form's inputs of ``section`` (``"administration"``, ``"supplemental"``, ``"discharge"``,
    ``"before_dose"``), in the order of the dosing note's table."""
    return fields.dosing_inputs(Section(section))


def _load(patient_id: int, session_id: int) -> tuple[Patient, TherapySession, SessionNote | None]:
    patient = load_patient(patient_id)
    visit = queries.load_session_or_404(db.session, patient, session_id)
    return patient, visit, queries.load_note(db.session, visit)


def _reload(patient_id: int, session_id: int) -> tuple[Patient, TherapySession]:
    """After a rollback: everything loaded before is expired, and its relationships cannot load lazily."""
    db.session.rollback()
    patient = load_patient(patient_id)
    return patient, queries.load_session_or_404(db.session, patient, session_id)


def _signed(patient: Patient, visit: TherapySession) -> ResponseReturnValue:
    """409: the note is signed; the page shows it as signed, with the addendum form."""
    return render_session(*_reload(patient.id, visit.id), Forms(notices=[SIGNED_NOTICE]), 409)


def _dosing_only(visit: TherapySession) -> None:
    if visit.kind is not SessionKind.DOSING:
        abort(404, description="Vital signs and adverse events are recorded on dosing sessions.")


def _back(patient: Patient, visit: TherapySession, anchor: str | None = None) -> ResponseReturnValue:
    return redirect(url_for("sessions.detail", patient_id=patient.id, session_id=visit.id, _anchor=anchor))


@bp.route("/patients/<int:patient_id>/sessions/<int:session_id>/note", methods=["POST"])
@require_role(*CLINICAL_ROLES)
@drafts.keeps_draft("note-{session_id}", "sessions.detail", rerender_with_typing("note"))
def save_note_draft(patient_id: int, session_id: int) -> ResponseReturnValue:
    patient, visit, note = _load(patient_id, session_id)
    if note is not None and note.is_signed:
        return _signed(patient, visit)
    form = NOTE_FORMS[visit.kind]()
    if not form.validate_on_submit():
        return render_session(patient, visit, Forms(note=form), 422)
    try:
        note, changed = save_note(
            actor(), patient, visit, note, form.to_input(), form.seen_version(), utcnow(), protocol_of(patient)
        )
        drafts.discard(actor(), patient, f"note-{visit.id}")
        db.session.commit()
    except NoteError as error:
        getattr(form, error.field).errors.extend(error.reasons)
        return render_session(*_reload(patient_id, session_id), Forms(note=form), 422)
    except NoteSigned:
        return _signed(patient, visit)
    except (StaleNote, StaleDataError):
        return _conflict(patient_id, session_id, form)
    flash("Draft saved." if changed else "Nothing had changed.", "success")
    return _back(patient, visit, "note")


def _conflict(patient_id: int, session_id: int, form: object) -> ResponseReturnValue:
    """Someone saved the note after this user opened it: show the saved version beside what this user typed
    (kept in the form, now at the current version, so saving again keeps this user's text)."""
    db.session.rollback()
    patient, visit, note = _load(patient_id, session_id)
    if note is not None and note.is_signed:
        return _signed(patient, visit)
    current = saved_values(note, visit.kind) if note is not None else {}
    form.version_id.data = str(note.version_id) if note is not None else ""  # type: ignore[attr-defined]
    return render_session(patient, visit, Forms(note=form, conflict=current), 409)  # type: ignore[arg-type]


@bp.route("/patients/<int:patient_id>/sessions/<int:session_id>/vitals", methods=["POST"])
@require_role(*CLINICAL_ROLES)
def add_vitals(patient_id: int, session_id: int) -> ResponseReturnValue:
    """:raise 404: not a dosing session (only those record vital signs)."""
    patient, visit, note = _load(patient_id, session_id)
    _dosing_only(visit)
    if note is not None and note.is_signed:
        return _signed(patient, visit)
    form = VitalsForm()
    if form.validate_on_submit():
        try:
            row = add_vital_reading(
                actor(), patient, visit, note, form.taken(), form.reading(), protocol_of(patient), utcnow()
            )
        except NoteError as error:
            getattr(form, error.field).errors.append(str(error))
        except NoteSigned:
            return _signed(patient, visit)
        else:
            db.session.commit()
            if row.flags:
                flash("Reading saved. Out of range: " + "; ".join(row.flags.values()) + ".", "warning")
            else:
                flash("Reading saved; all values within the protocol's limits.", "success")
            return _back(patient, visit, "vitals")
    return render_session(*_reload(patient_id, session_id), Forms(vitals=form), 422)


#: The removal is confirmed: the confirmation page's form sends it; a bare POST (one click) removes nothing.
CONFIRMED = "yes"
NOT_CONFIRMED = "Nothing was removed yet: check what you are removing, then confirm below."


def _confirm_removal(
    patient: Patient,
    visit: TherapySession,
    *,
    reading: VitalReading | None = None,
    event: AdverseEvent | None = None,
    refused: bool = False,
) -> ResponseReturnValue:
    """The confirmation step before a removal, a page of its own so it works without JavaScript: what is about to
    go, a button that removes it, a link that keeps it. A POST that did not come from it answers 400 with this
    page."""
    what = "a vital-signs reading" if reading is not None else "an adverse event"
    audit.record(
        actor(),
        "session.view",
        f"Asked to confirm the removal of {what} from a draft note",
        patient=patient,
        target_type="therapy_session",
        target_id=visit.id,
    )
    db.session.commit()
    return render_template(
        "sessions/confirm_removal.html",
        patient=patient,
        session=visit,
        reading=reading,
        event=event,
        form=EmptyForm(formdata=None),
        confirmed=CONFIRMED,
        refused=NOT_CONFIRMED if refused else None,
    ), (400 if refused else 200)


def _confirmed() -> bool:
    return request.method == "POST" and request.form.get("confirm") == CONFIRMED


@bp.route(
    "/patients/<int:patient_id>/sessions/<int:session_id>/vitals/<int:reading_id>/remove", methods=["GET", "POST"]
)
@require_role(*CLINICAL_ROLES)
def remove_vitals(patient_id: int, session_id: int, reading_id: int) -> ResponseReturnValue:
    """GET: ask to confirm; POST with the confirmation: take the reading out of the draft."""
    patient, visit, note = _load(patient_id, session_id)
    row = next((r for r in note.vitals if r.id == reading_id), None) if note else None
    if note is None or row is None:
        return render_session(patient, visit, Forms(notices=["That reading is not on this note."]), 404)
    if note.is_signed:
        return _signed(patient, visit)
    if not _confirmed():
        return _confirm_removal(patient, visit, reading=row, refused=request.method == "POST")
    remove_vital_reading(actor(), patient, note, row)
    db.session.commit()
    flash("Reading removed from the draft.", "success")
    return _back(patient, visit, "vitals")


@bp.route("/patients/<int:patient_id>/sessions/<int:session_id>/adverse-events", methods=["POST"])
@require_role(*CLINICAL_ROLES)
@drafts.keeps_draft("ae-{session_id}", "sessions.detail", rerender_with_typing("adverse_event"))
def add_event(patient_id: int, session_id: int) -> ResponseReturnValue:
    """:raise 404: not a dosing session (only those record adverse events here)."""
    patient, visit, note = _load(patient_id, session_id)
    _dosing_only(visit)
    if note is not None and note.is_signed:
        return _signed(patient, visit)
    form = AdverseEventForm()
    if form.validate_on_submit():
        try:
            add_adverse_event(actor(), patient, visit, note, form.to_input(), utcnow())
            drafts.discard(actor(), patient, f"ae-{visit.id}")
        except NoteError as error:
            getattr(form, error.field).errors.append(str(error))
        except NoteSigned:
            return _signed(patient, visit)
        else:
            db.session.commit()
            flash("Adverse event recorded.", "success")
            return _back(patient, visit, "adverse-events")
    return render_session(*_reload(patient_id, session_id), Forms(adverse_event=form), 422)


@bp.route(
    "/patients/<int:patient_id>/sessions/<int:session_id>/adverse-events/<int:event_id>/remove",
    methods=["GET", "POST"],
)
@require_role(*CLINICAL_ROLES)
def remove_event(patient_id: int, session_id: int, event_id: int) -> ResponseReturnValue:
    """GET: ask to confirm; POST with the confirmation: take the event out of the draft."""
    patient, visit, note = _load(patient_id, session_id)
    row: AdverseEvent | None = next((e for e in note.adverse_events if e.id == event_id), None) if note else None
    if note is None or row is None:
        return render_session(patient, visit, Forms(notices=["That event is not on this note."]), 404)
    if note.is_signed:
        return _signed(patient, visit)
    if not _confirmed():
        return _confirm_removal(patient, visit, event=row, refused=request.method == "POST")
    remove_adverse_event(actor(), patient, note, row)
    db.session.commit()
    flash("Adverse event removed from the draft.", "success")
    return _back(patient, visit, "adverse-events")
