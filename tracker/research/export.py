"""The de-identified research export of a supervisor's patients who agreed to research use, as a zip of CSV files.

What identifies a patient never enters the files: no name, record number, date of birth, contact, free text
(correction reasons, notes) or date. Each patient gets a study ID ("S0001"...) numbered in a random order drawn for
this export, so it is stable across the files of one export, differs between exports, and cannot be derived from
the patient's database id or record number. Days count from the patient's first dosing session instead of dates.
Results are the current ones (a corrected result is replaced by its correction, marked ``_corrected``).

The participants' quasi-identifiers (protocol, indication, phase, dosing sessions) are made k-anonymous
(``tracker.research.anonymity``), so no combination of them points at fewer than k patients; a patient whom that
cannot cover is left out. A new study ID does not make two exports unlinkable: the same patient's answers and days
are the same rows in both, so whoever holds two exports can match them by content (the README in the zip says so).
"""

from __future__ import annotations

import csv
import io
import random
import zipfile
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, tzinfo

from flask import current_app
from sqlalchemy import select

from tracker import audit
from tracker.clinics import clinic_of
from tracker.clinictime import day_of
from tracker.extensions import db
from tracker.instruments import Instrument, instruments
from tracker.models import MeasureResult, Patient, Phase, PhaseTransition, SessionKind, TherapySession, User
from tracker.outcomes.queries import current_results, dosing_days
from tracker.permissions import research_export_scope
from tracker.protocols import loaded_protocols
from tracker.research.anonymity import NAMES, Protected, protect
from tracker.research.dictionary import HEADER, columns, instrument_rows, participant_rows

#: Every entry of the zip carries this timestamp, so not even the archive says when it was made.
FIXED_TIME = (1980, 1, 1, 0, 0, 0)

README = """De-identified export of outcome measures
=========================================

participants.csv      one row per patient: study ID, protocol, indication, phase, dosing sessions so far
<instrument>.csv      one row per result: answers to each item, total, band, subscales, flags
data_dictionary.csv   every variable, in REDCap's data dictionary format (import it to build a REDCap project;
                      each instrument is a repeating form)

Only patients who agreed to the research use of their measures are included. No names, record numbers, dates
of birth, free text or dates are included; "_day" counts days from the patient's first dosing session (negative
before it, empty if not dosed yet).

Small cells: every combination of protocol, indication, phase and dosing sessions in participants.csv is shared by
at least {k} participants (k-anonymity, k = {k}). To reach that, {generalised}; {suppressed} participant(s) have
these four values left empty, and {withheld} participant(s) who could not be covered that way are not in this
export at all.

Linking: study IDs are drawn at random for each export, but that does not stop two exports being linked. A patient's
answers, scores and days are the same rows in every export that includes them, so anyone holding two exports can
match a participant across them by content, and learn how their results went on; and the answers themselves, the
number of results and their days are not covered by the small-cell protection above. Treat all exports given to one
recipient as one data set, share them only under a data use agreement that forbids re-identification, and keep the
files as confidential research data.
"""


@dataclass(frozen=True)
class ResearchExport:
    content: bytes
    patients: int
    results: int
    #: Consenting patients left out because no generalisation of their quasi-identifiers shares them with k others.
    withheld: int = 0


def _first_dosing(patient_ids: Sequence[int], tz: tzinfo) -> dict[int, date]:
    """Each patient's first dosing day on the clinic's calendar (``tz``), by ``dosing_dates``'s rule, in two queries
    for all of them."""
    held: dict[int, list[date]] = defaultdict(list)
    for patient_id, when in db.session.execute(
        select(TherapySession.patient_id, TherapySession.held_at).where(
            TherapySession.patient_id.in_(patient_ids),
            TherapySession.kind == SessionKind.DOSING,
            TherapySession.held_at.is_not(None),
        )
    ):
        if when is not None:
            held[patient_id].append(day_of(when, tz))
    starts: dict[int, list[date]] = defaultdict(list)
    for patient_id, when in db.session.execute(
        select(PhaseTransition.patient_id, PhaseTransition.created_at).where(
            PhaseTransition.patient_id.in_(patient_ids),
            PhaseTransition.to_phase == Phase.DOSING,
            PhaseTransition.from_phase != Phase.ON_HOLD,
        )
    ):
        starts[patient_id].append(day_of(when, tz))
    first = {}
    for patient_id in patient_ids:
        days = dosing_days(sorted(held[patient_id]), sorted(starts[patient_id]))
        if days:
            first[patient_id] = days[0]
    return first


