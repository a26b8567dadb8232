"""Role x route matrix for the measure, alert and plan routes: the care team and their supervisor get the page
(and their writes are saved and audited); another therapist or supervisor, or a clinician of another clinic, gets
the same 404 as for a missing patient (audited); an admin gets 403. Nothing of the patient leaks, nothing is saved."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from tests.conftest import audit_actions, login
from tests.test_access_matrix import ALLOW, CANARY, PATIENT_PAGE, PERSONAS
from tracker.extensions import db
from tracker.factories import record_measure
from tracker.models import IntegrationPlanVersion, MeasureResult, PlanHandout, SafetyAlert
from tracker.models.base import utcnow
from tracker.plans.services import save_version

SECRET = "Thoughts that you would be better off dead"  # item 9 text: on the alert, result and form pages


@pytest.fixture
def ids(people) -> dict[str, Any]:
    result = record_measure(people.patient, people.lead, "phq9", [1] * 8 + [1])  # raises an alert
    version = save_version(people.lead, people.patient, {"Insights and themes": "Trust the body."}, "Line 1", 0)
    db.session.commit()
    alert = db.session.scalars(select(SafetyAlert)).one()
    return {"id": people.patient.id, "result": result.id, "alert": alert.id, "number": version.number}


PAGES = [
    "/patients/{id}/measures",
    "/patients/{id}/measures/phq9/new",
    "/patients/{id}/measures/results/{result}",
    "/patients/{id}/measures/results/{result}/correct",
    "/patients/{id}/alerts/{alert}",
    "/patients/{id}/plan",
    "/patients/{id}/plan/edit",
    "/patients/{id}/plan/versions/{number}",
]


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("page", PAGES)
def test_pages(client, people, ids, persona, page):
    login(client, getattr(people, persona))
    before = audit_actions()
    response = client.get(page.format(**ids))
    expected = PATIENT_PAGE[persona]
    if expected == ALLOW:
        assert response.status_code == 200
        assert CANARY in response.text
        assert len(audit_actions()) == len(before) + 1
        assert audit_actions()[-1] in {"measure.view", "measure.form", "measure.view_result", "alert.view", "plan.view"}
    else:
        assert response.status_code == expected
        assert CANARY not in response.text and SECRET not in response.text and "Trust the body" not in response.text
    if expected == 404:
        assert audit_actions()[-1] == "patient.access_denied"


def _count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def _phq9(**extra: str) -> dict[str, str]:
    return {
        "administered_on": utcnow().date().isoformat(),
        "mode": "with_patient",
        **{f"item_{n}": "0" for n in range(1, 10)},
        **extra,
    }


#: name -> (url, form data, model whose rows a write adds, audit action, status when allowed)
WRITES = {
    "record": ("/patients/{id}/measures/phq9/new", _phq9(), MeasureResult, "measure.record", 302),
    "correct": (
        "/patients/{id}/measures/results/{result}/correct",
        _phq9(reason="Item 9 was 0"),
        MeasureResult,
        "measure.correct",
        302,
    ),
    "acknowledge": (
        "/patients/{id}/alerts/{alert}",
        {"actions": ["patient_contacted"], "action_taken": "Called the patient the same day"},
        None,
        "alert.acknowledge",
        302,
    ),
    "save plan": (
        "/patients/{id}/plan/edit",
        {"based_on": "1", "crisis_line": "Line 2", "section_1": "New"},
        IntegrationPlanVersion,
        "plan.save",
        302,
    ),
    "mark given": (
        "/patients/{id}/plan/versions/{number}/given",
        {"given_on": utcnow().date().isoformat()},
        PlanHandout,
        "plan.given",
        302,
    ),
}


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("write", list(WRITES))
def test_writes(client, people, ids, persona, write):
    path, data, model, action, allowed_status = WRITES[write]
    before = _count(model) if model else None
    audited = audit_actions().count(action)
    login(client, getattr(people, persona))
    response = client.post(path.format(**ids), data=data)
    expected = PATIENT_PAGE[persona]
    db.session.expire_all()
    alert = db.session.get(SafetyAlert, ids["alert"])
    if expected == ALLOW:
        assert response.status_code == allowed_status, response.text[-2000:]
        assert audit_actions()[-1] == action
        if model:
            assert _count(model) == before + 1
        else:
            assert alert.acknowledged_by_id == getattr(people, persona).id
    else:
        assert response.status_code == expected
        assert CANARY not in response.text and SECRET not in response.text
        assert audit_actions().count(action) == audited
        if model:
            assert _count(model) == before
        assert alert.is_open


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_alert_queue_is_for_supervisors(client, people, ids, persona):
    login(client, getattr(people, persona))
    response = client.get("/alerts")
    user = getattr(people, persona)
    assert response.status_code == (200 if user.is_supervisor else 403)
    assert (CANARY in response.text) is (persona == "supervisor")
