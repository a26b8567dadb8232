"""The screening checklist page: items by kind, answers with their history, bad input, sign-off, the verdict."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import audit_actions, count_queries, login
from tracker.extensions import db
from tracker.factories import answer_screening
from tracker.models import AnswerValue, ScreeningAnswer, ScreeningChecklist
from tracker.models.base import utcnow
from tracker.screening.services import (
    AnswerInput,
    MedicationInput,
    ScreeningError,
    add_medication,
    answer_item,
    current_checklist,
    sign_off,
)

PROTOCOL = "mdma-ptsd"
EXCLUSION, REVIEW, CONSENT, CONTACT, PREGNANCY = (
    "psychotic-disorder",
    "substance-use-disorder",
    "informed-consent",
    "support-contact",
    "pregnancy-test",
)


def url(people, suffix=""):
    return f"/patients/{people.patient.id}/screening{suffix}"


def answers(item_id: str | None = None) -> int:
    query = select(func.count()).select_from(ScreeningAnswer)
    if item_id:
        query = query.where(ScreeningAnswer.item_id == item_id)
    return db.session.scalar(query)


def checklist(people) -> ScreeningChecklist:
    db.session.expire_all()
    found = current_checklist(db.session, people.patient)
    assert found is not None
    return found


def today() -> str:
    return utcnow().date().isoformat()


def yesterday() -> str:
    return (utcnow().date() - timedelta(days=1)).isoformat()


def test_it_groups_the_items_by_kind_with_text_and_source(client, people, protocols):
    login(client, people.lead)
    page = client.get(url(people))
    assert page.status_code == 200
    text = page.text
    headings = ["Absolute exclusions", "Items needing a supervisor&#39;s review", "Requirements"]
    assert [text.index(h) for h in headings] == sorted(text.index(h) for h in headings)
    for item in protocols[PROTOCOL].screening:
        assert f'id="item-{item.id}"' in text
    assert "Source: [V] Numinus" in text
    assert 'Eligibility: <span class="text-uppercase">Incomplete</span>' in text
    assert f"{len(protocols[PROTOCOL].screening)} items not answered or recorded yet." in text
    first = text[text.index('id="item-psychotic-disorder"') :]
    assert "Not answered yet." in first[: first.index("</li>")]


def test_viewing_the_checklist_is_audited(client, people):
    login(client, people.co_therapist)
    client.get(url(people))
    assert audit_actions()[-1] == "screening.view"


def test_it_saves_an_answer_and_keeps_every_revision(client, people):
    login(client, people.lead)
    first = client.post(url(people, f"/items/{REVIEW}"), data={f"{REVIEW}-answer": "no"})
    assert first.status_code == 302 and first.location.endswith(f"/screening#item-{REVIEW}")
    login(client, people.co_therapist)
    second = client.post(
        url(people, f"/items/{REVIEW}"), data={f"{REVIEW}-answer": "yes", f"{REVIEW}-note": "Alcohol, in remission"}
    )
    assert second.status_code == 302
    assert answers(REVIEW) == 2
    assert audit_actions()[-2:] == ["screening.answer", "screening.answer"]
    page = client.get(second.location).text
    assert "Answer: Yes</strong>" in page and "by Cody Co" in page
    assert "“Alcohol, in remission”" in page
    assert "History (2 answers)" in page
    history = page[page.index("History (2 answers)") :]
    assert 'No <span class="text-body-secondary">by Lena Lead' in history  # the earlier answer stays visible


def test_it_records_a_requirement_with_its_value_and_date(client, people):
    login(client, people.lead)
    response = client.post(
        url(people, f"/items/{CONSENT}"),
        data={f"{CONSENT}-answer": "recorded", f"{CONSENT}-value": "signed", f"{CONSENT}-done_on": today()},
    )
    assert response.status_code == 302
    row = db.session.scalar(select(ScreeningAnswer).where(ScreeningAnswer.item_id == CONSENT))
    assert (row.answer, row.value, row.done_on.isoformat()) == (AnswerValue.RECORDED, "signed", today())
    assert f"Recorded: signed, done {today()}" in client.get(response.location).text


def test_a_pregnancy_test_cannot_be_marked_not_applicable(client, people):
    """Whether it applies follows the patient's record (sex at birth, able to become pregnant)."""
    login(client, people.lead)
    page = client.get(url(people)).text
    assert 'value="not_applicable"' not in page.split(f'id="item-{PREGNANCY}"')[1].split('id="item-')[0]
    response = client.post(url(people, f"/items/{PREGNANCY}"), data={f"{PREGNANCY}-answer": "not_applicable"})
    assert response.status_code == 422 and "Not a valid choice" in response.text
    assert answers(PREGNANCY) == 0


