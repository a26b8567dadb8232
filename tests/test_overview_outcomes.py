"""The clinic overview's outcome figures (``tracker.dashboard.overview.outcomes``): each patient's first and latest
current result on their protocol's primary measure, whatever order the results were entered in."""

from __future__ import annotations

from datetime import timedelta

from tracker.dashboard.overview import outcomes
from tracker.extensions import db
from tracker.factories import make_patient, record_measure, sample_answers
from tracker.models import AdministrationMode
from tracker.models.base import utcnow
from tracker.outcomes.services import ResultInput, correct_result


def _mdma(summaries):
    return next(s for s in summaries if s.protocol.code == "mdma-ptsd")


def test_first_and_latest_are_by_date_not_by_entry(people, protocols):
    today = utcnow().date()
    # Entered out of order: the oldest (the baseline, 0.8) is entered last.
    record_measure(people.patient, people.lead, "pcl5", level=0.5, on=today - timedelta(days=20))
    record_measure(people.patient, people.lead, "pcl5", level=0.2, on=today - timedelta(days=1))
    baseline = record_measure(people.patient, people.lead, "pcl5", level=0.8, on=today - timedelta(days=40))
    latest = record_measure(people.patient, people.lead, "pcl5", level=0.2, on=today - timedelta(days=1))
    record_measure(people.patient, people.lead, "phq9", level=0.9, on=today)  # not the protocol's primary measure
    db.session.flush()
    summary = _mdma(outcomes(db.session, people.patient.clinic_id, protocols))
    assert summary.patients == 1
    assert (summary.patients, summary.total_change) == (1, latest.total - baseline.total)


def test_a_corrected_result_counts_as_corrected_and_one_result_is_no_change(people, protocols):
    today = utcnow().date()
    first = record_measure(people.patient, people.lead, "pcl5", level=0.8, on=today - timedelta(days=30))
    latest = record_measure(people.patient, people.lead, "pcl5", level=0.2, on=today)
    only_one = make_patient(people.lead, protocols=protocols, given_name="Una", family_name="Single")
    record_measure(only_one, people.lead, "pcl5", level=0.8, on=today)
    given = ResultInput("pcl5", sample_answers("pcl5", 0.5), first.administered_on, AdministrationMode.FROM_PAPER)
    corrected = correct_result(people.lead, people.patient, first, given, "Entry error", today)
    db.session.flush()
    assert corrected.total != first.total
    summary = _mdma(outcomes(db.session, people.patient.clinic_id, protocols))
    assert summary.patients == 1  # Una has a single result: no change yet
    # The baseline is the corrected result.
    assert (summary.patients, summary.total_change) == (1, latest.total - corrected.total)
