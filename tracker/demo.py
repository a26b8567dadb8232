"""The demo clinic loaded by ``flask seed-demo`` (and ``make run``): two clinics, every role, patients in every
phase, with outcome measures over time (so the trend charts show something), safety alerts open and acknowledged,
and integration plans. Idempotent: it does nothing if the demo clinics exist already.

Patients who have been dosed are placed in the past: their phase moves, dosing sessions and results are back-dated
along one timeline per patient, so the schedule and the charts read like a real course of treatment. Each clinic is
laid out from a "now" in its office hours on its own clock (``demo_now``): every session starts between 08:00 and
17:00 there, whatever the time the demo is loaded, and the patients in dosing have the day's dosing session under
way (``tests/test_demo_data.py`` checks these and the order of the dates).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from faker import Faker
from sqlalchemy import select

from tracker.alerts.acknowledge import acknowledge
from tracker.clinictime import local, start_of_day
from tracker.extensions import db
from tracker.factories import (
    answer_screening,
    clear_for_dosing,
    clinic_day,
    make_clinic,
    make_patient,
    make_user,
    record_measure,
    renew_pre_dosing,
    sample_answers,
    usual_dose,
    walk_course,
)
from tracker.labs.services import LabInput
from tracker.labs.services import record_result as record_lab
from tracker.models import (
    CareTeamMember,
    Clinic,
    Outcome,
    Patient,
    Phase,
    Role,
    SessionKind,
    Severity,
    SexAtBirth,
    TherapySession,
    User,
)
from tracker.models.base import clock_behind, utcnow
from tracker.notes import saving, signing
from tracker.outcomes.queries import open_alerts
from tracker.plans.services import current_version, mark_given, save_version
from tracker.protocols import Protocol
from tracker.sessions.queries import load_note
from tracker.sessions.services import SessionInput, current_cycle, record_session
from tracker.vitals import Reading

#: The demo's office hours on each clinic's own clock: every session it lays out starts within them.
OFFICE_OPENS, OFFICE_CLOSES = time(8, 0), time(17, 0)
#: The demo's "now" on the clinic's clock lies between these (``demo_now``): late enough for the day's dosing
#: session (from 08:30) and the afternoon's notes (three hours back), early enough that back-dated sessions, an hour
#: off across a daylight-saving change, still start by closing time.
DEMO_DAY_FROM, DEMO_DAY_UNTIL = time(11, 30), time(16, 0)
#: When the day's dosing session starts, on the clinic's clock.
DOSING_STARTS = time(8, 30)
#: When the back-dated moves of a course (and the dosing sessions that go with them) were made.
MOVES_AT = time(9, 0)


def demo_now(zone: ZoneInfo, now: datetime) -> datetime:
    """The moment the demo of a clinic in ``zone`` is laid out from, at or before the real ``now``: now itself
    during the clinic's working day (11:30 to 16:00 there), 16:00 after it, and the day before at 16:00 before it
    (loaded early in the morning, the demo's "today" is the clinic's last working day)."""
    here = local(now, zone)
    day = here.date()
    if here.time() < DEMO_DAY_FROM:
        day -= timedelta(days=1)
    elif DEMO_DAY_FROM <= here.time() <= DEMO_DAY_UNTIL:
        return now
    return _at(zone, day, DEMO_DAY_UNTIL)


def _at(zone: ZoneInfo, day: date, clock: time) -> datetime:
    """``clock`` on ``day`` on the clinic's calendar, in UTC."""
    return start_of_day(day, zone) + timedelta(hours=clock.hour, minutes=clock.minute)


DEMO_PASSWORD = "demo-password-2026"  # noqa: S105 - printed by `make run`; demo data only

#: (username, full name, roles, supervisor username) for each clinic; the second clinic gets a "b-" prefix. The
#: therapist is in training: their signed notes wait for the supervisor's co-signature (``NEEDS_COSIGN``).
DEMO_STAFF = [
    # The clinical director supervises the supervisor: an alert left open is escalated to them.
    ("director", "Dr. Elena Varga", (Role.SUPERVISOR,), None),
    ("supervisor", "Dr. Maya Okafor", (Role.SUPERVISOR,), "director"),
    ("therapist", "Sam Rivera", (Role.THERAPIST,), "supervisor"),
    ("cotherapist", "Jordan Lee", (Role.THERAPIST,), "supervisor"),
    ("lead", "Dr. Priya Nair", (Role.THERAPIST, Role.SUPERVISOR), "supervisor"),
    ("admin", "Chris Admin", (Role.ADMIN,), None),
]

