"""Baseline measures missing block the move to dosing: the guard names each instrument the protocol wants at
baseline, says what to do, counts only current results dated on or before the move and recent enough, and does
not ask again before later dosing cycles."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from tests.conftest import login
from tracker import workflow
from tracker.extensions import db
from tracker.factories import (
    answer_screening,
    log_sessions,
    record_baseline_measures,
    record_measure,
    walk_to,
    write_preparation_notes,
)
from tracker.models import Phase, SessionKind
from tracker.models.base import utcnow
from tracker.outcomes.services import ResultInput, correct_result
from tracker.screening.services import current_checklist, sign_off
from tracker.workflow import TransitionError

MISSING = "Baseline {} not recorded: record it on the patient's measures page before the first dosing session."


def screened(people, protocols, code="mdma-ptsd", days_ago=2):
    """Everything the dosing gate asks for except the baseline measures: the screening done ``days_ago`` days ago,
    the preparation sessions before it."""
    patient = people.patient
    protocol = protocols[code]
    at = utcnow() - timedelta(days=days_ago)
    answer_screening(patient, people.lead, protocol, at=at)
    sign_off(people.lead, current_checklist(db.session, patient), protocol, now=at)
    log_sessions(patient, people.lead, SessionKind.PREPARATION, protocol.sessions.preparation, days_ago + 2)
    db.session.flush()
    write_preparation_notes(patient, people.lead, protocols)
    return protocol


def refused(people, protocol) -> list[str]:
    with pytest.raises(TransitionError) as refusal:
        workflow.move(db.session, people.patient, Phase.DOSING, people.lead, protocol)
    assert people.patient.phase is Phase.PREPARATION
    return refusal.value.reasons


def test_each_missing_baseline_is_named(people, protocols):
    mdma = screened(people, protocols)
    assert [m.instrument for m in mdma.measures if "baseline" in m.timepoints] == ["pcl5", "cssrs"]
    assert refused(people, mdma) == [MISSING.format("PCL-5"), MISSING.format("C-SSRS")]
    record_measure(people.patient, people.lead, "pcl5")
    assert refused(people, mdma) == [MISSING.format("C-SSRS")]
    record_measure(people.patient, people.lead, "cssrs")
    workflow.move(db.session, people.patient, Phase.DOSING, people.lead, mdma)
    assert people.patient.phase is Phase.DOSING


def test_a_baseline_older_than_the_clinic_setting_is_refused(people, protocols):
    mdma = screened(people, protocols)
    record_baseline_measures(people.patient, people.lead, mdma, on=utcnow().date() - timedelta(days=31))
    old = (utcnow().date() - timedelta(days=31)).isoformat()
    assert refused(people, mdma) == [
        f"Baseline PCL-5: the latest is dated {old}, more than 30 days before this first dosing session. "
        "Record a new one.",
        f"Baseline C-SSRS: the latest is dated {old}, more than 30 days before this first dosing session. "
        "Record a new one.",
    ]
    people.clinic.measure_baseline_max_age_days = 31  # the clinic's setting
    db.session.flush()
    workflow.move(db.session, people.patient, Phase.DOSING, people.lead, mdma)


def test_thirty_days_old_still_counts(people, protocols):
    mdma = screened(people, protocols)
    record_baseline_measures(people.patient, people.lead, mdma, on=utcnow().date() - timedelta(days=30))
    workflow.move(db.session, people.patient, Phase.DOSING, people.lead, mdma)


def test_a_corrected_baseline_counts_through_its_correction(people, protocols):
    mdma = screened(people, protocols)
    record_measure(people.patient, people.lead, "cssrs")
    stale = record_measure(people.patient, people.lead, "pcl5", on=utcnow().date() - timedelta(days=45))
    assert refused(people, mdma)[0].startswith("Baseline PCL-5: the latest is dated")
    # The date was entered wrongly: the correction, dated right, is the current result.
    fixed = ResultInput("pcl5", stale.answers, utcnow().date() - timedelta(days=2), stale.mode)
    correct_result(
        people.lead, people.patient, stale, fixed, "Date copied wrongly from the paper form", utcnow().date()
    )
    workflow.move(db.session, people.patient, Phase.DOSING, people.lead, mdma)


def test_later_dosing_cycles_do_not_ask_for_a_baseline_again(people, protocols):
    mdma = screened(people, protocols)
    record_baseline_measures(people.patient, people.lead, mdma, on=utcnow().date() - timedelta(days=2))
    walk_to(people.patient, Phase.DOSING, people.lead, protocols)
    walk_to(people.patient, Phase.INTEGRATION, people.lead, protocols)  # with the signed dosing note it needs
    db.session.flush()
    with time_machine.travel(utcnow() + timedelta(days=60), tick=False):
        # The pregnancy test is 60 days old now; the baseline is not asked for again.
        reasons = workflow.refusals(db.session, people.patient, mdma, Phase.DOSING, None)
    assert reasons and not any("Baseline" in reason for reason in reasons)


def test_the_gate_counts_results_dated_before_a_back_dated_move(people, protocols):
    """The demo data moves patients with a past date: results after that day are not a baseline for it."""
    mdma = screened(people, protocols, days_ago=12)
    record_baseline_measures(people.patient, people.lead, mdma)  # dated today
    with pytest.raises(TransitionError) as refusal:
        workflow.move(db.session, people.patient, Phase.DOSING, people.lead, mdma, now=utcnow() - timedelta(days=10))
    assert refusal.value.reasons == [MISSING.format("PCL-5"), MISSING.format("C-SSRS")]


def test_the_patient_page_shows_the_refusal_next_to_the_move(client, people, protocols):
    screened(people, protocols)
    db.session.commit()
    login(client, people.lead)
    response = client.post(f"/patients/{people.patient.id}/phase", data={"target": "dosing"})
    assert response.status_code == 409
    assert "Baseline PCL-5 not recorded: record it on the patient&#39;s measures page" in response.text
    assert 'id="target-error"' in response.text
