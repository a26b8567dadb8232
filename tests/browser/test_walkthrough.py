"""The foundation walkthrough in a real browser: sign in, enrol a patient, have a forbidden move refused with
its reason, make an allowed move, sign out; axe checks every page on the way."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS, check_accessibility
from tests.browser.server import CO_THERAPIST_NAME, PASSWORD, THERAPIST, THERAPIST_NAME

pytestmark = pytest.mark.browser


def test_enrol_refused_move_allowed_move_sign_out(page: Any) -> None:
    from playwright.sync_api import expect

    checked: list[str] = []

    # Sign in.
    page.goto("/login")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    check_accessibility(page, checked)
    page.get_by_label("Username").fill(THERAPIST)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    # The therapist's day, then the caseload.
    expect(page).to_have_url(re.compile(r"/today$"))
    expect(page.get_by_role("heading", name="My day")).to_be_visible()
    check_accessibility(page, checked)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Patients").click()
    expect(page).to_have_url(re.compile(r"/patients/$"))
    expect(page.get_by_role("heading", name="Patients")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_contain_text(THERAPIST_NAME)
    expect(page.get_by_role("link", name="Caseload, Existing")).to_be_visible()
    check_accessibility(page, checked)

    # Enrol a patient through the real form (CSRF on).
    page.get_by_role("link", name="Enrol a patient").click()
    expect(page.get_by_role("heading", name="Enrol a patient")).to_be_visible()
    check_accessibility(page, checked)
    page.get_by_label("Given name", exact=True).fill("Robin")
    page.get_by_label("Family name", exact=True).fill("Browserton")
    page.get_by_label("Date of birth", exact=True).fill("1985-03-14")
    page.get_by_label("Record number", exact=True).fill("BRW-0001")
    page.get_by_label("Indication", exact=True).select_option(label="PTSD")
    page.get_by_label("Protocol", exact=True).select_option(value="mdma-ptsd")
    lead = page.get_by_label("Lead therapist", exact=True)
    expect(lead.locator("option:checked")).to_have_text(THERAPIST_NAME)  # a therapist leads by default
    page.get_by_label("Co-therapists", exact=True).select_option(label=CO_THERAPIST_NAME)
    page.get_by_role("button", name="Enrol patient").click()

    # The new patient's page, in preparation.
    expect(page).to_have_url(re.compile(r"/patients/\d+$"))
    expect(page.get_by_role("heading", name="Robin Browserton", level=1)).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="was enrolled")).to_have_text(
        "Robin Browserton was enrolled and starts in preparation."
    )
    history = page.get_by_role("list", name="Phase history")
    expect(history.get_by_role("listitem")).to_have_count(1)
    expect(history.get_by_role("listitem").first).to_contain_text("Preparation (enrolled)")
    check_accessibility(page, checked)

    # A move the workflow forbids: refused, with the reason next to the field, and nothing changed.
    move_to = page.get_by_label("Move to", exact=True)
    move_to.select_option(label="Completed")
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/phase")) as refused:
        page.get_by_role("button", name="Move patient").click()
    assert refused.value.status == 409
    reason = "A patient in preparation cannot move to completed. Allowed next: dosing, on hold, discontinued."
    move_to = page.get_by_label("Move to", exact=True)
    expect(move_to).to_have_attribute("aria-invalid", "true")
    expect(move_to).to_have_accessible_description(re.compile(re.escape(reason)))
    expect(page.get_by_role("alert")).to_contain_text(reason)
    expect(history.get_by_role("listitem")).to_have_count(1)
    check_accessibility(page, checked)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "patient-page-refused-move.png"), full_page=True)

    # An allowed move: on hold, with the reason the workflow asks for. (Dosing waits for screening: the
    # screening walkthrough covers that gate.)
    move_to.select_option(label="On hold")
    page.get_by_label("Reason", exact=True).fill("Travelling for three weeks")
    page.get_by_role("button", name="Move patient").click()
    expect(page.get_by_role("status").filter(has_text="Moved to")).to_have_text("Moved to on hold.")
    expect(history.get_by_role("listitem")).to_have_count(2)
    expect(history.get_by_role("listitem").first).to_contain_text("On hold from preparation")
    expect(history.get_by_role("listitem").first).to_contain_text("Travelling for three weeks")
    expect(page.get_by_role("alert")).to_have_count(0)
    check_accessibility(page, checked)
    page.screenshot(path=str(ARTIFACTS / "patient-page.png"), full_page=True)

    # Sign out.
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login\?ended=logout$"))
    expect(page.get_by_role("status")).to_have_text("You have signed out.")
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    check_accessibility(page, checked)

    assert len(checked) == 8, checked  # with the therapist's day they land on
