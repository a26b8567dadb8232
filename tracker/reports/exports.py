"""One export, from the user's request to the HTML of each document, audited: the code path the web pages and
``flask reports render`` share.

Everything here runs inside the request's transaction (on SQLite a write lock, since every transaction begins
IMMEDIATE). The caller commits as soon as these return, and only then hands the HTML to the renderer, so no
transaction is open during the half second per document that WeasyPrint takes (tests/test_reports_lock.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from tracker import audit, clinictime
from tracker.clinics import current_zone
from tracker.extensions import db
from tracker.models import Patient, User
from tracker.permissions import care_scope, get_patient_for_user_or_404, patient_scope
from tracker.reports.content import (
    NothingToPrint,
    ReportKind,
    Stamp,
    patient_loader_options,
    plan_documents,
    record_document,
    summary_document,
)
from tracker.sessions.queries import load_session_or_404

#: The most patients one batch may hold (about 15 s of rendering for plans on two cores).
MAX_BATCH = 200

__all__ = ["MAX_BATCH", "BatchRefused", "Export", "NothingToPrint", "export_batch", "export_one"]


class BatchRefused(Exception):
    """Some patients of a batch are outside the user's care: the whole batch is refused, nothing is shown."""

    def __init__(self, refused: int) -> None:
        super().__init__(
            f"{refused} of the selected patients {'is' if refused == 1 else 'are'} not in your care, so nothing was "
            "printed. Change the selection."
        )
        self.refused = refused


@dataclass(frozen=True)
class Export:
    kind: ReportKind
    #: One HTML document per patient, in the order of the selection.
    documents: list[str]
    filename: str


def _record(actor: User, patient: Patient, kind: ReportKind, stamp: Stamp, **data: object) -> None:
    audit.record(
        actor,
        "report.exported",
        f"Exported the {kind.label} (PDF){' as a draft' if stamp.draft else ''}",
        patient=patient,
        target_type="report",
        target_id=kind.value,
        data={"report": kind.value, "draft": stamp.draft, **data},
    )


def export_one(actor: User, kind: ReportKind, patient_id: int, stamp: Stamp, session_id: int | None = None) -> Export:
    """One patient's report, audited.

    :raise 404: the patient (or the session) is not one ``actor`` may see (the loader audits the refusal).
    :raise NothingToPrint: nothing signed to print and no draft asked for, or no plan written yet.
    """
    patient = get_patient_for_user_or_404(actor, patient_id, *patient_loader_options())
    if kind is ReportKind.PLAN:
        documents = plan_documents(db.session, [patient], stamp, alone=True)
        name = f"integration-plan-{patient.record_number}"
    elif kind is ReportKind.SUMMARY:
        documents = [summary_document(db.session, patient, stamp)]
        name = f"summary-{patient.record_number}"
    else:
        assert session_id is not None
        therapy_session = load_session_or_404(db.session, patient, session_id)
        documents = [record_document(db.session, patient, therapy_session, stamp)]
        name = f"session-{session_id}-{patient.record_number}"
    extra = {"session_id": session_id} if session_id is not None else {}
    _record(actor, patient, kind, stamp, **extra)
    return Export(kind, documents, _filename(name, stamp))


#: A batch file's name: what it holds, in the plural.
BATCH_NAME = {ReportKind.PLAN: "plans", ReportKind.SUMMARY: "summaries", ReportKind.RECORD: "records"}


def _filename(name: str, stamp: Stamp) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in name)
    return f"{safe}{'-DRAFT' if stamp.draft else ''}.pdf"


def export_batch(actor: User, kind: ReportKind, patient_ids: Sequence[int], stamp: Stamp, batch_id: str) -> Export:
    """The report of each patient, in the order given, one audit row each naming the batch.

    :raise BatchRefused: any patient is outside ``actor``'s scope (an unknown id counts as refused): the whole
        batch is refused, audited, and nothing of any patient is returned.
    """
    wanted = list(dict.fromkeys(patient_ids))
    loaded = {
        p.id: p
        for p in db.session.scalars(
            select(Patient).where(Patient.id.in_(wanted), patient_scope(actor)).options(*patient_loader_options())
        )
    }
    refused = [pid for pid in wanted if pid not in loaded]
    if refused:
        audit.record(
            actor,
            "report.batch_refused",
            f"Refused a batch of {len(wanted)} {kind.label}s: {len(refused)} outside the user's care",
            target_type="report_batch",
            target_id=batch_id,
            data={"refused_ids": refused[:50], "selected": len(wanted)},
        )
        raise BatchRefused(len(refused))
    patients = [loaded[pid] for pid in wanted]
    in_care = set(db.session.scalars(select(Patient.id).where(Patient.id.in_(wanted), care_scope(actor))))
    for patient in patients:
        if patient.id not in in_care:
            audit.mark_emergency_access(patient.id)  # reached under an emergency grant: its audit row says so
    if kind is ReportKind.PLAN:
        documents = plan_documents(db.session, patients, stamp)
    else:
        documents = [summary_document(db.session, patient, stamp) for patient in patients]
    for patient in patients:
        _record(actor, patient, kind, stamp, batch=batch_id)
    made = clinictime.local(stamp.at, current_zone())  # the clinic's clock, as in the PDFs' footers
    return Export(kind, documents, _filename(f"{BATCH_NAME[kind]}-{made:%Y%m%d-%H%M}", stamp))
