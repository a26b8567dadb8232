"""Recording outcome results at service level: the score is stored as computed, results never change (also at the
SQL level), a correction is a new row superseding the old one, and the dosing days come from sessions and phase
moves."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import DBAPIError

from tracker import workflow
from tracker.extensions import db
from tracker.factories import (
    clear_for_dosing,
    complete_dosing,
    complete_integration,
    record_baseline_measures,
    record_measure,
    renew_pre_dosing,
    sample_answers,
)
from tracker.instruments import ScoringError, score
from tracker.models import (
    AdministrationMode,
    AuditEvent,
    MeasureResult,
    Phase,
    PhaseTransition,
    SessionKind,
    TherapySession,
)
from tracker.models.base import utcnow
from tracker.outcomes.queries import current_results, dosing_dates, results_of
from tracker.outcomes.services import MeasureError, ResultInput, correct_result, record_result

PCL5_PTSD = [3, 2, 0, 0, 0, 2, 0, 2, 2, 0, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0]  # B1 C1 D2 E2: the cluster rule is met


def today() -> date:
    return utcnow().date()


def given(code: str, answers, on: date | None = None, mode=AdministrationMode.WITH_PATIENT) -> ResultInput:
    return ResultInput(code, answers, on or today(), mode)


def results_count() -> int:
    return db.session.scalar(select(func.count()).select_from(MeasureResult))


def test_a_result_keeps_the_answers_and_the_score_as_computed(people):
    row = record_result(people.lead, people.patient, given("pcl5", PCL5_PTSD), today())
    expected = score("pcl5", PCL5_PTSD)
    assert (row.total, row.band, row.band_index, row.provisional_diagnosis, row.cut_point) == (
        expected.total,
        expected.band,
        expected.band_index,
        True,
        33,
    )
    assert row.answers == PCL5_PTSD
    assert [(s["code"], s["score"], s["endorsed"], s["required"], s["met"]) for s in row.subscales] == [
        ("B", 5, 2, 1, True),
        ("C", 2, 1, 1, True),
        ("D", 4, 2, 2, True),
        ("E", 4, 2, 2, True),
    ]
    assert row.entered_by_id == people.lead.id and row.supersedes_id is None
    audit = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "measure.record")).one()
    assert audit.patient_id == people.patient.id and audit.target_id == str(row.id)
    assert audit.data == {"instrument": "pcl5", "administered_on": today().isoformat()}


def test_qids_stores_its_domains_and_cssrs_its_risk_level(people):
    qids = record_result(people.lead, people.patient, given("qids_sr16", [3, 0, 0, 0] + [1] * 12), today())
    assert qids.total == score("qids_sr16", [3, 0, 0, 0] + [1] * 12).total
    assert qids.subscales[0]["code"] == "sleep" and qids.subscales[0]["score"] == 3
    cssrs = record_result(
        people.lead,
        people.patient,
        given("cssrs", ["yes", "no", None, None, None, "no"], mode=AdministrationMode.CLINICIAN_RATED),
        today(),
    )
    assert (cssrs.total, cssrs.band, cssrs.band_index, cssrs.answers) == (
        None,
        "low risk",
        1,
        ["yes", "no", None, None, None, "no"],
    )


@pytest.mark.parametrize(
    ("code", "mode", "message"),
    [
        (
            "phq9",
            AdministrationMode.CLINICIAN_RATED,
            "PHQ-9 is a self-report questionnaire: choose filled in with the patient or entered from a paper form.",
        ),
        (
            "madrs",
            AdministrationMode.WITH_PATIENT,
            "MADRS is rated by a clinician: choose asked and rated in an interview or entered from a paper form.",
        ),
    ],
)
def test_the_mode_must_fit_the_instrument(people, code, mode, message):
    with pytest.raises(MeasureError, match=message) as refusal:
        record_result(people.lead, people.patient, given(code, sample_answers(code), mode=mode), today())
    assert refusal.value.field == "mode" and results_count() == 0


def test_a_future_date_and_bad_answers_are_refused_and_nothing_is_saved(people):
    with pytest.raises(MeasureError, match="cannot be in the future"):
        record_result(people.lead, people.patient, given("phq9", [0] * 9, today() + timedelta(days=1)), today())
    with pytest.raises(ScoringError, match="PHQ-9 item 9: 4 is outside") as refusal:
        record_result(people.lead, people.patient, given("phq9", [0] * 8 + [4]), today())
    assert refusal.value.item == 9
    assert results_count() == 0
    audits = select(func.count()).select_from(AuditEvent).where(AuditEvent.action.like("measure.%"))
    assert db.session.scalar(audits) == 0


# Immutability ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE measure_result SET total = 0 WHERE id = :id",
        "UPDATE measure_result SET administered_on = administered_on WHERE id = :id",
        "DELETE FROM measure_result WHERE id = :id",
        "DELETE FROM measure_result",
    ],
)
def test_a_saved_result_never_changes_in_the_database(people, statement):
    row = record_measure(people.patient, people.lead, "phq9", [1] * 8 + [0])
    db.session.commit()
    with pytest.raises(DBAPIError, match="immutable"), db.session.begin_nested():
        db.session.execute(text(statement), {"id": row.id})
    stored = db.session.execute(text("SELECT total, answers FROM measure_result WHERE id = :id"), {"id": row.id}).one()
    assert stored.total == 8


def test_the_orm_cannot_change_a_saved_result_either(people):
    row = record_measure(people.patient, people.lead, "phq9", [1] * 8 + [0])
    db.session.commit()
    with pytest.raises(DBAPIError, match="immutable"), db.session.begin_nested():
        row.total = 3
        db.session.flush()
    db.session.expire_all()
    assert db.session.get(MeasureResult, row.id).total == 8


# Corrections ----------------------------------------------------------------------------------------------------


def test_a_correction_is_a_new_result_and_both_are_kept(people):
    old = record_measure(people.patient, people.lead, "phq9", [2] * 8 + [0])
    new = correct_result(
        people.co_therapist, people.patient, old, given("phq9", [1] * 8 + [0]), " Item 1 copied wrongly ", today()
    )
    assert (new.supersedes_id, new.correction_reason, new.total, old.total) == (old.id, "Item 1 copied wrongly", 8, 16)
    all_rows = results_of(db.session, people.patient.id)
    assert {r.id for r in all_rows} == {old.id, new.id}
    assert [r.id for r in current_results(all_rows)] == [new.id]
    audit = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "measure.correct")).one()
    assert audit.data["supersedes"] == old.id and audit.actor_id == people.co_therapist.id


def test_a_corrected_result_cannot_be_corrected_again(people):
    old = record_measure(people.patient, people.lead, "phq9", [2] * 8 + [0])
    correct_result(people.lead, people.patient, old, given("phq9", [1] * 8 + [0]), "typo", today())
    with pytest.raises(MeasureError, match="corrected already; correct its newest version"):
        correct_result(people.lead, people.patient, old, given("phq9", [0] * 9), "typo again", today())


def test_a_correction_needs_a_reason(people):
    old = record_measure(people.patient, people.lead, "phq9", [2] * 8 + [0])
    with pytest.raises(MeasureError, match="Say why") as refusal:
        correct_result(people.lead, people.patient, old, given("phq9", [1] * 9), "  ", today())
    assert refusal.value.field == "reason" and results_count() == 1


def _insert(people, **values) -> None:
    row = {
        "patient_id": people.patient.id,
        "instrument": "phq9",
        "administered_on": today(),
        "mode": "with_patient",
        "answers": [0] * 9,
        "total": 0,
        "band": "minimal",
        "band_index": 0,
        "subscales": [],
        "flags": [],
        "entered_by_id": people.lead.id,
        "entered_at": datetime.now(UTC),
        "supersedes_id": None,
        "correction_reason": None,
    }
    row.update(values)
    db.session.execute(insert(MeasureResult.__table__).values(row))


def test_the_database_keeps_corrections_a_chain_with_a_reason(people):
    old = record_measure(people.patient, people.lead, "phq9", [0] * 9)
    db.session.commit()
    _insert(people, supersedes_id=old.id, correction_reason="first")
    with pytest.raises(DBAPIError), db.session.begin_nested():  # a result is superseded once
        _insert(people, supersedes_id=old.id, correction_reason="second")
    with pytest.raises(DBAPIError), db.session.begin_nested():  # a correction says why
        _insert(people, supersedes_id=old.id, correction_reason=None)
    with pytest.raises(DBAPIError), db.session.begin_nested():  # a reason without a correction is a mistake
        _insert(people, correction_reason="why?")


# Dosing days ----------------------------------------------------------------------------------------------------


def _dosing_session(people, when: datetime, cycle: int) -> None:
    db.session.add(
        TherapySession(
            patient_id=people.patient.id,
            kind=SessionKind.DOSING,
            held_at=when,
            cycle=cycle,
            duration_minutes=480,
            logged_by_id=people.lead.id,
        )
    )


def test_dosing_days_come_from_dosing_sessions_and_from_cycles_without_one(people, protocols):
    protocol = protocols["mdma-ptsd"]
    start = datetime.combine(today() - timedelta(days=90), datetime.min.time(), UTC) + timedelta(hours=9)
    clear_for_dosing(people.patient, people.lead, protocols, at=start - timedelta(days=3))
    record_baseline_measures(people.patient, people.lead, protocol, on=start.date() - timedelta(days=2))
    workflow.move(db.session, people.patient, Phase.DOSING, people.lead, protocol, now=start)
    complete_dosing(people.patient, people.lead, protocols, held_at=start + timedelta(hours=1))  # signed note
    workflow.move(db.session, people.patient, Phase.INTEGRATION, people.lead, protocol, now=start + timedelta(days=1))
    # Cycle 2: moved to dosing, no session logged; a hold in the middle is the same cycle.
    second = start + timedelta(days=28)
    complete_integration(people.patient, people.lead, protocols, before=second)  # the cycle's signed sessions
    renew_pre_dosing(people.patient, people.lead, protocol, second - timedelta(days=1))
    workflow.move(db.session, people.patient, Phase.DOSING, people.lead, protocol, now=second)
    workflow.move(
        db.session, people.patient, Phase.ON_HOLD, people.lead, protocol, "ill", now=second + timedelta(days=1)
    )
    renew_pre_dosing(people.patient, people.lead, protocol, second + timedelta(days=2))
    workflow.move(db.session, people.patient, Phase.DOSING, people.lead, protocol, now=second + timedelta(days=3))
    # A scheduled, not yet held, dosing session is not a dosing day.
    db.session.add(
        TherapySession(
            patient_id=people.patient.id,
            kind=SessionKind.DOSING,
            held_at=None,
            cycle=3,
            scheduled_at=second + timedelta(days=40),
            logged_by_id=people.lead.id,
        )
    )
    db.session.flush()
    assert dosing_dates(db.session, people.patient.id, UTC) == [start.date(), second.date()]
    # Logging the session of cycle 2 (a day after the move) replaces the move's day with the session's.
    _dosing_session(people, second + timedelta(days=1), cycle=2)
    db.session.flush()
    assert dosing_dates(db.session, people.patient.id, UTC) == [start.date(), second.date() + timedelta(days=1)]
    moves = db.session.scalar(
        select(func.count())
        .select_from(PhaseTransition)
        .where(PhaseTransition.patient_id == people.patient.id, PhaseTransition.to_phase == Phase.DOSING)
    )
    assert moves == 3
