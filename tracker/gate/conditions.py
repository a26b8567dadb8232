"""The dosing gate: one ordered table of named conditions, and the one function that evaluates them.

Every entry point that can reach a dose or a signed dosing note calls ``evaluate`` (through ``tracker.gate.check``)
for its door: the move to dosing (and to integration), recording or editing a held dosing session, saving the dose
on its note, and signing the note, from a page, a CLI command or a script. A condition guards the doors it names;
at a session door it is judged *at the session's time* (``Facts.at``): the screening must have been signed off, the
pregnancy test done, the taper finished before that session, not merely before today.

Plain Python over ``tracker.gate.facts``: no Flask, no database. Each condition returns the sentences a clinician
can act on; an empty list means it holds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from tracker import clinictime, discharge, eligibility, vitals
from tracker.gate.facts import (
    ARRIVAL,
    DOSING_DOORS,
    SESSION_DOORS,
    SESSION_SPAN,
    Administration,
    Door,
    Facts,
    Medication,
    Visit,
)
from tracker.labs import markers
from tracker.models import Phase, SessionKind
from tracker.protocols import InteractionRule, Protocol
from tracker.schedule import baseline_problems
from tracker.wording import says_something


@dataclass(frozen=True)
class Unmet:
    """A condition that does not hold, with the sentence shown next to the refused action."""

    condition: str
    message: str


Check = Callable[[Facts], list[str]]


@dataclass(frozen=True)
class Condition:
    name: str
    doors: frozenset[Door]
    check: Check
    #: What it protects, for the README and the admin's protocol page.
    summary: str


def _date(moment: object) -> str:
    return moment.isoformat() if hasattr(moment, "isoformat") else str(moment)


def _moment(facts: Facts, moment: datetime) -> str:
    """A time as the clinic reads it."""
    return moment.astimezone(facts.tz).strftime("%Y-%m-%d %H:%M")


def _when(facts: Facts) -> str:
    """How a message names the moment judged."""
    if facts.session is not None:
        return f"this session ({facts.on.isoformat()})"
    return "dosing"


def _protocol(facts: Facts) -> Protocol:
    assert facts.protocol is not None  # ``evaluate`` stops at ``protocol_known`` otherwise
    return facts.protocol


# --- The patient, the protocol and the session's time ----------------------------------------------------------


def protocol_known(facts: Facts) -> list[str]:
    if facts.protocol is None:
        return [f"The patient's protocol ({facts.protocol_code}) is not installed, so dosing cannot be checked."]
    return []


def session_time(facts: Facts) -> list[str]:
    """A held session, at a plausible time: not in the future, not before the patient was enrolled."""
    visit = facts.session
    if visit is None or visit.held_at is None:
        return ["The session has not taken place yet: record when it was held first."]
    if visit.held_at > facts.now:
        return ["A session that took place cannot be in the future."]
    enrolled = facts.day(facts.enrolled_at)
    if facts.on < enrolled:
        return [f"The session is dated {facts.on.isoformat()}, before the patient was enrolled ({enrolled})."]
    return []


def in_dosing(facts: Facts) -> list[str]:
    """A session is recorded as held only while the patient is in dosing, under the current cycle."""
    if not facts.recording:
        return []
    if facts.phase is not Phase.DOSING:
        return [
            f"A dosing session can be recorded as held only while the patient is in dosing (now: "
            f"{facts.phase.label.lower()}); the move to dosing checks the gate first."
        ]
    if facts.cycle != facts.current_cycle:
        return [f"The patient is in dosing {facts.current_cycle}; record the session under that cycle."]
    return []


def after_the_move(facts: Facts) -> list[str]:
    """The patient had moved into this dosing cycle by the session's start (the move checked what only it checks,
    such as a co-therapist on the care team)."""
    entered = facts.entered_dosing.get(facts.cycle)
    if entered is None:
        return [f"The patient has not been moved to dosing {facts.cycle} yet."]
    if facts.at < entered:
        return [
            f"The session is recorded as starting at {_moment(facts, facts.at)}, before the patient moved to dosing "
            f"{facts.cycle} ({_moment(facts, entered)})."
        ]
    return []


def cycles_remaining(facts: Facts) -> list[str]:
    protocol = _protocol(facts)
    if facts.cycle > protocol.dosing_sessions:
        return [
            f"All {protocol.dosing_sessions} planned dosing sessions of {protocol.name} have been held; move the "
            "patient to completed, or change the plan."
        ]
    return []


# --- Screening -----------------------------------------------------------------------------------------------------


def _eligibility(facts: Facts) -> eligibility.Eligibility:
    protocol = _protocol(facts)
    answers = eligibility.answers_as_of(protocol, facts.answers, facts.signed_off_at, facts.at, facts.on, facts.tz)
    reviews = {
        review.item_id: eligibility.Review(review.decision, review.rationale, review.basis)
        for review in sorted(facts.reviews, key=lambda r: r.decided_at)
        if review.decided_at <= facts.at
    }
    medications = [
        eligibility.MedicationFact(m.id, m.name, m.drug_class, m.current_on(facts.on), m.taper_end_on, m.stopped_on)
        for m in facts.medications
    ]
    signed_off = facts.signed_off_at is not None and facts.signed_off_at <= facts.at
    return eligibility.evaluate(protocol, answers, medications, reviews, signed_off, facts.record)


def screening_eligible(facts: Facts) -> list[str]:
    """The screening was complete, signed off and eligible at the moment judged."""
    if not facts.has_checklist:
        return ["No screening checklist has been started."]
    result = _eligibility(facts)
    if result.is_eligible:
        return []
    problems = [r.text for r in result.reasons if r.status is not eligibility.Status.INCOMPLETE]
    unanswered = [r for r in result.reasons if r.status is eligibility.Status.INCOMPLETE and r.item_id]
    if unanswered:
        plural = "s" if len(unanswered) != 1 else ""
        problems.append(
            f"Screening is incomplete: {len(unanswered)} item{plural} not answered or recorded yet (see the "
            "screening checklist)."
        )
    for reason in result.reasons:
        if reason.status is eligibility.Status.INCOMPLETE and not reason.item_id:
            late = facts.signed_off_at is not None and facts.signed_off_at > facts.at
            problems.append(
                f"The screening checklist was signed off on {facts.day(facts.signed_off_at).isoformat()}, after "
                f"{_when(facts)}."
                if late and facts.signed_off_at
                else reason.text
            )
    return problems


def pre_dosing_checks(facts: Facts) -> list[str]:
    """Each pre-dosing check recorded recently enough before the moment judged (a test done after a session does
    not count for it)."""
    protocol = _protocol(facts)
    answers = eligibility.answers_as_of(protocol, facts.answers, facts.signed_off_at, facts.at, facts.on, facts.tz)
    problems = []
    for check in protocol.pre_dosing:
        item = protocol.item(check.requirement)
        if not eligibility.applies(item, facts.record):
            continue
        answer = answers.get(check.requirement)
        if answer is not None and answer.value == "not_applicable" and item.allow_not_applicable:
            continue  # the screening's own rules judge a "not applicable" (a review after sign-off)
        if answer is None or answer.done_on is None:
            problems.append(f"Before {_when(facts)}: {check.text} - not recorded.")
        elif check.within_days is not None and answer.done_on < facts.on - timedelta(days=check.within_days):
            problems.append(
                f"Before {_when(facts)}: {check.text} - the last one is dated {answer.done_on.isoformat()}, more "
                f"than {check.within_days} days before. Record a new one in the screening checklist."
            )
    return problems


def required_labs(facts: Facts) -> list[str]:
    """Each laboratory result the protocol requires, collected on or before the day judged and recently enough (a
    sample taken after a session does not count for it); where the protocol asks, the newest within its range."""
    problems = []
    for required in _protocol(facts).required_labs:
        name = markers()[required.marker].name
        found = [lab for lab in facts.labs if lab.marker == required.marker and lab.collected_on <= facts.on]
        newest = found[-1] if found else None  # the facts come ordered by day collected, then entry
        collected = newest.collected_on if newest is not None else None
        window = required.within_days
        if collected is None:
            within = f" (collected within {window} days)" if window is not None else ""
            problems.append(
                f"Before {_when(facts)}: {name}{within} - not recorded. Record it under laboratory results."
            )
        elif window is not None and collected < facts.on - timedelta(days=window):
            problems.append(
                f"Before {_when(facts)}: {name} - the last sample was collected on {collected.isoformat()}, more "
                f"than {window} days before. Record a new result under laboratory results."
            )
        elif required.in_range and newest is not None and newest.flag is not None:
            problems.append(
                f"Before {_when(facts)}: {name} of {newest.collected_on.isoformat()} is {newest.flag}er than its "
                "reference range. The dose waits for a physician's review and a result within range."
            )
    return problems


def _matching(rule: InteractionRule, medication: Medication) -> bool:
    fact = eligibility.MedicationFact(medication.id, medication.name, medication.drug_class, True)
    return eligibility.matches(rule, fact)


def medications_stopped(facts: Facts) -> list[str]:
    """Every medication a rule says must be stopped is stopped by the moment judged, and its washout over: whole
    days without it between its last day taken and the dosing day."""
    protocol = _protocol(facts)
    problems: list[str] = []
    seen: set[tuple[int, str]] = set()
    for rule in protocol.interactions:
        if not rule.must_stop:
            continue
        for medication in facts.medications:
            if not _matching(rule, medication) or (medication.id, rule.id) in seen:
                continue
            seen.add((medication.id, rule.id))
            message = _stop_problem(rule, medication, facts)
            if message:
                problems.append(message)
    return problems


def _stop_problem(rule: InteractionRule, medication: Medication, facts: Facts) -> str | None:
    day = facts.on
    if medication.started_on is not None and medication.started_on > day:
        return None
    if medication.stopped_on is None or medication.stopped_on >= day:
        end = medication.taper_end_on.isoformat() if medication.taper_end_on else "no end date planned"
        return (
            f"{medication.name} must be stopped before dosing ({rule.note}); taper ends: {end}. Record the stop "
            "date in the medication review."
        )
    washout = rule.washout_days or 0
    first_day = medication.stopped_on + timedelta(days=washout + 1)
    if day < first_day:
        return (
            f"{medication.name} was last taken on {medication.stopped_on.isoformat()}; {rule.note}: {washout} days "
            f"without it are needed before dosing, so dosing is possible from {first_day.isoformat()}."
        )
    return None


def preparation_held(facts: Facts) -> list[str]:
    """The protocol's preparation sessions held before the moment judged, each with its note signed."""
    protocol = _protocol(facts)
    required = protocol.sessions.preparation
    held = [
        visit
        for visit in facts.visits
        if visit.kind is SessionKind.PREPARATION and visit.held_at is not None and visit.held_at <= facts.at
    ]
    signed = sum(1 for visit in held if visit.signed_by(facts.at))
    if signed >= required:
        return []
    needed = f"all {required} are needed" if required > 1 else "it is needed"
    unsigned = f" ({len(held) - signed} held but not signed yet)" if len(held) > signed else ""
    return [
        f"{signed} of {required} preparation sessions held with a signed note; {needed} before the first dosing "
        f"session{unsigned}."
    ]


