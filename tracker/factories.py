"""Builders of clinics, staff and patients, shared by ``flask seed-demo``, the tests and the benchmark.

They call the same services as the pages, so demo and test data obey the same rules (and leave audit rows).
"""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from typing import Any

from tracker.admin.services import AccountDetails, create_user
from tracker.extensions import db
from tracker.instruments import get_instrument
from tracker.models import (
    AnswerValue,
    Clinic,
    Indication,
    MeasureResult,
    Patient,
    Role,
    SessionKind,
    TherapySession,
    User,
)
from tracker.models.base import utcnow
from tracker.outcomes.services import MODES, ResultInput, record_result
from tracker.patients.services import CareTeam, PatientDetails, create_patient
from tracker.protocols import ItemKind, Protocol
from tracker.screening.services import AnswerInput, answer_item, current_checklist, sign_off

_counter = itertools.count(1)

#: Protocol code and indication pairs that match (a patient needs both to be enrolled).
PROTOCOL_INDICATIONS = {
    "mdma-ptsd": Indication.PTSD,
    "psilocybin-mdd": Indication.MAJOR_DEPRESSION,
    "ketamine-iv-trd": Indication.TREATMENT_RESISTANT_DEPRESSION,
    "esketamine-rems-trd": Indication.TREATMENT_RESISTANT_DEPRESSION,
}


def make_clinic(name: str | None = None) -> Clinic:
    clinic = Clinic(name=name or f"Clinic {next(_counter)}")
    db.session.add(clinic)
    db.session.flush()
    return clinic


def make_user(
    clinic: Clinic,
    *roles: Role,
    username: str | None = None,
    full_name: str | None = None,
    supervisor: User | None = None,
    password: str = "correct horse battery",  # noqa: S107 - test and demo data only
    actor: User | None = None,
) -> User:
    """A staff account. A therapist without a supervisor gets one made for them."""
    roles = roles or (Role.THERAPIST,)
    if Role.THERAPIST in roles and supervisor is None:
        supervisor = make_user(clinic, Role.SUPERVISOR, password=password)
    number = next(_counter)
    details = AccountDetails(
        full_name=full_name or f"Staff {number}",
        roles=frozenset(roles),
        supervisor_id=supervisor.id if supervisor else None,
    )
    return create_user(actor, clinic.id, username or f"user{number}", password, details)


def make_patient(
    lead: User,
    *co_therapists: User,
    protocols: dict[str, Protocol],
    protocol_code: str = "mdma-ptsd",
    given_name: str = "Alex",
    family_name: str | None = None,
    record_number: str | None = None,
    date_of_birth: date = date(1980, 5, 17),
    actor: User | None = None,
) -> Patient:
    """A patient in preparation with ``lead`` as lead therapist, enrolled by ``actor`` (default: the lead)."""
    number = next(_counter)
    details = PatientDetails(
        given_name=given_name,
        family_name=family_name or f"Patient{number}",
        date_of_birth=date_of_birth,
        record_number=record_number or f"MRN-{number:05d}",
        indication=PROTOCOL_INDICATIONS[protocol_code],
        protocol_code=protocol_code,
    )
    team = CareTeam(lead.id, tuple(u.id for u in co_therapists))
    return create_patient(actor or lead, details, team, protocols)


def log_sessions(patient: Patient, actor: User, kind: SessionKind, count: int, days_ago: int = 7) -> None:
    """``count`` sessions of ``kind`` held before today."""
    for number in range(count):
        held = utcnow() - timedelta(days=days_ago + number)
        db.session.add(
            TherapySession(patient_id=patient.id, kind=kind, held_at=held, duration_minutes=60, logged_by_id=actor.id)
        )


def answer_screening(patient: Patient, actor: User, protocol: Protocol, yes: tuple[str, ...] = ()) -> None:
    """Answer every item: "no" to exclusions and reviews (except the ``yes`` ones), acceptable requirements today."""
    checklist = current_checklist(db.session, patient)
    assert checklist is not None
    today = utcnow().date()
    for item in protocol.screening:
        if item.kind is ItemKind.REQUIREMENT:
            value = item.acceptable[0] if item.acceptable else "recorded"
            given = AnswerInput(AnswerValue.RECORDED, value, today)
        else:
            given = AnswerInput(AnswerValue.YES if item.id in yes else AnswerValue.NO)
        answer_item(actor, checklist, protocol, item.id, given, today)
    db.session.flush()


def sample_answers(code: str, level: float = 0.3, flagged: bool = False) -> list[Any]:
    """Valid answers to instrument ``code``: each numeric item at about ``level`` of its highest answer (0 to 1).

    Items that raise a flag on their own (PHQ-9 item 9, QIDS-SR16 item 12) are 0 unless ``flagged``, so factory
    data raises no safety alert by accident; the C-SSRS screener answers "no" throughout (skipping 3 to 5), or
    "yes" to questions 1 and 2 and a plan (question 4) when ``flagged``.
    """
    instrument = get_instrument(code)
    flag_items = {rule.item for rule in instrument.flags if rule.item is not None}
    answers: list[Any] = []
    for item in instrument.items:
        if item.scale.numeric:
            # Dithered by item, so the total follows ``level`` closely instead of in steps of one item's range.
            value = min(int(level * item.scale.highest + (item.number * 0.618) % 1), item.scale.highest)
            if item.number in flag_items:
                value = max(value, 1) if flagged else 0
            answers.append(value)
        elif item.ask_if is not None and not item.ask_if.holds(answers):
            answers.append(None)
        else:
            answers.append("yes" if flagged and item.number in (1, 2, 4) else item.scale.options[0].value)
    return answers


def record_measure(
    patient: Patient,
    actor: User,
    code: str,
    answers: list[Any] | None = None,
    on: date | None = None,
    level: float = 0.3,
) -> MeasureResult:
    """One result through the same service as the recording page (``sample_answers`` unless ``answers``)."""
    mode = MODES[get_instrument(code).administration][0]
    given = ResultInput(code, answers if answers is not None else sample_answers(code, level), on or utcnow().date(),
                        mode)
    return record_result(actor, patient, given, utcnow().date())


def record_baseline_measures(patient: Patient, actor: User, protocol: Protocol, on: date | None = None) -> None:
    """A result of every measure the protocol wants at baseline, dated ``on`` (default today)."""
    for measure in protocol.measures:
        if "baseline" in measure.timepoints:
            record_measure(patient, actor, measure.instrument, on=on, level=0.6)
    db.session.flush()


def clear_for_dosing(
    patient: Patient,
    actor: User,
    protocols: dict[str, Protocol],
    baseline_on: date | None = None,
    sessions_days_ago: int = 7,
) -> None:
    """Everything the dosing gate asks for: a clean, signed-off screening, the preparation sessions held (the last
    ``sessions_days_ago``) and the baseline measures recorded (dated ``baseline_on``, default today)."""
    protocol = protocols[patient.protocol_code]
    answer_screening(patient, actor, protocol)
    checklist = current_checklist(db.session, patient)
    assert checklist is not None
    sign_off(actor, checklist, protocol)
    log_sessions(patient, actor, SessionKind.PREPARATION, protocol.sessions.preparation, sessions_days_ago)
    record_baseline_measures(patient, actor, protocol, on=baseline_on)
    db.session.flush()