BAD_ANSWERS = [
    (REVIEW, {"answer": ""}, "answer", "Choose yes or no."),
    (REVIEW, {"answer": "maybe"}, "answer", "Not a valid choice"),
    (EXCLUSION, {"answer": "recorded"}, "answer", "Not a valid choice"),
    (REVIEW, {"answer": "no", "note": "x" * 2001}, "note", "Use at most 2000 characters."),
    (REVIEW, {"answer": "no", "note": "a\x00b"}, "note", "Remove the invisible control characters"),
    (CONSENT, {"answer": "recorded", "done_on": "2026-01-01"}, "value", "Choose the value or result."),
    (CONSENT, {"answer": "recorded", "value": "perhaps", "done_on": "2026-01-01"}, "value", "Not a valid choice"),
    (CONTACT, {"answer": "recorded", "done_on": "2026-01-01"}, "value", "Record the value or result."),
    (CONTACT, {"answer": "recorded", "value": "x" * 201, "done_on": "2026-01-01"}, "value", "at most 200"),
    (CONTACT, {"answer": "recorded", "value": "Kim Ash"}, "done_on", "Enter the date it was done."),
    (CONTACT, {"answer": "recorded", "value": "Kim Ash", "done_on": "01/02/2026"}, "done_on", "Not a valid date"),
    (CONTACT, {"answer": "recorded", "value": "Kim Ash", "done_on": "2999-01-01"}, "done_on", "in the future"),
    (CONTACT, {"answer": "not_applicable"}, "answer", "Not a valid choice"),  # not offered for this item
]


@pytest.mark.parametrize("item_id,data,field,message", BAD_ANSWERS)
def test_bad_answers_are_refused_next_to_the_field_and_nothing_is_saved(client, people, item_id, data, field, message):
    login(client, people.lead)
    response = client.post(url(people, f"/items/{item_id}"), data={f"{item_id}-{k}": v for k, v in data.items()})
    assert response.status_code == 422
    assert f'id="{item_id}-{field}-error"' in response.text
    error = response.text.split(f'id="{item_id}-{field}-error">', 1)[1].split("</div>", 1)[0]
    assert message in error
    assert 'aria-invalid="true"' in response.text
    assert answers() == 0


def test_an_unknown_item_is_not_found(client, people):
    login(client, people.lead)
    assert client.post(url(people, "/items/no-such-item"), data={"no-such-item-answer": "no"}).status_code == 404
    assert answers() == 0


def test_sign_off_is_refused_while_items_are_unanswered(client, people):
    login(client, people.lead)
    client.post(url(people, f"/items/{REVIEW}"), data={f"{REVIEW}-answer": "no"})
    response = client.post(url(people, "/sign-off"), data={"confirm": "y"})
    assert response.status_code == 422
    assert 'id="confirm-error"' in response.text and "Answer every item first (14 left)." in response.text
    assert checklist(people).signed_off_at is None


def test_sign_off_needs_the_confirmation(client, people, protocols):
    answer_screening(people.patient, people.lead, protocols[PROTOCOL])
    db.session.commit()
    login(client, people.lead)
    response = client.post(url(people, "/sign-off"), data={})
    assert response.status_code == 422 and "Tick the box to confirm the sign-off." in response.text
    assert checklist(people).signed_off_at is None


def test_sign_off_locks_the_answers(client, people, protocols):
    answer_screening(people.patient, people.lead, protocols[PROTOCOL])
    db.session.commit()
    login(client, people.lead)
    response = client.post(url(people, "/sign-off"), data={"confirm": "y"})
    assert response.status_code == 302
    assert audit_actions()[-1] == "screening.sign_off"
    page = client.get(response.location).text
    assert 'Signed off <span class="text-body-secondary">by Lena Lead' in page
    assert 'Eligibility: <span class="text-uppercase">Eligible</span>' in page
    assert "Record a new finding or a correction" in page  # what may still be recorded after sign-off
    before = answers()
    refused = client.post(url(people, f"/items/{EXCLUSION}"), data={f"{EXCLUSION}-answer": "no"})
    assert refused.status_code == 422
    assert "can no longer be changed" in refused.text and f'id="{EXCLUSION}-answer-error"' in refused.text
    assert answers() == before
    finding = client.post(url(people, f"/items/{EXCLUSION}"), data={f"{EXCLUSION}-answer": "yes"})
    assert finding.status_code == 302 and answers() == before + 1  # a new finding is never kept off the record
    assert "Ineligible" in client.get(finding.location).text
    again = client.post(url(people, "/sign-off"), data={"confirm": "y"})
    assert again.status_code == 422 and "already signed off" in again.text


