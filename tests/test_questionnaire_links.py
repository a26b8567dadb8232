"""Questionnaires on the patient's device: the clinician sends a link (QR code), the patient answers once without an
account, the result is scored and raises alerts like a clinician's entry; reused, expired, withdrawn and forged
links are refused; every use is audited; the page shows nothing else of the record."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from tests.conftest import audit_actions, login
from tracker.extensions import db
from tracker.instruments import get_instrument
from tracker.models import (
    AdministrationMode,
    AlertNotice,
    AlertSource,
    AuditEvent,
    MeasureResult,
    QuestionnaireLink,
    SafetyAlert,
)
from tracker.models.base import utcnow
from tracker.questionnaires.services import hash_token, send_link

PHQ9_CALM = [1, 1, 2, 1, 0, 1, 0, 0, 0]
PHQ9_ITEM9 = [1, 1, 2, 1, 0, 1, 0, 0, 1]


def answers(code: str, values: list[int]) -> dict[str, str]:
    return {f"{code}-{number}": str(value) for number, value in enumerate(values, start=1)}


def make_link(people, codes=("phq9",), hours=72) -> str:
    _, token = send_link(people.lead, people.patient, list(codes), utcnow(), hours)
    db.session.commit()
    return token


def test_a_clinician_sends_a_link_shown_once_as_a_qr_code(app, client, people):
    login(client, people.lead)
    page = client.get(f"/patients/{people.patient.id}/questionnaires")
    assert page.status_code == 200
    assert "MADRS" not in page.text and "C-SSRS" not in page.text and "QIDS" not in page.text  # not sendable
    sent = client.post(
        f"/patients/{people.patient.id}/questionnaires", data={"instruments": ["phq9", "gad7"], "send": "chosen"}
    )
    assert sent.status_code == 200
    assert "<svg" in sent.text and 'class="segno"' in sent.text
    url = re.search(r'id="link-url" type="text" readonly value="([^"]+)"', sent.text).group(1)
    assert url.startswith(app.config["BASE_URL"] + "/q/")  # the configured address, not the request's Host
    token = url.rsplit("/", 1)[1]
    link = db.session.scalar(select(QuestionnaireLink).where(QuestionnaireLink.patient_id == people.patient.id))
    assert link.token_hash == hash_token(token) and token not in str(vars(link))
    assert link.instruments == ["phq9", "gad7"]
    assert (
        link.expires_at - link.created_at
        == timedelta(hours=app.config["QUESTIONNAIRE_LINK_HOURS"])
        == timedelta(hours=72)
    )
    assert "E-mail sending is not set up" in sent.text
    assert audit_actions()[-1] == "questionnaire.send"
    listed = client.get(f"/patients/{people.patient.id}/questionnaires")
    assert token not in listed.text and "Open" in listed.text


def test_it_refuses_what_a_patient_cannot_fill_in_alone(client, people):
    login(client, people.lead)
    for code in ("madrs", "cssrs", "qids_sr16", "nope"):
        response = client.post(f"/patients/{people.patient.id}/questionnaires", data={"instruments": [code]})
        assert response.status_code == 422, code
    assert client.post(f"/patients/{people.patient.id}/questionnaires", data={}).status_code == 422
    assert db.session.scalar(select(QuestionnaireLink)) is None


def test_the_patient_answers_once_and_the_result_is_patient_reported(client, people):
    token = make_link(people)
    page = client.get(f"/q/{token}")
    assert page.status_code == 200
    assert people.clinic.name in page.text
    for private in ("Zzpatient", "Canary", "CANARY-1", "1980", people.lead.full_name):
        assert private not in page.text, private
    assert get_instrument("phq9").items[0].text in page.text
    done = client.post(f"/q/{token}", data=answers("phq9", PHQ9_CALM))
    assert done.status_code == 200 and "Thank you" in done.text and "call" not in done.text
    result = db.session.scalar(select(MeasureResult).where(MeasureResult.patient_id == people.patient.id))
    assert result.mode is AdministrationMode.PATIENT_DEVICE and result.total == 6 and result.band == "mild"
    assert result.entered_by_id == people.lead.id
    link = db.session.scalar(select(QuestionnaireLink))
    assert link.used_at is not None and link.result_ids == [result.id]
    assert audit_actions()[-3:] == ["questionnaire.open", "measure.record_by_patient", "questionnaire.submit"]
    again = client.post(f"/q/{token}", data=answers("phq9", PHQ9_CALM))
    assert again.status_code == 410 and "already been filled in" in again.text
    assert client.get(f"/q/{token}").status_code == 410
    assert db.session.scalar(select(MeasureResult.id).where(MeasureResult.id != result.id)) is None
    assert audit_actions()[-1] == "questionnaire.refused"


def test_an_urgent_answer_raises_the_alert_and_shows_the_crisis_line(client, people):
    people.clinic.crisis_line = "Crisis line 0800 123 456"  # the clinic's setting
    db.session.commit()
    token = make_link(people)
    page = client.get(f"/q/{token}")
    assert "Crisis line 0800 123 456" in page.text  # in the box the page shows when item 9 is above 0
    assert page.text.count('data-urgent="1"') == 3  # item 9: several days, more than half, nearly every day
    done = client.post(f"/q/{token}", data=answers("phq9", PHQ9_ITEM9))
    assert done.status_code == 200
    assert "Crisis line 0800 123 456" in done.text and "Please reach out now" in done.text
    alert = db.session.scalar(select(SafetyAlert).where(SafetyAlert.patient_id == people.patient.id))
    assert alert is not None and alert.acknowledged_at is None
    assert "alert.raise" in audit_actions()
    login(client, people.supervisor)
    queue = client.get("/alerts")
    assert "Zzpatient" in queue.text and "the patient, on their own device" in queue.text


def test_missing_answers_are_shown_next_to_each_item_and_nothing_is_saved(client, people):
    token = make_link(people, ("phq9", "gad7"))
    partial = answers("phq9", PHQ9_CALM[:8])
    response = client.post(f"/q/{token}", data=partial)
    assert response.status_code == 422
    assert "PHQ-9, question 9" in response.text and "GAD-7, question 1" in response.text
    assert "Please choose an answer." in response.text
    assert db.session.scalar(select(MeasureResult)) is None
    assert db.session.scalar(select(QuestionnaireLink.used_at)) is None
    junk = {**answers("phq9", PHQ9_CALM), **answers("gad7", [0] * 7), "phq9-3": "99"}
    assert client.post(f"/q/{token}", data=junk).status_code == 422
    full = {**answers("phq9", PHQ9_CALM), **answers("gad7", [0, 1, 0, 1, 0, 1, 0])}
    assert client.post(f"/q/{token}", data=full).status_code == 200
    assert len(db.session.scalars(select(MeasureResult)).all()) == 2


def test_an_expired_link_is_refused(client, people):
    token = make_link(people, hours=1)
    with time_machine.travel(utcnow() + timedelta(hours=1, minutes=1), tick=False):
        assert client.get(f"/q/{token}").status_code == 410
        response = client.post(f"/q/{token}", data=answers("phq9", PHQ9_CALM))
    assert response.status_code == 410 and "expired" in response.text
    assert db.session.scalar(select(MeasureResult)) is None


def test_a_withdrawn_link_is_refused(client, people):
    token = make_link(people)
    link = db.session.scalar(select(QuestionnaireLink))
    login(client, people.lead)
    assert client.post(f"/patients/{people.patient.id}/questionnaires/{link.id}/withdraw").status_code == 302
    client.post("/logout")
    assert client.get(f"/q/{token}").status_code == 410
    assert "withdrawn" in client.get(f"/q/{token}").text


@pytest.mark.parametrize("token", ["x", "a" * 43, "A" * 500, "%00", "abc.def", "' OR 1=1 --"])
def test_forged_tokens_are_refused_and_audited(client, people, token):
    make_link(people)
    response = client.get(f"/q/{token}")
    assert response.status_code == 404
    assert "Zzpatient" not in response.text
    assert audit_actions()[-1] == "questionnaire.refused"


def test_refused_tokens_are_rate_limited(client, people):
    statuses = [client.get(f"/q/guess-{number}").status_code for number in range(12)]
    assert statuses[:10] == [404] * 10 and statuses[-1] == 429


PERSONAS = {
    "lead": 200,
    "co_therapist": 200,
    "supervisor": 200,
    "other_therapist": 404,
    "other_supervisor": 404,
    "admin": 403,
    "outsider": 404,
}


@pytest.mark.parametrize("persona", list(PERSONAS))
def test_only_those_who_see_the_patient_send_and_withdraw_links(client, people, persona):
    make_link(people)
    link = db.session.scalar(select(QuestionnaireLink))
    login(client, getattr(people, persona))
    expected = PERSONAS[persona]
    page = client.get(f"/patients/{people.patient.id}/questionnaires")
    assert page.status_code == expected and ("Zzpatient" in page.text) is (expected == 200)
    sent = client.post(f"/patients/{people.patient.id}/questionnaires", data={"instruments": ["phq9"]})
    assert sent.status_code == expected
    withdrawn = client.post(f"/patients/{people.patient.id}/questionnaires/{link.id}/withdraw")
    assert withdrawn.status_code == (302 if expected == 200 else expected)


def test_the_links_page_takes_the_same_number_of_queries_however_many_links(client, people):
    from tests.conftest import count_queries

    make_link(people)
    login(client, people.lead)
    with count_queries() as one:
        assert client.get(f"/patients/{people.patient.id}/questionnaires").status_code == 200
    for _ in range(5):
        make_link(people, ("gad7",))
    with count_queries() as six:
        assert client.get(f"/patients/{people.patient.id}/questionnaires").status_code == 200
    assert len(six) == len(one)


def test_two_submissions_of_one_link_at_once_count_once(people):
    """Both requests found the link open; the UPDATE that closes it matches only once."""
    from tracker.questionnaires.services import LinkClosed, find_open, submit

    token = make_link(people)
    now = utcnow()
    first, second = find_open(token, now), find_open(token, now)
    submit(first, {"phq9": PHQ9_CALM}, now.date(), now)
    with pytest.raises(LinkClosed):
        submit(second, {"phq9": PHQ9_CALM}, now.date(), now)
    assert len(db.session.scalars(select(MeasureResult)).all()) == 1


# Limits: a valid link is never refused for other people's refusals ---------------------------------------------------


def test_a_guesser_on_the_same_address_does_not_lock_out_a_valid_link(client, people):
    """A clinic's Wi-Fi or a carrier's NAT: one address guesses, another patient behind it opens and sends."""
    token = make_link(people)
    guesses = [client.get(f"/q/guess-{number}").status_code for number in range(15)]
    assert guesses[:10] == [404] * 10 and set(guesses[10:]) == {429}
    assert client.get(f"/q/{token}").status_code == 200
    done = client.post(f"/q/{token}", data=answers("phq9", PHQ9_CALM))
    assert done.status_code == 200 and "Thank you" in done.text
    assert db.session.scalar(select(MeasureResult)) is not None  # the submission is not lost
    assert audit_actions().count("questionnaire.address_flagged") == 1


def test_the_limit_counts_requests_per_link_not_per_address(app, client, people):
    token, other = make_link(people), make_link(people, ("gad7",))
    app.config["QUESTIONNAIRE_REQUESTS_PER_LINK"] = 3
    try:
        assert [client.get(f"/q/{token}").status_code for _ in range(4)] == [200, 200, 200, 429]
        assert client.get(f"/q/{other}").status_code == 200  # the same address, another link
    finally:
        app.config["QUESTIONNAIRE_REQUESTS_PER_LINK"] = 60


def test_the_429_page_of_a_link_shows_its_clinics_crisis_line(app, client, people):
    people.clinic.crisis_line = "Crisis line 0800 123 456"  # the clinic's setting
    token = make_link(people)
    app.config["QUESTIONNAIRE_REQUESTS_PER_LINK"] = 1
    try:
        assert client.get(f"/q/{token}").status_code == 200
        response = client.get(f"/q/{token}")
    finally:
        app.config["QUESTIONNAIRE_REQUESTS_PER_LINK"] = 60
    assert response.status_code == 429 and "Crisis line 0800 123 456" in response.text


def test_the_429_page_of_unknown_tokens_names_the_local_emergency_number(client, people):
    people.clinic.crisis_line = "Crisis line 0800 123 456"
    db.session.commit()
    for number in range(11):
        response = client.get(f"/q/guess-{number}")
    assert response.status_code == 429 and "local emergency number" in response.text
    assert "0800 123 456" not in response.text  # no clinic is known from a token that opens nothing


def test_without_a_crisis_line_setting_the_pages_give_the_clinics_phone_when_it_is_known(client, people):
    people.clinic.crisis_line = None
    people.clinic.phone = "+1 555 0199"
    token = make_link(people, hours=1)
    db.session.commit()
    with time_machine.travel(utcnow() + timedelta(hours=2), tick=False):
        expired = client.get(f"/q/{token}")
    assert expired.status_code == 410 and "+1 555 0199" in expired.text
    unknown = client.get("/q/unknown-token")
    assert "+1 555 0199" not in unknown.text and "local emergency number" in unknown.text


# Urgent answers on a link that closed while it was being filled in ------------------------------------------------


@pytest.mark.parametrize("closing", ["expired", "withdrawn"])
def test_an_urgent_answer_on_a_link_closed_mid_fill_raises_an_alert(app, client, people, closing):
    token = make_link(people, hours=1)
    assert client.get(f"/q/{token}").status_code == 200  # the patient starts...
    link = db.session.scalar(select(QuestionnaireLink))
    moment = utcnow() + timedelta(minutes=30)
    if closing == "withdrawn":
        from tracker.questionnaires.services import withdraw

        withdraw(people.lead, people.patient, link, utcnow())
        db.session.commit()
    else:
        moment = utcnow() + timedelta(hours=2)
    people.clinic.crisis_line = "Crisis line 0800 123 456"  # the clinic's setting
    db.session.commit()
    with time_machine.travel(moment, tick=False):
        response = client.post(f"/q/{token}", data=answers("phq9", PHQ9_ITEM9))
        again = client.post(f"/q/{token}", data=answers("phq9", PHQ9_ITEM9))
    assert response.status_code == 410 and "Crisis line 0800 123 456" in response.text
    assert "has been alerted" in response.text and again.status_code == 410
    assert db.session.scalar(select(MeasureResult)) is None  # no result is stored
    [alert] = db.session.scalars(select(SafetyAlert)).all()  # one open alert, however often it is posted
    assert alert.source is AlertSource.QUESTIONNAIRE_LINK and alert.source_row_id == link.id
    assert alert.result_id is None and alert.session_id is None and alert.patient_id == people.patient.id
    assert not alert.high_risk  # PHQ-9 item 9 is urgent, not high risk
    assert "no result was saved" in alert.summary and "item 9" in alert.summary.lower()
    actions = audit_actions()
    assert actions.count("alert.raise") == 1 and actions.count("alert.repeat") == 1
    assert db.session.scalars(select(AlertNotice)).all()  # e-mailed like every alert
    login(client, people.lead)
    banner = client.get(f"/patients/{people.patient.id}")
    assert "Urgent answer on a closed questionnaire link" in banner.text and "no result was saved" in banner.text
    page = client.get(f"/patients/{people.patient.id}/alerts/{alert.id}")
    assert page.status_code == 200 and "the closed questionnaire link" in page.text
    assert f"/patients/{people.patient.id}/questionnaires#link-{link.id}" in page.text
    login(client, people.supervisor)
    queue = client.get("/alerts")
    assert queue.status_code == 200 and "the closed questionnaire link" in queue.text
    login(client, people.lead)
    acknowledged = client.post(
        f"/patients/{people.patient.id}/alerts/{alert.id}",
        data={"actions": ["patient_contacted"], "action_taken": "Called the patient; safety plan reviewed."},
    )
    assert acknowledged.status_code == 302


def test_a_closed_links_urgent_answer_after_its_alert_was_acknowledged_raises_a_new_one(client, people):
    from tracker.alerts.acknowledge import acknowledge

    token = make_link(people, hours=1)
    later = utcnow() + timedelta(hours=2)
    with time_machine.travel(later, tick=False):
        assert client.post(f"/q/{token}", data=answers("phq9", PHQ9_ITEM9)).status_code == 410
    first = db.session.scalars(select(SafetyAlert)).one()
    acknowledge(
        people.lead,
        people.patient,
        first,
        ["patient_contacted"],
        "Called the patient today; the safety plan was reviewed with her.",
        utcnow(),
    )
    db.session.commit()
    with time_machine.travel(later + timedelta(days=1), tick=False):
        assert client.post(f"/q/{token}", data=answers("phq9", PHQ9_ITEM9)).status_code == 410
    alerts = db.session.scalars(select(SafetyAlert).order_by(SafetyAlert.id)).all()
    assert len(alerts) == 2 and alerts[1].is_open and alerts[1].source_row_id == first.source_row_id


def test_a_closed_links_alert_is_high_risk_when_a_flag_is(people):
    from tracker.alerts import raising
    from tracker.instruments import Flag

    link, _ = send_link(people.lead, people.patient, ["phq9"], utcnow(), 1)
    plan = Flag("plan", "A suicide plan.", True, "test", high_risk=True)
    thoughts = Flag("thoughts", "Thoughts of death.", True, "test")
    alert = raising.for_closed_link(people.patient, link, "expired", [thoughts, plan], utcnow())
    assert alert is not None and alert.high_risk and "A suicide plan." in alert.summary
    assert raising.for_closed_link(people.patient, link, "expired", [], utcnow()) is None


def test_a_calm_answer_on_a_closed_link_raises_nothing(client, people):
    token = make_link(people, hours=1)
    with time_machine.travel(utcnow() + timedelta(hours=2), tick=False):
        response = client.post(f"/q/{token}", data=answers("phq9", PHQ9_CALM))
    assert response.status_code == 410 and "has been alerted" not in response.text
    assert db.session.scalar(select(SafetyAlert)) is None


def test_an_urgent_item_counts_even_when_other_answers_are_missing(people):
    from tracker.questionnaires.services import urgent_flags

    assert urgent_flags(["phq9"], {"phq9": [None] * 8 + [2]})
    assert not urgent_flags(["phq9"], {"phq9": [3] * 8 + [0]})
    assert not urgent_flags(["phq9"], {"phq9": [None] * 8 + [99]})  # not an answer of the scale
    assert not urgent_flags(["gad7"], {})


# Audit, duplicated fields, cookies --------------------------------------------------------------------------------


def test_a_rejected_submission_is_audited_without_its_answers(client, people):
    token = make_link(people)
    assert client.post(f"/q/{token}", data=answers("phq9", PHQ9_CALM[:8])).status_code == 422
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "questionnaire.rejected")).one()
    assert event.patient_id == people.patient.id and event.data == {"problems": 1}


def test_a_field_sent_twice_is_refused_and_nothing_is_saved(client, people):
    token = make_link(people)
    data = [(name, value) for name, value in answers("phq9", PHQ9_CALM).items()] + [("phq9-9", "3")]
    response = client.post(f"/q/{token}", data=MultiDict(data))
    assert response.status_code == 422 and "answered twice" in response.text
    assert db.session.scalar(select(MeasureResult)) is None
    assert db.session.scalar(select(QuestionnaireLink.used_at)) is None
    assert client.post(f"/q/{token}", data=answers("phq9", PHQ9_CALM)).status_code == 200


def test_the_questionnaire_pages_set_no_cookie(csrf_app, people):
    """With CSRF on, as in production: opening, sending and refusals set no session cookie."""
    client = csrf_app.test_client()
    token = make_link(people)
    responses = [
        client.get(f"/q/{token}"),
        client.post(f"/q/{token}", data=answers("phq9", PHQ9_CALM[:8])),
        client.post(f"/q/{token}", data=answers("phq9", PHQ9_CALM)),
        client.get(f"/q/{token}"),
        client.get("/q/unknown"),
    ]
    assert [r.status_code for r in responses] == [200, 422, 200, 410, 404]
    assert [r.headers.getlist("Set-Cookie") for r in responses] == [[]] * 5
