"""Outcome measure operations: record a result, correct one, acknowledge a safety alert.

Each takes the acting user, writes the rows and their audit rows, and leaves the commit to the caller. Results
are scored here, once, by ``tracker.instruments.score``, and stored with the answers as they were scored; the rows
are never changed afterwards (the database refuses it), so a correction is a new result that supersedes the old.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.orm.attributes import set_committed_value

from tracker import audit
from tracker.extensions import db
from tracker.instruments import Administration, Instrument, ScoreResult, get_instrument, score
from tracker.models import AdministrationMode, MeasureResult, Patient, SafetyAlert, User
from tracker.models.base import utcnow

EARLIEST = date(1900, 1, 1)
ACTION_MAX_LENGTH = 4000
REASON_MAX_LENGTH = 2000

#: How each kind of instrument may reach the tracker (DOMAIN.md 4a "Administration"): a self-report is filled in
#: with the patient or copied from the patient's paper form; a clinician-rated scale (MADRS) or an interview
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


class MeasureError(ValueError):
    """A result or acknowledgement refused for a reason shown next to ``field``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


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
            {"code": s.code, "name": s.name, "score": s.score, "endorsed": s.endorsed, "required": s.required,
             "met": s.met}
            for s in result.subscales
        ],
        flags=[{"code": f.code, "message": f.message, "urgent": f.urgent, "source": f.source} for f in result.flags],
        provisional_diagnosis=result.provisional_diagnosis,
        cut_point=result.cut_point,
        entered_by_id=actor.id,
        entered_at=utcnow(),
    )


def _raise_alert(
    actor: User | None, patient: Patient, row: MeasureResult, result: ScoreResult
) -> SafetyAlert | None:
    """One alert for a result with any urgent flag: PHQ-9 item 9 above 0 [S] DOMAIN.md [86], C-SSRS moderate or
    high risk [S] [97] / [V] [98], or whatever flag an instrument's data file marks urgent."""
    if not result.urgent:
        return None
    alert = SafetyAlert(patient_id=patient.id, result_id=row.id, raised_at=row.entered_at)
    db.session.add(alert)
    db.session.flush()
    audit.record(
        actor,
        "alert.raise",
        f"Safety alert raised by a {get_instrument(row.instrument).short_name} result",
        patient=patient,
        target_type="safety_alert",
        target_id=alert.id,
        data={"result": row.id, "flags": [f.code for f in result.flags if f.urgent]},
    )
    return alert


def raise_closed_link_alert(patient: Patient, link_id: int, reason: str, flags: list[str], now: datetime) -> int:
    """Alert the care team to an urgent answer posted on a questionnaire link that had closed meanwhile (``reason``:
    expired, withdrawn or used), from which no result is stored: the answers may be a patient's, typed before the
    link closed, and must not vanish. The alert names the link and says what was received (``flags``: the urgent
    flags' messages); nobody is signed in, so the audit row has no actor. While an alert of this link is still
    open, another such post is audited against it instead of raising a second one. Returns the alert's id.
    """
    open_id = db.session.scalar(
        select(SafetyAlert.id).where(SafetyAlert.link_id == link_id, SafetyAlert.acknowledged_at.is_(None))
    )
    action = "alert.repeat"
    if open_id is None:
        closed = {"expired": "expired", "withdrawn": "been withdrawn", "used": "already been used"}.get(reason, reason)
        alert = SafetyAlert(patient_id=patient.id, link_id=link_id, raised_at=now, summary=(
            f"An urgent answer was received on a questionnaire link that had {closed}, so no result was saved: "
            + " ".join(flags) + " Contact the patient."))
        db.session.add(alert)
        db.session.flush()
        open_id, action = alert.id, "alert.raise"
    audit.record(None, action, "Safety alert: an urgent answer on a closed questionnaire link", patient=patient,
                 target_type="safety_alert", target_id=open_id, data={"link": link_id, "reason": reason})
    return open_id


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
    _raise_alert(actor, patient, row, result)
    return row


def record_patient_reported(sender: User, patient: Patient, code: str, answers: list[Any], today: date,
                            link_id: int) -> MeasureResult:
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
    _raise_alert(None, patient, row, result)
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
    _raise_alert(actor, patient, row, result)
    return row


def acknowledge_alert(actor: User, patient: Patient, alert: SafetyAlert, action: str, now: datetime) -> None:
    """Close an open alert, recording who did what about it.

    The update only touches a row that is still open, so of two people acknowledging at once one succeeds and the
    other is told; the database also refuses any later change.

    :raise MeasureError: no action written, too long, or the alert is no longer open.
    """
    action = action.strip()
    if not action:
        raise MeasureError("action_taken", "Describe the action taken; an alert cannot be dismissed without one.")
    if len(action) > ACTION_MAX_LENGTH:
        raise MeasureError("action_taken", f"Use at most {ACTION_MAX_LENGTH} characters.")
    changed = db.session.execute(
        update(SafetyAlert)
        .where(SafetyAlert.id == alert.id, SafetyAlert.acknowledged_at.is_(None))
        .values(acknowledged_at=now, acknowledged_by_id=actor.id, action_taken=action)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise MeasureError("action_taken", "Someone else has acknowledged this alert already.")
    # Mirror the UPDATE on the loaded object without marking it dirty (a second UPDATE would hit the trigger).
    for name, value in (("acknowledged_at", now), ("acknowledged_by_id", actor.id), ("action_taken", action)):
        set_committed_value(alert, name, value)
    audit.record(
        actor,
        "alert.acknowledge",
        "Acknowledged a safety alert with the action taken",
        patient=patient,
        target_type="safety_alert",
        target_id=alert.id,
        data={"result": alert.result_id},
    )
