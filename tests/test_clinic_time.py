"""Every time is typed, shown, printed and compared on the clinic's clock and stored in UTC: a clinic at UTC-7 (Denver
in winter; UTC-6 in summer) and one at UTC+11 (Sydney in the southern summer), and across daylight-saving changes.

Each test freezes the clock at a moment chosen so the clinic's date differs from the UTC date, or so a change of
the clocks falls inside what the test types.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from flask import current_app
from sqlalchemy import select

from tests.conftest import login
from tests.reports_data import text
from tests.session_data import adverse_event_form, dosing_note, held_session, in_dosing, vitals_form
from tracker import clinictime, gate
from tracker.attention import BY_KIND, Kind, Policy, Scope
from tracker.dashboard.overview import sessions_per_week
from tracker.dashboard.queries import Filters, patient_ids
from tracker.extensions import db
from tracker.factories import backdate_enrolment, make_clinic, make_patient, make_user, record_measure
from tracker.models import (
    AdverseEvent,
    Clinic,
    MeasureResult,
    Patient,
    Role,
    SessionKind,
    SessionNote,
    TherapySession,
    User,
    VitalReading,
)
from tracker.models.base import utcnow
from tracker.sessions.services import SessionError, SessionInput, log_session

DENVER, SYDNEY = "America/Denver", "Australia/Sydney"


@dataclass
class Team:
    clinic: Clinic
    supervisor: User
    lead: User
    co_therapist: User
    patient: Patient


@contextlib.contextmanager
def clinic_at(zone: str, moment: datetime, protocols: dict[str, Any], enrolled_days_ago: int = 20) -> Iterator[Team]:
    """A clinic in ``zone`` with a care team and a patient enrolled some days before ``moment``, with the clock
    frozen at ``moment`` for the whole block."""
    with time_machine.travel(moment, tick=False):
        clinic = make_clinic(time_zone=zone)
        supervisor = make_user(clinic, Role.SUPERVISOR, full_name="Sue Pervisor")
        lead = make_user(clinic, Role.THERAPIST, supervisor=supervisor, full_name="Lena Lead")
        co = make_user(clinic, Role.THERAPIST, supervisor=supervisor, full_name="Cody Co")
        patient = make_patient(lead, co, protocols=protocols, family_name="Zzpatient")
        backdate_enrolment(patient, utcnow() - timedelta(days=enrolled_days_ago))
        db.session.commit()
        yield Team(clinic, supervisor, lead, co, patient)


def phq9(on: date) -> dict[str, str]:
    return {"administered_on": on.isoformat(), "mode": "with_patient", **{f"item_{n}": "1" for n in range(1, 10)}}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def log(client: Any, team: Team, held_at: str, kind: str = "preparation") -> Any:
    return client.post(
        f"/patients/{team.patient.id}/sessions", data={"kind": kind, "held_at": held_at, "duration_minutes": "60"}
    )


def only_session(team: Team) -> TherapySession:
    db.session.expire_all()
    return db.session.scalars(select(TherapySession).where(TherapySession.patient_id == team.patient.id)).one()


# The two bugs of the issue ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "now, stored, shown",
    [
        (utc(2027, 1, 13, 20, 0), utc(2027, 1, 13, 16, 0), "2027-01-13 09:00 MST"),  # winter: UTC-7
        (utc(2027, 7, 13, 20, 0), utc(2027, 7, 13, 15, 0), "2027-07-13 09:00 MDT"),  # summer: UTC-6
    ],
)
def test_a_0900_session_in_denver_is_typed_and_printed_as_0900(client, protocols, now, stored, shown):
    with clinic_at(DENVER, now, protocols) as team:
        login(client, team.lead)
        form = client.get(f"/patients/{team.patient.id}").text
        assert "Held at (America/Denver)" in form
        response = log(client, team, f"{now:%Y-%m-%d}T09:00")
        assert response.status_code == 302
        session = only_session(team)
        assert session.held_at == stored
        page = client.get(f"/patients/{team.patient.id}/sessions/{session.id}").text
        assert shown in page and "UTC" not in page.split("<main", 1)[1]
        assert shown in client.get(f"/patients/{team.patient.id}").text
        edit = client.get(f"/patients/{team.patient.id}/sessions/{session.id}/edit").text
        assert f'value="{now:%Y-%m-%d}T09:00"' in edit
        client.post(f"/patients/{team.patient.id}/sessions/{session.id}/note", data={"topics": "Safety and set"})
        pdf = client.get(f"/patients/{team.patient.id}/sessions/{session.id}/record.pdf?draft=1")
        assert pdf.status_code == 200
        printed = text(pdf.data)
        assert shown in printed and "times in America/Denver" in printed


def test_a_clinic_east_of_utc_logs_a_session_held_half_an_hour_ago(client, protocols):
    # 11:10 on Wednesday 13 January in Sydney (UTC+11) is 00:10 UTC: the clinic's 10:40 is 23:40 UTC the day before.
    with clinic_at(SYDNEY, utc(2027, 1, 13, 0, 10), protocols) as team:
        login(client, team.lead)
        assert log(client, team, "2027-01-13T10:40").status_code == 302
        assert only_session(team).held_at == utc(2027, 1, 12, 23, 40)
        later = log(client, team, "2027-01-13T11:40")
        assert later.status_code == 422 and "cannot be in the future" in later.text


# Daylight-saving changes -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "zone, now, typed, gap",
    [
        (DENVER, utc(2027, 3, 15, 18, 0), "2027-03-14T02:30", "from 02:00 to 03:00"),  # second Sunday of March
        (SYDNEY, utc(2026, 10, 5, 0, 0), "2026-10-04T02:15", "from 02:00 to 03:00"),  # first Sunday of October
    ],
)
def test_a_time_the_clocks_skip_is_refused_next_to_the_field(client, protocols, zone, now, typed, gap):
    with clinic_at(zone, now, protocols) as team:
        login(client, team.lead)
        response = log(client, team, typed)
        assert response.status_code == 422
        error = re.search(r'id="held_at-error">([^<]+)<', response.text).group(1)
        assert f"does not exist in {zone}" in error and gap in error
        assert db.session.scalar(select(TherapySession.id)) is None


def test_the_repeated_hour_is_its_first_occurrence_and_an_unchanged_time_keeps_its_moment(client, protocols):
    """Denver, first Sunday of November 2026: 01:00-02:00 happens twice (MDT, then MST)."""
    with clinic_at(DENVER, utc(2026, 11, 2, 18, 0), protocols) as team:
        login(client, team.lead)
        assert log(client, team, "2026-11-01T01:30").status_code == 302
        first = only_session(team)
        assert first.held_at == utc(2026, 11, 1, 7, 30)
        assert "2026-11-01 01:30 MDT" in client.get(f"/patients/{team.patient.id}/sessions/{first.id}").text
        # A session stored at the second 01:30 (MST) and saved again unchanged stays at that moment.
        first.held_at = utc(2026, 11, 1, 8, 30)
        db.session.commit()
        url = f"/patients/{team.patient.id}/sessions/{first.id}"
        assert "2026-11-01 01:30 MST" in client.get(url).text
        edit = client.get(url + "/edit").text
        assert 'value="2026-11-01T01:30"' in edit
        saved = client.post(
            url + "/edit",
            data={
                "held_at": "2026-11-01T01:30",
                "duration_minutes": "60",
                "scheduled_at": "",
                "scheduled_minutes": "",
                "location": "",
                "present_ids": str(team.lead.id),
            },
            follow_redirects=True,
        )
        assert saved.status_code == 200
        assert only_session(team).held_at == utc(2026, 11, 1, 8, 30)


def test_a_session_across_the_change_shows_both_abbreviations(client, protocols):
    with clinic_at(DENVER, utc(2026, 11, 2, 18, 0), protocols) as team:
        login(client, team.lead)
        assert log(client, team, "2026-11-01T00:30").status_code == 302  # 60 minutes: ends 01:30 MDT
        session = only_session(team)
        session.duration_minutes = 120  # ends at 01:30 MST
        db.session.commit()
        page = client.get(f"/patients/{team.patient.id}/sessions/{session.id}").text
        assert "2026-11-01 00:30 MDT \u2013 01:30 MST" in page


# Every time field of a dosing note ---------------------------------------------------------------------------------


def _local(moment: datetime, zone: str) -> str:
    return clinictime.input_value(moment, clinictime.zone(zone))


def test_every_time_of_a_dosing_note_is_typed_on_the_clinic_clock(client, protocols):
    """Sydney at 15:00 on 13 January (04:00 UTC): the dose, the supplemental dose, discharge, a reading, an adverse
    event and its rescue medication, each typed as the clinic's clock shows it, are stored as the UTC moment."""
    with clinic_at(SYDNEY, utc(2027, 1, 13, 4, 0), protocols) as team:
        in_dosing(team.patient, team.lead, protocols)
        session = held_session(team.patient, team.lead, protocols)
        login(client, team.lead)
        url = f"/patients/{team.patient.id}/sessions/{session.id}"
        page = client.get(url).text
        for label in (
            "Time given",
            "Supplemental dose given at",
            "Discharged at",
            "Taken at",
            "Onset",
            "Rescue medication given at",
        ):
            assert f"{label} (Australia/Sydney)" in page
        given = session.held_at + timedelta(minutes=10)
        note = dosing_note(
            dose_given_at=_local(given, SYDNEY),
            supplemental_given_at=_local(given + timedelta(minutes=90), SYDNEY),
            discharged_at=_local(given + timedelta(minutes=580), SYDNEY),
        )
        assert client.post(url + "/note", data=note).status_code == 302
        saved = db.session.scalar(select(SessionNote).where(SessionNote.session_id == session.id))
        db.session.refresh(saved)
        assert (saved.dose_given_at, saved.supplemental_given_at, saved.discharged_at) == (
            given,
            given + timedelta(minutes=90),
            given + timedelta(minutes=580),
        )
        taken = given + timedelta(minutes=30)
        assert (
            client.post(url + "/vitals", data=vitals_form(taken_at=_local(taken, SYDNEY), heart_rate="80")).status_code
            == 302
        )
        assert db.session.scalar(select(VitalReading.taken_at)) == taken
        onset = given + timedelta(minutes=60)
        event = adverse_event_form(
            onset_at=_local(onset, SYDNEY),
            rescue_medication="Lorazepam",
            rescue_dose="1 mg",
            rescue_given_at=_local(onset + timedelta(minutes=5), SYDNEY),
        )
        assert client.post(url + "/adverse-events", data=event).status_code == 302
        row = db.session.scalar(select(AdverseEvent))
        assert (row.onset_at, row.rescue_given_at) == (onset, onset + timedelta(minutes=5))
        shown = client.get(url).text
        assert clinictime.shown(onset, clinictime.zone(SYDNEY)) in shown and "AEDT" in shown
        # A reading typed as if the clock were UTC is eleven hours off: outside the session, refused.
        wrong = client.post(
            url + "/vitals", data=vitals_form(taken_at=taken.strftime("%Y-%m-%dT%H:%M"), heart_rate="80")
        )
        assert wrong.status_code == 422


