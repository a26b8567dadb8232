"""The measure pages: recording through the generated form, refusals next to the item (422, nothing saved),
corrections, the overview's schedule, trends and change from baseline, and constant SQL counts."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import audit_actions, count_queries, login
from tracker import workflow
from tracker.extensions import db
from tracker.factories import (
    clear_for_dosing,
    complete_dosing,
    complete_integration,
    record_measure,
    renew_pre_dosing,
    sample_answers,
)
from tracker.instruments import get_instrument, instruments
from tracker.models import AuditEvent, MeasureResult, Phase, SafetyAlert
from tracker.models.base import utcnow

SVG = "{http://www.w3.org/2000/svg}"


def today():
    return utcnow().date()


def new_url(people, code) -> str:
    return f"/patients/{people.patient.id}/measures/{code}/new"


def post_data(code: str, answers, on=None, mode=None, **extra) -> dict[str, str]:
    instrument = get_instrument(code)
    data = {"administered_on": (on or today()).isoformat(), "mode": mode or default_mode(code)}
    for number, answer in enumerate(answers, start=1):
        if answer is not None:
            data[f"item_{number}"] = str(answer)
    assert len(answers) == len(instrument.items)
    data.update(extra)
    return data


def default_mode(code: str) -> str:
    return "with_patient" if get_instrument(code).administration.value == "self-report" else "clinician_rated"


def saved() -> list[MeasureResult]:
    db.session.expire_all()
    return list(db.session.scalars(select(MeasureResult).order_by(MeasureResult.id)))


@pytest.mark.parametrize("code", sorted(instruments()))
def test_every_instrument_has_a_form_generated_from_its_definition(client, people, code):
    instrument = get_instrument(code)
    login(client, people.lead)
    page = client.get(new_url(people, code)).text
    legends = re.findall(r'<legend class="fs-6 fw-semibold mb-1">([^<]*)</legend>', page)
    assert legends == [
        f"{item.number}. {item.text}".replace("'", "&#39;").replace('"', "&#34;") for item in instrument.items
    ]
    for item in instrument.items:
        if len(item.scale.options) > 11:  # a count or a clinician-entered total: one number field
            assert f'name="item_{item.number}" id="item_{item.number}-number"' in page
            continue
        for option in item.scale.options:
            assert f'name="item_{item.number}" type="radio" value="{option.value}"' in page
    if instrument.wording.value != "verbatim":
        assert instrument.wording_note.replace("'", "&#39;") in page
    assert f'value="{date_today()}"' in page and audit_actions()[-1] == "measure.form"


def date_today() -> str:
    return today().isoformat()


def test_the_cssrs_form_states_its_skip_logic_and_offers_not_asked(client, people):
    login(client, people.lead)
    page = client.get(new_url(people, "cssrs")).text
    assert page.count("Skip logic: ask only if question 2 is “Yes”; otherwise leave it as “Not asked”.") == 3
    for number in (3, 4, 5):
        assert f'id="item_{number}-0" name="item_{number}" type="radio" value="">' in page.replace("checked ", "")
    assert "Paraphrased pending licence" in page
    assert 'value="with_patient"' not in page  # asked by a clinician or trained staff, not self-report


def test_recording_saves_the_scored_result_and_shows_it(client, people):
    login(client, people.lead)
    response = client.post(new_url(people, "phq9"), data=post_data("phq9", [1, 2, 1, 1, 0, 1, 0, 0, 0]))
    (row,) = saved()
    assert response.status_code == 302
    assert response.location == f"/patients/{people.patient.id}/measures/results/{row.id}"
    assert (row.total, row.band, row.mode.value) == (6, "mild", "with_patient")
    assert row.answers == [1, 2, 1, 1, 0, 1, 0, 0, 0]
    page = client.get(response.location).text
    assert "Saved the PHQ-9: 6 (mild)." in page
    assert "<td>2. Feeling down, depressed, or hopeless</td><td>2 · More than half the days</td>" in page
    assert audit_actions()[-2:] == ["measure.record", "measure.view_result"]


def test_recording_an_urgent_answer_says_an_alert_was_raised(client, people):
    login(client, people.co_therapist)
    response = client.post(new_url(people, "phq9"), data=post_data("phq9", [0] * 8 + [1]), follow_redirects=True)
    assert "A safety alert was raised for the care team and the supervisor." in response.text
    assert 'id="safety-alerts"' in response.text
    assert db.session.scalar(select(func.count()).select_from(SafetyAlert)) == 1


BAD = [
    ("phq9", {"item_9": None}, "item_9", "PHQ-9 item 9: answer missing"),
    ("phq9", {"item_3": "4"}, "item_3", "PHQ-9 item 3: 4 is outside 0\u20133"),
    ("phq9", {"item_1": "-1"}, "item_1", "PHQ-9 item 1: -1 is outside 0\u20133"),
    ("phq9", {"item_2": "two"}, "item_2", "PHQ-9 item 2: &#39;two&#39; is not a whole number 0\u20133"),
    ("phq9", {"item_2": "\u0661"}, "item_2", "is not a whole number 0\u20133"),  # an Arabic-Indic digit is not a 1
    ("pcl5", {"item_20": "5"}, "item_20", "PCL-5 item 20: 5 is outside 0\u20134"),
    ("madrs", {"item_10": "7"}, "item_10", "MADRS item 10: 7 is outside 0\u20136"),
    ("qids_sr16", {"item_12": "3.0"}, "item_12", "QIDS-SR16 item 12: &#39;3.0&#39; is not a whole number"),
    ("gad7", {"item_7": None}, "item_7", "GAD-7 item 7: answer missing"),
    ("cssrs", {"item_3": "no"}, "item_3", "C-SSRS item 3: must be left unanswered (None) because item 2 is not"),
    ("cssrs", {"item_2": "yes"}, "item_3", "C-SSRS item 3: answer missing (asked because item 2 is &#39;yes&#39;)"),
    ("cssrs", {"item_6": "sometimes"}, "item_6", "C-SSRS item 6: &#39;sometimes&#39; is not one of"),
    ("phq9", {"administered_on": "2999-01-01"}, "administered_on", "The date cannot be in the future"),
    ("phq9", {"administered_on": ""}, "administered_on", "Enter the date the patient answered"),
    ("phq9", {"administered_on": "yesterday"}, "administered_on", "Not a valid date value."),
    ("phq9", {"mode": ""}, "mode", "Choose how it was given."),
    ("phq9", {"mode": "clinician_rated"}, "mode", "Not a valid choice."),  # the form offers only what fits
    ("madrs", {"mode": "with_patient"}, "mode", "Not a valid choice."),
    ("phq9", {"mode": "telepathy"}, "mode", "Not a valid choice."),
]


@pytest.mark.parametrize(("code", "change", "field", "message"), BAD)
def test_bad_answers_are_refused_next_to_the_item_and_nothing_is_saved(client, people, code, change, field, message):
    data = post_data(code, sample_answers(code))
    for name, value in change.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    login(client, people.lead)
    response = client.post(new_url(people, code), data=data)
    assert response.status_code == 422
    error = re.search(rf'<div class="invalid-feedback d-block" id="{field}-error">([^<]*)</div>', response.text)
    assert error and message in error.group(1), error and error.group(1)
    assert f'href="#{field}"' in response.text  # the error summary links to it
    assert saved() == [] and "measure.record" not in audit_actions()


def test_every_bad_item_is_shown_at_once(client, people):
    login(client, people.lead)
    data = post_data("pcl5", [1] * 20)
    for name in ("item_4", "item_11", "item_19"):
        data.pop(name)
    data["item_7"] = "5"
    page = client.post(new_url(people, "pcl5"), data=data).text
    errors = re.findall(r'id="(item_\d+)-error">([^<]*)<', page)
    assert errors == [
        ("item_4", "PCL-5 item 4: answer missing"),
        ("item_7", "PCL-5 item 7: 5 is outside 0\u20134"),
        ("item_11", "PCL-5 item 11: answer missing"),
        ("item_19", "PCL-5 item 19: answer missing"),
    ]


def test_a_refused_form_keeps_the_answers_given(client, people):
    login(client, people.lead)
    data = post_data("phq9", [2, 1, 0, 3, 0, 0, 0, 0, 0])
    data["item_9"] = "9"
    page = client.post(new_url(people, "phq9"), data=data).text
    assert re.search(r'checked[^>]*id="item_1-2"|id="item_1-2"[^>]*checked', page)
    assert re.search(r'checked[^>]*id="item_4-3"|id="item_4-3"[^>]*checked', page)


def test_an_unknown_instrument_or_another_patients_result_is_not_found(client, people, protocols):
    from tracker.factories import make_patient

    other = make_patient(people.other_therapist, protocols=protocols)
    theirs = record_measure(other, people.other_therapist, "phq9")
    db.session.commit()
    login(client, people.lead)
    assert client.get(new_url(people, "hamd")).status_code == 404
    assert client.post(new_url(people, "hamd"), data={}).status_code == 404
    base = f"/patients/{people.patient.id}/measures/results/{theirs.id}"
    assert client.get(base).status_code == 404 and client.get(base + "/correct").status_code == 404


# Corrections ----------------------------------------------------------------------------------------------------


def test_a_correction_through_the_form_supersedes_and_keeps_the_old_result(client, people):
    old = record_measure(people.patient, people.lead, "phq9", [2] * 8 + [0])
    db.session.commit()
    login(client, people.co_therapist)
    url = f"/patients/{people.patient.id}/measures/results/{old.id}/correct"
    form_page = client.get(url).text
    assert 'id="item_1-2" name="item_1" type="radio" value="2"' in form_page.replace("checked ", "")
    assert "checked" in form_page.split('id="item_1-2"')[0].rsplit("<input", 1)[1]
    refused = client.post(url, data=post_data("phq9", [1] * 8 + [0]))
    assert refused.status_code == 422 and "Say why the result is being corrected." in refused.text
    response = client.post(url, data=post_data("phq9", [1] * 8 + [0], reason="Copied row 2 of the paper form"))
    assert response.status_code == 302
    first, second = saved()
    assert (first.id, first.total, second.total, second.supersedes_id) == (old.id, 16, 8, old.id)
    old_page = client.get(f"/patients/{people.patient.id}/measures/results/{old.id}").text
    assert "This result was corrected and is kept for the record only." in old_page
    assert "Correct this result" not in old_page
    new_page = client.get(response.location).text
    assert "Reason: “Copied row 2 of the paper form”" in new_page
    overview = client.get(f"/patients/{people.patient.id}/measures").text
    assert "<s>16 (moderately severe)</s>" in overview and 'badge text-bg-secondary">Corrected' in overview
    # Correcting the superseded result again is refused: correct the newest version instead.
    again = client.post(url, data=post_data("phq9", [0] * 9, reason="again"))
    assert again.status_code == 422 and "corrected already; correct its newest version instead" in again.text
    assert len(saved()) == 2


# The overview -----------------------------------------------------------------------------------------------------


@pytest.fixture
def treated(people, protocols):
    """An MDMA patient dosed twice (sessions 28 days apart), with PCL-5 falling from 52 to 38."""
    mdma = protocols["mdma-ptsd"]
    patient = people.patient
    start = utcnow() - timedelta(days=40)
    clear_for_dosing(
        patient, people.lead, protocols, baseline_on=start.date() - timedelta(days=3), at=start - timedelta(days=3)
    )
    record_measure(patient, people.lead, "pcl5", [3] * 12 + [2] * 8, on=start.date() - timedelta(days=2))  # 52
    workflow.move(db.session, patient, Phase.DOSING, people.lead, mdma, now=start)
    complete_dosing(patient, people.lead, protocols, held_at=start + timedelta(hours=1))  # the signed dosing note
    workflow.move(db.session, patient, Phase.INTEGRATION, people.lead, mdma, now=start + timedelta(days=1))
    record_measure(patient, people.lead, "pcl5", [2] * 18 + [1] * 2, on=start.date() + timedelta(days=7))  # 38
    # The cycle's signed integration sessions, and the pregnancy test again before the next dosing session.
    complete_integration(patient, people.lead, protocols, before=start + timedelta(days=28))
    renew_pre_dosing(patient, people.lead, mdma, start + timedelta(days=27))
    workflow.move(db.session, patient, Phase.DOSING, people.lead, mdma, now=start + timedelta(days=28))
    db.session.commit()
    return start.date()


def test_the_overview_shows_schedule_trends_and_change_from_baseline(client, people, treated):
    login(client, people.supervisor)
    response = client.get(f"/patients/{people.patient.id}/measures")
    assert response.status_code == 200
    page = response.text
    schedule = page.split('id="schedule-heading"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<td>(PCL-5|C-SSRS)</td>\s*<td>([^<]+)</td>.*?badge [^\"]+\">(\w+)</span>", schedule, re.S)
    assert rows[:6] == [
        ("PCL-5", "Baseline (before the first dosing session)", "Done"),
        ("PCL-5", "After dosing session 1", "Done"),
        ("PCL-5", "After dosing session 2", "Due"),  # 12 days after it: the 14-day window is still open
        ("PCL-5", "After dosing session 3", "Upcoming"),
        ("PCL-5", "End of treatment", "Upcoming"),
        ("PCL-5", "Follow-up 1 (90 days after the end of treatment)", "Upcoming"),
    ]
    assert ("C-SSRS", "After dosing session 1", "Overdue") in rows
    svg = page.split('<figure class="trend mb-2">', 1)[1].split("</figure>", 1)[0]
    root = ET.fromstring(svg)  # noqa: S314 - our own page
    assert len([c for c in root.iter(SVG + "circle") if c.get("class") == "point"]) == 3  # the 3 current PCL-5s
    assert len([g for g in root.iter(SVG + "g") if g.get("class") == "dosing"]) == 2
    baseline_day = (treated - timedelta(days=2)).isoformat()
    assert (
        f"PCL-5 52 at baseline ({baseline_day}), 38 on {(treated + timedelta(days=7)).isoformat()}: 14 points lower."
    ) in page
    assert "Reliable change (at least 5 points either way): yes." in page
    assert "Clinically meaningful change (at least 10 points): yes (better)." in page
    assert "C-SSRS has no total; the chart shows the risk level at each administration." in page
    event = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).one()
    assert event.action == "measure.view" and len(event.data["result_ids"]) == 4


def test_madrs_change_is_read_as_response_and_remission(client, people, treated):
    record_measure(people.patient, people.lead, "madrs", [3] * 10, on=treated - timedelta(days=1))  # 30
    record_measure(people.patient, people.lead, "madrs", [1] * 10, on=treated + timedelta(days=5))  # 10
    db.session.commit()
    login(client, people.lead)
    page = client.get(f"/patients/{people.patient.id}/measures").text
    assert "Response (a drop of at least 50% from baseline): yes." in page
    assert "Remission (10 or below): yes." in page
    source = "Response: a drop of at least 50% from baseline; remission: 10 or below (COMP360, Goodwin 2022) [V]"
    assert f"Source: {source}." in page


def test_the_patient_page_lists_what_is_due_and_overdue(client, people, treated):
    login(client, people.lead)
    page = client.get(f"/patients/{people.patient.id}").text
    section = page.split('id="measures-heading"', 1)[1].split("</section>", 1)[0]
    rows = re.findall(r"<td>(PCL-5|C-SSRS)</td>\s*<td>([^<]+)</td>.*?badge [^\"]+\">(\w+)</span>", section, re.S)
    assert rows == [
        ("PCL-5", "After dosing session 2", "Due"),  # after dosing session 1 is done: not listed here
        ("C-SSRS", "After dosing session 1", "Overdue"),
        ("C-SSRS", "After dosing session 2", "Due"),
    ]
    assert f'href="/patients/{people.patient.id}/measures/pcl5/new"' in section


def test_a_discontinued_patient_has_no_schedule(client, people, protocols):
    workflow.move(db.session, people.patient, Phase.DISCONTINUED, people.lead, protocols["mdma-ptsd"], "moved away")
    db.session.commit()
    login(client, people.lead)
    assert (
        "Measures are no longer scheduled: the patient was discontinued."
        in client.get(f"/patients/{people.patient.id}/measures").text
    )


# Constant SQL counts ----------------------------------------------------------------------------------------------


def grow(people, treated, count: int) -> None:
    for number in range(count):
        record_measure(
            people.patient,
            people.lead,
            ["pcl5", "cssrs", "phq9"][number % 3],
            on=treated + timedelta(days=number % 30),
            level=(number % 10) / 10,
        )
    for _ in range(5):
        record_measure(people.patient, people.lead, "phq9", [1] * 8 + [2])  # and more alerts in the banner
    db.session.commit()


def test_the_measure_pages_run_the_same_queries_for_short_and_long_histories(client, people, treated):
    result = record_measure(people.patient, people.lead, "pcl5")
    record_measure(people.patient, people.lead, "phq9", [0] * 8 + [1])
    db.session.commit()
    alert = db.session.scalars(select(SafetyAlert)).one()
    pid = people.patient.id
    pages = [
        f"/patients/{pid}",
        f"/patients/{pid}/measures",
        f"/patients/{pid}/measures?page=2",
        f"/patients/{pid}/measures/pcl5/new",
        f"/patients/{pid}/measures/results/{result.id}",
        f"/patients/{pid}/measures/results/{result.id}/correct",
        f"/patients/{pid}/alerts/{alert.id}",
        "/patients/",
    ]
    login(client, people.supervisor)
    small = {}
    for url in pages:
        with count_queries() as statements:
            assert client.get(url).status_code == 200
        small[url] = len(statements)
    grow(people, treated, 60)
    for url in pages:
        with count_queries() as statements:
            assert client.get(url).status_code == 200
        assert len(statements) == small[url], url
    assert "page 1 of 3" in client.get(f"/patients/{pid}/measures").text
    assert client.get(f"/patients/{pid}/measures?page=zwei").status_code == 400
