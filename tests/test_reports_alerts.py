"""An open safety alert is printed in the clinician's summary (the PDF routes are left out of the banner walk in
tests/test_safety_alerts.py, since a PDF has no banner; the patient's own plan does not list alerts)."""

from __future__ import annotations

from tests.conftest import login
from tests.reports_data import text
from tracker.extensions import db
from tracker.factories import record_measure
from tracker.models.base import utcnow


def test_the_summary_lists_open_alerts(client, people):
    record_measure(people.patient, people.lead, "phq9", answers=[1, 1, 1, 1, 1, 1, 1, 1, 2])
    db.session.commit()
    login(client, people.lead)
    body = text(client.get(f"/patients/{people.patient.id}/reports/summary.pdf").data)
    assert "Open safety alerts" in body
    assert "PHQ-9 of" in body and "not yet acknowledged" in body


def test_the_summary_lists_each_urgent_answer_even_once_its_alert_is_acknowledged(client, people):
    """The referral summary said "None open" beside a same-day item-9 answer: the answer itself is now listed,
    with what became of its alert."""
    from tracker.alerts.acknowledge import acknowledge
    from tracker.models import SafetyAlert

    record_measure(people.patient, people.lead, "phq9", answers=[0, 0, 1, 0, 0, 0, 0, 0, 2])
    alert = db.session.query(SafetyAlert).one()
    acknowledge(
        people.lead,
        people.patient,
        alert,
        ["patient_contacted"],
        "Called the patient the same afternoon; no plan or intent.",
        utcnow(),
    )
    record_measure(people.patient, people.lead, "cssrs", answers=["no", "no", None, None, None, "lifetime"])
    record_measure(people.patient, people.lead, "cssrs", answers=["no", "no", None, None, None, "lifetime"])
    db.session.commit()
    login(client, people.lead)
    body = text(client.get(f"/patients/{people.patient.id}/reports/summary.pdf").data)
    assert "Urgent answers" in body
    assert "Item 9 (Thoughts that you would be better off dead" in body and ": 2" in body
    assert "Acknowledged by Lena Lead" in body and "no plan or intent" in body
    assert body.count("Q6 (Suicidal behaviour): lifetime") == 2
    assert "No new alert: the same answer was alerted on before." in body
    assert "Open" in body  # the first C-SSRS alert, still open
    assert "Urgent measure answer." in body


def test_the_summary_lists_open_alerts_of_every_source(client, people, protocols):
    from tests.session_data import adverse_event_form, held_session, in_dosing, minutes_ago, session_url, vitals_form

    in_dosing(people.patient, people.lead, protocols)
    session = held_session(people.patient, people.lead, protocols)
    login(client, people.lead)
    client.post(session_url(people.patient, session, "/vitals"), data=vitals_form(60, systolic="200", diastolic="100"))
    client.post(
        session_url(people.patient, session, "/adverse-events"),
        data=adverse_event_form(serious="yes", severity="severe", description="Seizure", onset_at=minutes_ago(100)),
    )
    body = text(client.get(f"/patients/{people.patient.id}/reports/summary.pdf?draft=1").data)
    assert "Vital sign past the critical limit." in body and "Systolic BP 200 mmHg is above" in body
    assert "Serious adverse event (high risk: holds the next dose)." in body and "Seizure" in body
    assert "None open" not in body
