"""The bulk FHIR export: one NDJSON file per resource type (FHIR Bulk Data's format), and a manifest.

From the web it holds the exporting account's care scope and nothing more (``permissions.bulk_export_scope``);
a whole clinic is exported only by the server operator, on the command line. ``export_clinic`` is a plain
function of (clinic, actor, output directory, progress callback) that returns the manifest: the CLI calls it
directly; the web runs it as a background job (``tracker.reports.jobs.export_fhir`` calls ``run_export`` with the
ids alone). Patients are read in batches of ``BATCH``, each batch in its own
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

from sqlalchemy import and_, func, select

from tracker import audit
from tracker.extensions import db
from tracker.fhir.bundle import dumps, validated
from tracker.fhir.files import open_private, private_directory, write_private
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
from tracker.models import AuditEvent, Clinic, Patient, User
from tracker.models.base import utcnow
from tracker.permissions import bulk_export_scope, may_export_in_bulk

#: Patients read, written and audited per transaction.
BATCH = 100

Progress = Callable[[int, int], None]


class ExportRefused(Exception):
    """The actor may not export this clinic in bulk."""


def patients_in_scope(actor: User) -> int:
    return db.session.scalar(select(func.count()).select_from(Patient).where(bulk_export_scope(actor))) or 0


def _batches(ids: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


MANIFEST = "manifest.json"


class _Files:
    """One NDJSON file per resource type, opened on first use, with a count of lines."""

    def __init__(self, directory: Path, stack: ExitStack) -> None:
        self.directory, self.stack = directory, stack
        self.files: dict[str, IO[str]] = {}
        self.counts: Counter[str] = Counter()

    def write(self, resource: JSON) -> None:
        kind = resource["resourceType"]
        if kind not in self.files:
            self.files[kind] = self.stack.enter_context(open_private(self.directory / f"{kind}.ndjson"))
        self.files[kind].write(dumps(validated(resource)) + "\n")
        self.counts[kind] += 1

    def flush(self) -> None:
        for file in self.files.values():
            file.flush()


def export_clinic(
    clinic: Clinic,
    actor: User | None,
    output: Path,
    progress: Progress | None = None,
    *,
    export_id: str | None = None,
    ip: str | None = None,
    request_url: str | None = None,
    base_url: str | None = None,
) -> dict[str, Any]:
    """Write every patient of ``actor``'s export scope (``permissions.bulk_export_scope``) in ``clinic`` to
    ``output`` as NDJSON, one file per resource type, plus ``manifest.json``; return the manifest.

    ``actor`` None is the server operator on the command line (``flask fhir export --clinic`` without ``--as``):
    the whole clinic, for moving it to another system. The web never passes None.

    Each patient's audit row names the export (``export_id``: the web job's id) and the address it was asked from
    (``ip``: the web request's, since the worker has none). The manifest's ``request`` and each file's ``url`` are
    absolute (FHIR Bulk Data 2.0, "Response - Complete Status") when ``request_url`` and ``base_url`` are given;
    otherwise the file names alone, for ``with_locations`` to complete (the web job learns its URLs at download).

    Commits once per batch of patients (see the module docstring), after the batch's lines are flushed to the files,
    so a committed audit row never claims a patient whose data was not written. ``progress(done, total)`` is called
    after each batch.

    :raise ExportRefused: ``actor`` is not of ``clinic``, or may not export in bulk.
    """
    if actor is not None and (actor.clinic_id != clinic.id or not may_export_in_bulk(actor)):
        raise ExportRefused(f"{actor.username} may not export {clinic.name} in bulk")
    private_directory(output)
    export_id = export_id or secrets.token_hex(8)
    started = utcnow()
    scope = Patient.clinic_id == clinic.id
    if actor is not None:
        scope = and_(scope, bulk_export_scope(actor))
    ids = list(db.session.scalars(select(Patient.id).where(scope).order_by(Patient.id)))
    by_operator = {"by": "server operator (command line)"} if actor is None else None
    staff: dict[int, User] = {}
    with ExitStack() as stack:
        files = _Files(output, stack)
        for instrument in instruments().values():
            files.write(questionnaire_resource(instrument, clinic.id))
        done = 0
        for batch in _batches(ids, BATCH):
            patients = list(
                db.session.scalars(
                    select(Patient).where(Patient.id.in_(batch)).options(*patient_options()).order_by(Patient.id)
                )
            )
            records = load_records(db.session, clinic, patients)
            new_staff = load_staff(db.session, staff_ids(records) - set(staff))
            staff.update(new_staff)
            for user in new_staff.values():
                files.write(practitioner_resource(user, clinic.id))
            for record in records:
                for resource in RecordResources(record, staff, relative_reference).all():
                    files.write(resource)
                audit.record(
                    actor,
                    "fhir.bulk_export",
                    f"Exported patient {record.patient.record_number} in a bulk FHIR export",
                    patient=record.patient,
                    target_type="fhir_export",
                    target_id=export_id,
                    ip=ip,
                    data=by_operator,
                )
            files.flush()
            db.session.commit()
            db.session.expunge_all()
            done += len(batch)
            if progress is not None:
                progress(done, len(ids))
    manifest = {
        "transactionTime": instant(started),
        "request": request_url or "",
        "requiresAccessToken": False,
        "output": [
            {"type": kind, "url": f"{kind}.ndjson", "count": files.counts[kind]} for kind in sorted(files.counts)
        ],
        "error": [],
    }
    if request_url is not None and base_url is not None:
        manifest = with_locations(manifest, request_url, base_url)
    write_private(output / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    audit.record(
        actor,
        "fhir.bulk_export_done",
        f"Bulk FHIR export of {len(ids)} patients",
        target_type="fhir_export",
        target_id=export_id,
        data={"patients": len(ids), "files": len(files.counts), **(by_operator or {})},
        clinic_id=clinic.id,
        ip=ip,
    )
    db.session.commit()
    return manifest


def with_locations(manifest: dict[str, Any], request_url: str, base_url: str) -> dict[str, Any]:
    """The manifest with its kick-off request's URL and each file's absolute URL (``base_url`` + the file name)."""
    return {
        **manifest,
        "request": request_url,
        "output": [{**o, "url": base_url + o["url"].rsplit("/", 1)[-1].rsplit("#", 1)[-1]} for o in manifest["output"]],
    }


def relocate_zip(content: bytes, request_url: str, base_url: str) -> bytes:
    """The zip of a web export with its manifest's URLs made absolute (known only to the request that downloads
    it: the worker that made the zip has no URL of its own)."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    manifest = with_locations(json.loads(files[MANIFEST]), request_url, base_url)
    files[MANIFEST] = (json.dumps(manifest, indent=2) + "\n").encode("utf-8")
    return _zip(files)


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name])
    return buffer.getvalue()


