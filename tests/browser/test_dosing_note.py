"""A dosing session in a real browser: the therapist records the session, writes the administration (mg/kg, the
total computed), enters two vital-sign readings (one beyond the protocol's limits, flagged where entered and on
the patient page), an adverse event with rescue medication, and discharge; schedules the next-day follow-up;
signs with their password; and adds a signed addendum. axe checks every page on the way."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS, check_accessibility
from tests.browser.server import (
    DOSING_FAMILY_NAME,
    DOSING_GIVEN_NAME,
    PASSWORD,
    THERAPIST,
    THERAPIST_NAME,
)
from tests.browser.test_screening_gate import flash, sign_in

pytestmark = pytest.mark.browser

PATIENT_NAME = f"{DOSING_GIVEN_NAME} {DOSING_FAMILY_NAME}"
PATIENT_LINK = f"{DOSING_FAMILY_NAME}, {DOSING_GIVEN_NAME}"
FORMAT = "%Y-%m-%dT%H:%M"


def test_dosing_session_vitals_adverse_event_discharge_sign_and_addendum(page: Any) -> None:
    from playwright.sync_api import expect

    checked: list[str] = []
    start = (datetime.now(UTC) - timedelta(hours=3)).replace(second=0, microsecond=0)
    given = start + timedelta(minutes=10)

    sign_in(page, checked, THERAPIST, THERAPIST_NAME)
    page.get_by_role("link", name=PATIENT_LINK).click()
    expect(page.get_by_role("heading", name=PATIENT_NAME, level=1)).to_be_visible()
    sessions = page.get_by_role("region", name="Sessions")
    expect(sessions.locator("#next-step")).to_contain_text("Next: Dosing 1 of 6.")
    check_accessibility(page, checked)

    # The dosing session, recorded as held.
    sessions.get_by_role("link", name="Schedule or record a session").click()
    expect(page.get_by_role("heading", name="Schedule or record a session", level=1)).to_be_visible()
    check_accessibility(page, checked)
    page.get_by_label("Kind", exact=True).select_option(label="Dosing")
    page.get_by_label("Actual start (UTC)", exact=True).fill(start.strftime(FORMAT))
    page.get_by_label("Actual length (minutes)", exact=True).fill("150")
    page.get_by_label("Location", exact=True).fill("Infusion room 2")
    page.get_by_role("button", name="Save session").click()
    expect(flash(page, "session logged")).to_have_text("Dosing session logged.")
    expect(page.get_by_role("heading", name="Dosing 1 of 6", level=1)).to_be_visible()
    check_accessibility(page, checked)

    # The administration: 0.5 mg/kg at 70 kg is 35 mg; discharge.
    note = page.locator("#note")
    note.get_by_label("Dose", exact=True).fill("0.5")
    note.get_by_label("Unit", exact=True).select_option(label="mg/kg")
    note.get_by_label("Weight today (kg)", exact=True).fill("70")
    note.get_by_label("Route", exact=True).select_option(label="Intravenous")
    note.get_by_label("Lot number", exact=True).fill("KET-2291")
    note.get_by_label("Time given (UTC)", exact=True).fill(given.strftime(FORMAT))
    note.get_by_label("Distress at baseline (SUDS 0-10)", exact=True).fill("4")
    note.get_by_label("Distress at discharge (SUDS 0-10)", exact=True).fill("2")
    note.get_by_label("Escort or driver", exact=True).fill("Alex (brother), driving")
    note.get_by_label("Discharged at (UTC)", exact=True).fill((given + timedelta(minutes=100)).strftime(FORMAT))
    note.get_by_label("Session narrative", exact=True).fill("Dissociative effects peaked at 30 minutes; calm.")
    note.get_by_role("button", name="Save draft").click()
    expect(flash(page, "Draft saved")).to_have_text("Draft saved.")
    expect(page.locator("#dose-total")).to_have_text("Dose given: 35 mg (0.5 mg/kg at 70 kg).")
    check_accessibility(page, checked)

    # Two readings: the first beyond the ketamine limits (180/100 mmHg), flagged where it is entered; its systolic
    # pressure is also past the critical limit (above 180 mmHg, a hypertensive crisis), which raises a safety alert.
    vitals = page.get_by_role("region", name="Vital signs")
    for minutes, systolic, diastolic, pulse in ((20, "186", "104", "96"), (90, "132", "84", "78")):
        vitals.get_by_label("Taken at (UTC)", exact=True).fill((given + timedelta(minutes=minutes)).strftime(FORMAT))
        vitals.get_by_label("Systolic BP (mmHg)", exact=True).fill(systolic)
        vitals.get_by_label("Diastolic BP (mmHg)", exact=True).fill(diastolic)
        vitals.get_by_label("Heart rate (bpm)", exact=True).fill(pulse)
        vitals.get_by_label("SpO2 (%)", exact=True).fill("98")
        vitals.get_by_role("button", name="Add reading").click()
        vitals = page.get_by_role("region", name="Vital signs")
        if systolic == "186":
            expect(flash(page, "Out of range")).to_contain_text(
                "Systolic BP 186 mmHg is above the protocol's limit of 180 mmHg"
            )
            alert = page.get_by_role("region", name=re.compile(r"^Safety alert"))
            expect(alert).to_contain_text("Vital sign past the critical limit")
            expect(alert).to_contain_text("Systolic BP 186 mmHg is above the protocol's critical limit of 180 mmHg")
            check_accessibility(page, checked)
    table = page.get_by_role("table", name="Vital signs, in the order taken")
    expect(table.get_by_role("row")).to_have_count(3)
    flagged = table.get_by_role("row").nth(1)
    expect(flagged).to_contain_text("Diastolic BP 104 mmHg is above the protocol's limit of 100 mmHg")
    expect(flagged.get_by_text("out of range")).to_have_count(2)
    expect(table.get_by_role("row").nth(2)).to_contain_text("None")
    check_accessibility(page, checked)

    # An adverse event with rescue medication.
    events = page.get_by_role("region", name="Adverse events")
    events.get_by_text("Record an adverse event").click()
    events.get_by_label("What happened", exact=True).fill("Nausea at 25 minutes")
    events.get_by_label("Onset (UTC)", exact=True).fill((given + timedelta(minutes=25)).strftime(FORMAT))
    events.get_by_label("Severity", exact=True).select_option(label="Mild")
    events.get_by_label("Serious", exact=True).select_option(label="No")
    events.get_by_label("Action taken", exact=True).fill("Antiemetic given; infusion paused for 5 minutes")
    events.get_by_label("Outcome", exact=True).select_option(label="Recovered / resolved")
    events.get_by_label("Rescue medication", exact=True).fill("Ondansetron")
    events.get_by_label("Rescue dose", exact=True).fill("4 mg IV")
    events.get_by_label("Rescue medication given at (UTC)", exact=True).fill(
        (given + timedelta(minutes=27)).strftime(FORMAT)
    )
    events.get_by_role("button", name="Record adverse event").click()
    expect(flash(page, "Adverse event")).to_have_text("Adverse event recorded.")
    events = page.get_by_role("region", name="Adverse events")
    expect(events).to_contain_text("Nausea at 25 minutes")
    expect(events).to_contain_text("Ondansetron, 4 mg IV")
    discharge = page.get_by_role("list", name="Discharge criteria")
    expect(discharge.get_by_role("listitem")).to_have_count(4)
    expect(discharge.get_by_text("Met", exact=True)).to_have_count(4)
    expect(page.locator("#sign-blockers")).to_contain_text("Schedule the next-day follow-up contact")
    check_accessibility(page, checked)

    # The next-day follow-up contact, from the link that pre-fills it.
    page.get_by_role("link", name="Schedule the next-day follow-up contact").click()
    expect(page.get_by_label("Kind", exact=True)).to_have_value("follow_up")
    check_accessibility(page, checked)
    page.get_by_label("Location", exact=True).fill("Phone")
    page.get_by_role("button", name="Save session").click()
    expect(flash(page, "scheduled")).to_have_text("Follow-up contact session scheduled.")
    check_accessibility(page, checked)
    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name=PATIENT_NAME).click()
    latest = page.get_by_role("table", name="Latest sessions, newest first")
    latest.get_by_role("link", name="Dosing 1 of 6").click()
    expect(page.locator("#sign-blockers")).to_have_count(0)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dosing-note-ready-to-sign.png"), full_page=True)

    # Signing asks for the password; a wrong one signs nothing.
    signature = page.get_by_role("region", name="Signature")
    signature.get_by_label("Your password", exact=True).fill("not the right password")
    signature.get_by_role("button", name="Sign note").click()
    signature = page.get_by_role("region", name="Signature")
    expect(signature.get_by_label("Your password", exact=True)).to_have_attribute("aria-invalid", "true")
    check_accessibility(page, checked)
    signature.get_by_label("Your password", exact=True).fill(PASSWORD)
    signature.get_by_role("button", name="Sign note").click()
    expect(flash(page, "Note signed")).to_contain_text("Note signed.")
    signature = page.get_by_role("region", name="Signature")
    expect(signature).to_contain_text(f"by {THERAPIST_NAME}")
    expect(signature).to_contain_text(re.compile(r"SHA-256 of the signed content: [0-9a-f]{64}"))
    expect(page.get_by_role("button", name="Save draft")).to_have_count(0)
    expect(page.get_by_role("button", name="Add reading")).to_have_count(0)
    check_accessibility(page, checked)

    # An addendum, signed in turn, shown beneath the note.
    addenda = page.get_by_role("region", name="Addenda")
    addenda.get_by_text("Add an addendum").click()
    addenda.get_by_label("Reason", exact=True).fill("Late entry")
    addenda.get_by_label("Addendum", exact=True).fill("Brother confirmed safe arrival home at 18:05.")
    addenda.get_by_label("Your password", exact=True).fill(PASSWORD)
    addenda.get_by_role("button", name="Sign and add").click()
    expect(flash(page, "Addendum")).to_have_text("Addendum signed and added beneath the note.")
    listed = page.get_by_role("list", name="Addenda, oldest first").get_by_role("listitem")
    expect(listed).to_have_count(1)
    expect(listed.first).to_contain_text("Brother confirmed safe arrival home at 18:05.")
    expect(listed.first).to_contain_text(f"signed by {THERAPIST_NAME}")
    check_accessibility(page, checked)
    page.screenshot(path=str(ARTIFACTS / "dosing-note-signed-with-addendum.png"), full_page=True)

    # The patient page: the flagged reading, and what is next.
    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name=PATIENT_NAME).click()
    sessions = page.get_by_role("region", name="Sessions")
    expect(sessions.locator("#flagged-vitals")).to_contain_text("Systolic BP 186 mmHg is above")
    expect(sessions.locator("#next-step")).to_contain_text("Move to integration after dosing 1.")
    check_accessibility(page, checked)
    page.screenshot(path=str(ARTIFACTS / "patient-page-after-dosing.png"), full_page=True)
    assert len(checked) >= 14, checked
