"""The dosing gate at the session, in a real browser: a held ketamine infusion is recorded, a dose outside the
protocol is refused beside the dose field, and a medication stopped too recently (an MAOI three days before the
session) closes the gate for that session's dose although the patient was let into dosing before it was entered.
Nothing refused is saved; every message is in view where the clinician acts. axe checks every page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS, check_accessibility
from tests.browser.server import REFUSED_FAMILY_NAME, REFUSED_GIVEN_NAME, THERAPIST, THERAPIST_NAME
from tests.browser.test_screening_gate import flash, sign_in

pytestmark = pytest.mark.browser

PATIENT_NAME = f"{REFUSED_GIVEN_NAME} {REFUSED_FAMILY_NAME}"
PATIENT_LINK = f"{REFUSED_FAMILY_NAME}, {REFUSED_GIVEN_NAME}"
FORMAT = "%Y-%m-%dT%H:%M"


def test_a_dose_is_refused_at_the_session_past_an_unmet_condition(page: Any) -> None:
    from playwright.sync_api import expect

    checked: list[str] = []
    start = (datetime.now(UTC) - timedelta(hours=3)).replace(second=0, microsecond=0)
    given = start + timedelta(minutes=10)

    sign_in(page, checked, THERAPIST, THERAPIST_NAME)
    page.get_by_role("link", name=PATIENT_LINK).click()
    expect(page.get_by_role("heading", name=PATIENT_NAME, level=1)).to_be_visible()
    page.get_by_role("region", name="Sessions").get_by_role("link", name="Schedule or record a session").click()
    page.get_by_label("Kind", exact=True).select_option(label="Dosing")
    page.get_by_label("Actual start (UTC)", exact=True).fill(start.strftime(FORMAT))
    page.get_by_label("Actual length (minutes)", exact=True).fill("150")
    page.get_by_role("button", name="Save session").click()
    expect(flash(page, "session logged")).to_have_text("Dosing session logged.")
    session_url = page.url
    expect(page.locator("#dose-rule")).to_contain_text("0.1 to 0.75 mg/kg, intravenous")
    check_accessibility(page, checked)

    # 1. A dose outside the protocol's range is refused beside the dose; nothing is saved.
    note = page.locator("#note")
    note.get_by_label("Dose", exact=True).fill("0.9")
    note.get_by_label("Unit", exact=True).select_option(label="mg/kg")
    note.get_by_label("Weight today (kg)", exact=True).fill("70")
    note.get_by_label("Route", exact=True).select_option(label="Intravenous")
    note.get_by_label("Time given (UTC)", exact=True).fill(given.strftime(FORMAT))
    note.get_by_role("button", name="Save draft").click()
    dose = page.locator("#note").get_by_label("Dose", exact=True)
    expect(dose).to_have_attribute("aria-invalid", "true")
    expect(dose).to_have_accessible_description(
        re.compile(
            re.escape(
                "0.9 mg/kg is outside Ketamine IV series for treatment-resistant depression's dose range of "
                "0.1 to 0.75 "
                "mg/kg."
            )
        )
    )
    expect(page.locator("#dose-total")).to_have_count(0)
    check_accessibility(page, checked)

    # 2. An MAOI, stopped three days before this session, enters the medication review afterwards.
    page.goto(session_url.split("/sessions/")[0] + "/medications")
    stopped = (datetime.now(UTC) - timedelta(days=3)).date()
    page.get_by_label("Medication", exact=True).fill("Parnate 10 mg")
    page.get_by_label("Started", exact=True).fill((stopped - timedelta(days=200)).isoformat())
    page.get_by_label("Stopped (last day taken)", exact=True).fill(stopped.isoformat())
    page.get_by_role("button", name="Add medication").click()
    expect(flash(page, "Added")).to_have_text("Added Parnate 10 mg.")
    expect(
        page.get_by_text("Tranylcypromine").or_(page.get_by_text("MAOI (monoamine oxidase inhibitor)")).first
    ).to_be_visible()
    check_accessibility(page, checked)

    # 3. The dose the protocol allows is now refused for this session: the gate is judged at its time.
    page.goto(session_url)
    note = page.locator("#note")
    note.get_by_label("Dose", exact=True).fill("0.5")
    note.get_by_label("Unit", exact=True).select_option(label="mg/kg")
    note.get_by_label("Weight today (kg)", exact=True).fill("70")
    note.get_by_label("Route", exact=True).select_option(label="Intravenous")
    note.get_by_label("Time given (UTC)", exact=True).fill(given.strftime(FORMAT))
    note.get_by_role("button", name="Save draft").click()
    dose = page.locator("#note").get_by_label("Dose", exact=True)
    expect(dose).to_have_attribute("aria-invalid", "true")
    washout = f"Parnate 10 mg was last taken on {stopped.isoformat()}"
    expect(dose).to_have_accessible_description(re.compile(re.escape(washout)))
    expect(page.get_by_role("alert").first).to_contain_text("14 days without it are needed before dosing")
    expect(page.locator("#dose-total")).to_have_count(0)
    check_accessibility(page, checked)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dose-refused-at-the-session.png"), full_page=True)
    assert len(checked) == 6, checked  # login, my day, session, refused dose, medications, refused dose
