"""Each rule of tracker/attention.py: a patient who meets it appears, one who does not is absent, and the edges of
each window. Rules take ``now`` from their scope, so time is moved by passing a later ``now``."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from tracker.alerts.acknowledge import acknowledge
from tracker.attention import BY_KIND, Kind, Policy, Scope
from tracker.dashboard.queries import Filters, patient_ids
from tracker.extensions import db
from tracker.factories import (
    answer_screening,
    make_patient,
    make_user,
    record_measure,
    sample_answers,
)
from tracker.models import (
    AdverseEvent,
    Clinic,
    CosignDecision,
    CosignOutcome,
    NoteAddendum,
    Outcome,
    Patient,
    Phase,
    ReviewDecision,
    SafetyAlert,
    ScreeningChecklist,
    SessionKind,
    SessionNote,
    Severity,
    TherapySession,
    User,
)
from tracker.models.base import utcnow
from tracker.protocols import ItemKind
from tracker.screening.queries import build_state
from tracker.screening.services import current_checklist, review_item

HASH = "0" * 64


def found(user: User, kind: Kind, now: datetime | None = None) -> list[tuple[int, int | None]]:
    """(patient id, target id) of the items of ``kind`` in ``user``'s scope at ``now``."""
    scope = Scope(
        patient_ids(user, Filters()),
        now or utcnow(),
        Policy.of_clinic(db.session.get_one(Clinic, user.clinic_id), current_app.extensions["protocols"]),
    )
    return [(row.patient_id, row.target_id) for row in db.session.execute(BY_KIND[kind].query(scope))]


def patients_of(user: User, kind: Kind, now: datetime | None = None) -> set[int]:
    return {patient_id for patient_id, _ in found(user, kind, now)}


def session(
    patient: Patient,
    actor: User,
    kind: SessionKind,
    held_at: datetime | None,
    cycle: int | None = None,
    scheduled_at: datetime | None = None,
) -> TherapySession:
    row = TherapySession(
        patient_id=patient.id,
        kind=kind,
        held_at=held_at,
        duration_minutes=60 if held_at else None,
        scheduled_at=scheduled_at,
        scheduled_minutes=60 if scheduled_at else None,
        cycle=cycle if kind is not SessionKind.PREPARATION else None,
        logged_by_id=actor.id,
    )
    db.session.add(row)
    db.session.flush()
    return row


def note(
    therapy_session: TherapySession, actor: User, *, signed_at: datetime | None = None, cosign: bool = False
) -> SessionNote:
    row = SessionNote(
        session_id=therapy_session.id,
        author_id=actor.id,
        updated_by_id=actor.id,
        fields={},
        body="",
        signed_at=signed_at,
        signed_by_id=actor.id if signed_at else None,
        content_sha256=HASH if signed_at else None,
        cosign_required=cosign,
    )
    db.session.add(row)
    db.session.flush()
    return row


@pytest.fixture
def now() -> datetime:
    return utcnow()


# Safety alerts ---------------------------------------------------------------------------------------------------


def test_an_open_alert_is_listed_until_acknowledged(people, now):
    result = record_measure(people.patient, people.lead, "phq9", answers=sample_answers("phq9", flagged=True))
    db.session.flush()
    alert = db.session.scalar(select(SafetyAlert).where(SafetyAlert.result_id == result.id))
    assert found(people.supervisor, Kind.SAFETY_ALERT) == [(people.patient.id, alert.id)]
    acknowledge(
        people.lead, people.patient, alert, ["patient_contacted"], "Called the patient; safety plan reviewed.", now
    )
    db.session.flush()
    assert found(people.supervisor, Kind.SAFETY_ALERT) == []


def test_a_result_without_an_urgent_flag_raises_nothing(people):
    record_measure(people.patient, people.lead, "phq9")
    assert found(people.supervisor, Kind.SAFETY_ALERT) == []


# Serious adverse events ------------------------------------------------------------------------------------------


