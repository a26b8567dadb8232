"""The phase workflow at service level: every allowed move, every forbidden one, guards, history rows."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from tests.conftest import Clinicians
from tracker import workflow
from tracker.extensions import db
from tracker.factories import clear_for_dosing, complete_dosing, complete_integration, make_patient, walk_to
from tracker.models import Patient, Phase, PhaseTransition
from tracker.models.base import utcnow
from tracker.screening.services import MedicationInput, add_medication
from tracker.workflow import TransitionError

ACTIVE = [Phase.PREPARATION, Phase.DOSING, Phase.INTEGRATION]


@pytest.fixture(autouse=True)
def _cleared(people, protocols):
    """The canary patient has passed screening, so these tests exercise the state machine itself
    (the dosing gate has tests of its own in test_dosing_gate.py)."""
    clear_for_dosing(people.patient, people.lead, protocols)


def _put_in(patient: Patient, phase: Phase, people: Clinicians, protocols) -> None:
    """Walk ``patient`` to ``phase`` along the usual path."""
    paths = {
        Phase.PREPARATION: [],
        Phase.DOSING: [Phase.DOSING],
        Phase.INTEGRATION: [Phase.DOSING, Phase.INTEGRATION],
        Phase.COMPLETED: [Phase.DOSING, Phase.INTEGRATION, Phase.COMPLETED],
        Phase.ON_HOLD: [Phase.ON_HOLD],
        Phase.DISCONTINUED: [Phase.DISCONTINUED],
    }
    for step in paths[phase]:
        walk_to(patient, step, people.lead, protocols, "reason")


def _history(patient: Patient) -> list[tuple[str | None, str]]:
    rows = db.session.execute(
        select(PhaseTransition.from_phase, PhaseTransition.to_phase)
        .where(PhaseTransition.patient_id == patient.id)
        .order_by(PhaseTransition.id)
    )
    return [(a.value if a else None, b.value) for a, b in rows]


ALLOWED = {
    (Phase.PREPARATION, Phase.DOSING),
    (Phase.PREPARATION, Phase.ON_HOLD),
    (Phase.PREPARATION, Phase.DISCONTINUED),
    (Phase.DOSING, Phase.INTEGRATION),
    (Phase.DOSING, Phase.ON_HOLD),
    (Phase.DOSING, Phase.DISCONTINUED),
    (Phase.INTEGRATION, Phase.DOSING),
    (Phase.INTEGRATION, Phase.COMPLETED),
    (Phase.INTEGRATION, Phase.ON_HOLD),
    (Phase.INTEGRATION, Phase.DISCONTINUED),
    (Phase.ON_HOLD, Phase.PREPARATION),
    (Phase.ON_HOLD, Phase.DISCONTINUED),  # held from preparation
}


@pytest.mark.parametrize("source,target", sorted(ALLOWED))
def test_it_allows_each_move_of_the_care_model(people, protocols, source, target):
    patient = people.patient
    _put_in(patient, source, people, protocols)
    if (source, target) == (Phase.DOSING, Phase.INTEGRATION):
        complete_dosing(patient, people.lead, protocols)  # the guards' paperwork (tests in test_session_guards.py)
    if (source, target) == (Phase.INTEGRATION, Phase.DOSING):
        complete_integration(patient, people.lead, protocols)
    before = len(_history(patient))
    transition = workflow.move(db.session, patient, target, people.lead, protocols["mdma-ptsd"], "because")
    db.session.flush()
    assert patient.phase is target
    assert transition.from_phase is source and transition.to_phase is target
    assert transition.actor_id == people.lead.id and transition.reason == "because"
    assert len(_history(patient)) == before + 1


FORBIDDEN = [
    (source, target)
    for source, target in itertools.product(list(Phase), list(Phase))
    if (source, target) not in ALLOWED and source is not target
]


@pytest.mark.parametrize("source,target", FORBIDDEN)
def test_it_refuses_every_other_move_and_writes_nothing(people, protocols, source, target):
    patient = people.patient
    _put_in(patient, source, people, protocols)
    history = _history(patient)
    with pytest.raises(TransitionError) as refused:
        workflow.move(db.session, patient, target, people.lead, protocols["mdma-ptsd"], "because")
    db.session.flush()
    assert patient.phase is source
    assert _history(patient) == history
    assert refused.value.reasons and "cannot move" in refused.value.reasons[0]


def test_it_names_the_allowed_moves_when_refusing(people, protocols):
    with pytest.raises(TransitionError) as refused:
        workflow.move(db.session, people.patient, Phase.COMPLETED, people.lead, protocols["mdma-ptsd"])
    assert refused.value.reasons == [
        "A patient in preparation cannot move to completed. Allowed next: dosing, on hold, discontinued."
    ]


@pytest.mark.parametrize("target", [Phase.ON_HOLD, Phase.DISCONTINUED])
@pytest.mark.parametrize("reason", [None, "", "   "])
def test_holding_or_discontinuing_needs_a_reason(people, protocols, target, reason):
    with pytest.raises(TransitionError, match="Give a reason"):
        workflow.move(db.session, people.patient, target, people.lead, protocols["mdma-ptsd"], reason)
    assert people.patient.phase is Phase.PREPARATION


def test_a_patient_on_hold_resumes_the_phase_it_left(people, protocols):
    patient = people.patient
    _put_in(patient, Phase.INTEGRATION, people, protocols)
    workflow.move(db.session, patient, Phase.ON_HOLD, people.lead, protocols["mdma-ptsd"], "hospital stay")
    db.session.flush()
    assert patient.held_from_phase is Phase.INTEGRATION
    with pytest.raises(TransitionError, match="Allowed next: integration, discontinued"):
        workflow.move(db.session, patient, Phase.DOSING, people.lead, protocols["mdma-ptsd"])
    workflow.move(db.session, patient, Phase.INTEGRATION, people.lead, protocols["mdma-ptsd"])
    db.session.flush()
    assert patient.phase is Phase.INTEGRATION and patient.held_from_phase is None


def test_multi_dose_protocols_cycle_until_the_planned_dosing_sessions_are_done(people, protocols):
    patient = people.patient  # MDMA: 3 dosing sessions (MAPP1/MAPP2), at least 21 days apart
    mdma = protocols["mdma-ptsd"]
    start = utcnow()
    for cycle in range(mdma.dosing_sessions):
        with time_machine.travel(start + timedelta(days=30 * cycle)):
            walk_to(patient, Phase.DOSING, people.lead, protocols)
            walk_to(patient, Phase.INTEGRATION, people.lead, protocols)
    with time_machine.travel(start + timedelta(days=30 * mdma.dosing_sessions)):
        complete_integration(patient, people.lead, protocols)
        with pytest.raises(TransitionError, match="All 3 planned dosing sessions"):
            workflow.move(db.session, patient, Phase.DOSING, people.lead, mdma)
        workflow.move(db.session, patient, Phase.COMPLETED, people.lead, mdma)
    assert patient.phase is Phase.COMPLETED


def test_a_hold_during_dosing_does_not_use_up_a_dosing_session(people, protocols):
    patient = make_patient(people.lead, people.co_therapist, protocols=protocols, protocol_code="psilocybin-mdd")
    clear_for_dosing(patient, people.lead, protocols)
    psilocybin = protocols["psilocybin-mdd"]  # 2 dosing sessions (Davis 2021)
    for step in (Phase.DOSING, Phase.ON_HOLD, Phase.DOSING, Phase.INTEGRATION, Phase.DOSING):
        walk_to(patient, step, people.lead, protocols, "pause")
    assert psilocybin.dosing_sessions == 2
    assert workflow.dosing_sessions_started(db.session, patient) == 2


def test_co_therapy_protocols_need_a_co_therapist_before_dosing(people, protocols):
    alone = make_patient(people.lead, protocols=protocols, protocol_code="mdma-ptsd")
    clear_for_dosing(alone, people.lead, protocols)
    with pytest.raises(TransitionError) as refused:
        workflow.move(db.session, alone, Phase.DOSING, people.lead, protocols["mdma-ptsd"])
    assert refused.value.reasons == [
        "MDMA-assisted therapy for PTSD (MAPP1/MAPP2 structure) needs a co-therapist on the care team before any "
        "dosing session."
    ]
    ketamine = make_patient(people.lead, protocols=protocols, protocol_code="ketamine-iv-trd")
    clear_for_dosing(ketamine, people.lead, protocols)
    workflow.move(db.session, ketamine, Phase.DOSING, people.lead, protocols["ketamine-iv-trd"])
    assert ketamine.phase is Phase.DOSING


def test_a_refusal_lists_every_reason_in_the_gates_order(people, protocols):
    alone = make_patient(people.lead, protocols=protocols, protocol_code="mdma-ptsd")
    clear_for_dosing(alone, people.lead, protocols)
    add_medication(people.lead, alone, MedicationInput("Sertraline", ""))
    with pytest.raises(TransitionError) as refused:
        workflow.move(db.session, alone, Phase.DOSING, people.lead, protocols["mdma-ptsd"], reason="Too soon")
    reasons = refused.value.reasons
    assert len(reasons) == 3
    assert reasons[0].startswith("Needs a supervisor's review: Takes a psychiatric medication")  # screening
    assert reasons[1].startswith("Sertraline must be stopped before dosing")  # medications
    assert reasons[2].endswith("needs a co-therapist on the care team before any dosing session.")  # the team


def test_enrolment_starts_the_history(people):
    assert _history(people.patient) == [(None, "preparation")]
    count = db.session.scalar(select(func.count()).select_from(PhaseTransition))
    assert count >= 1


def test_the_database_refuses_an_on_hold_patient_without_a_phase_to_resume(people):
    from sqlalchemy.exc import IntegrityError

    people.patient.phase = Phase.ON_HOLD  # bypassing the workflow
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.flush()


def test_the_workflow_module_is_plain_python():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(workflow))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert not any(name.split(".")[0] in {"flask", "flask_login", "flask_sqlalchemy"} for name in imported)
