"""Emergency ("break-glass") access: time-boxed, needs a reason and the password, every use flagged in the audit."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from tests.conftest import PASSWORD, login
from tracker.extensions import db
from tracker.models import AuditEvent, EmergencyAccess
from tracker.models.base import utcnow

REASON = "Crisis call from the patient while the care team is away"


def _ask(client, record_number="CANARY-1", reason=REASON, password=PASSWORD):
    return client.post(
        "/emergency-access", data={"record_number": record_number, "reason": reason, "password": password}
    )


def _grants() -> int:
    return len(db.session.scalars(select(EmergencyAccess)).all())


def test_without_a_grant_the_patient_is_hidden(client, people):
    login(client, people.other_therapist)
    assert client.get(f"/patients/{people.patient.id}").status_code == 404


def test_a_grant_opens_the_patient_and_flags_everything_done_under_it(client, people):
    login(client, people.other_therapist)
    response = _ask(client)
    assert response.status_code == 302 and response.location == f"/patients/{people.patient.id}"
    page = client.get(response.location)
    assert page.status_code == 200 and "Zzpatient" in page.text and "Emergency access." in page.text
    client.post(f"/patients/{people.patient.id}/phase", data={"target": "on_hold", "reason": "Admitted to hospital"})
    events = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.patient_id == people.patient.id, AuditEvent.actor_id == people.other_therapist.id)
        .order_by(AuditEvent.id)
    ).all()
    assert [e.action for e in events] == ["emergency.grant", "patient.view", "patient.phase_change"]
    assert all(e.data and e.data["emergency_access"] for e in events)
    assert events[0].data["reason"] == REASON


def test_the_care_team_is_not_flagged(client, people):
    login(client, people.lead)
    client.get(f"/patients/{people.patient.id}")
    event = db.session.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()))
    assert event.action == "patient.view" and not (event.data or {}).get("emergency_access")


def test_the_grant_expires(app, client, people):
    login(client, people.other_therapist)
    _ask(client)
    hours = app.config["EMERGENCY_ACCESS_HOURS"]
    with time_machine.travel(utcnow() + timedelta(hours=hours, minutes=1), tick=False):
        login(client, people.other_therapist)  # a fresh session: the old one has idled out
        assert client.get(f"/patients/{people.patient.id}").status_code == 404


@pytest.mark.parametrize(
    "overrides,field,message",
    [
        ({"password": "not my password at all"}, "password", "That is not your password."),
        ({"reason": "because"}, "reason", "at least 20 characters"),
        ({"reason": ""}, "reason", "Describe the emergency."),
        ({"record_number": "NOPE-9"}, "record_number", "No patient of your clinic has this record number."),
    ],
)
def test_a_bad_request_grants_nothing(client, people, overrides, field, message):
    login(client, people.other_therapist)
    response = _ask(client, **overrides)
    assert response.status_code == 422
    assert message in response.text and f'id="{field}-error"' in response.text
    assert _grants() == 0
    assert client.get(f"/patients/{people.patient.id}").status_code == 404


def test_another_clinics_patient_cannot_be_opened(client, people):
    login(client, people.outsider)
    response = _ask(client)
    assert response.status_code == 422 and "No patient of your clinic" in response.text
    assert _grants() == 0


def test_a_patient_already_in_care_needs_no_grant(client, people):
    login(client, people.supervisor)
    response = _ask(client)
    assert response.status_code == 422 and "already in your care" in response.text


def test_admins_cannot_use_emergency_access(client, people):
    login(client, people.admin)
    assert client.get("/emergency-access").status_code == 403
    assert _ask(client).status_code == 403


def test_the_audit_page_shows_emergency_use(client, people):
    login(client, people.other_therapist)
    _ask(client)
    login(client, people.supervisor)
    page = client.get("/audit/?patient=CANARY-1").text
    assert "emergency.grant" in page and "emergency access</span>" in page


def test_emergency_access_is_view_only_for_the_fhir_export_and_questionnaire_links(client, people):
    """A copy of the record or a link valid for days outlives a grant of four hours: both are refused, audited."""
    from tests.test_questionnaire_links import make_link
    from tracker.models import QuestionnaireLink

    make_link(people)
    link = db.session.scalar(select(QuestionnaireLink))
    login(client, people.other_therapist)
    assert _ask(client).status_code == 302
    exported = client.get(f"/patients/{people.patient.id}/fhir")
    assert exported.status_code == 403 and "Zzpatient" not in exported.text
    assert "Emergency access is for viewing this record only" in exported.text
    assert client.get(f"/patients/{people.patient.id}/questionnaires").status_code == 200  # looking is allowed
    sent = client.post(f"/patients/{people.patient.id}/questionnaires", data={"instruments": ["phq9"]})
    assert sent.status_code == 403 and "sending the patient a questionnaire link" in sent.text.lower()
    withdrawn = client.post(f"/patients/{people.patient.id}/questionnaires/{link.id}/withdraw")
    assert withdrawn.status_code == 403
    db.session.expire_all()
    assert len(db.session.scalars(select(QuestionnaireLink)).all()) == 1
    assert db.session.scalar(select(QuestionnaireLink.withdrawn_at)) is None
    refused = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "patient.emergency_refused")).all()
    assert len(refused) == 3 and all(e.data["emergency_access"] for e in refused)
    assert "fhir.export" not in [e.action for e in db.session.scalars(select(AuditEvent))]