def baseline_measures(facts: Facts) -> list[str]:
    """The protocol's baseline measures recorded on or before the first dosing day, recently enough."""
    if facts.cycle != 1:
        return []  # later cycles do not ask again: the baseline is what came before the first dosing session
    first = _dosing_visit(facts, 1)
    if facts.session is None and first is not None and first.held_at is not None:
        return []  # resuming dosing 1 after a hold: the first dosing session has already been held
    return baseline_problems(_protocol(facts).measures, facts.results, facts.on, facts.settings)


# --- The care team and the course --------------------------------------------------------------------------------


def co_therapist_on_team(facts: Facts) -> list[str]:
    protocol = _protocol(facts)
    if protocol.co_therapy_required and not facts.co_therapists:
        return [f"{protocol.name} needs a co-therapist on the care team before any dosing session."]
    return []


def two_therapists_present(facts: Facts) -> list[str]:
    protocol = _protocol(facts)
    visit = facts.session
    if not protocol.co_therapy_required or visit is None:
        return []
    if visit.present_therapists < 2:
        return [
            f"{protocol.name} needs two therapists present at the dosing session; "
            f"{visit.present_therapists} recorded as present."
        ]
    return []


def _dosing_visit(facts: Facts, cycle: int) -> Visit | None:
    return next((v for v in facts.visits if v.kind is SessionKind.DOSING and v.cycle == cycle), None)


