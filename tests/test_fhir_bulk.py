"""The clinic-wide FHIR export: NDJSON per resource type that validates with fhir.resources R4B, run as a job from the
web (admins with a clinical role: the clinic; supervisors: their scope) and written by ``flask fhir export``."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from tests.conftest import audit_actions, login
from tests.fhir_data import full_course
from tracker.extensions import db
from tracker.factories import make_patient, make_user
from tracker.fhir.bundle import model_class
from tracker.models import Role

OTHER = "Otherpatient"


@pytest.fixture
def clinic(people, protocols):
    """The canary's full course (care of lead, supervised by supervisor) and a patient of another group."""
    full_course(people.patient, people.lead, people.supervisor, protocols)
    make_patient(people.other_therapist, protocols=protocols, given_name="Olive", family_name=OTHER,
                 record_number="OTHER-1")
    db.session.commit()
    return people


def check_ndjson(files: dict[str, str]) -> dict[str, list[dict]]:
    """Every line of every NDJSON file validates with the R4B model of its type; the manifest counts them."""
    manifest = json.loads(files.pop("manifest.json"))
    resources: dict[str, list[dict]] = {}
    for name, text in files.items():
        kind = name.removesuffix(".ndjson")
        lines = [json.loads(line) for line in text.splitlines()]
        for resource in lines:
            assert resource["resourceType"] == kind
            model_class(kind).model_validate(resource)
        resources[kind] = lines
    assert {o["type"]: o["count"] for o in manifest["output"]} == {k: len(v) for k, v in resources.items()}
    ids = {f"{kind}/{r['id']}" for kind, rows in resources.items() for r in rows}
    text = json.dumps(resources)
    references = {part.split('"')[0] for part in text.split('"reference": "')[1:]}
    assert references <= ids, references - ids
    return resources


def download(client) -> dict[str, str]:
    started = client.post("/exports/fhir/jobs")
    assert started.status_code == 302
    status = client.get(started.location)
    assert status.status_code == 200 and "is ready" in status.text
    job = started.location.rsplit("/", 1)[1]
    response = client.get(f"/exports/fhir/jobs/{job}/download")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert client.get(f"/exports/fhir/jobs/{job}/download").status_code == 404  # once
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        return {name: archive.read(name).decode() for name in archive.namelist()}


def test_a_supervisor_exports_their_scope_as_valid_ndjson(client, clinic):
    login(client, clinic.supervisor)
    page = client.get("/exports/fhir")
    assert page.status_code == 200 and "1 patient" in page.text
    resources = check_ndjson(download(client))
    names = [p["name"][0]["family"] for p in resources["Patient"]]
    assert names == ["Zzpatient"]
    assert OTHER not in json.dumps(resources)
    for kind in ("EpisodeOfCare", "Encounter", "Observation", "QuestionnaireResponse", "Questionnaire",
                 "MedicationStatement", "MedicationAdministration", "AdverseEvent", "CarePlan", "Provenance"):
        assert resources.get(kind), kind
    actions = audit_actions()
    assert "fhir.bulk_export" in actions and "fhir.bulk_export_done" in actions and actions[-1] == "fhir.bulk_download"


def test_an_admin_with_a_clinical_role_exports_the_whole_clinic(client, clinic):
    admin = make_user(clinic.clinic, Role.THERAPIST, full_name="Adam Clinical")
    admin.is_admin = True  # an account made before admin and clinical roles were kept apart
    db.session.commit()
    login(client, admin)
    resources = check_ndjson(download(client))
    assert sorted(p["name"][0]["family"] for p in resources["Patient"]) == [OTHER, "Zzpatient"]


@pytest.mark.parametrize("persona", ["admin", "lead", "other_therapist"])
def test_others_may_not_export_in_bulk(client, clinic, persona):
    login(client, getattr(clinic, persona))
    assert client.get("/exports/fhir").status_code == 403
    assert client.post("/exports/fhir/jobs").status_code == 403


def test_a_job_is_its_owners_only(client, clinic):
    login(client, clinic.supervisor)
    started = client.post("/exports/fhir/jobs")
    job = started.location.rsplit("/", 1)[1]
    login(client, clinic.other_supervisor)
    assert client.get(f"/exports/fhir/jobs/{job}").status_code == 404
    assert client.get(f"/exports/fhir/jobs/{job}/download").status_code == 404
    assert client.get("/exports/fhir/jobs/not-a-job/download").status_code == 404


def cli(app, *args: str):
    return app.test_cli_runner().invoke(args=["fhir", "export", *args])


def test_the_cli_writes_the_clinic_as_ndjson(app, clinic, tmp_path):
    out = tmp_path / "export"
    result = cli(app, "--clinic", clinic.clinic.name, "--as", clinic.supervisor.username, "-o", str(out))
    assert result.exit_code == 0, result.output
    resources = check_ndjson({p.name: p.read_text() for p in Path(out).iterdir()})
    assert [p["name"][0]["family"] for p in resources["Patient"]] == ["Zzpatient"]


def test_the_cli_writes_one_patients_bundle(app, clinic, tmp_path):
    out = tmp_path / "canary.json"
    result = cli(app, "--patient", "CANARY-1", "--as", clinic.lead.username, "-o", str(out))
    assert result.exit_code == 0, result.output
    bundle = json.loads(out.read_text())
    assert bundle["resourceType"] == "Bundle" and audit_actions()[-1] == "fhir.export"


def test_the_cli_refuses_what_the_user_may_not_export(app, clinic, tmp_path):
    out = tmp_path / "x"
    refused = cli(app, "--clinic", clinic.clinic.name, "--as", clinic.lead.username, "-o", str(out))
    assert refused.exit_code != 0 and "may not export" in refused.output
    hidden = cli(app, "--patient", "CANARY-1", "--as", clinic.other_therapist.username, "-o", str(out))
    assert hidden.exit_code != 0 and "may not see" in hidden.output
    assert not out.exists()
    both = cli(app, "--patient", "CANARY-1", "--clinic", "x", "--as", clinic.lead.username, "-o", str(out))
    assert both.exit_code != 0 and "exactly one" in both.output
