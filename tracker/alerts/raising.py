"""Raising a safety alert, one function per source; each writes the alert, its audit row and its e-mail notices in
the caller's transaction (the e-mail goes after the commit, through the job queue: ``tracker.alerts.notices``).

The sources and what makes each one urgent:

- a measure result with an urgent flag (``tracker.instruments``: PHQ-9 item 9 above 0, C-SSRS moderate or high
  risk, QIDS-SR16 item 12 at 2 or 3, MADRS item 10 at 4 or more), high risk when a flag says so (C-SSRS high risk, a
  suicide-plan answer). A result urgent only through a standing answer (the C-SSRS "lifetime" behaviour answer)
  raises no new alert when an earlier alert of the patient already carried it: see ``_already_alerted``;
- a vital sign past a critical limit during a dosing session (``Protocol.alerting_limits``: the protocol's own, and
  the general limit of each sign it names none for);
- a serious adverse event (high risk);
- an integration note whose risk check says the concern was escalated (high risk);
- an urgent answer posted on a questionnaire link that had closed meanwhile (expired, withdrawn or used), from
  which no result is stored, high risk when a flag says so, as for a measure result.

Callers are the services that write those rows (``tracker.outcomes.services``, ``tracker.notes.saving``), so
every door that records one (page, questionnaire link, script, demo) raises the alert the same way; the closed
link's alert is raised by the public questionnaire page (``tracker.questionnaires.public``), the one door that
receives such answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import exists, select

from tracker import audit, clinictime, vitals
from tracker.alerts import notices
from tracker.clinics import clinic_of
from tracker.extensions import db
from tracker.instruments import Flag, ScoreResult, StandingAnswer, get_instrument, standing_only
from tracker.models import (
    AdverseEvent,
    AlertSource,
    MeasureResult,
    Patient,
    QuestionnaireLink,
    SafetyAlert,
    SessionNote,
    TherapySession,
    User,
    VitalReading,
)
from tracker.models.base import utcnow
from tracker.notes.fields import RISK_CHECK
from tracker.protocols import Protocol
from tracker.protocols.schema import GENERAL_CRITICAL_LIMITS

#: The risk-check answer that raises an alert.
ESCALATED = "concern_escalated"
#: A summary quotes at most this much of a typed description.
QUOTE = 300


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= QUOTE else text[: QUOTE - 1] + "\u2026"


def _raise(actor: User | None, patient: Patient, alert: SafetyAlert, data: dict[str, object]) -> SafetyAlert:
    db.session.add(alert)
    db.session.flush()
    audit.record(
        actor,
        "alert.raise",
        f"Safety alert raised: {alert.source.label.lower()}" + (" (high risk)" if alert.high_risk else ""),
        patient=patient,
        target_type="safety_alert",
        target_id=alert.id,
        data={"source": alert.source, "high_risk": alert.high_risk, **data},
    )
    notices.queue_at_once(db.session, alert, patient)
    return alert


def _already_alerted(patient: Patient, row: MeasureResult, standing: Sequence[StandingAnswer]) -> SafetyAlert | None:
    """An earlier alert of this patient and instrument whose result carried every one of these standing answers
    (open or acknowledged): the answer has been seen, so repeating it at a re-test is not new."""
    earlier = db.session.execute(
        select(SafetyAlert, MeasureResult.answers)
        .join(MeasureResult, MeasureResult.id == SafetyAlert.result_id)
        .where(
            SafetyAlert.patient_id == patient.id, MeasureResult.instrument == row.instrument, MeasureResult.id != row.id
        )
        .order_by(SafetyAlert.raised_at, SafetyAlert.id)
    ).all()
    for alert, answers in earlier:
        if all(answers[s.item - 1] == s.equals for s in standing):
            found: SafetyAlert = alert
            return found
    return None


def for_result(actor: User | None, patient: Patient, row: MeasureResult, result: ScoreResult) -> SafetyAlert | None:
    """One alert for a result with any urgent flag, unless its only urgent answer is a standing one already alerted
    on (then an ``alert.not_repeated`` audit row names the earlier alert)."""
    if not result.urgent:
        return None
    instrument = get_instrument(row.instrument)
    standing = standing_only(row.instrument, list(row.answers))
    if standing:
        earlier = _already_alerted(patient, row, standing)
        if earlier is not None:
            audit.record(
                actor,
                "alert.not_repeated",
                f"No new safety alert: the {instrument.short_name} answer that made the result urgent was alerted on "
                "before",
                patient=patient,
                target_type="measure_result",
                target_id=row.id,
                data={"earlier_alert": earlier.id, "items": [s.item for s in standing]},
            )
            return None
    urgent = [f for f in result.flags if f.urgent]
    alert = SafetyAlert(
        patient_id=patient.id,
        source=AlertSource.MEASURE,
        high_risk=result.high_risk,
        result_id=row.id,
        summary=f"{instrument.short_name} of {row.administered_on.isoformat()}: " + " ".join(f.message for f in urgent),
        raised_at=row.entered_at,
    )
    return _raise(actor, patient, alert, {"result": row.id, "flags": [f.code for f in urgent]})


def _shown(patient: Patient, moment: datetime | None) -> str:
    """A moment in an alert's summary (stored text, read long after): on the patient's clinic's clock, zone named."""
    return clinictime.shown(moment, clinic_of(db.session, patient.clinic_id).zone)