def previous_cycle_complete(facts: Facts) -> list[str]:
    """Before dosing N (N > 1): dosing N-1's note signed, and the protocol's integration sessions for it held
    after that dose (and before the moment judged), each with its note signed."""
    protocol = _protocol(facts)
    previous = facts.cycle - 1
    if previous < 1:
        return []
    problems = []
    dosing = _dosing_visit(facts, previous)
    if dosing is None or dosing.held_at is None or not dosing.signed_by(facts.at):
        problems.append(f"The note of dosing session {previous} was not signed before {_when(facts)}.")
    needed = protocol.sessions.integration_per_dosing
    if needed:
        dosed_at = dosing.dosed_at if dosing is not None else None
        held = [
            v
            for v in facts.visits
            if v.kind is SessionKind.INTEGRATION
            and v.cycle == previous
            and v.held_at is not None
            and v.held_at <= facts.at
            and (dosed_at is None or v.held_at >= dosed_at)
        ]
        signed = sum(1 for v in held if v.signed_by(facts.at))
        if len(held) < needed or signed < needed:
            every = f"all {needed} must be" if needed > 1 else "it must be"
            problems.append(
                f"Integration after dosing {previous}: {len(held)} of {needed} sessions held after that dose, "
                f"{signed} with a signed note; {every} held and signed before dosing {facts.cycle}."
            )
    return problems