def test_a_test_repeated_before_each_dosing_session_can_be_recorded_after_sign_off(people, protocols):
    """The dosing gate asks for a pregnancy test dated within 7 days of each session: sign-off must not lock it."""
    protocol = protocols[PROTOCOL]
    answer_screening(people.patient, people.lead, protocol)
    sheet = checklist(people)
    sign_off(people.lead, sheet, protocol)
    today_ = utcnow().date()
    answer_item(people.lead, sheet, protocol, PREGNANCY, AnswerInput(AnswerValue.RECORDED, "negative", today_), today_)
    with pytest.raises(ScreeningError, match="signed off"):
        answer_item(people.lead, sheet, protocol, CONTACT, AnswerInput(AnswerValue.RECORDED, "Kim", today_), today_)


def test_the_page_still_offers_the_repeated_test_after_sign_off(client, people, protocols):
    protocol = protocols[PROTOCOL]
    answer_screening(people.patient, people.lead, protocol)
    sign_off(people.lead, checklist(people), protocol)
    db.session.commit()
    login(client, people.lead)
    page = client.get(url(people)).text
    assert f'name="{PREGNANCY}-answer"' in page
    assert f'name="{CONTACT}-answer"' not in page
    response = client.post(
        url(people, f"/items/{PREGNANCY}"),
        data={f"{PREGNANCY}-answer": "recorded", f"{PREGNANCY}-value": "negative", f"{PREGNANCY}-done_on": today()},
    )
    assert response.status_code == 302
    assert answers(PREGNANCY) == 2


def test_an_absolute_exclusion_offers_discontinue_or_change_of_protocol(client, people, protocols):
    answer_screening(people.patient, people.lead, protocols[PROTOCOL], yes=(EXCLUSION,))
    db.session.commit()
    login(client, people.supervisor)
    page = client.get(url(people)).text
    assert 'Eligibility: <span class="text-uppercase">Ineligible</span>' in page
    assert "Absolute exclusion: Personal history of a primary psychotic disorder" in page
    options = page[page.index('id="exclusion-options"') :]
    assert f'href="/patients/{people.patient.id}#phase-heading">Discontinue the patient' in options
    assert f'href="/patients/{people.patient.id}/edit">Change the protocol' in options
    assert f"/screening/items/{EXCLUSION}/review" not in page  # never reviewable


def test_a_matching_medication_raises_the_item_on_the_checklist(client, people, protocols):
    add_medication(people.lead, people.patient, MedicationInput("Sertraline", "ssri", "50 mg"))
    db.session.commit()
    login(client, people.lead)
    page = client.get(url(people)).text
    item = page[page.index('id="item-psychiatric-medication-taper"') :]
    item = item[: item.index("</li>")]
    assert "Raised by a current medication" in item and "Sertraline" in item
    assert "Needs a supervisor&#39;s review: Takes a psychiatric medication" in page
    assert "(raised by a current medication)" in page


def test_the_checklist_runs_the_same_queries_for_short_and_long_histories(client, people, protocols):
    protocol = protocols[PROTOCOL]
    login(client, people.supervisor)
    with count_queries() as small:
        assert client.get(url(people)).status_code == 200
    for _ in range(5):
        answer_screening(people.patient, people.lead, protocol, yes=(REVIEW, "maoi"))
        answer_screening(people.patient, people.co_therapist, protocol, yes=(REVIEW, "maoi"))
    for number in range(15):
        add_medication(people.lead, people.patient, MedicationInput(f"Drug {number}", "ssri" if number % 2 else "maoi"))
    db.session.commit()
    with count_queries() as large:
        assert client.get(url(people)).status_code == 200
    assert len(small) == len(large)
    assert len(small) <= 18  # +2: the audit chain head (locked, moved on); +2: the write step after the reads


# The checklist-wide form -------------------------------------------------------------------------------------------


