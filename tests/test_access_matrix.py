"""Role x route matrix: who gets the data and who gets 403/404 (never the data) on every route.

Personas (tests/conftest.py ``people``): the patient's lead therapist and co-therapist, their supervisor,
another therapist, another supervisor, an admin of the same clinic, and a clinician of another clinic.
"""

from __future__ import annotations

import pytest

from tests.conftest import audit_actions, login
from tracker.extensions import db
from tracker.factories import log_sessions
from tracker.models import Patient, SessionKind

CANARY = "Zzpatient"

ALLOW, DENY_404, DENY_403 = "allow", 404, 403

#: persona -> expectation, for patient pages (GET).
PATIENT_PAGE = {
    "lead": ALLOW,
    "co_therapist": ALLOW,
    "supervisor": ALLOW,
    "other_therapist": DENY_404,
    "other_supervisor": DENY_404,
    "admin": DENY_403,
    "outsider": DENY_404,
}

#: persona -> expectation for the patient list (whether the canary patient is listed).
LIST = {
    "lead": True,
    "co_therapist": True,
    "supervisor": True,
    "other_therapist": False,
    "other_supervisor": False,
    "admin": DENY_403,
    "outsider": False,
}

PERSONAS = list(PATIENT_PAGE)


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize(
    "page",
    [
        "/patients/{id}",
        "/patients/{id}/edit",
        "/patients/{id}/fhir",
        "/patients/{id}/questionnaires",
        "/patients/{id}/labs",
    ],
)
def test_patient_pages(client, people, persona, page):
    login(client, getattr(people, persona))
    response = client.get(page.format(id=people.patient.id))
    expected = PATIENT_PAGE[persona]
    if expected == ALLOW:
        assert response.status_code == 200
        assert CANARY in response.text
    else:
        assert response.status_code == expected
        assert CANARY not in response.text


@pytest.mark.parametrize("persona", PERSONAS)
def test_patient_list(client, people, persona):
    login(client, getattr(people, persona))
    response = client.get("/patients/")
    expected = LIST[persona]
    if expected is DENY_403:
        assert response.status_code == 403
    else:
        assert response.status_code == 200
        assert (CANARY in response.text) is expected


@pytest.mark.parametrize("persona", PERSONAS)
def test_phase_move(client, people, persona):
    login(client, getattr(people, persona))
    response = client.post(f"/patients/{people.patient.id}/phase", data={"target": "on_hold", "reason": "Travel"})
    expected = PATIENT_PAGE[persona]
    db.session.expire_all()
    phase = db.session.get(Patient, people.patient.id).phase.value
    if expected == ALLOW:
        assert response.status_code == 302
        assert phase == "on_hold"
    else:
        assert response.status_code == expected
        assert phase == "preparation"
        assert CANARY not in response.text


@pytest.mark.parametrize("persona", PERSONAS)
def test_patient_edit_post(client, people, persona):
    login(client, getattr(people, persona))
    response = client.post(f"/patients/{people.patient.id}/edit", data={"given_name": "Changed"})
    expected = PATIENT_PAGE[persona]
    if expected == ALLOW:
        assert response.status_code == 422  # reaches the form (incomplete data is refused by validation)
    else:
        assert response.status_code == expected
        assert CANARY not in response.text


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("url", ["/patients/new"])
def test_enrolment_is_for_clinicians(client, people, persona, url):
    login(client, getattr(people, persona))
    response = client.get(url)
    assert response.status_code == (403 if persona == "admin" else 200)


ADMIN_PAGES = [
    "/admin/users",
    "/admin/users/new",
    "/admin/users/{user}",
    "/admin/clinic",
    "/admin/alert-mail",
    "/admin/modalities",
]


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("page", ADMIN_PAGES)
def test_admin_pages_are_for_admins(client, people, persona, page):
    login(client, getattr(people, persona))
    response = client.get(page.format(user=people.lead.id))
    assert response.status_code == (200 if persona == "admin" else 403)


