"""The FHIR routes: a patient's Bundle; the bulk export page, its background job, progress and download."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, Response, abort, current_app, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from tracker import audit
from tracker.auth.forms import EmptyForm
from tracker.extensions import db
from tracker.fhir import bp
from tracker.fhir.bulk import patients_in_scope, run_export
from tracker.fhir.bundle import FHIR_JSON, dumps, patient_bundle
from tracker.models import Role, User
from tracker.models.base import utcnow
from tracker.permissions import CLINICAL_ROLES, actor, may_export_in_bulk, require_role
from tracker.reports import jobs


@bp.route("/patients/<int:patient_id>/fhir")
@require_role(*CLINICAL_ROLES)
def patient(patient_id: int) -> ResponseReturnValue:
    """The patient's record as a FHIR R4B Bundle (JSON), audited. :raise 404: outside the user's scope."""
    bundle = patient_bundle(actor(), patient_id)
    db.session.commit()
    response = Response(dumps(bundle), mimetype=FHIR_JSON)
    response.headers["Content-Disposition"] = f'inline; filename="patient-{patient_id}-fhir.json"'
    return response


# Bulk export ------------------------------------------------------------------------------------------------------


def _exporter() -> User:
    """The signed-in user, if they may export in bulk. :raise 403: an admin without a clinical role, a therapist."""
    user = actor()
    if not may_export_in_bulk(user):
        abort(403)
    return user


def _task(app: Flask, clinic_id: int, actor_id: int) -> jobs.Task:
    """The job's work, in its own app context and database session (a thread of its own, or a queue's worker)."""

    def work(tick: Callable[[int], None]) -> bytes:
        with app.app_context():
            try:
                return run_export(clinic_id, actor_id, lambda done, _total: tick(done))
            finally:
                db.session.remove()

    return work


@bp.route("/exports/fhir")
@require_role(Role.SUPERVISOR, Role.ADMIN)
def bulk() -> ResponseReturnValue:
    """What the bulk export holds for this user, and the button that starts it."""
    user = _exporter()
    audit.record(user, "fhir.bulk_export_page", "Opened the bulk FHIR export page")
    count = patients_in_scope(user)
    db.session.commit()
    return render_template("fhir/bulk.html", count=count, form=EmptyForm(), whole_clinic=user.is_admin)


@bp.route("/exports/fhir/jobs", methods=["POST"])
@require_role(Role.SUPERVISOR, Role.ADMIN)
def start_bulk() -> ResponseReturnValue:
    """Start the export as a background job and go to its progress page."""
    user = _exporter()
    if not EmptyForm().validate_on_submit():
        abort(400, description="The form has expired: open the export page again.")
    job_id = jobs.new_id()
    stamp = utcnow().strftime("%Y%m%d-%H%M")
    total = patients_in_scope(user)
    db.session.commit()  # end this request's transaction first: the job reads and writes in its own
    try:
        jobs.start_task(
            job_id, user.id, total, f"fhir-export-{stamp}.zip",
            _task(current_app._get_current_object(), user.clinic_id, user.id),  # type: ignore[attr-defined]
            label="FHIR export", inline=current_app.config["JOBS_RUN_INLINE"],
        )
    except jobs.TooManyJobs:
        flash(f"You already have {jobs.MAX_JOBS_PER_USER} exports or batches in progress; wait for one.", "warning")
        return redirect(url_for("fhir.bulk"))
    return redirect(url_for("fhir.bulk_status", job_id=job_id))


@bp.route("/exports/fhir/jobs/<job_id>")
@require_role(Role.SUPERVISOR, Role.ADMIN)
def bulk_status(job_id: str) -> ResponseReturnValue:
    """Progress (the page reloads itself until the export is ready). :raise 404: not this user's job, or expired."""
    user = _exporter()
    job = jobs.get(job_id, user.id)
    if job is None:
        abort(404)
    return render_template("fhir/status.html", job=job)


@bp.route("/exports/fhir/jobs/<job_id>/download")
@require_role(Role.SUPERVISOR, Role.ADMIN)
def bulk_download(job_id: str) -> ResponseReturnValue:
    """The zip of NDJSON files, once. :raise 404: not this user's job, expired, downloaded already or not ready."""
    user = _exporter()
    job = jobs.take(job_id, user.id)
    if job is None or job.output is None:
        abort(404, description="This export is not ready, has expired or was already downloaded.")
    audit.record(user, "fhir.bulk_download", "Downloaded a bulk FHIR export", target_type="fhir_export",
                 data={"bytes": len(job.output)})
    db.session.commit()
    response = Response(job.output, mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="{job.filename}"'
    return response
