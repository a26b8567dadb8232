"""The pre-treatment evaluation's laboratory results: markers as data, results flagged against the range they carry,
never changed (corrections supersede), on the patient page and in the summary, the results page at every door, and a
protocol's required results enforced through the dosing gate at the session's time."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.conftest import audit_actions, count_queries, login
from tracker import gate, workflow
from tracker.extensions import db
from tracker.factories import clear_for_dosing, make_patient, walk_to
from tracker.labs import describe_range, load_markers, markers, out_of_range
from tracker.labs.services import LabError, LabInput, correct_result, record_result
from tracker.models import Phase
from tracker.models.base import utcnow
from tracker.reports.content import Stamp, patient_loader_options, summary_document
from tracker.workflow import TransitionError

CANARY = "Zzpatient"


def today() -> date:
    return utcnow().date()


# -- markers and ranges (pure) --------------------------------------------------------------------------------------


def test_the_markers_of_the_seed_articles_are_data_with_sources():
    catalogue = markers()
    # Blood sugar, metabolic, endocrine, immune, magnesium, zinc, B vitamins, essential fatty acids.
    for code in (
        "glucose_fasting",
        "hba1c",
        "alt",
        "tsh",
        "cortisol_morning",
        "crp_hs",
        "wbc",
        "magnesium",
        "zinc",
        "vitamin_b12",
        "folate",
        "omega3_index",
    ):
        marker = catalogue[code]
        assert marker.sources and all(unit.source for unit in marker.units), code
    glucose = catalogue["glucose_fasting"].unit("mg/dL")
    assert glucose is not None and (glucose.low, glucose.high) == (70, 99)  # ADA 2024


def test_a_broken_markers_file_names_the_marker(tmp_path):
    path = tmp_path / "markers.toml"
    path.write_text(
        '[[markers]]\ncode = "x"\nname = "X"\nunits = [{ unit = "g", low = 5, high = 1, source = "s" }]\n'
        'sources = ["s"]\n'
    )
    with pytest.raises(ValueError, match=r"markers\[0\]\.units\[0\]\.low must be below high"):
        load_markers(path)


@pytest.mark.parametrize(("value", "flag"), [(3.8, "low"), (3.9, None), (5.5, None), (5.6, "high")])
def test_a_value_is_read_against_its_range_with_the_limits_inside(value, flag):
    assert out_of_range(value, 3.9, 5.5) == flag


def test_one_sided_ranges():
    assert out_of_range(9.0, None, 5.6) == "high" and out_of_range(3.0, 8.0, None) == "low"
    assert out_of_range(3.0, None, None) is None
    assert describe_range(None, 5.6, "%") == "up to 5.6 %" and describe_range(8, None, "%") == "8 % or more"


# -- recording and correcting -------------------------------------------------------------------------------------


def test_a_result_without_a_range_takes_the_markers_default_and_is_flagged(people):
    row = record_result(people.lead, people.patient, LabInput("glucose_fasting", 6.1, "mmol/L", today()), today())
    assert (row.reference_low, row.reference_high, row.range_from_laboratory, row.flag) == (3.9, 5.5, False, "high")
    assert "ADA 2024" in row.range_source
    assert audit_actions()[-1] == "lab.record"


def test_the_laboratorys_own_range_is_kept_with_the_result(people):
    given = LabInput(
        "glucose_fasting", 6.1, "mmol/L", today(), reference_low=3.5, reference_high=6.5, laboratory="City Lab"
    )
    row = record_result(people.lead, people.patient, given, today())
    assert (row.range_from_laboratory, row.flag, row.range_source) == (True, None, "City Lab")


@pytest.mark.parametrize(
    ("given", "field", "message"),
    [
        (LabInput("glucose", 5.0, "mmol/L", date(2026, 1, 1)), "marker", "Choose a marker"),
        (LabInput("glucose_fasting", 5.0, "g/L", date(2026, 1, 1)), "unit", "recorded in mmol/L or mg/dL"),
        (LabInput("glucose_fasting", -1.0, "mmol/L", date(2026, 1, 1)), "value", "0 or more"),
        (LabInput("glucose_fasting", float("nan"), "mmol/L", date(2026, 1, 1)), "value", "0 or more"),
        (LabInput("glucose_fasting", 5.0, "mmol/L", date(2999, 1, 1)), "collected_on", "cannot be in the future"),
        (LabInput("glucose_fasting", 5.0, "mmol/L", date(2026, 1, 1), 6.0, 4.0), "reference_low", "must be below"),
    ],
)
def test_a_bad_result_is_refused_on_its_field(people, given, field, message):
    with pytest.raises(LabError, match=message) as refused:
        record_result(people.lead, people.patient, given, today())
    assert refused.value.field == field


def test_a_result_is_never_changed_and_a_correction_supersedes_it(people):
    first = record_result(people.lead, people.patient, LabInput("magnesium", 0.5, "mmol/L", today()), today())
    db.session.commit()
    with pytest.raises(DBAPIError, match="immutable"), db.session.begin_nested():
        db.session.execute(text("UPDATE lab_result SET value = 0.8 WHERE id = :id"), {"id": first.id})
    with pytest.raises(DBAPIError, match="immutable"), db.session.begin_nested():
        db.session.execute(text("DELETE FROM lab_result WHERE id = :id"), {"id": first.id})
    second = correct_result(
        people.lead,
        people.patient,
        first,
        LabInput("magnesium", 0.8, "mmol/L", today()),
        "Copied from the wrong line",
        today(),
    )
    assert second.supersedes_id == first.id and second.flag is None
    with pytest.raises(LabError, match="already corrected"):
        correct_result(people.lead, people.patient, first, LabInput("magnesium", 0.9, "mmol/L", today()), "x", today())
    assert audit_actions()[-1] == "lab.correct"


# -- pages ----------------------------------------------------------------------------------------------------------

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
def test_only_those_who_see_the_patient_see_or_record_results(client, people, persona):
    row = record_result(people.lead, people.patient, LabInput("tsh", 7.5, "mIU/L", today()), today())
    db.session.commit()
    login(client, getattr(people, persona))
    expected = PERSONAS[persona]
    pages = [
        client.get(f"/patients/{people.patient.id}/labs"),
        client.get(f"/patients/{people.patient.id}/labs/{row.id}/correct"),
    ]
    posted = client.post(
        f"/patients/{people.patient.id}/labs",
        data={"marker_unit": "tsh|mIU/L", "value": "2.0", "collected_on": today().isoformat()},
    )
    for response in pages:
        assert response.status_code == expected
        assert (CANARY in response.text) is (expected == 200)
    assert posted.status_code == (302 if expected == 200 else expected)
    db.session.expire_all()
    count = db.session.scalar(text("SELECT count(*) FROM lab_result WHERE patient_id = :p"), {"p": people.patient.id})
    assert count == (2 if expected == 200 else 1)


def test_the_results_page_records_flags_and_audits(client, people):
    login(client, people.lead)
    response = client.post(
        f"/patients/{people.patient.id}/labs",
        data={"marker_unit": "hba1c|%", "value": "6.8", "collected_on": today().isoformat(), "laboratory": "City Lab"},
    )
    assert response.status_code == 302
    page = client.get(f"/patients/{people.patient.id}/labs")
    assert "Haemoglobin A1c (HbA1c)" in page.text and "6.8 %" in page.text and "High" in page.text
    assert audit_actions()[-2:] == ["lab.record", "lab.view"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"marker_unit": "", "value": "5", "collected_on": "2026-01-01"}, "Choose the marker."),
        (
            {"marker_unit": "tsh|mIU/L", "value": "", "collected_on": "2026-01-01"},
            "Enter the value as the report gives it.",
        ),
        ({"marker_unit": "tsh|mIU/L", "value": "abc", "collected_on": "2026-01-01"}, "Enter a number (digits 0-9"),
        ({"marker_unit": "tsh|mIU/L", "value": "5_5", "collected_on": "2026-01-01"}, "Enter a number (digits 0-9"),
        ({"marker_unit": "tsh|mIU/L", "value": "nan", "collected_on": "2026-01-01"}, "Enter a number (digits 0-9"),
        ({"marker_unit": "tsh|g", "value": "5", "collected_on": "2026-01-01"}, "Not a valid choice"),
        ({"marker_unit": "tsh|mIU/L", "value": "-5", "collected_on": "2026-01-01"}, "Enter a number of 0 or more."),
        ({"marker_unit": "tsh|mIU/L", "value": "5", "collected_on": "2999-01-01"}, "cannot be in the future"),
        (
            {
                "marker_unit": "tsh|mIU/L",
                "value": "5",
                "collected_on": "2026-01-01",
                "reference_low": "4",
                "reference_high": "1",
            },
            "The low end of the range must be below the high end.",
        ),
    ],
)
def test_bad_input_is_refused_next_to_its_field_and_nothing_is_saved(client, people, data, message):
    login(client, people.lead)
    response = client.post(f"/patients/{people.patient.id}/labs", data=data)
    assert response.status_code == 422
    assert message in response.text
    assert db.session.scalar(text("SELECT count(*) FROM lab_result")) == 0


def test_the_correction_page_replaces_a_result_and_keeps_both(client, people):
    row = record_result(people.lead, people.patient, LabInput("crp_hs", 12.0, "mg/L", today()), today())
    db.session.commit()
    login(client, people.lead)
    url = f"/patients/{people.patient.id}/labs/{row.id}/correct"
    assert client.get(url).status_code == 200
    assert (
        client.post(
            url, data={"marker_unit": "crp_hs|mg/L", "value": "1.2", "collected_on": today().isoformat()}
        ).status_code
        == 422
    )  # no reason
    response = client.post(
        url,
        data={
            "marker_unit": "crp_hs|mg/L",
            "value": "1.2",
            "collected_on": today().isoformat(),
            "reason": "Decimal point slipped",
        },
    )
    assert response.status_code == 302
    assert client.get(url).status_code == 409  # already corrected: correct the newest instead
    assert db.session.scalar(text("SELECT count(*) FROM lab_result")) == 2
    assert client.get(f"/patients/{people.patient.id}/labs/999999/correct").status_code == 404


def test_the_patient_page_and_the_summary_show_flagged_results_and_requirements(client, people, protocols):
    patient = make_patient(
        people.lead, people.co_therapist, protocols=protocols, protocol_code="psilocybin-aud", family_name="Zzpatient"
    )
    record_result(people.lead, patient, LabInput("alt", 88.0, "U/L", today()), today())
    db.session.commit()
    login(client, people.lead)
    page = client.get(f"/patients/{patient.id}").text
    assert "Pre-treatment evaluation" in page and "Alanine aminotransferase (ALT)" in page and "High" in page
    assert "collected within 90 days of each dosing session" in page
    assert "Research protocol \u2014 not an approved treatment" in page
    from tracker.permissions import get_patient_for_user_or_404

    with client.application.test_request_context():
        shown = get_patient_for_user_or_404(people.lead, patient.id, *patient_loader_options())
        html = summary_document(db.session, shown, Stamp(people.lead, utcnow()))
    assert "Pre-treatment evaluation: laboratory results" in html
    assert "Alanine aminotransferase (ALT)" in html and '<span class="flag">high</span>' in html
    assert "Research protocol \u2014 not an approved treatment" in html


def test_the_patient_page_runs_the_same_queries_whatever_the_number_of_results(client, people):
    login(client, people.lead)
    url = f"/patients/{people.patient.id}"
    record_result(people.lead, people.patient, LabInput("tsh", 2.0, "mIU/L", today()), today())
    db.session.commit()
    client.get(url)
    with count_queries() as small:
        client.get(url)
    for days in range(1, 30):
        record_result(
            people.lead,
            people.patient,
            LabInput("tsh", 2.0 + days / 10, "mIU/L", today() - timedelta(days=days)),
            today(),
        )
    db.session.commit()
    with count_queries() as large:
        client.get(url)
    assert len(large) == len(small)


# -- the dosing gate ---------------------------------------------------------------------------------------------


@pytest.fixture
def aud_patient(people, protocols):
    """A patient of the alcohol protocol (which requires an ALT within 90 days), cleared for dosing but for the
    laboratory result (cleared first, then the result taken away: results are never deleted, so the test makes a
    fresh patient whose clearance skips it)."""
    protocol = protocols["psilocybin-aud"]
    patient = make_patient(people.lead, people.co_therapist, protocols=protocols, protocol_code="psilocybin-aud")
    no_labs = {**protocols, "psilocybin-aud": _without_labs(protocol)}
    clear_for_dosing(patient, people.lead, no_labs)
    return patient


def _without_labs(protocol):
    from dataclasses import replace

    return replace(protocol, required_labs=())


def _refusals(people, protocols, patient, at=None):
    with pytest.raises(TransitionError) as refused:
        workflow.move(db.session, patient, Phase.DOSING, people.lead, protocols["psilocybin-aud"], now=at)
    return refused.value.reasons


def test_the_move_to_dosing_needs_the_protocols_laboratory_results(people, protocols, aud_patient):
    assert _refusals(people, protocols, aud_patient) == [
        "Before dosing: Alanine aminotransferase (ALT) (collected within 90 days) - not recorded. Record it under "
        "laboratory results."
    ]
    record_result(people.lead, aud_patient, LabInput("alt", 20.0, "U/L", today() - timedelta(days=91)), today())
    (reason,) = _refusals(people, protocols, aud_patient)
    assert reason.endswith("more than 90 days before. Record a new result under laboratory results.")
    record_result(people.lead, aud_patient, LabInput("alt", 21.0, "U/L", today() - timedelta(days=1)), today())
    walk_to(aud_patient, Phase.DOSING, people.lead, protocols, at=utcnow())
    assert aud_patient.phase is Phase.DOSING


def test_a_result_collected_after_the_session_does_not_count_for_it(people, protocols, aud_patient):
    record_result(people.lead, aud_patient, LabInput("alt", 20.0, "U/L", today()), today())
    facts = gate.load_facts(
        db.session,
        aud_patient,
        protocols["psilocybin-aud"],
        gate.Door.MOVE_TO_DOSING,
        now=utcnow(),
        at=utcnow() - timedelta(days=1),
    )
    unmet = gate.evaluate(facts, gate.Door.MOVE_TO_DOSING)
    assert [u.condition for u in unmet] == ["required_labs"]


def test_a_corrected_result_counts_by_its_correction(people, protocols, aud_patient):
    old = record_result(people.lead, aud_patient, LabInput("alt", 20.0, "U/L", today() - timedelta(days=1)), today())
    correct_result(
        people.lead,
        aud_patient,
        old,
        LabInput("alt", 20.0, "U/L", today() - timedelta(days=200)),
        "Wrong date: the sample is from last year",
        today(),
    )
    assert len(_refusals(people, protocols, aud_patient)) == 1


def test_the_gate_reads_the_results_in_one_query_whatever_their_number(people, protocols, aud_patient):
    protocol, without_labs = protocols["psilocybin-aud"], _without_labs(protocols["psilocybin-aud"])

    def statements(checked) -> list[str]:
        gate.load_facts(db.session, aud_patient, checked, gate.Door.MOVE_TO_DOSING, now=utcnow())  # warm
        with count_queries() as run:
            gate.load_facts(db.session, aud_patient, checked, gate.Door.MOVE_TO_DOSING, now=utcnow())
        return run

    record_result(people.lead, aud_patient, LabInput("alt", 20.0, "U/L", today()), today())
    db.session.commit()
    one = statements(protocol)
    for days in range(1, 25):
        record_result(people.lead, aud_patient, LabInput("alt", 20.0, "U/L", today() - timedelta(days=days)), today())
    db.session.commit()
    many = statements(protocol)
    assert len(many) == len(one)
    assert sum("FROM lab_result" in sql for sql in many) == 1
    # A protocol that requires no result reads none: its gate runs exactly the queries it ran before.
    without = statements(without_labs)
    assert len(without) == len(one) - 1 and not any("FROM lab_result" in sql for sql in without)
