"""Several clinics share one deployment; nothing crosses between them."""

from __future__ import annotations

from sqlalchemy import select

from tests.conftest import login
from tracker.demo import seed_demo
from tracker.extensions import db
from tracker.models import Clinic, Patient, User


def _demo(protocols):
    seed_demo(protocols, patients_per_clinic=4)
    db.session.commit()
    clinics = db.session.scalars(select(Clinic).order_by(Clinic.id)).all()[-2:]
    return clinics


def _user(username):
    return db.session.scalar(select(User).where(User.username == username))


def test_nothing_crosses_between_the_demo_clinics(client, protocols):
    harbour, northside = _demo(protocols)
    theirs = db.session.scalars(select(Patient).where(Patient.clinic_id == northside.id)).all()
    ours = db.session.scalars(select(Patient).where(Patient.clinic_id == harbour.id)).all()
    assert theirs and ours
    for username in ["therapist", "cotherapist", "lead", "supervisor"]:
        login(client, _user(username))
        listing = client.get("/patients/").text
        for patient in theirs:
            assert patient.family_name not in listing or patient.family_name in {p.family_name for p in ours}
            assert client.get(f"/patients/{patient.id}").status_code == 404
            assert client.get(f"/patients/{patient.id}/edit").status_code == 404
            assert (
                client.post(f"/patients/{patient.id}/phase", data={"target": "on_hold", "reason": "x"}).status_code
                == 404
            )
        audit_page = client.get("/audit/")
        if audit_page.status_code == 200:
            for patient in theirs:
                assert patient.record_number not in audit_page.text


def test_admins_only_manage_their_own_clinic(client, protocols):
    _demo(protocols)
    login(client, _user("admin"))
    page = client.get("/admin/users").text
    assert "b-therapist" not in page and "therapist" in page
    other = _user("b-therapist")
    assert client.get(f"/admin/users/{other.id}").status_code == 404


def test_a_care_team_cannot_include_another_clinics_therapist(client, protocols):
    _demo(protocols)
    lead, foreign = _user("lead"), _user("b-cotherapist")
    login(client, lead)
    response = client.post(
        "/patients/new",
        data={
            "given_name": "A",
            "family_name": "B",
            "date_of_birth": "1980-01-01",
            "record_number": "X-1",
            "indication": "ptsd",
            "protocol_code": "mdma-ptsd",
            "lead_therapist_id": str(lead.id),
            "co_therapist_ids": [str(foreign.id)],
        },
    )
    assert response.status_code == 422
    assert "is not a valid choice for this field." in response.text


def test_the_demo_data_loads_once(protocols):
    assert seed_demo(protocols, patients_per_clinic=2) is True
    db.session.commit()
    count = db.session.scalar(select(db.func.count()).select_from(Patient))
    assert seed_demo(protocols, patients_per_clinic=2) is False
    assert db.session.scalar(select(db.func.count()).select_from(Patient)) == count
