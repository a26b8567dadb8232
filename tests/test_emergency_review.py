"""Break-glass review: every emergency access grant waits for a supervisor of the clinic, not the one who used it,
to judge it justified or not in writing; a review is final; grants unreviewed for a day are on the dashboard."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from tests.conftest import PASSWORD, login
from tracker.extensions import db
from tracker.models import AuditEvent, EmergencyAccess, EmergencyReview
from tracker.models.base import utcnow

REASON = "Crisis call from the patient while the care team is away"
COMMENT = "Called the patient's lead therapist, who confirmed the crisis call; one page opened."


@pytest.fixture
def grant(client, people) -> EmergencyAccess:
    login(client, people.other_therapist)
    response = client.post(
        "/emergency-access", data={"record_number": "CANARY-1", "reason": REASON, "password": PASSWORD}
    )
    assert response.status_code == 302
    client.get(f"/patients/{people.patient.id}")
    return db.session.scalar(select(EmergencyAccess))


def test_a_grant_waits_in_the_clinics_supervisors_queue(client, people, grant):
    for supervisor in (people.supervisor, people.other_supervisor):
        login(client, supervisor)
        page = client.get("/emergency-access/reviews")
        assert page.status_code == 200 and REASON in page.text and "CANARY-1" in page.text
        assert "Olga Other" in page.text
    login(client, people.outsider)  # another clinic's supervisor
    assert REASON not in client.get("/emergency-access/reviews").text
    assert client.get(f"/emergency-access/reviews/{grant.id}").status_code == 404
    login(client, people.lead)  # a therapist only
    assert client.get("/emergency-access/reviews").status_code == 403


def test_a_supervisor_judges_it_in_writing_once(client, people, grant):
    login(client, people.other_supervisor)  # not the patient's supervisor: any supervisor of the clinic may
    short = client.post(f"/emergency-access/reviews/{grant.id}", data={"justified": "yes", "comment": "ok"})
    assert short.status_code == 422 and "at least 20 characters" in short.text
    done = client.post(f"/emergency-access/reviews/{grant.id}", data={"justified": "no", "comment": COMMENT})
    assert done.status_code == 303
    review = db.session.scalar(select(EmergencyReview))
    assert (review.reviewer_id, review.justified, review.comment) == (people.other_supervisor.id, False, COMMENT)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "emergency.review"))
    assert event.patient_id == people.patient.id and event.data["justified"] is False
    login(client, people.supervisor)
    again = client.post(f"/emergency-access/reviews/{grant.id}", data={"justified": "yes", "comment": COMMENT + "!"})
    assert again.status_code == 200 and "Not justified" in again.text
    assert db.session.scalar(select(EmergencyReview.justified)) is False
    assert "No emergency access is waiting for review." in client.get("/emergency-access/reviews").text


def test_nobody_reviews_their_own_emergency_access(client, people):
    people.other_supervisor.is_therapist = True
    db.session.commit()
    login(client, people.other_supervisor)
    client.post("/emergency-access", data={"record_number": "CANARY-1", "reason": REASON, "password": PASSWORD})
    own = db.session.scalar(select(EmergencyAccess))
    response = client.post(f"/emergency-access/reviews/{own.id}", data={"justified": "yes", "comment": COMMENT})
    assert response.status_code == 422 and "another supervisor of the clinic reviews it" in response.text
    assert db.session.scalar(select(EmergencyReview)) is None


def test_a_review_cannot_be_changed_in_the_database(client, people, grant):
    login(client, people.supervisor)
    client.post(f"/emergency-access/reviews/{grant.id}", data={"justified": "yes", "comment": COMMENT})
    with pytest.raises(DBAPIError), db.session.begin_nested():
        db.session.execute(text("UPDATE emergency_review SET justified = NOT justified"))
    with pytest.raises(DBAPIError), db.session.begin_nested():
        db.session.execute(text("DELETE FROM emergency_review"))


def test_an_unreviewed_grant_older_than_a_day_is_on_the_dashboard(app, client, people, grant):
    login(client, people.supervisor)
    assert "Emergency access not reviewed" not in client.get("/dashboard").text
    with time_machine.travel(
        utcnow() + timedelta(hours=app.config["ATTENTION_EMERGENCY_REVIEW_HOURS"], minutes=1), tick=False
    ):
        login(client, people.supervisor)
        page = client.get("/dashboard?kind=emergency_review").text
        assert "Emergency access not reviewed" in page and f"/emergency-access/reviews/{grant.id}" in page
        client.post(f"/emergency-access/reviews/{grant.id}", data={"justified": "yes", "comment": COMMENT})
        assert "Emergency access not reviewed" not in client.get("/dashboard").text
