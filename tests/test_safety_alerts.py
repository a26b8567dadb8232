"""Safety alerts of measure results: each trigger creates exactly one alert; the alert shows on every page of its
patient and in the supervisor's queue until acknowledged with the action taken; acknowledging requires actions
chosen and words that say something, is recorded and audited, and happens once (also at the SQL level). The other
sources, high-risk closing and re-alert fatigue: tests/test_alert_sources.py."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from tests.conftest import audit_actions, count_queries, login
from tracker.extensions import db
from tracker.factories import log_sessions, make_patient, record_measure
from tracker.instruments import get_instrument, instruments, score, standing_only
from tracker.labs.services import LabInput
from tracker.labs.services import record_result as record_lab
from tracker.models import (
    AlertSource,
    AuditEvent,
    MeasureResult,
    SafetyAlert,
    ScreeningAnswer,
    SessionKind,
    TherapySession,
)
from tracker.models.base import utcnow
from tracker.outcomes.services import ResultInput, correct_result
from tracker.plans.services import save_version
from tracker.screening.services import MedicationInput, add_medication

NO_IDEATION = ["no", "no", None, None, None, "no"]
BANNER = 'id="safety-alerts"'


def alerts() -> list[SafetyAlert]:
    db.session.expire_all()
    return list(db.session.scalars(select(SafetyAlert).order_by(SafetyAlert.id)))


def phq9(item9: int, rest: int = 1) -> list[int]:
    return [rest] * 8 + [item9]


TRIGGERS = [
    ("phq9", phq9(1), "phq9-item9"),
    ("phq9", phq9(2, 0), "phq9-item9"),
    ("phq9", phq9(3, 3), "phq9-item9"),
    ("cssrs", ["yes", "yes", "yes", "no", "no", "no"], "cssrs-moderate-risk"),
    ("cssrs", ["no", "no", None, None, None, "lifetime"], "cssrs-moderate-risk"),
    ("cssrs", ["yes", "yes", "no", "yes", "no", "no"], "cssrs-high-risk"),
    ("cssrs", ["yes", "yes", "no", "no", "yes", "no"], "cssrs-high-risk"),
    ("cssrs", ["no", "no", None, None, None, "past_3_months"], "cssrs-high-risk"),
    ("qids_sr16", [0] * 11 + [2] + [0] * 4, "qids-item12-frequent"),
    ("qids_sr16", [0] * 11 + [3] + [0] * 4, "qids-item12-plan"),
    ("madrs", [0] * 9 + [4], "madrs-item10"),
    ("madrs", [6] * 10, "madrs-item10-plans"),
]
NOT_TRIGGERS = [
    ("phq9", phq9(0, 3)),  # severe, but item 9 is 0
    ("cssrs", ["yes", "no", None, None, None, "no"]),  # low risk
    ("cssrs", NO_IDEATION),
    ("gad7", [3] * 7),  # "warrants evaluation" is a flag, not an urgent one
    ("qids_sr16", [0] * 11 + [1] + [0] * 4),  # item 12 at 1: a review flag, not an urgent one
    ("pcl5", [4] * 20),
    ("madrs", [6] * 9 + [3]),  # severe, but item 10 below 4
]


@pytest.mark.parametrize(("code", "answers", "flag"), TRIGGERS)
def test_each_trigger_creates_exactly_one_alert(people, code, answers, flag):
    row = record_measure(people.patient, people.lead, code, answers)
    (alert,) = alerts()
    assert (alert.result_id, alert.patient_id, alert.is_open) == (row.id, people.patient.id, True)
    assert [f["code"] for f in row.urgent_flags] == [flag]
    raised = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "alert.raise")).one()
    assert raised.target_id == str(alert.id)
    assert raised.data == {"result": row.id, "flags": [flag], "source": "measure", "high_risk": alert.high_risk}
    assert alert.summary.startswith(f"{get_instrument(code).short_name} of {row.administered_on.isoformat()}: ")


@pytest.mark.parametrize(("code", "answers"), NOT_TRIGGERS)
def test_no_alert_without_an_urgent_flag(people, code, answers):
    record_measure(people.patient, people.lead, code, answers)
    assert alerts() == []


def test_one_alert_per_result_however_many_flags(people):
    """PHQ-9 item 9 and a severe total: one result, one alert (the database also allows only one)."""
    row = record_measure(people.patient, people.lead, "phq9", phq9(3, 3))
    record_measure(people.patient, people.lead, "phq9", phq9(1))
    assert len(alerts()) == 2
    with pytest.raises(DBAPIError), db.session.begin_nested():
        db.session.add(
            SafetyAlert(
                patient_id=people.patient.id,
                source=AlertSource.MEASURE,
                high_risk=False,
                result_id=row.id,
                summary="again",
                raised_at=utcnow(),
            )
        )
        db.session.flush()


def answers_for(code: str) -> st.SearchStrategy[list]:
    """Valid answers to ``code``, following its skip logic and its bounds by another item."""
    instrument = get_instrument(code)

    @st.composite
    def build(draw):
        answers: list = []
        for item in instrument.items:
            if item.ask_if is not None and not item.ask_if.holds(answers):
                answers.append(None)
            else:
                values = item.scale.values
                if item.at_most_item is not None:  # e.g. TLFB: heavy drinking days within the drinking days
                    bound = answers[item.at_most_item - 1]
                    values = [v for v in values if v <= bound]
                answers.append(draw(st.sampled_from(values)))
        return answers

    return build()


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=40)
@given(data=st.data(), code=st.sampled_from(sorted(instruments())))
def test_an_alert_exactly_when_a_flag_is_urgent(people, data, code):
    """ "Any flag an instrument defines as urgent": whatever the instrument and the answers (one patient per
    example, since a standing answer the patient was alerted on before raises no second alert)."""
    answers = data.draw(answers_for(code))
    patient = make_patient(people.lead, protocols=people_protocols(people))
    before = len(alerts())
    record_measure(patient, people.lead, code, answers)
    assert len(alerts()) - before == (1 if score(code, answers).urgent else 0)
    if standing_only(code, answers):
        record_measure(patient, people.lead, code, answers)  # the same standing answer at a re-test
        assert len(alerts()) - before == 1


def people_protocols(people) -> dict:
    from flask import current_app

    return current_app.extensions["protocols"]  # type: ignore[no-any-return]


def test_a_correction_raises_its_own_alert_and_leaves_the_first_open(people):
    """An alert is never dismissed without an action, not even by correcting the result behind it."""
    old = record_measure(people.patient, people.lead, "phq9", phq9(1))
    fixed = ResultInput("phq9", phq9(0), old.administered_on, old.mode)
    correct_result(people.lead, people.patient, old, fixed, "Item 9 was 0 on the paper form", utcnow().date())
    assert [(a.result_id, a.is_open) for a in alerts()] == [(old.id, True)]
    again = ResultInput("phq9", phq9(2), old.administered_on, old.mode)
    newest = db.session.scalar(select(MeasureResult).order_by(MeasureResult.id.desc()))
    correct_result(people.lead, people.patient, newest, again, "It was 2 after all", utcnow().date())
    assert [a.is_open for a in alerts()] == [True, True]


# Acknowledging --------------------------------------------------------------------------------------------------


@pytest.fixture
def alert(people) -> SafetyAlert:
    record_measure(people.patient, people.lead, "phq9", phq9(1))
    db.session.commit()
    return alerts()[0]


def url(people, alert) -> str:
    return f"/patients/{people.patient.id}/alerts/{alert.id}"


#: A valid acknowledgement: actions chosen from the list, and words that describe them.
DONE = {
    "actions": ["patient_contacted", "safety_plan_reviewed"],
    "action_taken": "Called the patient the same day; safety plan reviewed.",
}


def done(text: str = DONE["action_taken"], *actions: str) -> dict:
    return {"actions": list(actions) or DONE["actions"], "action_taken": text}


@pytest.mark.parametrize("action", ["", "   ", "\n\t"])
def test_acknowledging_requires_an_action(client, people, alert, action):
    login(client, people.supervisor)
    response = client.post(url(people, alert), data=done(action))
    assert response.status_code == 422
    assert 'id="action_taken-error"' in response.text
    assert "Describe the action taken; an alert cannot be dismissed without one." in response.text
    assert alerts()[0].is_open and "alert.acknowledge" not in audit_actions()
    assert BANNER in response.text


@pytest.mark.parametrize(
    "action",
    [
        ".",
        "ok",
        "Done.",
        "called pt",
        "x" * 30,
        "1234567890 1234567890 12",
        "ok ok ok ok ok ok ok",
        "Done done DONE done done",
        "na na na na na na na",
    ],
)
def test_an_action_that_says_nothing_is_refused(client, people, alert, action):
    """A minimum length and a few different words: a mark, a word (repeated or not) or a number does not close an
    alert."""
    login(client, people.lead)
    response = client.post(url(people, alert), data=done(action))
    assert response.status_code == 422
    assert "Describe what was done in at least 20 characters and 3 different words" in response.text
    assert alerts()[0].is_open


def test_an_action_must_be_chosen_from_the_clinic_list(client, people, alert):
    login(client, people.lead)
    none_chosen = client.post(url(people, alert), data={"action_taken": DONE["action_taken"]})
    assert none_chosen.status_code == 422 and 'id="actions-error"' in none_chosen.text
    assert "Choose at least one action taken." in none_chosen.text
    unknown = client.post(url(people, alert), data=done(DONE["action_taken"], "forgot_about_it"))
    assert unknown.status_code == 422 and 'id="actions-error"' in unknown.text
    assert alerts()[0].is_open


def test_an_action_too_long_or_with_control_characters_is_refused(client, people, alert):
    login(client, people.lead)
    assert client.post(url(people, alert), data=done("Called the patient " + "x" * 4001)).status_code == 422
    assert client.post(url(people, alert), data=done("Called the patient back today\x00")).status_code == 422
    assert alerts()[0].is_open


def test_acknowledging_records_who_when_and_the_action_and_is_audited(client, people, alert):
    login(client, people.supervisor)
    response = client.post(url(people, alert), data=done("  Called the patient; safety plan reviewed.  "))
    assert response.status_code == 302 and response.location == url(people, alert)
    stored = alerts()[0]
    assert not stored.is_open
    assert (stored.acknowledged_by_id, stored.action_taken, stored.actions) == (
        people.supervisor.id,
        "Called the patient; safety plan reviewed.",
        DONE["actions"],
    )
    assert utcnow() - stored.acknowledged_at < timedelta(minutes=1)
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "alert.acknowledge")).one()
    assert (event.actor_id, event.patient_id, event.target_id) == (
        people.supervisor.id,
        people.patient.id,
        str(stored.id),
    )
    assert event.data["actions"] == DONE["actions"]
    page = client.get(url(people, alert)).text
    assert "Acknowledged by <strong>Sue Pervisor</strong>" in page and "safety plan reviewed" in page
    assert "<li>Contacted the patient</li>" in page and "<li>Safety plan reviewed with the patient</li>" in page
    assert BANNER not in page


def test_an_acknowledged_alert_cannot_be_acknowledged_again(client, people, alert):
    login(client, people.lead)
    assert client.post(url(people, alert), data=done("Called her the same afternoon")).status_code == 302
    login(client, people.supervisor)
    response = client.post(url(people, alert), data=done("Something else entirely, later on"))
    assert response.status_code == 409 and "Already acknowledged by Lena Lead." in response.text
    assert alerts()[0].action_taken == "Called her the same afternoon"


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE safety_alert SET action_taken = 'rewritten' WHERE id = :id",
        "UPDATE safety_alert SET acknowledged_at = NULL, acknowledged_by_id = NULL, actions = NULL, "
        "action_taken = NULL WHERE id = :id",
        "DELETE FROM safety_alert WHERE id = :id",
    ],
)
def test_the_database_keeps_an_acknowledgement(people, alert, statement):
    db.session.execute(
        text(
            "UPDATE safety_alert SET acknowledged_at = :now, acknowledged_by_id = :by, action_taken = 'Called', "
            "actions = '[]' WHERE id = :id"
        ),
        {"now": utcnow(), "by": people.lead.id, "id": alert.id},
    )
    with pytest.raises(DBAPIError, match="safety_alert"), db.session.begin_nested():
        db.session.execute(text(statement), {"id": alert.id})
    assert db.session.execute(text("SELECT action_taken FROM safety_alert")).scalar_one() == "Called"


def test_the_database_refuses_an_acknowledgement_without_an_action_or_a_moved_alert(people, alert):
    with pytest.raises(DBAPIError), db.session.begin_nested():
        db.session.execute(
            text("UPDATE safety_alert SET acknowledged_at = :now, acknowledged_by_id = :by WHERE id = :id"),
            {"now": utcnow(), "by": people.lead.id, "id": alert.id},
        )
    with pytest.raises(DBAPIError), db.session.begin_nested():
        db.session.execute(
            text(
                "UPDATE safety_alert SET acknowledged_at = :now, acknowledged_by_id = :by, "
                "action_taken = '  ', actions = '[]' WHERE id = :id"
            ),
            {"now": utcnow(), "by": people.lead.id, "id": alert.id},
        )
    with pytest.raises(DBAPIError), db.session.begin_nested():  # words but no actions
        db.session.execute(
            text(
                "UPDATE safety_alert SET acknowledged_at = :now, acknowledged_by_id = :by, "
                "action_taken = 'Called' WHERE id = :id"
            ),
            {"now": utcnow(), "by": people.lead.id, "id": alert.id},
        )
    with pytest.raises(DBAPIError, match="safety_alert"), db.session.begin_nested():
        db.session.execute(text("UPDATE safety_alert SET result_id = result_id + 1 WHERE id = :id"), {"id": alert.id})
    for statement in (
        "UPDATE safety_alert SET summary = 'moved' WHERE id = :id",
        "UPDATE safety_alert SET high_risk = NOT high_risk WHERE id = :id",
    ):
        with pytest.raises(DBAPIError, match="safety_alert"), db.session.begin_nested():
            db.session.execute(text(statement), {"id": alert.id})
    with pytest.raises(DBAPIError, match="safety_alert"), db.session.begin_nested():
        db.session.execute(text("DELETE FROM safety_alert"))
    assert alerts()[0].is_open


# On every page of the patient -----------------------------------------------------------------------------------


def patient_pages(app: Flask, ids: dict[str, int]) -> list[str]:
    """Every GET route with a patient in it, filled in from ``ids``; a new route with an argument not in ``ids``
    fails here, so it is added to this walk."""
    urls = []
    for rule in app.url_map.iter_rules():
        if "patient_id" not in rule.arguments or "GET" not in rule.methods:
            continue
        if rule.endpoint == "sessions.private_note":
            continue  # only its author may open it (everyone else gets 404); it extends the same patient layout
        if rule.endpoint.startswith("reports."):
            continue  # PDFs, not pages: the summary and records print the open alerts (tests/test_reports_alerts.py)
        if rule.endpoint == "fhir.patient":
            continue  # FHIR JSON, not a page: the urgent result is in it as an Observation
        if rule.endpoint in {"sessions.remove_vitals", "sessions.remove_event", "sessions.correct_seriousness"}:
            continue  # about one row of a dosing note: their banner is checked in tests/test_seriousness.py
        missing = set(rule.arguments) - set(ids)
        assert not missing, f"{rule.rule}: add {missing} to the ids of this test"
        urls.append(rule.build({name: ids[name] for name in rule.arguments})[1])
    return urls


def test_the_banner_is_on_every_page_of_the_patient_until_acknowledged(app, client, people, alert, protocols):
    medication = add_medication(people.lead, people.patient, MedicationInput("Sertraline", "ssri"))
    db.session.commit()
    ids = {
        "patient_id": people.patient.id,
        "medication_id": medication.id,
        "result_id": alert.result_id,
        "alert_id": alert.id,
        "code": "phq9",
        **extra_ids(people),
    }
    pages = patient_pages(app, ids)
    assert len(pages) >= 10
    for persona in ("lead", "co_therapist", "supervisor"):
        login(client, getattr(people, persona))
        for page in pages:
            response = client.get(page)
            assert response.status_code == 200, page
            banner = response.text.split(BANNER, 1)
            assert len(banner) == 2, f"no banner on {page}"
            assert "PHQ-9 of " in banner[1] and "Item 9 (thoughts of death or of self-harm)" in banner[1]
            assert f'href="/patients/{people.patient.id}/alerts/{alert.id}"' in banner[1]
    client.post(url(people, alert), data=done())
    for page in pages:
        assert BANNER not in client.get(page).text, page
    # Another patient's pages never show this patient's alert.
    other = make_patient(people.lead, people.co_therapist, protocols=protocols)
    db.session.commit()
    assert BANNER not in client.get(f"/patients/{other.id}").text


def extra_ids(people) -> dict[str, int]:
    """Ids of other patient sub-pages (the integration plan's versions), when they exist."""
    version = save_version(people.lead, people.patient, {"Insights and themes": "x"}, "Crisis line 0800", 0)
    log_sessions(people.patient, people.lead, SessionKind.PREPARATION, 1)
    db.session.commit()
    session_id = db.session.scalar(select(TherapySession.id).where(TherapySession.patient_id == people.patient.id))
    lab = record_lab(people.lead, people.patient, LabInput("tsh", 2.0, "mIU/L", utcnow().date()), utcnow().date())
    db.session.commit()
    return {"number": version.number, "session_id": session_id, "lab_id": lab.id}


def test_the_caseload_list_marks_patients_with_an_open_alert(client, people, alert):
    login(client, people.co_therapist)
    pattern = rf'<tr>\s*<td><a href="/patients/{people.patient.id}".*?</tr>'
    row = re.search(pattern, client.get("/patients/").text, re.S)
    assert row and "Open safety alert" in row.group(0)


# The supervisor's queue -----------------------------------------------------------------------------------------


def test_the_queue_lists_open_alerts_until_acknowledged(client, people, alert):
    login(client, people.supervisor)
    queue = client.get("/alerts")
    assert queue.status_code == 200
    assert "Zzpatient, Canary" in queue.text and f'href="/patients/{people.patient.id}/alerts/{alert.id}"' in queue.text
    assert "Item 9 (thoughts of death or of self-harm)" in queue.text
    assert audit_actions()[-1] == "alert.queue"
    event = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).one()
    assert event.data == {"patient_ids": [people.patient.id], "alert_ids": [alert.id]}
    client.post(url(people, alert), data=done())
    assert "No open safety alerts." in client.get("/alerts").text


