"""The integration plan: written from the protocol's sections, each save a new version that never changes (also
at the SQL level), the current one marked, a version marked given to the patient with the date."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from tests.conftest import audit_actions, count_queries, login
from tracker.extensions import db
from tracker.models import AuditEvent, IntegrationPlanVersion, PlanHandout
from tracker.models.base import utcnow
from tracker.plans.services import mark_given, save_version

CRISIS = "Crisis line 0800 123 456 (24 hours); clinic 555 0100"
MDMA_SECTIONS = 8  # mdma_ptsd.toml integration_plan_sections


def plan_url(people, suffix="") -> str:
    return f"/patients/{people.patient.id}/plan{suffix}"


def form(based_on: int = 0, crisis: str = CRISIS, **sections: str) -> dict[str, str]:
    data = {"based_on": str(based_on), "crisis_line": crisis}
    data.update({f"section_{n}": "" for n in range(1, MDMA_SECTIONS + 1)})
    data.update(sections)
    return data


def versions() -> list[IntegrationPlanVersion]:
    db.session.expire_all()
    return list(db.session.scalars(select(IntegrationPlanVersion).order_by(IntegrationPlanVersion.number)))


def test_the_form_has_the_protocols_sections_with_prompts_and_the_clinics_crisis_line(client, people):
    people.clinic.crisis_line = "Lifeline 13 11 14"
    db.session.commit()
    login(client, people.lead)
    page = client.get(plan_url(people, "/edit")).text
    labels = re.findall(r'<label class="form-label fw-semibold" for="section_\d+">([^<]+)</label>', page)
    assert labels == [
        "Insights and themes",
        "Intentions and goals",
        "Practices (sleep, movement, nature, breathwork, contemplative practice, nutrition)",
        "Therapy and referrals",
        "Support people",
        "Warning signs and crisis plan",
        "Follow-up sessions and measures",
        "Labs and physical health follow-up",
    ]
    assert "Two or three concrete intentions the patient chose" in page
    assert 'value="Lifeline 13 11 14"' in page
    # A first plan starts the follow-up section from the measures schedule.
    follow_up = re.search(r'<textarea[^>]*id="section_7"[^>]*>(.*?)</textarea>', page, re.S).group(1)
    assert "- PCL-5 questionnaire, end of treatment: date to be set." in follow_up
    assert "- PCL-5 questionnaire, follow-up 1 (90 days after the end of treatment): date to be set." in follow_up
    assert audit_actions()[-1] == "plan.view"


def test_each_save_is_a_new_version_and_the_newest_is_current(client, people):
    login(client, people.lead)
    first = client.post(plan_url(people, "/edit"), data=form(section_1="You felt safe with your body again."))
    assert first.status_code == 302 and first.location == plan_url(people)
    assert (
        client.post(
            plan_url(people, "/edit"),
            data=form(1, section_1="You felt safe with your body again.", section_2="I will walk every morning."),
        ).status_code
        == 302
    )
    one, two = versions()
    assert (one.number, two.number) == (1, 2)
    assert one.text_of("Intentions and goals") == ""
    assert two.text_of("Intentions and goals") == "I will walk every morning."
    assert (two.crisis_line, two.created_by_id, two.protocol_code) == (CRISIS, people.lead.id, "mdma-ptsd")
    page = client.get(plan_url(people)).text
    assert "Integration plan: version 2" in page and "I will walk every morning." in page
    assert re.search(r'Version 2</a> <span class="badge text-bg-primary">Current</span>', page)
    assert "Version 1</a></td>" in page
    saved = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "plan.save").order_by(AuditEvent.id))
    assert [e.data for e in saved] == [
        {"version": 1, "sections_changed": [s["title"] for s in one.sections]},
        {"version": 2, "sections_changed": ["Intentions and goals"]},
    ]


def test_a_saved_version_never_changes(client, people):
    login(client, people.lead)
    client.post(plan_url(people, "/edit"), data=form(section_1="First words."))
    client.post(plan_url(people, "/edit"), data=form(1, section_1="Second words."))
    page = client.get(plan_url(people, "/versions/1")).text
    assert "First words." in page and "Second words." not in page
    assert "This is an earlier version, kept as it was saved." in page


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE integration_plan_version SET crisis_line = 'changed'",
        "UPDATE integration_plan_version SET number = number + 10",
        "DELETE FROM integration_plan_version",
        "UPDATE integration_plan_handout SET given_on = given_on",
        "DELETE FROM integration_plan_handout",
    ],
)
def test_the_database_refuses_to_change_a_version_or_a_handout(people, statement):
    version = save_version(people.lead, people.patient, {"Insights and themes": "Kept."}, CRISIS, 0)
    mark_given(people.lead, people.patient, version, utcnow().date(), utcnow().date())
    db.session.commit()
    with pytest.raises(DBAPIError, match="immutable"), db.session.begin_nested():
        db.session.execute(text(statement))
    assert versions()[0].sections == [{"title": "Insights and themes", "text": "Kept."}]
    assert db.session.scalar(select(func.count()).select_from(PlanHandout)) == 1


def test_saving_nothing_new_adds_no_version(client, people):
    login(client, people.lead)
    client.post(plan_url(people, "/edit"), data=form(section_1="Same."))
    response = client.post(plan_url(people, "/edit"), data=form(1, section_1="  Same.  "))
    assert response.status_code == 302
    assert "Nothing had changed; no new version was saved." in client.get(plan_url(people)).text
    assert len(versions()) == 1


def test_a_save_from_a_stale_form_is_refused_and_the_text_kept(client, people):
    login(client, people.lead)
    client.post(plan_url(people, "/edit"), data=form(section_1="Lena's version."))
    login(client, people.co_therapist)
    response = client.post(plan_url(people, "/edit"), data=form(0, section_1="Cody's version."))
    assert response.status_code == 409
    assert "Someone saved version 1 while you were writing." in response.text
    assert "Cody&#39;s version." in response.text and "Lena&#39;s version." in response.text
    assert 'name="based_on" type="hidden" value="1"' in response.text
    assert len(versions()) == 1
    assert client.post(plan_url(people, "/edit"), data=form(1, section_1="Cody's version.")).status_code == 302
    assert [v.text_of("Insights and themes") for v in versions()] == ["Lena's version.", "Cody's version."]


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (form(), "section_1", "Write at least one section of the plan."),
        (form(section_1="x", crisis=""), "crisis_line", "Give the crisis line the patient can call"),
        (form(section_1="x", crisis="9" * 201), "crisis_line", "Use at most 200 characters."),
        (form(section_2="x" * 4001), "section_2", "Use at most 4000 characters."),
        (form(section_3="Walk\x00"), "section_3", "Remove the invisible control characters"),
    ],
)
def test_bad_plans_are_refused_next_to_the_field(client, people, data, field, message):
    login(client, people.lead)
    response = client.post(plan_url(people, "/edit"), data=data)
    assert response.status_code == 422
    assert f'id="{field}-error"' in response.text and message in response.text
    assert versions() == []


@pytest.mark.parametrize("based_on", ["x", "1.5", ""])
def test_a_tampered_version_number_is_refused(client, people, based_on):
    login(client, people.lead)
    response = client.post(plan_url(people, "/edit"), data={**form(section_1="x"), "based_on": based_on})
    assert response.status_code == (302 if based_on == "" else 400)  # empty: a first version


def test_a_version_is_marked_given_with_the_date(client, people):
    login(client, people.lead)
    client.post(plan_url(people, "/edit"), data=form(section_1="Words."))
    today = utcnow().date()
    response = client.post(plan_url(people, "/versions/1/given"), data={"given_on": today.isoformat()})
    assert response.status_code == 302 and response.location == plan_url(people, "/versions/1")
    page = client.get(plan_url(people)).text
    assert f'<li>{today.isoformat()} <span class="small text-body-secondary">(recorded by Lena Lead)</span>' in page
    assert f"<td>{today.isoformat()}</td>" in page  # in the versions table
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "plan.given")).one()
    assert event.data == {"version": 1, "given_on": today.isoformat()}
    # A newer version starts without the mark; the mark stays with the version that was given.
    client.post(plan_url(people, "/edit"), data=form(1, section_1="Newer words."))
    assert "Version 2 has not been marked as given to the patient." in client.get(plan_url(people)).text


@pytest.mark.parametrize(
    ("given_on", "message"),
    [
        ("", "Enter the date the patient was given this version."),
        ("not a date", "Not a valid date value."),
        ("2999-01-01", "The date cannot be in the future"),
        ((utcnow().date() - timedelta(days=1)).isoformat(), "Version 1 was only saved on"),
    ],
)
def test_a_bad_given_date_is_refused(client, people, given_on, message):
    login(client, people.lead)
    client.post(plan_url(people, "/edit"), data=form(section_1="Words."))
    response = client.post(plan_url(people, "/versions/1/given"), data={"given_on": given_on})
    assert response.status_code == 422
    assert 'id="given_on-error"' in response.text and message in response.text
    assert db.session.scalar(select(func.count()).select_from(PlanHandout)) == 0


def test_unknown_versions_are_not_found(client, people):
    login(client, people.lead)
    assert client.get(plan_url(people, "/versions/1")).status_code == 404
    assert client.post(plan_url(people, "/versions/1/given"), data={"given_on": "2026-01-01"}).status_code == 404


def test_a_section_the_protocol_no_longer_has_keeps_its_text(client, people):
    save_version(people.lead, people.patient, {"Insights and themes": "a", "Old clinic section": "Keep me"}, CRISIS, 0)
    db.session.commit()
    login(client, people.lead)
    page = client.get(plan_url(people, "/edit")).text
    assert ">Old clinic section</label>" in page and "Keep me" in page


def test_the_patients_copy_leaves_out_empty_sections_and_prints_the_crisis_line(client, people):
    login(client, people.lead)
    client.post(plan_url(people, "/edit"), data=form(section_2="I will call Sam on Sundays.\nAnd rest."))
    page = client.get(plan_url(people)).text
    copy = page.split('<article class="plan', 1)[1].split("</article>", 1)[0]
    assert "Intentions and goals" in copy and "I will call Sam on Sundays.\nAnd rest." in copy
    assert "Insights and themes" not in copy
    assert f"Crisis line: <strong>{CRISIS}</strong>." in copy
    assert "Not written in this version (left out of the patient's copy): Insights and themes;" in page


def test_the_plan_pages_run_the_same_queries_for_one_and_many_versions(client, people):
    login(client, people.lead)
    client.post(plan_url(people, "/edit"), data=form(section_1="v1"))
    with count_queries() as small:
        assert client.get(plan_url(people)).status_code == 200
    with count_queries() as small_edit:
        assert client.get(plan_url(people, "/edit")).status_code == 200
    with count_queries() as small_version:
        assert client.get(plan_url(people, "/versions/1")).status_code == 200
    for number in range(1, 30):
        version = save_version(people.lead, people.patient, {"Insights and themes": f"v{number + 1}"}, CRISIS, number)
        mark_given(people.lead, people.patient, version, utcnow().date(), utcnow().date())
    db.session.commit()
    with count_queries() as large:
        page = client.get(plan_url(people))
    with count_queries() as large_edit:
        assert client.get(plan_url(people, "/edit")).status_code == 200
    with count_queries() as large_version:
        assert client.get(plan_url(people, "/versions/1")).status_code == 200
    assert len(small) == len(large) and len(small_edit) == len(large_edit)
    assert len(small_version) == len(large_version)
    assert "30 versions, newest first" in page.text and "?page=2" in page.text
    assert client.get(plan_url(people) + "?page=2").status_code == 200
    assert client.get(plan_url(people) + "?page=two").status_code == 400