# "Today", "this week" and the windows -------------------------------------------------------------------------------


def test_today_is_the_clinic_s_date(client, protocols):
    # 10:30 on 13 January in Sydney is still the 12th in UTC.
    with clinic_at(SYDNEY, utc(2027, 1, 12, 23, 30), protocols) as team:
        login(client, team.lead)
        url = f"/patients/{team.patient.id}/measures/phq9/new"
        assert 'value="2027-01-13"' in client.get(url).text
        assert client.post(url, data=phq9(date(2027, 1, 13))).status_code == 302
    # 21:00 on 12 January in Denver is already the 13th in UTC: the 13th is tomorrow there.
    with clinic_at(DENVER, utc(2027, 1, 13, 4, 0), protocols) as team:
        login(client, team.lead)
        url = f"/patients/{team.patient.id}/measures/phq9/new"
        assert 'value="2027-01-12"' in client.get(url).text
        refused = client.post(url, data=phq9(date(2027, 1, 13)))
        assert refused.status_code == 422
        assert db.session.scalar(select(MeasureResult.id).where(MeasureResult.patient_id == team.patient.id)) is None


def _scheduled(team: Team, moment: datetime) -> None:
    db.session.add(
        TherapySession(
            patient_id=team.patient.id,
            kind=SessionKind.PREPARATION,
            scheduled_at=moment,
            scheduled_minutes=60,
            logged_by_id=team.lead.id,
        )
    )


