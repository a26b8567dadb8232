"""Supervisors' reviews: a flagged item reaches the queue, a written decision clears or declines it, and a decision
holds only for what it was made about."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import audit_actions, count_queries, login
from tracker.extensions import db
from tracker.factories import answer_screening, make_patient
from tracker.models import AnswerValue, Phase, ScreeningReview
from tracker.models.base import utcnow
from tracker.screening import views
from tracker.screening.services import (
    AnswerInput,
    MedicationInput,
    add_medication,
    answer_item,
    current_checklist,
    sign_off,
)

PROTOCOL = "mdma-ptsd"
REVIEW, EXCLUSION, TAPER = "substance-use-disorder", "psychotic-disorder", "psychiatric-medication-taper"
QUEUE = "/screening/reviews"


def screening_url(patient, suffix=""):
    return f"/patients/{patient.id}/screening{suffix}"


def flag(patient, actor, protocols, yes=(REVIEW,), sign=True):
    """Answer every item (``yes`` to the given ones) and sign off, as the care team would."""
    protocol = protocols[patient.protocol_code]
    answer_screening(patient, actor, protocol, yes=yes)
    if sign:
        sign_off(actor, current_checklist(db.session, patient), protocol)
    db.session.commit()


def decide(client, patient, item_id, decision, rationale="Discussed with the screening physician."):
    return client.post(
        screening_url(patient, f"/items/{item_id}/review"),
        data={f"{item_id}-review-decision": decision, f"{item_id}-review-rationale": rationale},
    )


def reviews() -> int:
    return db.session.scalar(select(func.count()).select_from(ScreeningReview))


def status_of(client, patient) -> str:
    page = client.get(screening_url(patient)).text
    return page.split('Eligibility: <span class="text-uppercase">', 1)[1].split("</span>", 1)[0]


def test_a_yes_reaches_the_queue_and_a_cleared_review_makes_the_patient_eligible(client, people, protocols):
    flag(people.patient, people.lead, protocols)
    login(client, people.supervisor)
    assert status_of(client, people.patient) == "Needs review"
    queue = client.get(QUEUE)
    assert queue.status_code == 200
    assert "Zzpatient, Canary" in queue.text and "Substance use disorder" in queue.text
    assert f'href="/patients/{people.patient.id}/screening#item-{REVIEW}"' in queue.text
    assert "“Yes” from Lena Lead" in queue.text
    assert audit_actions()[-1] == "screening.review_queue"
    page = client.get(screening_url(people.patient)).text
    assert f'action="/patients/{people.patient.id}/screening/items/{REVIEW}/review"' in page

    response = decide(client, people.patient, REVIEW, "cleared", "In sustained remission for 4 years.")
    assert response.status_code == 302
    assert audit_actions()[-1] == "screening.review_cleared"
    assert status_of(client, people.patient) == "Eligible"
    page = client.get(screening_url(people.patient)).text
    assert "Supervisor's decision: <strong>cleared</strong>" in page and "“In sustained remission for 4 years.”" in page
    assert "Nothing waits for your review." in client.get(QUEUE).text


def test_a_declined_review_makes_the_patient_ineligible(client, people, protocols):
    flag(people.patient, people.lead, protocols)
    login(client, people.supervisor)
    assert decide(client, people.patient, REVIEW, "declined", "Active use; refer first.").status_code == 302
    assert audit_actions()[-1] == "screening.review_declined"
    assert status_of(client, people.patient) == "Ineligible"
    assert "Declined by the supervisor: Substance use disorder" in client.get(screening_url(people.patient)).text


def test_a_later_answer_change_needs_a_new_review(client, people, protocols):
    flag(people.patient, people.lead, protocols, sign=False)
    login(client, people.supervisor)
    assert decide(client, people.patient, REVIEW, "cleared").status_code == 302
    login(client, people.lead)
    client.post(
        screening_url(people.patient, f"/items/{REVIEW}"),
        data={f"{REVIEW}-answer": "yes", f"{REVIEW}-note": "New information"},
    )
    login(client, people.supervisor)
    page = client.get(screening_url(people.patient)).text
    assert "Waiting for a supervisor's review" in page
    assert "a new review is needed" in page
    assert "Substance use disorder" in client.get(QUEUE).text
    assert decide(client, people.patient, REVIEW, "cleared", "Still fine.").status_code == 302
    assert reviews() == 2


def test_a_matching_medication_raises_the_item_into_the_queue(client, people, protocols):
    flag(people.patient, people.lead, protocols, yes=())
    add_medication(people.lead, people.patient, MedicationInput("Venlafaxine", "snri", "75 mg"))
    db.session.commit()
    login(client, people.supervisor)
    assert status_of(client, people.patient) == "Needs review"
    queue = client.get(QUEUE).text
    assert "Takes a psychiatric medication that must be tapered off" in queue
    assert "Current medication: Venlafaxine" in queue
    assert decide(client, people.patient, TAPER, "cleared", "Taper planned with the prescriber.").status_code == 302
    assert status_of(client, people.patient) == "Eligible"
    # a second matching medication changes what was reviewed: a new decision is needed
    add_medication(people.lead, people.patient, MedicationInput("Sertraline", "ssri"))
    db.session.commit()
    assert status_of(client, people.patient) == "Needs review"


def test_an_absolute_exclusion_is_never_reviewable(client, people, protocols):
    flag(people.patient, people.lead, protocols, yes=(EXCLUSION,))
    login(client, people.supervisor)
    assert "Nothing waits for your review." in client.get(QUEUE).text
    response = decide(client, people.patient, EXCLUSION, "cleared", "I disagree")
    assert response.status_code == 422
    assert f'id="{EXCLUSION}-review-decision-error"' in response.text
    assert "This item is not waiting for a review." in response.text
    assert reviews() == 0
    assert status_of(client, people.patient) == "Ineligible"


def test_an_item_answered_no_cannot_be_reviewed(client, people, protocols):
    flag(people.patient, people.lead, protocols, yes=())
    login(client, people.supervisor)
    assert decide(client, people.patient, REVIEW, "cleared").status_code == 422
    assert reviews() == 0


@pytest.mark.parametrize(
    "data,field,message",
    [
        ({"decision": "", "rationale": "ok"}, "decision", "Choose clear or decline."),
        ({"decision": "approved", "rationale": "ok"}, "decision", "Not a valid choice"),
        ({"decision": "cleared", "rationale": "   "}, "rationale", "Write the rationale for the decision."),
        ({"decision": "cleared", "rationale": "x" * 4001}, "rationale", "Use at most 4000 characters."),
    ],
)
def test_a_decision_needs_a_valid_choice_and_a_written_rationale(client, people, protocols, data, field, message):
    flag(people.patient, people.lead, protocols)
    login(client, people.supervisor)
    prefixed = {f"{REVIEW}-review-{k}": v for k, v in data.items()}
    response = client.post(screening_url(people.patient, f"/items/{REVIEW}/review"), data=prefixed)
    assert response.status_code == 422
    assert f'id="{REVIEW}-review-{field}-error"' in response.text and message in response.text
    assert reviews() == 0


@pytest.mark.parametrize(
    "persona,status",
    [
        ("lead", 403),
        ("co_therapist", 403),
        ("other_therapist", 404),
        ("other_supervisor", 404),
        ("outsider", 404),
        ("admin", 403),
    ],
)
def test_only_a_supervisor_of_the_care_team_may_decide(client, people, protocols, persona, status):
    flag(people.patient, people.lead, protocols)
    login(client, getattr(people, persona))
    response = decide(client, people.patient, REVIEW, "cleared")
    assert response.status_code == status
    assert "Zzpatient" not in response.text
    assert reviews() == 0


def test_the_care_team_sees_the_pending_item_but_no_decision_form(client, people, protocols):
    flag(people.patient, people.lead, protocols)
    login(client, people.lead)
    page = client.get(screening_url(people.patient)).text
    assert "Waiting for a supervisor's review" in page
    assert '/review"' not in page
    assert "The supervisor of a therapist on the care team decides this item." in page


@pytest.mark.parametrize(
    "persona,status",
    [
        ("supervisor", 200),
        ("other_supervisor", 200),
        ("outsider", 200),
        ("lead", 403),
        ("co_therapist", 403),
        ("other_therapist", 403),
        ("admin", 403),
    ],
)
def test_the_queue_is_for_supervisors_and_shows_only_their_supervisees_patients(
    client, people, protocols, persona, status
):
    flag(people.patient, people.lead, protocols)
    login(client, getattr(people, persona))
    response = client.get(QUEUE)
    assert response.status_code == status
    assert ("Zzpatient" in response.text) is (persona == "supervisor")


def test_the_nav_links_to_the_queue_for_supervisors_only(client, people):
    login(client, people.supervisor)
    assert f'href="{QUEUE}"' in client.get("/patients/").text
    login(client, people.lead)
    assert f'href="{QUEUE}"' not in client.get("/patients/").text


def test_patients_in_a_final_phase_leave_the_queue(client, people, protocols):
    from tracker.patients.services import change_phase

    flag(people.patient, people.lead, protocols)
    change_phase(people.lead, people.patient, Phase.DISCONTINUED, "Chose another treatment", None)
    db.session.commit()
    login(client, people.supervisor)
    assert "Nothing waits for your review." in client.get(QUEUE).text


def _flagged_patients(people, protocols, count, start=0):
    """``count`` patients of the supervisor's therapists, each with a flagged item, some with medications."""
    protocol = protocols[PROTOCOL]
    today = utcnow().date()
    made = []
    for number in range(count):
        name = f"Queue{start + number:03d}"
        patient = make_patient(people.lead, people.co_therapist, protocols=protocols, family_name=name)
        checklist = current_checklist(db.session, patient)
        answer_item(people.lead, checklist, protocol, REVIEW, AnswerInput(AnswerValue.YES), today)
        if number % 3 == 0:
            add_medication(people.lead, patient, MedicationInput("Sertraline", ""))
        made.append(patient)
    db.session.commit()
    return made