def dose_spacing(facts: Facts) -> list[str]:
    """At least the protocol's ``dosing_spacing_days`` between the day of the previous dose and the day of this one
    (the dose's own time where recorded, else the session's start)."""
    protocol = _protocol(facts)
    spacing = protocol.sessions.dosing_spacing_days
    previous = _dosing_visit(facts, facts.cycle - 1)
    if not spacing or previous is None or previous.dosed_at is None:
        return []
    last = facts.day(previous.dosed_at)
    this = facts.day(_administration(facts).dose_given_at or facts.at)
    earliest = last + timedelta(days=spacing)
    if this < earliest:
        return [
            f"Dosing {facts.cycle} on {this.isoformat()} would come {(this - last).days} days after dosing "
            f"{facts.cycle - 1}; {protocol.name} spaces dosing sessions at least {spacing} days apart (from "
            f"{earliest.isoformat()})."
        ]
    return []


def within_the_session(facts: Facts) -> list[str]:
    """What a dosing note records happens during its session: the doses between the session's start and its end as
    recorded, discharge and the readings from an hour before the start (arrival) to ``SESSION_SPAN`` after it (an
    overnight stay). Moving the session, or typing a time, cannot leave a dose outside the session the gate judged."""
    visit = facts.session
    if visit is None or visit.held_at is None:
        return []
    given = _administration(facts)
    start, end = visit.held_at, visit.ends_at
    problems = []
    for label, moment in (("The dose", given.dose_given_at), ("The supplemental dose", given.supplemental_given_at)):
        if moment is not None and (moment < start or (end is not None and moment > end)):
            until = f" to {_moment(facts, end)}" if end is not None else ""
            problems.append(
                f"{label} is recorded at {_moment(facts, moment)}, outside the session ({_moment(facts, start)}"
                f"{until}): correct its time, or the session's start and duration."
            )
    latest = start + SESSION_SPAN
    if given.discharged_at is not None and not start <= given.discharged_at <= latest:
        problems.append(
            f"Discharge is recorded at {_moment(facts, given.discharged_at)}: it must fall after the session's start "
            f"and within {int(SESSION_SPAN.total_seconds() // 3600)} hours of it."
        )
    outside = sorted(r.taken_at for r in facts.readings if not start - ARRIVAL <= r.taken_at <= latest)
    if outside:
        times = ", ".join(_moment(facts, t) for t in outside[:3]) + (" ..." if len(outside) > 3 else "")
        problems.append(
            f"{len(outside)} vital-sign reading{'s' if len(outside) != 1 else ''} fall outside the session (from an "
            f"hour before its start to {int(SESSION_SPAN.total_seconds() // 3600)} hours after): {times}. Remove "
            "them, or correct the session's time."
        )
    return problems


