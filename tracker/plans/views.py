"""The integration plan pages: the current plan as the patient reads it, with its version history; one past
version; writing a new version; marking a version given to the patient."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.interfaces import LoaderOption
from werkzeug.datastructures import MultiDict

from tracker import audit
from tracker.clinics import clinic_of
from tracker.extensions import db
from tracker.instruments import get_instrument
from tracker.models import IntegrationPlanVersion, Patient, PlanHandout
from tracker.notes import drafts
from tracker.outcomes.queries import measures_state
from tracker.pages import PageArgs, load_patient, local_today, paginate, protocol_of, read_args
from tracker.permissions import CLINICAL_ROLES, actor, require_role
from tracker.plans import bp
from tracker.plans.forms import GivenForm, PlanForm, plan_form, practice_row_count
from tracker.plans.practices import SUGGESTED, PracticeError, clean
from tracker.plans.services import PlanError, StalePlan, current_version, mark_given, save_version
from tracker.schedule import Status, Timepoint

FOLLOW_UP_SECTION = "Follow-up sessions and measures"
VERSIONS_PER_PAGE = 20


def _with_details() -> tuple[LoaderOption, LoaderOption]:
    return joinedload(IntegrationPlanVersion.created_by), selectinload(IntegrationPlanVersion.handouts).joinedload(
        PlanHandout.recorded_by
    )


def _version_or_404(patient: Patient, number: int) -> IntegrationPlanVersion:
    """:raise 404: the patient has no version with this number."""
    version = db.session.scalar(
        select(IntegrationPlanVersion)
        .where(IntegrationPlanVersion.patient_id == patient.id, IntegrationPlanVersion.number == number)
        .options(*_with_details())
    )
    if version is None:
        abort(404)
    return version


def _render_plan(
    patient: Patient, version: IntegrationPlanVersion | None, latest: int, given_form: GivenForm, status: int = 200
) -> ResponseReturnValue:
    args = read_args(PageArgs, "versions")
    history = paginate(
        select(IntegrationPlanVersion)
        .where(IntegrationPlanVersion.patient_id == patient.id)
        .options(*_with_details())
        .order_by(IntegrationPlanVersion.number.desc()),
        VERSIONS_PER_PAGE,
        args.page.data,
    )
    audit.record(
        actor(),
        "plan.view",
        f"Viewed version {version.number} of the integration plan" if version else "Viewed the integration plan",
        patient=patient,
        target_type="integration_plan_version" if version else None,
        target_id=version.id if version else None,
    )
    db.session.commit()
    page = render_template(
        "plans/plan.html", patient=patient, version=version, latest=latest, history=history, given_form=given_form
    )
    return page, status


@bp.route("/patients/<int:patient_id>/plan")
@require_role(*CLINICAL_ROLES)
def plan(patient_id: int) -> ResponseReturnValue:
    patient = load_patient(patient_id, phase_history=True)
    current = current_version(db.session, patient.id)
    version = _version_or_404(patient, current.number) if current else None
    return _render_plan(patient, version, current.number if current else 0, _given_form())


def _given_form(**kwargs: object) -> GivenForm:
    form = GivenForm(**kwargs)
    if form.given_on.data is None and not form.given_on.raw_data:
        form.given_on.data = local_today()
    return form


@bp.route("/patients/<int:patient_id>/plan/versions/<int:number>")
@require_role(*CLINICAL_ROLES)
def version(patient_id: int, number: int) -> ResponseReturnValue:
    patient = load_patient(patient_id, phase_history=True)
    shown = _version_or_404(patient, number)
    current = current_version(db.session, patient.id)
    assert current is not None  # there is at least the version shown
    return _render_plan(patient, shown, current.number, _given_form(formdata=None))


@bp.route("/patients/<int:patient_id>/plan/versions/<int:number>/given", methods=["POST"])
@require_role(*CLINICAL_ROLES)
def given(patient_id: int, number: int) -> ResponseReturnValue:
    """Mark a version given to the patient. :raise 404: no such version for this patient."""
    patient = load_patient(patient_id, phase_history=True)
    shown = _version_or_404(patient, number)
    form = _given_form()
    if form.validate_on_submit():
        try:
            handout = mark_given(actor(), patient, shown, form.given_on.data, local_today())
        except PlanError as error:
            form.given_on.errors.append(str(error))
        else:
            db.session.commit()
            flash(f"Version {number} marked as given to the patient on {handout.given_on.isoformat()}.", "success")
            return redirect(url_for("plans.version", patient_id=patient.id, number=number))
    current = current_version(db.session, patient.id)
    assert current is not None
    return _render_plan(patient, shown, current.number, form, 422)


def _titles(patient: Patient, current: IntegrationPlanVersion | None) -> list[str]:
    """The protocol's sections, then any section of the current version the protocol no longer has (a change of
    protocol must not drop what was written)."""
    protocol = protocol_of(patient)
    titles = list(protocol.integration_plan_sections) if protocol else []
    if current is not None:
        titles += [s["title"] for s in current.sections if s["title"] not in titles and s["text"]]
    return titles


def _clinic_crisis_line() -> str | None:
    """The clinic's crisis line (its settings), what a first version of the plan starts from."""
    return clinic_of(db.session, actor().clinic_id).crisis_line


