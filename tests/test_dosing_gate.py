"""The dosing gate: from a patient cleared for dosing, take away one condition at a time; the move to dosing is
refused with that condition's own message and no other. Then the gate again before each later dosing cycle.

``people.patient`` follows the MDMA protocol (3 preparation sessions, a pregnancy test within 7 days before each
dosing session, SSRIs and SNRIs tapered off) with a lead therapist and a co-therapist.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from tests.conftest import Clinicians
from tracker import workflow
from tracker.extensions import db
from tracker.factories import (
    clear_for_dosing,
    complete_dosing,
    complete_integration,
    log_sessions,
    make_patient,
    record_baseline_measures,
    write_preparation_notes,
)
from tracker.models import (
    AnswerValue,
    Medication,
    Patient,
    Phase,
    PhaseTransition,
    ReviewDecision,
    SessionKind,
    SexAtBirth,
    TherapySession,
)
from tracker.models.base import utcnow
from tracker.protocols import ItemKind, Protocol, ScreeningItem
from tracker.screening.services import (
    AnswerInput,
    MedicationInput,
    ScreeningError,
    add_medication,
    answer_item,
    assess,
    current_checklist,
    review_item,
    sign_off,
    update_medication,
)
from tracker.workflow import TransitionError

NOT_SIGNED_OFF = "The screening checklist has not been signed off."
SUD_REVIEW = "Needs a supervisor's review: Substance use disorder (reviewed case by case by the screening physician)."
TAPER_REVIEW = (
    "Needs a supervisor's review: Takes a psychiatric medication that must be tapered off before baseline "
    "(any psychiatric medication, e.g. SSRI, SNRI, lithium, antipsychotic, benzodiazepine) (raised by a current "
    "medication)."
)
MAOI_EXCLUSION = (
    "Absolute exclusion: Currently takes a monoamine oxidase inhibitor (MAOI: dangerous with MDMA, risk of "
    "serotonin toxicity) (raised by a current medication). This cannot be overridden: discontinue, or change "
    "protocol with a new screening."
)


def today():
    return utcnow().date()


def screen(
    patient: Patient,
    people: Clinicians,
    protocol: Protocol,
    *,
    given: dict[str, AnswerInput] | None = None,
    skip: tuple[str, ...] = (),
    signed_off: bool = True,
    preparation: int | None = None,
    baseline: bool = True,
) -> None:
    """What ``clear_for_dosing`` does, with the changes a test asks for: answers that pass unless ``given``,
    items skipped, sign-off, the number of preparation sessions held, and the baseline measures (their own gate
    tests are in test_measure_gate.py)."""
    checklist = current_checklist(db.session, patient)
    assert checklist is not None
    for item in protocol.screening:
        if item.id in skip:
            continue
        if item.id in (given or {}):
            answer = (given or {})[item.id]
        elif item.kind is ItemKind.REQUIREMENT:
            answer = AnswerInput(AnswerValue.RECORDED, item.acceptable[0] if item.acceptable else "done", today())
        else:
            answer = AnswerInput(AnswerValue.NO)
        answer_item(people.lead, checklist, protocol, item.id, answer, today())
    if signed_off:
        sign_off(people.lead, checklist, protocol)
    count = protocol.sessions.preparation if preparation is None else preparation
    log_sessions(patient, people.lead, SessionKind.PREPARATION, count)
    db.session.flush()
    write_preparation_notes(patient, people.lead, {protocol.code: protocol})
    if baseline:
        record_baseline_measures(patient, people.lead, protocol)
    db.session.flush()


def transitions(patient: Patient) -> list[tuple[Phase | None, Phase]]:
    rows = db.session.execute(
        select(PhaseTransition.from_phase, PhaseTransition.to_phase)
        .where(PhaseTransition.patient_id == patient.id)
        .order_by(PhaseTransition.id)
    )
    return [(a, b) for a, b in rows]


def refused(patient: Patient, people: Clinicians, protocol: Protocol) -> list[str]:
    """The reasons the move to dosing is refused; checks that nothing was written."""
    phase, history = patient.phase, transitions(patient)
    with pytest.raises(TransitionError) as refusal:
        workflow.move(db.session, patient, Phase.DOSING, people.lead, protocol)
    db.session.flush()
    assert patient.phase is phase and transitions(patient) == history
    for reason in refusal.value.reasons:  # words for a clinician, not internals
        assert "answer:" not in reason and "medication:" not in reason and "None" not in reason, reason
    return refusal.value.reasons


def moves_to_dosing(patient: Patient, people: Clinicians, protocol: Protocol, at: datetime | None = None) -> None:
    before = transitions(patient)
    source = patient.phase
    transition = workflow.move(db.session, patient, Phase.DOSING, people.lead, protocol, now=at)
    db.session.flush()
    assert patient.phase is Phase.DOSING
    assert transitions(patient) == [*before, (source, Phase.DOSING)]
    assert transition.actor_id == people.lead.id


def _review(
    people: Clinicians,
    protocol: Protocol,
    item_id: str,
    decision: ReviewDecision,
    rationale: str = "Discussed with the patient",
) -> None:
    checklist = current_checklist(db.session, people.patient)
    medications = list(db.session.scalars(select(Medication).where(Medication.patient_id == people.patient.id)))
    assessment = assess(checklist, protocol, medications, today())
    review_item(people.supervisor, checklist, assessment, item_id, decision, rationale)
    db.session.flush()


@pytest.fixture
def mdma(protocols) -> Protocol:
    return protocols["mdma-ptsd"]


# All conditions met ---------------------------------------------------------------------------------------------


def test_a_fully_cleared_patient_moves_to_dosing_with_a_history_row(people, protocols, mdma):
    clear_for_dosing(people.patient, people.lead, protocols)
    moves_to_dosing(people.patient, people, mdma)
    row = db.session.scalar(
        select(PhaseTransition).where(
            PhaseTransition.patient_id == people.patient.id, PhaseTransition.to_phase == Phase.DOSING
        )
    )
    assert row is not None and row.from_phase is Phase.PREPARATION and row.actor_id == people.lead.id


@pytest.mark.parametrize("code", ["psilocybin-mdd", "ketamine-iv-trd", "esketamine-rems-trd"])
def test_every_shipped_protocol_can_be_cleared_for_dosing(people, protocols, code):
    patient = make_patient(people.lead, people.co_therapist, protocols=protocols, protocol_code=code)
    clear_for_dosing(patient, people.lead, protocols)
    moves_to_dosing(patient, people, protocols[code])


# One condition missing at a time --------------------------------------------------------------------------------


def test_a_screening_not_signed_off_is_refused_for_that_alone(people, mdma):
    screen(people.patient, people, mdma, signed_off=False)
    assert refused(people.patient, people, mdma) == [NOT_SIGNED_OFF]


def test_an_unanswered_item_is_refused_for_that_alone(people, mdma):
    """A signed-off checklist can only miss an answer when the protocol file gained an item afterwards."""
    screen(people.patient, people, mdma)
    added = ScreeningItem("hepatic-impairment", ItemKind.REVIEW, "Moderate hepatic impairment", "Clinic")
    edited = replace(mdma, screening=(*mdma.screening, added))
    assert refused(people.patient, people, edited) == [
        "Screening is incomplete: 1 item not answered or recorded yet (see the screening checklist)."
    ]


def test_unanswered_items_are_counted_and_an_unsigned_checklist_says_so_too(people, mdma):
    screen(people.patient, people, mdma, skip=("support-contact", "maoi"), signed_off=False)
    assert refused(people.patient, people, mdma) == [
        "Screening is incomplete: 2 items not answered or recorded yet (see the screening checklist).",
        NOT_SIGNED_OFF,
    ]


def test_a_review_item_answered_yes_waits_for_the_supervisor(people, mdma):
    screen(people.patient, people, mdma, given={"substance-use-disorder": AnswerInput(AnswerValue.YES)})
    assert refused(people.patient, people, mdma) == [SUD_REVIEW]
    _review(people, mdma, "substance-use-disorder", ReviewDecision.CLEARED)
    moves_to_dosing(people.patient, people, mdma)


def test_a_declined_review_is_refused_with_the_supervisors_rationale(people, mdma):
    screen(people.patient, people, mdma, given={"substance-use-disorder": AnswerInput(AnswerValue.YES)})
    _review(people, mdma, "substance-use-disorder", ReviewDecision.DECLINED, "Active use: refer to addiction care")
    assert refused(people.patient, people, mdma) == [
        "Declined by the supervisor: Substance use disorder (reviewed case by case by the screening physician). "
        "“Active use: refer to addiction care”"
    ]


def test_an_absolute_exclusion_answered_yes_is_refused_for_that_alone(people, mdma):
    screen(people.patient, people, mdma, given={"ventricular-arrhythmia": AnswerInput(AnswerValue.YES)})
    (reason,) = refused(people.patient, people, mdma)
    assert reason.startswith("Absolute exclusion: History of ventricular arrhythmia")
    assert "cannot be overridden" in reason and "discontinue, or change protocol" in reason


def test_a_missing_preparation_session_is_refused_for_that_alone(people, mdma):
    screen(people.patient, people, mdma, preparation=2)
    assert refused(people.patient, people, mdma) == [
        "2 of 3 preparation sessions held with a signed note; all 3 are needed before the first dosing session."
    ]


def test_a_preparation_session_counts_only_once_its_note_is_signed(people, mdma):
    screen(people.patient, people, mdma, preparation=2)
    log_sessions(people.patient, people.lead, SessionKind.PREPARATION, 1, days_ago=2)
    db.session.flush()
    assert refused(people.patient, people, mdma) == [
        "2 of 3 preparation sessions held with a signed note; all 3 are needed before the first dosing session "
        "(1 held but not signed yet)."
    ]
    write_preparation_notes(people.patient, people.lead, {mdma.code: mdma})
    moves_to_dosing(people.patient, people, mdma)


def test_an_unheld_preparation_session_does_not_count(people, mdma):
    screen(people.patient, people, mdma, preparation=2)
    db.session.add(
        TherapySession(
            patient_id=people.patient.id,
            kind=SessionKind.PREPARATION,
            held_at=None,
            scheduled_at=utcnow() + timedelta(days=1),
            logged_by_id=people.lead.id,
        )
    )
    db.session.flush()
    assert refused(people.patient, people, mdma) == [
        "2 of 3 preparation sessions held with a signed note; all 3 are needed before the first dosing session."
    ]


def _pregnancy_test(days_ago: int, result: str = "negative") -> dict[str, AnswerInput]:
    return {"pregnancy-test": AnswerInput(AnswerValue.RECORDED, result, today() - timedelta(days=days_ago))}


def test_a_pregnancy_test_older_than_seven_days_is_refused_for_that_alone(people, mdma):
    screen(people.patient, people, mdma, given=_pregnancy_test(8))
    (reason,) = refused(people.patient, people, mdma)
    assert reason.startswith("Before dosing: Negative pregnancy test dated within 7 days before the session")
    assert f"the last one is dated {(today() - timedelta(days=8)).isoformat()}, more than 7 days before" in reason
    assert "Record a new one in the screening checklist." in reason


def test_a_pregnancy_test_seven_days_old_still_counts(people, mdma):
    screen(people.patient, people, mdma, given=_pregnancy_test(7))
    moves_to_dosing(people.patient, people, mdma)


def test_a_pregnancy_test_cannot_be_marked_not_applicable(people, mdma):
    """Whether it applies follows the patient's record, never an answer given each time."""
    with pytest.raises(ScreeningError, match="follows the patient's record"):
        screen(people.patient, people, mdma, given={"pregnancy-test": AnswerInput(AnswerValue.NOT_APPLICABLE)})