# --- The dose -----------------------------------------------------------------------------------------------------


#: The weights a dose is calculated from: a guard against typing errors (350 for 35.0), not a clinical limit.
PLAUSIBLE_WEIGHT_KG = (30.0, 250.0)


def _administration(facts: Facts) -> Administration:
    return facts.administration or Administration()


def _number(value: float) -> str:
    return f"{value:g}"


def dose_within_protocol(facts: Facts) -> list[str]:
    """The protocol's substance, by one of its routes, in its unit, within its bounds (at the first session, its
    first-session doses); the supplemental dose only as the protocol defines it; the total under its cap. Checks
    what has been entered (a draft may be partial); signing also needs it complete."""
    protocol = _protocol(facts)
    given = _administration(facts)
    rule = protocol.dose
    problems = []
    if given.substance and given.substance.strip().casefold() != protocol.substance.casefold():
        problems.append(f"The substance must be the protocol's: {protocol.substance}.")
    if rule is None:
        return problems
    if given.route is not None and given.route not in rule.routes:
        routes = " or ".join(r.label.lower() for r in rule.routes)
        problems.append(f"The route must be the protocol's: {routes} (not {given.route.label.lower()}).")
    if given.dose_amount is not None:
        problems += _dose_amount(facts, given)
    problems += _supplemental(facts, given)
    total = given.dose_total_mg
    if rule.max_total_mg is not None and total is not None:
        everything = total + (given.supplemental_mg or 0)
        if everything > rule.max_total_mg:
            problems.append(
                f"{_number(everything)} mg in all would exceed the protocol's {_number(rule.max_total_mg)} mg per "
                "session."
            )
    return problems


def _dose_amount(facts: Facts, given: Administration) -> list[str]:
    protocol = _protocol(facts)
    rule = protocol.dose
    assert rule is not None and given.dose_amount is not None
    unit = rule.unit.label
    if given.dose_unit is not None and given.dose_unit is not rule.unit:
        return [f"{protocol.name} doses in {unit}, not {given.dose_unit.label}."]
    if rule.unit.per_weight and given.weight_kg is None:
        return [f"Enter the weight measured on the day: the dose is in {unit}."]
    low, high = PLAUSIBLE_WEIGHT_KG
    if given.weight_kg is not None and not low <= given.weight_kg <= high:
        return [f"A weight of {_number(given.weight_kg)} kg is outside {_number(low)}-{_number(high)} kg: check it."]
    amount = given.dose_amount
    if facts.cycle == 1 and rule.first_session and not any(abs(amount - d) < 1e-9 for d in rule.first_session):
        doses = " or ".join(f"{_number(d)} {unit}" for d in rule.first_session)
        return [f"The first dosing session of {protocol.name} gives {doses}, not {_number(amount)} {unit}."]
    if rule.allowed and not any(abs(amount - d) < 1e-9 for d in rule.allowed):
        doses = " or ".join(f"{_number(d)} {unit}" for d in rule.allowed)
        return [f"{protocol.name} gives {doses} per session, not {_number(amount)} {unit}."]
    if not rule.minimum <= amount <= rule.maximum:
        return [
            f"{_number(amount)} {unit} is outside {protocol.name}'s dose range of {_number(rule.minimum)} to "
            f"{_number(rule.maximum)} {unit}."
        ]
    return []


def _supplemental(facts: Facts, given: Administration) -> list[str]:
    protocol = _protocol(facts)
    rule = protocol.dose
    assert rule is not None
    if given.supplemental_mg is None and given.supplemental_given_at is None:
        return []
    if given.dose_amount is None or given.dose_given_at is None:
        return ["Record the initial dose (amount and time) before a supplemental dose."]
    if given.supplemental_mg is None:
        return ["Enter the amount of the supplemental dose, or clear its time."]
    extra = rule.supplemental
    if extra is None:
        return [f"{protocol.name} has no supplemental dose."]
    problems = []
    initial = given.dose_total_mg
    if initial is not None:
        expected = round(initial * extra.fraction_of_initial, 3)
        if abs(given.supplemental_mg - expected) > 1e-6:
            problems.append(
                f"The supplemental dose is {_number(extra.fraction_of_initial)} of the initial dose: "
                f"{_number(expected)} mg, not {_number(given.supplemental_mg)} mg."
            )
    if given.dose_given_at is not None and given.supplemental_given_at is not None:
        minutes = (given.supplemental_given_at - given.dose_given_at).total_seconds() / 60
        if not extra.earliest_minutes <= minutes <= extra.latest_minutes:
            problems.append(
                f"The supplemental dose is given {extra.earliest_minutes} to {extra.latest_minutes} minutes after the "
                f"first, not {int(minutes)} minutes."
            )
    return problems