#: The path each demo patient has travelled, from preparation.
DEMO_PATHS: list[list[Phase]] = [
    [],
    [Phase.DOSING],
    [Phase.DOSING, Phase.INTEGRATION],
    [Phase.DOSING, Phase.INTEGRATION, Phase.DOSING],
    [Phase.ON_HOLD],
    [Phase.DOSING, Phase.INTEGRATION, Phase.COMPLETED],
    [Phase.DISCONTINUED],
]

#: How many days ago each move of a path was made (same order as DEMO_PATHS); moves not listed are made now.
DEMO_DAYS_AGO: dict[int, list[int]] = {1: [5], 2: [24, 23], 3: [58, 57, 20], 5: [150, 149, 90]}

NEEDS_COSIGN = frozenset({"therapist"})

#: The protocols the demo patients take in turn.
DEMO_ROTATION = ("mdma-ptsd", "psilocybin-mdd", "ketamine-iv-trd", "esketamine-rems-trd")

#: One patient of each protocol for the further psilocybin indications, and the path (``DEMO_PATHS``) they took:
#: the cancer patient of the Hopkins design has been dosed and is in integration (MEQ-30, practices checked in on),
#: the alcohol patient is in today's dosing session, the others are in preparation.
NEW_PROTOCOL_PATIENTS = (
    ("psilocybin-cancer-hopkins", 2),
    ("psilocybin-cancer-nyu", 0),
    ("psilocybin-aud", 1),
    ("psilocybin-tobacco", 0),
    ("psilocybin-ocd", 0),
)

#: The practices of the demo integration plans.
DEMO_PRACTICES = [
    {"practice": "Breathwork", "frequency": "daily"},
    {"practice": "Time in nature", "frequency": "weekly"},
    {"practice": "Sleep routine (regular hours, morning light)", "frequency": "most_days"},
]

CLINICS = [("Harbour Psychedelic Therapy Clinic", ""), ("Northside Integration Centre", "b-")]
#: The demo accounts' e-mail domain per clinic (reserved for examples: RFC 2606), so alert e-mail has somewhere to go.
MAIL_DOMAINS = {"": "harbour.example", "b-": "northside.example"}

#: Where the demo clinics are: one east of UTC (UTC+10/+11, summer time from October to April), one west of it
#: (UTC-7/-6), so the demo shows every time on a clock other than UTC. Phone numbers are from the ranges set aside
#: for fiction (ACMA: 02 5550 xxxx; the North American 555-01xx); the crisis lines are the real national ones.
DEMO_CLINIC_SETTINGS: dict[str, dict[str, str]] = {
    "Harbour Psychedelic Therapy Clinic": {
        "time_zone": "Australia/Sydney",
        "phone": "(02) 5550 0142",
        "address": "Level 3, 12 Harbour Street, Sydney NSW 2000",
        "crisis_line": "Lifeline 13 11 14 (24 hours); the clinic on (02) 5550 0142 in office hours",
    },
    "Northside Integration Centre": {
        "time_zone": "America/Denver",
        "phone": "303-555-0100",
        "address": "1420 North Pearl Street, Suite 2, Denver, CO 80203",
        "crisis_line": "988 Suicide & Crisis Lifeline (call or text 988, 24 hours); the clinic on 303-555-0100 in "
        "office hours",
    },
}

#: Plain-language plan text for the demo, by section title.
DEMO_PLAN = {
    "Insights and themes": "You described feeling safe in your body for the first time in years. The theme you "
    'want to keep: "I can be with hard memories without being swept away."',
    "Intentions and goals": "I will walk for 20 minutes every morning.\nI will call my sister every Sunday.\n"
    "I will write three lines in my journal before bed.",
    "Practices (sleep, movement, nature, breathwork, contemplative practice, nutrition)": "Lights out by 11 pm. "
    "Box breathing (4 counts in, hold, out, hold) when you notice your chest tightening. A walk by the sea on "
    "weekends.",
    "Support people": "Your sister Ana, and your friend Tom from the running club.",
    "Warning signs and crisis plan": "Warning signs: not sleeping for two nights, pulling away from Ana, thoughts "
    "that you would be better off gone. Then: tell Ana, call the clinic, and if you feel unsafe call the crisis "
    "line below.",
}


