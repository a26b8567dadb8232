"""Alert e-mail against a real SMTP server on 127.0.0.1 (aiosmtpd): sent at once to the care team and their
supervisors, through the job queue, with no health information; a mail server that is down never breaks the request
that raised the alert, is tried again, and a failure shows on the admin's page; an alert still open after
``ALERT_ESCALATION_MINUTES`` goes to the next supervisor up, once, and says so when nobody is left above."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
import time_machine
from flask import Flask
from sqlalchemy import select

from tests.conftest import audit_actions, login
from tests.smtp_server import Received, free_port, mail_to, smtp_server
from tracker.alerts import notices
from tracker.alerts.acknowledge import acknowledge
from tracker.extensions import db
from tracker.factories import make_user, record_measure
from tracker.models import AlertNotice, NoticeStatus, Role, SafetyAlert, User
from tracker.models.base import utcnow

LINK = re.compile(r"https://tracker\.clinic\.example/alerts/(\d+)")


def phq9_form(item9: str = "2") -> dict[str, str]:
    return {
        "administered_on": utcnow().date().isoformat(),
        "mode": "with_patient",
        **{f"item_{n}": "1" for n in range(1, 9)},
        "item_9": item9,
    }


def address(user: User) -> str:
    return f"{user.username}@clinic.example"


@pytest.fixture
def addresses(people) -> None:
    for user in (people.lead, people.co_therapist, people.supervisor, people.other_supervisor, people.other_therapist):
        user.email = address(user)
    db.session.commit()


@pytest.fixture
def server(app: Flask) -> Iterator[Received]:
    with smtp_server() as (received, port), mail_to(app, port):
        yield received


def raise_by_page(client, people) -> SafetyAlert:
    login(client, people.lead)
    response = client.post(f"/patients/{people.patient.id}/measures/phq9/new", data=phq9_form())
    assert response.status_code == 302
    db.session.expire_all()
    return db.session.scalars(select(SafetyAlert).order_by(SafetyAlert.id.desc())).first()


def notices_of(alert: SafetyAlert) -> list[AlertNotice]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(AlertNotice).where(AlertNotice.alert_id == alert.id).order_by(AlertNotice.level, AlertNotice.user_id)
        )
    )


# --- At once ----------------------------------------------------------------------------------------------------


def test_an_alert_is_emailed_at_once_to_the_care_team_and_their_supervisors(client, people, addresses, server):
    alert = raise_by_page(client, people)
    wanted = sorted(address(u) for u in (people.lead, people.co_therapist, people.supervisor))
    assert server.addresses == wanted  # not the other supervisor or therapist, who do not see the patient
    for _rcpts, message in server.messages:
        assert message["Subject"] == notices.SUBJECT
        assert message["From"] == "care-tracker@clinic.example"
        assert LINK.search(message.get_content()).group(1) == str(alert.id)
    rows = notices_of(alert)
    assert [(n.level, n.status, n.address) for n in rows] == [(0, NoticeStatus.SENT, a) for a in wanted]
    assert all(n.sent_at is not None and n.attempts == 1 for n in rows)


def test_the_message_holds_no_health_information(client, people, addresses, server):
    raise_by_page(client, people)
    assert server.messages
    patient = people.patient
    for _rcpts, message in server.messages:
        whole = message.as_string()
        for secret in (
            patient.given_name,
            patient.family_name,
            patient.record_number,
            "PHQ",
            "Item 9",
            "self-harm",
            "suicid",
            "death",
            "Lena Lead",
            str(patient.id) + "/",
        ):
            assert secret not in whole, secret
        assert "An urgent safety alert in Care Tracker needs you." in message.get_content()
        assert "This message holds no patient information." in message.get_content()


def test_sending_goes_through_the_queue_after_the_commit_not_in_the_request(
    client, people, addresses, server, monkeypatch
):
    queued: list[tuple[object, int]] = []

    monkeypatch.setattr(notices, "enqueue", lambda task, alert_id: queued.append((task, alert_id)))
    alert = raise_by_page(client, people)
    assert queued == [(notices.deliver_alert, alert.id)] and server.messages == []
    notices.deliver_alert(alert.id)  # what the worker runs
    assert len(server.messages) == 3
    notices.deliver_alert(alert.id)  # a message delivered again by the queue sends nothing twice
    assert len(server.messages) == 3


def test_a_queue_that_cannot_be_reached_does_not_break_the_request(client, people, addresses, server, monkeypatch):
    def down(*_args):
        raise ConnectionError("queue down")

    monkeypatch.setattr(notices, "enqueue", down)
    alert = raise_by_page(client, people)  # 302: the alert is saved, and shows in the app
    assert server.messages == [] and {n.status for n in notices_of(alert)} == {NoticeStatus.QUEUED}
    notices.alert_mail_housekeeping()  # the worker's minute
    assert len(server.messages) == 3 and {n.status for n in notices_of(alert)} == {NoticeStatus.SENT}


# --- Failures, retries, the admin's page ---------------------------------------------------------------------------


def test_a_mail_server_that_is_down_is_tried_again_then_failed_and_shown_to_the_admin(app, client, people, addresses):
    port = free_port()  # nothing listens here
    with mail_to(app, port):
        alert = raise_by_page(client, people)  # the request succeeds all the same
        rows = notices_of(alert)
        assert {(n.status, n.attempts) for n in rows} == {(NoticeStatus.QUEUED, 1)}
        assert all(
            "Connection refused" in (n.last_error or "") or "ConnectionRefused" in (n.last_error or "") for n in rows
        )
        login(client, people.admin)
        page = client.get("/admin/alert-mail")
        assert page.status_code == 200 and "Trying again" in page.text and f"#{alert.id}" in page.text
        assert people.patient.family_name not in page.text
        moment = utcnow()
        for wait in notices.RETRY_AFTER:
            moment += wait + timedelta(seconds=1)
            with time_machine.travel(moment, tick=False):
                notices.alert_mail_housekeeping()
        rows = notices_of(alert)
        assert {(n.status, n.attempts) for n in rows} == {(NoticeStatus.FAILED, notices.MAX_ATTEMPTS)}
        page = client.get("/admin/alert-mail").text
        assert "Failed" in page and "Send again" in page and address(people.supervisor) in page
    # The server is back: the admin sends one again, and it goes.
    with smtp_server() as (received, back), mail_to(app, back):
        notice = rows[0]
        response = client.post(f"/admin/alert-mail/{notice.id}/retry")
        assert response.status_code == 303
        assert received.addresses == [notice.address] and notices_of(alert)[0].status is NoticeStatus.SENT
        assert "alert_mail.retry" in audit_actions()


def test_no_address_a_refused_address_and_no_mail_set_up_are_each_shown(app, client, people, server):
    people.lead.email = address(people.lead)
    people.supervisor.email = "nobody@clinic.example"
    db.session.commit()
    server.refuse.add("nobody@clinic.example")
    alert = raise_by_page(client, people)
    by_user = {n.user_id: n for n in notices_of(alert)}
    assert by_user[people.lead.id].status is NoticeStatus.SENT
    assert by_user[people.co_therapist.id].status is NoticeStatus.FAILED
    assert by_user[people.co_therapist.id].last_error == "No e-mail address on the account: add one under Accounts."
    assert by_user[people.supervisor.id].status is NoticeStatus.QUEUED  # tried again later
    assert "550" in (by_user[people.supervisor.id].last_error or "")
    app.config["SMTP_HOST"] = ""
    try:
        other = record_measure(people.patient, people.lead, "phq9", [1] * 8 + [3])
        db.session.commit()
        unsent = [
            n for n in notices_of(db.session.scalar(select(SafetyAlert).where(SafetyAlert.result_id == other.id)))
        ]
        assert {n.last_error for n in unsent} >= {"E-mail is not set up (SMTP_HOST is empty)."}
        login(client, people.admin)
        assert "E-mail is not set up" in client.get("/admin/alert-mail").text
    finally:
        app.config["SMTP_HOST"] = "127.0.0.1"


def test_a_message_not_needed_any_more_is_cancelled(client, people, addresses, server, monkeypatch):
    monkeypatch.setattr(notices, "enqueue", lambda *_args: None)  # the worker is slow today
    alert = raise_by_page(client, people)
    acknowledge(
        people.lead, people.patient, alert, ["patient_contacted"], "Called the patient within minutes.", utcnow()
    )
    db.session.commit()
    notices.alert_mail_housekeeping()
    assert server.messages == []
    assert {(n.status, n.last_error) for n in notices_of(alert)} == {
        (NoticeStatus.CANCELLED, "Not sent: the alert was acknowledged first.")
    }


def test_the_page_is_for_admins_and_lists_only_their_clinic(client, people):
    for persona in ("lead", "supervisor", "outsider"):
        login(client, getattr(people, persona))
        assert client.get("/admin/alert-mail").status_code == 403
        assert client.post("/admin/alert-mail/1/retry").status_code == 403
    login(client, people.admin)
    assert client.post("/admin/alert-mail/999999/retry").status_code == 404


# --- Escalation ----------------------------------------------------------------------------------------------------


@pytest.fixture
def director(people) -> User:
    """The clinical director supervises the supervisor: the next supervisor up."""
    boss = make_user(people.clinic, Role.SUPERVISOR, full_name="Dee Rector", email="director@clinic.example")
    people.supervisor.supervisor_id = boss.id
    db.session.commit()
    return boss


def housekeeping_at(moment) -> None:
    with time_machine.travel(moment, tick=False):
        notices.alert_mail_housekeeping()


def test_an_alert_still_open_is_escalated_to_the_next_supervisor_up_once(
    app, client, people, addresses, server, director
):
    alert = raise_by_page(client, people)
    raised = alert.raised_at
    interval = timedelta(minutes=app.config["ALERT_ESCALATION_MINUTES"])
    assert interval == timedelta(hours=2)  # the default clinic setting
    housekeeping_at(raised + interval - timedelta(minutes=1))
    assert server.to("director@clinic.example") == []
    housekeeping_at(raised + interval + timedelta(minutes=1))
    housekeeping_at(raised + interval + timedelta(minutes=2))  # every minute: never twice
    (message,) = server.to("director@clinic.example")
    assert "It has been open for 2 hours without being acknowledged" in message.get_content()
    assert LINK.search(message.get_content()).group(1) == str(alert.id)
    assert len(server.messages) == 4  # the three at once, and the director
    assert [(n.level, n.user_id) for n in notices_of(alert) if n.level] == [(1, director.id)]
    assert "alert.escalate" in audit_actions()
    # Two hours later nobody is left above the director: that is recorded once, for the admin to see.
    housekeeping_at(raised + 2 * interval + timedelta(minutes=1))
    housekeeping_at(raised + 3 * interval + timedelta(minutes=1))
    dead_end = [n for n in notices_of(alert) if n.user_id is None]
    assert len(dead_end) == 1 and dead_end[0].status is NoticeStatus.FAILED
    assert dead_end[0].last_error == "Open 4 hours: nobody further up the supervision chain to escalate to."
    assert len(server.messages) == 4
    login(client, people.admin)
    assert "nobody further up the supervision chain" in client.get("/admin/alert-mail").text


def test_an_acknowledged_alert_is_not_escalated(app, client, people, addresses, server, director):
    alert = raise_by_page(client, people)
    acknowledge(
        people.lead, people.patient, alert, ["patient_contacted"], "Called the patient within the hour.", utcnow()
    )
    db.session.commit()
    housekeeping_at(alert.raised_at + timedelta(hours=5))
    assert server.to("director@clinic.example") == [] and all(n.level == 0 for n in notices_of(alert))


def test_the_escalation_interval_is_a_clinic_setting(app, client, people, addresses, server, director):
    app.config["ALERT_ESCALATION_MINUTES"] = 30
    try:
        alert = raise_by_page(client, people)
        housekeeping_at(alert.raised_at + timedelta(minutes=31))
        assert len(server.to("director@clinic.example")) == 1
    finally:
        app.config["ALERT_ESCALATION_MINUTES"] = 120


def test_the_link_opens_the_alert_or_for_an_escalated_supervisor_outside_the_care_the_emergency_access(
    client, people, addresses, server, director
):
    alert = raise_by_page(client, people)
    housekeeping_at(alert.raised_at + timedelta(hours=2, minutes=1))
    login(client, people.co_therapist)
    opened = client.get(f"/alerts/{alert.id}")
    assert opened.status_code == 302 and opened.location == f"/patients/{people.patient.id}/alerts/{alert.id}"
    login(client, director)
    page = client.get(f"/alerts/{alert.id}")
    assert page.status_code == 200 and "A safety alert was escalated to you" in page.text
    assert people.patient.record_number in page.text and people.patient.family_name not in page.text
    assert f"/emergency-access?record_number={people.patient.record_number}" in page.text
    form = client.get(f"/emergency-access?record_number={people.patient.record_number}").text
    assert f'value="{people.patient.record_number}"' in form
    for persona in ("other_supervisor", "other_therapist", "outsider"):
        login(client, getattr(people, persona))
        response = client.get(f"/alerts/{alert.id}")
        assert response.status_code == 404 and people.patient.record_number not in response.text
    login(client, people.admin)
    assert client.get(f"/alerts/{alert.id}").status_code == 403
