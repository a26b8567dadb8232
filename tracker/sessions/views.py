"""Session pages: a patient's sessions against the protocol's plan, scheduling or recording a session (and the
patient page's quick "session held" form), editing it until its note is signed, and the session page itself
(``pages.render_session``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from jinja2 import pass_context
from jinja2.runtime import Context
from wtforms import SelectChoice

from tracker import audit, clinictime, vitals
from tracker.clinics import template_zone
from tracker.extensions import db
from tracker.models import Patient, SessionKind, SessionNote, TherapySession
from tracker.models.base import utcnow
from tracker.notes import record
from tracker.pages import load_patient, paginate, protocol_of
from tracker.patients.forms import PhaseForm
from tracker.patients.page import render_detail
from tracker.permissions import CLINICAL_ROLES, actor, require_role
from tracker.sessions import bp, queries
from tracker.sessions.forms import SessionDetailsForm, SessionForm
from tracker.sessions.pages import label_of, minute, render_session
from tracker.sessions.plan import progress
from tracker.sessions.services import (
    SessionError,
    SessionLocked,
    current_cycle,
    default_cycle,
    log_session,
    note_is_signed,
    record_session,
    update_session,
)

SESSIONS_PER_PAGE = 25
LOCKED = (
    "This session's note is signed, so the session is part of the signed record and cannot be changed. "
    "Add an addendum to the note instead."
)


@bp.route("/patients/<int:patient_id>/sessions")
@require_role(*CLINICAL_ROLES)
def index(patient_id: int) -> ResponseReturnValue:
    """Every session of the patient, newest first, a page at a time, with planned against done."""
    patient = load_patient(patient_id)
    protocol = protocol_of(patient)
    page = paginate(queries.sessions_query(patient), SESSIONS_PER_PAGE)
    counts = queries.tallies(db.session, patient)
    summary = (
        progress(protocol.sessions, counts, patient.phase, current_cycle(db.session, patient), patient.held_from_phase)
        if protocol
        else None
    )
    audit.record(
        actor(),
        "session.list",
        f"Listed the sessions of patient {patient.record_number}",
        patient=patient,
        data={"session_ids": [s.id for s in page.items]},
    )
    db.session.commit()
    return render_template(
        "sessions/list.html",
        patient=patient,
        protocol=protocol,
        page=page,
        summary=summary,
        notes=queries.note_states(db.session, [s.id for s in page.items]),
        labels={s.id: label_of(s, protocol) for s in page.items},
    )


def _prepare(form: SessionDetailsForm, patient: Patient) -> None:
    team = sorted((m.user for m in patient.care_team), key=lambda u: u.full_name)
    people = team if actor() in team else [*team, actor()]
    form.present_ids.choices = [SelectChoice(u.id, u.full_name) for u in people]


def _render_form(
    patient: Patient, form: SessionDetailsForm, visit: TherapySession | None, status: int = 200
) -> ResponseReturnValue:
    protocol = protocol_of(patient)
    return (
        render_template(
            "sessions/form.html",
            patient=patient,
            form=form,
            session=visit,
            protocol=protocol,
            label=label_of(visit, protocol) if visit else None,
        ),
        status,
    )


def _field(form: SessionDetailsForm, name: str) -> Any:
    """The field an error belongs to; the kind's (or, when editing, the cycle's) when the form has no such field."""
    return getattr(form, name, None) or getattr(form, "kind", None) or form.cycle


@bp.route("/patients/<int:patient_id>/sessions", methods=["POST"])
@require_role(*CLINICAL_ROLES)
def log_session_held(patient_id: int) -> ResponseReturnValue:
    """The patient page's quick form: a session held just now, as planned. A refusal shows the patient page again
    with the form's errors (422)."""
    patient = load_patient(patient_id, phase_history=True)
    form = SessionForm()
    if form.validate_on_submit():
        try:
            protocol = protocol_of(patient)
            held = log_session(actor(), patient, form.to_input(), utcnow(), protocol)
        except SessionError as error:
            getattr(form, error.field, form.kind).errors.extend(error.reasons)
        else:
            db.session.commit()
            flash(f"{held.kind.label} session logged.", "success")
            return redirect(url_for("patients.detail", patient_id=patient.id, _anchor="sessions-heading"))
    return render_detail(patient, PhaseForm(formdata=None), 422, session_form=form)


