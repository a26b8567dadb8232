"""Writing draft notes through the pages: each kind's fields, the dose total, vital signs flagged where entered,
adverse events, the 409 conflict that keeps what was typed, and bad input on every form refused beside its field."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from tests.conftest import audit_actions, login
from tests.session_data import (
    STARTED,
    adverse_event_form,
    dosing_note,
    held_session,
    in_dosing,
    minutes_ago,
    session_url,
    vitals_form,
)
from tracker.extensions import db
from tracker.factories import make_patient
from tracker.models import AdverseEvent, AuditEvent, SessionKind, SessionNote, VitalReading


def rows(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def note_of(session) -> SessionNote | None:
    db.session.expire_all()
    return db.session.scalar(select(SessionNote).where(SessionNote.session_id == session.id))


@pytest.fixture
def dosing(people, protocols):
    in_dosing(people.patient, people.lead, protocols)
    return held_session(people.patient, people.lead, protocols)


@pytest.fixture
def ketamine(people, protocols):
    """A ketamine patient (dosed in mg/kg) with a held infusion session."""
    patient = make_patient(people.lead, protocols=protocols, protocol_code="ketamine-iv-trd")
    in_dosing(patient, people.lead, protocols)
    return patient, held_session(patient, people.lead, protocols)


def ketamine_note(**overrides: str) -> dict[str, str]:
    values = {
        "substance": "Ketamine (IV)",
        "dose_amount": "0.5",
        "dose_unit": "mg_per_kg",
        "weight_kg": "72.5",
        "route": "intravenous",
        "supplemental_mg": "",
        "supplemental_given_at": "",
    }
    return dosing_note(**{**values, **overrides})


def test_a_dosing_note_saves_the_administration_and_computes_the_total(client, people, dosing):
    login(client, people.co_therapist)
    response = client.post(session_url(people.patient, dosing, "/note"), data=dosing_note())
    assert response.status_code == 302
    note = note_of(dosing)
    assert note.dose_total_mg == 120 and note.total_mg == 180 and note.lot_number == "LOT-A1"
    assert note.author_id == people.co_therapist.id and note.version_id == 1
    page = client.get(response.location).text
    assert "Draft saved." in page and "Dose given: 120 mg" in page and "180 mg in all" in page
    event = db.session.scalar(
        select(AuditEvent).where(AuditEvent.action == "note.create", AuditEvent.target_id == str(note.id))
    )
    assert "body" in event.data["fields"] and "Steady session" not in str(event.data)  # names, never the text
    assert event.data["changes"]["lot_number"] == [None, "LOT-A1"]


def test_mg_per_kg_multiplies_by_the_weight_measured_that_day(client, people, ketamine):
    patient, session = ketamine
    login(client, people.lead)
    client.post(session_url(patient, session, "/note"), data=ketamine_note())
    assert note_of(session).dose_total_mg == 36.25
    refused = client.post(session_url(patient, session, "/note"), data=ketamine_note(weight_kg="", version_id="1"))
    assert refused.status_code == 422 and 'id="weight_kg-error"' in refused.text
    assert "Enter the weight measured today" in refused.text


@pytest.mark.parametrize(
    "kind,fields",
    [
        (
            SessionKind.PREPARATION,
            {
                "topics": "Set and setting",
                "intention": "To feel safe in my body",
                "consent": "Recording: yes; touch: hand-holding only",
                "questions": "Music?",
            },
        ),
        (
            SessionKind.INTEGRATION,
            {
                "themes": "Grief",
                "practices": "Walking",
                "plan_updates": "Call sister",
                "risk_check": "no_concern",
                "risk_notes": "No thoughts of self-harm",
            },
        ),
        (SessionKind.FOLLOW_UP, {}),
    ],
)
def test_each_kind_keeps_its_structured_fields(client, people, protocols, kind, fields):
    session = held_session(people.patient, people.lead, protocols, kind=kind)
    login(client, people.lead)
    response = client.post(session_url(people.patient, session, "/note"), data={**fields, "body": "Free text"})
    assert response.status_code == 302
    note = note_of(session)
    assert note.body == "Free text" and {k: note.fields[k] for k in fields} == fields
    page = client.get(session_url(people.patient, session)).text
    for value in fields.values():
        if value != "no_concern":
            assert value in page


def test_a_stale_save_is_refused_with_both_versions_and_the_typing_kept(client, people, dosing):
    login(client, people.lead)
    client.post(session_url(people.patient, dosing, "/note"), data=dosing_note(body="First version"))
    # Both open the draft at version 1; the co-therapist saves first.
    login(client, people.co_therapist)
    assert (
        client.post(
            session_url(people.patient, dosing, "/note"),
            data=dosing_note(body="Co-therapist's narrative", version_id="1"),
        ).status_code
        == 302
    )
    login(client, people.lead)
    stale = client.post(
        session_url(people.patient, dosing, "/note"),
        data=dosing_note(body="Lead's long narrative, typed for an hour", version_id="1"),
    )
    assert stale.status_code == 409
    assert "Someone else saved this note while you were writing." in stale.text
    assert "Co-therapist&#39;s narrative" in stale.text  # the saved version
    assert "Lead&#39;s long narrative, typed for an hour" in stale.text  # the typing, still in the form
    assert re.search(r'name="version_id" type="hidden" value="2"', stale.text)  # saving again keeps it
    assert note_of(dosing).body == "Co-therapist's narrative"
    again = client.post(
        session_url(people.patient, dosing, "/note"),
        data=dosing_note(body="Lead's long narrative, typed for an hour", version_id="2"),
    )
    assert again.status_code == 302 and note_of(dosing).version_id == 3


def test_saving_unchanged_fields_does_not_bump_the_version(client, people, dosing):
    login(client, people.lead)
    client.post(session_url(people.patient, dosing, "/note"), data=dosing_note())
    again = client.post(session_url(people.patient, dosing, "/note"), data=dosing_note(version_id="1"))
    assert "Nothing had changed." in client.get(again.location).text
    assert note_of(dosing).version_id == 1


def test_vital_signs_out_of_range_are_flagged_where_entered_and_on_the_patient_page(client, people, dosing):
    login(client, people.lead)
    fine = client.post(
        session_url(people.patient, dosing, "/vitals"),
        data=vitals_form(120, systolic="128", diastolic="80", heart_rate="80", temperature="36.9"),
    )
    assert "all values within the protocol" in client.get(fine.location).text
    high = client.post(
        session_url(people.patient, dosing, "/vitals"),
        data=vitals_form(90, systolic="171", diastolic="96", heart_rate="112", spo2="97"),
    )
    page = client.get(high.location).text
    assert "Out of range: Systolic BP 171 mmHg is above the protocol&#39;s limit of 160 mmHg" in page
    assert page.count("out of range</span>") == 2  # the two cells, flagged in the table too
    reading = db.session.scalar(select(VitalReading).where(VitalReading.systolic == 171))
    assert set(reading.flags) == {"systolic", "heart_rate"}
    patient_page = client.get(f"/patients/{people.patient.id}").text
    assert 'id="flagged-vitals"' in patient_page and "Heart rate 112 bpm is above" in patient_page
    assert "Dosing 1 of 3" in patient_page
    assert audit_actions().count("vitals.add") == 2


def test_a_reading_can_be_removed_from_a_draft_and_the_removal_is_audited(client, people, dosing):
    login(client, people.lead)
    client.post(session_url(people.patient, dosing, "/vitals"), data=vitals_form(60, heart_rate="77"))
    reading = db.session.scalar(select(VitalReading))
    url = session_url(people.patient, dosing, f"/vitals/{reading.id}/remove")
    assert f'href="{url}"' in client.get(session_url(people.patient, dosing)).text  # a link, not a one-click form
    confirm = client.get(url)
    assert confirm.status_code == 200 and "Remove this reading?" in confirm.text and "77" in confirm.text
    assert 'name="confirm" value="yes"' in confirm.text and rows(VitalReading) == 1
    one_click = client.post(url)  # a POST without the confirmation removes nothing
    assert one_click.status_code == 400 and "Nothing was removed yet" in one_click.text and rows(VitalReading) == 1
    response = client.post(url, data={"confirm": "yes"})
    assert response.status_code == 302 and rows(VitalReading) == 0
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "vitals.remove"))
    assert event.data["heart_rate"] == 77


def test_adverse_events_are_recorded_with_rescue_medication(client, people, dosing):
    login(client, people.lead)
    response = client.post(
        session_url(people.patient, dosing, "/adverse-events"),
        data=adverse_event_form(
            description="Panic, hyperventilation",
            severity="moderate",
            serious="no",
            outcome="recovered",
            rescue_medication="Lorazepam",
            rescue_dose="1 mg sublingual",
            rescue_given_at=minutes_ago(180),
        ),
    )
    assert response.status_code == 302
    event = db.session.scalar(select(AdverseEvent))
    assert event.rescue_medication == "Lorazepam" and not event.serious
    page = client.get(response.location).text
    assert "Panic, hyperventilation" in page and "Lorazepam, 1 mg sublingual" in page
    url = session_url(people.patient, dosing, f"/adverse-events/{event.id}/remove")
    confirm = client.get(url)
    assert confirm.status_code == 200 and "Remove this adverse event?" in confirm.text
    assert "Panic, hyperventilation" in confirm.text and "Keep it" in confirm.text
    assert client.post(url).status_code == 400 and rows(AdverseEvent) == 1
    removed = client.post(url, data={"confirm": "yes"})
    assert removed.status_code == 302 and rows(AdverseEvent) == 0


# Bad input on every form: the message beside the field, a 4xx, nothing saved. ------------------------------------

NOTE_BAD = [
    ("dose_amount", "-5", "Enter a number above 0"),
    ("dose_amount", "nan", "Enter a number (digits 0-9"),
    ("dose_amount", "sNaN", "Enter a number (digits 0-9"),
    ("dose_amount", "12 mg", "Enter a number (digits 0-9"),
    # Python reads these as 1000, 100 and 120; a dose is stored only as the digits typed.
    ("dose_amount", "1_000", "Enter a number (digits 0-9"),
    ("dose_amount", "1e2", "Enter a number (digits 0-9"),
    ("dose_amount", "\uff11\uff12\uff10", "Enter a number (digits 0-9"),
    ("weight_kg", "+70", "Enter a number (digits 0-9"),
    ("distress_baseline", "9" * 400, "Enter the number with fewer digits."),
    ("distress_at_discharge", "9" * 400, "Enter the number with fewer digits."),
    ("dose_amount", "0." + "0" * 40 + "1", "Enter the number with fewer digits."),
    ("dose_amount", "5000", "at most 2000"),
    ("weight_kg", "0", "Enter a number above 0"),
    ("dose_unit", "grams", "Not a valid choice"),
    ("route", "rectal", "Not a valid choice"),
    ("lot_number", "<script>", "Use letters, digits"),
    ("dose_given_at", "yesterday", "Not a valid datetime value."),
    ("dose_given_at", "2999-01-01T10:00", "This time is in the future."),
    ("supplemental_given_at", "", "Enter both the supplemental dose and the time"),
    ("distress_baseline", "11", "Enter a number from 0 to 10."),
    ("escort_name", "Sam\x00", "Remove the invisible control characters"),
    ("body", "x" * 50_001, "Use at most 50000 characters."),
]


@pytest.mark.parametrize("field,value,message", NOTE_BAD)
def test_bad_note_input_is_refused_beside_the_field_and_nothing_is_saved(client, people, dosing, field, value, message):
    login(client, people.lead)
    response = client.post(session_url(people.patient, dosing, "/note"), data=dosing_note(**{field: value}))
    assert response.status_code == 422
    assert f'id="{field}-error"' in response.text and message in response.text
    assert note_of(dosing) is None


def test_a_unit_per_kilogram_needs_the_weight_even_before_the_dose_is_entered(client, people, dosing):
    """The table's check (ck_session_note_weight_for_mg_per_kg) refused such a draft as a 409 "conflict"."""
    login(client, people.lead)
    data = dosing_note(dose_unit="mg_per_70kg", dose_amount="", weight_kg="")
    response = client.post(session_url(people.patient, dosing, "/note"), data=data)
    assert response.status_code == 422
    assert 'id="weight_kg-error"' in response.text and "Enter the weight measured today" in response.text
    assert note_of(dosing) is None