def seed_demo(protocols: dict[str, Protocol], patients_per_clinic: int = 14) -> bool:
    """Load the demo clinics; returns False (and adds nothing) when they are already there."""
    if db.session.scalar(select(Clinic.id).where(Clinic.name == CLINICS[0][0])) is not None:
        return False
    fake = Faker("en_US")
    Faker.seed(2026)
    for clinic_name, prefix in CLINICS:
        real = utcnow()
        with clock_behind(real - demo_now(ZoneInfo(DEMO_CLINIC_SETTINGS[clinic_name]["time_zone"]), real)):
            _seed_clinic(fake, protocols, clinic_name, prefix, patients_per_clinic)
    return True


def _seed_clinic(
    fake: Faker, protocols: dict[str, Protocol], clinic_name: str, prefix: str, patients_per_clinic: int
) -> None:
    """One demo clinic, its staff and patients, laid out from the clock's now."""
    clinic = make_clinic(clinic_name, **DEMO_CLINIC_SETTINGS[clinic_name])
    staff: dict[str, User] = {}
    for username, full_name, roles, supervisor in DEMO_STAFF:
        staff[username] = make_user(
            clinic,
            *roles,
            username=prefix + username,
            full_name=full_name,
            password=DEMO_PASSWORD,
            supervisor=staff.get(supervisor) if supervisor else None,
            needs_cosign=username in NEEDS_COSIGN,
            email=f"{prefix}{username}@{MAIL_DOMAINS[prefix]}",
        )
    therapists = [staff["therapist"], staff["lead"]]
    for index in range(patients_per_clinic):
        code = DEMO_ROTATION[index % len(DEMO_ROTATION)]
        _add_patient(
            fake,
            staff,
            therapists[index % 2],
            protocols,
            prefix,
            index,
            code,
            index % len(DEMO_PATHS),
            first_round=index < len(DEMO_PATHS),
        )
    # One patient of each protocol for the further psilocybin indications, after the rotation.
    for offset, (code, path_index) in enumerate(NEW_PROTOCOL_PATIENTS):
        index = patients_per_clinic + offset
        patient = _add_patient(
            fake, staff, therapists[offset % 2], protocols, prefix, index, code, path_index, first_round=False
        )
        _evaluation(patient, therapists[offset % 2], offset)
        if path_index == 2:
            _after_the_dose(patient, therapists[offset % 2], protocols[code])
            _checked_in_integration(patient, therapists[offset % 2], protocols[code], staff)
        db.session.flush()


def _add_patient(
    fake: Faker,
    staff: dict[str, User],
    lead: User,
    protocols: dict[str, Protocol],
    prefix: str,
    index: int,
    code: str,
    path_index: int,
    first_round: bool,
) -> Patient:
    """One demo patient of protocol ``code``, walked along ``DEMO_PATHS[path_index]`` with what that path shows."""
    female = index % 2 == 0
    patient = make_patient(
        lead,
        staff["cotherapist"],
        protocols=protocols,
        protocol_code=code,
        given_name=fake.first_name_female() if female else fake.first_name_male(),
        family_name=fake.last_name(),
        record_number=f"{prefix.upper() or 'H-'}{1000 + index}",
        date_of_birth=fake.date_of_birth(minimum_age=21, maximum_age=75),
        sex_at_birth=SexAtBirth.FEMALE if female else SexAtBirth.MALE,
        # Some women in the demo are past menopause: their pregnancy tests do not apply.
        can_become_pregnant=(index % 4 == 0) if female else False,
    )
    patient.research_consent = index % 7 != 6  # most agreed to research use; some did not
    _walk(patient, lead, protocols[code], protocols, path_index, first_round=first_round)
    db.session.flush()
    if path_index == 2:  # in integration: the PHQ-9 or C-SSRS after dosing flagged a risk
        _safety_alert(patient, lead, staff["supervisor"], protocols[code], acknowledged=not first_round)
    if path_index in (2, 3, 5):
        _plan(patient, lead, protocols[code], given=path_index == 5)
    if path_index == 2:
        # An integration session two days ago whose note is still a draft: it shows among the
        # therapist's unsigned notes older than 24 hours.
        _draft_integration_note(patient, lead, protocols[code])
    if DEMO_PATHS[path_index] and DEMO_PATHS[path_index][-1] is Phase.DOSING:
        # In dosing now (the first dosing session, or the next one after integration): today's session is under
        # way, its note a draft with one reading out of range; the pregnancy test before it was done yesterday.
        renew_pre_dosing(patient, lead, protocols[code], utcnow() - timedelta(days=1))
        visit = _dosing_under_way(patient, lead, protocols[code])
        if first_round and path_index == 1:  # and one serious adverse event, for the supervisor's dashboard
            _serious_event(patient, lead, visit)
    db.session.flush()
    return patient


