"""The clinic's clock in a real browser, in a clinic east of UTC (Sydney): the therapist logs a session held half
an hour ago as the clinic's clock shows it and sees it at that time; the clinic's admin changes the settings, is
refused a window out of range beside the field, and saves. axe checks every page on the way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.browser.conftest import ARTIFACTS, check_accessibility
from tests.browser.server import (
    PASSWORD,
    SYDNEY_ADMIN,
    SYDNEY_ADMIN_NAME,
    SYDNEY_FAMILY_NAME,
    SYDNEY_GIVEN_NAME,
    SYDNEY_THERAPIST,
    SYDNEY_THERAPIST_NAME,
    SYDNEY_ZONE,
)
from tests.browser.test_screening_gate import flash, sign_in

pytestmark = pytest.mark.browser


def test_a_sydney_clinic_logs_a_session_on_its_own_clock_and_its_admin_sets_the_clinic(page: Any) -> None:
    from playwright.sync_api import expect

    checked: list[str] = []
    ARTIFACTS.mkdir(exist_ok=True)
    held = (
        (datetime.now(UTC) - timedelta(minutes=30)).astimezone(ZoneInfo(SYDNEY_ZONE)).replace(second=0, microsecond=0)
    )
    sign_in(page, checked, SYDNEY_THERAPIST, SYDNEY_THERAPIST_NAME)
    page.get_by_role("link", name=f"{SYDNEY_FAMILY_NAME}, {SYDNEY_GIVEN_NAME}").click()
    page.get_by_text("Log a session that took place").click()
    page.get_by_label(f"Held at ({SYDNEY_ZONE})", exact=True).fill(held.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Duration (minutes)", exact=True).fill("50")
    page.get_by_role("button", name="Log session").click()
    expect(flash(page, "logged")).to_have_text("Preparation session logged.")
    shown = f"{held:%Y-%m-%d %H:%M} {held.tzname()}"
    expect(page.get_by_role("region", name="Sessions")).to_contain_text(shown)
    check_accessibility(page, checked)
    page.screenshot(path=str(ARTIFACTS / "clinic-clock-session.png"), full_page=True)
    page.get_by_role("button", name="Sign out").click()

    # An admin has no patient list: sign in and go straight to the clinic's settings.
    page.goto("/login")
    page.get_by_label("Username").fill(SYDNEY_ADMIN)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("navigation", name="Main")).to_contain_text(SYDNEY_ADMIN_NAME)
    page.goto("/admin/clinic")
    expect(page.get_by_label("Time zone", exact=True)).to_have_value(SYDNEY_ZONE)
    check_accessibility(page, checked)
    page.get_by_label("Phone", exact=True).fill("(02) 5550 0142")
    page.get_by_label("Crisis line", exact=True).fill("Lifeline 13 11 14")
    window = page.get_by_label("Measures after a dosing session are due for (days)", exact=True)
    window.fill("0")
    page.get_by_role("button", name="Save").click()
    window = page.get_by_label("Measures after a dosing session are due for (days)", exact=True)
    expect(window).to_have_attribute("aria-invalid", "true")
    expect(window).to_have_accessible_description(
        "From the day after the session; the window closes early on the "
        "day of the next dosing session. Enter a whole number from 1 to "
        "3660."
    )
    check_accessibility(page, checked)
    window.fill("10")
    page.get_by_role("button", name="Save").click()
    expect(flash(page, "saved")).to_have_text("Settings saved.")
    expect(page.get_by_label("Phone", exact=True)).to_have_value("(02) 5550 0142")
    page.screenshot(path=str(ARTIFACTS / "clinic-settings.png"), full_page=True)
    assert len(checked) >= 4