def test_cross_field_dose_times_are_checked(client, people, dosing):
    login(client, people.lead)
    early = dosing_note(supplemental_given_at=minutes_ago(STARTED - 5))  # before the first dose
    response = client.post(session_url(people.patient, dosing, "/note"), data=early)
    assert response.status_code == 422 and "The supplemental dose comes after the first dose." in response.text
    before_start = dosing_note(dose_given_at=minutes_ago(STARTED + 100), supplemental_mg="", supplemental_given_at="")
    response = client.post(session_url(people.patient, dosing, "/note"), data=before_start)
    assert response.status_code == 422 and "before the session started" in response.text
    assert note_of(dosing) is None


VITALS_BAD = [
    ({"heart_rate": "400"}, "heart_rate", "not possible"),
    ({"heart_rate": "-3"}, "heart_rate", "cannot be negative"),
    ({"systolic": "80", "diastolic": "120"}, "systolic", "must be above diastolic"),
    ({"temperature": "98.6"}, "temperature", "not possible"),
    ({"temperature": "inf"}, "temperature", "Enter a number (digits 0-9"),
    ({"spo2": "ninety"}, "spo2", "Enter a whole number (digits 0-9)."),
    ({"heart_rate": "\u0668\u0660"}, "heart_rate", "Enter a whole number (digits 0-9)."),
    # 400 digits overflowed a float conversion (a 500); a decimal one read as infinity.
    ({"heart_rate": "9" * 400}, "heart_rate", "Enter the number with fewer digits."),
    ({"spo2": "9" * 13}, "spo2", "Enter the number with fewer digits."),
    ({"temperature": "9" * 400}, "temperature", "Enter the number with fewer digits."),
    ({}, "systolic", "Enter at least one measurement."),
    ({"taken_at": "", "heart_rate": "80"}, "taken_at", "Enter the date and time."),
    ({"taken_at": "2999-01-01T00:00", "heart_rate": "80"}, "taken_at", "This time is in the future."),
]


