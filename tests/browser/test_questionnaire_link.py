"""A questionnaire on the patient's phone: the therapist sends a PHQ-9 and reads the link off the page (with its QR
code); the patient, without an account, opens it on a phone-sized screen, answers with large touch targets (item 9
above 0 shows the crisis line at once), sends, and is shown the crisis line again; the same link opened again is
refused, as is an expired one. The therapist then finds the result, marked as filled in by the patient, and its
safety alert. axe checks every page on the way."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS, CHROMIUM_ARGS, check_accessibility  # noqa: F401
from tests.browser.server import (
    EXPIRED_TOKEN,
    QUESTIONNAIRE_FAMILY_NAME,
    QUESTIONNAIRE_GIVEN_NAME,
    THERAPIST,
    THERAPIST_NAME,
)
from tests.browser.test_screening_gate import sign_in
from tracker.instruments import get_instrument

pytestmark = pytest.mark.browser

PATIENT_LINK = f"{QUESTIONNAIRE_FAMILY_NAME}, {QUESTIONNAIRE_GIVEN_NAME}"
#: PHQ-9 answers in item order: a total of 7, with item 9 at 1 ("Several days").
ANSWERS = [
    "Several days",
    "Several days",
    "More than half the days",
    "Several days",
    "Not at all",
    "Several days",
    "Not at all",
    "Not at all",
    "Several days",
]
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3, "is_mobile": True, "has_touch": True}


@pytest.fixture
def phone(browser: Any, live_server: str) -> Any:
    """A phone-sized page in a fresh context (no cookie of the clinician's): the patient's own device."""
    context = browser.new_context(base_url=live_server, **PHONE)
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda m: errors.append(m.text) if m.type == "error" and "Failed to load resource" not in m.text else None,
    )
    try:
        yield page
    finally:
        context.close()
    assert not errors, errors


def test_a_patient_fills_in_a_questionnaire_on_a_phone_through_a_link(page: Any, phone: Any) -> None:
    from playwright.sync_api import expect

    checked: list[str] = []
    phq9 = get_instrument("phq9")

    # 1. The therapist sends the PHQ-9 from the patient's page and reads the link (the QR code beside it).
    sign_in(page, checked, THERAPIST, THERAPIST_NAME)
    page.get_by_role("link", name=PATIENT_LINK).click()
    page.get_by_role("link", name="Send to the patient's device").click()
    expect(page.get_by_role("heading", name="Questionnaires for the patient's device", level=1)).to_be_visible()
    check_accessibility(page, checked)
    # The protocol has the PCL-5 due at baseline, so it comes ticked; this walkthrough sends the PHQ-9 alone.
    expect(page.get_by_label("PCL-5: PTSD Checklist for DSM-5")).to_be_checked()
    page.get_by_label("PCL-5: PTSD Checklist for DSM-5").uncheck()
    page.get_by_label("PHQ-9: Patient Health Questionnaire-9").check()
    page.get_by_role("button", name="Make a link for the ticked measures").click()
    expect(page.get_by_role("img", name="QR code of the questionnaire link")).to_be_visible()
    check_accessibility(page, checked)
    url = page.get_by_role("textbox", name="Link").input_value()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/q/[A-Za-z0-9_-]{43}", url), url

    # 2. The patient opens it on a phone: the clinic's name and the questionnaire, nothing of the record.
    phone.goto(url)
    expect(phone.get_by_role("heading", name="Your questionnaire", level=1)).to_be_visible()
    expect(phone.locator("body")).to_contain_text("Browser Test Clinic")
    for private in (QUESTIONNAIRE_FAMILY_NAME, QUESTIONNAIRE_GIVEN_NAME, "BRW-PHONE-1", THERAPIST_NAME):
        expect(phone.locator("body")).not_to_contain_text(private)
    check_accessibility(phone, checked)
    crisis = phone.get_by_role("alert").filter(has_text="If you are thinking about harming yourself")
    expect(crisis).to_be_hidden()
    first_option = phone.locator("label.q-option").first
    box = first_option.bounding_box()
    assert box is not None and box["height"] >= 44 and box["width"] >= 300, box  # a whole-row touch target

    # 3. Sending with a question left out says which, next to it; nothing is lost of what was chosen.
    for item, answer in list(zip(phq9.items, ANSWERS, strict=True))[:8]:
        group = phone.get_by_role("group", name=f"{item.number}. {item.text}", exact=True)
        group.get_by_text(answer, exact=True).tap()
    phone.get_by_role("button", name="Send my answers").tap()
    expect(phone.get_by_role("alert").filter(has_text="Some questions need an answer")).to_contain_text(
        "PHQ-9, question 9"
    )
    check_accessibility(phone, checked)
    item9 = phone.get_by_role("group", name=f"9. {phq9.items[8].text}", exact=True)
    expect(item9).to_contain_text("Please choose an answer.")
    expect(
        phone.get_by_role("group", name=f"1. {phq9.items[0].text}", exact=True).get_by_label("Several days")
    ).to_be_checked()

    # 4. Item 9 above 0 shows the crisis line at once; the answers are sent once.
    item9.get_by_text("Several days", exact=True).tap()
    expect(crisis).to_be_visible()
    phone.get_by_role("button", name="Send my answers").tap()
    expect(phone.get_by_role("heading", name="Please reach out now")).to_be_visible()
    expect(phone.get_by_role("heading", name="Thank you")).to_be_visible()
    check_accessibility(phone, checked)
    phone.screenshot(path=str(ARTIFACTS / "questionnaire-phone-done.png"), full_page=True)

    # 5. The same link again, and an expired one: refused.
    response = phone.goto(url)
    assert response is not None and response.status == 410
    expect(phone.get_by_role("heading", name="This link cannot be used")).to_be_visible()
    expect(phone.locator("body")).to_contain_text("already been filled in")
    check_accessibility(phone, checked)
    expired = phone.goto(url.rsplit("/", 1)[0] + "/" + EXPIRED_TOKEN)
    assert expired is not None and expired.status == 410
    expect(phone.locator("body")).to_contain_text("This link has expired")

    # 6. The therapist sees the result as the patient's own entry, and its safety alert.
    page.get_by_role("link", name="Back to the patient's questionnaire links").click()
    expect(page.get_by_role("table")).to_contain_text("Filled in")
    page.get_by_role("table").get_by_role("link", name=re.compile(r"result #\d+")).click()
    expect(page.locator("main")).to_contain_text("the patient, on their own device")
    alert = page.get_by_role("region", name=re.compile(r"^Safety alert"))
    expect(alert).to_contain_text("Entered by the patient, on their own device")
    check_accessibility(page, checked)

    # 7. The therapist acknowledges it (the supervisor's queue is left as the other walkthroughs expect it).
    alert.get_by_role("link", name=re.compile("^Review and acknowledge")).click()
    page.get_by_label("Contacted the patient", exact=True).check()
    page.get_by_label("What was done, in your words", exact=True).fill(
        "Called Quinn the same hour: passive thoughts, no plan."
    )
    page.get_by_role("button", name="Acknowledge with these actions").click()
    expect(page.get_by_role("region", name="Acknowledgement")).to_contain_text(THERAPIST_NAME)
    assert len(checked) >= 8
