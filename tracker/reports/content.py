"""What each report shows, loaded in a constant number of queries per patient, and turned into an HTML string.

A report is a legal document: notes appear only once signed; a user may ask for a draft, which prints unsigned
content too, marked DRAFT on every page. Private process notes are never loaded here, so they can never print.
Everything a user typed reaches the PDF through Jinja's autoescaping, and the renderer's fetcher refuses every URL
but the bundled stylesheet, so typed text can neither become markup nor make the renderer fetch anything.

The builders only read; the caller writes the audit rows and commits before rendering.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.interfaces import LoaderOption

from tracker import clinictime, discharge
from tracker.database import AnySession
from tracker.instruments import get_instrument
from tracker.labs import markers
from tracker.labs.queries import latest_per_marker, requirements
from tracker.models import (
    CareTeamMember,
    Clinic,
    IntegrationPlanVersion,
    MeasureResult,
    Patient,
    PhaseTransition,
    SafetyAlert,
    SessionKind,
    SessionNote,
    TherapySession,
    User,
)
from tracker.models.alert import with_open_alerts
from tracker.notes.fields import BODY_LABEL, RISK_CHECK, TEXT_FIELDS
from tracker.outcomes.queries import alerts_of, measures_state
from tracker.plans.services import current_version
from tracker.protocols import Protocol, protocol_of
from tracker.reports.fetcher import PRINT_CSS
from tracker.screening.queries import screening_state
from tracker.sessions.pages import label_of
from tracker.sessions.queries import follow_ups, load_note, with_ordinal

#: The summary lists at most this many sessions (the newest), and says how many earlier ones it left out: long
#: tables are what makes WeasyPrint slow ("Tables are known to be slow, especially when they are rendered on multiple
#: pages": https://doc.courtbouillon.org/weasyprint/stable/common_use_cases.html).
SUMMARY_SESSIONS = 40


class ReportKind(enum.StrEnum):
    PLAN = "plan"
    SUMMARY = "summary"
    RECORD = "record"

    @property
    def label(self) -> str:
        return {
            ReportKind.PLAN: "integration plan",
            ReportKind.SUMMARY: "patient summary",
            ReportKind.RECORD: "session record",
        }[self]


class NothingToPrint(Exception):
    """The report has no signed content to show (an unsigned note without ``draft``, no plan written yet)."""


@dataclass(frozen=True)
class Stamp:
    """Who asked for the report and when: printed in every page's footer."""

    by: User
    at: datetime
    draft: bool = False


def patient_loader_options() -> tuple[LoaderOption, ...]:
    """What every report shows of a patient: care team, phase history and open alerts."""
    return (
        selectinload(Patient.care_team).joinedload(CareTeamMember.user),
        selectinload(Patient.transitions).joinedload(PhaseTransition.actor),
        with_open_alerts(),
    )


def _clinic(db: AnySession, clinic_id: int) -> Clinic:
    clinic = db.get(Clinic, clinic_id)
    assert clinic is not None
    return clinic


def _page(template: str, patient: Patient, clinic: Clinic, stamp: Stamp, title: str, **context: object) -> str:
    """The document's HTML. Rendered without the request's context processors (the navigation, the CSRF token of
    the sign-out form): a report needs no request, so the CLI makes the same document. Times print on the clinic's
    clock (``clinic_zone``, read by the ``local`` filter), and the footer names the zone. A protocol whose regulatory
    state is "research" puts its marker in every page's running header."""
    protocol = protocol_of(patient)
    return current_app.jinja_env.get_template(template).render(
        patient=patient,
        clinic=clinic,
        stamp=stamp,
        draft=stamp.draft,
        title=title,
        stylesheet=PRINT_CSS,
        clinic_zone=clinic.zone,
        # "Research protocol - not an approved treatment" on every page where that is the regulatory state.
        research_marker=protocol.research_marker if protocol else None,
        regulatory=protocol.regulatory if protocol else None,
        **context,
    )


# Integration plan ------------------------------------------------------------------------------------------------


