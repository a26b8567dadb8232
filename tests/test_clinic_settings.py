"""The clinic settings page (/admin/clinic): only the clinic's admins change it, every value is checked next to its
field, every change is audited, and what it sets reaches the pages, the schedule and the printed plan."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from tests.clinic_data import settings_form
from tests.conftest import count_queries, login
from tests.reports_data import text, write_plan
from tracker.clinics import ClinicSettings, SettingsError, configured_defaults, new_clinic, update_settings
from tracker.extensions import db
from tracker.factories import make_user
from tracker.models import AuditEvent, Clinic, Role


def audited() -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "clinic.settings")))


def test_an_admin_sees_and_changes_the_clinic_s_settings_and_each_change_is_audited(client, people):
    login(client, people.admin)
    page = client.get("/admin/clinic")
    assert page.status_code == 200
    for name in (
        "name",
        "address",
        "phone",
        "crisis_line",
        "time_zone",
        "measure_after_dosing_window_days",
        "measure_follow_up_days",
        "attention_note_unsigned_hours",
        "require_two_factor",
    ):
        assert f'name="{name}"' in page.text
    assert '<option selected value="UTC">UTC</option>' in page.text
    assert '<option value="America/Denver">America/Denver</option>' in page.text
    response = client.post(
        "/admin/clinic",
        data=settings_form(
            people.clinic,
            time_zone="Australia/Sydney",
            phone="(02) 5550 0142",
            address="12 Harbour Street, Sydney",
            crisis_line="Lifeline 13 11 14",
            measure_follow_up_days="180, 90, 365",
            attention_no_session_days="21",
        ),
    )
    assert response.status_code == 303
    db.session.refresh(people.clinic)
    clinic = people.clinic
    assert (clinic.time_zone, clinic.phone, clinic.crisis_line) == (
        "Australia/Sydney",
        "(02) 5550 0142",
        "Lifeline 13 11 14",
    )
    assert clinic.measure_follow_up_days == "90,180,365" and clinic.attention_no_session_days == 21
    [event] = audited()
    assert event.actor_id == people.admin.id and event.clinic_id == clinic.id
    assert event.data["changes"]["time_zone"] == ["UTC", "Australia/Sydney"]
    assert event.data["changes"]["attention_no_session_days"] == [30, 21]
    assert set(event.data["changes"]) == {
        "time_zone",
        "phone",
        "address",
        "crisis_line",
        "measure_follow_up_days",
        "attention_no_session_days",
    }
    # Saving again unchanged writes nothing.
    again = client.post("/admin/clinic", data=settings_form(clinic), follow_redirects=True)
    assert "Nothing had changed." in again.text and len(audited()) == 1


def test_the_new_zone_is_the_clock_of_every_page(client, people):
    people.clinic.time_zone = "America/Denver"
    db.session.commit()
    login(client, people.lead)
    page = client.get(f"/patients/{people.patient.id}").text
    assert "Held at (America/Denver)" in page and "(UTC)" not in page


@pytest.mark.parametrize("persona", ["lead", "supervisor", "co_therapist", "outsider"])
def test_only_admins_open_or_change_the_settings(client, people, persona):
    login(client, getattr(people, persona))
    assert client.get("/admin/clinic").status_code == 403
    response = client.post("/admin/clinic", data=settings_form(people.clinic, time_zone="Asia/Tokyo"))
    assert response.status_code == 403
    db.session.refresh(people.clinic)
    assert people.clinic.time_zone == "UTC" and audited() == []


def test_an_admin_of_another_clinic_changes_only_their_own(client, people):
    elsewhere = db.session.get(Clinic, people.outsider.clinic_id)
    their_admin = make_user(elsewhere, Role.ADMIN)
    db.session.commit()
    login(client, their_admin)
    page = client.get("/admin/clinic").text
    assert elsewhere.name in page and people.clinic.name not in page
    client.post("/admin/clinic", data=settings_form(elsewhere, time_zone="Asia/Tokyo"))
    db.session.refresh(people.clinic)
    db.session.refresh(elsewhere)
    assert (people.clinic.time_zone, elsewhere.time_zone) == ("UTC", "Asia/Tokyo")


def test_the_service_refuses_anyone_but_an_admin_of_the_clinic(people):
    given = ClinicSettings.of(people.clinic)
    for who in (people.lead, people.supervisor):
        with pytest.raises(PermissionError):
            update_settings(who, people.clinic, given)
    other_admin = make_user(db.session.get(Clinic, people.outsider.clinic_id), Role.ADMIN)
    with pytest.raises(PermissionError):
        update_settings(other_admin, people.clinic, given)


BAD_SETTINGS = [
    ("time_zone", "Mars/Olympus_Mons", "Not a valid choice"),
    ("time_zone", "", "Choose the clinic&#39;s time zone."),
    ("name", "", "Enter the clinic name."),
    ("measure_after_dosing_window_days", "0", "Enter a whole number from 1 to 3660."),
    ("measure_baseline_max_age_days", "-1", "Enter a whole number from 0 to 3660."),
    ("attention_note_unsigned_hours", "99999", "Enter a whole number from 1 to 8784."),
    ("attention_serious_ae_days", "soon", "Enter a whole number (digits 0-9)."),
    ("measure_follow_up_days", "90, soon", "Enter whole numbers of days separated by commas"),
    ("measure_follow_up_days", "0", "Use days from 1 to 3660."),
    # Digits to Python, not typed numbers: a superscript was a 500, Arabic-Indic and full-width digits were saved.
    ("measure_follow_up_days", "90, \u00b2", "Enter whole numbers of days separated by commas"),
    ("measure_follow_up_days", "\u0663\u0660", "Enter whole numbers of days separated by commas"),
    ("measure_follow_up_days", "\uff11\uff18\uff10", "Enter whole numbers of days separated by commas"),
    ("measure_baseline_max_age_days", "9" * 400, "Enter the number with fewer digits."),
    ("attention_note_unsigned_hours", "9" * 400, "Enter the number with fewer digits."),
    ("crisis_line", "x" * 201, "Use at most 200 characters."),
    ("phone", "\x00", "Remove the invisible control characters"),
]


@pytest.mark.parametrize("field, value, message", BAD_SETTINGS)
def test_bad_settings_are_refused_next_to_the_field_and_nothing_changes(client, people, field, value, message):
    login(client, people.admin)
    response = client.post(
        "/admin/clinic",
        data=settings_form(people.clinic, **{field: value, "phone": "1"} if field != "phone" else {field: value}),
    )
    assert response.status_code == 422
    assert f'id="{field}-error"' in response.text and message in response.text
    db.session.refresh(people.clinic)
    assert people.clinic.phone is None and audited() == []


def test_a_name_another_clinic_has_is_refused(client, people):
    taken = db.session.get(Clinic, people.outsider.clinic_id).name
    login(client, people.admin)
    response = client.post("/admin/clinic", data=settings_form(people.clinic, name=taken))
    assert response.status_code == 422 and "Another clinic already has this name." in response.text


def test_the_settings_page_runs_a_constant_number_of_statements(client, people):
    login(client, people.admin)
    client.get("/admin/clinic")
    with count_queries() as few:
        client.get("/admin/clinic")
    for number in range(30):
        make_user(people.clinic, Role.THERAPIST, supervisor=people.supervisor, full_name=f"Extra {number}")
    db.session.commit()
    with count_queries() as many:
        client.get("/admin/clinic")
    assert len(many) == len(few)


def test_a_new_clinic_takes_the_configured_windows_and_crisis_line(app):
    overrides = {
        "MEASURE_AFTER_DOSING_WINDOW_DAYS": 7,
        "MEASURE_FOLLOW_UP_DAYS": (30, 365),
        "ATTENTION_NOTE_UNSIGNED_HOURS": 12,
        "CRISIS_LINE": "0800 111 222",
    }
    saved = {key: app.config[key] for key in overrides}
    app.config.update(overrides)
    try:
        clinic = new_clinic("Configured Clinic", "Europe/London")
    finally:
        app.config.update(saved)
    assert (
        clinic.measure_after_dosing_window_days,
        clinic.measure_follow_up_days,
        clinic.attention_note_unsigned_hours,
        clinic.crisis_line,
    ) == (7, "30,365", 12, "0800 111 222")
    assert clinic.measure_baseline_max_age_days == app.config["MEASURE_BASELINE_MAX_AGE_DAYS"]
    assert configured_defaults({}) == {}
    with pytest.raises(SettingsError):
        new_clinic("Nowhere Clinic", "Nowhere/Special")


def test_the_plan_and_the_summary_print_the_clinic_s_phone_address_and_crisis_line(client, people):
    people.clinic.phone = "303-555-0100"
    people.clinic.address = "1420 North Pearl Street, Denver"
    people.clinic.crisis_line = "988 Suicide & Crisis Lifeline"
    people.clinic.time_zone = "America/Denver"
    write_plan(people.patient, people.lead)
    db.session.commit()
    login(client, people.lead)
    plan = text(client.get(f"/patients/{people.patient.id}/reports/plan.pdf").data)
    for shown in (
        "303-555-0100",
        "1420 North Pearl Street, Denver",
        "988 Suicide & Crisis Lifeline",
        "times in America/Denver",
    ):
        assert shown in plan
    summary = text(client.get(f"/patients/{people.patient.id}/reports/summary.pdf").data)
    for shown in (
        "303-555-0100",
        "1420 North Pearl Street, Denver",
        "988 Suicide & Crisis Lifeline",
        "times in America/Denver",
    ):
        assert shown in summary
    stamp = datetime.now(UTC).astimezone(people.clinic.zone)
    assert stamp.strftime("%Z") in summary  # the footer's time carries the zone's abbreviation (MST or MDT)