@pytest.mark.parametrize("record", [{"sex_at_birth": SexAtBirth.MALE}, {"can_become_pregnant": False}])
def test_no_pregnancy_test_is_asked_when_the_record_says_no_pregnancy_is_possible(people, mdma, record):
    for name, value in record.items():
        setattr(people.patient, name, value)
    screen(people.patient, people, mdma, skip=("pregnancy-test",))
    moves_to_dosing(people.patient, people, mdma)


def test_a_pregnancy_test_is_asked_while_the_record_leaves_it_open(people, mdma):
    people.patient.sex_at_birth = SexAtBirth.FEMALE  # can_become_pregnant not recorded: the test applies
    screen(people.patient, people, mdma, skip=("pregnancy-test",), signed_off=False)
    with pytest.raises(ScreeningError, match="Answer every item first"):
        sign_off(people.lead, current_checklist(db.session, people.patient), mdma)


def test_a_positive_pregnancy_test_is_refused(people, mdma):
    screen(people.patient, people, mdma, given=_pregnancy_test(1, "positive"))
    (reason,) = refused(people.patient, people, mdma)
    assert reason.startswith("Pregnancy test") and "recorded as 'positive'" in reason


def test_a_medication_to_taper_blocks_dosing_until_reviewed_and_stopped(people, protocols, mdma):
    patient = people.patient
    clear_for_dosing(patient, people.lead, protocols)
    sertraline = add_medication(
        people.lead, patient, MedicationInput("Sertraline", "ssri", "100 mg", started_on=today() - timedelta(days=400))
    )
    db.session.flush()
    reasons = refused(patient, people, mdma)
    assert reasons == [
        TAPER_REVIEW,
        "Sertraline must be stopped before dosing (MAPP tapered every psychiatric medication off before baseline); "
        "taper ends: no end date planned. Record the stop date in the medication review.",
    ]
    # The supervisor agrees to the taper: only the taper itself is left.
    _review(people, mdma, "psychiatric-medication-taper", ReviewDecision.CLEARED, "Taper over 6 weeks")
    planned = MedicationInput(
        "Sertraline",
        "ssri",
        "100 mg",
        started_on=sertraline.started_on,
        taper_plan="25 mg less every 2 weeks",
        taper_end_on=today() + timedelta(days=42),
    )
    update_medication(people.lead, patient, sertraline, planned)
    db.session.flush()
    (reason,) = refused(patient, people, mdma)
    assert reason.startswith("Sertraline must be stopped before dosing")
    assert f"taper ends: {(today() + timedelta(days=42)).isoformat()}" in reason
    # Stopped today is still taken today.
    update_medication(people.lead, patient, sertraline, replace(planned, stopped_on=today()))
    db.session.flush()
    assert len(refused(patient, people, mdma)) == 1
    db.session.commit()
    with time_machine.travel(utcnow() + timedelta(days=1)):  # stopped yesterday: no longer taken today
        moves_to_dosing(patient, people, mdma)