def _pre_dose_reading(facts: Facts) -> discharge.ReadingLike | None:
    given = _administration(facts)
    if given.dose_given_at is None:
        return None
    earliest = facts.session.held_at - ARRIVAL if facts.session and facts.session.held_at else None
    before = [
        r
        for r in facts.readings
        if r.taken_at <= given.dose_given_at
        and (earliest is None or r.taken_at >= earliest)
        and r.systolic is not None
        and r.diastolic is not None
    ]
    return max(before, key=lambda r: (r.taken_at, r.id), default=None)


def pre_dose_reading(facts: Facts) -> list[str]:
    """Where the protocol asks for it: a blood pressure reading before the dose (checked when signing, since the
    readings and the dose may be typed in either order)."""
    if _protocol(facts).pre_dose_blood_pressure is None or _administration(facts).dose_given_at is None:
        return []
    if _pre_dose_reading(facts) is None:
        return [
            "Record a blood pressure reading taken before the dose, at this session (at or before the time given, "
            "and no more than an hour before the session's start)."
        ]
    return []


#: The written decision to dose above the blood-pressure threshold must read as one (``tracker.wording``).
DECISION_MIN_LENGTH = 15
DECISION_MIN_WORDS = 3


def pre_dose_decision(facts: Facts) -> list[str]:
    """A pre-dose blood pressure above the protocol's threshold needs a written decision to proceed."""
    threshold = _protocol(facts).pre_dose_blood_pressure
    given = _administration(facts)
    reading = _pre_dose_reading(facts)
    if threshold is None or reading is None:
        return []
    assert reading.systolic is not None and reading.diastolic is not None
    high = reading.systolic > threshold.systolic or reading.diastolic > threshold.diastolic
    if high and not says_something(given.pre_dose_decision, DECISION_MIN_LENGTH, DECISION_MIN_WORDS):
        return [
            f"The blood pressure before the dose was {reading.systolic}/{reading.diastolic} mmHg, above "
            f"{_number(threshold.systolic)}/{_number(threshold.diastolic)}: record the decision to proceed (the "
            "risk of a short rise in blood pressure weighed against the benefit), in at least "
            f"{DECISION_MIN_LENGTH} characters and {DECISION_MIN_WORDS} different words."
        ]
    return []


def dose_complete(facts: Facts) -> list[str]:
    missing = discharge.missing_dose_items(_administration(facts))
    return ["The administration record is incomplete: " + ", ".join(missing) + "."] if missing else []


def required_readings(facts: Facts) -> list[str]:
    """Readings the protocol requires at a set time after the dose (esketamine: about 40 minutes after)."""
    protocol = _protocol(facts)
    given = _administration(facts)
    if given.dose_given_at is None:
        return []
    problems = []
    for required in protocol.required_readings:
        low = given.dose_given_at + timedelta(minutes=required.after_dose_minutes - required.tolerance_minutes)
        high = given.dose_given_at + timedelta(minutes=required.after_dose_minutes + required.tolerance_minutes)
        found = any(
            low <= r.taken_at <= high and all(r.value(sign) is not None for sign in required.signs)
            for r in facts.readings
        )
        if not found:
            signs = ", ".join(vitals.LABELS[sign] for sign in required.signs)
            problems.append(
                f"Record {signs} about {required.after_dose_minutes} minutes after the dose (between "
                f"{required.after_dose_minutes - required.tolerance_minutes} and "
                f"{required.after_dose_minutes + required.tolerance_minutes} minutes)."
            )
    return problems