def upcoming_sessions(db: AnySession, patient_ids: Sequence[int], now: datetime) -> dict[int, list[TherapySession]]:
    """Each patient's sessions still to come, soonest first (one query for any number of patients)."""
    rows = db.scalars(
        select(TherapySession)
        .where(
            TherapySession.patient_id.in_(patient_ids),
            TherapySession.held_at.is_(None),
            TherapySession.scheduled_at >= now,
        )
        .options(with_ordinal())
        .order_by(TherapySession.scheduled_at, TherapySession.id)
    )
    result: dict[int, list[TherapySession]] = {pid: [] for pid in patient_ids}
    for row in rows:
        result[row.patient_id].append(row)
    return result


def current_versions(db: AnySession, patient_ids: Sequence[int]) -> dict[int, IntegrationPlanVersion]:
    """Each patient's newest plan version (one query for any number of patients)."""
    newest: dict[int, IntegrationPlanVersion] = {}
    rows = db.scalars(
        select(IntegrationPlanVersion)
        .where(IntegrationPlanVersion.patient_id.in_(patient_ids))
        .order_by(IntegrationPlanVersion.patient_id, IntegrationPlanVersion.number)
    )
    for version in rows:
        newest[version.patient_id] = version  # ascending: the last one wins
    return newest


def plan_documents(db: AnySession, patients: Sequence[Patient], stamp: Stamp, *, alone: bool = False) -> list[str]:
    """The integration plan of each patient (care teams loaded), in the order given: four queries in all.

    :raise NothingToPrint: ``alone`` (one patient's own plan PDF) and no plan yet; in a batch, even of one, that
        patient's page says so instead.
    """
    ids = [p.id for p in patients]
    versions = current_versions(db, ids)
    upcoming = upcoming_sessions(db, ids, stamp.at)
    clinics = {c.id: c for c in db.scalars(select(Clinic).where(Clinic.id.in_({p.clinic_id for p in patients})))}
    if alone and any(patient.id not in versions for patient in patients):
        raise NothingToPrint("No integration plan has been written for this patient yet.")
    documents = []
    for patient in patients:
        protocol = protocol_of(patient)
        documents.append(
            _page(
                "reports/plan.html",
                patient,
                clinics[patient.clinic_id],
                stamp,
                "Your integration plan",
                version=versions.get(patient.id),
                upcoming=[(s, label_of(s, protocol)) for s in upcoming[patient.id]],
            )
        )
    return documents


# Patient summary -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionLine:
    session: TherapySession
    label: str
    #: The note to show: signed, or a draft when the user asked for the draft.
    note: SessionNote | None
    #: "signed", "draft" (unsigned, left out unless asked), or "none".
    state: str


def session_lines(
    db: AnySession, patient: Patient, protocol: Protocol | None, draft: bool
) -> tuple[list[SessionLine], int]:
    """The patient's newest ``SUMMARY_SESSIONS`` sessions, oldest first, with their notes, and how many older ones
    were left out (three queries)."""
    total = db.scalar(select(func.count(TherapySession.id)).where(TherapySession.patient_id == patient.id)) or 0
    rows = list(
        db.scalars(
            select(TherapySession)
            .where(TherapySession.patient_id == patient.id)
            .options(with_ordinal())
            .order_by(
                func.coalesce(TherapySession.held_at, TherapySession.scheduled_at).desc(),
                TherapySession.id.desc(),
            )
            .limit(SUMMARY_SESSIONS)
        )
    )
    rows.reverse()
    notes = {
        n.session_id: n
        for n in db.scalars(
            select(SessionNote)
            .where(SessionNote.session_id.in_([s.id for s in rows]))
            .options(
                joinedload(SessionNote.signed_by),
                selectinload(SessionNote.vitals),
                selectinload(SessionNote.adverse_events),
            )
        )
    }
    lines = []
    for row in rows:
        note = notes.get(row.id)
        state = "none" if note is None else ("signed" if note.is_signed else "draft")
        shown = note if state == "signed" or (state == "draft" and draft) else None
        lines.append(SessionLine(row, label_of(row, protocol), shown, state))
    return lines, total - len(rows)


