"""Builders of clinics, staff and patients, shared by ``flask seed-demo``, the tests and the benchmark.

They call the same services as the pages, so demo and test data obey the same rules (and leave audit rows).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from tracker import workflow
from tracker.admin.services import AccountDetails, create_user
from tracker.clinics import clinic_of, new_clinic
from tracker.clinictime import DEFAULT_ZONE, day_of
from tracker.extensions import db
from tracker.instruments import get_instrument
from tracker.labs import markers
from tracker.labs.services import LabInput
from tracker.labs.services import record_result as record_lab
from tracker.models import (
    AnswerValue,
    CareTeamMember,
    Clinic,
    DoseUnit,
    Indication,
    MeasureResult,
    Patient,
    Phase,
    PhaseTransition,
    Role,
    Route,
    SessionKind,
    SessionNote,
    SexAtBirth,
    TherapySession,
    User,
)
from tracker.models.base import utcnow
from tracker.notes import saving, signing
from tracker.outcomes.services import MODES, ResultInput, record_result
from tracker.patients.services import CareTeam, PatientDetails, create_patient
from tracker.plans.services import current_version
from tracker.protocols import ItemKind, Protocol
from tracker.screening.services import AnswerInput, answer_item, current_checklist, sign_off
from tracker.sessions import queries
from tracker.sessions.services import SessionInput, current_cycle, record_session
from tracker.vitals import Reading

_counter = itertools.count(1)

PASSWORD = "correct horse battery"  # noqa: S105 - make_user's default; test and demo data only

#: Protocol code and indication pairs that match (a patient needs both to be enrolled).
PROTOCOL_INDICATIONS = {
    "mdma-ptsd": Indication.PTSD,
    "psilocybin-mdd": Indication.MAJOR_DEPRESSION,
    "ketamine-iv-trd": Indication.TREATMENT_RESISTANT_DEPRESSION,
    "esketamine-rems-trd": Indication.TREATMENT_RESISTANT_DEPRESSION,
    "psilocybin-cancer-hopkins": Indication.CANCER_RELATED_DISTRESS,
    "psilocybin-cancer-nyu": Indication.CANCER_RELATED_DISTRESS,
    "psilocybin-aud": Indication.ALCOHOL_USE_DISORDER,
    "psilocybin-tobacco": Indication.TOBACCO_USE_DISORDER,
    "psilocybin-ocd": Indication.OBSESSIVE_COMPULSIVE_DISORDER,
}


def make_clinic(name: str | None = None, time_zone: str = DEFAULT_ZONE, **settings: Any) -> Clinic:
    return new_clinic(name or f"Clinic {next(_counter)}", time_zone, **settings)


def make_user(
    clinic: Clinic,
    *roles: Role,
    username: str | None = None,
    full_name: str | None = None,
    supervisor: User | None = None,
    password: str = "correct horse battery",  # noqa: S107 - test and demo data only
    actor: User | None = None,
    needs_cosign: bool = False,
    email: str | None = None,
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
        needs_cosign=needs_cosign,
        email=email,
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
    sex_at_birth: SexAtBirth | None = None,
    can_become_pregnant: bool | None = None,
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
        sex_at_birth=sex_at_birth,
        can_become_pregnant=can_become_pregnant,
    )
    team = CareTeam(lead.id, tuple(u.id for u in co_therapists))
    return create_patient(actor or lead, details, team, protocols)


def clinic_day(patient: Patient, moment: datetime | None = None) -> date:
    """The day of ``moment`` (default now) on the patient's clinic's calendar."""
    return day_of(moment or utcnow(), clinic_of(db.session, patient.clinic_id).zone)


def log_sessions(patient: Patient, actor: User, kind: SessionKind, count: int, days_ago: int = 7) -> None:
    """``count`` sessions of ``kind`` held before today (rows only: no note, no audit)."""
    for number in range(count):
        held = utcnow() - timedelta(days=days_ago + number)
        backdate_enrolment(patient, held - timedelta(days=1))
        db.session.add(
            TherapySession(patient_id=patient.id, kind=kind, held_at=held, duration_minutes=60, logged_by_id=actor.id)
        )


def backdate_enrolment(patient: Patient, moment: datetime) -> None:
    """Test and demo data only: place the patient's enrolment at ``moment`` if it is later (a course of treatment
    laid out in the past needs a patient enrolled before it)."""
    if patient.created_at > moment:
        patient.created_at = moment
        patient.phase_changed_at = min(patient.phase_changed_at, moment)
        for transition in db.session.scalars(
            select(PhaseTransition).where(
                PhaseTransition.patient_id == patient.id, PhaseTransition.from_phase.is_(None)
            )
        ):
            transition.created_at = moment


def answer_screening(
    patient: Patient, actor: User, protocol: Protocol, yes: tuple[str, ...] = (), at: datetime | None = None
) -> None:
    """Answer every item at ``at`` (default now): "no" to exclusions and reviews (except the ``yes`` ones),
    acceptable requirements done that day."""
    checklist = current_checklist(db.session, patient)
    assert checklist is not None
    moment = at or utcnow()
    for item in protocol.screening:
        if item.kind is ItemKind.REQUIREMENT:
            value = item.acceptable[0] if item.acceptable else "recorded"
            given = AnswerInput(AnswerValue.RECORDED, value, clinic_day(patient, moment))
        else:
            given = AnswerInput(AnswerValue.YES if item.id in yes else AnswerValue.NO)
        answer_item(actor, checklist, protocol, item.id, given, clinic_day(patient), now=moment)
    db.session.flush()


def renew_pre_dosing(patient: Patient, actor: User, protocol: Protocol, at: datetime) -> None:
    """Record again, done on ``at``'s day, each requirement a pre-dosing check wants recent (a pregnancy test
    before each MDMA session)."""
    checklist = current_checklist(db.session, patient)
    assert checklist is not None
    for check in protocol.pre_dosing:
        if check.within_days is None:
            continue
        item = protocol.item(check.requirement)
        value = item.acceptable[0] if item.acceptable else "recorded"
        given = AnswerInput(AnswerValue.RECORDED, value, clinic_day(patient, at))
        answer_item(actor, checklist, protocol, item.id, given, clinic_day(patient), now=at)
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
            if item.at_most_item is not None:  # heavy drinking days are drinking days
                value = min(value, answers[item.at_most_item - 1])
            # The highest answer at or below it (AUDIT items 9 and 10 answer 0, 2 or 4).
            value = max((v for v in item.scale.values if isinstance(v, int) and v <= value), default=0)
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
    today = clinic_day(patient)
    given = ResultInput(code, answers if answers is not None else sample_answers(code, level), on or today, mode)
    return record_result(actor, patient, given, today)


def record_baseline_measures(patient: Patient, actor: User, protocol: Protocol, on: date | None = None) -> None:
    """A result of every measure the protocol wants at baseline, dated ``on`` (default today)."""
    for measure in protocol.measures:
        if "baseline" in measure.timepoints:
            record_measure(patient, actor, measure.instrument, on=on, level=0.6)
    db.session.flush()


def record_required_labs(patient: Patient, actor: User, protocol: Protocol, on: date) -> None:
    """A result within the default range of every laboratory marker the protocol requires before dosing, collected
    ``on`` that day, through the same service as the results page."""
    for required in protocol.required_labs:
        unit = markers()[required.marker].units[0]
        low, high = unit.low or 0.0, unit.high or (unit.low or 0.0) * 2 + 10
        given = LabInput(required.marker, round((low + high) / 2, 2), unit.unit, on, laboratory="Demo laboratory")
        record_lab(actor, patient, given, clinic_day(patient))
    db.session.flush()


#: When ``clear_for_dosing`` screens a patient by default: before the move to dosing (``walk_to``, a day ago) and
#: the dosing session that follows it.
SCREENED_DAYS_AGO = 2


def clear_for_dosing(
    patient: Patient,
    actor: User,
    protocols: dict[str, Protocol],
    baseline_on: date | None = None,
    sessions_days_ago: int = 7,
    at: datetime | None = None,
    *,
    password: str = PASSWORD,
) -> None:
    """Everything the dosing gate asks for: a clean screening answered and signed off at ``at`` (default two days
    ago, with its tests done that day), the preparation sessions held (the last ``sessions_days_ago`` days ago)
    with signed notes, the baseline measures recorded (dated ``baseline_on``, default ``at``'s day), and the
    laboratory results the protocol requires (collected that day too)."""
    protocol = protocols[patient.protocol_code]
    moment = at or utcnow() - timedelta(days=SCREENED_DAYS_AGO)
    backdate_enrolment(patient, moment - timedelta(days=1))
    answer_screening(patient, actor, protocol, at=moment)
    checklist = current_checklist(db.session, patient)
    assert checklist is not None
    sign_off(actor, checklist, protocol, now=moment)
    days_ago = max(sessions_days_ago, (utcnow() - moment).days + 1)  # the preparation came before the screening
    log_sessions(patient, actor, SessionKind.PREPARATION, protocol.sessions.preparation, days_ago)
    db.session.flush()
    write_preparation_notes(patient, actor, protocols, password=password)
    record_baseline_measures(patient, actor, protocol, on=baseline_on or clinic_day(patient, moment))
    record_required_labs(patient, actor, protocol, baseline_on or clinic_day(patient, moment))
    db.session.flush()


# Sessions with signed notes: what the workflow's guards ask for before integration and before the next dosing. ----


def _team_ids(patient: Patient) -> tuple[int, ...]:
    return tuple(db.session.scalars(select(CareTeamMember.user_id).where(CareTeamMember.patient_id == patient.id)))


def complete_dosing(
    patient: Patient,
    actor: User,
    protocols: dict[str, Protocol],
    *,
    password: str = PASSWORD,
    held_at: datetime | None = None,
    sign: bool = True,
    out_of_range: bool = False,
) -> TherapySession:
    """The current cycle's dosing session, held, with a complete note (the protocol's dose, a reading before it,
    readings of every monitored sign after it within the limits, discharge), its next-day follow-up contact
    scheduled, and the note signed by ``actor`` (``sign=False`` leaves it a draft). ``out_of_range`` adds a flagged
    reading mid-session. The patient must be in dosing, moved there on or before the session's day (``walk_to``
    moves a day back). Idempotent for a cycle whose dosing note is already signed."""
    protocol = protocols[patient.protocol_code]
    cycle = current_cycle(db.session, patient)
    existing = db.session.scalar(
        select(TherapySession).where(
            TherapySession.patient_id == patient.id,
            TherapySession.kind == SessionKind.DOSING,
            TherapySession.cycle == cycle,
        )
    )
    if existing is not None and db.session.scalar(
        select(SessionNote.signed_at).where(SessionNote.session_id == existing.id)
    ):
        return existing
    now = utcnow()
    observation = protocol.minimum_observation_minutes or 240
    start = held_at or now - timedelta(minutes=observation + 180)
    visit = record_session(
        actor,
        patient,
        SessionInput(
            SessionKind.DOSING,
            start,
            observation + 90,
            cycle=cycle,
            location="Session room 1",
            present_ids=_team_ids(patient),
        ),
        protocol,
        now,
    )
    given = start + timedelta(minutes=15)
    amount, unit, route = usual_dose(protocol, cycle)
    note, _ = saving.save_note(
        actor,
        patient,
        visit,
        None,
        saving.NoteInput(
            body="Calm onset; the patient used the eyeshades and music for most of the session. Processing of the "
            "index trauma in the second hour; stable and oriented at discharge.",
            dosing={
                "substance": protocol.substance,
                "dose_amount": amount,
                "dose_unit": unit,
                "weight_kg": 72.5,
                "route": route,
                "lot_number": f"LOT-{cycle:02d}-2026",
                "dose_given_at": given,
                "supplemental_mg": None,
                "supplemental_given_at": None,
                "distress_baseline": 4,
                "distress_at_discharge": 2,
                "escort_name": "Partner (drives home)",
                "discharged_at": given + timedelta(minutes=observation + 30),
                "pre_dose_decision": None,
            },
        ),
        None,
        now,
        protocol,
    )
    # Minutes after the dose: one reading before it, one at 40 minutes (esketamine's label asks for it), then
    # through the observation time, the last one 20 minutes before discharge.
    times = [-5, 40, (observation + 10) // 2, observation + 10]
    readings = [
        Reading(122, 78, 72, 36.7, 98),
        Reading(134, 84, 88, 37.0, 97),
        Reading(128, 82, 80, 36.9, 98),
        Reading(124, 80, 74, 36.8, 98),
    ]
    if out_of_range:
        times.insert(3, (observation + 10) * 3 // 4)
        readings.insert(3, Reading(171, 104, 112, 37.4, 96))
    for minutes, reading in zip(times, readings, strict=True):
        saving.add_vital_reading(
            actor, patient, visit, note, given + timedelta(minutes=minutes), reading, protocol, now
        )
    record_session(
        actor,
        patient,
        SessionInput(
            SessionKind.FOLLOW_UP,
            None,
            None,
            scheduled_at=start + timedelta(days=1),
            scheduled_minutes=15,
            cycle=cycle,
            location="Phone",
            present_ids=(actor.id,),
        ),
        protocol,
        now,
    )
    if sign:
        follow = signing.follow_up_ok(visit, queries.follow_ups(db.session, visit))
        # Signed after discharge (a back-dated course signs at its own time: the next move judges the signature).
        signed = min(now, given + timedelta(minutes=observation + 40))
        signing.sign_note(actor, patient, visit, note, protocol, password, None, follow, signed)
    db.session.flush()
    return visit


def usual_dose(protocol: Protocol, cycle: int) -> tuple[float, DoseUnit, Route]:
    """A dose the protocol allows at ``cycle``, for test and demo data: its first-session dose, else the highest of
    its fixed doses, else its conventional dose; in its unit, by its first route."""
    rule = protocol.dose
    if rule is None:
        return _DOSES.get(protocol.code, (10.0, DoseUnit.MG, Route.ORAL))
    if cycle == 1 and rule.first_session:
        amount = rule.first_session[0]
    elif rule.allowed:
        amount = rule.allowed[-1]
    else:
        amount = _DOSES[protocol.code][0] if protocol.code in _DOSES else rule.minimum
    return amount, rule.unit, rule.routes[0]


#: A conventional dose where a protocol gives a range, for test and demo data: ketamine 0.5 mg/kg over 40 minutes
#: (Andrade C 2017, J Clin Psychiatry 78:e852, doi:10.4088/JCP.17f11738).
_DOSES = {
    "ketamine-iv-trd": (0.5, DoseUnit.MG_PER_KG, Route.INTRAVENOUS),
}


def complete_integration(
    patient: Patient,
    actor: User,
    protocols: dict[str, Protocol],
    *,
    password: str = PASSWORD,
    before: datetime | None = None,
) -> list[TherapySession]:
    """The protocol's integration sessions after the current dosing session's dose, held with signed notes: a day
    apart from the day after the dose, or (when that would reach ``before``, default now) in the hours before it."""
    protocol = protocols[patient.protocol_code]
    cycle = current_cycle(db.session, patient)
    held = (
        db.session.scalar(
            select(func.count())
            .select_from(TherapySession)
            .where(
                TherapySession.patient_id == patient.id,
                TherapySession.kind == SessionKind.INTEGRATION,
                TherapySession.cycle == cycle,
            )
        )
        or 0
    )
    now = utcnow()
    end = before or now
    dosed = db.session.execute(
        select(func.coalesce(SessionNote.dose_given_at, TherapySession.held_at))
        .select_from(TherapySession)
        .outerjoin(SessionNote, SessionNote.session_id == TherapySession.id)
        .where(
            TherapySession.patient_id == patient.id,
            TherapySession.kind == SessionKind.DOSING,
            TherapySession.cycle == cycle,
        )
    ).scalar() or end - timedelta(days=4)
    needed = protocol.sessions.integration_per_dosing
    plan = current_version(db.session, patient.id)
    checkin = (
        {"plan_version": str(plan.number), "answers": ["as_planned" for _ in plan.practice_items]}
        if plan is not None and plan.practice_items
        else None
    )
    made = []
    for number in range(held, needed):
        when, minutes = dosed + timedelta(days=number + 1), 60
        if when >= end - timedelta(hours=1):
            when, minutes = end - timedelta(minutes=20 * (needed - number) + 1), 15
        visit = record_session(
            actor,
            patient,
            SessionInput(
                SessionKind.INTEGRATION, when, minutes, cycle=cycle, location="Therapy room 2", present_ids=(actor.id,)
            ),
            protocol,
            now,
        )
        note, _ = saving.save_note(
            actor,
            patient,
            visit,
            None,
            saving.NoteInput(
                fields={
                    "themes": "Grief for the years lost to avoidance; a felt sense of safety with the partner.",
                    "practices": "Daily walk at dawn; ten minutes of breath-counting before sleep.",
                    "plan_updates": "Reconnect with a friend from before the accident; journal after nightmares.",
                    "risk_notes": "Asked about thoughts of self-harm: none since the session.",
                    "risk_check": "no_concern",
                    "practice_checkin": checkin,
                },
                body=f"Integration session {number + 1} after dosing {cycle}.",
            ),
            None,
            now,
            protocol,
        )
        signed = min(now, when + timedelta(minutes=minutes))  # as the session ended, before the next dose
        signing.sign_note(actor, patient, visit, note, protocol, password, None, True, signed)
        made.append(visit)
    db.session.flush()
    return made


def write_preparation_notes(
    patient: Patient, actor: User, protocols: dict[str, Protocol], *, password: str = PASSWORD, leave_last: bool = False
) -> None:
    """A signed note for each preparation session held that has none (``leave_last``: the newest stays a draft,
    so it shows among its author's unsigned notes)."""
    protocol = protocols[patient.protocol_code]
    held = list(
        db.session.scalars(
            select(TherapySession)
            .outerjoin(SessionNote, SessionNote.session_id == TherapySession.id)
            .where(
                TherapySession.patient_id == patient.id,
                TherapySession.kind == SessionKind.PREPARATION,
                TherapySession.held_at.is_not(None),
                SessionNote.id.is_(None),
            )
            .order_by(TherapySession.held_at)
            .options(selectinload(TherapySession.present))
        )
    )
    for number, visit in enumerate(held, start=1):
        assert visit.held_at is not None
        # Written and signed as the session ended: the dosing gate counts a note signed before the dosing session.
        now = min(utcnow(), visit.held_at + timedelta(minutes=visit.duration_minutes or 60))
        note, _ = saving.save_note(
            actor,
            patient,
            visit,
            None,
            saving.NoteInput(
                fields={
                    "topics": "What to expect on the dosing day; the room, music and eyeshades; the support plan.",
                    "intention": "To face the memories I avoid, without being swept away by them.",
                    "consent": "Treatment consent reviewed; recording of sessions agreed; supportive touch: hand only.",
                    "questions": "Can I stop the session? (Yes, and the therapists stay with you.)",
                },
                body=f"Preparation session {number}.",
            ),
            None,
            now,
        )
        if not (leave_last and number == len(held)):
            signing.sign_note(actor, patient, visit, note, protocol, password, None, True, now)
    db.session.flush()


def walk_course(
    patient: Patient,
    actor: User,
    protocols: dict[str, Protocol],
    steps: Sequence[tuple[Phase, datetime, str | None]],
    *,
    password: str = PASSWORD,
) -> None:
    """Move ``patient`` through ``steps`` (target phase, when, reason) on a back-dated timeline, doing the paperwork
    of each move at its time: the dosing session (at the moment of the move into dosing) signed before integration;
    before a later dosing cycle, the integration sessions after that dose and the pre-dosing tests the day before."""
    protocol = protocols[patient.protocol_code]
    entered: datetime | None = None
    for target, when, reason in steps:
        if patient.phase is Phase.DOSING and target is Phase.INTEGRATION:
            complete_dosing(patient, actor, protocols, password=password, held_at=entered)
        if patient.phase is Phase.INTEGRATION and target is Phase.DOSING:
            complete_integration(patient, actor, protocols, password=password, before=when)
            renew_pre_dosing(patient, actor, protocol, when - timedelta(days=1))
        workflow.move(db.session, patient, target, actor, protocol, reason, now=when)
        if target is Phase.DOSING:
            entered = when
    db.session.flush()


def walk_to(
    patient: Patient,
    target: Phase,
    actor: User,
    protocols: dict[str, Protocol],
    reason: str | None = None,
    *,
    password: str = PASSWORD,
    at: datetime | None = None,
) -> None:
    """Move ``patient`` to ``target`` after doing the paperwork the gate asks for: a signed dosing note before
    integration; before a later dosing cycle, the signed integration sessions and the pre-dosing tests done again.
    A move into dosing is made a day back by default (``at``), so the day's dosing session (``complete_dosing``)
    follows it; a later cycle needs its spacing from the one before, so tests reach it by travelling in time."""
    protocol = protocols[patient.protocol_code]
    moment = at
    if moment is None and target is Phase.DOSING:
        latest = db.session.scalar(
            select(func.max(PhaseTransition.created_at)).where(
                PhaseTransition.patient_id == patient.id, PhaseTransition.from_phase.is_not(None)
            )
        )
        moment = utcnow() - timedelta(days=1)
        if latest is not None and latest > moment:
            moment = latest
    if patient.phase is Phase.DOSING and target is Phase.INTEGRATION:
        complete_dosing(patient, actor, protocols, password=password)
    if patient.phase is Phase.INTEGRATION and target is Phase.DOSING:
        assert moment is not None
        complete_integration(patient, actor, protocols, password=password, before=moment)
        renew_pre_dosing(patient, actor, protocol, moment - timedelta(hours=1))
    workflow.move(db.session, patient, target, actor, protocol, reason, now=moment)
    db.session.flush()
