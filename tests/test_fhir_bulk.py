"""The bulk FHIR export: NDJSON per resource type that validates with fhir.resources R4B, run as a job from the web
(supervisors, and admins with a clinical role: their care scope, never more) and written by ``flask fhir export``
(a user's scope, or the whole clinic for the server operator)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD, audit_actions, login
from tests.fhir_data import full_course
from tracker.extensions import db
from tracker.factories import make_patient, make_user
from tracker.fhir.bundle import model_class
from tracker.models import AuditEvent, Patient, Role
from tracker.models.base import utcnow

OTHER = "Otherpatient"


@pytest.fixture
def clinic(people, protocols):
    """The canary's full course (care of lead, supervised by supervisor) and a patient of another group."""
    full_course(people.patient, people.lead, people.supervisor, protocols)
    make_patient(
        people.other_therapist, protocols=protocols, given_name="Olive", family_name=OTHER, record_number="OTHER-1"
    )
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
    for kind in (
        "EpisodeOfCare",
        "Encounter",
        "Observation",
        "QuestionnaireResponse",
        "Questionnaire",
        "MedicationStatement",
        "MedicationAdministration",
        "AdverseEvent",
        "CarePlan",
        "Provenance",
    ):
        assert resources.get(kind), kind
    actions = audit_actions()
    assert "fhir.bulk_export" in actions and "fhir.bulk_export_done" in actions and actions[-1] == "fhir.bulk_download"


def _families(resources: dict[str, list[dict]]) -> list[str]:
    return sorted(p["name"][0]["family"] for p in resources.get("Patient", []))


def test_an_admin_with_a_clinical_role_exports_only_the_patients_in_their_care(client, clinic, protocols):
    """An admin who gives their own account a clinical role gets the records they could open, not the clinic's."""
    admin = make_user(clinic.clinic, Role.THERAPIST, full_name="Adam Clinical")
    admin.is_admin = True  # an account made before admin and clinical roles were kept apart
    db.session.commit()
    login(client, admin)
    assert "0 patients" in client.get("/exports/fhir").text
    assert _families(check_ndjson(download(client))) == []
    make_patient(admin, protocols=protocols, given_name="Own", family_name="Ownpatient", record_number="OWN-1")
    db.session.commit()
    assert _families(check_ndjson(download(client))) == ["Ownpatient"]


def test_an_admin_supervisor_exports_their_supervisees_patients_and_no_one_elses(client, clinic):
    boss = make_user(clinic.clinic, Role.SUPERVISOR, full_name="Ada Boss")
    boss.is_admin = True  # an account made before admin and clinical roles were kept apart
    clinic.other_therapist.supervisor_id = boss.id  # Olga's patient is now in Ada's care; the canary is not
    db.session.commit()
    login(client, boss)
    assert _families(check_ndjson(download(client))) == [OTHER]


@pytest.mark.parametrize("persona", ["supervisor", "other_supervisor"])
def test_every_exported_record_is_one_the_account_can_open(client, clinic, persona):
    """The export and the patient pages answer from one scope: each patient exported opens, every other is hidden."""
    user = getattr(clinic, persona)
    login(client, user)
    exported = set(_families(check_ndjson(download(client))))
    for family, patient_id in db.session.execute(select(Patient.family_name, Patient.id)):
        status = client.get(f"/patients/{patient_id}").status_code
        assert (status == 200) is (family in exported), (family, status)


def test_emergency_access_never_reaches_the_bulk_export(client, clinic):
    from tracker.emergency.services import grant

    grant(clinic.other_supervisor, "CANARY-1", "Crisis call while the care team is away", PASSWORD, utcnow(), 4)
    db.session.commit()
    login(client, clinic.other_supervisor)
    assert client.get(f"/patients/{clinic.patient.id}").status_code == 200
    assert _families(check_ndjson(download(client))) == [OTHER]


def test_each_patients_audit_row_names_the_job_and_the_address_it_was_asked_from(client, clinic):
    login(client, clinic.supervisor)
    started = client.post("/exports/fhir/jobs", environ_base={"REMOTE_ADDR": "192.0.2.7"})
    job = started.location.rsplit("/", 1)[1]
    rows = db.session.scalars(select(AuditEvent).where(AuditEvent.action.like("fhir.bulk_export%"))).all()
    assert {(r.action, r.target_id, r.ip) for r in rows} == {
        ("fhir.bulk_export_started", job, "192.0.2.7"),
        ("fhir.bulk_export", job, "192.0.2.7"),
        ("fhir.bulk_export_done", job, "192.0.2.7"),
    }
    assert [r.patient_id for r in rows if r.action == "fhir.bulk_export"] == [clinic.patient.id]