def test_one_form_saves_every_answer_given_and_leaves_the_rest(client, people):
    login(client, people.lead)
    page = client.get(url(people)).text
    assert f'action="/patients/{people.patient.id}/screening/answers#answers"' in page
    assert page.index(f'name="{EXCLUSION}-answer"') < page.index('id="sign-off"')  # the controls come first
    response = client.post(
        url(people, "/answers"),
        data={
            f"{EXCLUSION}-answer": "no",
            f"{REVIEW}-answer": "yes",
            f"{REVIEW}-note": "Cannabis, weekly",
            f"{CONTACT}-answer": "recorded",
            f"{CONTACT}-value": "Kim Ash",
            f"{CONTACT}-done_on": today(),
            f"{CONSENT}-note": "",  # blank: left as it is
        },
    )
    assert response.status_code == 302 and response.location.endswith("/screening#main")
    assert answers() == 3 and audit_actions().count("screening.answer") == 3
    saved = checklist(people)
    assert {a.item_id: a.answer for a in saved.answers} == {
        EXCLUSION: AnswerValue.NO,
        REVIEW: AnswerValue.YES,
        CONTACT: AnswerValue.RECORDED,
    }
    page = client.get(url(people)).text
    assert "Saved 3 answers." in page
    # The standing answers fill the form: saved again as they are, nothing is added.
    again = client.post(
        url(people, "/answers"),
        data={
            f"{EXCLUSION}-answer": "no",
            f"{REVIEW}-answer": "yes",
            f"{CONTACT}-answer": "recorded",
            f"{CONTACT}-value": "Kim Ash",
            f"{CONTACT}-done_on": today(),
        },
    )
    assert again.status_code == 302 and answers() == 3
    assert "Nothing had changed" in client.get(url(people)).text
    item = page[page.index(f'id="item-{REVIEW}"') :]
    item = item[: item.index("</li>")]
    assert "<summary>History (1 answer)</summary>" in item and "Cannabis, weekly" in item


def test_one_refused_answer_saves_none_and_is_shown_beside_its_item(client, people, protocols):
    answer_screening(people.patient, people.lead, protocols[PROTOCOL], yes=(REVIEW,))
    db.session.commit()
    before = answers()
    login(client, people.lead)
    response = client.post(
        url(people, "/answers"),
        data={
            f"{REVIEW}-answer": "no",  # lifts a yes: needs a reason (the service's rule)
            f"{CONTACT}-answer": "recorded",
            f"{CONTACT}-value": "Changed contact",
            f"{CONTACT}-done_on": today(),
            f"{EXCLUSION}-note": "A note with no answer",
        },
    )
    assert response.status_code == 422 and answers() == before
    text = response.text
    assert f'id="{REVIEW}-note-error"' in text and "this answer lifts an earlier one" in text
    assert f'id="{EXCLUSION}-answer-error"' in text and "Choose yes or no." in text
    assert 'value="Changed contact"' in text and "A note with no answer" in text  # nothing typed is lost
    assert "Nothing was saved." in text and f'href="#{REVIEW}-note"' in text


def test_after_sign_off_the_one_form_offers_only_what_may_still_be_answered(client, people, protocols):
    protocol = protocols[PROTOCOL]
    answer_screening(people.patient, people.lead, protocol)
    sign_off(people.lead, checklist(people), protocol)
    db.session.commit()
    before = answers()
    login(client, people.lead)
    response = client.post(
        url(people, "/answers"),
        data={
            f"{CONTACT}-answer": "recorded",
            f"{CONTACT}-value": "Locked",
            f"{CONTACT}-done_on": today(),  # not offered
            f"{PREGNANCY}-answer": "recorded",
            f"{PREGNANCY}-value": "negative",
            f"{PREGNANCY}-done_on": yesterday(),
        },
    )
    assert response.status_code == 302 and answers() == before + 1 and answers(PREGNANCY) == 2
    refused = client.post(
        url(people, "/answers"),
        data={  # a "no" again, with a note: no yes to correct
            f"{EXCLUSION}-answer": "no",
            f"{EXCLUSION}-note": "Checked again with the GP",
        },
    )
    assert refused.status_code == 422 and "can no longer be changed" in refused.text and answers() == before + 1


def test_the_one_form_keeps_a_draft_until_it_is_saved(client, people):
    login(client, people.lead)
    key = f"screening-{people.patient.id}"
    assert f'data-draft-url="/patients/{people.patient.id}/drafts/{key}"' in client.get(url(people)).text
    typing = {f"{REVIEW}-answer": "yes", f"{REVIEW}-note": "Drinks most evenings, since the divorce"}
    assert client.post(f"/patients/{people.patient.id}/drafts/{key}", data=typing).status_code == 200
    page = client.get(url(people)).text
    assert "kept as a draft" in page and "Drinks most evenings, since the divorce" in page
    assert client.post(url(people, "/answers"), data=typing).status_code == 302
    assert "kept as a draft" not in client.get(url(people)).text


def test_the_one_form_on_a_patient_without_a_checklist_is_not_found(client, people):
    db.session.execute(ScreeningAnswer.__table__.delete())
    db.session.execute(ScreeningChecklist.__table__.delete())
    db.session.commit()
    login(client, people.lead)
    assert client.post(url(people, "/answers"), data={f"{EXCLUSION}-answer": "no"}).status_code == 404
