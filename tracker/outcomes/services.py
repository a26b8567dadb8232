"""Outcome measure operations: record a result, correct one (a result with an urgent flag raises a safety alert
through ``tracker.alerts.raising``).

Each takes the acting user, writes the rows and their audit rows, and leaves the commit to the caller. Results
are scored here, once, by ``tracker.instruments.score``, and stored with the answers as they were scored; the rows
are never changed afterwards (the database refuses it), so a correction is a new result that supersedes the old.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import exists, select

from tracker import audit
from tracker.alerts import raising
from tracker.extensions import db
from tracker.instruments import Administration, Instrument, ScoreResult, get_instrument, score
from tracker.models import AdministrationMode, MeasureResult, Patient, User
from tracker.models.base import utcnow
from tracker.validators import EARLIEST_DATE as EARLIEST
from tracker.validators import FieldError

REASON_MAX_LENGTH = 2000

#: How each kind of instrument may reach the tracker (its ``administration``, from its data file): a self-report is
#: filled in with the patient or copied from the patient's paper form; a clinician-rated scale (MADRS) or an interview
#: (C-SSRS, asked by a clinician or trained staff) is rated by the person asking, or copied from their rating sheet.
MODES: dict[Administration, tuple[AdministrationMode, ...]] = {
    Administration.SELF_REPORT: (AdministrationMode.WITH_PATIENT, AdministrationMode.FROM_PAPER),
    Administration.CLINICIAN: (AdministrationMode.CLINICIAN_RATED, AdministrationMode.FROM_PAPER),
    Administration.CLINICIAN_OR_TRAINED_STAFF: (AdministrationMode.CLINICIAN_RATED, AdministrationMode.FROM_PAPER),
}


#: The administration rule in words, for refusals.
ADMINISTERED = {
    Administration.SELF_REPORT: "a self-report questionnaire",
    Administration.CLINICIAN: "rated by a clinician",
    Administration.CLINICIAN_OR_TRAINED_STAFF: "asked by a clinician or trained lay staff",
}


class MeasureError(FieldError):
    """A result refused for a reason shown next to ``field``."""


@dataclass(frozen=True)
class ResultInput:
    """One administration as entered: answers in item order (``None`` for an item skip logic leaves out)."""

    instrument: str
    answers: list[Any]
    administered_on: date
    mode: AdministrationMode


def _check(instrument: Instrument, given: ResultInput, today: date) -> None:
    if given.mode not in MODES[instrument.administration]:
        allowed = " or ".join(m.label.lower() for m in MODES[instrument.administration])
        administered = ADMINISTERED[instrument.administration]
        raise MeasureError("mode", f"{instrument.short_name} is {administered}: choose {allowed}.")
    if not EARLIEST <= given.administered_on <= today:
        raise MeasureError("administered_on", "The date cannot be in the future (or before 1900).")


def _row(actor: User, patient: Patient, given: ResultInput, result: ScoreResult) -> MeasureResult:
    """The result row; ``actor`` is who entered it (for a patient's own entry, the clinician who sent the link)."""
    return MeasureResult(
        patient_id=patient.id,
        instrument=given.instrument,
        administered_on=given.administered_on,
        mode=given.mode,
        answers=list(result.answers),
        total=result.total,
        band=result.band,
        band_index=result.band_index,
        subscales=[
            {
                "code": s.code,
                "name": s.name,
                "score": s.score,
                "endorsed": s.endorsed,
                "required": s.required,
                "met": s.met,
            }
            for s in result.subscales
        ],
        flags=[
            {"code": f.code, "message": f.message, "urgent": f.urgent, "source": f.source, "high_risk": f.high_risk}
            for f in result.flags
        ],
        provisional_diagnosis=result.provisional_diagnosis,
        cut_point=result.cut_point,
        entered_by_id=actor.id,
        entered_at=utcnow(),
    )


def record_result(actor: User, patient: Patient, given: ResultInput, today: date) -> MeasureResult:
    """Score and store one administration; raise its safety alert if a flag is urgent.

    :raise ScoringError: an answer is missing, out of range, of the wrong type, or given where skip logic leaves
        the item out (``error.item`` names it); an unknown instrument.
    :raise MeasureError: the mode does not fit the instrument, or the date is in the future.
    """
    instrument = get_instrument(given.instrument)
    _check(instrument, given, today)
    result = score(instrument.code, given.answers)
    row = _row(actor, patient, given, result)
    db.session.add(row)
    db.session.flush()
    audit.record(
        actor,
        "measure.record",
        f"Recorded a {instrument.short_name} result",
        patient=patient,
        target_type="measure_result",
        target_id=row.id,
        data={"instrument": instrument.code, "administered_on": given.administered_on},
    )
    raising.for_result(actor, patient, row, result)
    return row


def record_patient_reported(
    sender: User, patient: Patient, code: str, answers: list[Any], today: date, link_id: int
) -> MeasureResult:
    """Score and store what the patient answered on their own device through a questionnaire link, and raise its
    safety alert exactly as ``record_result`` does. The audit rows have no actor (the patient has no account) and
    name the link; the result names ``sender`` as the one who entered it, with the mode ``patient_device``.

    :raise ScoringError: as for ``record_result``.
    :raise MeasureError: the instrument is not a self-report questionnaire (only those are sent to patients).
    """
    instrument = get_instrument(code)
    if instrument.administration is not Administration.SELF_REPORT:
        raise MeasureError("instrument", f"{instrument.short_name} is {ADMINISTERED[instrument.administration]}.")
    given = ResultInput(code, answers, today, AdministrationMode.PATIENT_DEVICE)
    result = score(instrument.code, given.answers)
    row = _row(sender, patient, given, result)
    db.session.add(row)
    db.session.flush()
    audit.record(
        None,
        "measure.record_by_patient",
        f"The patient filled in a {instrument.short_name} through a questionnaire link",
        patient=patient,
        target_type="measure_result",
        target_id=row.id,
        data={"instrument": instrument.code, "administered_on": today, "link": link_id},
    )
    raising.for_result(None, patient, row, result)
    return row


def is_superseded(row: MeasureResult) -> bool:
    return bool(db.session.scalar(select(exists().where(MeasureResult.supersedes_id == row.id))))


def correct_result(
    actor: User, patient: Patient, old: MeasureResult, given: ResultInput, reason: str, today: date
) -> MeasureResult:
    """A new result replacing ``old`` (same instrument, same patient); ``old`` stays, marked as superseded.

    An urgent flag in the correction raises an alert of its own; an open alert of ``old`` stays open until someone
    acknowledges it (saying, for instance, that it was an entry error), because no alert is dismissed without an
    action.

    :raise MeasureError: no reason given, or ``old`` was corrected already (correct the newest version instead).
    :raise ScoringError: as for ``record_result``.
    """
    assert old.patient_id == patient.id and given.instrument == old.instrument
    if not reason.strip():
        raise MeasureError("reason", "Say why the result is being corrected.")
    if len(reason) > REASON_MAX_LENGTH:
        raise MeasureError("reason", f"Keep the reason under {REASON_MAX_LENGTH} characters.")
    if is_superseded(old):
        raise MeasureError("reason", "This result has been corrected already; correct its newest version instead.")
    instrument = get_instrument(given.instrument)
    _check(instrument, given, today)
    result = score(instrument.code, given.answers)
    row = _row(actor, patient, given, result)
    row.supersedes_id = old.id
    row.correction_reason = reason.strip()
    db.session.add(row)
    db.session.flush()
    audit.record(
        actor,
        "measure.correct",
        f"Corrected a {instrument.short_name} result",
        patient=patient,
        target_type="measure_result",
        target_id=row.id,
        data={"instrument": instrument.code, "supersedes": old.id, "administered_on": given.administered_on},
    )
    raising.for_result(actor, patient, row, result)
    return row
