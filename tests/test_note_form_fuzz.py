"""Random values posted to the note, vital-signs and adverse-event forms of a dosing session never produce a
server error, and whatever is saved obeys the rules."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from tests.conftest import login
from tests.session_data import adverse_event_form, dosing_note, held_session, in_dosing, vitals_form
from tracker.extensions import db
from tracker.models import SessionNote, VitalReading

NOTE_FIELDS = [*list(dosing_note()), "fields", "signed_at", "content_sha256", "author_id"]
VITAL_FIELDS = list(vitals_form())
EVENT_FIELDS = list(adverse_event_form())

values = st.one_of(
    st.text(max_size=60),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=200),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "-1",
            "0",
            "0.0001",
            "1e999",
            "nan",
            "NaN",
            "sNaN",
            "inf",
            "-inf",
            "1" * 5000,
            "99999999999999999999",
            "2020-01-01T10:00",
            "2999-12-31T23:59",
            "1900-01-01T00:00",
            "2026-02-30T10:00",
            "mg",
            "mg_per_kg",
            "oral",
            "intravenous",
            "yes",
            "no",
            "mild",
            "recovered",
            "<script>alert(1)</script>",
            "' OR 1=1 --",
            "\u202e",
            "😀" * 30,
        ]
    ),
)

SETTINGS = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _session(people, protocols):
    if getattr(people, "_fuzz_session", None) is None:
        in_dosing(people.patient, people.lead, protocols)
        people._fuzz_session = held_session(people.patient, people.lead, protocols)
    return people._fuzz_session


@SETTINGS
@given(data=st.dictionaries(st.sampled_from(NOTE_FIELDS), values))
def test_random_dosing_notes_never_fail_with_a_server_error(client, people, protocols, data):
    session = _session(people, protocols)
    login(client, people.lead)
    response = client.post(f"/patients/{people.patient.id}/sessions/{session.id}/note", data={**dosing_note(), **data})
    assert response.status_code in (302, 409, 422), response.status_code
    note = db.session.scalar(select(SessionNote).where(SessionNote.session_id == session.id))
    if note is not None:
        db.session.refresh(note)
        assert note.signed_at is None and note.author_id == people.lead.id  # never taken from the form
        assert note.dose_amount is None or 0 < note.dose_amount <= 2000
        assert note.distress_baseline is None or 0 <= note.distress_baseline <= 10


@SETTINGS
@given(data=st.dictionaries(st.sampled_from(VITAL_FIELDS), values))
def test_random_vital_signs_never_fail_with_a_server_error(client, people, protocols, data):
    session = _session(people, protocols)
    login(client, people.lead)
    response = client.post(
        f"/patients/{people.patient.id}/sessions/{session.id}/vitals", data={**vitals_form(30, heart_rate="80"), **data}
    )
    assert response.status_code in (302, 422), response.status_code
    for reading in db.session.scalars(select(VitalReading)):
        assert reading.heart_rate is None or 20 <= reading.heart_rate <= 250


@SETTINGS
@given(data=st.dictionaries(st.sampled_from(EVENT_FIELDS), values))
def test_random_adverse_events_never_fail_with_a_server_error(client, people, protocols, data):
    session = _session(people, protocols)
    login(client, people.lead)
    response = client.post(
        f"/patients/{people.patient.id}/sessions/{session.id}/adverse-events", data={**adverse_event_form(), **data}
    )
    assert response.status_code in (302, 422), response.status_code


def test_a_blank_unit_or_route_is_read_as_none(client, people, protocols):
    session = _session(people, protocols)
    login(client, people.lead)
    for field in ("dose_unit", "route"):
        response = client.post(
            f"/patients/{people.patient.id}/sessions/{session.id}/note", data={**dosing_note(), field: " "}
        )
        assert response.status_code in (302, 409, 422), (field, response.status_code)