def _walk(
    patient: Patient,
    lead: User,
    protocol: Protocol,
    protocols: dict[str, Protocol],
    path_index: int,
    first_round: bool,
) -> None:
    """Move the patient along its path on a back-dated timeline, with sessions and results along the way."""
    path = DEMO_PATHS[path_index]
    now = utcnow()
    # Each move of the course (a dosing session with it) at 09:00 on the clinic's clock, that many days ago.
    zone = clinic_day_zone(patient)
    moments = [
        _at(zone, local(now - timedelta(days=days), zone).date(), MOVES_AT)
        for days in DEMO_DAYS_AGO.get(path_index, [])
    ]
    moments += [now] * (len(path) - len(moments))
    start = (moments[0] if Phase.DOSING in path else now) - timedelta(days=35)
    _backdate_enrolment(patient, start)
    if Phase.DOSING in path:
        first = moments[0]
        clear_for_dosing(
            patient,
            lead,
            protocols,
            clinic_day(patient, first - timedelta(days=4)),
            sessions_days_ago=(now - first).days + 7,
            at=first - timedelta(days=3),
            password=DEMO_PASSWORD,
        )
    elif path_index == 0 and first_round:
        # One patient in preparation whose screening flagged an item for the supervisor's review.
        flagged = next(i.id for i in protocol.screening if i.kind.value == "review")
        answer_screening(patient, lead, protocol, yes=(flagged,))
    steps = [(target, when, REASONS.get(target)) for target, when in zip(path, moments, strict=True)]
    walk_course(patient, lead, protocols, steps, password=DEMO_PASSWORD)
    severity = 0.7 if patient.id % 2 else 0.55
    dosed = 0
    for target, when in zip(path, moments, strict=True):
        if target is Phase.COMPLETED:
            _results(
                patient,
                lead,
                protocol,
                clinic_day(patient, when - timedelta(days=2)),
                severity * 0.4,
                "end_of_treatment",
            )
            follow_up = clinic_day(patient, when + timedelta(days=85))
            if follow_up <= clinic_day(patient, now):  # the first follow-up (90 days after the end, a clinic setting)
                _results(patient, lead, protocol, follow_up, severity * 0.45, "follow_up")
        if target is Phase.DOSING:
            dosed += 1
            after = clinic_day(patient, when + timedelta(days=6))
            # In the second round the patient in integration missed the measures after dosing: overdue on the
            # dashboard once the window has closed.
            if after <= clinic_day(patient, now) and (first_round or path_index != 2):
                _results(patient, lead, protocol, after, severity * (0.78**dosed), "after_each_dosing")


#: Why the demo patients were put on hold or discontinued.
REASONS = {
    Phase.ON_HOLD: "Demo: travel abroad for two months",
    Phase.DISCONTINUED: "Demo: patient chose to stop treatment",
}


def _draft_integration_note(patient: Patient, lead: User, protocol: Protocol) -> None:
    held = utcnow() - timedelta(days=2, hours=3)
    given = SessionInput(SessionKind.INTEGRATION, held, 60, cycle=1, location="Therapy room 2", present_ids=(lead.id,))
    visit = record_session(lead, patient, given, protocol, utcnow())
    saving.save_note(
        lead,
        patient,
        visit,
        None,
        saving.NoteInput(
            fields={
                "themes": "Anger at the years of avoidance; relief at telling the story once, start to end.",
                "practices": "Morning walk most days; breathing exercise twice this week.",
                "modality": "Internal Family Systems",
            }
        ),
        None,
        utcnow(),
        protocol,
    )


