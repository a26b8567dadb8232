"""The pages of issue 15's corrections and calendar in a real browser, each checked by axe with no violation at all:
the trainee corrects the seriousness of a serious adverse event on a signed note (refused without the password, then
signed), confirms (then cancels) the removal of a reading from a draft, opens the calendar's week and month and
makes a feed link, and their day; their supervisor sees the co-signature form ask for the password."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import check_accessibility
from tests.browser.server import CORRECTIONS_SUPERVISOR, CORRECTIONS_THERAPIST, PASSWORD

pytestmark = pytest.mark.browser


def _sign_in(page: Any, username: str) -> None:
    from playwright.sync_api import expect

    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/(today|dashboard)$"))


def _dosing_session(page: Any, patient: str) -> None:
    """From the patient list to the patient's dosing session."""
    from playwright.sync_api import expect

    page.goto("/patients/")
    page.get_by_role("link", name=patient).first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(patient.split(", ")[1])
    page.goto(page.url.rstrip("/") + "/sessions")
    page.get_by_role("link", name=re.compile("^Dosing")).first.click()
    expect(page.get_by_role("heading", name=re.compile("^Dosing"), level=1)).to_be_visible()


def test_correct_confirm_and_the_calendar(page: Any) -> None:
    from playwright.sync_api import expect

    checked: list[str] = []
    _sign_in(page, CORRECTIONS_THERAPIST)
    check_accessibility(page, checked, strict=True)  # My day

    # 1. The signed note's serious event: corrected with a reason and the password.
    _dosing_session(page, "Seriousness, Sera")
    page.get_by_role("link", name="Correct the seriousness…").click()
    expect(page.get_by_role("heading", name="Correct the seriousness of an adverse event")).to_be_visible()
    check_accessibility(page, checked, strict=True)
    page.get_by_label("The event is").select_option(label="Not serious")
    page.get_by_label("Reason").fill("Marked serious by mistake: recovered on site, no admission")
    page.get_by_role("button", name="Sign the correction").click()
    expect(page.get_by_text("Enter your password to sign the correction.").first).to_be_visible()
    check_accessibility(page, checked, strict=True)
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Sign the correction").click()
    expect(page.get_by_role("status").filter(has_text="Correction signed")).to_be_visible()
    expect(page.locator(".seriousness-correction")).to_contain_text("Marked serious by mistake")
    check_accessibility(page, checked, strict=True)

    # 2. A reading on a draft: the removal asks first; keeping it changes nothing.
    _dosing_session(page, "Draftwell, Dora")
    page.get_by_role("link", name=re.compile("^Remove the reading taken at")).first.click()
    expect(page.get_by_role("heading", name="Remove this reading?")).to_be_visible()
    check_accessibility(page, checked, strict=True)
    page.get_by_role("link", name="Keep it").click()
    expect(page.get_by_role("heading", name=re.compile("^Dosing"), level=1)).to_be_visible()

    # 3. The calendar, its month, and a feed link.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Calendar").click()
    expect(page.get_by_role("heading", name=re.compile("^Calendar: Week of"))).to_be_visible()
    check_accessibility(page, checked, strict=True)
    page.get_by_label("View").select_option(label="Month")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#calendar")).to_be_visible()
    check_accessibility(page, checked, strict=True)
    page.get_by_role("link", name="Calendar feed for your phone").click()
    page.get_by_role("button", name="Make a link").click()
    expect(page.locator("#feed-url")).to_contain_text("/calendar/feed/")
    check_accessibility(page, checked, strict=True)
    page.get_by_role("button", name="Sign out").click()

    # 4. The supervisor's co-signature form asks for the password.
    _sign_in(page, CORRECTIONS_SUPERVISOR)
    _dosing_session(page, "Seriousness, Sera")
    form = page.locator("form").filter(has=page.get_by_role("button", name="Record decision"))
    expect(form.get_by_label("Your password")).to_be_visible()
    check_accessibility(page, checked, strict=True)
    assert len(checked) >= 9
