"""The clinic-wide FHIR export: one NDJSON file per resource type (FHIR Bulk Data's format), and a manifest.

``export_clinic`` is a plain function of (clinic, actor, output directory, progress callback) that returns the
manifest: the CLI calls it directly; the web runs it as a background job (``tracker.fhir.jobs``), and a durable job
queue can call ``run_export`` with the ids alone. Patients are read in batches of ``BATCH``, each batch in its own
short transaction with its audit rows (one per patient), so a long export never holds SQLite's write lock (every
transaction there begins IMMEDIATE) for more than one batch.
"""

from __future__ import annotations

import io
import json
import secrets
import tempfile
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

from sqlalchemy import func, select

from tracker import audit
from tracker.extensions import db
from tracker.fhir.bundle import dumps, validated
from tracker.fhir.record import load_records, load_staff, patient_options, staff_ids
from tracker.fhir.resources import (
    JSON,
    RecordResources,
    instant,
    practitioner_resource,
    questionnaire_resource,
    relative_reference,
)
from tracker.instruments import instruments
from tracker.models import Clinic, Patient, User
from tracker.models.base import utcnow
from tracker.permissions import bulk_export_scope, may_export_in_bulk

#: Patients read, written and audited per transaction.
BATCH = 100

Progress = Callable[[int, int], None]


class ExportRefused(PermissionError):
    """The actor may not export this clinic in bulk."""


def patients_in_scope(actor: User) -> int:
    return db.session.scalar(select(func.count()).select_from(Patient).where(bulk_export_scope(actor))) or 0


def _batches(ids: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


class _Files:
    """One NDJSON file per resource type, opened on first use, with a count of lines."""

    def __init__(self, directory: Path, stack: ExitStack) -> None:
        self.directory, self.stack = directory, stack
        self.files: dict[str, IO[str]] = {}
        self.counts: Counter[str] = Counter()

    def write(self, resource: JSON) -> None:
        kind = resource["resourceType"]
        if kind not in self.files:
            self.files[kind] = self.stack.enter_context((self.directory / f"{kind}.ndjson").open("w", encoding="utf-8"))
        self.files[kind].write(dumps(validated(resource)) + "\n")
        self.counts[kind] += 1


def export_clinic(clinic: Clinic, actor: User, output: Path, progress: Progress | None = None) -> dict[str, Any]:
    """Write every patient of ``actor``'s export scope (``permissions.bulk_export_scope``) in ``clinic`` to
    ``output`` as NDJSON, one file per resource type, plus ``manifest.json``; return the manifest.

    Commits once per batch of patients (see the module docstring). ``progress(done, total)`` is called after each.

    :raise ExportRefused: ``actor`` is not of ``clinic``, or may not export in bulk.
    """
    if actor.clinic_id != clinic.id or not may_export_in_bulk(actor):
        raise ExportRefused(f"{actor.username} may not export {clinic.name} in bulk")
    output.mkdir(parents=True, exist_ok=True)
    export_id = secrets.token_hex(8)
    started = utcnow()
    ids = list(db.session.scalars(select(Patient.id).where(bulk_export_scope(actor)).order_by(Patient.id)))
    staff: dict[int, User] = {}
    with ExitStack() as stack:
        files = _Files(output, stack)
        for instrument in instruments().values():
            files.write(questionnaire_resource(instrument, clinic.id))
        done = 0
        for batch in _batches(ids, BATCH):
            patients = list(db.session.scalars(
                select(Patient).where(Patient.id.in_(batch)).options(*patient_options()).order_by(Patient.id)
            ))
            records = load_records(db.session, clinic, patients)
            new_staff = load_staff(db.session, staff_ids(records) - set(staff))
            staff.update(new_staff)
            for user in new_staff.values():
                files.write(practitioner_resource(user, clinic.id))
            for record in records:
                for resource in RecordResources(record, staff, relative_reference).all():
                    files.write(resource)
                audit.record(actor, "fhir.bulk_export", f"Exported patient {record.patient.record_number} in a "
                             "bulk FHIR export", patient=record.patient, target_type="fhir_export",
                             target_id=export_id)
            db.session.commit()
            db.session.expunge_all()
            done += len(batch)
            if progress is not None:
                progress(done, len(ids))
    manifest = {
        "transactionTime": instant(started),
        "request": f"clinic {clinic.name}: {'whole clinic' if actor.is_admin else 'supervisor scope'}",
        "requiresAccessToken": False,
        "output": [{"type": kind, "url": f"{kind}.ndjson", "count": files.counts[kind]}
                   for kind in sorted(files.counts)],
        "error": [],
    }
    (output / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    audit.record(actor, "fhir.bulk_export_done", f"Bulk FHIR export of {len(ids)} patients", target_type="fhir_export",
                 target_id=export_id, data={"patients": len(ids), "files": len(files.counts)}, clinic_id=clinic.id)
    db.session.commit()
    return manifest


def zip_directory(directory: Path) -> bytes:
    """The files of ``directory`` as a zip, in memory, with a fixed timestamp on each entry."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.iterdir()):
            info = zipfile.ZipInfo(path.name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def run_export(clinic_id: int, actor_id: int, progress: Progress | None = None) -> bytes:
    """The job a queue runs: load the clinic and the actor by id, export into a temporary directory, and return the
    files zipped (the directory is removed). Needs an app context."""
    clinic = db.session.get(Clinic, clinic_id)
    actor = db.session.get(User, actor_id)
    if clinic is None or actor is None or not actor.active:
        raise ExportRefused("the clinic or the account is gone")
    with tempfile.TemporaryDirectory(prefix="fhir-export-") as tmp:
        export_clinic(clinic, actor, Path(tmp), progress)
        return zip_directory(Path(tmp))