def discharge_complete(facts: Facts) -> list[str]:
    criteria = discharge.criteria(_administration(facts), facts.readings, facts.protocol, facts.tz)
    unmet = [c for c in criteria if not c.met]
    if not unmet:
        return []
    return ["Discharge is not complete: " + "; ".join(f"{c.label.lower()} ({c.detail})" for c in unmet)]


def follow_up_scheduled(facts: Facts) -> list[str]:
    if facts.follow_up_ok:
        return []
    return [f"Schedule the next-day follow-up contact after dosing {facts.cycle} (within 48 hours of the session)."]


# --- Safety alerts ------------------------------------------------------------------------------------------------


def no_open_high_risk_alert(facts: Facts) -> list[str]:
    """No high-risk safety alert open at the moment judged: raised by then and not yet closed by a supervisor. A
    saved dose is judged at the time it was given, so an alert raised during the session before the dose holds it,
    and one raised after the dose by this session's own entries (its serious adverse event) does not hold its
    record. A dose dated before an alert that is open now, entered after it, is held as well: otherwise a time typed
    earlier than the alert would walk past it (the alert's own session aside). Recording a session without a dose
    is not held by that: documenting what happened is no door to a dose."""
    given_at = facts.administration.dose_given_at if facts.administration is not None else None
    dosed = given_at is not None
    moment = given_at if given_at is not None else facts.at
    own = facts.session.id if facts.session is not None else None
    unmet = []
    for alert in sorted(facts.alerts, key=lambda a: (a.raised_at, a.id)):
        raised = f"#{alert.id}, {alert.source.lower()}, raised {clinictime.shown(alert.raised_at, facts.tz)}"
        if alert.open_at(moment):
            unmet.append(
                f"A high-risk safety alert is open ({raised}): {alert.summary} A supervisor of the care team "
                "must close it before dosing."
            )
        elif dosed and alert.open_at(facts.now) and alert.raised_at > moment and alert.session_id != own:
            unmet.append(
                f"A high-risk safety alert is open now ({raised}), after the time entered for this dose: "
                f"{alert.summary} A dose dated before an open alert is recorded only once a supervisor of "
                "the care team has closed it."
            )
    return unmet


# --- Leaving dosing -----------------------------------------------------------------------------------------------


def dosing_note_signed(facts: Facts) -> list[str]:
    """Dosing -> integration: the cycle's dosing session held and its note signed (signing is the door that
    checked the dose and discharge)."""
    dosing = _dosing_visit(facts, facts.cycle)
    if dosing is None or dosing.held_at is None:
        return [f"Dosing session {facts.cycle} has not been recorded as held: log it, with its note, first."]
    if not dosing.note_signed:
        return [f"The note of dosing session {facts.cycle} is not signed."]
    return []


def _doors(*doors: Door) -> frozenset[Door]:
    return frozenset(doors)


_SESSION = SESSION_DOORS
_DOSE = _doors(Door.DOSE, Door.SIGN)

