"""The medication review page: current and past medications, the interaction rules they match, add and edit
(with optimistic locking), and the screening items a matching medication raises."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import audit_actions, count_queries, login
from tracker.extensions import db
from tracker.medicines import DRUG_CLASSES
from tracker.models import AuditEvent, Medication
from tracker.models.base import utcnow
from tracker.screening.services import MedicationInput, add_medication


def url(people, suffix=""):
    return f"/patients/{people.patient.id}/medications{suffix}"


def medications() -> int:
    return db.session.scalar(select(func.count()).select_from(Medication))


def days(n: int) -> str:
    return (utcnow().date() + timedelta(days=n)).isoformat()


def form(**overrides):
    data = {
        "name": "Sertraline",
        "drug_class": "ssri",
        "dose": "50 mg daily",
        "started_on": days(-300),
        "stopped_on": "",
        "taper_plan": "25 mg for two weeks, then stop",
        "taper_end_on": days(20),
    }
    data.update(overrides)
    return data


def test_every_drug_class_has_a_readable_label():
    assert all(label and label[0].isupper() for label in DRUG_CLASSES.values())


def test_it_adds_a_medication_and_audits_it(client, people):
    login(client, people.lead)
    response = client.post(url(people), data=form())
    assert response.status_code == 302 and response.location == url(people)
    assert medications() == 1
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "medication.create"))
    assert event.patient_id == people.patient.id and event.data["changes"]["name"] == [None, "Sertraline"]
    page = client.get(response.location)
    assert "Added Sertraline." in page.text
    assert audit_actions()[-1] == "medication.view"


def test_the_drug_class_is_a_select_with_readable_labels(client, people):
    login(client, people.lead)
    page = client.get(url(people)).text
    assert '<option value="ssri">SSRI (selective serotonin reuptake inhibitor)</option>' in page
    assert '<option value="mood_stabiliser">Mood stabiliser (other than lithium)</option>' in page


def test_a_current_medication_shows_the_rules_it_matches_with_note_source_and_taper(client, people):
    add_medication(
        people.lead,
        people.patient,
        MedicationInput(
            **{**form(), "started_on": None, "stopped_on": None, "taper_end_on": utcnow().date() + timedelta(20)}
        ),
    )
    add_medication(people.lead, people.patient, MedicationInput("Phenelzine", "maoi"))
    add_medication(people.lead, people.patient, MedicationInput("Ibuprofen", "other"))
    db.session.commit()
    login(client, people.lead)
    page = client.get(url(people)).text
    sertraline = page[page.index("Sertraline") : page.index("Phenelzine")]
    assert "MAPP tapered every psychiatric medication off before baseline" in sertraline
    assert "Source: [V] Mitchell 2023 (methods); Numinus; SSRIs attenuate MDMA effects [S] (DanceSafe)" in sertraline
    assert f"Must be stopped before dosing; taper ends {days(20)}." in sertraline
    assert "needs a supervisor&#39;s review" in sertraline
    phenelzine = page[page.index("Phenelzine") : page.index("Ibuprofen")]
    assert "MAOI with MDMA: risk of serotonin toxicity" in phenelzine and "absolute exclusion" in phenelzine
    assert "Must be stopped before dosing, then 14 days without it" in phenelzine
    ibuprofen = page[page.index("Ibuprofen") :]
    assert "No interaction rule of this protocol matches." in ibuprofen


def test_a_stopped_medication_is_listed_as_past_and_raises_nothing(client, people):
    add_medication(
        people.lead,
        people.patient,
        MedicationInput(
            "Fluoxetine", "ssri", started_on=utcnow().date() - timedelta(400), stopped_on=utcnow().date() - timedelta(3)
        ),
    )
    db.session.commit()
    login(client, people.lead)
    page = client.get(url(people)).text
    past = page[page.index('id="past-heading"') :]
    assert "Fluoxetine" in past and "No current medications recorded." in page
    checklist = client.get(f"/patients/{people.patient.id}/screening").text
    assert "Raised by a current medication" not in checklist


BAD_INPUT = {
    "name": ("", "Enter the medication&#39;s name."),
    "drug_class": ("aspirin", "Not a valid choice"),
    "dose": ("x" * 81, "Use at most 80 characters."),
    "started_on": ("2999-01-01", "Enter a start date between 1900 and today."),
    "stopped_on": ("yesterday", "Not a valid date value."),
    "taper_plan": ("a\x00b", "Remove the invisible control characters"),
    "taper_end_on": ("31/12/2026", "Not a valid date value."),
}


@pytest.mark.parametrize("field", list(BAD_INPUT))
def test_bad_input_is_refused_next_to_the_field_and_nothing_is_saved(client, people, field):
    login(client, people.lead)
    value, message = BAD_INPUT[field]
    response = client.post(url(people), data=form(**{field: value}))
    assert response.status_code == 422
    assert f'id="{field}-error"' in response.text and message in response.text
    assert medications() == 0


def test_a_stop_date_before_the_start_is_refused_by_the_service(client, people):
    login(client, people.lead)
    response = client.post(url(people), data=form(started_on=days(-10), stopped_on=days(-20)))
    assert response.status_code == 422
    assert 'id="stopped_on-error"' in response.text and "The stop date is before the start date." in response.text
    assert medications() == 0


def _medication(people, **fields) -> Medication:
    medication = add_medication(
        people.lead, people.patient, MedicationInput(**{**{"name": "Sertraline", "drug_class": "ssri"}, **fields})
    )
    db.session.commit()
    return medication


def test_it_edits_a_medication_and_audits_the_changed_fields(client, people):
    medication = _medication(people)
    login(client, people.co_therapist)
    page = client.get(url(people, f"/{medication.id}/edit"))
    assert page.status_code == 200 and 'name="version_id" type="hidden" value="1"' in page.text
    assert audit_actions()[-1] == "medication.view"
    response = client.post(url(people, f"/{medication.id}/edit"), data=form(stopped_on=days(0), version_id="1"))
    assert response.status_code == 302
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "medication.update"))
    assert event.data["changes"]["stopped_on"] == [None, days(0)]
    db.session.expire_all()
    assert db.session.get(Medication, medication.id).version_id == 2


def test_a_stale_edit_is_refused_with_both_versions_and_keeps_what_was_typed(client, people):
    medication = _medication(people)
    login(client, people.lead)
    first = client.post(url(people, f"/{medication.id}/edit"), data=form(dose="100 mg", version_id="1"))
    assert first.status_code == 302
    conflict = client.post(url(people, f"/{medication.id}/edit"), data=form(dose="25 mg", version_id="1"))
    assert conflict.status_code == 409
    assert "Someone else saved this medication" in conflict.text
    assert 'value="25 mg"' in conflict.text  # the second person's typing is kept
    assert "Dose: 100 mg" in conflict.text  # beside what was saved
    assert 'name="version_id" type="hidden" value="2"' in conflict.text  # saving again keeps this version
    db.session.expire_all()
    assert db.session.get(Medication, medication.id).dose == "100 mg"
    again = client.post(url(people, f"/{medication.id}/edit"), data=form(dose="25 mg", version_id="2"))
    assert again.status_code == 302


def test_bad_input_on_the_edit_form_is_refused(client, people):
    medication = _medication(people)
    login(client, people.lead)
    response = client.post(url(people, f"/{medication.id}/edit"), data=form(name="", version_id="1"))
    assert response.status_code == 422 and 'id="name-error"' in response.text
    db.session.expire_all()
    assert db.session.get(Medication, medication.id).version_id == 1


def test_a_medication_of_another_patient_is_not_found(client, people, protocols):
    from tracker.factories import make_patient

    other = make_patient(people.lead, people.co_therapist, protocols=protocols)
    foreign = add_medication(people.lead, other, MedicationInput("Lithium", "lithium"))
    db.session.commit()
    login(client, people.lead)
    assert client.get(url(people, f"/{foreign.id}/edit")).status_code == 404
    assert client.post(url(people, f"/{foreign.id}/edit"), data=form(version_id="1")).status_code == 404


def test_the_page_runs_the_same_queries_for_few_and_many_medications(client, people):
    login(client, people.lead)
    _medication(people)
    with count_queries() as small:
        assert client.get(url(people)).status_code == 200
    for number in range(30):
        drug_class = list(DRUG_CLASSES)[number % len(DRUG_CLASSES)]
        add_medication(people.lead, people.patient, MedicationInput(f"Drug {number}", drug_class))
    db.session.commit()
    with count_queries() as large:
        assert client.get(url(people)).status_code == 200
    assert len(small) == len(large)
