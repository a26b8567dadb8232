"""Errors where the eye is, at 1024x768: on a dosing session's page (the note, vital signs, adverse events, then the
signature far below the fold), a refused vital reading and a refused signature bring the page back at the form
that was refused: its error summary in view and focused, the message beside the field in view, each line of the
summary a link that puts the cursor in its field. And text typed in the note just before another form was sent is
still there."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS, check_accessibility
from tests.browser.server import ERRORS_FAMILY_NAME, ERRORS_GIVEN_NAME, THERAPIST, THERAPIST_NAME
from tests.browser.test_screening_gate import sign_in

pytestmark = pytest.mark.browser

PATIENT_LINK = f"{ERRORS_FAMILY_NAME}, {ERRORS_GIVEN_NAME}"
NOTE_TYPING = "Settled after ten minutes; eyeshades on, asked for the blanket."


def test_a_refused_reading_and_a_refused_signature_open_at_their_message(page: Any) -> None:
    from playwright.sync_api import expect

    checked: list[str] = []
    sign_in(page, checked, THERAPIST, THERAPIST_NAME)
    page.get_by_role("link", name=PATIENT_LINK).click()
    page.get_by_role("region", name="Sessions").get_by_role("link", name=re.compile(r"^Dosing")).first.click()
    expect(page).to_have_url(re.compile(r"/patients/\d+/sessions/\d+$"))

    # Typing in the note, then at once a reading with an impossible value: refused beside the field, in view; the
    # note's typing was kept first and is still in the note.
    page.get_by_label("Session narrative", exact=False).first.fill(NOTE_TYPING)
    vitals = page.locator("#vitals form")
    vitals.get_by_label("Systolic BP (mmHg)").fill("400")
    vitals.get_by_label("Diastolic BP (mmHg)").fill("80")
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/vitals")) as refused:
        vitals.get_by_role("button", name="Add reading").click()
    assert refused.value.status == 422
    expect(page).to_have_url(re.compile(r"/vitals#vitals$"))
    summary = page.locator("#vitals [data-error-summary]")
    expect(summary).to_be_focused()
    expect(summary).to_be_in_viewport()
    systolic = page.locator("#vitals").get_by_label("Systolic BP (mmHg)")
    expect(systolic).to_have_attribute("aria-invalid", "true")
    message = page.locator("#vitals .invalid-feedback").first
    expect(message).to_be_in_viewport()
    expect(page.get_by_label("Session narrative", exact=False).first).to_have_value(NOTE_TYPING)
    check_accessibility(page, checked)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "refused-reading-in-view.png"))
    summary.get_by_role("link").first.click()
    expect(systolic).to_be_focused()

    # A wrong password at the signature: the page opens at the signature, its message in view.
    page.locator("#signature").get_by_label("Password").fill("not my password")
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/sign")) as refused:
        page.get_by_role("button", name="Sign note").click()
    assert refused.value.status == 422
    expect(page).to_have_url(re.compile(r"/sign#signature$"))
    summary = page.locator("#signature [data-error-summary]")
    expect(summary).to_be_focused()
    expect(summary).to_be_in_viewport()
    expect(page.locator("#signature .invalid-feedback").first).to_be_in_viewport()
    check_accessibility(page, checked)
    page.screenshot(path=str(ARTIFACTS / "refused-signature-in-view.png"))
