"""The measure pages: a patient's schedule, trends and results; recording a measure; one result; correcting it."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import exists, select
from sqlalchemy.orm import joinedload
from werkzeug.datastructures import MultiDict

from tracker import audit
from tracker.extensions import db
from tracker.instruments import Instrument, ScoringError, get_instrument, instruments, item_problems
from tracker.models import MeasureResult, Patient, SafetyAlert
from tracker.notes import drafts
from tracker.outcomes import bp
from tracker.outcomes.forms import CorrectionForm, MeasureForm, field_for_item, measure_form
from tracker.outcomes.queries import alerts_of, measures_state
from tracker.outcomes.services import MeasureError, correct_result, record_result
from tracker.pages import PageArgs, load_patient, local_today, paginate_list, protocol_of, read_args, show_error
from tracker.permissions import CLINICAL_ROLES, actor, require_role
from tracker.plans.queries import adherence_table


def _instrument_or_404(code: str) -> Instrument:
    """:raise 404: no instrument has this code."""
    found = instruments().get(code)
    if found is None:
        abort(404)
    return found


def _result_or_404(patient: Patient, result_id: int) -> MeasureResult:
    """:raise 404: no such result for this patient."""
    result = db.session.scalar(
        select(MeasureResult)
        .where(MeasureResult.id == result_id, MeasureResult.patient_id == patient.id)
        .options(joinedload(MeasureResult.entered_by), joinedload(MeasureResult.supersedes))
    )
    if result is None:
        abort(404)
    return result


@bp.route("/patients/<int:patient_id>/measures")
@require_role(*CLINICAL_ROLES)
def overview(patient_id: int) -> ResponseReturnValue:
    patient = load_patient(patient_id, phase_history=True)
    args = read_args(PageArgs, "results")
    state = measures_state(db.session, patient, protocol_of(patient), local_today())
    page = paginate_list(state.results, current_app.config["MEASURE_RESULTS_PER_PAGE"], args.page.data)
    alerts = alerts_of(db.session, patient.id)
    check_ins, practices = adherence_table(db.session, patient.id)
    audit.record(
        actor(),
        "measure.view",
        f"Viewed the measures of patient {patient.record_number}",
        patient=patient,
        data={"result_ids": [r.id for r in page.items]},
    )
    db.session.commit()
    return render_template(
        "outcomes/overview.html",
        patient=patient,
        state=state,
        page=page,
        alerts=alerts,
        catalogue=instruments(),
        check_ins=check_ins,
        practices=practices,
    )


def _render_form(
    patient: Patient,
    form: MeasureForm,
    status: int = 200,
    correcting: MeasureResult | None = None,
    *,
    restored: bool = False,
    notice: str | None = None,
) -> ResponseReturnValue:
    return render_template(
        "outcomes/form.html",
        patient=patient,
        form=form,
        correcting=correcting,
        restored=restored,
        notice=notice,
        draft_key=f"resultfix-{correcting.id}" if correcting is not None else None,
    ), status


def _rerender_correction(view_args: dict[str, Any], typing: MultiDict[str, str]) -> ResponseReturnValue:
    """After a refused CSRF token: the correction form with what was posted in it (``drafts.rescue``)."""
    patient = load_patient(view_args["patient_id"], phase_history=True)
    old = _result_or_404(patient, view_args["result_id"])
    form = measure_form(get_instrument(old.instrument), correction=True, formdata=typing)
    return _render_form(patient, form, 400, correcting=old, notice=drafts.EXPIRED_NOTICE)


def _save_failed(form: MeasureForm, error: ScoringError | MeasureError) -> None:
    """Each message next to its field: every item's problem at once (``item_problems``), not only the first."""
    if isinstance(error, ScoringError):
        problems = item_problems(form.instrument, form.answers()) or {error.item or 0: str(error)}
        for number, message in problems.items():
            field_for_item(form, number).errors.append(message)
    else:
        show_error(form, error)


