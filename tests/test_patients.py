"""Enrolling, editing, listing and moving patients through the pages."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.conftest import audit_actions, count_queries, login
from tracker.extensions import db
from tracker.factories import make_patient
from tracker.models import AuditEvent, Patient, Phase


def _form(people, **overrides):
    data = {
        "given_name": "Robin",
        "family_name": "Ash",
        "date_of_birth": "1984-02-29",
        "record_number": "H-2001",
        "phone": "+1 555 0100",
        "email": "robin@example.org",
        "support_contact_name": "Kim Ash",
        "support_contact_relationship": "Sibling",
        "support_contact_phone": "555-0101",
        "indication": "ptsd",
        "protocol_code": "mdma-ptsd",
        "lead_therapist_id": str(people.lead.id),
        "co_therapist_ids": [str(people.co_therapist.id)],
    }
    data.update(overrides)
    return data


def _patients() -> int:
    return db.session.scalar(select(func.count()).select_from(Patient))


def test_it_enrols_a_patient_in_preparation_with_a_care_team(client, people):
    login(client, people.lead)
    response = client.post("/patients/new", data=_form(people))
    assert response.status_code == 302
    patient = db.session.scalar(select(Patient).where(Patient.record_number == "H-2001"))
    assert patient.phase is Phase.PREPARATION
    page = client.get(response.location)
    assert "Robin Ash" in page.text and "Cody Co" in page.text and "was enrolled" in page.text
    event = db.session.scalar(
        select(AuditEvent).where(AuditEvent.action == "patient.create", AuditEvent.patient_id == patient.id)
    )
    assert event.data["changes"]["family_name"] == [None, "Ash"]


def test_a_therapist_cannot_enrol_a_patient_they_would_not_see(client, people):
    login(client, people.co_therapist)
    response = client.post("/patients/new", data=_form(people, co_therapist_ids=[]))
    assert response.status_code == 422
    assert "You would lose access to this patient" in response.text


def test_a_supervisor_can_enrol_for_a_supervisee(client, people):
    login(client, people.supervisor)
    assert client.post("/patients/new", data=_form(people)).status_code == 302


def test_the_protocol_must_fit_the_indication(client, people):
    login(client, people.lead)
    response = client.post("/patients/new", data=_form(people, indication="treatment_resistant_depression"))
    assert response.status_code == 422
    assert "MDMA-assisted therapy for PTSD (MAPP1/MAPP2 structure) is for: PTSD." in response.text


def test_record_numbers_are_unique_per_clinic(client, people, protocols):
    login(client, people.lead)
    before = _patients()
    response = client.post("/patients/new", data=_form(people, record_number="CANARY-1"))
    assert response.status_code == 422
    assert "already has this record number" in response.text
    assert _patients() == before
    # the same number in another clinic is fine
    make_patient(people.outsider, protocols=protocols, record_number="H-2001")
    assert client.post("/patients/new", data=_form(people)).status_code == 302


BAD_INPUT = {
    "given_name": ("", "Enter the given name."),
    "family_name": ("x" * 81, "Use at most 80 characters."),
    "date_of_birth": ("31/02/1980", "Not a valid date value."),
    "record_number": ("<script>", "Use letters, digits, dashes, dots or slashes."),
    "phone": ("call me", "Use digits, spaces, brackets"),
    "email": ("not-an-email", "Enter a valid email address."),
    "support_contact_name": ("Kim\x00Ash", "Remove the invisible control characters"),
    "indication": ("lsd", "Not a valid choice"),
    "protocol_code": ("unknown", "Not a valid choice"),
    "lead_therapist_id": ("abc", "Invalid Choice"),
}


def test_bad_input_is_refused_next_to_each_field_and_nothing_is_saved(client, people):
    login(client, people.lead)
    before = _patients()
    for field, (value, message) in BAD_INPUT.items():
        response = client.post("/patients/new", data=_form(people, **{field: value}))
        assert response.status_code == 422, field
        assert message in response.text, (field, response.text[:200])
        assert f'id="{field}-error"' in response.text, field
        assert 'aria-invalid="true"' in response.text
    assert _patients() == before


def test_a_date_of_birth_in_the_future_is_refused(client, people):
    login(client, people.lead)
    response = client.post("/patients/new", data=_form(people, date_of_birth="2999-01-01"))
    assert response.status_code == 422 and "between 1900 and today" in response.text


def test_it_edits_a_patient_and_audits_the_changed_fields(client, people):
    login(client, people.lead)
    patient = people.patient
    page = client.get(f"/patients/{patient.id}/edit")
    assert 'value="1"' in page.text  # the version the form was opened at
    data = _form(people, given_name="Renamed", record_number="CANARY-1", version_id=str(patient.version_id))
    response = client.post(f"/patients/{patient.id}/edit", data=data)
    assert response.status_code == 302
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "patient.update"))
    assert event.data["changes"]["given_name"] == ["Canary", "Renamed"]
    assert "date_of_birth" in event.data["changes"]


def test_a_stale_edit_is_refused_and_keeps_what_was_typed(client, people):
    login(client, people.lead)
    patient = people.patient
    first = _form(people, given_name="First", record_number="CANARY-1", version_id=str(patient.version_id))
    second = _form(people, given_name="Second", record_number="CANARY-1", version_id=str(patient.version_id))
    assert client.post(f"/patients/{patient.id}/edit", data=first).status_code == 302
    conflict = client.post(f"/patients/{patient.id}/edit", data=second)
    assert conflict.status_code == 409
    assert "Someone else saved this patient" in conflict.text
    assert 'value="Second"' in conflict.text  # the second person's typing is still in the form
    assert "Given name: First" in conflict.text  # beside what was saved
    db.session.expire_all()
    assert db.session.get(Patient, patient.id).given_name == "First"


def test_the_phase_form_shows_a_refusal_next_to_the_field(client, people):
    login(client, people.lead)
    response = client.post(f"/patients/{people.patient.id}/phase", data={"target": "completed"})
    assert response.status_code == 409
    assert "A patient in preparation cannot move to completed." in response.text
    assert 'id="target-error"' in response.text


def test_an_allowed_move_is_recorded_on_the_timeline(client, people):
    login(client, people.lead)
    response = client.post(f"/patients/{people.patient.id}/phase", data={"target": "on_hold", "reason": "Travel"})
    assert response.status_code == 302
    page = client.get(response.location)
    assert "Moved to on hold." in page.text and "“Travel”" in page.text
    assert audit_actions()[-2] == "patient.phase_change"


def test_a_bad_phase_is_refused(client, people):
    login(client, people.lead)
    assert client.post(f"/patients/{people.patient.id}/phase", data={"target": "party"}).status_code == 422


def test_every_patient_page_read_is_audited(client, people):
    login(client, people.supervisor)
    client.get(f"/patients/{people.patient.id}")
    event = db.session.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()))
    assert (event.action, event.patient_id, event.actor_id) == ("patient.view", people.patient.id, people.supervisor.id)
    assert event.ip == "127.0.0.1"
    client.get("/patients/")
    event = db.session.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()))
    assert event.action == "patient.list" and people.patient.id in event.data["patient_ids"]


def test_search_is_kept_out_of_the_url(client, people, protocols):
    make_patient(people.lead, protocols=protocols, given_name="Other", family_name="Person", record_number="P-7")
    login(client, people.lead)
    response = client.post("/patients/search", data={"q": "zzpat"})
    assert response.status_code == 303 and response.location == "/patients/"
    page = client.get("/patients/")
    assert "Zzpatient" in page.text and "Person" not in page.text
    assert "Zzpatient" in client.get("/patients/").text
    client.post("/patients/search", data={"q": "p-7"})
    assert "Person" in client.get("/patients/").text
    client.post("/patients/search", data={"q": ""})
    both = client.get("/patients/").text
    assert "Person" in both and "Zzpatient" in both


def test_search_treats_wildcards_literally(client, people):
    login(client, people.lead)
    client.post("/patients/search", data={"q": "%"})
    assert "No patients match." in client.get("/patients/").text


def test_the_list_sorts_and_paginates(app, client, people, protocols):
    for number in range(30):
        make_patient(people.lead, protocols=protocols, family_name=f"Fam{number:02d}", record_number=f"S-{number:02d}")
    login(client, people.lead)
    first = client.get("/patients/?sort=name&order=asc").text
    assert "Fam00" in first and "Zzpatient" not in first
    last = client.get("/patients/?sort=name&order=desc").text
    assert "Zzpatient" in last
    page2 = client.get("/patients/?page=2&sort=name").text
    assert "Fam25" in page2 and "page 2 of 2" in page2


def test_bad_list_arguments_are_refused(client, people):
    login(client, people.lead)
    for query in ["page=abc", "page=%2B1", "page=%EF%BC%92", "sort=password", "order=sideways"]:
        response = client.get(f"/patients/?{query}")
        assert response.status_code == 400, query
        assert "cannot be shown with these settings" in response.text


def _grow_caseload(people, protocols, count):
    for _ in range(count):
        make_patient(people.lead, people.co_therapist, protocols=protocols)
    db.session.commit()


def test_the_patient_list_runs_the_same_queries_for_5_and_200_patients(client, people, protocols):
    login(client, people.lead)
    _grow_caseload(people, protocols, 4)
    with count_queries() as small:
        assert client.get("/patients/").status_code == 200
    _grow_caseload(people, protocols, 195)
    with count_queries() as large:
        assert client.get("/patients/").status_code == 200
    assert len(small) == len(large)
    assert len(small) <= 15  # 11th: open safety alerts; +2: the audit chain head; +2: the write step after the reads


def test_the_patient_page_runs_the_same_queries_for_small_and_long_histories(client, people, protocols):
    from tracker import workflow

    login(client, people.supervisor)
    with count_queries() as small:
        client.get(f"/patients/{people.patient.id}")
    for _ in range(20):
        workflow.move(db.session, people.patient, Phase.ON_HOLD, people.lead, None, "pause")
        workflow.move(db.session, people.patient, Phase.PREPARATION, people.lead, None)
    _grow_caseload(people, protocols, 50)
    with count_queries() as large:
        assert client.get(f"/patients/{people.patient.id}").status_code == 200
    assert len(small) == len(large)


def test_a_bad_search_is_refused_next_to_the_search_box(client, people):
    login(client, people.lead)
    response = client.post("/patients/search", data={"q": "x" * 81})
    assert response.status_code == 422
    assert 'id="q-error"' in response.text and "Use at most 80 characters." in response.text
    assert "Zzpatient" in response.text  # the list is still there


# --- Finding a patient, and not enrolling one twice ---------------------------------------------------------------


@pytest.mark.parametrize("typed", ["Noble, Tina", "tina noble", "NOBLE", "h-7001", "noble h-7001"])
def test_a_patient_is_found_by_names_in_any_order_and_by_record_number(client, people, protocols, typed):
    make_patient(
        people.lead,
        people.co_therapist,
        protocols=protocols,
        given_name="Tina",
        family_name="Noble",
        record_number="H-7001",
    )
    db.session.commit()
    login(client, people.lead)
    found = client.post("/patients/search", data={"q": typed}, follow_redirects=True)
    assert found.status_code == 200 and "Noble, Tina" in found.text and "Zzpatient" not in found.text


def test_every_page_has_the_patient_search_in_its_menu(client, people):
    login(client, people.lead)
    page = client.get("/patients/").text
    assert 'id="nav-search"' in page and 'action="/patients/search"' in page


def test_a_record_number_differing_only_in_case_is_refused(client, people):
    login(client, people.lead)
    assert client.post("/patients/new", data=_form(people, record_number="H-3001")).status_code == 302
    again = client.post(
        "/patients/new", data=_form(people, record_number="h-3001", given_name="Other", date_of_birth="1990-01-01")
    )
    assert again.status_code == 422 and "already has this record number" in again.text
    assert _patients() == 2  # the people fixture's patient and the first one


def test_the_database_refuses_a_record_number_differing_only_in_case(people, protocols):
    from sqlalchemy.exc import IntegrityError

    make_patient(people.lead, protocols=protocols, record_number="CASE-1")
    other = make_patient(people.lead, protocols=protocols, record_number="CASE-2")
    db.session.flush()
    with pytest.raises(IntegrityError), db.session.begin_nested():
        other.record_number = "case-1"  # past the service's check, as a script might
        db.session.flush()


def test_enrolling_the_same_name_and_birth_date_asks_first(client, people):
    login(client, people.lead)
    assert client.post("/patients/new", data=_form(people)).status_code == 302
    twin = client.post("/patients/new", data=_form(people, record_number="H-2002", given_name="ROBIN"))
    assert twin.status_code == 422 and 'id="possible-duplicate"' in twin.text and "H-2001" in twin.text
    assert _patients() == 2
    anyway = client.post("/patients/new", data=_form(people, record_number="H-2002", enrol_anyway="y"))
    assert anyway.status_code == 302 and _patients() == 3


def test_the_duplicate_warning_names_no_record_outside_ones_caseload(client, people):
    login(client, people.lead)
    assert client.post("/patients/new", data=_form(people)).status_code == 302
    client.post("/logout")
    login(client, people.other_therapist)
    twin = client.post(
        "/patients/new",
        data=_form(
            people, record_number="H-2002", lead_therapist_id=str(people.other_therapist.id), co_therapist_ids=[]
        ),
    )
    assert twin.status_code == 422 and "a patient outside your caseload" in twin.text and "H-2001" not in twin.text


@pytest.mark.parametrize("field", ["sex_at_birth", "can_become_pregnant"])
def test_a_blank_choice_is_read_as_not_recorded_never_a_server_error(client, people, field):
    login(client, people.lead)
    response = client.post("/patients/new", data=_form(people, **{field: " "}))
    assert response.status_code in (302, 422)
