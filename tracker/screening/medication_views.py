"""The medication review page: current and past medications, the protocol's interaction rules each one matches,
and the add and edit forms (edits use optimistic locking, like the patient form)."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.datastructures import MultiDict

from tracker import audit
from tracker.extensions import db
from tracker.models import Medication, Patient
from tracker.notes import drafts
from tracker.pages import load_patient, local_today, show_error
from tracker.permissions import CLINICAL_ROLES, actor, require_role
from tracker.screening import bp
from tracker.screening.forms import MedicationForm, drug_class_label
from tracker.screening.pages import load_state
from tracker.screening.queries import ScreeningState, interactions_of
from tracker.screening.services import MEDICATION_FIELDS, ScreeningError, add_medication, update_medication


def _medication_key(patient: Patient) -> str:
    """The draft of the form adding a medication (``tracker.notes.drafts``)."""
    return f"medication-{patient.id}"


def _render_list(
    patient: Patient,
    state: ScreeningState,
    form: MedicationForm,
    status: int = 200,
    *,
    restored: bool = False,
    notice: str | None = None,
) -> ResponseReturnValue:
    current = [m for m in state.medications if m.is_current(local_today())]
    past = [m for m in state.medications if not m.is_current(local_today())]
    return (
        render_template(
            "screening/medications.html",
            patient=patient,
            state=state,
            current=current,
            past=past,
            rules=interactions_of(state.protocol, state.medications, local_today()),
            form=form,
            drug_class_label=drug_class_label,
            restored=restored,
            notice=notice,
            draft_key=_medication_key(patient),
        ),
        status,
    )


def _rerender_add(view_args: dict[str, Any], typing: MultiDict[str, str]) -> ResponseReturnValue:
    """After a refused CSRF token: the medication review with the posted medication in its form."""
    patient = load_patient(view_args["patient_id"])
    return _render_list(
        patient, load_state(patient), MedicationForm(formdata=typing), 400, notice=drafts.EXPIRED_NOTICE
    )


@bp.route("/patients/<int:patient_id>/medications")
@require_role(*CLINICAL_ROLES)
def medications(patient_id: int) -> ResponseReturnValue:
    patient = load_patient(patient_id)
    state = load_state(patient)
    typing = drafts.kept(actor(), patient, _medication_key(patient))
    audit.record(
        actor(),
        "medication.view",
        f"Viewed the medications of patient {patient.record_number}",
        patient=patient,
        data={"medication_ids": [m.id for m in state.medications]},
    )
    db.session.commit()
    return _render_list(patient, state, MedicationForm(formdata=typing), restored=typing is not None)


@bp.route("/patients/<int:patient_id>/medications", methods=["POST"])
@require_role(*CLINICAL_ROLES)
@drafts.keeps_draft("medication-{patient_id}", "screening.medications", _rerender_add)
def add(patient_id: int) -> ResponseReturnValue:
    patient = load_patient(patient_id)
    state = load_state(patient)
    form = MedicationForm()
    if form.validate_on_submit():
        try:
            medication = add_medication(actor(), patient, form.to_input())
        except ScreeningError as error:
            show_error(form, error)
        else:
            drafts.discard(actor(), patient, _medication_key(patient))
            db.session.commit()
            flash(f"Added {medication.name}.", "success")
            return redirect(url_for("screening.medications", patient_id=patient.id))
    return _render_list(patient, state, form, 422)


def _medication_or_404(patient: Patient, medication_id: int) -> Medication:
    """:raise 404: no such medication on this patient's list."""
    medication = db.session.scalar(
        select(Medication).where(Medication.id == medication_id, Medication.patient_id == patient.id)
    )
    if medication is None:
        abort(404)
    return medication


def _render_form(
    patient: Patient, medication: Medication, form: MedicationForm, conflict: dict[str, Any] | None, status: int
) -> ResponseReturnValue:
    return (
        render_template(
            "screening/medication_form.html",
            patient=patient,
            medication=medication,
            form=form,
            conflict=conflict,
            drug_class_label=drug_class_label,
        ),
        status,
    )


@bp.route("/patients/<int:patient_id>/medications/<int:medication_id>/edit", methods=["GET", "POST"])
@require_role(*CLINICAL_ROLES)
def edit_medication(patient_id: int, medication_id: int) -> ResponseReturnValue:
    patient = load_patient(patient_id)
    medication = _medication_or_404(patient, medication_id)
    form = MedicationForm(obj=medication)
    if request.method == "GET":
        form.version_id.data = str(medication.version_id)
        audit.record(
            actor(),
            "medication.view",
            f"Opened medication {medication.name} for editing",
            patient=patient,
            target_type="medication",
            target_id=medication.id,
        )
        db.session.commit()
    elif form.validate_on_submit():
        try:
            seen = int(form.version_id.data or -1)
        except ValueError:
            seen = -1
        if seen != medication.version_id:
            return _conflict(patient, medication, form)
        try:
            update_medication(actor(), patient, medication, form.to_input())
            db.session.commit()
        except ScreeningError as error:
            show_error(form, error)
        except StaleDataError:  # saved by someone else between our read and our write
            db.session.rollback()
            patient = load_patient(patient_id)
            return _conflict(patient, _medication_or_404(patient, medication_id), form)
        else:
            flash(f"Saved {medication.name}.", "success")
            return redirect(url_for("screening.medications", patient_id=patient.id))
    return _render_form(patient, medication, form, None, 422 if form.errors else 200)


def _conflict(patient: Patient, medication: Medication, form: MedicationForm) -> ResponseReturnValue:
    """Someone else saved first: show their saved values beside what this user typed, which is kept; saving
    again keeps this user's version."""
    saved = {name: getattr(medication, name) for name in MEDICATION_FIELDS}
    form.version_id.data = str(medication.version_id)
    return _render_form(patient, medication, form, saved, 409)
