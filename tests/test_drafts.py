"""No lost work: typing is kept on the server as a draft and restored; a form that expired (CSRF) comes back with
what was posted in it (stored nowhere); a note posted after the session ended leads, after signing in again, back to
the note with its draft."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from tests.conftest import PASSWORD, audit_actions, csrf_token, login
from tests.session_data import dosing_note, held_session, in_dosing, session_url
from tracker.extensions import db
from tracker.models import FormDraft, SessionKind, SessionNote
from tracker.models.base import utcnow

LONG_TEXT = "She spoke about the accident for the first time without dissociating. " * 40


def drafts() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(FormDraft))


@pytest.fixture
def prep(people, protocols):
    return held_session(people.patient, people.lead, protocols, kind=SessionKind.PREPARATION)


def autosave(client, patient, key, **fields):
    return client.post(f"/patients/{patient.id}/drafts/{key}", data=fields)


def test_autosaved_typing_is_restored_on_the_page_and_can_be_discarded(client, people, prep):
    login(client, people.lead)
    response = autosave(
        client, people.patient, f"note-{prep.id}", topics=LONG_TEXT, password="never kept", version_id=""
    )
    assert response.status_code == 200 and response.json["saved"] is True
    assert autosave(client, people.patient, f"note-{prep.id}", topics=LONG_TEXT + "More.").status_code == 200
    draft = db.session.scalar(select(FormDraft))
    assert draft.data["topics"] == [LONG_TEXT + "More."] and "password" not in draft.data
    assert audit_actions().count("draft.save") == 1  # starting a draft is audited, not each keystroke pause
    page = client.get(session_url(people.patient, prep)).text
    assert "Unsaved typing from before was kept as a draft" in page and "More." in page
    assert audit_actions()[-2:] == ["draft.restore", "session.view"]
    discard = client.post(f"/patients/{people.patient.id}/drafts/note-{prep.id}/discard")
    assert discard.status_code == 303 and drafts() == 0
    assert "More." not in client.get(session_url(people.patient, prep)).text


def test_saving_the_note_drops_the_draft(client, people, prep):
    login(client, people.lead)
    autosave(client, people.patient, f"note-{prep.id}", topics="typing")
    client.post(session_url(people.patient, prep, "/note"), data={"topics": "typing, saved"})
    assert drafts() == 0


def test_a_draft_older_than_the_users_own_save_is_not_offered(client, people, prep):
    login(client, people.lead)
    autosave(client, people.patient, f"note-{prep.id}", topics="old typing")
    with time_machine.travel(utcnow() + timedelta(minutes=1)):
        client.post(session_url(people.patient, prep, "/note"), data={"topics": "saved later"})
        autosave(client, people.patient, f"note-{prep.id}", topics="old typing")  # a late autosave
        db.session.execute(FormDraft.__table__.update().values(saved_at=utcnow() - timedelta(minutes=5)))
        db.session.commit()
        page = client.get(session_url(people.patient, prep)).text
    assert "Unsaved typing" not in page and "saved later" in page


@pytest.mark.parametrize("key", ["../etc", "note", "note-x", "a" * 70, "plan-1%0a"])
def test_unknown_draft_keys_are_refused(client, people, key):
    login(client, people.lead)
    response = autosave(client, people.patient, key, topics="x")
    assert response.status_code in (404, 422)
    assert drafts() == 0


def test_a_huge_draft_is_refused(client, people, prep):
    login(client, people.lead)
    response = autosave(client, people.patient, f"note-{prep.id}", topics="x" * 200_001)
    assert response.status_code == 422 and drafts() == 0


def test_long_names_and_repeated_values_count_towards_a_drafts_size(client, people, prep):
    """Names count as text, and a field sent many times counts each time: neither fills the database."""
    login(client, people.lead)
    names = {("n" * 17_000) + str(i): "" for i in range(12)}
    assert autosave(client, people.patient, f"note-{prep.id}", **names).status_code == 422
    from werkzeug.datastructures import MultiDict

    repeated = client.post(
        f"/patients/{people.patient.id}/drafts/note-{prep.id}", data=MultiDict([("topics", "x")] * 1_000)
    )
    assert repeated.status_code == 422 and drafts() == 0


def test_one_user_keeps_a_bounded_number_of_drafts(client, people, prep, monkeypatch):
    from tracker.notes import drafts as module

    monkeypatch.setattr(module, "MAX_DRAFTS_PER_USER", 3)
    login(client, people.lead)
    for number in range(3):
        assert autosave(client, people.patient, f"note-{900 + number}", topics="x").status_code == 200
    refused = autosave(client, people.patient, "note-999", topics="x")
    assert refused.status_code == 422 and drafts() == 3
    assert autosave(client, people.patient, "note-900", topics="again").status_code == 200  # an existing one


def test_an_expired_form_keeps_what_was_typed(csrf_app, people, prep):
    """The CSRF token no longer matches (the user signed in again in another tab): nothing is saved anywhere, not
    even as a draft (the post may be forged); the page comes back with the typing in the form, to save again."""
    client = csrf_app.test_client()
    login(client, people.lead)
    client.get(session_url(people.patient, prep))
    actions = audit_actions()
    response = client.post(
        session_url(people.patient, prep, "/note"),
        data={"topics": LONG_TEXT, "csrf_token": "expired-token", "version_id": ""},
    )
    assert response.status_code == 400
    assert db.session.scalar(select(SessionNote)) is None and drafts() == 0 and audit_actions() == actions
    page = response.text
    assert "The form had expired, so nothing was saved" in page and LONG_TEXT[:60] in page
    token = csrf_token(page)
    saved = client.post(
        session_url(people.patient, prep, "/note"), data={"topics": LONG_TEXT, "csrf_token": token, "version_id": ""}
    )
    assert saved.status_code == 302 and db.session.scalar(select(SessionNote)).fields["topics"] == LONG_TEXT.strip()


def test_an_expired_form_of_a_patient_one_may_not_see_keeps_nothing(csrf_app, people, prep):
    client = csrf_app.test_client()
    login(client, people.other_therapist)
    response = client.post(
        session_url(people.patient, prep, "/note"), data={"topics": "x", "csrf_token": "expired-token"}
    )
    assert response.status_code == 400 and drafts() == 0


def test_a_note_posted_after_the_session_ended_comes_back_with_its_draft(app, client, people, prep):
    login(client, people.lead)
    autosave(client, people.patient, f"note-{prep.id}", topics=LONG_TEXT)
    with time_machine.travel(utcnow() + app.config["IDLE_TIMEOUT"] + timedelta(minutes=1), tick=False):
        response = client.post(session_url(people.patient, prep, "/note"), data={"topics": LONG_TEXT})
        assert response.status_code == 302
        assert "ended=idle" in response.location
        next_page = re.search(r"next=([^&]+)", response.location).group(1)
        assert next_page.replace("%2F", "/") == session_url(people.patient, prep)
        signed_in = client.post(
            "/login",
            data={"username": people.lead.username, "password": PASSWORD, "next": session_url(people.patient, prep)},
        )
        assert signed_in.location == session_url(people.patient, prep)
        page = client.get(signed_in.location).text
    assert "Unsaved typing from before was kept as a draft" in page and LONG_TEXT[:60] in page
    assert db.session.scalar(select(SessionNote)) is None  # nothing reached the record unseen


def test_private_notes_keep_their_drafts_too(client, people, protocols, prep):
    login(client, people.lead)
    start = client.post(session_url(people.patient, prep, "/private-notes"))
    assert start.status_code == 303
    note_id = int(start.location.rsplit("/", 1)[1])
    autosave(client, people.patient, f"private-{note_id}", body="My countertransference today...")
    page = client.get(start.location).text
    assert "kept as a draft" in page and "My countertransference today..." in page
    saved = client.post(start.location, data={"body": "My countertransference today...", "version_id": "1"})
    assert saved.status_code == 302 and drafts() == 0
    stale = client.post(start.location, data={"body": "From an old window", "version_id": "1"})
    assert stale.status_code == 409 and "From an old window" in stale.text and "countertransference" in stale.text


def test_the_dosing_note_form_autosaves_to_its_own_key(client, people, protocols):
    in_dosing(people.patient, people.lead, protocols)
    session = held_session(people.patient, people.lead, protocols)
    login(client, people.lead)
    page = client.get(session_url(people.patient, session)).text
    assert f'data-draft-url="/patients/{people.patient.id}/drafts/note-{session.id}"' in page
    assert f'data-draft-url="/patients/{people.patient.id}/drafts/ae-{session.id}"' in page
    assert 'data-draft-status aria-live="polite"' in page and "/static/js/drafts.js" in page
    autosave(client, people.patient, f"note-{session.id}", **dosing_note(lot_number="DRAFT-LOT"))
    assert 'value="DRAFT-LOT"' in client.get(session_url(people.patient, session)).text


# Every form with free text -------------------------------------------------------------------------------------

PLAN_TYPING = "Keep walking by the sea each morning; write down what comes up, and bring it to the next session."


def _plan(people) -> str:
    return f"/patients/{people.patient.id}/plan/edit"


def test_the_plan_editor_autosaves_and_comes_back_after_the_session_ended(app, client, people):
    login(client, people.lead)
    page = client.get(_plan(people)).text
    assert f'data-draft-url="/patients/{people.patient.id}/drafts/plan-{people.patient.id}"' in page
    typing = {"based_on": "0", "crisis_line": "0800 1", "section_1": PLAN_TYPING}
    assert autosave(client, people.patient, f"plan-{people.patient.id}", **typing).status_code == 200
    with time_machine.travel(utcnow() + app.config["IDLE_TIMEOUT"] + timedelta(minutes=1), tick=False):
        posted = client.post(_plan(people), data=typing)
        assert posted.status_code == 302 and "ended=idle" in posted.location
        assert re.search(r"next=([^&]+)", posted.location).group(1).replace("%2F", "/") == _plan(people)
        login(client, people.lead)
        page = client.get(_plan(people)).text
        assert "Unsaved typing from before was kept as a draft" in page and PLAN_TYPING in page
        assert audit_actions()[-2:] == ["draft.restore", "plan.view"]
        saved = client.post(_plan(people), data=typing)
        assert saved.location == f"/patients/{people.patient.id}/plan" and drafts() == 0
        assert "Unsaved typing" not in client.get(_plan(people)).text


def test_a_refused_plan_keeps_its_draft_and_the_typing(client, people):
    login(client, people.lead)
    typing = {"based_on": "0", "crisis_line": "", "section_1": PLAN_TYPING}
    autosave(client, people.patient, f"plan-{people.patient.id}", **typing)
    refused = client.post(_plan(people), data=typing)
    assert refused.status_code == 422 and PLAN_TYPING in refused.text and drafts() == 1


def test_an_expired_plan_form_comes_back_with_the_typing(csrf_app, people):
    client = csrf_app.test_client()
    login(client, people.lead)
    response = client.post(
        _plan(people),
        data={"based_on": "0", "crisis_line": "0800 1", "section_1": PLAN_TYPING, "csrf_token": "expired-token"},
    )
    assert response.status_code == 400 and "The form had expired" in response.text and PLAN_TYPING in response.text
    assert drafts() == 0


ACTION_TYPING = "Called her at noon: no plan or intent; safety plan reviewed together, next session on Friday."


@pytest.fixture
def open_alert(people):
    from tracker.factories import record_measure

    record_measure(people.patient, people.lead, "phq9", [1, 1, 1, 1, 0, 1, 0, 0, 1])
    db.session.commit()
    from tracker.models import SafetyAlert

    return db.session.scalar(select(SafetyAlert))


def test_the_alert_acknowledgement_autosaves_and_comes_back_after_the_session_ended(app, client, people, open_alert):
    url = f"/patients/{people.patient.id}/alerts/{open_alert.id}"
    login(client, people.lead)
    assert f'data-draft-url="/patients/{people.patient.id}/drafts/alert-{open_alert.id}"' in client.get(url).text
    autosave(client, people.patient, f"alert-{open_alert.id}", actions="patient_contacted", action_taken=ACTION_TYPING)
    with time_machine.travel(utcnow() + app.config["IDLE_TIMEOUT"] + timedelta(minutes=1), tick=False):
        posted = client.post(url, data={"action_taken": ACTION_TYPING})
        assert posted.status_code == 302 and "ended=idle" in posted.location
        login(client, people.lead)
        page = client.get(url).text
        assert "kept as a draft" in page and ACTION_TYPING in page
        assert re.search(r'checked[^>]*value="patient_contacted"|value="patient_contacted"[^>]*checked', page)
        done = client.post(url, data={"actions": "patient_contacted", "action_taken": ACTION_TYPING})
        assert done.location == url and drafts() == 0
        assert "kept as a draft" not in client.get(url).text


def test_a_draft_save_is_activity_up_to_the_absolute_lifetime(app, client, people, open_alert):
    from tracker.models import LoginSession

    def seen():
        db.session.expire_all()
        return db.session.scalar(select(LoginSession.last_seen_at))

    login(client, people.lead)
    key = f"alert-{open_alert.id}"
    start = utcnow()
    step = app.config["IDLE_TIMEOUT"] - timedelta(minutes=1)
    moment = start
    while moment + step < start + app.config["ABSOLUTE_SESSION_LIFETIME"]:
        moment += step
        with time_machine.travel(moment, tick=False):
            assert autosave(client, people.patient, key, action_taken=f"typing at {moment}").status_code == 200
            assert seen() == moment  # typing moved the idle clock
    with time_machine.travel(start + app.config["ABSOLUTE_SESSION_LIFETIME"] + timedelta(minutes=1), tick=False):
        assert autosave(client, people.patient, key, action_taken="too late").status_code == 302


@pytest.mark.parametrize(
    "key", ["plan-1", "alert-1", "screening-1", "phase-1", "resultfix-1", "labfix-1", "medication-1", "patient-1"]
)
def test_the_new_draft_keys_are_refused_to_outsiders(client, people, key):
    login(client, people.other_therapist)
    response = autosave(client, people.patient, key, body="typing")
    assert response.status_code == 404 and drafts() == 0


def test_a_form_not_kept_as_a_draft_is_refused(client, people):
    login(client, people.lead)
    assert autosave(client, people.patient, "bogus-1", body="typing").status_code == 422 and drafts() == 0


def _kept_then_saved(client, patient, key, page_url, post_url, typing, shown, saved_status=302):
    """The typing autosaved under ``key`` comes back on ``page_url``; saving it through ``post_url`` drops it."""
    assert f'data-draft-url="/patients/{patient.id}/drafts/{key}"' in client.get(page_url).text
    assert autosave(client, patient, key, **typing).status_code == 200
    page = client.get(page_url).text
    assert "Unsaved typing from before was kept as a draft" in page and shown in page
    assert client.post(post_url, data=typing).status_code == saved_status
    assert drafts() == 0 and "Unsaved typing" not in client.get(page_url).text


def test_the_phase_forms_reason_is_kept_as_a_draft(client, people):
    login(client, people.lead)
    url = f"/patients/{people.patient.id}"
    reason = "Moving house over the summer; back in September, she asked us to hold her place."
    _kept_then_saved(
        client,
        people.patient,
        f"phase-{people.patient.id}",
        url,
        url + "/phase",
        {"target": "on_hold", "reason": reason},
        reason,
    )


def test_a_measure_corrections_reason_is_kept_as_a_draft(client, people):
    from tests.test_measure_views import post_data
    from tracker.factories import record_measure

    old = record_measure(people.patient, people.lead, "phq9", [2] * 8 + [0])
    db.session.commit()
    login(client, people.lead)
    url = f"/patients/{people.patient.id}/measures/results/{old.id}/correct"
    reason = "Copied row 2 of the paper form into row 1"
    _kept_then_saved(
        client, people.patient, f"resultfix-{old.id}", url, url, post_data("phq9", [1] * 8 + [0], reason=reason), reason
    )


def test_a_lab_corrections_reason_is_kept_as_a_draft(client, people):
    from tests.test_labs import today as clinic_today
    from tracker.labs.services import LabInput, record_result

    today = clinic_today()
    row = record_result(people.lead, people.patient, LabInput("crp_hs", 12.0, "mg/L", today), today)
    db.session.commit()
    login(client, people.lead)
    url = f"/patients/{people.patient.id}/labs/{row.id}/correct"
    reason = "The decimal point slipped when copying the report"
    _kept_then_saved(
        client,
        people.patient,
        f"labfix-{row.id}",
        url,
        url,
        {"marker_unit": "crp_hs|mg/L", "value": "1.2", "collected_on": today.isoformat(), "reason": reason},
        reason,
    )


def test_a_new_medications_taper_plan_is_kept_as_a_draft(client, people):
    login(client, people.lead)
    url = f"/patients/{people.patient.id}/medications"
    plan = "Down by 25 mg every two weeks, agreed with her GP; last dose planned for the end of next month."
    _kept_then_saved(
        client,
        people.patient,
        f"medication-{people.patient.id}",
        url,
        url,
        {"name": "Sertraline", "drug_class": "ssri", "dose": "100 mg", "taper_plan": plan},
        plan,
    )


def test_the_patients_details_are_kept_as_a_draft(client, people):
    from tests.test_patients import _form

    login(client, people.lead)
    patient = people.patient
    url = f"/patients/{patient.id}/edit"
    typing = _form(people, given_name="Robin-Typed", record_number="CANARY-1", version_id=str(patient.version_id))
    _kept_then_saved(client, patient, f"patient-{patient.id}", url, url, typing, "Robin-Typed")