def test_the_manifest_names_the_request_and_each_file_by_absolute_url(client, clinic):
    """FHIR Bulk Data 2.0, Response - Complete Status: ``request`` is the kick-off URL, each ``url`` absolute."""
    login(client, clinic.supervisor)
    started = client.post("/exports/fhir/jobs")
    job = started.location.rsplit("/", 1)[1]
    with zipfile.ZipFile(io.BytesIO(client.get(f"/exports/fhir/jobs/{job}/download").data)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["request"] == "http://localhost/exports/fhir/jobs"
    assert {o["url"] for o in manifest["output"]} == {
        f"http://localhost/exports/fhir/jobs/{job}/download#{o['type']}.ndjson" for o in manifest["output"]
    }


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


def test_the_cli_writes_a_users_care_scope_as_ndjson(app, clinic, tmp_path):
    out = tmp_path / "export"
    result = cli(app, "--clinic", clinic.clinic.name, "--as", clinic.supervisor.username, "-o", str(out))
    assert result.exit_code == 0, result.output
    resources = check_ndjson({p.name: p.read_text() for p in Path(out).iterdir()})
    assert [p["name"][0]["family"] for p in resources["Patient"]] == ["Zzpatient"]


def test_the_server_operator_exports_the_whole_clinic_on_the_command_line(app, clinic, tmp_path):
    out = tmp_path / "export"
    result = cli(app, "--clinic", clinic.clinic.name, "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "the whole clinic" in result.output
    files = {p.name: p.read_text() for p in out.iterdir()}
    manifest = json.loads(files["manifest.json"])
    assert manifest["request"] == out.resolve().as_uri()
    assert all(o["url"] == f"{out.resolve().as_uri()}/{o['type']}.ndjson" for o in manifest["output"])
    assert _families(check_ndjson(files)) == [OTHER, "Zzpatient"]
    rows = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "fhir.bulk_export")).all()
    assert len(rows) == 2 and all(r.actor_id is None and r.data["by"].startswith("server operator") for r in rows)


def test_the_cli_creates_files_and_directories_readable_by_their_owner_alone(app, clinic, tmp_path):
    import os

    previous = os.umask(0o022)  # the usual umask would leave them world-readable
    try:
        out = tmp_path / "exports" / "2026" / "export"  # its missing parents too
        assert cli(app, "--clinic", clinic.clinic.name, "-o", str(out)).exit_code == 0
        bundle = tmp_path / "canary.json"
        assert cli(app, "--patient", "CANARY-1", "--as", clinic.lead.username, "-o", str(bundle)).exit_code == 0
    finally:
        os.umask(previous)
    assert {d.stat().st_mode & 0o777 for d in (out, out.parent, out.parent.parent)} == {0o700}
    assert {p.stat().st_mode & 0o777 for p in out.iterdir()} == {0o600}
    assert bundle.stat().st_mode & 0o777 == 0o600


def test_a_failed_write_leaves_no_audit_row_claiming_an_export(app, clinic, tmp_path):
    before = audit_actions()
    result = cli(app, "--patient", "CANARY-1", "--as", clinic.lead.username, "-o", str(tmp_path / "no" / "x.json"))
    assert result.exit_code != 0 and "Could not write" in result.output
    assert "fhir.export" not in audit_actions()[len(before) :]


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
    nobody = cli(app, "--patient", "CANARY-1", "--as", "nobody", "-o", str(out))
    assert nobody.exit_code != 0 and "No active clinician" in nobody.output
    assert cli(app, "--patient", "NOPE-1", "--as", clinic.lead.username, "-o", str(out)).exit_code != 0
    assert cli(app, "--clinic", "No such clinic", "-o", str(out)).exit_code != 0
    refusals = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "fhir.export_refused").order_by(AuditEvent.id)
    ).all()
    assert len(refusals) == 5
    assert [r.actor_id for r in refusals[:2]] == [clinic.lead.id, clinic.other_therapist.id]


def test_the_cli_refuses_a_patient_seen_only_under_emergency_access(app, clinic, tmp_path):
    from tracker.emergency.services import grant

    grant(clinic.other_therapist, "CANARY-1", "Crisis call while the care team is away", PASSWORD, utcnow(), 4)
    db.session.commit()
    out = tmp_path / "canary.json"
    result = cli(app, "--patient", "CANARY-1", "--as", clinic.other_therapist.username, "-o", str(out))
    assert result.exit_code != 0 and "emergency access" in result.output and not out.exists()
    assert audit_actions()[-2:] == ["patient.emergency_refused", "fhir.export_refused"]
