"""The screening checklist page with its answer, sign-off and review forms, and the supervisors' review queue."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import MultiDict

from tracker import audit
from tracker.extensions import db
from tracker.models import Patient, ReviewDecision, Role
from tracker.notes import drafts
from tracker.pages import PageArgs, load_patient, local_today, paginate_list, read_args, show_error
from tracker.permissions import CLINICAL_ROLES, actor, require_role
from tracker.protocols import ScreeningItem, loaded_protocols
from tracker.screening import bp
from tracker.screening.forms import (
    AnswerForm,
    ChecklistForm,
    ReviewForm,
    SignOffForm,
    answer_form,
    review_form,
)
from tracker.screening.pages import load_state
from tracker.screening.queries import ScreeningState, pending_reviews
from tracker.screening.services import (
    AnswerInput,
    ScreeningError,
    answer_item,
    answer_items,
    may_review,
    review_item,
    sign_off,
)

REVIEWS_PER_PAGE = 25


@bp.app_template_test("applicable")
def applicable(item: ScreeningItem, state: ScreeningState) -> bool:
    """Jinja test: the item applies to the patient of ``state`` (``select("applicable", state)``)."""
    return state.applies(item)


def _item_or_404(state: ScreeningState, item_id: str) -> ScreeningItem:
    """:raise 404: the item is not part of the patient's protocol, or no checklist has been started."""
    item = next((i for i in state.protocol.screening if i.id == item_id), None)
    if item is None or state.checklist is None:
        abort(404)
    return item


def draft_key(patient: Patient) -> str:
    return f"screening-{patient.id}"


def item_forms(state: ScreeningState, formdata: MultiDict[str, str] | None) -> dict[str, AnswerForm]:
    """The answer form of every item that may be answered now, on the checklist-wide form (no token of their own):
    from ``formdata`` (a post, a draft), or showing the standing answers."""
    forms: dict[str, AnswerForm] = {}
    for item in state.protocol.screening:
        if not state.may_answer(item):
            continue
        form = answer_form(item, formdata=formdata, meta={"csrf": False})
        if formdata is None:
            form.show(state.answers.get(item.id))
        forms[item.id] = form
    return forms


def _render_checklist(
    patient: Patient,
    state: ScreeningState,
    *,
    submitted: dict[str, AnswerForm] | None = None,
    submitted_review: dict[str, ReviewForm] | None = None,
    sign_off_form: SignOffForm | None = None,
    status: int = 200,
    restored: bool = False,
    notice: str | None = None,
) -> ResponseReturnValue:
    """The checklist page: every item that may be answered has its controls on one form (``submitted``: the
    forms just posted, shown with their errors, or a restored draft's)."""
    can_review = may_review(actor(), patient.care_team)
    forms = item_forms(state, None)
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
            refused=[form for form in forms.values() if form.errors],
            checklist_form=ChecklistForm(formdata=None),
            review_forms=review_forms,
            sign_off_form=sign_off_form or SignOffForm(formdata=None),
            can_review=can_review,
            restored=restored,
            notice=notice,
            draft_key=draft_key(patient),
        ),
        status,
    )


def _to_checklist(patient: Patient, item: ScreeningItem | None = None) -> ResponseReturnValue:
    anchor = f"item-{item.id}" if item else None
    return redirect(url_for("screening.checklist", patient_id=patient.id, _anchor=anchor))


@bp.route("/patients/<int:patient_id>/screening")
@require_role(*CLINICAL_ROLES)
def checklist(patient_id: int) -> ResponseReturnValue:
    """The checklist, with the user's draft of its form if they left one (``tracker.notes.drafts``)."""
    patient = load_patient(patient_id)
    state = load_state(patient)
    typing = drafts.kept(actor(), patient, draft_key(patient)) if state.checklist is not None else None
    audit.record(
        actor(),
        "screening.view",
        f"Viewed the screening of patient {patient.record_number}",
        patient=patient,
        target_type="screening_checklist",
        target_id=state.checklist.id if state.checklist else None,
    )
    db.session.commit()
    if typing is not None:
        return _render_checklist(patient, state, submitted=item_forms(state, typing), restored=True)
    return _render_checklist(patient, state)


def _rerender_answers(view_args: dict[str, Any], typing: MultiDict[str, str]) -> ResponseReturnValue:
    """After a refused CSRF token: the checklist with the posted answers in its form (``drafts.rescue``)."""
    patient = load_patient(view_args["patient_id"])
    state = load_state(patient)
    return _render_checklist(
        patient, state, submitted=item_forms(state, typing), status=400, notice=drafts.EXPIRED_NOTICE
    )


@bp.route("/patients/<int:patient_id>/screening/answers", methods=["POST"])
@require_role(*CLINICAL_ROLES)
@drafts.keeps_draft("screening-{patient_id}", "screening.checklist", _rerender_answers)
def answer_all(patient_id: int) -> ResponseReturnValue:
    """Save every answer of the checklist-wide form at once: the items left blank or as they stand are skipped;
    each other one goes through ``answer_item`` with all its rules, in one transaction. Any refusal saves nothing
    and shows the form again as posted, each message beside its item.

    :raise 404: patient outside the user's scope, or no checklist started.
    """
    patient = load_patient(patient_id)
    state = load_state(patient)
    if state.checklist is None:
        abort(404)
    token = ChecklistForm()
    forms = item_forms(state, request.form)
    if not token.validate_on_submit():
        abort(400)
    given: dict[str, AnswerInput] = {}
    for item_id, form in forms.items():
        if form.is_blank():
            continue
        if not form.validate():
            continue
        if not form.same_as(state.answers.get(item_id)):
            given[item_id] = form.to_input()
    # The valid answers go through the service even when another item was refused, so that every message shows
    # at once; then either all are committed or none.
    refused = answer_items(actor(), state.checklist, state.protocol, given, local_today())
    if not refused and not any(form.errors for form in forms.values()):
        drafts.discard(actor(), patient, draft_key(patient))
        db.session.commit()
        flash(_saved_message(len(given)), "success")
        # To the top, where the message says what was saved (the form's own fragment would carry over).
        return redirect(url_for("screening.checklist", patient_id=patient.id, _anchor="main"))
    db.session.rollback()
    for item_id, error in refused.items():
        show_error(forms[item_id], error, forms[item_id].answer)
    patient = load_patient(patient_id)
    return _render_checklist(patient, load_state(patient), submitted=forms, status=422)


def _saved_message(count: int) -> str:
    if count == 0:
        return "Nothing had changed; no answer was saved."
    return f"Saved {count} answer{'s' if count != 1 else ''}."


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
            show_error(form, error, form.answer)
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
            show_error(form, error, form.decision)
        else:
            db.session.commit()
            flash(f"Review recorded: {decision.value} ({item.text}).", "success")
            return _to_checklist(patient, item)
    return _render_checklist(patient, state, submitted_review={item.id: form}, status=422)


@bp.route("/screening/reviews")
@require_role(Role.SUPERVISOR)
def review_queue() -> ResponseReturnValue:
    args = read_args(PageArgs, "queue")
    waiting = pending_reviews(db.session, actor(), loaded_protocols(), local_today())
    page = paginate_list(waiting, REVIEWS_PER_PAGE, args.page.data)
    audit.record(
        actor(),
        "screening.review_queue",
        f"Listed {len(page.items)} screening items waiting for review",
        data={"patient_ids": sorted({row.patient.id for row in page.items})},
    )
    db.session.commit()
    return render_template("screening/reviews.html", page=page, today=local_today())