@bp.route("/patients/<int:patient_id>/sessions/new", methods=["GET", "POST"])
@require_role(*CLINICAL_ROLES)
def new(patient_id: int) -> ResponseReturnValue:
    """Schedule a session or record one that took place. Query arguments pre-fill the form (the dosing page's
    "schedule the next-day follow-up" link uses ``kind``, ``cycle`` and ``scheduled_at``)."""
    patient = load_patient(patient_id)
    form = SessionDetailsForm()
    _prepare(form, patient)
    if request.method == "GET":
        kind = request.args.get("kind", SessionKind.PREPARATION.value)
        form.kind.data = kind if kind in {k.value for k in SessionKind} else SessionKind.PREPARATION.value
        form.cycle.data = default_cycle(db.session, patient, SessionKind(form.kind.data))
        cycle = request.args.get("cycle", "")
        if cycle.isascii() and cycle.isdigit() and len(cycle) <= 3:  # "²" is a digit to Python, not a number
            form.cycle.data = int(cycle)
        try:  # on the clinic's clock, as the field shows it
            typed = datetime.strptime(request.args.get("scheduled_at", ""), clinictime.INPUT_FORMAT)
            form.scheduled_at.data = clinictime.from_local(typed, form.scheduled_at.zone)
        except (ValueError, OverflowError):
            form.scheduled_at.data = None
        form.present_ids.data = [actor().id] if actor().is_therapist else []
        return _render_form(patient, form, None)
    if form.validate_on_submit():
        try:
            visit = record_session(actor(), patient, form.to_input(), protocol_of(patient), utcnow())
        except SessionError as error:
            _field(form, error.field).errors.extend(error.reasons)
        else:
            db.session.commit()
            flash(f"{visit.kind.label} session {'logged' if visit.held_at else 'scheduled'}.", "success")
            return redirect(url_for("sessions.detail", patient_id=patient.id, session_id=visit.id))
    return _render_form(patient, form, None, 422)


@bp.route("/patients/<int:patient_id>/sessions/<int:session_id>")
@require_role(*CLINICAL_ROLES)
def detail(patient_id: int, session_id: int) -> ResponseReturnValue:
    patient = load_patient(patient_id)
    visit = queries.load_session_or_404(db.session, patient, session_id)
    response = render_session(patient, visit)
    audit.record(
        actor(),
        "session.view",
        f"Viewed a {visit.kind.label.lower()} session and its note",
        patient=patient,
        target_type="therapy_session",
        target_id=visit.id,
    )
    db.session.commit()
    return response


@bp.route("/patients/<int:patient_id>/sessions/<int:session_id>/edit", methods=["GET", "POST"])
@require_role(*CLINICAL_ROLES)
def edit(patient_id: int, session_id: int) -> ResponseReturnValue:
    """Change a session's times, cycle, place and therapists present.

    :raise 409: the session's note is signed (the session is part of the signed record).
    """
    patient = load_patient(patient_id)
    visit = queries.load_session_or_404(db.session, patient, session_id)
    if note_is_signed(db.session, visit):
        abort(409, description=LOCKED)
    form = SessionDetailsForm(obj=visit)
    del form.kind  # fixed once the session exists
    _prepare(form, patient)
    if request.method == "GET":
        for name in ("held_at", "scheduled_at"):
            value = getattr(visit, name)
            getattr(form, name).data = minute(value) if value else None
        form.present_ids.data = [u.id for u in visit.present]
        audit.record(
            actor(),
            "session.view",
            f"Opened a {visit.kind.label.lower()} session for editing",
            patient=patient,
            target_type="therapy_session",
            target_id=visit.id,
        )
        db.session.commit()
        return _render_form(patient, form, visit)
    if form.validate_on_submit():
        try:
            changes = update_session(actor(), patient, visit, form.to_input(visit.kind), protocol_of(patient), utcnow())
        except SessionLocked:
            abort(409, description=LOCKED)
        except SessionError as error:
            db.session.rollback()
            visit = queries.load_session_or_404(db.session, patient, session_id)
            _field(form, error.field).errors.extend(error.reasons)
        else:
            db.session.commit()
            flash("Session saved." if changes else "Nothing had changed.", "success")
            return redirect(url_for("sessions.detail", patient_id=patient.id, session_id=visit.id))
    return _render_form(patient, form, visit, 422)


@bp.app_template_global()
def session_url(visit: TherapySession) -> str:
    return url_for("sessions.detail", patient_id=visit.patient_id, session_id=visit.id)


@bp.app_template_global()
@pass_context
def dosing_record(context: Context, note: SessionNote, part: str) -> list[record.Row]:
    """``dosing_record(note, "administration")`` or ``"discharge"``: the rows the session page and the PDF print,
    on the clinic's clock of the page (``clinic_zone``, as the ``local`` filter reads it)."""
    fields = record.ADMINISTRATION if part == "administration" else record.DISCHARGE
    return record.rows(fields, note, template_zone(context))


@bp.app_template_filter("sign_label")
def sign_label(sign: str) -> str:
    """A vital sign's name as the pages print it ("Systolic BP")."""
    return vitals.LABELS.get(sign, sign)


@bp.app_context_processor
def session_helpers() -> dict[str, Any]:
    """``label_of(session, protocol)`` for any template that lists sessions (the patient page among them)."""
    return {"label_of": label_of}
