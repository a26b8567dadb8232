from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.datastructures import MultiDict
from wtforms import SelectChoice

from tracker import audit
from tracker.extensions import db
from tracker.models import Patient, Phase, SexAtBirth
from tracker.notes import drafts
from tracker.outcomes.queries import patients_with_open_alerts
from tracker.pages import load_patient, paginate, protocol_of, read_args, show_error
from tracker.patients import bp
from tracker.patients.forms import ListArgs, PatientForm, PhaseForm, SearchForm
from tracker.patients.page import phase_key, render_detail
from tracker.patients.services import (
    DETAIL_FIELDS,
    CareTeam,
    PatientDetails,
    PatientError,
    StaleEdit,
    caseload_query,
    change_phase,
    create_patient,
    possible_duplicates,
    therapist_choices,
    update_patient,
)
from tracker.permissions import CLINICAL_ROLES, actor, patient_scope, require_role
from tracker.protocols import accepted_indications, loaded_protocols
from tracker.validators import enum_member
from tracker.workflow import TransitionError

SEARCH_KEY = "patient_search"  # kept in the session, so names typed into search never appear in URLs or logs


@bp.route("/")
@require_role(*CLINICAL_ROLES)
def index() -> ResponseReturnValue:
    return _render_list(SearchForm(q=session.get(SEARCH_KEY) or None))


def _render_list(search_form: SearchForm, status: int = 200) -> ResponseReturnValue:
    args = read_args(ListArgs, "list")
    search = session.get(SEARCH_KEY) or None
    query = caseload_query(actor(), search, args.sort.data or "name", args.order.data == "desc")
    page = paginate(query, current_app.config["PATIENTS_PER_PAGE"], args.page.data)
    alerted = patients_with_open_alerts(db.session, [p.id for p in page.items])
    audit.record(
        actor(),
        "patient.list",
        f"Listed {len(page.items)} patients",
        data={"patient_ids": [p.id for p in page.items], "search": bool(search)},
    )
    db.session.commit()
    return (
        render_template(
            "patients/list.html",
            page=page,
            search_form=search_form,
            search=search,
            sort=args.sort.data or "name",
            order=args.order.data or "asc",
            protocols=loaded_protocols(),
            alerted=alerted,
        ),
        status,
    )


@bp.route("/search", methods=["POST"])
@require_role(*CLINICAL_ROLES)
def search() -> ResponseReturnValue:
    form = SearchForm()
    if not form.validate_on_submit():
        return _render_list(form, 422)  # the error shows next to the search box; the search in force is kept
    session[SEARCH_KEY] = form.q.data or None
    return redirect(url_for("patients.index")), 303


def _details(form: PatientForm) -> PatientDetails:
    values = {name: getattr(form, name).data for name in DETAIL_FIELDS}
    values["sex_at_birth"] = enum_member(SexAtBirth, values["sex_at_birth"])
    values["can_become_pregnant"] = {"yes": True, "no": False}.get(values["can_become_pregnant"] or "")
    return PatientDetails(**values)


def _team(form: PatientForm) -> CareTeam:
    return CareTeam(lead_id=form.lead_therapist_id.data or 0, co_therapist_ids=tuple(form.co_therapist_ids.data or ()))


def _prepare_form(form: PatientForm, patient: Patient | None = None) -> None:
    """Choices from the clinic and the installed protocols: only indications some protocol accepts are offered
    (and the patient's own, should their protocol have been removed), so no enrolment can end in "no protocol
    accepts this"."""
    therapists = therapist_choices(actor())
    form.lead_therapist_id.choices = [SelectChoice(t.id, t.full_name) for t in therapists]
    form.co_therapist_ids.choices = [SelectChoice(t.id, t.full_name) for t in therapists]
    protocols = list(loaded_protocols().values())
    form.protocol_code.choices = [
        SelectChoice(p.code, f"{p.name} (for: {', '.join(i.label for i in p.indications)})") for p in protocols
    ]
    offered = accepted_indications(protocols)
    if patient is not None and patient.indication not in offered:
        offered.append(patient.indication)
    form.indication.choices = [SelectChoice(i.value, i.label) for i in offered]


@bp.route("/new", methods=["GET", "POST"])
@require_role(*CLINICAL_ROLES)
def create() -> ResponseReturnValue:
    form = PatientForm()
    _prepare_form(form)
    if request.method == "GET" and current_user.is_therapist:
        form.lead_therapist_id.data = current_user.id
    duplicates: list[str] | None = None
    if form.validate_on_submit():
        details = _details(form)
        found = possible_duplicates(actor(), details)
        if found and not form.enrol_anyway.data:
            visible = {
                p.id
                for p in db.session.scalars(
                    select(Patient).where(Patient.id.in_([p.id for p in found]), patient_scope(actor()))
                )
            }
            duplicates = [p.record_number if p.id in visible else "a patient outside your caseload" for p in found]
            form.enrol_anyway.errors.append(
                "A patient with this name and date of birth is already enrolled. Open that record instead, or tick "
                "the box if this is a different person."
            )
        else:
            try:
                patient = create_patient(actor(), details, _team(form), loaded_protocols())
            except PatientError as error:
                show_error(form, error)
            else:
                db.session.commit()
                flash(f"{patient.full_name} was enrolled and starts in preparation.", "success")
                return redirect(url_for("patients.detail", patient_id=patient.id))
    status = 422 if form.errors else 200
    return render_template("patients/form.html", form=form, patient=None, conflict=None, duplicates=duplicates), status


