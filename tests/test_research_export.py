"""The de-identified research export: CSV per instrument and a REDCap data dictionary, for supervisors (their
scope), audited, holding no name, record number, date of birth or exact date."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections import Counter
from datetime import UTC, timedelta

import pytest
from sqlalchemy import select

from tests.conftest import audit_actions, login
from tests.fhir_data import full_course
from tracker.extensions import db
from tracker.factories import make_patient, record_measure
from tracker.instruments import instruments
from tracker.models import AuditEvent, Patient
from tracker.models.base import utcnow
from tracker.outcomes.queries import dosing_dates
from tracker.research.dictionary import HEADER, columns
from tracker.research.export import research_export

DATE_PATTERNS = [
    re.compile(r"\d{4}-\d{1,2}-\d{1,2}"),  # ISO dates and timestamps
    re.compile(r"\d{1,2}/\d{1,2}/\d{2,4}"),
    re.compile(r"\d{1,2}\.\d{1,2}\.\d{4}"),
    re.compile(r"\b(19|20)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])\b"),  # 20261203
]


@pytest.fixture
def course(app, people, protocols):
    """The canary's full course, with research consent; k = 1 here, so one patient is exported (the small-cell
    protection has tests of its own)."""
    full_course(people.patient, people.lead, people.supervisor, protocols)
    people.patient.research_consent = True
    db.session.commit()
    app.config["RESEARCH_MIN_CELL_SIZE"] = 1
    yield people
    app.config["RESEARCH_MIN_CELL_SIZE"] = 5


def unzip(content: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        assert all(info.date_time == (1980, 1, 1, 0, 0, 0) for info in archive.infolist())
        return {name: archive.read(name).decode() for name in archive.namelist()}


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def identifiers(patient: Patient) -> list[str]:
    dob = patient.date_of_birth
    return [
        patient.given_name,
        patient.family_name,
        patient.record_number,
        dob.isoformat(),
        dob.strftime("%d/%m/%Y"),
        dob.strftime("%m/%d/%Y"),
        dob.strftime("%Y%m%d"),
        str(patient.id) + "-",
    ]


def test_it_holds_no_name_record_number_date_of_birth_or_exact_date(client, course):
    login(client, course.supervisor)
    response = client.post("/exports/research")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert "research-export.zip" in response.headers["Content-Disposition"]
    files = unzip(response.data)
    everything = "\n".join(files.values())
    for needle in identifiers(course.patient):
        assert needle not in everything, needle
    for user in (course.lead, course.supervisor):
        assert user.full_name not in everything and user.username not in everything
    for pattern in DATE_PATTERNS:
        assert not pattern.search(everything), pattern.search(everything)
    assert course.clinic.name not in everything


def test_it_has_one_file_per_instrument_with_items_scores_and_days(client, course):
    login(client, course.supervisor)
    files = unzip(client.post("/exports/research").data)
    assert set(files) == {"README.txt", "participants.csv", "data_dictionary.csv"} | {
        f"{code}.csv" for code in instruments()
    }
    [participant] = rows(files["participants.csv"])
    assert re.fullmatch(r"S\d{4}", participant["study_id"])
    assert participant["dosing_sessions"] == "2"
    phq9 = rows(files["phq9.csv"])
    baseline_and_after = {row["phq9_day"] for row in phq9}
    assert all(day.lstrip("-").isdigit() for day in baseline_and_after)
    assert any(row["phq9_corrected"] == "1" for row in phq9)
    assert all(row["study_id"] == participant["study_id"] for row in phq9)
    assert all(row["redcap_repeat_instrument"] == "phq9" for row in phq9)
    assert list(phq9[0]) == columns(instruments()["phq9"])
    assert all(row[f"phq9_{n}"] in {"0", "1", "2", "3"} for row in phq9 for n in range(1, 10))


def test_days_count_from_the_first_dosing(course, protocols):
    patient = course.patient
    first = dosing_dates(db.session, patient.id, UTC)[0]
    record_measure(patient, course.lead, "gad7", on=first - timedelta(days=3))
    db.session.commit()
    made = research_export(course.supervisor, seed=1)
    gad7 = rows(unzip(made.content)["gad7.csv"])
    assert [row["gad7_day"] for row in gad7] == ["-3"]


def test_study_ids_are_random_per_export_and_stable_within_one(course, protocols):
    """Each extra patient has a different number of GAD-7 results, which tells the patients apart in the files."""
    for number in range(6):
        patient = make_patient(course.lead, protocols=protocols, family_name=f"Extra{number}")
        patient.research_consent = True
        for _ in range(number + 1):
            record_measure(patient, course.lead, "gad7", on=utcnow().date())
    db.session.commit()
    mappings = set()
    for _ in range(4):
        files = unzip(research_export(course.supervisor).content)
        participants = [r["study_id"] for r in rows(files["participants.csv"])]
        assert participants == sorted(participants) and len(set(participants)) == 7
        counts: dict[str, int] = {}
        for row in rows(files["gad7.csv"]):
            counts[row["study_id"]] = counts.get(row["study_id"], 0) + 1
        assert set(counts) <= set(participants)
        mappings.add(tuple(sorted(counts.items())))
    assert len(mappings) > 1, "study ids must be drawn anew for each export, not follow the database order"


def test_the_data_dictionary_is_redcaps_and_names_every_column(client, course):
    login(client, course.supervisor)
    files = unzip(client.post("/exports/research").data)
    dictionary = list(csv.reader(io.StringIO(files["data_dictionary.csv"])))
    assert dictionary[0] == HEADER
    assert dictionary[1][0] == "study_id"
    names = [row[0] for row in dictionary[1:]]
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", name) for name in names)
    for code in instruments():
        header = next(csv.reader(io.StringIO(files[f"{code}.csv"])))
        assert set(header[3:]) <= set(names)
    cssrs_3 = next(row for row in dictionary if row[0] == "cssrs_3")
    assert cssrs_3[11] == "[cssrs_2] = 'yes'"


def test_it_is_audited_per_patient(client, course):
    login(client, course.supervisor)
    client.post("/exports/research")
    assert audit_actions()[-2:] == ["research.export", "research.export_done"]


def test_only_patients_who_agreed_to_research_use_are_exported(course, protocols):
    other = make_patient(course.lead, protocols=protocols, family_name="Noconsent")
    record_measure(other, course.lead, "gad7", on=utcnow().date())
    db.session.commit()
    made = research_export(course.supervisor, seed=1)
    assert made.patients == 1 and len(rows(unzip(made.content)["participants.csv"])) == 1
    assert rows(unzip(made.content)["gad7.csv"]) == []  # the GAD-7 result is the non-consenting patient's
    course.patient.research_consent = False
    db.session.commit()
    assert research_export(course.supervisor, seed=1).patients == 0


def test_consent_is_set_on_the_patient_form_and_audited(client, people):
    from tests.test_patients import _form

    login(client, people.lead)
    data = _form(
        people,
        given_name="Canary",
        family_name="Zzpatient",
        record_number="CANARY-1",
        date_of_birth="1980-05-17",
        version_id=str(people.patient.version_id),
        research_consent="y",
    )
    response = client.post(f"/patients/{people.patient.id}/edit", data=data)
    assert response.status_code == 302, response.text
    db.session.expire_all()
    assert db.session.get(Patient, people.patient.id).research_consent is True
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "patient.update")).all()[-1]
    assert event.data["changes"]["research_consent"] == [False, True]
    assert "Agreed (in the de-identified research export)" in client.get(f"/patients/{people.patient.id}").text


def _demo_like(course, protocols, plan):
    """Patients (protocol, phase) beside the canary, each with a result, all consenting."""
    from tracker.models import Phase

    for number, (protocol, phase) in enumerate(plan):
        patient = make_patient(course.lead, protocols=protocols, protocol_code=protocol, family_name=f"Qi{number}")
        patient.phase = phase  # the export reads the phase only; the moves have tests of their own
        if phase is Phase.ON_HOLD:
            patient.held_from_phase = Phase.PREPARATION
        patient.research_consent = True
        record_measure(patient, course.lead, "gad7", on=utcnow().date())
    db.session.commit()


def test_every_combination_of_quasi_identifiers_is_shared_by_k_participants(app, course, protocols):
    """Unique protocol and phase per patient (as in the demo): the export coarsens or withholds until each
    combination it shows is shared by k, and says so in its README."""
    from tracker.models import Phase

    app.config["RESEARCH_MIN_CELL_SIZE"] = 3
    _demo_like(
        course,
        protocols,
        [("mdma-ptsd", Phase.PREPARATION)] * 3
        + [("psilocybin-mdd", Phase.PREPARATION)]
        + [("psilocybin-mdd", Phase.ON_HOLD)]
        + [("ketamine-iv-trd", Phase.PREPARATION)],
    )
    made = research_export(course.supervisor, seed=2)
    files = unzip(made.content)
    participants = rows(files["participants.csv"])
    combos = Counter(
        tuple(row[name] for name in ("protocol", "indication", "phase", "dosing_sessions")) for row in participants
    )
    assert combos and min(combos.values()) >= 3, combos
    assert made.patients + made.withheld == 7
    readme = " ".join(files["README.txt"].split())
    assert "at least 3 participants" in readme and "can match a participant across them by content" in readme
    shown = {row["study_id"] for row in participants}
    assert {row["study_id"] for row in rows(files["gad7.csv"])} <= shown  # a withheld patient has no results either
    done = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "research.export_done")).all()[-1]
    assert done.data["k"] == 3 and done.data["withheld"] == made.withheld


def test_with_fewer_consenting_patients_than_k_nothing_is_exported(app, course):
    app.config["RESEARCH_MIN_CELL_SIZE"] = 5
    made = research_export(course.supervisor, seed=1)
    assert made.patients == 0 and made.withheld == 1
    assert rows(unzip(made.content)["participants.csv"]) == []
    assert audit_actions()[-1] == "research.export_done"  # and no research.export row for the canary
    assert "research.export" not in audit_actions()


PERSONAS = {"supervisor": 200, "other_supervisor": 200, "lead": 403, "admin": 403, "outsider": 200}


@pytest.mark.parametrize("persona", list(PERSONAS))
def test_only_supervisors_export_and_only_their_scope(client, course, persona):
    login(client, getattr(course, persona))
    response = client.post("/exports/research")
    assert response.status_code == PERSONAS[persona]
    if response.status_code == 200:
        participants = rows(unzip(response.data)["participants.csv"])
        assert len(participants) == (1 if persona == "supervisor" else 0)
