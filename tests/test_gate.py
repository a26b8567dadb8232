"""The dosing gate as plain Python (tracker/gate/conditions.py), without the app or a database: from facts where
every condition holds, each test breaks one condition and the gate refuses with that condition alone, at each door
the condition guards and at no other. Entry points are tested in test_gate_doors.py."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from tracker.eligibility import Recorded
from tracker.gate import conditions
from tracker.gate.conditions import CONDITIONS, evaluate
from tracker.gate.facts import Administration, Door, Facts, HoldingAlert, Medication, Reading, Review, Visit
from tracker.models import DoseUnit, Phase, Route, SessionKind
from tracker.protocols import ItemKind, Protocol, load_protocols
from tracker.schedule import Dated

PROTOCOLS = load_protocols()
MDMA = PROTOCOLS["mdma-ptsd"]
NOW = datetime(2026, 6, 10, 18, 0, tzinfo=UTC)
HELD = datetime(2026, 6, 10, 8, 0, tzinfo=UTC)  # the dosing session
GIVEN = HELD + timedelta(minutes=15)
SCREENED = datetime(2026, 6, 8, 10, 0, tzinfo=UTC)
ALL_DOORS = frozenset(Door)


def answers(protocol: Protocol, at: datetime = SCREENED, **override: tuple[str, str | None, date | None]) -> tuple:
    """Every item answered so that it passes, at ``at``; ``override``: item id -> (value, recorded, done on)."""
    rows = []
    for number, item in enumerate(protocol.screening, start=1):
        if item.kind is ItemKind.REQUIREMENT:
            value = ("recorded", item.acceptable[0] if item.acceptable else "done", at.date())
        else:
            value = ("no", None, None)
        value = override.get(item.id.replace("-", "_"), value)
        rows.append(Recorded(number, item.id, value[0], value[1], value[2], at))
    return tuple(rows)


def full_set(minutes: int, **values: float) -> Reading:
    base = {"systolic": 124, "diastolic": 80, "heart_rate": 74, "temperature": 36.8, "spo2": 98}
    return Reading(GIVEN + timedelta(minutes=minutes), **{**base, **values}, id=minutes + 1000)


def signed_after(held: datetime, signed: bool = True) -> datetime | None:
    """When a note of a session held at ``held`` was signed (an hour later), or None."""
    return held + timedelta(hours=1) if signed else None


def prep_visits(count: int = 3, signed: bool = True, held: datetime = datetime(2026, 5, 20, 10, tzinfo=UTC)) -> tuple:
    return tuple(
        Visit(
            100 + n,
            SessionKind.PREPARATION,
            None,
            held + timedelta(days=n),
            signed_after(held + timedelta(days=n), signed),
        )
        for n in range(count)
    )


def base(protocol: Protocol = MDMA, **changes: object) -> Facts:
    """An MDMA patient in dosing 1, whose held dosing session and its complete note meet every condition."""
    facts = Facts(
        protocol=protocol,
        protocol_code=protocol.code,
        now=NOW,
        at=HELD,
        cycle=1,
        phase=Phase.DOSING,
        enrolled_at=datetime(2026, 5, 1, tzinfo=UTC),
        current_cycle=1,
        record={"pregnancy_possible": True},
        entered_dosing={1: datetime(2026, 6, 9, 9, 0, tzinfo=UTC)},
        signed_off_at=SCREENED + timedelta(hours=1),
        answers=answers(protocol),
        visits=prep_visits(protocol.sessions.preparation),
        results=tuple(Dated(n, m.instrument, date(2026, 6, 1)) for n, m in enumerate(protocol.measures)),
        co_therapists=1,
        session=Visit(10, SessionKind.DOSING, 1, HELD, present_therapists=2, duration_minutes=720),
        administration=Administration(
            substance="MDMA",
            dose_amount=120.0,
            dose_unit=DoseUnit.MG,
            weight_kg=70.0,
            route=Route.ORAL,
            lot_number="LOT-1",
            dose_given_at=GIVEN,
            supplemental_mg=60.0,
            supplemental_given_at=GIVEN + timedelta(minutes=100),
            distress_baseline=4,
            distress_at_discharge=2,
            escort_name="Sam",
            discharged_at=GIVEN + timedelta(minutes=600),
        ),
        readings=(full_set(-5), full_set(60), full_set(300), full_set(590)),
        follow_up_ok=True,
    )
    return replace(facts, **changes)  # type: ignore[arg-type]


def move_facts(**changes: object) -> Facts:
    """The same patient in preparation, judged for the move into dosing 1 now."""
    return base(
        session=None,
        administration=None,
        readings=(),
        at=NOW,
        phase=Phase.PREPARATION,
        current_cycle=0,
        entered_dosing={},
        **changes,
    )


def refused(facts: Facts, door: Door) -> list[str]:
    return [u.condition for u in evaluate(facts, door)]


# --- The table ---------------------------------------------------------------------------------------------------


def test_every_condition_has_a_name_doors_and_a_summary():
    names = [c.name for c in CONDITIONS]
    assert len(names) == len(set(names))
    assert all(c.doors and c.summary and c.check for c in CONDITIONS)


def test_all_met_opens_every_door():
    for door in (Door.SESSION, Door.DOSE, Door.SIGN):
        assert evaluate(base(), door) == [], door
    assert evaluate(move_facts(), Door.MOVE_TO_DOSING) == []


def test_an_unknown_protocol_stops_everything_else():
    unmet = evaluate(replace(base(), protocol=None, protocol_code="gone"), Door.SIGN)
    assert [u.condition for u in unmet] == ["protocol_known"]
    assert unmet[0].message == "The patient's protocol (gone) is not installed, so dosing cannot be checked."


# --- One condition broken at a time, at the session doors ---------------------------------------------------------

SESSION_ONLY = frozenset({Door.SESSION, Door.DOSE, Door.SIGN})

LATER = NOW + timedelta(hours=1)

BROKEN = [
    ("held in the future", dict(now=HELD - timedelta(hours=1)), "session_time", "cannot be in the future"),
    (
        "held before enrolment",
        dict(enrolled_at=datetime(2026, 6, 11, tzinfo=UTC)),
        "session_time",
        "before the patient was enrolled",
    ),
    (
        "before the move to dosing",
        dict(entered_dosing={1: datetime(2026, 6, 11, 9, tzinfo=UTC)}),
        "after_the_move",
        "before the patient moved to dosing 1",
    ),
    (
        "signed off after the session",
        dict(signed_off_at=HELD + timedelta(hours=1)),
        "screening_eligible",
        "was signed off on 2026-06-10, after this session",
    ),
    (
        "an absolute exclusion",
        dict(answers=answers(MDMA, ventricular_arrhythmia=("yes", None, None))),
        "screening_eligible",
        "Absolute exclusion: History of ventricular arrhythmia",
    ),
    (
        "a pregnancy test eight days before",
        dict(answers=answers(MDMA, pregnancy_test=("recorded", "negative", date(2026, 6, 2)))),
        "pre_dosing_checks",
        "the last one is dated 2026-06-02, more than 7 days before",
    ),
    (
        "three preparation notes, one unsigned",
        dict(visits=(*prep_visits(2), *prep_visits(1, signed=False))),
        "preparation_held",
        "2 of 3 preparation sessions held with a signed note",
    ),
    (
        "a baseline dated after the session",
        dict(results=tuple(Dated(n, m.instrument, date(2026, 6, 11)) for n, m in enumerate(MDMA.measures))),
        "baseline_measures",
        "Baseline PCL-5 not recorded",
    ),
    (
        "one therapist present",
        dict(session=Visit(10, SessionKind.DOSING, 1, HELD, present_therapists=1)),
        "two_therapists_present",
        "needs two therapists present at the dosing session; 1 recorded as present",
    ),
]


@pytest.mark.parametrize("label,changes,condition,words", BROKEN, ids=[b[0] for b in BROKEN])
def test_each_condition_alone_is_refused_at_every_session_door(label, changes, condition, words):
    facts = base(**changes)
    for door in (Door.SESSION, Door.DOSE, Door.SIGN):
        unmet = evaluate(facts, door)
        assert {u.condition for u in unmet} == {condition}, (door, unmet)
        assert words in unmet[0].message


def test_recording_a_held_session_needs_the_patient_in_dosing_under_the_current_cycle():
    assert refused(base(recording=True, phase=Phase.INTEGRATION), Door.SESSION) == ["in_dosing"]
    assert refused(base(recording=True, current_cycle=2, entered_dosing={1: HELD, 2: HELD}), Door.SESSION) == [
        "in_dosing"
    ]
    # The note of a session held before a later hold can still be finished and signed.
    assert refused(base(phase=Phase.ON_HOLD), Door.SIGN) == []


def test_a_test_done_after_the_session_does_not_count_for_it():
    later = answers(MDMA, pregnancy_test=("recorded", "negative", date(2026, 6, 11)))
    unmet = evaluate(base(answers=later), Door.SIGN)
    assert [u.condition for u in unmet] == ["screening_eligible", "pre_dosing_checks"]
    assert unmet[1].message.endswith("- not recorded.")


def test_a_positive_test_after_the_session_does_not_undo_it():
    history = (*answers(MDMA), Recorded(99, "pregnancy-test", "recorded", "positive", date(2026, 6, 12), NOW))
    assert evaluate(base(answers=history), Door.SIGN) == []


def test_no_pregnancy_test_where_the_record_rules_pregnancy_out():
    without = tuple(a for a in answers(MDMA) if a.item_id != "pregnancy-test")
    assert refused(base(answers=without), Door.SIGN) == ["screening_eligible", "pre_dosing_checks"]
    assert evaluate(base(answers=without, record={"pregnancy_possible": False}), Door.SIGN) == []


# --- Medications --------------------------------------------------------------------------------------------------


def _cleared(item: str, medication_id: int) -> Review:
    return Review(item, "cleared", "Taper agreed", f"medication:{medication_id}", SCREENED + timedelta(minutes=30))


def test_a_medication_to_taper_must_be_stopped_before_the_session_day():
    sertraline = Medication(7, "Sertraline", "ssri", date(2025, 1, 1), None, date(2026, 6, 20))
    facts = base(medications=(sertraline,), reviews=(_cleared("psychiatric-medication-taper", 7),))
    unmet = evaluate(facts, Door.SIGN)
    assert [u.condition for u in unmet] == ["medications_stopped"]
    assert "Sertraline must be stopped before dosing" in unmet[0].message and "2026-06-20" in unmet[0].message
    stopped_that_day = replace(sertraline, stopped_on=HELD.date())
    assert refused(replace(facts, medications=(stopped_that_day,)), Door.SIGN) == ["medications_stopped"]
    stopped_before = replace(sertraline, stopped_on=HELD.date() - timedelta(days=1))
    assert evaluate(replace(facts, medications=(stopped_before,)), Door.SIGN) == []


def test_an_maoi_needs_fourteen_whole_days_without_it():
    for days, held in ((14, True), (15, False)):
        phenelzine = Medication(8, "Phenelzine", "maoi", date(2025, 1, 1), HELD.date() - timedelta(days=days), None)
        unmet = evaluate(base(medications=(phenelzine,)), Door.SESSION)
        assert [u.condition for u in unmet] == (["medications_stopped"] if held else []), days
    message = evaluate(
        base(medications=(replace(phenelzine, stopped_on=HELD.date() - timedelta(days=3)),)), Door.SESSION
    )[0].message
    assert message == (
        "Phenelzine was last taken on 2026-06-07; MAOI with MDMA: risk of serotonin toxicity: 14 days without it "
        "are needed before dosing, so dosing is possible from 2026-06-22."
    )


def test_a_chosen_class_never_downgrades_a_known_drug():
    nardil = Medication(9, "Nardil 15 mg", "other", date(2025, 1, 1), None, None)
    unmet = evaluate(base(medications=(nardil,)), Door.DOSE)
    assert [u.condition for u in unmet] == ["screening_eligible", "medications_stopped"]
    assert unmet[0].message.startswith("Absolute exclusion: Currently takes a monoamine oxidase inhibitor")


def test_a_medication_started_after_the_session_does_not_count_for_it():
    later = Medication(7, "Sertraline", "ssri", date(2026, 6, 11), None, None)
    assert evaluate(base(medications=(later,)), Door.SIGN) == []


# --- Later cycles --------------------------------------------------------------------------------------------------


def _cycle_two(integration_at: datetime, signed: bool = True, held: datetime = HELD) -> Facts:
    first = datetime(2026, 5, 12, 8, 0, tzinfo=UTC)
    screened = first - timedelta(days=2)
    visits = (
        *prep_visits(),
        Visit(20, SessionKind.DOSING, 1, first, first + timedelta(hours=11), first + timedelta(minutes=15), 2, 720),
        *(
            Visit(
                30 + n,
                SessionKind.INTEGRATION,
                1,
                integration_at + timedelta(days=n),
                signed_after(integration_at + timedelta(days=n), signed),
            )
            for n in range(3)
        ),
    )
    moved = held - HELD
    given = base().administration
    assert given is not None
    administration = replace(
        given,
        **{name: getattr(given, name) + moved for name in ("dose_given_at", "supplemental_given_at", "discharged_at")},
    )
    readings = tuple(replace(r, taken_at=r.taken_at + moved) for r in base().readings)
    return base(
        cycle=2,
        current_cycle=2,
        entered_dosing={1: first, 2: held - timedelta(hours=20)},
        visits=visits,
        session=Visit(10, SessionKind.DOSING, 2, held, present_therapists=2, duration_minutes=720),
        at=held,
        administration=administration,
        readings=readings,
        signed_off_at=screened + timedelta(hours=1),
        answers=answers(MDMA, screened, pregnancy_test=("recorded", "negative", held.date() - timedelta(days=1))),
    )


def test_integration_sessions_count_only_when_held_after_that_cycles_dose():
    assert evaluate(_cycle_two(datetime(2026, 5, 13, 10, tzinfo=UTC)), Door.SESSION) == []
    before_the_dose = _cycle_two(datetime(2026, 5, 9, 10, tzinfo=UTC))
    unmet = evaluate(before_the_dose, Door.SESSION)
    assert [u.condition for u in unmet] == ["previous_cycle_complete"]
    assert "0 of 3 sessions held after that dose" in unmet[0].message
    unsigned = _cycle_two(datetime(2026, 5, 13, 10, tzinfo=UTC), signed=False)
    assert "0 with a signed note" in evaluate(unsigned, Door.SIGN)[0].message


def test_dosing_sessions_keep_the_protocols_spacing():
    too_soon = _cycle_two(datetime(2026, 5, 13, 10, tzinfo=UTC), held=datetime(2026, 5, 30, 8, tzinfo=UTC))
    unmet = evaluate(replace(too_soon, now=datetime(2026, 5, 30, 20, tzinfo=UTC)), Door.SESSION)
    assert [u.condition for u in unmet] == ["dose_spacing"]
    assert unmet[0].message.endswith("spaces dosing sessions at least 21 days apart (from 2026-06-02).")


def test_a_cycle_beyond_the_plan_is_refused():
    assert refused(base(cycle=4, current_cycle=4, entered_dosing={4: HELD}), Door.SESSION)[0] == "cycles_remaining"


# --- The dose ----------------------------------------------------------------------------------------------------

DOSES = [
    ("a dose the protocol does not give", dict(dose_amount=100.0), "gives 80 mg or 120 mg per session, not 100 mg"),
    ("another unit", dict(dose_unit=DoseUnit.MG_PER_KG), "doses in mg, not mg/kg"),
    ("another route", dict(route=Route.INTRAVENOUS), "The route must be the protocol's: oral (not intravenous)."),
    ("another substance", dict(substance="Ketamine"), "The substance must be the protocol's: MDMA."),
    ("a supplemental dose that is not half", dict(supplemental_mg=50.0), "of the initial dose: 60 mg, not 50 mg"),
    (
        "a supplemental dose too early",
        dict(supplemental_given_at=GIVEN + timedelta(minutes=60)),
        "90 to 120 minutes after the first, not 60 minutes",
    ),
]


@pytest.mark.parametrize("label,changes,words", DOSES, ids=[d[0] for d in DOSES])
def test_the_dose_must_be_the_protocols(label, changes, words):
    facts = base()
    given = replace(facts.administration, **changes)
    for door in (Door.DOSE, Door.SIGN):
        unmet = evaluate(replace(facts, administration=given), door)
        assert {u.condition for u in unmet} == {"dose_within_protocol"}, (door, unmet)
        assert words in unmet[0].message
    assert evaluate(replace(facts, administration=given), Door.SESSION) == []  # the session itself is fine


def test_psilocybin_is_dosed_per_70_kg_and_its_first_session_gives_20():
    psilocybin = PROTOCOLS["psilocybin-mdd"]
    given = Administration(
        substance="Psilocybin",
        dose_amount=30.0,
        dose_unit=DoseUnit.MG_PER_70KG,
        weight_kg=84.0,
        route=Route.ORAL,
        dose_given_at=GIVEN,
    )
    facts = base(psilocybin, administration=given)
    unmet = evaluate(facts, Door.DOSE)
    assert [u.condition for u in unmet] == ["dose_within_protocol"]
    assert "first dosing session of Psilocybin for major depression (Davis 2021 structure) gives 20 mg/70 kg" in (
        unmet[0].message
    )
    assert evaluate(replace(facts, administration=replace(given, dose_amount=20.0)), Door.DOSE) == []
    assert replace(given, dose_amount=20.0).dose_total_mg == 24.0  # 20 mg per 70 kg at 84 kg
    no_weight = replace(given, dose_amount=20.0, weight_kg=None)
    assert (
        "Enter the weight measured on the day"
        in evaluate(replace(facts, administration=no_weight), Door.DOSE)[0].message
    )


def test_a_draft_without_a_dose_yet_is_judged_on_what_it_holds():
    partial = Administration(substance="MDMA")
    assert evaluate(base(administration=partial, readings=()), Door.DOSE) == []


# --- Signing: completeness, discharge, follow-up ---------------------------------------------------------------------


def test_signing_needs_the_administration_complete_and_the_follow_up():
    facts = base(administration=replace(base().administration, lot_number=None), follow_up_ok=False)
    assert refused(facts, Door.SIGN) == ["dose_complete", "follow_up_scheduled"]
    assert refused(facts, Door.DOSE) == []


def test_every_monitored_sign_needs_a_reading_after_the_dose():
    no_temperature = tuple(replace(r, temperature=None) for r in base().readings)
    unmet = evaluate(base(readings=no_temperature), Door.SIGN)
    assert [u.condition for u in unmet] == ["discharge_complete"]
    assert "No reading after the dose of: Temperature." in unmet[0].message


def test_one_temperature_reading_does_not_discharge_a_patient_whose_blood_pressure_was_220():
    readings = (
        full_set(-5),
        full_set(300, systolic=220, diastolic=120),
        Reading(GIVEN + timedelta(minutes=560), temperature=36.6, id=5000),
    )
    unmet = evaluate(base(readings=readings), Door.SIGN)
    assert [u.condition for u in unmet] == ["discharge_complete"]
    assert "Systolic BP 220 mmHg is above the protocol's limit of 160 mmHg" in unmet[0].message


def test_a_later_reading_out_of_range_holds_discharge_back():
    readings = (*base().readings, Reading(GIVEN + timedelta(minutes=595), heart_rate=125, id=6000))
    assert "A later reading" in evaluate(base(readings=readings), Door.SIGN)[0].message


def test_the_protocols_observation_time_is_needed():
    early = replace(base().administration, discharged_at=GIVEN + timedelta(minutes=400))
    unmet = evaluate(base(administration=early), Door.SIGN)
    assert [u.condition for u in unmet] == ["discharge_complete"]
    assert "the protocol asks for at least 480 min" in unmet[0].message


# --- Esketamine: the pre-dose decision and the 40-minute reading -----------------------------------------------------


def _esketamine(readings: tuple[Reading, ...] | None = None, **changes: object) -> Facts:
    esk = PROTOCOLS["esketamine-rems-trd"]
    given = Administration(
        substance="Esketamine (intranasal)",
        dose_amount=56.0,
        dose_unit=DoseUnit.MG,
        route=Route.INTRANASAL,
        lot_number="ESK-1",
        dose_given_at=GIVEN,
        distress_baseline=3,
        distress_at_discharge=1,
        escort_name="Ana",
        discharged_at=GIVEN + timedelta(minutes=150),
    )
    readings = readings or (full_set(-5), full_set(40), full_set(90), full_set(130))
    return base(
        esk,
        administration=given,
        readings=readings,
        co_therapists=0,
        session=Visit(10, SessionKind.DOSING, 1, HELD, present_therapists=1),
        **changes,
    )


def test_esketamine_is_ready_to_sign_with_its_readings():
    assert evaluate(_esketamine(), Door.SIGN) == []


def test_a_high_blood_pressure_before_esketamine_needs_a_written_decision():
    high = _esketamine(readings=(full_set(-5, systolic=150, diastolic=95), full_set(40), full_set(90), full_set(130)))
    for door in (Door.DOSE, Door.SIGN):
        unmet = evaluate(high, door)
        assert [u.condition for u in unmet] == ["pre_dose_decision"], door
        assert "was 150/95 mmHg, above 140/90" in unmet[0].message
    decided = replace(
        high,
        administration=replace(
            high.administration,
            pre_dose_decision="Benefit outweighs: stable hypertension, on treatment; agreed with the prescriber.",
        ),
    )
    assert evaluate(decided, Door.SIGN) == []
    for mark in (".", "ok", "ok ok ok ok ok ok", "proceed proceed proceed"):
        marked = replace(high, administration=replace(high.administration, pre_dose_decision=mark))
        assert [u.condition for u in evaluate(marked, Door.DOSE)] == ["pre_dose_decision"], mark


def test_esketamine_needs_a_reading_before_the_dose_and_at_about_40_minutes():
    unmet = evaluate(_esketamine(readings=(full_set(20), full_set(90), full_set(130))), Door.SIGN)
    assert [u.condition for u in unmet] == ["pre_dose_reading", "required_readings"]
    assert "about 40 minutes after the dose (between 30 and 50 minutes)" in unmet[1].message
    assert evaluate(_esketamine(readings=(full_set(20), full_set(90), full_set(130))), Door.DOSE) == []


# --- The moves -----------------------------------------------------------------------------------------------------


def test_the_move_to_dosing_needs_a_co_therapist_on_the_team():
    assert refused(move_facts(co_therapists=0), Door.MOVE_TO_DOSING) == ["co_therapist_on_team"]
    assert refused(base(co_therapists=0), Door.SIGN) == []  # at the session, the therapists present count


def test_the_move_to_integration_needs_the_cycles_dosing_note_signed():
    facts = base(visits=(*prep_visits(), Visit(10, SessionKind.DOSING, 1, HELD, None)), session=None, at=NOW)
    unmet = evaluate(facts, Door.MOVE_TO_INTEGRATION)
    assert [u.message for u in unmet] == ["The note of dosing session 1 is not signed."]
    signed = replace(facts, visits=(*prep_visits(), Visit(10, SessionKind.DOSING, 1, HELD, NOW)))
    assert evaluate(signed, Door.MOVE_TO_INTEGRATION) == []


def test_conditions_guard_only_their_doors():
    """The move to dosing is not refused for what only a session or a note can lack."""
    assert {c.name for c in conditions.conditions_for(Door.MOVE_TO_DOSING)} == {
        "protocol_known",
        "cycles_remaining",
        "screening_eligible",
        "pre_dosing_checks",
        "medications_stopped",
        "preparation_held",
        "baseline_measures",
        "co_therapist_on_team",
        "previous_cycle_complete",
        "no_open_high_risk_alert",
        "required_labs",
    }
    assert {c.name for c in conditions.conditions_for(Door.MOVE_TO_INTEGRATION)} == {
        "protocol_known",
        "dosing_note_signed",
    }
    sign_only = {"dose_complete", "required_readings", "discharge_complete", "follow_up_scheduled", "pre_dose_reading"}
    assert sign_only <= {c.name for c in conditions.conditions_for(Door.SIGN)}
    assert not sign_only & {c.name for c in conditions.conditions_for(Door.DOSE)}


def test_the_gate_module_is_plain_python():
    import ast
    import inspect

    from tracker.gate import facts as facts_module

    for module in (conditions, facts_module):
        tree = ast.parse(inspect.getsource(module))
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert not any(name.split(".")[0] in {"flask", "sqlalchemy", "flask_sqlalchemy"} for name in imported)
    assert SESSION_ONLY <= ALL_DOORS


# --- Times: every door judges the moment itself, not the day ------------------------------------------------------


def test_a_negative_test_back_dated_behind_a_positive_one_does_not_lift_it():
    """Entered last, dated first: a result stands by the day it was done, so the positive test stays."""
    history = (
        *answers(MDMA),
        Recorded(
            90, "pregnancy-test", "recorded", "positive", HELD.date() - timedelta(days=1), NOW - timedelta(days=1)
        ),
        Recorded(91, "pregnancy-test", "recorded", "negative", HELD.date() - timedelta(days=3), NOW),
    )
    assert "screening_eligible" in refused(base(answers=history), Door.SIGN)
    newer = (*history, Recorded(92, "pregnancy-test", "recorded", "negative", HELD.date(), NOW))
    assert refused(base(answers=newer), Door.SIGN) == []  # a test done after the positive one does


def test_a_session_that_started_before_the_move_the_same_day_is_refused():
    moved = HELD + timedelta(minutes=30)
    assert refused(base(entered_dosing={1: moved}), Door.SESSION) == ["after_the_move"]


def test_a_preparation_note_signed_after_the_dosing_session_does_not_count_for_it():
    late = tuple(
        replace(v, signed_at=HELD + timedelta(hours=2)) if n == 0 else v
        for n, v in enumerate(prep_visits(MDMA.sessions.preparation))
    )
    assert refused(base(visits=late), Door.SIGN) == ["preparation_held"]


def test_the_dose_must_be_given_during_the_session():
    given = base().administration
    assert given is not None
    for later in (timedelta(hours=13), timedelta(days=3)):
        moved = replace(given, dose_given_at=HELD + later, supplemental_given_at=None, supplemental_mg=None)
        for door in (Door.SESSION, Door.DOSE):
            assert "within_the_session" in refused(base(administration=moved), door)
    early = replace(given, dose_given_at=HELD - timedelta(minutes=5))
    assert "within_the_session" in refused(base(administration=early), Door.DOSE)


def test_readings_from_another_day_fall_outside_the_session_and_are_no_pre_dose_reading():
    esk = PROTOCOLS["esketamine-rems-trd"]
    old = Reading(HELD - timedelta(days=2), systolic=120, diastolic=80, heart_rate=70, spo2=98, id=1)
    unmet = evaluate(base(esk, readings=(old,)), Door.SIGN)
    assert "within_the_session" in [u.condition for u in unmet]
    assert "pre_dose_reading" in [u.condition for u in unmet]


def test_readings_after_discharge_do_not_discharge():
    given = base().administration
    assert given is not None
    left_early = replace(given, discharged_at=GIVEN + timedelta(minutes=590))
    after = (full_set(-5), full_set(60), full_set(300, systolic=200, diastolic=110), full_set(595))
    unmet = evaluate(base(administration=left_early, readings=after), Door.SIGN)
    assert [u.condition for u in unmet] == ["discharge_complete"]
    assert "Systolic BP 200" in unmet[0].message


def test_discharge_needs_a_full_set_after_the_last_dose_and_close_to_discharge():
    given = base().administration
    assert given is not None
    before_supplement = (full_set(-5), full_set(60))
    short = replace(
        given, supplemental_given_at=GIVEN + timedelta(minutes=100), discharged_at=GIVEN + timedelta(minutes=600)
    )
    unmet = evaluate(base(administration=short, readings=before_supplement), Door.SIGN)
    assert "No full set after the last dose" in unmet[0].message
    stale = (full_set(-5), full_set(200))
    unmet = evaluate(base(readings=stale), Door.SIGN)
    assert "more than 30 minutes before discharge" in unmet[0].message


def test_a_supplemental_dose_needs_the_initial_dose_first():
    given = base().administration
    assert given is not None
    alone = replace(given, dose_amount=None, dose_given_at=None)
    unmet = evaluate(base(administration=alone), Door.DOSE)
    assert "Record the initial dose (amount and time) before a supplemental dose." in [u.message for u in unmet]


def test_a_weight_outside_what_a_person_weighs_is_refused():
    psilocybin = PROTOCOLS["psilocybin-mdd"]
    dose = Administration(
        substance=psilocybin.substance,
        dose_amount=25.0,
        dose_unit=DoseUnit.MG_PER_70KG,
        weight_kg=350.0,
        route=Route.ORAL,
        dose_given_at=GIVEN,
    )
    unmet = evaluate(base(psilocybin, administration=dose), Door.DOSE)
    assert any("350 kg is outside 30-250 kg" in u.message for u in unmet)


@pytest.mark.parametrize("escort", ["none", "N/A", "-", "self", "x"])
def test_an_escort_must_be_a_person(escort):
    given = base().administration
    assert given is not None
    unmet = evaluate(base(administration=replace(given, escort_name=escort)), Door.SIGN)
    assert [u.condition for u in unmet] == ["discharge_complete"] and "escort" in unmet[0].message.lower()


def test_spacing_counts_from_the_day_of_each_dose():
    first = datetime(2026, 5, 12, 8, 0, tzinfo=UTC)
    too_soon = _cycle_two(datetime(2026, 5, 13, 10, tzinfo=UTC), held=datetime(2026, 6, 2, 8, tzinfo=UTC))
    late_dose = replace(
        too_soon,
        visits=tuple(
            replace(v, dose_given_at=first + timedelta(days=1, hours=1)) if v.id == 20 else v for v in too_soon.visits
        ),
    )
    unmet = evaluate(replace(late_dose, now=datetime(2026, 6, 3, 20, tzinfo=UTC)), Door.SESSION)
    assert [u.condition for u in unmet] == ["dose_spacing"]  # 21 days from the dose on 13 May, not the 12th


def test_ketamine_infusions_are_never_two_on_one_day():
    assert PROTOCOLS["ketamine-iv-trd"].sessions.dosing_spacing_days == 1


def test_a_test_the_record_required_at_sign_off_stays_required():
    from tracker.eligibility import record_for

    record = record_for({"pregnancy_possible": False}, {"pregnancy_possible": True})
    without = tuple(a for a in answers(MDMA) if a.item_id != "pregnancy-test")
    assert refused(base(answers=without, record=record), Door.SIGN) == ["screening_eligible", "pre_dosing_checks"]
    assert record_for({"pregnancy_possible": True}, {"pregnancy_possible": False}) == {"pregnancy_possible": True}


# --- High-risk safety alerts --------------------------------------------------------------------------------------

ALERT_RAISED = HELD - timedelta(days=1)


def alert(raised: datetime = ALERT_RAISED, closed: datetime | None = None) -> HoldingAlert:
    return HoldingAlert(
        41, "Serious adverse event", "Serious adverse event (severe) in dosing session 1: chest pain.", raised, closed
    )


def test_an_open_high_risk_alert_holds_the_move_the_session_and_the_dose_naming_the_alert():
    facts = base(alerts=(alert(),))
    for door in (Door.SESSION, Door.DOSE):
        unmet = evaluate(facts, door)
        assert [u.condition for u in unmet] == ["no_open_high_risk_alert"], door
        assert unmet[0].message == (
            "A high-risk safety alert is open (#41, serious adverse event, raised 2026-06-09 08:00 UTC): Serious "
            "adverse event (severe) in dosing session 1: chest pain. A supervisor of the care team must close it "
            "before dosing."
        )
    assert refused(move_facts(alerts=(alert(),)), Door.MOVE_TO_DOSING) == ["no_open_high_risk_alert"]


def test_signing_records_a_dose_already_given_and_is_not_held():
    """The doors before it refused the dose; the note (which may hold the serious event itself) can be signed."""
    assert evaluate(base(alerts=(alert(),)), Door.SIGN) == []
    assert "no_open_high_risk_alert" not in {c.name for c in conditions.conditions_for(Door.SIGN)}
    assert "no_open_high_risk_alert" not in {c.name for c in conditions.conditions_for(Door.MOVE_TO_INTEGRATION)}


def test_an_alert_closed_by_then_holds_nothing_and_one_closed_later_held_that_session():
    assert evaluate(base(alerts=(alert(closed=HELD - timedelta(minutes=1)),)), Door.SESSION) == []
    assert evaluate(move_facts(alerts=(alert(closed=NOW - timedelta(minutes=1)),)), Door.MOVE_TO_DOSING) == []
    # Closed after the session: it was open when the session was held, which is what the session door judges.
    assert refused(base(alerts=(alert(closed=HELD + timedelta(hours=2)),)), Door.SESSION) == ["no_open_high_risk_alert"]


def test_a_dose_is_judged_at_the_time_it_was_given():
    """Raised during the session, before the dose: the dose is held; raised after the dose (this session's own
    serious adverse event): the dose and the session stand."""
    before_dose = alert(raised=GIVEN - timedelta(minutes=5))
    assert refused(base(alerts=(before_dose,)), Door.DOSE) == ["no_open_high_risk_alert"]
    # Recording the session (the loader gives no dose at that door) judges its start, before the alert.
    assert evaluate(base(alerts=(before_dose,), administration=None), Door.SESSION) == []
    after_dose = replace(alert(raised=GIVEN + timedelta(minutes=90)), session_id=10)  # raised by this session
    for door in (Door.SESSION, Door.DOSE, Door.SIGN):
        assert evaluate(base(alerts=(after_dose,)), door) == [], door


def test_a_session_or_dose_dated_before_an_alert_open_now_is_held():
    """A dose typed as given before an open alert (a measure's, or another session's) but entered after it: held, or
    a time typed earlier would walk past the alert. Closed since, it holds nothing; raised by this session, it does
    not; the session without a dose is not held (documenting what happened)."""
    for session_id in (None, 9):
        later = replace(alert(raised=GIVEN + timedelta(minutes=90)), session_id=session_id)
        for door in (Door.SESSION, Door.DOSE):
            unmet = evaluate(base(alerts=(later,)), door)
            assert [u.condition for u in unmet] == ["no_open_high_risk_alert"], (session_id, door)
            assert "after the time entered for this dose" in unmet[0].message
        assert evaluate(base(alerts=(later,)), Door.SIGN) == []
        assert evaluate(base(alerts=(later,), administration=None), Door.SESSION) == []
    closed = replace(alert(raised=GIVEN + timedelta(minutes=90), closed=NOW - timedelta(minutes=5)))
    assert evaluate(base(alerts=(closed,)), Door.DOSE) == []


def test_every_open_alert_is_named_oldest_first():
    older, newer = alert(raised=ALERT_RAISED - timedelta(days=2)), replace(alert(), id=42)
    unmet = evaluate(move_facts(alerts=(newer, older)), Door.MOVE_TO_DOSING)
    assert [u.message.split(",")[0] for u in unmet] == [
        "A high-risk safety alert is open (#41",
        "A high-risk safety alert is open (#42",
    ]