def _event(people, onset: datetime, serious: bool) -> TherapySession:
    dosing = session(people.patient, people.lead, SessionKind.DOSING, onset - timedelta(hours=1), cycle=1)
    row = note(dosing, people.lead)
    db.session.add(
        AdverseEvent(
            note_id=row.id,
            description="Vomiting",
            onset_at=onset,
            severity=Severity.SEVERE,
            serious=serious,
            action_taken="Observed",
            outcome=Outcome.RECOVERED,
            recorded_by_id=people.lead.id,
        )
    )
    db.session.flush()
    return dosing


def test_a_serious_event_is_listed_for_30_days_after_onset(people, now):
    dosing = _event(people, now - timedelta(days=2), serious=True)
    onset = now - timedelta(days=2)
    assert found(people.supervisor, Kind.SERIOUS_ADVERSE_EVENT) == [(people.patient.id, dosing.id)]
    assert found(people.supervisor, Kind.SERIOUS_ADVERSE_EVENT, onset + timedelta(days=30)) != []
    assert found(people.supervisor, Kind.SERIOUS_ADVERSE_EVENT, onset + timedelta(days=30, seconds=1)) == []


def test_an_event_that_is_not_serious_is_not_listed(people, now):
    _event(people, now - timedelta(days=1), serious=False)
    assert found(people.supervisor, Kind.SERIOUS_ADVERSE_EVENT) == []


# Next-day follow-up contact --------------------------------------------------------------------------------------


def test_a_follow_up_contact_not_held_within_48_hours_is_listed(people, now):
    dosing = session(people.patient, people.lead, SessionKind.DOSING, now - timedelta(hours=36), cycle=1)
    assert found(people.supervisor, Kind.FOLLOW_UP_CONTACT) == []  # still within the window
    assert found(people.supervisor, Kind.FOLLOW_UP_CONTACT, now + timedelta(hours=12, seconds=1)) == [
        (people.patient.id, dosing.id)
    ]


def test_a_scheduled_contact_is_not_a_contact_made(people, now):
    session(people.patient, people.lead, SessionKind.DOSING, now - timedelta(days=3), cycle=1)
    session(people.patient, people.lead, SessionKind.FOLLOW_UP, None, cycle=1, scheduled_at=now - timedelta(days=2))
    assert patients_of(people.supervisor, Kind.FOLLOW_UP_CONTACT) == {people.patient.id}


def test_a_contact_held_for_the_cycle_clears_it(people, now):
    session(people.patient, people.lead, SessionKind.DOSING, now - timedelta(days=3), cycle=1)
    session(people.patient, people.lead, SessionKind.FOLLOW_UP, now - timedelta(days=2), cycle=1)
    assert found(people.supervisor, Kind.FOLLOW_UP_CONTACT) == []


def test_a_contact_of_another_cycle_does_not_count(people, now):
    session(people.patient, people.lead, SessionKind.DOSING, now - timedelta(days=40), cycle=1)
    session(people.patient, people.lead, SessionKind.FOLLOW_UP, now - timedelta(days=39), cycle=1)
    dosing = session(people.patient, people.lead, SessionKind.DOSING, now - timedelta(days=3), cycle=2)
    assert found(people.supervisor, Kind.FOLLOW_UP_CONTACT) == [(people.patient.id, dosing.id)]


def test_follow_up_contacts_are_not_chased_for_a_completed_patient(people, now):
    session(people.patient, people.lead, SessionKind.DOSING, now - timedelta(days=3), cycle=1)
    people.patient.phase = Phase.COMPLETED
    db.session.flush()
    assert found(people.supervisor, Kind.FOLLOW_UP_CONTACT) == []


# Screening reviews -----------------------------------------------------------------------------------------------


def _review_item(protocols) -> str:
    return next(i.id for i in protocols["mdma-ptsd"].screening if i.kind is ItemKind.REVIEW)