#: The gate, in the order its refusals are listed. A condition guards the doors it names.
CONDITIONS: tuple[Condition, ...] = (
    Condition("protocol_known", _doors(*Door), protocol_known, "The patient's protocol is installed."),
    Condition(
        "session_time",
        _SESSION,
        session_time,
        "The session took place, not in the future and not before the patient was enrolled.",
    ),
    Condition(
        "in_dosing",
        _SESSION,
        in_dosing,
        "A session is recorded as held only while the patient is in dosing, under the current cycle.",
    ),
    Condition(
        "after_the_move",
        _SESSION,
        after_the_move,
        "The patient had moved into this dosing cycle before the session started.",
    ),
    Condition(
        "cycles_remaining",
        _doors(Door.MOVE_TO_DOSING, *SESSION_DOORS),
        cycles_remaining,
        "A planned dosing session remains.",
    ),
    Condition(
        "screening_eligible",
        DOSING_DOORS,
        screening_eligible,
        "The screening was complete, signed off and eligible at the time.",
    ),
    Condition(
        "pre_dosing_checks",
        DOSING_DOORS,
        pre_dosing_checks,
        "Each pre-dosing check recorded within its window before the session.",
    ),
    Condition(
        "required_labs",
        DOSING_DOORS,
        required_labs,
        "Each laboratory result the protocol requires, collected within its window before the session.",
    ),
    Condition(
        "medications_stopped",
        DOSING_DOORS,
        medications_stopped,
        "Every medication to taper stopped, its washout over, by the session's day.",
    ),
    Condition(
        "preparation_held",
        DOSING_DOORS,
        preparation_held,
        "The preparation sessions held, and their notes signed, before the session.",
    ),
    Condition(
        "baseline_measures",
        DOSING_DOORS,
        baseline_measures,
        "The baseline measures recorded before the first dosing session.",
    ),
    Condition(
        "co_therapist_on_team",
        _doors(Door.MOVE_TO_DOSING),
        co_therapist_on_team,
        "A co-therapist on the care team, where the protocol needs co-therapy.",
    ),
    Condition(
        "two_therapists_present",
        _SESSION,
        two_therapists_present,
        "Two therapists present at the dosing session, where the protocol needs co-therapy.",
    ),
    Condition(
        "previous_cycle_complete",
        DOSING_DOORS,
        previous_cycle_complete,
        "The previous dosing note signed and its integration sessions held after that dose and signed.",
    ),
    Condition(
        "dose_spacing", _SESSION, dose_spacing, "At least the protocol's days between the previous dose and this one."
    ),
    Condition(
        "within_the_session",
        _SESSION,
        within_the_session,
        "The doses within the session's recorded time; discharge and readings during it.",
    ),
    # Not at signing: signing records a dose already given (and the note may hold the very serious adverse event
    # that raised the alert); the doors before it never let a dose through while such an alert was open.
    Condition(
        "no_open_high_risk_alert",
        _doors(Door.MOVE_TO_DOSING, Door.SESSION, Door.DOSE),
        no_open_high_risk_alert,
        "No high-risk safety alert open (C-SSRS high risk, a suicide-plan answer, a serious adverse event, an "
        "escalated risk check): a supervisor closes it first.",
    ),
    Condition(
        "dose_within_protocol",
        _DOSE,
        dose_within_protocol,
        "The protocol's substance, route, unit and dose bounds; the supplemental dose as it defines.",
    ),
    Condition(
        "pre_dose_decision",
        _DOSE,
        pre_dose_decision,
        "A written decision to dose when the blood pressure before it was above the protocol's threshold.",
    ),
    Condition(
        "pre_dose_reading",
        _doors(Door.SIGN),
        pre_dose_reading,
        "A blood pressure reading before the dose, where the protocol asks for it.",
    ),
    Condition(
        "dose_complete",
        _doors(Door.SIGN),
        dose_complete,
        "Dose, unit, weight where needed, route, lot number and time recorded.",
    ),
    Condition(
        "required_readings",
        _doors(Door.SIGN),
        required_readings,
        "The readings the protocol requires at set times after the dose.",
    ),
    Condition(
        "discharge_complete",
        _doors(Door.SIGN),
        discharge_complete,
        "Discharge criteria met: vital signs, distress, observation time, escort.",
    ),
    Condition(
        "follow_up_scheduled", _doors(Door.SIGN), follow_up_scheduled, "The next-day follow-up contact scheduled."
    ),
    Condition(
        "dosing_note_signed",
        _doors(Door.MOVE_TO_INTEGRATION),
        dosing_note_signed,
        "The cycle's dosing session held and its note signed.",
    ),
)


def conditions_for(door: Door) -> list[Condition]:
    return [condition for condition in CONDITIONS if door in condition.doors]


def evaluate(facts: Facts, door: Door, skip: Sequence[str] = ()) -> list[Unmet]:
    """Every condition of ``door`` that does not hold, in the table's order; empty when the door may open.

    ``skip`` names conditions the caller has already judged another way (none of the entry points skip any; it
    exists for the unit tests of single conditions).
    """
    unmet: list[Unmet] = []
    for condition in conditions_for(door):
        if condition.name in skip:
            continue
        unmet += [Unmet(condition.name, message) for message in condition.check(facts)]
        if condition.name == "protocol_known" and unmet:
            return unmet  # nothing else can be judged without the protocol
    return unmet