@bp.route("/patients/<int:patient_id>/measures/<code>/new", methods=["GET", "POST"])
@require_role(*CLINICAL_ROLES)
def record(patient_id: int, code: str) -> ResponseReturnValue:
    """Record one administration. A refused answer is shown next to its item (422) and nothing is saved.

    :raise 404: patient outside the user's scope, or an unknown instrument.
    """
    patient = load_patient(patient_id, phase_history=True)
    instrument = _instrument_or_404(code)
    form = measure_form(instrument)
    if request.method == "GET":
        form.administered_on.data = local_today()
        audit.record(actor(), "measure.form", f"Opened the {instrument.short_name} form", patient=patient)
        db.session.commit()
        return _render_form(patient, form)
    if form.validate_on_submit():
        try:
            saved = record_result(actor(), patient, form.to_input(), local_today())
        except (ScoringError, MeasureError) as error:  # raised before anything is written
            _save_failed(form, error)
        else:
            db.session.commit()
            flash(_saved_message(saved, instrument), "success")
            return redirect(url_for("outcomes.result", patient_id=patient.id, result_id=saved.id))
    return _render_form(patient, form, 422)


def _saved_message(saved: MeasureResult, instrument: Instrument) -> str:
    score = f"{saved.total} ({saved.band})" if saved.total is not None else saved.band
    message = f"Saved the {instrument.short_name}: {score}."
    if saved.urgent_flags:
        alerted = db.session.scalar(select(exists().where(SafetyAlert.result_id == saved.id)))
        message += (
            " A safety alert was raised for the care team and the supervisor."
            if alerted
            else " Its urgent answer was alerted on before, so no new alert was raised; the result shows it."
        )
    return message


@bp.route("/patients/<int:patient_id>/measures/results/<int:result_id>")
@require_role(*CLINICAL_ROLES)
def result(patient_id: int, result_id: int) -> ResponseReturnValue:
    patient = load_patient(patient_id, phase_history=True)
    row = _result_or_404(patient, result_id)
    replaced_by = db.session.scalar(select(MeasureResult.id).where(MeasureResult.supersedes_id == row.id))
    alerts = [a for a in alerts_of(db.session, patient.id) if a.result_id == row.id]
    audit.record(
        actor(),
        "measure.view_result",
        f"Viewed a {get_instrument(row.instrument).short_name} result",
        patient=patient,
        target_type="measure_result",
        target_id=row.id,
    )
    db.session.commit()
    return render_template(
        "outcomes/result.html",
        patient=patient,
        row=row,
        instrument=get_instrument(row.instrument),
        replaced_by=replaced_by,
        alert=alerts[0] if alerts else None,
    )


@bp.route("/patients/<int:patient_id>/measures/results/<int:result_id>/correct", methods=["GET", "POST"])
@require_role(*CLINICAL_ROLES)
@drafts.keeps_draft("resultfix-{result_id}", "outcomes.correct", _rerender_correction)
def correct(patient_id: int, result_id: int) -> ResponseReturnValue:
    """A correction: a new result with the answers as they should have been, superseding this one.

    :raise 404: patient outside the user's scope, or no such result for this patient.
    """
    patient = load_patient(patient_id, phase_history=True)
    old = _result_or_404(patient, result_id)
    instrument = get_instrument(old.instrument)
    form = measure_form(instrument, correction=True)
    key = f"resultfix-{old.id}"
    if request.method == "GET":
        typing = drafts.kept(actor(), patient, key)
        if typing is not None:
            form = measure_form(instrument, correction=True, formdata=typing)
        else:
            form.administered_on.data = old.administered_on
            form.mode.data = old.mode.value
            for field, answer in zip(form.answer_fields(), old.answers, strict=True):
                field.data = answer
        audit.record(
            actor(),
            "measure.view_result",
            f"Opened a {instrument.short_name} result to correct it",
            patient=patient,
            target_type="measure_result",
            target_id=old.id,
        )
        db.session.commit()
        return _render_form(patient, form, correcting=old, restored=typing is not None)
    assert isinstance(form, CorrectionForm)
    if form.validate_on_submit():
        try:
            saved = correct_result(actor(), patient, old, form.to_input(), form.reason.data or "", local_today())
        except (ScoringError, MeasureError) as error:  # raised before anything is written
            _save_failed(form, error)
        else:
            drafts.discard(actor(), patient, key)
            db.session.commit()
            flash(_saved_message(saved, instrument) + " The earlier result is kept, marked as corrected.", "success")
            return redirect(url_for("outcomes.result", patient_id=patient.id, result_id=saved.id))
    return _render_form(patient, form, 422, correcting=old)