def test_a_review_item_answered_yes_waits_until_decided(people, protocols, now):
    item = _review_item(protocols)
    answer_screening(people.patient, people.lead, protocols["mdma-ptsd"], yes=(item,))
    checklist = current_checklist(db.session, people.patient)
    assert found(people.supervisor, Kind.SCREENING_REVIEW) == [(people.patient.id, checklist.id)]
    loaded = db.session.scalar(
        select(ScreeningChecklist)
        .where(ScreeningChecklist.id == checklist.id)
        .options(
            selectinload(ScreeningChecklist.answers),
            selectinload(ScreeningChecklist.reviews),
            joinedload(ScreeningChecklist.patient),
        )
        .execution_options(populate_existing=True)
    )
    state = build_state(protocols["mdma-ptsd"], loaded, [], now.date())
    review_item(people.supervisor, loaded, state.assessment, item, ReviewDecision.CLEARED, "Discussed; in remission.")
    db.session.flush()
    assert found(people.supervisor, Kind.SCREENING_REVIEW) == []


def test_review_items_answered_no_and_exclusions_are_not_listed(people, protocols):
    exclusion = next(i.id for i in protocols["mdma-ptsd"].screening if i.kind is ItemKind.EXCLUSION)
    answer_screening(people.patient, people.lead, protocols["mdma-ptsd"], yes=(exclusion,))
    assert found(people.supervisor, Kind.SCREENING_REVIEW) == []


def test_a_waiting_review_is_moot_once_the_patient_is_discontinued(people, protocols):
    answer_screening(people.patient, people.lead, protocols["mdma-ptsd"], yes=(_review_item(protocols),))
    people.patient.phase = Phase.DISCONTINUED
    db.session.flush()
    assert found(people.supervisor, Kind.SCREENING_REVIEW) == []


# Co-signature ----------------------------------------------------------------------------------------------------


def test_a_signed_note_needing_cosignature_waits_for_a_decision(people, now):
    held = session(people.patient, people.lead, SessionKind.PREPARATION, now - timedelta(hours=3))
    signed = note(held, people.lead, signed_at=now - timedelta(hours=2), cosign=True)
    assert found(people.supervisor, Kind.COSIGNATURE) == [(people.patient.id, held.id)]
    db.session.add(
        CosignDecision(
            note_id=signed.id,
            supervisor_id=people.supervisor.id,
            decision=CosignOutcome.COSIGNED,
            content_sha256=HASH,
            decided_at=now - timedelta(hours=1),
        )
    )
    db.session.flush()
    assert found(people.supervisor, Kind.COSIGNATURE) == []
    # An addendum to another note after the decision does not reopen this one (the subquery is correlated).
    other = session(people.patient, people.lead, SessionKind.PREPARATION, now - timedelta(hours=5))
    other_note = note(other, people.lead, signed_at=now - timedelta(hours=4))
    db.session.add(
        NoteAddendum(
            note_id=other_note.id,
            reason="Typo",
            body="Fixed.",
            signed_by_id=people.lead.id,
            signed_at=now - timedelta(minutes=5),
            content_sha256=HASH,
        )
    )
    db.session.flush()
    assert found(people.supervisor, Kind.COSIGNATURE) == []
    # An addendum to this note does.
    db.session.add(
        NoteAddendum(
            note_id=signed.id,
            reason="Added",
            body="More.",
            signed_by_id=people.lead.id,
            signed_at=now - timedelta(minutes=1),
            content_sha256=HASH,
        )
    )
    db.session.flush()
    assert found(people.supervisor, Kind.COSIGNATURE) == [(people.patient.id, held.id)]


def test_a_signed_note_without_cosignature_is_not_listed(people, now):
    held = session(people.patient, people.lead, SessionKind.PREPARATION, now - timedelta(hours=3))
    note(held, people.lead, signed_at=now - timedelta(hours=2))
    assert found(people.supervisor, Kind.COSIGNATURE) == []


# Unsigned notes --------------------------------------------------------------------------------------------------


