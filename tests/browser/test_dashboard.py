"""The supervisor's dashboard in a real browser: the supervisor signs in and lands on it, filters the queue to one
therapist, and follows an item to its patient; the clinic overview and the therapist's day pass axe too."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import check_accessibility
from tests.browser.server import (
    CO_THERAPIST_NAME,
    DASHBOARD_FAMILY_NAME,
    DASHBOARD_GIVEN_NAME,
    PASSWORD,
    SUPERVISOR,
    SUPERVISOR_NAME,
    THERAPIST,
)

pytestmark = pytest.mark.browser


def sign_in(page: Any, checked: list[str], username: str, landing: str) -> None:
    from playwright.sync_api import expect

    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(landing))
    check_accessibility(page, checked)


def test_the_supervisor_filters_to_one_therapist_and_follows_an_item_to_its_patient(page: Any) -> None:
    from playwright.sync_api import expect

    checked: list[str] = []
    sign_in(page, checked, SUPERVISOR, r"/dashboard$")
    expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_contain_text(SUPERVISOR_NAME)
    caseloads = page.locator("#caseloads")
    expect(caseloads.get_by_role("rowheader", name=CO_THERAPIST_NAME)).to_be_visible()

    # Filter to the co-therapist: only their patients' items remain.
    page.get_by_label("Therapist").select_option(label=CO_THERAPIST_NAME)
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"/dashboard\?therapist=\d+"))
    queue = page.locator("#attention-queue")
    row = queue.locator("tr.attention-item", has_text=f"{DASHBOARD_FAMILY_NAME}, {DASHBOARD_GIVEN_NAME}")
    expect(row).to_have_count(1)
    expect(queue.locator("tr.attention-item")).to_have_count(1)
    expect(page.get_by_label("Therapist")).to_have_value(re.compile(r"\d+"))
    check_accessibility(page, checked)

    # Follow the item to where to act: the session, on its patient's page.
    row.get_by_role("link", name=re.compile("Note not signed")).click()
    expect(page).to_have_url(re.compile(r"/patients/\d+/sessions/\d+$"))
    expect(page.get_by_role("heading", name="Preparation 1 of 3", level=1)).to_be_visible()
    expect(page.locator("main")).to_contain_text(f"{DASHBOARD_GIVEN_NAME} {DASHBOARD_FAMILY_NAME} · record BRW-DASH-1")
    check_accessibility(page, checked)

    # The clinic overview: charts, no names.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Clinic overview").click()
    expect(page.get_by_role("heading", name="Clinic overview", level=1)).to_be_visible()
    expect(page.get_by_role("img", name="Patients by phase")).to_be_visible()
    expect(page.locator("main")).not_to_contain_text(DASHBOARD_FAMILY_NAME)
    check_accessibility(page, checked)
    assert len(checked) == 4  # the dashboard, filtered, the session page, the overview


def test_a_therapist_lands_on_their_day(page: Any) -> None:
    from playwright.sync_api import expect

    checked: list[str] = []
    sign_in(page, checked, THERAPIST, r"/today$")
    expect(page.get_by_role("heading", name="My day", level=1)).to_be_visible()
    expect(page.get_by_role("heading", name="This week's sessions")).to_be_visible()