def _csv(rows: list[list[object]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode("utf-8")


def _result_row(
    instrument: Instrument, study_id: str, instance: int, row: MeasureResult, first: date | None
) -> list[object]:
    subscales = {s["code"]: s["score"] for s in row.subscales}
    values: list[object] = [
        study_id,
        instrument.code,
        instance,
        (row.administered_on - first).days if first is not None else "",
        row.mode.value,
        *("" if answer is None else answer for answer in row.answers),
    ]
    if instrument.total_range is not None:
        values.append(row.total)
    values.append(row.band)
    values += [subscales.get(s.code, "") for s in instrument.subscales]
    if instrument.diagnosis is not None:
        values.append("" if row.provisional_diagnosis is None else int(row.provisional_diagnosis))
    values.append(int(any(flag.get("urgent") for flag in row.flags)))
    values.append(int(row.supersedes_id is not None))
    return values


def _readme(k: int, protected: Protected) -> str:
    coarse = {
        "protocol": "the protocol is left out",
        "indication": "the indication is left out",
        "phase": "the phase is given as in treatment or ended",
        "dosing_sessions": "dosing sessions are given as 0, 1 to 2 or 3 or more",
    }
    steps = [coarse[name] for name in protected.generalised]
    if "phase" in protected.generalised and protected.rungs[2] == 2:
        steps[steps.index(coarse["phase"])] = "the phase is left out"
    if "dosing_sessions" in protected.generalised and protected.rungs[3] == 2:
        steps[steps.index(coarse["dosing_sessions"])] = "dosing sessions are left out"
    generalised = "; ".join(steps) if steps else "nothing had to be coarsened"
    return README.format(
        k=k,
        generalised=generalised,
        suppressed=protected.suppressed - len(protected.withheld),
        withheld=len(protected.withheld),
    )


def research_export(actor: User, seed: int | None = None, k: int | None = None) -> ResearchExport:
    """The zip of ``actor``'s consenting patients (``permissions.research_export_scope``), k-anonymous on the
    participants' quasi-identifiers (``k`` by default the ``RESEARCH_MIN_CELL_SIZE`` setting), audited per patient
    included.

    ``seed`` fixes the order of study IDs (tests only); by default it comes from the operating system.
    """
    k = k if k is not None else int(current_app.config["RESEARCH_MIN_CELL_SIZE"])
    consenting = list(db.session.scalars(select(Patient).where(research_export_scope(actor)).order_by(Patient.id)))
    all_ids = [p.id for p in consenting]
    held_dosings = _dosing_counts(all_ids)
    protected = protect(
        {
            p.id: (p.protocol_code.replace("-", "_"), p.indication.value, p.phase.value, held_dosings.get(p.id, 0))
            for p in consenting
        },
        k,
    )
    patients = [p for p in consenting if p.id not in protected.withheld]
    ids = [p.id for p in patients]
    order = list(patients)
    (random.Random(seed) if seed is not None else random.SystemRandom()).shuffle(order)  # noqa: S311
    study = {p.id: f"S{number:04d}" for number, p in enumerate(order, start=1)}
    first = _first_dosing(ids, clinic_of(db.session, actor.clinic_id).zone) if ids else {}
    by_patient: dict[int, list[MeasureResult]] = defaultdict(list)
    if ids:
        for row in db.session.scalars(
            select(MeasureResult)
            .where(MeasureResult.patient_id.in_(ids))
            .order_by(MeasureResult.administered_on, MeasureResult.id)
        ):
            by_patient[row.patient_id].append(row)
    files: dict[str, bytes] = {"README.txt": _readme(k, protected).encode("utf-8")}
    participants: list[list[object]] = [["study_id", *NAMES]]
    for patient in sorted(patients, key=lambda p: study[p.id]):
        participants.append([study[patient.id], *protected.values[patient.id]])
    files["participants.csv"] = _csv(participants)
    exported = 0
    for instrument in instruments().values():
        rows: list[list[object]] = [list(columns(instrument))]
        for patient in sorted(patients, key=lambda p: study[p.id]):
            current = [r for r in current_results(by_patient[patient.id]) if r.instrument == instrument.code]
            for instance, row in enumerate(current, start=1):
                rows.append(_result_row(instrument, study[patient.id], instance, row, first.get(patient.id)))
        exported += len(rows) - 1
        files[f"{instrument.code}.csv"] = _csv(rows)
    dictionary: list[list[object]] = [list(HEADER)]
    dictionary += [list(row) for row in participant_rows(sorted(loaded_protocols()), k)]
    for instrument in instruments().values():
        dictionary += [list(row) for row in instrument_rows(instrument)]
    files["data_dictionary.csv"] = _csv(dictionary)
    for patient in patients:
        audit.record(
            actor,
            "research.export",
            "Included in a de-identified research export",
            patient=patient,
            target_type="research_export",
        )
    audit.record(
        actor,
        "research.export_done",
        f"De-identified research export of {len(patients)} patients",
        target_type="research_export",
        data={
            "patients": len(patients),
            "results": exported,
            "k": k,
            "withheld": len(protected.withheld),
            "generalised": list(protected.generalised),
            "suppressed": protected.suppressed,
        },
    )
    return ResearchExport(_zip(files), len(patients), exported, len(protected.withheld))


def _dosing_counts(patient_ids: Sequence[int]) -> dict[int, int]:
    """Dosing sessions held per patient (one query)."""
    if not patient_ids:
        return {}
    counts: dict[int, int] = defaultdict(int)
    for (patient_id,) in db.session.execute(
        select(TherapySession.patient_id).where(
            TherapySession.patient_id.in_(patient_ids),
            TherapySession.kind == SessionKind.DOSING,
            TherapySession.held_at.is_not(None),
        )
    ):
        counts[patient_id] += 1
    return counts


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return buffer.getvalue()