def test_a_note_unsigned_24_hours_after_the_session_is_listed(people, now):
    held = session(people.patient, people.lead, SessionKind.PREPARATION, now - timedelta(hours=23))
    assert found(people.supervisor, Kind.UNSIGNED_NOTE) == []
    assert found(people.supervisor, Kind.UNSIGNED_NOTE, now + timedelta(hours=1)) == []  # exactly 24 h
    later = now + timedelta(hours=1, seconds=1)
    assert found(people.supervisor, Kind.UNSIGNED_NOTE, later) == [(people.patient.id, held.id)]
    note(held, people.lead)  # a draft is still unsigned
    assert found(people.supervisor, Kind.UNSIGNED_NOTE, later) == [(people.patient.id, held.id)]


def test_a_signed_note_or_a_session_not_held_yet_is_not_listed(people, now):
    held = session(people.patient, people.lead, SessionKind.PREPARATION, now - timedelta(days=2))
    note(held, people.lead, signed_at=now - timedelta(days=1))
    session(people.patient, people.lead, SessionKind.PREPARATION, None, scheduled_at=now - timedelta(days=2))
    assert found(people.supervisor, Kind.UNSIGNED_NOTE) == []


# Integration sessions --------------------------------------------------------------------------------------------


def test_no_integration_session_within_the_protocols_window_is_listed(people, protocols, now):
    days = protocols["mdma-ptsd"].sessions.integration_within_days
    dosing = session(people.patient, people.lead, SessionKind.DOSING, now - timedelta(days=days), cycle=1)
    assert found(people.supervisor, Kind.INTEGRATION_SESSION, now) == []  # exactly at the end of the window
    assert found(people.supervisor, Kind.INTEGRATION_SESSION, now + timedelta(seconds=1)) == [
        (people.patient.id, dosing.id)
    ]
    session(people.patient, people.lead, SessionKind.INTEGRATION, now - timedelta(days=1), cycle=1)
    assert found(people.supervisor, Kind.INTEGRATION_SESSION, now + timedelta(seconds=1)) == []


def test_protocols_without_integration_sessions_have_no_such_item(people, protocols, now):
    patient = make_patient(people.lead, protocols=protocols, protocol_code="ketamine-iv-trd")
    session(patient, people.lead, SessionKind.DOSING, now - timedelta(days=20), cycle=1)
    assert patient.id not in patients_of(people.supervisor, Kind.INTEGRATION_SESSION)


# Measures overdue ------------------------------------------------------------------------------------------------


def _dosed_days_ago(people, now: datetime, days: int) -> TherapySession:
    held = datetime.combine(now.date() - timedelta(days=days), time(10), tzinfo=UTC)
    return session(people.patient, people.lead, SessionKind.DOSING, held, cycle=1)


def test_measures_after_dosing_are_overdue_once_the_window_closes(people, now):
    window = people.clinic.measure_after_dosing_window_days
    _dosed_days_ago(people, now, window)
    assert found(people.supervisor, Kind.MEASURE_OVERDUE) == []  # the window closes today
    people_session = db.session.scalar(select(TherapySession).where(TherapySession.patient_id == people.patient.id))
    people_session.held_at -= timedelta(days=1)
    db.session.flush()
    assert found(people.supervisor, Kind.MEASURE_OVERDUE) == [(people.patient.id, people_session.id)]


def test_every_instrument_due_after_dosing_must_have_a_result_in_the_window(people, now):
    window = people.clinic.measure_after_dosing_window_days
    dosing = _dosed_days_ago(people, now, window + 1)
    dosed_on = dosing.held_at.date()
    record_measure(people.patient, people.lead, "pcl5", on=dosed_on + timedelta(days=1))
    assert found(people.supervisor, Kind.MEASURE_OVERDUE) == [(people.patient.id, dosing.id)]  # C-SSRS missing
    record_measure(people.patient, people.lead, "cssrs", on=dosed_on + timedelta(days=window))
    db.session.flush()
    assert found(people.supervisor, Kind.MEASURE_OVERDUE) == []


