"""Random values posted to the measure forms never produce a server error, and whatever is saved is a valid,
correctly scored result."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from tests.conftest import login
from tracker.extensions import db
from tracker.factories import record_measure
from tracker.instruments import get_instrument, instruments, score
from tracker.models import MeasureResult, SafetyAlert

CODES = sorted(instruments())
FIELDS = [f"item_{n}" for n in range(22)] + ["administered_on", "mode", "reason", "instrument", "total", "patient_id"]

values = st.one_of(
    st.integers(-5, 8).map(str),
    st.sampled_from(
        [
            "",
            " ",
            "yes",
            "no",
            "lifetime",
            "past_3_months",
            "None",
            "null",
            "3.0",
            "1e1",
            "0x1",
            "2026-01-01",
            "2999-12-31",
            "1899-12-31",
            "with_patient",
            "from_paper",
            "clinician_rated",
            "\x00",
            "٣",
            "99999999999999999999",
            "<script>alert(1)</script>",
            "' OR 1=1 --",
        ]
    ),
    st.text(max_size=40),
)


def _valid(code: str) -> dict[str, str]:
    mode = "with_patient" if get_instrument(code).administration.value == "self-report" else "clinician_rated"
    data = {"administered_on": "2026-01-05", "mode": mode}
    for item in get_instrument(code).items:
        if item.ask_if is None:
            data[f"item_{item.number}"] = str(item.scale.values[0])
    return data


def _check_saved(before: int) -> None:
    rows = list(db.session.scalars(select(MeasureResult).where(MeasureResult.id > before)))
    for row in rows:
        expected = score(row.instrument, row.answers)
        assert (row.total, row.band, row.band_index) == (expected.total, expected.band, expected.band_index)
        alerts = db.session.scalars(select(SafetyAlert).where(SafetyAlert.result_id == row.id)).all()
        assert len(alerts) == (1 if expected.urgent else 0)


def _last_id() -> int:
    return db.session.scalar(select(MeasureResult.id).order_by(MeasureResult.id.desc()).limit(1)) or 0


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(code=st.sampled_from(CODES), data=st.dictionaries(st.sampled_from(FIELDS), values))
def test_random_measure_forms_never_fail_with_a_server_error(client, people, code, data):
    login(client, people.lead)
    before = _last_id()
    response = client.post(f"/patients/{people.patient.id}/measures/{code}/new", data={**_valid(code), **data})
    assert response.status_code in (302, 422), response.status_code
    _check_saved(before)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], max_examples=30)
@given(code=st.sampled_from(CODES), data=st.dictionaries(st.sampled_from(FIELDS), values))
def test_random_corrections_never_fail_with_a_server_error(client, people, code, data):
    old = record_measure(people.patient, people.lead, code)
    db.session.commit()
    login(client, people.lead)
    before = _last_id()
    url = f"/patients/{people.patient.id}/measures/results/{old.id}/correct"
    response = client.post(url, data={**_valid(code), "reason": "fuzz", **data})
    assert response.status_code in (302, 422), response.status_code
    _check_saved(before)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], max_examples=30)
@given(action=values, code=st.sampled_from(["", "phq9", "x" * 30, "../admin", "%00"]))
def test_random_acknowledgements_and_instrument_codes_never_fail(client, people, action, code):
    login(client, people.supervisor)
    assert client.get(f"/patients/{people.patient.id}/measures/{code}/new").status_code in (200, 404)
    assert client.post(f"/patients/{people.patient.id}/alerts/1", data={"action_taken": action}).status_code == 404
