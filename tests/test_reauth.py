"""Password re-entry (signing a note, an addendum, emergency access) is throttled per account across every door, and
every failure is audited: 25 wrong passwords and then the right one grants nothing (the issue's finding)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from tests.conftest import PASSWORD, audit_actions, login
from tests.session_data import in_dosing, session_url
from tracker.auth import reauth
from tracker.extensions import db
from tracker.factories import complete_dosing
from tracker.models import AuditEvent, EmergencyAccess, NoteAddendum, SessionNote
from tracker.models.base import utcnow

WRONG = "not my password at all"
REASON = "Crisis call from the patient while the care team is away"


@pytest.fixture
def ready(people, protocols):
    in_dosing(people.patient, people.lead, protocols)
    session = complete_dosing(people.patient, people.lead, protocols, sign=False)
    db.session.commit()
    return session


def _sign(client, people, session, password):
    return client.post(session_url(people.patient, session, "/sign"), data={"password": password})


def _addendum(client, people, session, password):
    return client.post(
        session_url(people.patient, session, "/addenda"),
        data={"reason": "Correction", "body": "The dose was given at 09:10.", "password": password},
    )


def _emergency(client, people, password):
    return client.post("/emergency-access", data={"record_number": "CANARY-1", "reason": REASON, "password": password})


def _count(action: str, user) -> int:
    return db.session.scalar(
        select(func.count(AuditEvent.id)).where(AuditEvent.action == action, AuditEvent.actor_id == user.id)
    )


def test_the_right_password_never_counts_as_wrong_when_the_step_is_refused_for_another_reason(
    app, client, people, ready
):
    """Pressing Sign again and again on a note the rules refuse (here: a stale page) with the right password must not
    lock the clinician out of signing or adding an addendum."""
    login(client, people.lead)
    for _ in range(int(app.config["REAUTH_MAX_FAILURES"]) + 3):
        refused = client.post(
            session_url(people.patient, ready, "/sign"), data={"password": PASSWORD, "content_hash": "0" * 64}
        )
        assert refused.status_code in (409, 422) and "Too many wrong passwords" not in refused.text
    assert "auth.reauth_throttled" not in audit_actions()
    assert "Too many wrong passwords" not in _addendum(client, people, ready, PASSWORD).text


def test_signing_is_refused_after_repeated_wrong_passwords_even_with_the_right_one(client, people, ready):
    login(client, people.lead)
    for _ in range(25):
        assert _sign(client, people, ready, WRONG).status_code == 422
    response = _sign(client, people, ready, PASSWORD)
    assert response.status_code == 422 and "Too many wrong passwords" in response.text
    db.session.expire_all()
    assert db.session.scalar(select(SessionNote.signed_at).where(SessionNote.session_id == ready.id)) is None
    assert _count(reauth.FAILED, people.lead) == 5  # past the limit the password is not even checked
    assert _count(reauth.THROTTLED, people.lead) == 21


def test_emergency_access_is_refused_after_repeated_wrong_passwords(client, people):
    login(client, people.other_therapist)
    for _ in range(25):
        assert _emergency(client, people, WRONG).status_code == 422
    response = _emergency(client, people, PASSWORD)
    assert response.status_code == 422 and "Too many wrong passwords" in response.text
    assert db.session.scalar(select(func.count(EmergencyAccess.id))) == 0
    assert _count(reauth.FAILED, people.other_therapist) == 5
    assert _count(reauth.THROTTLED, people.other_therapist) == 21
    assert client.get(f"/patients/{people.patient.id}").status_code == 404


def test_the_throttle_spans_every_door_of_one_account_and_not_other_accounts(client, people, ready):
    login(client, people.lead)
    for _ in range(3):
        _sign(client, people, ready, WRONG)
    assert _sign(client, people, ready, PASSWORD).status_code == 302
    for _ in range(2):
        _addendum(client, people, ready, WRONG)
    response = _addendum(client, people, ready, PASSWORD)
    assert response.status_code == 422 and "Too many wrong passwords" in response.text
    assert db.session.scalar(select(func.count(NoteAddendum.id))) == 0
    other = client.application.test_client()
    login(other, people.other_therapist)
    assert _emergency(other, people, PASSWORD).status_code == 302  # another account is not held up


def test_the_throttle_ends_with_its_window(app, client, people):
    login(client, people.other_therapist)
    for _ in range(5):
        _emergency(client, people, WRONG)
    assert "Too many wrong passwords" in _emergency(client, people, PASSWORD).text
    later = utcnow() + timedelta(minutes=app.config["REAUTH_WINDOW_MINUTES"], seconds=1)
    with time_machine.travel(later, tick=False):
        login(client, people.other_therapist)
        assert _emergency(client, people, PASSWORD).status_code == 302


def test_every_failure_is_audited_with_its_purpose_and_never_the_password(client, people, ready):
    login(client, people.lead)
    _sign(client, people, ready, WRONG)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == reauth.FAILED))
    assert event.patient_id == people.patient.id and "sign" in event.data["purpose"]
    assert WRONG not in repr(event.data) + event.summary
    assert audit_actions().count(reauth.FAILED) == 1


def test_the_password_is_checked_with_no_transaction_open(client, people, ready, monkeypatch):
    """Argon2 takes a tenth of a second of CPU: checked inside the request's write transaction, it would hold the
    write lock (SQLite) or the account's row (PostgreSQL) all that time. The attempt is charged and committed
    first, then the hash is checked, then the outcome written."""
    from tracker import passwords

    real, seen = passwords.verify_password, []

    def spy(stored, password):
        seen.append(db.session().in_transaction())
        return real(stored, password)

    monkeypatch.setattr(passwords, "verify_password", spy)
    login(client, people.lead)
    assert _sign(client, people, ready, WRONG).status_code == 422
    assert _sign(client, people, ready, PASSWORD).status_code == 302
    assert seen == [False, False]
    assert _count(reauth.FAILED, people.lead) == 1