def test_a_result_on_the_dosing_day_itself_does_not_count(people, now):
    window = people.clinic.measure_after_dosing_window_days
    dosing = _dosed_days_ago(people, now, window + 1)
    for code in ("pcl5", "cssrs"):
        record_measure(people.patient, people.lead, code, on=dosing.held_at.date())
    db.session.flush()
    assert found(people.supervisor, Kind.MEASURE_OVERDUE) == [(people.patient.id, dosing.id)]


# No recent session -----------------------------------------------------------------------------------------------


def test_an_active_patient_without_a_session_for_30_days_is_listed(people, now):
    enrolled = people.patient.created_at
    assert found(people.supervisor, Kind.NO_RECENT_SESSION, enrolled + timedelta(days=29)) == []  # new patient
    later = enrolled + timedelta(days=31)
    assert found(people.supervisor, Kind.NO_RECENT_SESSION, later) == [(people.patient.id, None)]
    session(people.patient, people.lead, SessionKind.PREPARATION, later - timedelta(days=30))
    assert found(people.supervisor, Kind.NO_RECENT_SESSION, later) == []  # exactly 30 days ago
    assert found(people.supervisor, Kind.NO_RECENT_SESSION, later + timedelta(seconds=1)) == [(people.patient.id, None)]


def test_a_patient_on_hold_is_not_chased_for_sessions(people, now):
    people.patient.phase = Phase.ON_HOLD
    people.patient.held_from_phase = Phase.PREPARATION
    db.session.flush()
    assert found(people.supervisor, Kind.NO_RECENT_SESSION, now + timedelta(days=60)) == []


# Scope -----------------------------------------------------------------------------------------------------------


def test_rules_only_see_the_patients_of_the_scope(people, now):
    held = session(people.patient, people.lead, SessionKind.PREPARATION, now - timedelta(days=2))
    for user in (people.supervisor, people.lead, people.co_therapist):
        assert found(user, Kind.UNSIGNED_NOTE) == [(people.patient.id, held.id)]
    for user in (people.other_supervisor, people.other_therapist, people.outsider, people.admin):
        assert found(user, Kind.UNSIGNED_NOTE) == []
    trainee = make_user(people.clinic, supervisor=people.supervisor)
    assert found(trainee, Kind.UNSIGNED_NOTE) == []


def test_the_window_closes_early_on_the_day_of_the_next_dosing_session(people, now):
    first = _dosed_days_ago(people, now, 8)
    second = session(people.patient, people.lead, SessionKind.DOSING, first.held_at + timedelta(days=5), cycle=2)
    # After the first: closed on the second's day (three days ago), with nothing recorded; after the second: open.
    assert found(people.supervisor, Kind.MEASURE_OVERDUE) == [(people.patient.id, first.id)]
    for code in ("pcl5", "cssrs"):  # recorded on the day of the second session: still inside the first's window
        record_measure(people.patient, people.lead, code, on=second.held_at.date())
    db.session.flush()
    assert found(people.supervisor, Kind.MEASURE_OVERDUE) == []


def test_each_dosing_session_closes_on_its_own_patients_next_session(people, protocols, now):
    """Another patient's next dosing session must not close this one's window (the rule correlates per patient)."""
    other = make_patient(people.lead, protocols=protocols)
    first = _dosed_days_ago(people, now, 30)
    session(people.patient, people.lead, SessionKind.DOSING, first.held_at + timedelta(days=2), cycle=2)
    for code in ("pcl5", "cssrs"):
        record_measure(people.patient, people.lead, code, on=first.held_at.date() + timedelta(days=1))
    theirs = session(
        other,
        people.lead,
        SessionKind.DOSING,
        datetime.combine(now.date() - timedelta(days=25), time(10), tzinfo=UTC),
        cycle=1,
    )
    for code in ("pcl5", "cssrs"):
        record_measure(other, people.lead, code, on=theirs.held_at.date() + timedelta(days=10))
    db.session.flush()
    assert other.id not in patients_of(people.supervisor, Kind.MEASURE_OVERDUE)