@bp.route("/<int:patient_id>")
@require_role(*CLINICAL_ROLES)
def detail(patient_id: int) -> ResponseReturnValue:
    patient = load_patient(patient_id, phase_history=True)
    typing = drafts.kept(actor(), patient, phase_key(patient.id))
    audit.record(actor(), "patient.view", f"Viewed patient {patient.record_number}", patient=patient)
    db.session.commit()
    return render_detail(patient, PhaseForm(formdata=typing), restored=typing is not None)


def _rerender_phase(view_args: dict[str, Any], typing: MultiDict[str, str]) -> ResponseReturnValue:
    """After a refused CSRF token: the patient page with the posted reason in the phase form."""
    patient = load_patient(view_args["patient_id"], phase_history=True)
    return render_detail(patient, PhaseForm(formdata=typing), 400, notice=drafts.EXPIRED_NOTICE)


def _rerender_edit(view_args: dict[str, Any], typing: MultiDict[str, str]) -> ResponseReturnValue:
    """After a refused CSRF token: the patient's details form with what was posted in it (``drafts.rescue``)."""
    patient = load_patient(view_args["patient_id"], phase_history=True)
    form = PatientForm(formdata=typing)
    _prepare_form(form, patient)
    return render_template(
        "patients/form.html",
        form=form,
        patient=patient,
        conflict=None,
        notice=drafts.EXPIRED_NOTICE,
        draft_key=f"patient-{patient.id}",
    ), 400


@bp.route("/<int:patient_id>/edit", methods=["GET", "POST"])
@require_role(*CLINICAL_ROLES)
@drafts.keeps_draft("patient-{patient_id}", "patients.edit", _rerender_edit)
def edit(patient_id: int) -> ResponseReturnValue:
    """The patient's details, from the user's draft of them if they left one (``tracker.notes.drafts``)."""
    patient = load_patient(patient_id, phase_history=True)
    key = f"patient-{patient.id}"
    typing = drafts.kept(actor(), patient, key) if request.method == "GET" else None
    form = PatientForm(obj=patient) if typing is None else PatientForm(formdata=typing)
    _prepare_form(form, patient)
    conflict: dict[str, Any] | None = None
    if request.method == "GET":
        if typing is None:
            form.version_id.data = str(patient.version_id)
            form.lead_therapist_id.data = patient.lead_therapist.id if patient.lead_therapist else None
            form.co_therapist_ids.data = [u.id for u in patient.co_therapists]
        audit.record(actor(), "patient.view", f"Opened patient {patient.record_number} for editing", patient=patient)
        db.session.commit()
    elif form.validate_on_submit():
        try:
            seen = int(form.version_id.data or -1)
        except ValueError:
            seen = -1
        try:
            changes = update_patient(actor(), patient, _details(form), _team(form), seen, loaded_protocols())
            drafts.discard(actor(), patient, key)
            db.session.commit()
        except PatientError as error:
            db.session.rollback()
            show_error(form, error)
        except (StaleEdit, StaleDataError) as stale:
            db.session.rollback()
            conflict = stale.current if isinstance(stale, StaleEdit) else None
            return _conflict(patient_id, form, conflict)
        else:
            flash("Changes saved." if changes else "Nothing had changed.", "success")
            return redirect(url_for("patients.detail", patient_id=patient.id))
    status = 422 if form.errors else 200
    return render_template(
        "patients/form.html", form=form, patient=patient, conflict=conflict, restored=typing is not None, draft_key=key
    ), status


def _conflict(patient_id: int, form: PatientForm, current: dict[str, Any] | None) -> ResponseReturnValue:
    """Someone else saved first: show their saved values beside what this user typed, which is kept."""
    patient = load_patient(patient_id, phase_history=True)
    if current is None:
        current = {name: getattr(patient, name) for name in DETAIL_FIELDS}
    form.version_id.data = str(patient.version_id)
    return (
        render_template(
            "patients/form.html", form=form, patient=patient, conflict=current, draft_key=f"patient-{patient.id}"
        ),
        409,
    )


@bp.route("/<int:patient_id>/phase", methods=["POST"])
@require_role(*CLINICAL_ROLES)
@drafts.keeps_draft("phase-{patient_id}", "patients.detail", _rerender_phase)
def move_phase(patient_id: int) -> ResponseReturnValue:
    patient = load_patient(patient_id, phase_history=True)
    form = PhaseForm()
    if form.validate_on_submit():
        try:
            change_phase(
                actor(),
                patient,
                Phase(form.target.data),
                form.reason.data,
                protocol_of(patient),
            )
        except TransitionError as refused:
            db.session.rollback()
            form.target.errors.extend(refused.reasons)
            patient = load_patient(patient_id, phase_history=True)
            return render_detail(patient, form, 409)
        drafts.discard(actor(), patient, phase_key(patient.id))
        db.session.commit()
        flash(f"Moved to {patient.phase.label.lower()}.", "success")
        return redirect(url_for("patients.detail", patient_id=patient.id))
    return render_detail(patient, form, 422)
