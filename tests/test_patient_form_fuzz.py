"""Random values posted to the patient form never produce a server error, and never store invalid data."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from tests.conftest import login
from tracker.extensions import db
from tracker.models import Patient

FIELDS = [
    "given_name",
    "family_name",
    "date_of_birth",
    "record_number",
    "phone",
    "email",
    "support_contact_name",
    "support_contact_relationship",
    "support_contact_phone",
    "indication",
    "protocol_code",
    "lead_therapist_id",
    "co_therapist_ids",
    "version_id",
    "phase",
    "clinic_id",
]

text = st.one_of(
    st.text(max_size=120),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=300),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "1984-02-29",
            "2999-12-31",
            "ptsd",
            "mdma-ptsd",
            "-1",
            "1",
            "99999999999999999999",
            "<script>alert(1)</script>",
            "' OR 1=1 --",
            "\u202e",
            "😀" * 50,
        ]
    ),
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.dictionaries(st.sampled_from(FIELDS), text))
def test_random_patient_forms_never_fail_with_a_server_error(client, people, data):
    """Random values over a valid form, so both the refusals and the saves are exercised."""
    login(client, people.lead)
    valid = {
        "given_name": "Robin",
        "family_name": "Ash",
        "date_of_birth": "1984-02-29",
        "record_number": "F-1",
        "indication": "ptsd",
        "protocol_code": "mdma-ptsd",
        "lead_therapist_id": str(people.lead.id),
    }
    response = client.post("/patients/new", data={**valid, **data})
    assert response.status_code in (302, 422), response.status_code
    if response.status_code == 302:
        patient = db.session.scalar(select(Patient).order_by(Patient.id.desc()))
        assert patient.given_name.strip() and len(patient.given_name) <= 80
        assert patient.clinic_id == people.lead.clinic_id  # never taken from the form


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.dictionaries(st.sampled_from(FIELDS), text))
def test_random_edits_never_fail_with_a_server_error(client, people, data):
    login(client, people.lead)
    response = client.post(f"/patients/{people.patient.id}/edit", data=data)
    assert response.status_code in (302, 409, 422), response.status_code


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(target=text, reason=text)
def test_random_phase_moves_never_fail_with_a_server_error(client, people, target, reason):
    login(client, people.lead)
    response = client.post(f"/patients/{people.patient.id}/phase", data={"target": target, "reason": reason})
    assert response.status_code in (302, 409, 422), response.status_code