def test_a_medication_stopped_before_it_was_added_raises_nothing(people, protocols, mdma):
    clear_for_dosing(people.patient, people.lead, protocols)
    add_medication(
        people.lead, people.patient, MedicationInput("Venlafaxine", "snri", stopped_on=today() - timedelta(days=90))
    )
    db.session.flush()
    moves_to_dosing(people.patient, people, mdma)


def test_psilocybin_with_lithium_is_refused_as_an_absolute_exclusion(people, protocols):
    psilocybin = protocols["psilocybin-mdd"]
    patient = make_patient(people.lead, people.co_therapist, protocols=protocols, protocol_code="psilocybin-mdd")
    clear_for_dosing(patient, people.lead, protocols)
    add_medication(people.lead, patient, MedicationInput("Lithium carbonate", ""))
    db.session.flush()
    (reason,) = refused(patient, people, psilocybin)
    assert reason.startswith("Absolute exclusion: Takes lithium (raised by a current medication).")


# Later dosing cycles --------------------------------------------------------------------------------------------


def test_each_later_dosing_cycle_passes_the_gate_again(people, protocols, mdma):
    """Integration -> dosing checks the pre-dosing conditions again: a pregnancy test has a 7-day window."""
    patient = people.patient
    clear_for_dosing(patient, people.lead, protocols)
    moves_to_dosing(patient, people, mdma, at=utcnow() - timedelta(days=1))
    complete_dosing(patient, people.lead, protocols)
    workflow.move(db.session, patient, Phase.INTEGRATION, people.lead, mdma)
    complete_integration(patient, people.lead, protocols)
    db.session.flush()
    with time_machine.travel(utcnow() + timedelta(days=28), tick=False):
        (reason,) = refused(patient, people, mdma)
        assert reason.startswith("Before dosing: Negative pregnancy test dated within 7 days before the session")
        assert "more than 7 days before" in reason
    with time_machine.travel(utcnow() + timedelta(days=5), tick=False):
        moves_to_dosing(patient, people, mdma)
    assert workflow.dosing_sessions_started(db.session, patient) == 2


