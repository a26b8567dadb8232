"""The clinic overview's outcome figures (``tracker.dashboard.overview.outcomes``): each patient's change on each
measure of their protocol with a total, from the same baseline as the trends page (the newest result on or before
the first dosing day, against the newest after it), whatever order the results were entered in; PHQ-9 and
QIDS-SR16 response and remission for the depression protocols."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from tracker.dashboard.overview import first_dosing_day, outcomes
from tracker.extensions import db
from tracker.factories import make_patient, record_measure, sample_answers
from tracker.models import AdministrationMode, Patient, Phase, PhaseTransition, SessionKind, TherapySession
from tracker.models.base import utcnow
from tracker.outcomes.queries import dosing_dates, measures_state
from tracker.outcomes.services import ResultInput, correct_result

TODAY = utcnow().date()


def _summary(summaries, protocol: str, instrument: str):
    return next(s for s in summaries if s.protocol.code == protocol and s.instrument.code == instrument)


def _at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def dosed(patient: Patient, user, day: date, cycle: int = 1) -> None:
    """A held dosing session on ``day`` (written directly: the gate is not what is tested here)."""
    db.session.add(
        TherapySession(
            patient_id=patient.id,
            kind=SessionKind.DOSING,
            cycle=cycle,
            held_at=_at(day),
            duration_minutes=60,
            logged_by_id=user.id,
            created_at=_at(day),
        )
    )
    db.session.flush()


def moved(patient: Patient, user, day: date, source: Phase = Phase.PREPARATION) -> None:
    db.session.add(
        PhaseTransition(
            patient_id=patient.id, from_phase=source, to_phase=Phase.DOSING, actor_id=user.id, created_at=_at(day, 9)
        )
    )
    db.session.flush()


def sql_first_day(patient: Patient) -> date | None:
    found = db.session.scalar(select(first_dosing_day()).where(Patient.id == patient.id))
    return found if found is None or isinstance(found, date) else date.fromisoformat(found)


def test_the_baseline_is_the_newest_result_by_the_first_dosing_day_whatever_the_entry_order(people, protocols):
    dosed(people.patient, people.lead, TODAY - timedelta(days=25))
    # Entered out of order: the baseline (0.8, newest before dosing) is entered last; an older one does not count.
    record_measure(people.patient, people.lead, "pcl5", level=0.5, on=TODAY - timedelta(days=20))
    latest = record_measure(people.patient, people.lead, "pcl5", level=0.2, on=TODAY - timedelta(days=1))
    record_measure(people.patient, people.lead, "pcl5", level=0.9, on=TODAY - timedelta(days=60))
    baseline = record_measure(people.patient, people.lead, "pcl5", level=0.8, on=TODAY - timedelta(days=30))
    db.session.flush()
    summary = _summary(outcomes(db.session, people.patient.clinic_id, protocols), "mdma-ptsd", "pcl5")
    assert summary.patients == 1
    assert (summary.patients, summary.total_change) == (1, latest.total - baseline.total)


def test_it_reads_the_same_change_as_the_trends_page(people, protocols):
    dosed(people.patient, people.lead, TODAY - timedelta(days=40))
    dosed(people.patient, people.lead, TODAY - timedelta(days=10), cycle=2)
    for days, level in ((50, 0.7), (41, 0.8), (40, 0.6), (20, 0.4), (5, 0.3), (2, 0.35)):
        record_measure(people.patient, people.lead, "pcl5", level=level, on=TODAY - timedelta(days=days))
    db.session.flush()
    patient = db.session.scalar(select(Patient).where(Patient.id == people.patient.id))
    db.session.refresh(patient, ["transitions"])
    trend = next(
        t
        for t in measures_state(db.session, patient, protocols["mdma-ptsd"], TODAY).trends
        if t.instrument.code == "pcl5"
    )
    summary = _summary(outcomes(db.session, people.patient.clinic_id, protocols), "mdma-ptsd", "pcl5")
    assert summary.total_change == trend.latest.total - trend.baseline.total
    assert trend.baseline.administered_on == TODAY - timedelta(days=40)  # on the dosing day counts as baseline


def test_a_corrected_result_counts_as_corrected_and_no_dosing_is_no_change_yet(people, protocols):
    dosed(people.patient, people.lead, TODAY - timedelta(days=20))
    first = record_measure(people.patient, people.lead, "pcl5", level=0.8, on=TODAY - timedelta(days=30))
    latest = record_measure(people.patient, people.lead, "pcl5", level=0.2, on=TODAY)
    undosed = make_patient(people.lead, protocols=protocols, given_name="Una", family_name="Single")
    record_measure(undosed, people.lead, "pcl5", level=0.8, on=TODAY - timedelta(days=30))
    record_measure(undosed, people.lead, "pcl5", level=0.2, on=TODAY)
    given_answers = ResultInput(
        "pcl5", sample_answers("pcl5", 0.5), first.administered_on, AdministrationMode.FROM_PAPER
    )
    corrected = correct_result(people.lead, people.patient, first, given_answers, "Entry error", TODAY)
    db.session.flush()
    assert corrected.total != first.total
    summary = _summary(outcomes(db.session, people.patient.clinic_id, protocols), "mdma-ptsd", "pcl5")
    assert summary.patients == 1  # Una has not been dosed: no baseline to read a change from
    assert summary.total_change == latest.total - corrected.total


def phq9(total: int) -> list[int]:
    answers = [0] * 9
    for index in range(total):
        answers[index % 8] += 1  # item 9 stays 0
    return answers


def qids(total: int) -> list[int]:
    """Answers whose nine-domain total is ``total`` (items 5 and 10 to 14 are one domain each; item 12 left 0)."""
    answers = [0] * 16
    for item in (5, 10, 11, 13, 14, 1, 6, 15):  # then sleep, appetite, psychomotor (a domain each)
        step = min(3, total)
        answers[item - 1] = step
        total -= step
    assert total == 0
    return answers


def test_phq9_and_qids_response_and_remission_for_the_depression_protocols(people, protocols):
    """PHQ-9: response a 50% drop, remission below 5 (NCQA HEDIS DRR-E); QIDS-SR16: response a 50% drop,
    remission 5 or below (STAR*D)."""
    cases = [(20, 10, 16, 8), (20, 4, 16, 5), (20, 12, 16, 9)]  # response; response and remission; neither
    for number, (phq_before, phq_after, qids_before, qids_after) in enumerate(cases):
        patient = make_patient(
            people.lead, protocols=protocols, protocol_code="psilocybin-mdd", record_number=f"PSI-{number}"
        )
        dosed(patient, people.lead, TODAY - timedelta(days=14))
        record_measure(patient, people.lead, "phq9", phq9(phq_before), on=TODAY - timedelta(days=20))
        record_measure(patient, people.lead, "phq9", phq9(phq_after), on=TODAY - timedelta(days=2))
        record_measure(patient, people.lead, "qids_sr16", qids(qids_before), on=TODAY - timedelta(days=20))
        record_measure(patient, people.lead, "qids_sr16", qids(qids_after), on=TODAY - timedelta(days=2))
    ketamine = make_patient(people.lead, protocols=protocols, protocol_code="ketamine-iv-trd")
    dosed(ketamine, people.lead, TODAY - timedelta(days=14))
    record_measure(ketamine, people.lead, "phq9", phq9(18), on=TODAY - timedelta(days=15))
    record_measure(ketamine, people.lead, "phq9", phq9(3), on=TODAY - timedelta(days=1))
    db.session.flush()
    summaries = outcomes(db.session, people.patient.clinic_id, protocols)
    phq = _summary(summaries, "psilocybin-mdd", "phq9")
    assert (phq.patients, phq.response, phq.remission, phq.improved) == (3, 2, 1, None)
    quick = _summary(summaries, "psilocybin-mdd", "qids_sr16")
    assert (quick.patients, quick.response, quick.remission) == (3, 2, 1)
    assert _summary(summaries, "ketamine-iv-trd", "phq9").remission == 1
    assert not any(s.instrument.code == "cssrs" for s in summaries)  # a risk screen has no total


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=40)
@given(
    held=st.lists(st.integers(0, 60), max_size=3),
    moves=st.lists(st.tuples(st.integers(0, 60), st.booleans()), max_size=3),
)
def test_the_first_dosing_day_in_sql_is_the_trends_page_s(people, protocols, held, moves):
    """Whatever the held dosing sessions and the moves into dosing (some returns from a hold), the overview's SQL
    finds the first dosing day ``dosing_dates`` gives the trends page."""
    patient = make_patient(people.lead, protocols=protocols)
    start = TODAY - timedelta(days=90)
    for cycle, days in enumerate(sorted(held), start=1):
        dosed(patient, people.lead, start + timedelta(days=days), cycle=cycle)
    for days, from_hold in moves:
        moved(patient, people.lead, start + timedelta(days=days), Phase.ON_HOLD if from_hold else Phase.PREPARATION)
    expected = dosing_dates(db.session, patient.id, people.clinic.zone)
    assert sql_first_day(patient) == (expected[0] if expected else None)
