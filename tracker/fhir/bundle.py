"""Validation with fhir.resources' R4B models, and one patient's export as a Bundle (the ``/patients/<id>/fhir``
route and ``flask fhir export --patient``).

Every resource is validated by the library's model of its type before it leaves (a ValidationError is a bug here,
never the user's input, so it is not caught). The library checks structure and types, not value-set bindings
(PERFORMANCE notes: a made-up status is accepted), so the codes come from ``codes.toml`` and the tables in
``tracker.fhir.resources``, which tests check.
"""

from __future__ import annotations

import importlib
import json
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.resource import Resource

from tracker import audit
from tracker.extensions import db
from tracker.fhir.record import load_records, load_staff, patient_options, staff_ids
from tracker.fhir.resources import (
    JSON,
    RecordResources,
    bundle_reference,
    instant,
    practitioner_resource,
    questionnaire_resource,
    resource_id,
)
from tracker.instruments import get_instrument
from tracker.models import Clinic, User
from tracker.models.base import utcnow
from tracker.permissions import get_patient_for_user_or_404, require_care

#: The media type of FHIR JSON.
FHIR_JSON = "application/fhir+json"


def model_class(resource_type: str) -> type[Resource]:
    """The R4B model of ``resource_type`` (``fhir.resources.R4B.<lowercase>.<Type>``)."""
    module = importlib.import_module(f"fhir.resources.R4B.{resource_type.lower()}")
    model: type[Resource] = getattr(module, resource_type)
    return model


def validated(resource: JSON) -> JSON:
    """``resource`` as the library serialises it after validating it.

    :raise pydantic.ValidationError: the resource breaks FHIR R4B's structure or types.
    """
    model = model_class(resource["resourceType"]).model_validate(resource)
    result: JSON = json.loads(model.model_dump_json(exclude_none=True))
    return result


def patient_bundle(actor: User, patient_id: int) -> JSON:
    """One patient's record as a validated Bundle (type collection), audited.

    :raise 404: the patient is not one ``actor`` may see (the loader audits the refusal).
    :raise 403: ``actor`` sees the patient only under emergency access, which is for viewing (audited).
    """
    patient = get_patient_for_user_or_404(actor, patient_id, *patient_options())
    require_care(actor, patient, "exporting the record")
    clinic = db.session.get(Clinic, patient.clinic_id)
    assert clinic is not None
    [record] = load_records(db.session, clinic, [patient])
    staff = load_staff(db.session, staff_ids([record]))
    resources = list(RecordResources(record, staff, bundle_reference).all())
    resources += [practitioner_resource(user, clinic.id) for user in staff.values()]
    resources += [
        questionnaire_resource(get_instrument(code), clinic.id)
        for code in sorted({r.instrument for r in record.results})
    ]
    entries = [{"fullUrl": bundle_reference(r["resourceType"], r["id"]), "resource": validated(r)} for r in resources]
    now = utcnow()
    bundle: JSON = {
        "resourceType": "Bundle",
        "id": resource_id(clinic.id, "bundle", f"{patient.id}/{now.isoformat()}"),
        "type": "collection",
        "timestamp": instant(now),
        "entry": entries,
    }
    Bundle.model_validate(bundle)
    audit.record(
        actor,
        "fhir.export",
        f"Exported the record of patient {patient.record_number} as FHIR",
        patient=patient,
        target_type="fhir_bundle",
        data={"resources": len(entries)},
    )
    return bundle


def dumps(document: Any) -> str:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))