@pytest.mark.parametrize(
    ("persona", "status", "listed"),
    [
        ("supervisor", 200, True),
        ("other_supervisor", 200, False),
        ("outsider", 200, False),
        ("lead", 403, False),
        ("co_therapist", 403, False),
        ("other_therapist", 403, False),
        ("admin", 403, False),
    ],
)
def test_the_queue_is_for_supervisors_and_shows_only_their_patients(client, people, alert, persona, status, listed):
    login(client, getattr(people, persona))
    response = client.get("/alerts")
    assert response.status_code == status
    assert ("Zzpatient" in response.text) is listed


def test_the_queue_runs_the_same_queries_for_one_and_many_alerts_and_pages(client, people, alert, protocols, app):
    login(client, people.supervisor)
    with count_queries() as small:
        assert client.get("/alerts").status_code == 200
    for number in range(30):
        patient = make_patient(people.lead if number % 2 else people.co_therapist, protocols=protocols)
        record_measure(patient, people.lead, "phq9", phq9(1))
    db.session.commit()
    with count_queries() as large:
        page = client.get("/alerts")
    assert len(small) == len(large)
    assert "31 open alerts, page 1 of 2" in page.text
    assert "page 2 of 2" in client.get("/alerts?page=2").text
    assert client.get("/alerts?page=x").status_code == 400