def test_the_queue_is_oldest_first_and_paginated(client, people, protocols, monkeypatch):
    monkeypatch.setattr(views, "REVIEWS_PER_PAGE", 4)
    patients = _flagged_patients(people, protocols, 5)
    # make the last patient's flag the oldest
    checklist = current_checklist(db.session, patients[-1])
    checklist.answers[-1].answered_at = utcnow() - timedelta(days=30)
    db.session.commit()
    login(client, people.supervisor)
    first = client.get(QUEUE).text
    rows = first[first.index("<tbody>") :]
    assert rows.index("Queue004") < rows.index("Queue000")
    assert "30 days ago" in rows
    assert "7 items waiting, page 1 of 2" in first  # 5 substance-use items + 2 raised by an SSRI to taper
    second = client.get(f"{QUEUE}?page=2").text
    assert "page 2 of 2" in second
    assert client.get(f"{QUEUE}?page=abc").status_code == 400


def test_the_queue_runs_the_same_queries_for_3_and_60_patients(client, people, protocols):
    login(client, people.supervisor)
    _flagged_patients(people, protocols, 3)
    with count_queries() as small:
        assert client.get(QUEUE).status_code == 200
    _flagged_patients(people, protocols, 57, start=3)
    with count_queries() as large:
        assert client.get(QUEUE).status_code == 200
    assert len(small) == len(large)
    assert len(small) <= 18  # +2: the audit chain head (locked, moved on); +2: the write step after the reads
