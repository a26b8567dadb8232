"""No lost typing, in a real browser, on a server whose login sessions end after ``SHORT_IDLE_SECONDS`` without
activity: the therapist writes an integration plan and the action taken on a safety alert, both kept as drafts
while typing; the session ends; saving the alert leads to the sign-in page, and after signing in again the alert
and the plan editor show the text as it was typed. Then the alert is acknowledged and the draft is gone."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import check_accessibility, open_page
from tests.browser.server import (
    PASSWORD,
    SHORT_IDLE_SECONDS,
    THERAPIST,
    THERAPIST_NAME,
    TYPING_FAMILY_NAME,
    TYPING_GIVEN_NAME,
)

pytestmark = pytest.mark.browser

PATIENT_LINK = f"{TYPING_FAMILY_NAME}, {TYPING_GIVEN_NAME}"
PLAN_TEXT = (
    "I noticed how much calmer I am after the morning walk by the sea. I want to keep writing down what "
    "comes up in the evening and bring the notebook to every integration session."
)
ACTION_TEXT = "Called her within the hour: passive thoughts only, no plan or intent. Safety plan reviewed together."


@pytest.fixture
def page(browser: Any, short_session_server: str) -> Iterator[Any]:
    with open_page(browser, short_session_server) as opened:
        yield opened


def sign_in(page: Any, checked: list[str]) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Username").fill(THERAPIST)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("navigation", name="Main")).to_contain_text(THERAPIST_NAME)


def draft_kept(form: Any) -> None:
    from playwright.sync_api import expect

    expect(form.locator("[data-draft-status]")).to_have_text(re.compile(r"^Draft kept at \d\d:\d\d:\d\d"))


def test_a_plan_and_an_alerts_action_typed_before_the_session_ended_are_back_after_signing_in(page: Any) -> None:
    from playwright.sync_api import expect

    checked: list[str] = []
    page.goto("/login")
    signed_in_at = time.monotonic()
    sign_in(page, checked)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Patients").click()
    page.get_by_role("link", name=PATIENT_LINK).click()

    # The plan: typed, kept as a draft (nothing saved).
    page.get_by_role("link", name="Integration plan").click()
    page.get_by_role("link", name="Write the plan").click()
    section = page.get_by_label("Insights and themes", exact=True)
    section.fill(PLAN_TEXT)
    draft_kept(page.locator("form[data-draft-url]"))

    # The alert: typed, kept as a draft.
    page.get_by_role("link", name=re.compile(r"^Review and acknowledge")).click()
    expect(page.get_by_role("heading", name=re.compile(r"^Safety alert"), level=1)).to_be_visible()
    page.get_by_role("group", name=re.compile(r"^Actions taken")).get_by_label(
        "Contacted the patient", exact=True
    ).check()
    words = page.get_by_label("What was done, in your words", exact=True)
    words.fill(ACTION_TEXT)
    draft_kept(page.locator("form[data-draft-url]"))

    # The session ends while the page is open (no request moved the idle clock since signing in); saving the
    # alert leads to the sign-in page, and signing in again back to the alert with the typing restored.
    time.sleep(max(0.0, signed_in_at + SHORT_IDLE_SECONDS + 2 - time.monotonic()))
    page.get_by_role("button", name="Acknowledge with these actions").click()
    expect(page).to_have_url(re.compile(r"/login\?ended=idle&next=(/|%2F)patients(/|%2F)\d+(/|%2F)alerts(/|%2F)\d+$"))
    expect(page.get_by_role("status")).to_contain_text("signed out after")
    check_accessibility(page, checked)
    sign_in(page, checked)
    expect(page).to_have_url(re.compile(r"/patients/\d+/alerts/\d+$"))
    expect(page.get_by_role("status").filter(has_text="kept as a draft")).to_be_visible()
    expect(page.get_by_label("What was done, in your words", exact=True)).to_have_value(ACTION_TEXT)
    expect(page.get_by_label("Contacted the patient", exact=True)).to_be_checked()
    check_accessibility(page, checked)

    # The plan editor has its typing back too.
    page.get_by_role("navigation", name="Breadcrumb").get_by_role(
        "link", name=f"{TYPING_GIVEN_NAME} {TYPING_FAMILY_NAME}"
    ).click()
    page.get_by_role("link", name="Integration plan").click()
    page.get_by_role("link", name="Write the plan").click()
    expect(page.get_by_label("Insights and themes", exact=True)).to_have_value(PLAN_TEXT)
    expect(page.get_by_role("status").filter(has_text="kept as a draft")).to_be_visible()
    check_accessibility(page, checked)

    # Acknowledged: the alert's draft is gone.
    page.go_back()
    page.go_back()
    page.go_back()
    expect(page).to_have_url(re.compile(r"/patients/\d+/alerts/\d+$"))
    page.reload()
    page.get_by_role("button", name="Acknowledge with these actions").click()
    expect(page.get_by_role("status").filter(has_text="Alert acknowledged")).to_be_visible()
    expect(page.get_by_role("region", name="Acknowledgement")).to_contain_text(ACTION_TEXT)
    expect(page.get_by_role("status").filter(has_text="kept as a draft")).to_have_count(0)
    assert len(checked) == 3, checked
