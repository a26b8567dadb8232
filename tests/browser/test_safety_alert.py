"""A safety alert in a real browser: the therapist records a PHQ-9 with item 9 answered "Several days" (1) and sees
the alert; the supervisor finds it in the queue, cannot acknowledge it with no action chosen and a mark for words,
then acknowledges it with the actions chosen and the action in words; the banner and the queue entry are gone. axe
checks every page on the way."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS, check_accessibility
from tests.browser.server import (
    ALERT_FAMILY_NAME,
    ALERT_GIVEN_NAME,
    SUPERVISOR,
    SUPERVISOR_NAME,
    THERAPIST,
    THERAPIST_NAME,
)
from tests.browser.test_screening_gate import flash, sign_in, sign_out
from tracker.instruments import get_instrument

pytestmark = pytest.mark.browser

PATIENT_NAME = f"{ALERT_GIVEN_NAME} {ALERT_FAMILY_NAME}"
PATIENT_LINK = f"{ALERT_FAMILY_NAME}, {ALERT_GIVEN_NAME}"
#: PHQ-9 answers in item order: a total of 7 ("mild"), with item 9 at 1, "Several days".
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
ITEM_9 = "Item 9 (thoughts of death or of self-harm) answered above 0: needs clinician follow-up."
ACTION = "Called her within the hour: passive thoughts, no plan or intent. Safety plan reviewed; next session Friday."


def banner(page: Any) -> Any:
    return page.get_by_role("region", name=re.compile(r"^Safety alert"))


def test_a_phq9_item_9_alert_is_seen_then_acknowledged_by_the_supervisor_with_an_action(page: Any) -> None:
    from playwright.sync_api import expect

    checked: list[str] = []
    phq9 = get_instrument("phq9")

    # 1. The therapist records the PHQ-9 on the patient's measures page.
    sign_in(page, checked, THERAPIST, THERAPIST_NAME)
    page.get_by_role("link", name=PATIENT_LINK).click()
    expect(page.get_by_role("heading", name=PATIENT_NAME, level=1)).to_be_visible()
    expect(banner(page)).to_have_count(0)
    expect(page.get_by_role("region", name="Outcome measures")).to_contain_text("Baseline (before the first dosing")
    check_accessibility(page, checked)
    page.get_by_role("link", name="Measures, trends and results").click()
    expect(page.get_by_role("heading", name="Outcome measures", level=1)).to_be_visible()
    check_accessibility(page, checked)
    page.get_by_role("link", name="Record PHQ-9", exact=True).click()
    expect(page.get_by_role("heading", name="Record a PHQ-9", level=1)).to_be_visible()
    check_accessibility(page, checked)
    for item, answer in zip(phq9.items, ANSWERS, strict=True):
        group = page.get_by_role("group", name=f"{item.number}. {item.text}", exact=True)
        group.get_by_label(answer, exact=True).check()
    page.get_by_role("button", name="Save the PHQ-9").click()

    # 2. The result page: saved, scored, and the alert shown at the top.
    expect(page.get_by_role("heading", name=re.compile(r"^PHQ-9 of \d{4}-\d\d-\d\d$"), level=1)).to_be_visible()
    expect(flash(page, "Saved the PHQ-9")).to_have_text(
        "Saved the PHQ-9: 7 (mild). A safety alert was raised for the care team and the supervisor."
    )
    expect(banner(page)).to_contain_text(f"Safety alert: 1 open for {PATIENT_NAME}.")
    expect(banner(page)).to_contain_text(ITEM_9)
    item_9 = page.get_by_role("row", name=re.compile(r"^9\. Thoughts that you would be better off dead"))
    expect(item_9).to_contain_text("1 · Several days")
    check_accessibility(page, checked)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "safety-alert-recorded.png"), full_page=True)

    # The banner is on every page of the patient, the patient page included.
    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name=PATIENT_NAME).click()
    expect(page.get_by_role("heading", name=PATIENT_NAME, level=1)).to_be_visible()
    expect(banner(page)).to_contain_text(ITEM_9)
    check_accessibility(page, checked)
    page.get_by_role("link", name="Screening checklist").click()
    expect(banner(page)).to_contain_text(ITEM_9)
    check_accessibility(page, checked)
    sign_out(page, checked)

    # 3. The supervisor finds it in the queue.
    sign_in(page, checked, SUPERVISOR, SUPERVISOR_NAME)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Safety alerts").click()
    expect(page.get_by_role("heading", name="Safety alerts", level=1)).to_be_visible()
    waiting = page.get_by_role("row").filter(has_text=PATIENT_LINK)
    expect(waiting).to_have_count(1)
    expect(waiting).to_contain_text(ITEM_9)
    expect(waiting).to_contain_text(f"7 (mild), entered by {THERAPIST_NAME}")
    check_accessibility(page, checked)
    page.screenshot(path=str(ARTIFACTS / "safety-alert-queue.png"), full_page=True)
    waiting.get_by_role("link", name=PATIENT_LINK).click()
    expect(
        page.get_by_role("heading", name=re.compile(r"^Safety alert: urgent measure answer, PHQ-9 of"), level=1)
    ).to_be_visible()
    expect(page.get_by_role("region", name="Why")).to_contain_text("Source: the PHQ-9 result of")
    check_accessibility(page, checked)

    # 4. No action chosen and a mark for words: refused, next to each field; then acknowledged.
    actions = page.get_by_role("group", name=re.compile(r"^Actions taken"))
    words = page.get_by_label("What was done, in your words", exact=True)
    words.fill(".")
    with page.expect_response(lambda r: r.request.method == "POST" and "/alerts/" in r.url) as refused:
        page.get_by_role("button", name="Acknowledge with these actions").click()
    assert refused.value.status == 422
    expect(words).to_have_attribute("aria-invalid", "true")
    expect(words).to_have_accessible_description(re.compile("at least 20 characters and 3 different words"))
    expect(page.get_by_role("group", name=re.compile(r"^Actions taken"))).to_contain_text(
        "Choose at least one action taken."
    )
    expect(banner(page)).to_contain_text(ITEM_9)
    check_accessibility(page, checked)
    actions.get_by_label("Contacted the patient", exact=True).check()
    actions.get_by_label("Safety plan reviewed with the patient", exact=True).check()
    words.fill(ACTION)
    page.get_by_role("button", name="Acknowledge with these actions").click()
    expect(flash(page, "acknowledged")).to_have_text("Alert acknowledged; the actions taken are recorded.")
    acknowledgement = page.get_by_role("region", name="Acknowledgement")
    expect(acknowledgement).to_contain_text(f"Acknowledged by {SUPERVISOR_NAME}")
    expect(acknowledgement).to_contain_text("Contacted the patient")
    expect(acknowledgement).to_contain_text("Safety plan reviewed with the patient")
    expect(acknowledgement).to_contain_text(ACTION)
    expect(banner(page)).to_have_count(0)
    check_accessibility(page, checked)
    page.screenshot(path=str(ARTIFACTS / "safety-alert-acknowledged.png"), full_page=True)

    # 5. The patient has left the queue (other walkthroughs' alerts may be there) and their pages show no banner.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Safety alerts").click()
    expect(page.get_by_role("heading", name="Safety alerts", level=1)).to_be_visible()
    expect(page.get_by_role("row").filter(has_text=PATIENT_LINK)).to_have_count(0)
    check_accessibility(page, checked)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Patients").click()
    page.get_by_role("link", name=PATIENT_LINK).click()
    expect(page.get_by_role("heading", name=PATIENT_NAME, level=1)).to_be_visible()
    expect(banner(page)).to_have_count(0)
    check_accessibility(page, checked)
    page.get_by_role("link", name="Measures, trends and results").click()
    expect(page.get_by_role("region", name="Safety alerts")).to_contain_text(f"acknowledged by {SUPERVISOR_NAME}")
    expect(page.locator("svg.trend-chart")).to_have_count(1)
    check_accessibility(page, checked)
    sign_out(page, checked)

    # login, caseload, patient, measures, form, result, patient, checklist, signed out; login, caseload, queue,
    # alert, refused, acknowledged, queue, patient, measures, signed out.
    assert len(checked) == 9 + 10, checked