@dataclass(frozen=True)
class UrgentAnswer:
    """A current result with an urgent flag, the answers that raised it, and what became of its alert."""

    result: MeasureResult
    #: "Item 9: 2", or for a flag on the risk level the answers other than the first option ("Q4 yes").
    answers: list[str]
    messages: list[str]
    alert: SafetyAlert | None


def _answered(result: MeasureResult, flag: dict[str, object]) -> list[str]:
    instrument = get_instrument(result.instrument)
    rule = next((r for r in instrument.flags if r.code == flag.get("code")), None)
    if rule is not None and rule.item is not None:
        return [f"Item {rule.item} ({instrument.item(rule.item).text}): {result.answers[rule.item - 1]}"]
    return [
        f"Q{item.number} ({item.text}): {answer}"
        for item, answer in zip(instrument.items, result.answers, strict=True)
        if answer is not None and answer != item.scale.values[0]
    ]


def urgent_answers(current: Sequence[MeasureResult], alerts: Sequence[SafetyAlert]) -> list[UrgentAnswer]:
    """Every current result with an urgent flag, newest first, each with its alert (None when the answer had been
    alerted on before: the C-SSRS lifetime answer)."""
    by_result = {alert.result_id: alert for alert in alerts if alert.result_id is not None}
    found = []
    for result in sorted(current, key=lambda r: (r.administered_on, r.id), reverse=True):
        flags = result.urgent_flags
        if flags:
            answers = list(dict.fromkeys(a for flag in flags for a in _answered(result, flag)))
            found.append(UrgentAnswer(result, answers, [str(f["message"]) for f in flags], by_result.get(result.id)))
    return found


def summary_document(db: AnySession, patient: Patient, stamp: Stamp) -> str:
    """The clinician's summary of one patient (loaded with ``patient_loader_options``), in a constant number of
    queries whatever the length of the course."""
    protocol = protocol_of(patient)
    clinic = _clinic(db, patient.clinic_id)
    today = clinictime.today(clinic.zone, stamp.at)
    lines, left_out = session_lines(db, patient, protocol, stamp.draft)
    measures = measures_state(db, patient, protocol, today)
    labs = latest_per_marker(db, patient.id)
    return _page(
        "reports/summary.html",
        patient,
        clinic,
        stamp,
        "Patient summary",
        protocol=protocol,
        screening=screening_state(db, patient, protocol, today) if protocol else None,
        measures=measures,
        urgent=urgent_answers(measures.current, alerts_of(db, patient.id)),
        lines=lines,
        left_out=left_out,
        plan=current_version(db, patient.id),
        dosing=SessionKind.DOSING,
        labs=labs,
        lab_requirements=requirements(protocol, labs, today),
        lab_markers=markers(),
    )


# One session's record --------------------------------------------------------------------------------------------


def record_document(db: AnySession, patient: Patient, therapy_session: TherapySession, stamp: Stamp) -> str:
    """A session's note as signed, with its addenda, signatures and co-signature; for a dosing session also the
    dose, lot, vital signs, adverse events and discharge.

    :raise NothingToPrint: no note, or an unsigned one and the user did not ask for a draft.
    """
    note = load_note(db, therapy_session)
    if note is None:
        raise NothingToPrint("This session has no note yet, so there is no record to print.")
    if not note.is_signed and not stamp.draft:
        raise NothingToPrint(
            "This note is not signed, so it cannot be printed as a record. Sign it first, or print a draft "
            "(marked DRAFT on every page)."
        )
    protocol = protocol_of(patient)
    dosing = therapy_session.kind is SessionKind.DOSING
    clinic = _clinic(db, patient.clinic_id)
    return _page(
        "reports/record.html",
        patient,
        clinic,
        stamp,
        "Session record",
        session=therapy_session,
        label=label_of(therapy_session, protocol),
        note=note,
        text_fields=TEXT_FIELDS[therapy_session.kind],
        risk_labels=RISK_CHECK,
        body_label=BODY_LABEL[therapy_session.kind],
        criteria=(discharge.criteria(note, note.vitals, protocol, clinic.zone) if dosing else []),
        follow_ups=follow_ups(db, therapy_session) if dosing else [],
        protocol=protocol,
    )
