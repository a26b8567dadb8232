"""The last hostile review's findings, each refused: the review queue with a correction to "no" behind nothing, a
negative test entered after a positive one of the same day, names with "ß" or typed the other way round, and a
cycle given as a superscript digit."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import login
from tests.test_gate import HELD, MDMA, NOW, Door, answers, base, refused
from tests.test_patients import _form
from tests.test_review_queue import QUEUE, REVIEW, flag
from tracker.eligibility import Recorded
from tracker.extensions import db
from tracker.factories import clinic_day
from tracker.models import AnswerValue
from tracker.screening.services import AnswerInput, answer_item, current_checklist


def test_a_correction_to_no_with_nothing_behind_it_waits_in_the_queue_without_breaking_it(client, people, protocols):
    protocol = protocols[people.patient.protocol_code]
    flag(people.patient, people.lead, protocols)  # yes, signed off
    checklist = current_checklist(db.session, people.patient)
    answer_item(
        people.lead,
        checklist,
        protocol,
        REVIEW,
        AnswerInput(AnswerValue.NO, note="Entered in error."),
        clinic_day(people.patient),
    )
    db.session.commit()
    login(client, people.supervisor)
    response = client.get(QUEUE)
    assert response.status_code == 200 and "Substance use disorder" in response.text


def test_a_negative_test_the_same_day_as_a_positive_one_does_not_lift_it():
    positive = Recorded(
        90, "pregnancy-test", "recorded", "positive", HELD.date() - timedelta(days=1), NOW - timedelta(hours=2)
    )
    negative = Recorded(91, "pregnancy-test", "recorded", "negative", HELD.date() - timedelta(days=1), NOW)
    assert "screening_eligible" in refused(base(answers=(*answers(MDMA), positive, negative)), Door.SIGN)
    later = Recorded(92, "pregnancy-test", "recorded", "negative", HELD.date(), NOW)
    assert refused(base(answers=(*answers(MDMA), positive, negative, later)), Door.SIGN) == []


def test_the_duplicate_warning_sees_sharp_s_and_names_the_other_way_round(client, people):
    login(client, people.lead)
    first = _form(people, given_name="Hans", family_name="Straße")
    assert client.post("/patients/new", data=first).status_code == 302
    for given, family, number in (("Hans", "Straße", "H-2002"), ("Straße", "Hans", "H-2003")):
        twin = client.post(
            "/patients/new", data=_form(people, given_name=given, family_name=family, record_number=number)
        )
        assert twin.status_code == 422 and 'id="possible-duplicate"' in twin.text, (given, family)
    found = client.post("/patients/search", data={"q": "straße"}, follow_redirects=True)
    assert "H-2001" in found.text


def test_a_superscript_cycle_in_the_query_string_is_ignored_not_a_server_error(client, people):
    login(client, people.lead)
    for cycle in ("²", "9" * 5000):
        response = client.get(f"/patients/{people.patient.id}/sessions/new?kind=dosing&cycle={cycle}")
        assert response.status_code == 200
