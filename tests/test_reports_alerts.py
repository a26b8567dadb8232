"""An open safety alert is printed in the clinician's summary (the PDF routes are left out of the banner walk in
tests/test_safety_alerts.py, since a PDF has no banner; the patient's own plan does not list alerts)."""

from __future__ import annotations

from tests.conftest import login
from tests.reports_data import text
from tracker.extensions import db
from tracker.factories import record_measure


def test_the_summary_lists_open_alerts(client, people):
    record_measure(people.patient, people.lead, "phq9", answers=[1, 1, 1, 1, 1, 1, 1, 1, 2])
    db.session.commit()
    login(client, people.lead)
    body = text(client.get(f"/patients/{people.patient.id}/reports/summary.pdf").data)
    assert "Open safety alerts" in body
    assert "PHQ-9 of" in body and "not yet acknowledged" in body
