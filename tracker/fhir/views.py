"""The FHIR routes: a patient's Bundle; the bulk export page, its background job, progress and download."""

from __future__ import annotations

import logging

from flask import Response, abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from tracker import audit, clinictime
from tracker.auth.forms import EmptyForm
from tracker.clinics import current_zone
from tracker.database import writing
from tracker.extensions import db
from tracker.fhir import bp
from tracker.fhir.bulk import patients_in_scope, relocate_zip
from tracker.fhir.bundle import FHIR_JSON, dumps, patient_bundle
from tracker.models import JobKind, Role, User
from tracker.models.base import utcnow
from tracker.permissions import CLINICAL_ROLES, actor, may_export_in_bulk, require_role
from tracker.reports import jobs

log = logging.getLogger(__name__)


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


@bp.route("/exports/fhir")
@require_role(Role.SUPERVISOR, Role.ADMIN)
def bulk() -> ResponseReturnValue:
    """What the bulk export holds for this user, and the button that starts it."""
    user = _exporter()
    audit.record(user, "fhir.bulk_export_page", "Opened the bulk FHIR export page")
    count = patients_in_scope(user)
    db.session.commit()
    return render_template("fhir/bulk.html", count=count, form=EmptyForm())


@bp.route("/exports/fhir/jobs", methods=["POST"])
@require_role(Role.SUPERVISOR, Role.ADMIN)
def start_bulk() -> ResponseReturnValue:
    """Record the export and queue it for the worker, then go to its progress page."""
    user = _exporter()
    if not EmptyForm().validate_on_submit():
        abort(400, description="The form has expired: open the export page again.")
    now = utcnow()
    job_id = jobs.new_id()
    try:
        jobs.check_room(db.session, user.id, now)
        jobs.create_export(
            db.session,
            job_id,
            user.id,
            patients_in_scope(user),
            f"fhir-export-{clinictime.local(now, current_zone()):%Y%m%d-%H%M}.zip",
        )
    except jobs.TooManyJobs:
        db.session.rollback()
        flash(f"You already have {jobs.MAX_JOBS_PER_USER} exports or batches in progress; wait for one.", "warning")
        return redirect(url_for("fhir.bulk"))
    audit.record(
        user, "fhir.bulk_export_started", "Started a bulk FHIR export", target_type="fhir_export", target_id=job_id
    )
    db.session.commit()
    try:
        jobs.start(job_id, JobKind.FHIR_EXPORT)
    except Exception:  # the queue is unreachable: the housekeeping queues it again once it is back
        log.exception("could not queue FHIR export %s", job_id)
    return redirect(url_for("fhir.bulk_status", job_id=job_id))


@bp.route("/exports/fhir/jobs/<job_id>")
@require_role(Role.SUPERVISOR, Role.ADMIN)
def bulk_status(job_id: str) -> ResponseReturnValue:
    """Progress (the page reloads itself until the export is ready). :raise 404: not this user's job, or expired."""
    user = _exporter()
    state = jobs.progress(db.session, job_id, user.id, utcnow(), JobKind.FHIR_EXPORT)
    db.session.commit()
    if state is None:
        abort(404)
    return render_template("fhir/status.html", job=state, job_id=job_id)


@bp.route("/exports/fhir/jobs/<job_id>/download")
@require_role(Role.SUPERVISOR, Role.ADMIN)
def bulk_download(job_id: str) -> ResponseReturnValue:
    """The zip of NDJSON files, once. :raise 404: not this user's job, expired, downloaded already or not ready."""
    user = _exporter()
    with writing(db.session):  # handing the zip over deletes it: of two downloads only one gets it
        taken = jobs.take(db.session, job_id, user.id, utcnow(), JobKind.FHIR_EXPORT)
        if taken is None:
            db.session.commit()
            abort(404, description="This export is not ready, has expired or was already downloaded.")
        output, filename = taken
        output = relocate_zip(
            output,
            url_for("fhir.start_bulk", _external=True),
            url_for("fhir.bulk_download", job_id=job_id, _external=True) + "#",
        )
        audit.record(
            user,
            "fhir.bulk_download",
            "Downloaded a bulk FHIR export",
            target_type="fhir_export",
            target_id=job_id,
            data={"bytes": len(output)},
        )
        db.session.commit()
    response = Response(output, mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
