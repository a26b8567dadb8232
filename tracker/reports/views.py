"""The report routes: one patient's plan, summary or session record as a PDF; the batch page and its jobs.

Each view builds the HTML and writes the audit rows inside the request's transaction, commits, and only then
renders (``tracker.reports.exports``): the database write lock is never held while WeasyPrint works.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from tracker.database import reads_only, writing
from tracker.extensions import db
from tracker.models import Phase, User
from tracker.models.base import utcnow
from tracker.pages import local_today
from tracker.permissions import CLINICAL_ROLES, actor, assignable_therapists, require_role
from tracker.reports import jobs, renderer, selection
from tracker.reports.content import NothingToPrint, ReportKind, Stamp
from tracker.reports.exports import MAX_BATCH, BatchRefused, Export, export_batch, export_one
from tracker.reports.forms import BatchForm, ReportArgs

log = logging.getLogger(__name__)

bp = Blueprint("reports", __name__)

#: How many patients the batch page offers to tick (the rest are reached through the other selections).
PICKABLE = 300


def workers() -> int:
    return int(current_app.config["REPORT_WORKERS"])


def pdf_response(pdf: bytes, filename: str) -> Response:
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


def _stamp() -> Stamp:
    args = ReportArgs(formdata=request.args)
    try:
        draft = args.validate() and args.wants_draft()
    except ValueError as error:
        abort(400, description=f"The report cannot be made with these settings: {error}")
    if args.errors:
        abort(400, description="The report cannot be made with these settings: draft must be 0 or 1.")
    return Stamp(by=actor(), at=utcnow(), draft=draft)


def _single(kind: ReportKind, patient_id: int, session_id: int | None = None) -> ResponseReturnValue:
    stamp = _stamp()
    try:
        export = export_one(actor(), kind, patient_id, stamp, session_id)
    except NothingToPrint as reason:
        abort(409, description=str(reason))
    db.session.commit()  # the audit rows, and the end of the transaction: nothing is locked while rendering
    return pdf_response(renderer.render(export.documents[0], workers()), export.filename)


@bp.route("/patients/<int:patient_id>/reports/plan.pdf")
@require_role(*CLINICAL_ROLES)
def plan_pdf(patient_id: int) -> ResponseReturnValue:
    """The current integration plan as the patient takes it home."""
    return _single(ReportKind.PLAN, patient_id)


@bp.route("/patients/<int:patient_id>/reports/summary.pdf")
@require_role(*CLINICAL_ROLES)
def summary_pdf(patient_id: int) -> ResponseReturnValue:
    """The clinician-facing summary, for referrals and supervision."""
    return _single(ReportKind.SUMMARY, patient_id)


@bp.route("/patients/<int:patient_id>/sessions/<int:session_id>/record.pdf")
@require_role(*CLINICAL_ROLES)
def record_pdf(patient_id: int, session_id: int) -> ResponseReturnValue:
    """A session's signed note with its addenda and signatures (a dosing session's full record).

    :raise 409: the note is not signed and no draft was asked for.
    """
    return _single(ReportKind.RECORD, patient_id, session_id)


# Batches ---------------------------------------------------------------------------------------------------------


def _batch_form() -> BatchForm:
    form = BatchForm()
    therapists = db.session.scalars(select(User).where(assignable_therapists(actor())).order_by(User.full_name))
    form.therapist_id.choices = [(0, "— choose —")] + [(u.id, u.full_name) for u in therapists]
    form.patient_ids.choices = [
        (p.id, f"{p.family_name}, {p.given_name} ({p.record_number}) · {p.phase.label}")
        for p in selection.pickable(db.session, actor(), PICKABLE)
    ]
    if request.method == "GET" and form.day.data is None:
        form.day.data = local_today()
    return form


def _selected(form: BatchForm) -> list[int]:
    if form.selection.data == "seen":
        assert form.day.data is not None
        return selection.seen_on(db.session, actor(), form.day.data)
    if form.selection.data == "caseload":
        return selection.caseload_in_phase(db.session, actor(), form.therapist_id.data, Phase(form.phase.data))
    return selection.in_order(db.session, form.patient_ids.data or [])


def _render_page(form: BatchForm, status: int, message: str | None = None) -> ResponseReturnValue:
    shown = len(form.patient_ids.choices or [])
    return render_template(
        "reports/batch.html",
        form=form,
        message=message,
        max_batch=MAX_BATCH,
        tick_limit=PICKABLE if shown >= PICKABLE else None,
        queued=None,
    ), status


@dataclass(frozen=True)
class Refusal:
    message: str
    status: int


def _prepare(form: BatchForm, batch_id: str, ids: list[int] | None = None) -> Export | Refusal:
    """The batch's documents, audited (the caller commits); or why nothing was printed (committed). ``ids``: the
    selection, if already read."""
    ids = _selected(form) if ids is None else ids
    if not ids:
        return Refusal("No patient matches this selection, so there is nothing to print.", 422)
    if len(ids) > MAX_BATCH:
        return Refusal(f"{len(ids)} patients are selected; print at most {MAX_BATCH} at a time.", 422)
    stamp = Stamp(by=actor(), at=utcnow(), draft=form.draft.data == "1")
    try:
        return export_batch(actor(), ReportKind(form.kind.data), ids, stamp, batch_id)
    except BatchRefused as refused:
        db.session.commit()  # the refusal's audit row
        return Refusal(str(refused), 404)


@bp.route("/reports/batch", methods=["GET", "POST"])
@require_role(*CLINICAL_ROLES)
@reads_only
def batch() -> ResponseReturnValue:
    """Choose a selection of patients and print one report each into one PDF. Without JavaScript the POST answers
    with the PDF itself, for at most ``SYNC_BATCH_MAX`` patients (a request must not hold a web worker for minutes);
    a bigger batch goes to the worker like the page script's (``start_job``), and the page links to its download.
    The audit rows are written once the PDF exists: a render that fails leaves no row saying it was printed."""
    form = _batch_form()
    if request.method == "GET" or not form.validate_on_submit():
        return _render_page(form, 200 if request.method == "GET" else 422)
    ids = _selected(form)
    if len(ids) > int(current_app.config["SYNC_BATCH_MAX"]):
        return _queue_batch(form, ids)
    prepared = _prepare(form, jobs.new_id(), ids)
    if isinstance(prepared, Refusal):
        return _render_page(form, prepared.status, prepared.message)
    try:  # rendered in the read transaction's snapshot: no write lock held, the audit rows still unwritten
        pdf = renderer.merge(list(renderer.render_each(prepared.documents, workers())))
    except Exception:
        db.session.rollback()  # nothing was printed: the audit rows waiting in the session go too
        raise
    db.session.commit()  # the audit rows, now that the PDF exists
    return pdf_response(pdf, prepared.filename)


def _queue_batch(form: BatchForm, ids: list[int]) -> ResponseReturnValue:
    """A batch too big to render in the request, sent to the worker; the page links to its download."""
    try:
        jobs.check_room(db.session, actor().id, utcnow())
    except jobs.TooManyJobs:
        return _render_page(form, 429, f"You already have {jobs.MAX_JOBS_PER_USER} batches in progress; wait for one.")
    job_id = jobs.new_id()
    prepared = _prepare(form, job_id, ids)
    if isinstance(prepared, Refusal):
        return _render_page(form, prepared.status, prepared.message)
    if not _commit_job(job_id, prepared):
        return _render_page(form, 429, f"You already have {jobs.MAX_JOBS_PER_USER} batches in progress; wait for one.")
    return render_template(
        "reports/batch.html",
        form=form,
        message=None,
        max_batch=MAX_BATCH,
        tick_limit=None,
        queued={"total": len(prepared.documents), "download_url": url_for("reports.job_pdf", job_id=job_id)},
    ), 202


def _commit_job(job_id: str, prepared: Export) -> bool:
    """Write the job with its audit rows and queue it; False when the user's batches filled the room meanwhile
    (checked again where the job is written: parallel requests each saw room in their snapshots), and then
    nothing is written, audit rows included: nothing was printed."""
    try:
        jobs.create(db.session, job_id, actor().id, prepared.documents, prepared.filename)
        db.session.commit()
    except jobs.TooManyJobs:
        db.session.rollback()
        return False
    try:
        jobs.start(job_id)
    except Exception:  # the queue is unreachable: the housekeeping queues it again once it is back
        log.exception("could not queue report job %s", job_id)
    return True


@bp.route("/reports/batch/jobs", methods=["POST"])
@require_role(*CLINICAL_ROLES)
@reads_only
def start_job() -> ResponseReturnValue:
    """Record a batch and queue it for the worker; answers where to poll and where to download. The documents are
    built and audited here, without the write lock; the audit rows, the job and its documents are written together
    by the commit."""
    form = _batch_form()
    if not form.validate_on_submit():
        errors = {name: messages for name, messages in form.errors.items()}
        return jsonify(error="Check the form: " + " ".join(m for ms in errors.values() for m in ms)), 422
    try:
        jobs.check_room(db.session, actor().id, utcnow())
    except jobs.TooManyJobs:
        return jsonify(error=f"You already have {jobs.MAX_JOBS_PER_USER} batches in progress; wait for one."), 429
    job_id = jobs.new_id()
    prepared = _prepare(form, job_id)
    if isinstance(prepared, Refusal):
        return jsonify(error=prepared.message), prepared.status
    if not _commit_job(job_id, prepared):
        return jsonify(error=f"You already have {jobs.MAX_JOBS_PER_USER} batches in progress; wait for one."), 429
    return jsonify(
        total=len(prepared.documents),
        status_url=url_for("reports.job_status", job_id=job_id),
        download_url=url_for("reports.job_pdf", job_id=job_id),
    ), 202


@bp.route("/reports/batch/jobs/<job_id>")
@require_role(*CLINICAL_ROLES)
def job_status(job_id: str) -> ResponseReturnValue:
    """How far the user's batch has got ("12 of 50 ready"). :raise 404: not this user's job, or expired."""
    state = jobs.progress(db.session, job_id, actor().id, utcnow())
    db.session.commit()
    if state is None:
        abort(404)
    return jsonify(done=state.done, total=state.total, ready=state.ready, error=state.error)


@bp.route("/reports/batch/jobs/<job_id>/pdf")
@require_role(*CLINICAL_ROLES)
def job_pdf(job_id: str) -> ResponseReturnValue:
    """The finished batch, once. :raise 404: not this user's job, expired, already downloaded or not ready."""
    with writing(db.session):  # handing the PDF over deletes it: a write, so two downloads cannot both get it
        taken = jobs.take(db.session, job_id, actor().id, utcnow())
        db.session.commit()
    if taken is None:
        abort(404, description="This batch is not ready, has expired or was already downloaded.")
    pdf, filename = taken
    response = pdf_response(pdf, filename)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