def test_this_week_is_monday_to_sunday_on_the_clinic_s_calendar(client, protocols):
    """Wednesday 13 January 2027, 11:10 in Sydney: the week runs from Monday 11 January 00:00 AEDT (Sunday 13:00
    UTC) to the next Monday 00:00 AEDT."""
    with clinic_at(SYDNEY, utc(2027, 1, 13, 0, 10), protocols) as team:
        zone = clinictime.zone(SYDNEY)
        for day, hour, minute in ((10, 23, 30), (11, 0, 30), (17, 23, 30), (18, 0, 30)):
            _scheduled(team, clinictime.from_local(datetime(2027, 1, day, hour, minute), zone))
        db.session.commit()
        login(client, team.lead)
        page = client.get("/today").text
        assert "Mon 11 Jan" in page and "Sun 17 Jan" in page
        assert "Sun 10 Jan" not in page and "Mon 18 Jan" not in page
        assert "00:30 AEDT" in page
        # The overview counts sessions held in the clinic's weeks too.
        held = clinictime.from_local(datetime(2027, 1, 11, 0, 30), zone)
        db.session.add(
            TherapySession(
                patient_id=team.patient.id,
                kind=SessionKind.PREPARATION,
                held_at=held,
                duration_minutes=60,
                logged_by_id=team.lead.id,
            )
        )
        db.session.commit()
        weeks = dict(sessions_per_week(db.session, team.clinic.id, date(2027, 1, 13), zone))
        assert weeks[date(2027, 1, 11)] == 1 and weeks[date(2027, 1, 4)] == 0


