"""The FHIR routes: a patient's Bundle; the bulk export page, its background job, progress and download."""

from __future__ import annotations

from flask import Response
from flask.typing import ResponseReturnValue

from tracker.extensions import db
from tracker.fhir import bp
from tracker.fhir.bundle import FHIR_JSON, dumps, patient_bundle
from tracker.permissions import CLINICAL_ROLES, actor, require_role


@bp.route("/patients/<int:patient_id>/fhir")
@require_role(*CLINICAL_ROLES)
def patient(patient_id: int) -> ResponseReturnValue:
    """The patient's record as a FHIR R4B Bundle (JSON), audited. :raise 404: outside the user's scope."""
    bundle = patient_bundle(actor(), patient_id)
    db.session.commit()
    response = Response(dumps(bundle), mimetype=FHIR_JSON)
    response.headers["Content-Disposition"] = f'inline; filename="patient-{patient_id}-fhir.json"'
    return response