@pytest.mark.parametrize("values,field,message", VITALS_BAD)
def test_nonsense_vital_signs_are_refused_beside_the_field(client, people, dosing, values, field, message):
    login(client, people.lead)
    data = vitals_form(30)
    data.update(values)
    response = client.post(session_url(people.patient, dosing, "/vitals"), data=data)
    assert response.status_code == 422
    assert f'id="{field}-error"' in response.text and message in response.text
    assert rows(VitalReading) == 0


AE_BAD = [
    ("description", "", "Describe the event."),
    ("onset_at", "", "Enter the date and time."),
    ("onset_at", "2000-01-01T00:00", "The onset cannot be before the patient arrived for this session."),
    ("severity", "", "Choose the severity."),
    ("severity", "catastrophic", "Not a valid choice"),
    ("serious", "", "Say whether the event is serious."),
    ("action_taken", "", "Say what was done"),
    ("outcome", "", "Choose the outcome."),
    ("rescue_dose", "", "give the medication, the dose and the time"),
]


@pytest.mark.parametrize("field,value,message", AE_BAD)
def test_bad_adverse_events_are_refused_beside_the_field(client, people, dosing, field, value, message):
    login(client, people.lead)
    data = adverse_event_form(rescue_medication="Lorazepam", rescue_dose="1 mg", rescue_given_at=minutes_ago(100))
    data[field] = value
    response = client.post(session_url(people.patient, dosing, "/adverse-events"), data=data)
    assert response.status_code == 422
    assert f'id="{field}-error"' in response.text and message in response.text
    assert rows(AdverseEvent) == 0


def test_vitals_and_adverse_events_belong_to_dosing_sessions(client, people, protocols):
    session = held_session(people.patient, people.lead, protocols, kind=SessionKind.PREPARATION)
    login(client, people.lead)
    response = client.post(session_url(people.patient, session, "/vitals"), data=vitals_form(10, heart_rate="70"))
    assert response.status_code == 404 and "recorded on dosing sessions" in response.text
    response = client.post(session_url(people.patient, session, "/adverse-events"), data=adverse_event_form())
    assert response.status_code == 404
    assert rows(VitalReading) == rows(AdverseEvent) == 0


def test_a_saved_dose_is_shown_as_entered_so_saving_again_changes_nothing(client, people, ketamine):
    patient, dosing = ketamine
    login(client, people.lead)
    client.post(session_url(patient, dosing, "/note"), data=ketamine_note(dose_amount="0.125", weight_kg="68.35"))
    page = client.get(session_url(patient, dosing)).text
    assert re.search(r'id="dose_amount"[^>]*value="0.125"', page)
    assert re.search(r'id="weight_kg"[^>]*value="68.35"', page)
