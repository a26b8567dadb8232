"""The screening checklist page with its answer, sign-off and review forms, and the supervisors' review queue."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import selectinload

from tracker import audit
from tracker.clinics import local_today
from tracker.extensions import db
from tracker.models import CareTeamMember, Patient, ReviewDecision, Role
from tracker.models.alert import with_open_alerts
from tracker.permissions import CLINICAL_ROLES, actor, get_patient_for_user_or_404, require_role
from tracker.protocols import ScreeningItem, loaded_protocols
from tracker.screening import bp
from tracker.screening.forms import (
    QueueArgs,
    RequirementForm,
    ReviewForm,
    SignOffForm,
    YesNoForm,
    answer_form,
    review_form,
)
from tracker.screening.queries import ListPagination, ScreeningState, pending_reviews, screening_state
from tracker.screening.services import ScreeningError, answer_item, may_review, review_item, sign_off

REVIEWS_PER_PAGE = 25



@bp.app_template_test("applicable")
def applicable(item: ScreeningItem, state: ScreeningState) -> bool:
    """Jinja test: the item applies to the patient of ``state`` (``select("applicable", state)``)."""
    return state.applies(item)


def load_patient(patient_id: int) -> Patient:
    """The patient with their care team (which decides who may review) and open safety alerts (the banner), if
    the user may see them.

    :raise 404: unknown patient, or outside the user's scope (audited by the loader).
    """
    return get_patient_for_user_or_404(
        actor(), patient_id, selectinload(Patient.care_team).joinedload(CareTeamMember.user), with_open_alerts()
    )


def load_state(patient: Patient) -> ScreeningState:
    """:raise 404: the patient's protocol is not installed, so there is nothing to screen against."""
    protocol = loaded_protocols().get(patient.protocol_code)
    if protocol is None:
        abort(404, description=f"The protocol {patient.protocol_code!r} is not installed, so no screening is shown.")
    return screening_state(db.session, patient, protocol, local_today())


def _item_or_404(state: ScreeningState, item_id: str) -> ScreeningItem:
    """:raise 404: the item is not part of the patient's protocol, or no checklist has been started."""
    item = next((i for i in state.protocol.screening if i.id == item_id), None)
    if item is None or state.checklist is None:
        abort(404)
    return item


def _render_checklist(
    patient: Patient,
    state: ScreeningState,
    *,
    submitted: dict[str, YesNoForm | RequirementForm] | None = None,
    submitted_review: dict[str, ReviewForm] | None = None,
    sign_off_form: SignOffForm | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    """The checklist page. A form that was just submitted with errors replaces the blank one of its item."""
    can_review = may_review(actor(), patient.care_team)
    forms = {item.id: answer_form(item, formdata=None) for item in state.protocol.screening if state.may_answer(item)}
    forms.update(submitted or {})
    pending = state.assessment.pending_reviews if can_review else {}
    review_forms = {item_id: review_form(state.protocol.item(item_id), formdata=None) for item_id in pending}
    review_forms.update(submitted_review or {})
    return (
        render_template(
            "screening/checklist.html",
            patient=patient,
            state=state,
            forms=forms,
            review_forms=review_forms,
            sign_off_form=sign_off_form or SignOffForm(formdata=None),
            can_review=can_review,
        ),
        status,
    )


def _to_checklist(patient: Patient, item: ScreeningItem | None = None) -> ResponseReturnValue:
    anchor = f"item-{item.id}" if item else None
    return redirect(url_for("screening.checklist", patient_id=patient.id, _anchor=anchor))


@bp.route("/patients/<int:patient_id>/screening")
@require_role(*CLINICAL_ROLES)
def checklist(patient_id: int) -> ResponseReturnValue:
    patient = load_patient(patient_id)
    state = load_state(patient)
    audit.record(
        actor(),
        "screening.view",
        f"Viewed the screening of patient {patient.record_number}",
        patient=patient,
        target_type="screening_checklist",
        target_id=state.checklist.id if state.checklist else None,
    )
    db.session.commit()
    return _render_checklist(patient, state)


@bp.route("/patients/<int:patient_id>/screening/items/<item_id>", methods=["POST"])
@require_role(*CLINICAL_ROLES)
def answer(patient_id: int, item_id: str) -> ResponseReturnValue:
    patient = load_patient(patient_id)
    state = load_state(patient)
    item = _item_or_404(state, item_id)
    form = answer_form(item)
    if form.validate_on_submit():
        assert state.checklist is not None  # _item_or_404
        try:
            saved = answer_item(actor(), state.checklist, state.protocol, item.id, form.to_input(), local_today())
        except ScreeningError as error:
            getattr(form, error.field, form.answer).errors.append(str(error))
        else:
            db.session.commit()
            flash(f"Saved “{saved.answer.label}”: {item.text}.", "success")
            return _to_checklist(patient, item)
    return _render_checklist(patient, state, submitted={item.id: form}, status=422)


@bp.route("/patients/<int:patient_id>/screening/sign-off", methods=["POST"])
@require_role(*CLINICAL_ROLES)
def sign_off_checklist(patient_id: int) -> ResponseReturnValue:
    patient = load_patient(patient_id)
    state = load_state(patient)
    if state.checklist is None:
        abort(404)
    form = SignOffForm()
    if form.validate_on_submit():
        try:
            sign_off(actor(), state.checklist, state.protocol)
        except ScreeningError as error:
            form.confirm.errors.append(str(error))
        else:
            db.session.commit()
            flash("The screening checklist is signed off; its answers are locked.", "success")
            return _to_checklist(patient)
    return _render_checklist(patient, state, sign_off_form=form, status=422)


@bp.route("/patients/<int:patient_id>/screening/items/<item_id>/review", methods=["POST"])
@require_role(*CLINICAL_ROLES)
def review(patient_id: int, item_id: str) -> ResponseReturnValue:
    """A supervisor's decision on a flagged item.

    :raise 404: patient outside the user's scope, or an item not in the protocol.
    :raise 403: the user does not supervise a therapist on the patient's care team (``may_review``).
    """
    patient = load_patient(patient_id)
    if not may_review(actor(), patient.care_team):
        abort(403, description="Only the supervisor of a therapist on this patient's care team can decide a review.")
    state = load_state(patient)
    item = _item_or_404(state, item_id)
    form = review_form(item)
    if form.validate_on_submit():
        assert state.checklist is not None  # _item_or_404
        decision = ReviewDecision(form.decision.data)
        try:
            review_item(actor(), state.checklist, state.assessment, item.id, decision, form.rationale.data or "")
        except ScreeningError as error:
            getattr(form, error.field, form.decision).errors.append(str(error))
        else:
            db.session.commit()
            flash(f"Review recorded: {decision.value} ({item.text}).", "success")
            return _to_checklist(patient, item)
    return _render_checklist(patient, state, submitted_review={item.id: form}, status=422)


@bp.route("/screening/reviews")
@require_role(Role.SUPERVISOR)
def review_queue() -> ResponseReturnValue:
    args = QueueArgs(formdata=request.args)
    if not args.validate():
        abort(400, description="The queue cannot be shown with these settings (page: use a whole number).")
    waiting = pending_reviews(db.session, actor(), loaded_protocols(), local_today())
    page = ListPagination(page=max(args.page.data or 1, 1), per_page=REVIEWS_PER_PAGE, error_out=False, items=waiting)
    audit.record(
        actor(),
        "screening.review_queue",
        f"Listed {len(page.items)} screening items waiting for review",
        data={"patient_ids": sorted({row.patient.id for row in page.items})},
    )
    db.session.commit()
    return render_template("screening/reviews.html", page=page, today=local_today())