def test_nothing_of_the_alert_reaches_people_outside_the_care_team(client, people, alert):
    for persona, status in (("other_therapist", 404), ("other_supervisor", 404), ("outsider", 404), ("admin", 403)):
        login(client, getattr(people, persona))
        for method in ("get", "post"):
            response = getattr(client, method)(url(people, alert), data=done())
            assert response.status_code == status
            assert "Zzpatient" not in response.text and "Item 9" not in response.text
        if status == 404:
            assert audit_actions()[-1] == "patient.access_denied"
    assert alerts()[0].is_open
    assert db.session.scalar(select(func.count()).select_from(ScreeningAnswer)) == 0


def test_emergency_access_shows_the_alert_but_does_not_put_it_in_that_supervisors_queue(client, people, alert):
    """Someone opening the patient in an emergency must see the alert; their queue stays about their own care."""
    login(client, people.other_supervisor)
    granted = client.post(
        "/emergency-access",
        data={
            "record_number": "CANARY-1",
            "password": "correct horse battery",
            "reason": "Crisis call from the patient; the team is away",
        },
    )
    assert granted.status_code == 302
    page = client.get(f"/patients/{people.patient.id}").text
    assert BANNER in page and "Emergency access." in page
    assert "Zzpatient" not in client.get("/alerts").text
    response = client.post(
        url(people, alert),
        data=done("Called the patient back; crisis team informed", "patient_contacted", "crisis_team_contacted"),
    )
    assert response.status_code == 302 and not alerts()[0].is_open
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "alert.acknowledge")).one()
    assert event.data["emergency_access"] is True