def test_a_medication_started_during_integration_blocks_the_next_dosing_cycle(people, protocols, mdma):
    patient = people.patient
    clear_for_dosing(patient, people.lead, protocols)
    moves_to_dosing(patient, people, mdma, at=utcnow() - timedelta(days=1))
    complete_dosing(patient, people.lead, protocols)
    workflow.move(db.session, patient, Phase.INTEGRATION, people.lead, mdma)
    complete_integration(patient, people.lead, protocols)
    add_medication(people.lead, patient, MedicationInput("Escitalopram", "ssri", "10 mg", started_on=today()))
    db.session.flush()
    reasons = refused(patient, people, mdma)
    assert reasons[0] == TAPER_REVIEW
    assert reasons[1].startswith("Escitalopram must be stopped before dosing")
    assert len(reasons) == 2


def test_resuming_dosing_after_a_hold_passes_the_gate_again(people, protocols, mdma):
    """A patient held during dosing (a hospital stay, say) may have started a medication in the meantime."""
    patient = people.patient
    clear_for_dosing(patient, people.lead, protocols)
    moves_to_dosing(patient, people, mdma)
    workflow.move(db.session, patient, Phase.ON_HOLD, people.lead, mdma, "Admitted to hospital")
    phenelzine = add_medication(people.lead, patient, MedicationInput("Phenelzine", "maoi", started_on=today()))
    db.session.flush()
    assert refused(patient, people, mdma) == [
        MAOI_EXCLUSION,
        "Phenelzine must be stopped before dosing (MAOI with MDMA: risk of serotonin toxicity); taper ends: no end "
        "date planned. Record the stop date in the medication review.",
    ]
    # Never cleared while taken; stopped, it still needs 14 whole days without it before dosing.
    update_medication(
        people.lead, patient, phenelzine, MedicationInput("Phenelzine", "maoi", started_on=today(), stopped_on=today())
    )
    db.session.flush()
    stopped = today()
    with time_machine.travel(utcnow() + timedelta(days=14), tick=False):
        reasons = refused(patient, people, mdma)
        assert reasons[0].startswith("Before dosing: Negative pregnancy test")  # two weeks old by then
        assert reasons[1] == (
            f"Phenelzine was last taken on {stopped.isoformat()}; MAOI with MDMA: risk of serotonin toxicity: 14 "
            f"days without it are needed before dosing, so dosing is possible from "
            f"{(stopped + timedelta(days=15)).isoformat()}."
        )
    with time_machine.travel(utcnow() + timedelta(days=15), tick=False):
        renew = AnswerInput(AnswerValue.RECORDED, "negative", utcnow().date())
        answer_item(people.lead, current_checklist(db.session, patient), mdma, "pregnancy-test", renew, utcnow().date())
        moves_to_dosing(patient, people, mdma)
    assert workflow.dosing_sessions_started(db.session, patient) == 1  # the same dosing cycle, resumed
