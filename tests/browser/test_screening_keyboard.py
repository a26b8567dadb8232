"""Screening in one form, by keyboard alone: the checklist opens with its controls on the first screen; the therapist
answers every item of the MDMA protocol with Tab, the arrow keys, Space and typing, saves them all with Enter,
opens an item's history with Enter, and signs the checklist off, all without the mouse. axe checks each page."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS, check_accessibility
from tests.browser.server import KEYS_FAMILY_NAME, KEYS_GIVEN_NAME, THERAPIST, THERAPIST_NAME
from tests.browser.test_screening_gate import flash, item_card, sign_in
from tracker.protocols import ItemKind, load_protocols

pytestmark = pytest.mark.browser

PATIENT_LINK = f"{KEYS_FAMILY_NAME}, {KEYS_GIVEN_NAME}"
#: What is typed into the free-text requirements.
TYPED = {
    "support-contact": "Sam Keyes (brother)",
    "overnight-escort": "Sam stays the night",
    "baseline-vitals": "124/80 mmHg, 68 bpm",
}
#: The first letter typed into a requirement's list of values picks it.
PICKED = {"informed-consent": ("s", "signed"), "pregnancy-test": ("n", "negative")}


def tab_to(page: Any, target: Any, limit: int = 30) -> None:
    """Press Tab until ``target`` has the focus (the page's tab order reaches it within ``limit`` presses)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if target.evaluate("element => element === document.activeElement"):
            return
    raise AssertionError(f"Tab did not reach {target} within {limit} presses")


def test_a_checklist_is_completed_and_signed_off_by_keyboard_alone(page: Any) -> None:
    from playwright.sync_api import expect

    checked: list[str] = []
    mdma = load_protocols()["mdma-ptsd"]
    today = datetime.now(UTC).date()
    sign_in(page, checked, THERAPIST, THERAPIST_NAME)
    page.get_by_role("link", name=PATIENT_LINK).click()
    page.get_by_role("link", name="Screening checklist").click()
    expect(page.get_by_role("heading", name="Screening checklist", level=1)).to_be_visible()
    first = item_card(page, mdma.screening[0])
    expect(first.get_by_label("Yes", exact=True)).to_be_in_viewport()  # the first screen shows the controls
    check_accessibility(page, checked)

    page.locator("h1").focus()
    for item in mdma.screening:
        card = item_card(page, item)
        if item.kind is ItemKind.REQUIREMENT:
            recorded = card.get_by_label("Recorded", exact=True)
            tab_to(page, recorded)
            page.keyboard.press("Space")
            expect(recorded).to_be_checked()
            value = card.get_by_label("Value or result", exact=True)
            tab_to(page, value)
            if item.id in PICKED:
                page.keyboard.type(PICKED[item.id][0])
                expect(value).to_have_value(PICKED[item.id][1])
            else:
                page.keyboard.type(TYPED[item.id])
            done = card.get_by_label("Date done", exact=True)
            tab_to(page, done)
            page.keyboard.type(today.strftime("%m%d%Y"))
            expect(done).to_have_value(today.isoformat())
        else:
            tab_to(page, card.get_by_label("Yes", exact=True))  # Tab enters the group at its first button
            page.keyboard.press("ArrowRight")  # ... and the arrow moves to "No", choosing it
            expect(card.get_by_label("No", exact=True)).to_be_checked()
            expect(card.get_by_label("No", exact=True)).to_be_focused()
    save = page.get_by_role("button", name="Save all answers").last
    tab_to(page, save, limit=6)
    page.keyboard.press("Enter")
    expect(flash(page, "Saved")).to_have_text(f"Saved {len(mdma.screening)} answers.")
    expect(page.get_by_role("region", name="Sign-off")).to_contain_text("Every item has an answer.")
    expect(item_card(page, mdma.screening[0])).to_contain_text("Answer: No")
    expect(item_card(page, mdma.screening[-1])).to_contain_text(f"Answer: Recorded: negative, done {today}")
    check_accessibility(page, checked)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "screening-one-form.png"))

    # The history of an item, one key press away.
    card = item_card(page, mdma.screening[0])
    history = card.locator("summary")
    page.locator("h1").focus()
    tab_to(page, history, limit=8)
    page.keyboard.press("Enter")
    expect(card.get_by_role("list", name="Answers to this item, newest first")).to_contain_text(
        f"No by {THERAPIST_NAME}"
    )

    # The sign-off, by keyboard too.
    confirm = page.get_by_label("I have checked every answer with the patient's records; lock the checklist.")
    confirm.focus()
    page.keyboard.press("Space")
    expect(confirm).to_be_checked()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Sign off the checklist")).to_be_focused()
    page.keyboard.press("Enter")
    expect(flash(page, "signed off")).to_have_text("The screening checklist is signed off; its answers are locked.")
    expect(page).to_have_url(re.compile(r"/screening#sign-off$"))
    check_accessibility(page, checked)
    assert len(checked) == 5, checked