def test_an_admin_cannot_open_an_account_of_another_clinic(client, people):
    login(client, people.admin)
    assert client.get(f"/admin/users/{people.outsider.id}").status_code == 404
    response = client.post(f"/admin/users/{people.outsider.id}/active", data={"active": "0"})
    assert response.status_code == 404


@pytest.mark.parametrize("persona", PERSONAS)
def test_audit_page_is_for_supervisors_and_admins(client, people, persona):
    login(client, getattr(people, persona))
    response = client.get("/audit/")
    allowed = persona in {"supervisor", "other_supervisor", "admin", "outsider"}
    assert response.status_code == (200 if allowed else 403)


def test_a_refused_patient_is_audited(client, people):
    login(client, people.other_therapist)
    client.get(f"/patients/{people.patient.id}")
    assert audit_actions()[-1] == "patient.access_denied"


def test_a_hidden_patient_looks_exactly_like_a_missing_one(client, people):
    """No existence oracle: ids outside the caseload cannot be told apart from ids that do not exist."""
    login(client, people.other_therapist)
    missing = client.get("/patients/999999")
    hidden = client.get(f"/patients/{people.patient.id}")
    assert missing.status_code == hidden.status_code == 404
    # Identical but for each request's own id (a random reference for the administrator, not a clue).
    assert missing.text.replace(missing.headers["X-Request-ID"], "ID") == hidden.text.replace(
        hidden.headers["X-Request-ID"], "ID"
    )


#: persona -> expectation for the dashboard pages: True/False = 200 with/without the canary patient listed.
DASHBOARD_PAGES = {
    "/dashboard": {
        "lead": DENY_403,
        "co_therapist": DENY_403,
        "supervisor": True,
        "other_therapist": DENY_403,
        "other_supervisor": False,
        "admin": DENY_403,
        "outsider": False,
    },
    "/today": {
        "lead": True,
        "co_therapist": True,
        "supervisor": DENY_403,
        "other_therapist": False,
        "other_supervisor": DENY_403,
        "admin": DENY_403,
        "outsider": False,
    },
    "/overview": {
        "lead": DENY_403,
        "co_therapist": DENY_403,
        "supervisor": False,
        "other_therapist": DENY_403,
        "other_supervisor": False,
        "admin": DENY_403,
        "outsider": False,
    },
}


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("page", list(DASHBOARD_PAGES))
def test_dashboard_pages(client, people, persona, page):
    """The canary has a session held two days ago with no note: an item on the queues of those who follow them.
    The overview never names anyone."""
    log_sessions(people.patient, people.lead, SessionKind.PREPARATION, 1, days_ago=2)
    db.session.commit()
    login(client, getattr(people, persona))
    response = client.get(page)
    expected = DASHBOARD_PAGES[page][persona]
    if expected is DENY_403:
        assert response.status_code == 403
    else:
        assert response.status_code == 200
        assert (CANARY in response.text) is expected


#: persona -> expectation for the link in an alert's e-mail (``/alerts/<id>``): where it leads, or the refusal.
ALERT_LINK = {
    "lead": "alert",
    "co_therapist": "alert",
    "supervisor": "alert",
    "other_therapist": DENY_404,
    "other_supervisor": DENY_404,
    "admin": DENY_403,
    "outsider": DENY_404,
}


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_alert_link_of_an_e_mail(client, people, persona):
    """The e-mail names no patient; its link leads those who may open the patient to the alert, and tells nobody
    else whether the alert exists (the same 404 as for a number that was never an alert)."""
    from tracker.factories import record_measure
    from tracker.models import SafetyAlert

    record_measure(people.patient, people.lead, "phq9", [1] * 8 + [2])
    db.session.commit()
    alert = db.session.query(SafetyAlert).one()
    login(client, getattr(people, persona))
    response = client.get(f"/alerts/{alert.id}")
    expected = ALERT_LINK[persona]
    if expected == "alert":
        assert response.status_code == 302
        assert response.location == f"/patients/{people.patient.id}/alerts/{alert.id}"
    else:
        assert response.status_code == expected
        assert CANARY not in response.text and people.patient.record_number not in response.text
        if expected == DENY_404:
            assert client.get("/alerts/999999").status_code == 404