def _dosing_under_way(patient: Patient, lead: User, protocol: Protocol) -> TherapySession:
    """Today's dosing session, begun at 08:30 on the clinic's clock and still under way: the dose 15 minutes in, a
    reading before it and the readings since (one out of range an hour after the dose), no discharge yet, the note
    a draft; the next-day follow-up contact scheduled."""
    now = utcnow()
    zone = clinic_day_zone(patient)
    start = _at(zone, local(now, zone).date(), DOSING_STARTS)
    cycle = current_cycle(db.session, patient)
    team = tuple(db.session.scalars(select(CareTeamMember.user_id).where(CareTeamMember.patient_id == patient.id)))
    planned = (protocol.minimum_observation_minutes or 240) + 105  # the dose, the observation, discharge
    visit = record_session(
        lead,
        patient,
        SessionInput(
            SessionKind.DOSING,
            start,
            planned,
            cycle=cycle,
            location="Session room 1",
            present_ids=team,
        ),
        protocol,
        now,
    )
    given = start + timedelta(minutes=15)
    amount, unit, route = usual_dose(protocol, cycle)
    note, _ = saving.save_note(
        lead,
        patient,
        visit,
        None,
        saving.NoteInput(
            body="Settled before the dose; eyeshades and music from the start.",
            dosing={
                "substance": protocol.substance,
                "dose_amount": amount,
                "dose_unit": unit,
                "weight_kg": 68.0,
                "route": route,
                "lot_number": f"LOT-{cycle:02d}-2026",
                "dose_given_at": given,
                "supplemental_mg": None,
                "supplemental_given_at": None,
                "distress_baseline": 4,
                "distress_at_discharge": None,
                "escort_name": "Partner (drives home)",
                "discharged_at": None,
                "pre_dose_decision": None,
            },
        ),
        None,
        now,
        protocol,
    )
    readings = [
        (-5, Reading(122, 78, 72, 36.7, 98)),
        (40, Reading(134, 84, 88, 37.0, 97)),
        (60, Reading(171, 104, 112, 37.4, 92)),
    ]  # out of range on every protocol, critical on none
    readings += [(minutes, Reading(126, 80, 78, 36.8, 98)) for minutes in range(120, 600, 60)]
    for minutes, reading in readings:
        if given + timedelta(minutes=minutes) <= now:
            saving.add_vital_reading(
                lead, patient, visit, note, given + timedelta(minutes=minutes), reading, protocol, now
            )
    record_session(
        lead,
        patient,
        SessionInput(
            SessionKind.FOLLOW_UP,
            None,
            None,
            scheduled_at=start + timedelta(days=1, hours=1),
            scheduled_minutes=15,
            cycle=cycle,
            location="Phone",
            present_ids=(lead.id,),
        ),
        protocol,
        now,
    )
    return visit


def clinic_day_zone(patient: Patient) -> ZoneInfo:
    """The time zone of the patient's clinic."""
    return db.session.get_one(Clinic, patient.clinic_id).zone


def _serious_event(patient: Patient, lead: User, visit: TherapySession) -> None:
    """A serious adverse event on today's dosing session (listed on the dashboard for 30 days)."""
    onset = (visit.held_at or utcnow()) + timedelta(minutes=90)
    event = saving.AdverseEventInput(
        description="Demo: chest pain with blood pressure 182/108; transferred to the emergency department.",
        onset_at=min(onset, utcnow()),
        severity=Severity.SEVERE,
        serious=True,
        action_taken="Session stopped, ambulance called, handed over to the ED team.",
        outcome=Outcome.RECOVERING,
    )
    saving.add_adverse_event(lead, patient, visit, load_note(db.session, visit), event, utcnow())


def _backdate_enrolment(patient: Patient, start: datetime) -> None:
    """Demo only: the patient was enrolled before the back-dated course of treatment began."""
    patient.created_at = start
    patient.phase_changed_at = start
    for transition in patient.transitions:
        transition.created_at = start


def _results(patient: Patient, lead: User, protocol: Protocol, on: date, level: float, timepoint: str) -> None:
    for measure in protocol.measures:
        if timepoint in measure.timepoints:
            record_measure(patient, lead, measure.instrument, on=on, level=level)


