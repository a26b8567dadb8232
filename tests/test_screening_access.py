"""Role x route matrix for the preparation-phase routes: the care team and their supervisor get the page, anyone
else a 404 (403 for an admin) that shows nothing of the patient and saves nothing. The supervisor's review
decision and queue have their own matrices in test_review_queue.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import audit_actions, login
from tests.test_access_matrix import ALLOW, CANARY, PATIENT_PAGE, PERSONAS
from tracker.extensions import db
from tracker.models import Medication, ScreeningAnswer, TherapySession
from tracker.models.base import utcnow
from tracker.screening.services import MedicationInput, add_medication


@pytest.fixture
def medication(people) -> Medication:
    row = add_medication(people.lead, people.patient, MedicationInput("Sertraline", "ssri"))
    db.session.commit()
    return row


PAGES = ["/patients/{id}/screening", "/patients/{id}/medications", "/patients/{id}/medications/{med}/edit"]


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("page", PAGES)
def test_pages(client, people, medication, persona, page):
    login(client, getattr(people, persona))
    response = client.get(page.format(id=people.patient.id, med=medication.id))
    expected = PATIENT_PAGE[persona]
    if expected == ALLOW:
        assert response.status_code == 200
        assert CANARY in response.text
    else:
        assert response.status_code == expected
        assert CANARY not in response.text and "Sertraline" not in response.text
    if expected == 404:
        assert audit_actions()[-1] == "patient.access_denied"


def _rows(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def _session_form():
    return {
        "kind": "preparation",
        "held_at": (utcnow() - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
        "duration_minutes": "60",
    }


#: (url, form data, model whose rows a write adds, status when allowed)
WRITES = {
    "answer": ("/patients/{id}/screening/items/maoi", {"maoi-answer": "no"}, ScreeningAnswer, 302),
    "answer all": ("/patients/{id}/screening/answers", {"maoi-answer": "no"}, ScreeningAnswer, 302),
    "sign-off": ("/patients/{id}/screening/sign-off", {"confirm": "y"}, None, 422),  # refused: items unanswered
    "add medication": ("/patients/{id}/medications", {"name": "Lithium", "drug_class": "lithium"}, Medication, 302),
    "edit medication": (
        "/patients/{id}/medications/{med}/edit",
        {"name": "Sertraline", "drug_class": "ssri", "dose": "1 mg", "version_id": "1"},
        None,
        302,
    ),
    "log session": ("/patients/{id}/sessions", None, TherapySession, 302),
}


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("write", list(WRITES))
def test_writes(client, people, medication, persona, write):
    path, data, model, allowed_status = WRITES[write]
    before = _rows(model) if model else None
    login(client, getattr(people, persona))
    response = client.post(path.format(id=people.patient.id, med=medication.id), data=data or _session_form())
    expected = PATIENT_PAGE[persona]
    if expected == ALLOW:
        assert response.status_code == allowed_status
        if model:
            assert _rows(model) == before + 1
    else:
        assert response.status_code == expected
        assert CANARY not in response.text
        if model:
            assert _rows(model) == before
        db.session.expire_all()
        assert db.session.get(Medication, medication.id).dose is None
