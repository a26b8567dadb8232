"""Sessions through the pages: scheduling and recording, the plan's labels ("dosing 2 of 3", "integration 1 of 3
after dosing 2"), planned against done and what is next on the patient page, editing until signed, bad input."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from tests.conftest import audit_actions, login
from tests.session_data import ago, held_session, in_dosing, minutes_ago, session_url, stamp
from tracker.extensions import db
from tracker.factories import complete_dosing, walk_to
from tracker.models import AuditEvent, Phase, SessionKind, TherapySession
from tracker.models.base import utcnow
from tracker.protocols import SessionPlan
from tracker.sessions.plan import Tally, progress, session_label


def sessions() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(TherapySession))


NEXT_MONTH = stamp(ago(-60 * 24 * 30))


def form(**overrides: str) -> dict[str, object]:
    data: dict[str, object] = {
        "kind": "preparation",
        "cycle": "",
        "scheduled_at": "",
        "scheduled_minutes": "",
        "held_at": "",
        "duration_minutes": "",
        "location": "Room 3",
        "present_ids": [],
    }
    data.update(overrides)
    return data


def test_it_schedules_a_session_and_records_it_when_held(client, people):
    login(client, people.lead)
    tomorrow = stamp(ago(-24 * 60))
    response = client.post(
        f"/patients/{people.patient.id}/sessions/new",
        data=form(
            scheduled_at=tomorrow,
            scheduled_minutes="90",
            present_ids=[str(people.lead.id), str(people.co_therapist.id)],
        ),
    )
    assert response.status_code == 302
    row = db.session.scalar(select(TherapySession))
    assert row.held_at is None and row.scheduled_minutes == 90 and row.location == "Room 3"
    page = client.get(response.location).text
    assert "Preparation 1 of 3" in page and "Cody Co, Lena Lead" in page and "not yet" in page
    patient_page = client.get(f"/patients/{people.patient.id}").text
    assert "Scheduled: <a" in patient_page and "Preparation 1 of 3" in patient_page
    edit = client.post(
        session_url(people.patient, row, "/edit"),
        data=form(
            scheduled_at=tomorrow,
            scheduled_minutes="90",
            held_at=minutes_ago(120),
            duration_minutes="75",
            present_ids=[str(people.lead.id)],
        ),
    )
    assert edit.status_code == 302
    db.session.expire_all()
    assert db.session.get(TherapySession, row.id).duration_minutes == 75
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "session.update"))
    assert set(event.data["changes"]) == {"held_at", "duration_minutes", "present"}


def test_labels_follow_the_plan_and_the_patient_page_says_what_is_next(client, people, protocols):
    patient = in_dosing(people.patient, people.lead, protocols)
    walk_to(patient, Phase.INTEGRATION, people.lead, protocols)
    with time_machine.travel(utcnow() + timedelta(days=30)):  # dosing sessions are 3 weeks apart at least
        walk_to(patient, Phase.DOSING, people.lead, protocols)
        walk_to(patient, Phase.INTEGRATION, people.lead, protocols)  # now after dosing 2
        db.session.commit()
        first = held_session(patient, people.lead, protocols, kind=SessionKind.INTEGRATION)
        login(client, people.lead)
        assert "Integration 1 of 3 after dosing 2" in client.get(session_url(patient, first)).text
        page = client.get(f"/patients/{patient.id}").text
        assert "Integration 2 of 3 after dosing 2." in page  # what is next
        assert "Dosing 2 of 3" in page and "Integration 3 of 3 after dosing 1" in page
        listing = client.get(f"/patients/{patient.id}/sessions").text
        assert "Dosing 1 of 3" in listing and "Follow-up contact 1 after dosing 2" in listing
        assert audit_actions()[-1] == "session.list"


def test_a_held_dosing_session_waits_for_the_dosing_phase(client, people):
    login(client, people.lead)
    response = client.post(
        f"/patients/{people.patient.id}/sessions",
        data={"kind": "dosing", "held_at": minutes_ago(60), "duration_minutes": "300"},
    )
    assert response.status_code == 422 and 'id="kind-error"' in response.text
    assert "can be recorded as held only while the patient is in dosing" in response.text
    scheduled = client.post(
        f"/patients/{people.patient.id}/sessions/new", data=form(kind="dosing", scheduled_at=stamp(ago(-60 * 24 * 7)))
    )
    assert scheduled.status_code == 302  # planning ahead is fine
    assert "Dosing 1 of 3" in client.get(scheduled.location).text


def test_one_dosing_session_per_cycle(client, people, protocols):
    in_dosing(people.patient, people.lead, protocols)
    held_session(people.patient, people.lead, protocols)
    login(client, people.lead)
    response = client.post(
        f"/patients/{people.patient.id}/sessions/new",
        data=form(kind="dosing", held_at=minutes_ago(30), duration_minutes="60"),
    )
    assert response.status_code == 422 and "Dosing 1 already has a session on record" in response.text
    assert db.session.scalar(select(func.count()).where(TherapySession.kind == SessionKind.DOSING)) == 1


def test_the_follow_up_link_prefills_the_next_day(client, people, protocols):
    in_dosing(people.patient, people.lead, protocols)
    session = held_session(people.patient, people.lead, protocols)
    login(client, people.lead)
    page = client.get(session_url(people.patient, session)).text
    assert "Schedule the next-day follow-up contact" in page
    link = f"/patients/{people.patient.id}/sessions/new?kind=follow_up&amp;cycle=1&amp;scheduled_at="
    assert link in page
    new = client.get(link.replace("&amp;", "&") + stamp(session.held_at + (ago(0) - ago(24 * 60)))).text
    assert '<option selected value="follow_up">' in new and 'name="cycle" type="number" value="1"' in new
    next_day = stamp(session.held_at.replace(tzinfo=None) + (ago(0) - ago(24 * 60)))
    assert f'name="scheduled_at" type="datetime-local" value="{next_day}"' in new


BAD = [
    ({"kind": "party"}, "kind", "Not a valid choice"),
    ({}, "held_at", "Enter when the session took place, or when it is scheduled."),
    ({"held_at": "yesterday"}, "held_at", "Not a valid datetime value."),
    ({"held_at": "2999-01-01T10:00", "duration_minutes": "60"}, "held_at", "cannot be in the future"),
    ({"held_at": minutes_ago(60)}, "duration_minutes", "Enter the duration in minutes."),
    ({"held_at": minutes_ago(60), "duration_minutes": "721"}, "duration_minutes", "between 1 and 720"),
    ({"held_at": "2020-01-01T10:00", "duration_minutes": "60"}, "held_at", "before the patient was enrolled"),
    ({"scheduled_at": "2020-01-01T10:00"}, "scheduled_at", "before the patient was enrolled"),
    ({"scheduled_at": "2999-01-01T10:00"}, "scheduled_at", "more than two years ahead"),
    ({"scheduled_at": NEXT_MONTH, "scheduled_minutes": "0"}, "scheduled_minutes", "between 1 and 720"),
    ({"scheduled_at": NEXT_MONTH, "cycle": "2"}, "cycle", "belong to no dosing cycle"),
    ({"kind": "integration", "scheduled_at": NEXT_MONTH, "cycle": "4"}, "cycle", "between 1 and 3"),
    ({"kind": "integration", "scheduled_at": NEXT_MONTH, "cycle": "0"}, "cycle", "from 1"),
    ({"scheduled_at": NEXT_MONTH, "location": "x" * 121}, "location", "at most 120"),
    ({"scheduled_at": NEXT_MONTH, "present_ids": ["999999"]}, "present_ids", "not a valid choice"),
]


@pytest.mark.parametrize("values,field,message", BAD)
def test_bad_session_input_is_refused_beside_the_field(client, people, values, field, message):
    login(client, people.lead)
    response = client.post(f"/patients/{people.patient.id}/sessions/new", data=form(**values))
    assert response.status_code == 422
    assert f'id="{field}-error"' in response.text and message in response.text
    assert sessions() == 0


def test_therapists_present_must_be_on_the_care_team(client, people):
    login(client, people.lead)
    response = client.post(
        f"/patients/{people.patient.id}/sessions/new",
        data=form(scheduled_at=NEXT_MONTH, present_ids=[str(people.other_therapist.id)]),
    )
    assert response.status_code == 422 and 'id="present_ids-error"' in response.text


def test_the_sessions_list_is_paginated(client, people, protocols):
    for number in range(30):
        held_session(
            people.patient,
            people.lead,
            protocols,
            kind=SessionKind.PREPARATION,
            started_minutes_ago=10_000 + number * 60,
        )
    login(client, people.lead)
    first = client.get(f"/patients/{people.patient.id}/sessions").text
    assert "30 sessions, newest first" in first and 'aria-label="Pages"' in first
    assert "Preparation 30 (3 planned)" in first and "Preparation 1 of 3" not in first
    second = client.get(f"/patients/{people.patient.id}/sessions?page=2").text
    assert "Preparation 1 of 3" in second
    assert client.get(f"/patients/{people.patient.id}/sessions?page=0").status_code == 400


def test_a_signed_dosing_session_is_read_only_and_the_page_says_why(client, people, protocols):
    in_dosing(people.patient, people.lead, protocols)
    session = complete_dosing(people.patient, people.lead, protocols)
    db.session.commit()
    login(client, people.supervisor)
    page = client.get(session_url(people.patient, session)).text
    assert "Edit session details" not in page and "Add an addendum" in page and "LOT-01-2026" in page
    assert "Met</span>" in page and "Escort or driver named" in page


# The plan, as pure functions -------------------------------------------------------------------------------------

PLAN = SessionPlan(preparation=3, dosing=3, integration_per_dosing=3)


@pytest.mark.parametrize(
    "kind,cycle,ordinal,label",
    [
        (SessionKind.PREPARATION, None, 2, "Preparation 2 of 3"),
        (SessionKind.PREPARATION, None, 4, "Preparation 4 (3 planned)"),
        (SessionKind.DOSING, 2, 1, "Dosing 2 of 3"),
        (SessionKind.INTEGRATION, 2, 1, "Integration 1 of 3 after dosing 2"),
        (SessionKind.FOLLOW_UP, 1, 3, "Follow-up contact 3 after dosing 1"),
    ],
)
def test_session_labels(kind, cycle, ordinal, label):
    assert session_label(kind, cycle, ordinal, PLAN) == label


@pytest.mark.parametrize(
    "phase,cycle,tallies,step",
    [
        (Phase.PREPARATION, 0, [], "Preparation 1 of 3."),
        (Phase.PREPARATION, 0, [Tally(SessionKind.PREPARATION, None, 3, 3, 3)], "Dosing 1 of 3, once the dosing gate"),
        (Phase.DOSING, 2, [], "Dosing 2 of 3."),
        (Phase.DOSING, 2, [Tally(SessionKind.DOSING, 2, 1, 1, 0)], "Sign the note of dosing 2 of 3"),
        (Phase.DOSING, 2, [Tally(SessionKind.DOSING, 2, 1, 1, 1)], "Move to integration after dosing 2."),
        (Phase.INTEGRATION, 2, [Tally(SessionKind.INTEGRATION, 2, 1, 1, 1)], "Integration 2 of 3 after dosing 2."),
        (Phase.INTEGRATION, 2, [Tally(SessionKind.INTEGRATION, 2, 3, 3, 2)], "Sign the notes of the integration"),
        (Phase.INTEGRATION, 2, [Tally(SessionKind.INTEGRATION, 2, 3, 3, 3)], "Dosing 3 of 3, once the dosing gate"),
        (Phase.INTEGRATION, 3, [Tally(SessionKind.INTEGRATION, 3, 3, 3, 3)], "All planned sessions are done"),
        (Phase.ON_HOLD, 1, [], "On hold; treatment resumes in dosing."),
        (Phase.COMPLETED, 3, [], "No further sessions"),
    ],
)
def test_what_is_next(phase, cycle, tallies, step):
    result = progress(PLAN, tallies, phase, cycle, Phase.DOSING if phase is Phase.ON_HOLD else None)
    assert result.next_step.startswith(step)


def test_planned_against_done_rows():
    result = progress(
        PLAN,
        [
            Tally(SessionKind.PREPARATION, None, 4, 3, 2),
            Tally(SessionKind.INTEGRATION, 1, 2, 1, 1),
            Tally(SessionKind.FOLLOW_UP, 1, 1, 0, 0),
        ],
        Phase.INTEGRATION,
        1,
        None,
    )
    rows = {row.label: (row.planned, row.held, row.signed, row.scheduled) for row in result.rows}
    assert rows == {
        "Preparation": (3, 3, 2, 1),
        "Dosing": (3, 0, 0, 0),
        "Integration after dosing 1": (3, 1, 1, 1),
        "Follow-up contacts": (None, 0, 0, 1),
    }
    assert utcnow()