def _safety_alert(patient: Patient, lead: User, supervisor: User, protocol: Protocol, acknowledged: bool) -> None:
    """A result with an urgent flag three days ago; in the second round, already acknowledged by the supervisor."""
    code = next((m.instrument for m in protocol.measures if m.instrument in ("phq9", "cssrs")), "phq9")
    on = clinic_day(patient) - timedelta(days=3)
    record_measure(patient, lead, code, sample_answers(code, 0.4, flagged=True), on=on)
    if acknowledged:
        for alert in open_alerts(db.session, patient.id):
            acknowledge(
                supervisor,
                patient,
                alert,
                ["patient_contacted", "safety_plan_reviewed", "appointment_brought_forward"],
                "Called the patient the same afternoon: passive thoughts, no plan or intent. Safety plan reviewed "
                "with her; next session brought forward to Friday.",
                utcnow(),
            )


def _plan(patient: Patient, lead: User, protocol: Protocol, given: bool) -> None:
    texts = {title: DEMO_PLAN.get(title, "") for title in protocol.integration_plan_sections}
    crisis = db.session.get_one(Clinic, patient.clinic_id).crisis_line or ""
    first = save_version(lead, patient, texts, crisis, 0, DEMO_PRACTICES)
    if given and first is not None:
        texts["Therapy and referrals"] = "Monthly sessions with Dr. Nair until June. Your GP, Dr. Hale, has a copy."
        second = save_version(lead, patient, texts, crisis, first.number)
        if second is not None:
            mark_given(lead, patient, second, clinic_day(patient), clinic_day(patient))


#: Pre-treatment laboratory results of the new-protocol demo patients: (marker, unit, value, days ago); each patient
#: gets the first ``3 + offset % 3`` of them, one of them out of its default range.
DEMO_LABS = [
    ("glucose_fasting", "mmol/L", 5.1, 20),
    ("tsh", "mIU/L", 2.2, 20),
    ("magnesium", "mmol/L", 0.68, 20),
    ("crp_hs", "mg/L", 1.4, 20),
    ("omega3_index", "%", 5.2, 18),
]


def _evaluation(patient: Patient, lead: User, offset: int) -> None:
    """The integrative pre-treatment evaluation: a few laboratory results, magnesium below its range."""
    for marker, unit, value, days in DEMO_LABS[: 3 + offset % 3]:
        on = clinic_day(patient, utcnow() - timedelta(days=days))
        record_lab(
            lead, patient, LabInput(marker, value, unit, on, laboratory="Harbour Pathology"), clinic_day(patient)
        )


def _after_the_dose(patient: Patient, lead: User, protocol: Protocol) -> None:
    """The measures after the dosing session: symptoms lower, and an MEQ-30 strong enough on every factor to read
    as a complete mystical experience."""
    on = clinic_day(patient, utcnow() - timedelta(days=DEMO_DAYS_AGO[2][0] - 1))
    for measure in protocol.measures:
        if "after_each_dosing" in measure.timepoints:
            record_measure(
                patient, lead, measure.instrument, on=on, level=0.8 if measure.instrument == "meq30" else 0.25
            )


def _checked_in_integration(patient: Patient, lead: User, protocol: Protocol, staff: dict[str, User]) -> None:
    """A signed integration session after the plan was written: the modality and a check-in on each practice, so
    the supervisor's adherence table beside the measures has something to show."""
    plan = current_version(db.session, patient.id)
    if plan is None or not plan.practice_items:
        return
    held = utcnow() - timedelta(days=1, hours=2)
    visit = record_session(
        lead,
        patient,
        SessionInput(SessionKind.INTEGRATION, held, 60, cycle=1, location="Therapy room 2", present_ids=(lead.id,)),
        protocol,
        utcnow(),
    )
    answers = ["as_planned", "partly", "not_done"][: len(plan.practice_items)]
    note, _ = saving.save_note(
        lead,
        patient,
        visit,
        None,
        saving.NoteInput(
            fields={
                "themes": "Peace with the diagnosis; wanting to spend the time left well.",
                "modality": "Compassionate Inquiry",
                "risk_check": "no_concern",
                "practice_checkin": {"plan_version": str(plan.number), "answers": answers},
            },
            body="Integration after the session: the experience of unity keeps coming back in meditation.",
        ),
        None,
        utcnow(),
        protocol,
    )
    signing.sign_note(lead, patient, visit, note, protocol, DEMO_PASSWORD, None, True, utcnow())