def zip_directory(directory: Path) -> bytes:
    """The files of ``directory`` as a zip, in memory, with a fixed timestamp on each entry."""
    return _zip({path.name: path.read_bytes() for path in directory.iterdir()})


def run_export(
    clinic_id: int, actor_id: int, progress: Progress | None = None, *, job_id: str | None = None, ip: str | None = None
) -> bytes:
    """The job a queue runs: load the clinic and the actor by id, export into a temporary directory, and return the
    files zipped (the directory is removed). Needs an app context.

    :raise ExportRefused: the clinic or the account is gone, deactivated, or no longer allowed to export.
    """
    clinic = db.session.get(Clinic, clinic_id)
    actor = db.session.get(User, actor_id)
    if clinic is None or actor is None or not actor.active:
        raise ExportRefused("the clinic or the account is gone")
    with tempfile.TemporaryDirectory(prefix="fhir-export-") as tmp:
        export_clinic(clinic, actor, Path(tmp), progress, export_id=job_id, ip=ip)
        return zip_directory(Path(tmp))


def requested_from(job_id: str) -> str | None:
    """The address the web export ``job_id`` was started from, as its start's audit row holds it."""
    address: str | None = db.session.scalar(
        select(AuditEvent.ip)
        .where(AuditEvent.action == "fhir.bulk_export_started", AuditEvent.target_id == job_id)
        .limit(1)
    )
    return address