def _follow_up_draft(patient: Patient) -> str:
    """A first draft of the follow-up section, from the measures schedule: what is still to come, with dates."""
    protocol = protocol_of(patient)
    state = measures_state(db.session, patient, protocol, local_today(), with_trends=False)
    lines = []
    for occurrence in state.schedule or []:
        if occurrence.status is Status.DONE or occurrence.timepoint not in (
            Timepoint.END_OF_TREATMENT,
            Timepoint.FOLLOW_UP,
        ):
            continue
        name = get_instrument(occurrence.instrument).short_name
        when = (
            f"between {occurrence.opens.isoformat()} and {occurrence.closes.isoformat()}"
            if occurrence.opens and occurrence.closes
            else "date to be set"
        )
        lines.append(f"- {name} questionnaire, {occurrence.label.lower()}: {when}.")
    return "\n".join(lines)


def draft_key(patient: Patient) -> str:
    return f"plan-{patient.id}"


def _rerender_edit(view_args: dict[str, Any], typing: MultiDict[str, str]) -> ResponseReturnValue:
    """After a refused CSRF token: the editor with the posted typing (``drafts.rescue``)."""
    patient = load_patient(view_args["patient_id"], phase_history=True)
    current = current_version(db.session, patient.id)
    form = plan_form(_titles(patient, current), practice_row_count(typing, 0), formdata=typing)
    return _render_edit(patient, form, None, 400, notice=drafts.EXPIRED_NOTICE)


@bp.route("/patients/<int:patient_id>/plan/edit", methods=["GET", "POST"])
@require_role(*CLINICAL_ROLES)
@drafts.keeps_draft("plan-{patient_id}", "plans.edit", _rerender_edit)
def edit(patient_id: int) -> ResponseReturnValue:
    """Write a new version, starting from the current one, or from the user's draft of it (typing kept while they
    wrote, ``tracker.notes.drafts``). Saving never changes an earlier version.

    :raise 400: the hidden version number was tampered with.
    """
    patient = load_patient(patient_id, phase_history=True)
    current = current_version(db.session, patient.id)
    titles = _titles(patient, current)
    if not titles:
        abort(404, description=f"The protocol {patient.protocol_code!r} is not installed, so the plan has no sections.")
    saved = current.practice_items if current else []
    form = plan_form(titles, practice_row_count(request.form, len(saved)))
    newer: IntegrationPlanVersion | None = None
    restored = False
    if request.method == "GET":
        typing = drafts.kept(actor(), patient, draft_key(patient))
        if typing is not None:
            form, restored = plan_form(titles, practice_row_count(typing, len(saved)), formdata=typing), True
        else:
            _fill(form, patient, current, saved)
        audit.record(actor(), "plan.view", "Opened the integration plan to write a new version", patient=patient)
        db.session.commit()
    elif form.validate_on_submit():
        try:
            based_on = form.based_on_number()
        except ValueError:
            abort(400, description="The form was altered; reload the plan and write the version again.")
        try:
            practices = clean(form.practice_rows())
            version = save_version(actor(), patient, form.texts(), form.crisis_line.data or "", based_on, practices)
        except PracticeError as error:
            pair = form.practice_fields()[min(error.row, form.rows - 1)]
            (pair[1] if error.field == "frequency" else pair[0]).errors.append(str(error))
        except PlanError as error:
            _field_of(form, error.field).errors.append(str(error))
        except StalePlan as stale:
            newer = stale.current
            form.based_on.data = str(newer.number if newer else 0)
            return _render_edit(patient, form, newer, 409)
        else:
            drafts.discard(actor(), patient, draft_key(patient))
            db.session.commit()
            if version is None:
                flash("Nothing had changed; no new version was saved.", "info")
            else:
                flash(f"Saved version {version.number} of the plan; it is now the current one.", "success")
            return redirect(url_for("plans.plan", patient_id=patient.id))
    return _render_edit(patient, form, newer, 422 if form.errors else 200, restored=restored)


def _fill(form: PlanForm, patient: Patient, current: IntegrationPlanVersion | None, saved: list[Any]) -> None:
    """The editor as it opens: the current version's text, or a first version's starting points."""
    form.based_on.data = str(current.number if current else 0)
    form.crisis_line.data = current.crisis_line if current else (_clinic_crisis_line() or "")
    for title, field in zip(form.titles, form.section_fields(), strict=True):
        field.data = current.text_of(title) if current else ""
        if current is None and title == FOLLOW_UP_SECTION:
            field.data = _follow_up_draft(patient)
    for item, (practice, frequency) in zip(saved, form.practice_fields(), strict=False):
        practice.data, frequency.data = item["practice"], item["frequency"]


def _field_of(form: PlanForm, name: str) -> Any:
    if name == "sections":
        return form.section_fields()[0]
    return form[name]


def _render_edit(
    patient: Patient,
    form: PlanForm,
    newer: IntegrationPlanVersion | None,
    status: int,
    *,
    restored: bool = False,
    notice: str | None = None,
) -> ResponseReturnValue:
    return render_template(
        "plans/edit.html",
        patient=patient,
        form=form,
        newer=newer,
        suggestions=SUGGESTED,
        restored=restored,
        draft_key=draft_key(patient),
        notice=notice,
    ), status