def for_reading(
    actor: User,
    patient: Patient,
    visit: TherapySession,
    row: VitalReading,
    reading: vitals.Reading,
    protocol: Protocol | None,
) -> SafetyAlert | None:
    """An alert for a reading with any value past the protocol's critical limits (``vitals.check``, critical)."""
    limits = protocol.alerting_limits if protocol else GENERAL_CRITICAL_LIMITS
    critical = vitals.check(reading, limits, critical=True)
    if not critical:
        return None
    alert = SafetyAlert(
        patient_id=patient.id,
        source=AlertSource.VITAL_SIGN,
        high_risk=False,
        session_id=visit.id,
        source_row_id=row.id,
        raised_at=utcnow(),
        summary=f"Reading of {_shown(patient, row.taken_at)} during dosing session {visit.cycle}: "
        + "; ".join(flag.text for flag in critical)
        + ".",
    )
    return _raise(actor, patient, alert, {"reading": row.id, "signs": [flag.sign for flag in critical]})


def for_adverse_event(actor: User, patient: Patient, visit: TherapySession, event: AdverseEvent) -> SafetyAlert | None:
    """A high-risk alert for a serious adverse event: serious as it stands (``serious_now``: a signed correction to
    serious raises it too, ``tracker.adverse_events``), once while one is open for the event."""
    if not event.serious_now:
        return None
    if db.session.scalar(
        select(
            exists().where(
                SafetyAlert.source == AlertSource.ADVERSE_EVENT,
                SafetyAlert.source_row_id == event.id,
                SafetyAlert.acknowledged_at.is_(None),
            )
        )
    ):
        return None
    alert = SafetyAlert(
        patient_id=patient.id,
        source=AlertSource.ADVERSE_EVENT,
        high_risk=True,
        session_id=visit.id,
        source_row_id=event.id,
        raised_at=utcnow(),
        summary=f"Serious adverse event ({event.severity.label.lower()}) in dosing session {visit.cycle}, onset "
        f"{_shown(patient, event.onset_at)}: {_quote(event.description)}",
    )
    return _raise(actor, patient, alert, {"adverse_event": event.id, "severity": event.severity})


def for_risk_check(actor: User, patient: Patient, visit: TherapySession, note: SessionNote) -> SafetyAlert | None:
    """A high-risk alert the first time an integration note holds a risk check marked escalated (one per note)."""
    if note.fields.get("risk_check") != ESCALATED:
        return None
    raised = db.session.scalar(
        select(exists().where(SafetyAlert.source == AlertSource.RISK_CHECK, SafetyAlert.source_row_id == note.id))
    )
    if raised:
        return None
    alert = SafetyAlert(
        patient_id=patient.id,
        source=AlertSource.RISK_CHECK,
        high_risk=True,
        session_id=visit.id,
        source_row_id=note.id,
        raised_at=utcnow(),
        summary=f"Risk check of the integration session of {_shown(patient, visit.when)}: {RISK_CHECK[ESCALATED]}.",
    )
    return _raise(actor, patient, alert, {"note": note.id})


#: How a closed link's alert says why the link was closed.
_CLOSED = {"expired": "had expired", "withdrawn": "had been withdrawn", "used": "had already been used"}


def for_closed_link(
    patient: Patient, link: QuestionnaireLink, reason: str, flags: Sequence[Flag], now: datetime
) -> SafetyAlert | None:
    """An alert for urgent answers posted on a questionnaire link that had closed meanwhile (``reason``: expired,
    withdrawn or used): no result is stored, but the answers may be the patient's, typed before it closed, and must
    not vanish. High risk when a flag says so. Nobody is signed in, so the audit row has no actor. While an alert of
    this link is still open, another such post is audited against it (``alert.repeat``) rather than raising a
    second; once that one is acknowledged, a further post raises a new alert."""
    urgent = [flag for flag in flags if flag.urgent]
    if not urgent:
        return None
    open_alert = db.session.scalar(
        select(SafetyAlert)
        .where(
            SafetyAlert.source == AlertSource.QUESTIONNAIRE_LINK,
            SafetyAlert.source_row_id == link.id,
            SafetyAlert.acknowledged_at.is_(None),
        )
        .limit(1)
    )
    if open_alert is not None:
        audit.record(
            None,
            "alert.repeat",
            "Another urgent answer on a closed questionnaire link (its alert is open)",
            patient=patient,
            target_type="safety_alert",
            target_id=open_alert.id,
            data={"link": link.id, "reason": reason, "flags": [f.code for f in urgent]},
        )
        return open_alert
    names = ", ".join(get_instrument(code).short_name for code in link.instruments)
    alert = SafetyAlert(
        patient_id=patient.id,
        source=AlertSource.QUESTIONNAIRE_LINK,
        high_risk=any(f.high_risk for f in urgent),
        source_row_id=link.id,
        raised_at=now,
        summary=f"Answers to the {names} link sent {_shown(patient, link.created_at)} arrived after it "
        f"{_CLOSED.get(reason, 'had closed')}, so no result was saved: "
        + " ".join(f.message for f in urgent)
        + " Contact the patient.",
    )
    return _raise(None, patient, alert, {"link": link.id, "reason": reason, "flags": [f.code for f in urgent]})
