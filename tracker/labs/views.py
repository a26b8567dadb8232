"""The laboratory results page of a patient (every result, newest sample first, in pages; the newest of each marker
against the protocol's requirements; the recording form) and the correction of a result."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from werkzeug.datastructures import MultiDict
from wtforms import Field

from tracker import audit
from tracker.extensions import db
from tracker.labs import describe_range, markers
from tracker.labs.forms import SEPARATOR, LabCorrectionForm, LabForm
from tracker.labs.queries import history, latest_per_marker, requirements
from tracker.labs.services import LabError, correct_result, is_superseded, record_result
from tracker.models import LabResult, Patient
from tracker.notes import drafts
from tracker.pages import PageArgs, load_patient, local_today, paginate, protocol_of, read_args
from tracker.permissions import CLINICAL_ROLES, actor, require_role

bp = Blueprint("labs", __name__)

RESULTS_PER_PAGE = 50


@bp.app_template_global("describe_range")
def range_for_templates(low: float | None, high: float | None, unit: str) -> str:
    return describe_range(low, high, unit)


def _render(patient: Patient, form: LabForm, status: int = 200) -> ResponseReturnValue:
    args = read_args(PageArgs, "results")
    page = paginate(history(patient.id), RESULTS_PER_PAGE, args.page.data)
    superseded = {r.supersedes_id for r in page.items if r.supersedes_id is not None}
    latest = latest_per_marker(db.session, patient.id)
    protocol = protocol_of(patient)
    audit.record(
        actor(),
        "lab.view",
        f"Viewed the laboratory results of patient {patient.record_number}",
        patient=patient,
        data={"result_ids": [r.id for r in page.items]},
    )
    db.session.commit()
    return render_template(
        "labs/index.html",
        patient=patient,
        page=page,
        superseded=superseded,
        latest=latest,
        form=form,
        required=requirements(protocol, latest, local_today()),
        protocol=protocol,
        markers=markers(),
    ), status


@bp.route("/patients/<int:patient_id>/labs")
@require_role(*CLINICAL_ROLES)
def index(patient_id: int) -> ResponseReturnValue:
    patient = load_patient(patient_id, phase_history=True)
    form = LabForm(formdata=None)
    form.collected_on.data = local_today()
    return _render(patient, form)


@bp.route("/patients/<int:patient_id>/labs", methods=["POST"])
@require_role(*CLINICAL_ROLES)
def record(patient_id: int) -> ResponseReturnValue:
    patient = load_patient(patient_id, phase_history=True)
    form = LabForm()
    if form.validate_on_submit():
        try:
            row = record_result(actor(), patient, form.to_input(), local_today())
        except LabError as error:
            db.session.rollback()
            _field(form, error.field).errors.append(str(error))
            patient = load_patient(patient_id, phase_history=True)  # reloaded after the rollback
        else:
            db.session.commit()
            shown = f"{markers()[row.marker].name} {row.value:g} {row.unit}"
            if row.flag:
                shown_range = describe_range(row.reference_low, row.reference_high, row.unit)
                flash(f"Saved: {shown}, {row.flag} (range {shown_range}).", "warning")
            else:
                flash(f"Saved: {shown}, within the range.", "success")
            return redirect(url_for("labs.index", patient_id=patient.id))
    return _render(patient, form, 422)


def _field(form: LabForm, name: str) -> Field:
    return form["marker_unit"] if name in ("marker", "unit") else form[name]


def _result_or_404(patient: Patient, result_id: int) -> LabResult:
    """:raise 404: no such result for this patient."""
    row = db.session.scalar(
        select(LabResult)
        .where(LabResult.id == result_id, LabResult.patient_id == patient.id)
        .options(joinedload(LabResult.entered_by))
    )
    if row is None:
        abort(404)
    return row


def _render_correction(
    patient: Patient,
    row: LabResult,
    form: LabCorrectionForm,
    status: int,
    *,
    restored: bool = False,
    notice: str | None = None,
) -> ResponseReturnValue:
    return render_template(
        "labs/correct.html",
        patient=patient,
        row=row,
        form=form,
        marker=markers().get(row.marker),
        restored=restored,
        notice=notice,
        draft_key=f"labfix-{row.id}",
    ), status


def _rerender_correction(view_args: dict[str, Any], typing: MultiDict[str, str]) -> ResponseReturnValue:
    """After a refused CSRF token: the correction form with what was posted in it (``drafts.rescue``)."""
    patient = load_patient(view_args["patient_id"], phase_history=True)
    row = _result_or_404(patient, view_args["lab_id"])
    return _render_correction(patient, row, LabCorrectionForm(formdata=typing), 400, notice=drafts.EXPIRED_NOTICE)


@bp.route("/patients/<int:patient_id>/labs/<int:lab_id>/correct", methods=["GET", "POST"])
@require_role(*CLINICAL_ROLES)
@drafts.keeps_draft("labfix-{lab_id}", "labs.correct", _rerender_correction)
def correct(patient_id: int, lab_id: int) -> ResponseReturnValue:
    """Correct a result: a new one supersedes it, both kept. :raise 404: no such result for this patient."""
    patient = load_patient(patient_id, phase_history=True)
    row = _result_or_404(patient, lab_id)
    key = f"labfix-{row.id}"
    if request.method == "GET":
        typing = drafts.kept(actor(), patient, key)
        form = LabCorrectionForm(
            formdata=typing,
            data={
                "marker_unit": f"{row.marker}{SEPARATOR}{row.unit}",
                "value": row.value,
                "collected_on": row.collected_on,
                "reference_low": row.reference_low if row.range_from_laboratory else None,
                "reference_high": row.reference_high if row.range_from_laboratory else None,
                "laboratory": row.laboratory,
            },
        )
        audit.record(
            actor(),
            "lab.view",
            "Opened a laboratory result to correct it",
            patient=patient,
            target_type="lab_result",
            target_id=row.id,
        )
        db.session.commit()
        status = 409 if is_superseded(row) else 200
        return _render_correction(patient, row, form, status, restored=typing is not None)
    form = LabCorrectionForm()
    if form.validate_on_submit():
        try:
            new = correct_result(actor(), patient, row, form.to_input(), form.reason.data or "", local_today())
        except LabError as error:
            db.session.rollback()
            _field(form, error.field).errors.append(str(error))
            patient = load_patient(patient_id, phase_history=True)
            row = _result_or_404(patient, lab_id)
        else:
            drafts.discard(actor(), patient, key)
            db.session.commit()
            flash(
                f"Corrected: the result of {new.collected_on.isoformat()} replaces the one entered before.", "success"
            )
            return redirect(url_for("labs.index", patient_id=patient.id))
    return _render_correction(patient, row, form, 422)
