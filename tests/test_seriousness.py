"""A serious adverse event marked by mistake: a signed correction (reason, password, audit) that never changes the
signed note, and every reader follows it: the session page, the dashboard's queue, the clinic overview (its kept
figures too), the summary and record PDFs, the FHIR export and the safety alert, which stays in the history and
says it was corrected. Plus who may correct, and the rule's module on its own."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from flask import current_app
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from tests.conftest import PASSWORD, audit_actions, login
from tests.reports_data import text as pdf_text
from tests.session_data import in_dosing, session_url
from tracker import adverse_events
from tracker.attention import BY_KIND, Kind, Policy, Scope
from tracker.dashboard import overview
from tracker.dashboard.queries import Filters, patient_ids
from tracker.extensions import db
from tracker.factories import complete_dosing
from tracker.models import (
    AdverseEvent,
    AdverseEventCorrection,
    AlertSource,
    Clinic,
    Outcome,
    SafetyAlert,
    SessionNote,
    Severity,
)
from tracker.models.base import utcnow
from tracker.notes import addenda, saving, signing
from tracker.notes.saving import NoteError
from tracker.sessions import queries

REASON = "Marked serious by mistake: no hospitalisation, recovered on site"


@pytest.fixture
def serious(people, protocols):
    """A signed dosing note holding a serious adverse event (which raised a high-risk alert)."""
    in_dosing(people.patient, people.lead, protocols)
    session = complete_dosing(people.patient, people.lead, protocols, sign=False)
    note = queries.load_note(db.session, session)
    now = utcnow()
    saving.add_adverse_event(
        people.lead,
        people.patient,
        session,
        note,
        saving.AdverseEventInput(
            description="Nausea and vomiting",
            onset_at=now - timedelta(hours=2),
            severity=Severity.MODERATE,
            serious=True,
            action_taken="Antiemetic",
            outcome=Outcome.RECOVERED,
        ),
        now,
    )
    note = queries.load_note(db.session, queries.load_session_or_404(db.session, people.patient, session.id))
    signing.sign_note(
        people.lead, people.patient, session, note, protocols[people.patient.protocol_code], PASSWORD, None, True, now
    )
    db.session.commit()
    return session


def _event() -> AdverseEvent:
    return db.session.scalars(select(AdverseEvent).execution_options(populate_existing=True)).one()


def _url(people, session, suffix: str = "/seriousness") -> str:
    return session_url(people.patient, session, f"/adverse-events/{_event().id}{suffix}")


def _correct(client, people, session, **data: str):
    form = {"serious": "no", "reason": REASON, "password": PASSWORD, **data}
    return client.post(_url(people, session), data=form)


def _queue_ids(people) -> list[int]:
    scope = Scope(
        patient_ids(people.supervisor, Filters()),
        utcnow(),
        Policy.of_clinic(db.session.get_one(Clinic, people.supervisor.clinic_id), current_app.extensions["protocols"]),
    )
    return [row.target_id for row in db.session.execute(BY_KIND[Kind.SERIOUS_ADVERSE_EVENT].query(scope))]


def _serious_count(people) -> int:
    return sum(count.serious for count in overview.adverse_events(db.session, people.patient.clinic_id))


def test_a_signed_correction_never_changes_the_signed_note(client, people, serious):
    note = db.session.scalar(select(SessionNote).where(SessionNote.session_id == serious.id))
    signed_hash, signed_at = note.content_sha256, note.signed_at
    login(client, people.lead)
    page = client.get(_url(people, serious))
    assert page.status_code == 200 and "Correct the seriousness" in page.text and "Nausea and vomiting" in page.text
    assert audit_actions()[-1] == "session.view"
    response = _correct(client, people, serious)
    assert response.status_code == 302
    event = _event()
    assert event.serious is True and event.serious_now is False  # the recorded value stays; the correction stands
    row = db.session.scalars(select(AdverseEventCorrection)).one()
    assert (row.serious, row.reason, row.signed_by_id) == (False, REASON, people.lead.id)
    assert len(row.content_sha256) == 64
    note = db.session.scalar(
        select(SessionNote).where(SessionNote.session_id == serious.id).execution_options(populate_existing=True)
    )
    assert (note.content_sha256, note.signed_at) == (signed_hash, signed_at)
    assert signing.verify([(queries.load_note(db.session, serious), serious)]) == []
    assert "adverse_event.correct_seriousness" in audit_actions()
    shown = client.get(session_url(people.patient, serious)).text
    assert "Seriousness corrected" in shown and REASON in shown and "the signed note says serious" in shown


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"password": ""}, "password", "Enter your password to sign the correction."),
        ({"password": "not my password"}, "password", "That is not your password"),
        ({"reason": "  "}, "reason", "Say why the seriousness is corrected."),
        ({"serious": ""}, "serious", "Say whether the event is serious."),
        ({"serious": "maybe"}, "serious", "Not a valid choice"),
        ({"serious": "yes"}, "serious", "This event already stands as serious."),
    ],
)
def test_a_refused_correction_says_why_beside_the_field(client, people, serious, data, field, message):
    login(client, people.lead)
    response = _correct(client, people, serious, **data)
    assert response.status_code == 422 and message in response.text
    assert f'id="{field}"' in response.text
    assert db.session.scalar(select(AdverseEventCorrection)) is None
    if data.get("password") == "not my password":
        assert "auth.reauth_failed" in audit_actions()


def test_every_count_follows_the_corrected_seriousness(client, people, serious):
    event_session_id = serious.id
    assert _queue_ids(people) == [event_session_id]
    clinic = db.session.get_one(Clinic, people.patient.clinic_id)
    protocols = current_app.extensions["protocols"]
    kept = overview.figures(db.session, clinic, protocols, utcnow(), timedelta(minutes=5))
    assert sum(e.serious for e in kept.events) == 1 == _serious_count(people)
    login(client, people.lead)
    assert "Nausea and vomiting (Moderate, serious)" in pdf_text(
        client.get(f"/patients/{people.patient.id}/reports/summary.pdf").data
    )
    assert _correct(client, people, serious).status_code == 302
    assert _queue_ids(people) == []  # the dashboard and My day
    assert _serious_count(people) == 0
    # The overview's kept figures are forgotten at once: the next view counts again.
    again = overview.figures(db.session, clinic, protocols, utcnow(), timedelta(minutes=5))
    assert sum(e.serious for e in again.events) == 0 and sum(e.total for e in again.events) == 1
    summary = pdf_text(client.get(f"/patients/{people.patient.id}/reports/summary.pdf").data)
    assert "serious" not in summary.split("Nausea and vomiting")[1].split(")")[0].replace("seriousness", "")
    assert "seriousness corrected" in summary
    record = pdf_text(client.get(session_url(people.patient, serious, "/record.pdf")).data)
    assert "seriousness corrected to not serious" in record and REASON.split(":")[0] in record
    bundle = json.loads(client.get(f"/patients/{people.patient.id}/fhir").text)
    [adverse] = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "AdverseEvent"]
    assert adverse["seriousness"]["coding"][0]["code"] == "Non-serious"


def test_the_alert_stays_in_the_history_and_says_it_was_corrected(client, people, serious):
    alert = db.session.scalars(select(SafetyAlert).where(SafetyAlert.source == AlertSource.ADVERSE_EVENT)).one()
    login(client, people.lead)
    assert _correct(client, people, serious).status_code == 302
    db.session.refresh(alert)
    assert alert.is_open and alert.high_risk  # still holds the next dose until a supervisor closes it
    login(client, people.supervisor)
    page = client.get(f"/patients/{people.patient.id}/alerts/{alert.id}").text
    assert "Its seriousness has since been corrected to not serious" in page and REASON in page
    response = client.post(
        f"/patients/{people.patient.id}/alerts/{alert.id}",
        data={"actions": ["entry_error"], "action_taken": "Marked serious by mistake; the correction is signed."},
    )
    assert response.status_code == 302
    db.session.refresh(alert)
    assert not alert.is_open and db.session.scalar(select(SafetyAlert.id).where(SafetyAlert.id == alert.id))


def test_correcting_to_serious_raises_the_high_risk_alert(client, people, serious):
    login(client, people.lead)
    assert _correct(client, people, serious).status_code == 302
    assert (
        _correct(
            client, people, serious, serious="yes", reason="It was serious after all: admitted overnight"
        ).status_code
        == 302
    )
    assert _event().serious_now is True and _queue_ids(people) == [serious.id]
    open_alerts = db.session.scalars(
        select(SafetyAlert).where(
            SafetyAlert.source == AlertSource.ADVERSE_EVENT, SafetyAlert.acknowledged_at.is_(None)
        )
    ).all()
    assert len(open_alerts) == 1  # the first is still open: no second alert for the same event


def test_a_draft_is_not_corrected_but_edited(client, people, protocols):
    in_dosing(people.patient, people.lead, protocols)
    session = complete_dosing(people.patient, people.lead, protocols, sign=False)
    note = queries.load_note(db.session, session)
    saving.add_adverse_event(
        people.lead,
        people.patient,
        session,
        note,
        saving.AdverseEventInput(
            description="Headache",
            onset_at=utcnow() - timedelta(hours=1),
            severity=Severity.MILD,
            serious=True,
            action_taken="Water",
            outcome=Outcome.RECOVERED,
        ),
        utcnow(),
    )
    db.session.commit()
    login(client, people.lead)
    response = _correct(client, people, session)
    assert response.status_code == 409 and "still a draft" in response.text
    assert db.session.scalar(select(AdverseEventCorrection)) is None
    # Its removal is confirmed first, on a page that carries the safety banner and says the alert stays.
    note = queries.load_note(db.session, session)
    for suffix in (f"/vitals/{note.vitals[0].id}/remove", f"/adverse-events/{note.adverse_events[0].id}/remove"):
        confirm = client.get(session_url(people.patient, session, suffix))
        assert confirm.status_code == 200 and 'id="safety-alerts"' in confirm.text, suffix
    assert "The safety alert this serious event raised stays" in confirm.text


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("lead", 200),
        ("co_therapist", 200),
        ("supervisor", 200),
        ("other_therapist", 404),
        ("other_supervisor", 404),
        ("outsider", 404),
        ("admin", 403),
    ],
)
def test_only_the_care_team_and_its_supervisor_open_or_sign_a_correction(client, people, serious, persona, status):
    login(client, getattr(people, persona))
    page = client.get(_url(people, serious))
    assert page.status_code == status
    posted = _correct(client, people, serious)
    assert posted.status_code == (302 if status == 200 else status)
    if status != 200:
        assert "Nausea" not in page.text and "Nausea" not in posted.text
        assert db.session.scalar(select(AdverseEventCorrection)) is None


def test_an_unknown_event_is_404(client, people, serious):
    login(client, people.lead)
    assert client.get(session_url(people.patient, serious, "/adverse-events/999999/seriousness")).status_code == 404


def test_corrections_are_append_only(client, people, serious):
    login(client, people.lead)
    _correct(client, people, serious)
    for statement in ("UPDATE adverse_event_correction SET serious = true", "DELETE FROM adverse_event_correction"):
        with pytest.raises(DBAPIError, match="append-only"), db.session.begin_nested():
            db.session.execute(text(statement))


def test_the_rule_the_newest_correction_stands(people, serious):
    event, note = _event(), queries.load_note(db.session, serious)
    assert adverse_events.is_serious(event) is True
    addenda.correct(people.lead, people.patient, serious, note, event, False, "mistake", PASSWORD, utcnow())
    assert adverse_events.is_serious(event) is False
    with pytest.raises(NoteError, match="already stands as not serious"):
        addenda.correct(people.lead, people.patient, serious, note, event, False, "again", PASSWORD, utcnow())
    addenda.correct(
        people.lead, people.patient, serious, note, event, True, "was right", PASSWORD, utcnow() + timedelta(seconds=1)
    )
    assert adverse_events.is_serious(_event()) is True
    assert db.session.scalar(select(AdverseEvent.id).where(adverse_events.SERIOUS.is_(True))) == event.id


def test_the_correction_page_carries_the_safety_banner(client, people, serious):
    alert = db.session.scalars(select(SafetyAlert)).one()
    login(client, people.co_therapist)
    page = client.get(_url(people, serious)).text
    assert 'id="safety-alerts"' in page and f'href="/patients/{people.patient.id}/alerts/{alert.id}"' in page