def _overdue(team: Team) -> list[int]:
    scope = Scope(
        patient_ids(team.supervisor, Filters()),
        utcnow(),
        Policy.of_clinic(team.clinic, current_app.extensions["protocols"]),
    )
    return [row.target_id for row in db.session.execute(BY_KIND[Kind.MEASURE_OVERDUE].query(scope))]


@pytest.mark.parametrize(
    "zone, dosed_local, result_on, overdue",
    [
        # Denver, 20:00 on 1 January is 03:00 UTC on the 2nd: the 2nd is the day after the session, in its window.
        (DENVER, datetime(2027, 1, 1, 20, 0), date(2027, 1, 2), False),
        # Sydney, 08:00 on 2 January is 21:00 UTC on the 1st: the 2nd is the dosing day itself, before the window.
        (SYDNEY, datetime(2027, 1, 2, 8, 0), date(2027, 1, 2), True),
    ],
)
def test_the_dashboard_counts_the_windows_in_the_clinic_s_days(protocols, zone, dosed_local, result_on, overdue):
    with clinic_at(zone, utc(2027, 1, 25, 12, 0), protocols, enrolled_days_ago=40) as team:
        dosing = TherapySession(
            patient_id=team.patient.id,
            kind=SessionKind.DOSING,
            cycle=1,
            duration_minutes=60,
            held_at=clinictime.from_local(dosed_local, clinictime.zone(zone)),
            logged_by_id=team.lead.id,
        )
        db.session.add(dosing)
        db.session.flush()
        for code in ("pcl5", "cssrs"):
            record_measure(team.patient, team.lead, code, on=result_on)
        db.session.flush()
        assert _overdue(team) == ([dosing.id] if overdue else [])


# The dosing gate and the session checks ---------------------------------------------------------------------------


def test_the_gate_judges_in_the_patient_s_clinic_s_zone(protocols):
    with clinic_at(DENVER, utc(2027, 1, 13, 4, 0), protocols) as team:
        facts = gate.load_facts(
            db.session, team.patient, protocols["mdma-ptsd"], gate.Door.MOVE_TO_DOSING, now=utcnow()
        )
        assert facts.tz.key == DENVER
        assert facts.on == date(2027, 1, 12)  # 21:00 on the 12th in Denver
        assert facts.settings.after_dosing_window_days == team.clinic.measure_after_dosing_window_days


def test_a_session_before_the_enrolment_day_is_refused_by_the_clinic_s_calendar(protocols):
    """Sydney: enrolled at 00:30 on 13 January (13:30 UTC on the 12th); a session at 23:30 on the 12th is the day
    before, though both are the 12th in UTC."""
    with clinic_at(SYDNEY, utc(2027, 1, 14, 0, 0), protocols) as team:
        team.patient.created_at = utc(2027, 1, 12, 13, 30)
        db.session.commit()
        with pytest.raises(SessionError, match=r"before the patient was enrolled \(2027-01-13\)"):
            log_session(
                team.lead, team.patient, SessionInput(SessionKind.PREPARATION, utc(2027, 1, 12, 12, 30), 60), utcnow()
            )
        held = log_session(
            team.lead, team.patient, SessionInput(SessionKind.PREPARATION, utc(2027, 1, 12, 13, 0), 60), utcnow()
        )
        assert held.held_at.astimezone(clinictime.zone(SYDNEY)).date() == date(2027, 1, 13)
