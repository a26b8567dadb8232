"""The dosing gate in a real browser: a therapist screens a patient with one relative contraindication and is
refused the move to dosing; the supervisor clears the item from the review queue; the therapist then moves the
patient to dosing. axe checks every page on the way."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS, check_accessibility
from tests.browser.server import (
    GATE_FAMILY_NAME,
    GATE_GIVEN_NAME,
    GATE_PROTOCOL,
    PASSWORD,
    SUPERVISOR,
    SUPERVISOR_NAME,
    THERAPIST,
    THERAPIST_NAME,
)
from tracker.protocols import ItemKind, Protocol, ScreeningItem, load_protocols

pytestmark = pytest.mark.browser

PATIENT_NAME = f"{GATE_GIVEN_NAME} {GATE_FAMILY_NAME}"
PATIENT_LINK = f"{GATE_FAMILY_NAME}, {GATE_GIVEN_NAME}"
FLAGGED = "substance-use-disorder"  # a relative contraindication: a review item, not an absolute exclusion
FLAGGED_NOTE = "Alcohol use disorder, in sustained remission since 2021."
#: What the therapist records for the free-text requirements (a requirement with choices gets its first
#: acceptable choice).
REQUIREMENT_VALUES = {
    "baseline-bp": "128/82 mmHg",
    "transportation-plan": "Partner drives her home",
}
RATIONALE = "In sustained remission for three years, confirmed with her GP; the benefit outweighs the risk."


def protocol() -> Protocol:
    return load_protocols()[GATE_PROTOCOL]


def item_card(page: Any, item: ScreeningItem) -> Any:
    """The checklist's card of ``item``, found by its heading."""
    return page.get_by_role("listitem").filter(has=page.get_by_role("heading", name=item.text, exact=True))


def flash(page: Any, text: str) -> Any:
    return page.get_by_role("status").filter(has_text=text)


def sign_in(page: Any, checked: list[str], username: str, full_name: str) -> None:
    from playwright.sync_api import expect

    page.goto("/login")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    check_accessibility(page, checked)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    # Therapists land on their day, supervisors on their dashboard; the walkthroughs start from the patient list.
    expect(page).to_have_url(re.compile(r"/(today|dashboard)$"))
    expect(page.get_by_role("navigation", name="Main")).to_contain_text(full_name)
    check_accessibility(page, checked)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Patients").click()
    expect(page).to_have_url(re.compile(r"/patients/$"))


def sign_out(page: Any, checked: list[str]) -> None:
    from playwright.sync_api import expect

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login\?ended=logout$"))
    expect(page.get_by_role("status")).to_have_text("You have signed out.")
    check_accessibility(page, checked)


def open_patient(page: Any, checked: list[str]) -> None:
    from playwright.sync_api import expect

    page.get_by_role("link", name=PATIENT_LINK).click()
    expect(page.get_by_role("heading", name=PATIENT_NAME, level=1)).to_be_visible()
    check_accessibility(page, checked)


def answer_item(page: Any, item: ScreeningItem, today: str) -> str:
    """Fill one item's controls on the checklist-wide form; returns the answer the card shows once saved."""
    card = item_card(page, item)
    if item.kind is ItemKind.REQUIREMENT:
        card.get_by_label("Recorded", exact=True).check()
        value = card.get_by_label("Value or result", exact=True)
        if item.choices:
            value.select_option(label=item.acceptable[0].capitalize())
        else:
            value.fill(REQUIREMENT_VALUES[item.id])
        card.get_by_label("Date done", exact=True).fill(today)
        shown = item.acceptable[0] if item.choices else REQUIREMENT_VALUES[item.id]
        return f"Answer: Recorded: {shown}, done {today}"
    saved = "Yes" if item.id == FLAGGED else "No"
    card.get_by_label(saved, exact=True).check()
    if item.id == FLAGGED:
        card.get_by_label("Note", exact=True).fill(FLAGGED_NOTE)
    return f"Answer: {saved}"


def test_flagged_screening_blocks_dosing_until_the_supervisor_clears_it(page: Any) -> None:
    from playwright.sync_api import expect

    checked: list[str] = []
    ketamine = protocol()
    flagged = ketamine.item(FLAGGED)
    assert flagged.kind is ItemKind.REVIEW
    assert ketamine.sessions.preparation == 1
    now = datetime.now(UTC)
    today = now.date().isoformat()
    needs_review = f"Needs a supervisor's review: {flagged.text}."
    eligibility = page.get_by_role("region", name=re.compile(r"^Eligibility:"))

    # 1. The therapist screens the patient: every item answered, one relative contraindication "yes".
    sign_in(page, checked, THERAPIST, THERAPIST_NAME)
    open_patient(page, checked)
    page.get_by_role("link", name="Screening checklist").click()
    expect(page.get_by_role("heading", name="Screening checklist", level=1)).to_be_visible()
    expect(eligibility.get_by_role("heading")).to_have_text("Eligibility: Incomplete")
    check_accessibility(page, checked)
    shown = {item.id: answer_item(page, item, today) for item in ketamine.screening}
    page.get_by_role("button", name="Save all answers").first.click()
    expect(flash(page, "Saved")).to_have_text(f"Saved {len(ketamine.screening)} answers.")
    for item in ketamine.screening:
        expect(item_card(page, item)).to_contain_text(shown[item.id])
    check_accessibility(page, checked)

    expect(page.get_by_role("region", name="Sign-off")).to_contain_text("Every item has an answer.")
    page.get_by_label("I have checked every answer with the patient's records; lock the checklist.").check()
    page.get_by_role("button", name="Sign off the checklist").click()
    expect(flash(page, "signed off")).to_have_text("The screening checklist is signed off; its answers are locked.")
    expect(page.get_by_role("region", name="Sign-off")).to_contain_text(f"Signed off by {THERAPIST_NAME}")
    expect(eligibility.get_by_role("heading")).to_have_text("Eligibility: Needs review")
    expect(eligibility.get_by_role("listitem")).to_have_text([needs_review])
    card = item_card(page, flagged)
    expect(card).to_contain_text("Waiting for a supervisor's review")
    expect(card).to_contain_text(f"Note: “{FLAGGED_NOTE}”")
    expect(card).to_contain_text("The supervisor of a therapist on the care team decides this item.")
    expect(card.get_by_label("Decision", exact=True)).to_have_count(0)  # a therapist does not review
    check_accessibility(page, checked)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "screening-checklist-needs-review.png"), full_page=True)

    # 2. The preparation session, logged on the patient page; the move to dosing is still refused.
    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name=PATIENT_NAME).click()
    expect(page.get_by_role("heading", name=PATIENT_NAME, level=1)).to_be_visible()
    sessions = page.get_by_role("region", name="Sessions")
    expect(sessions).to_contain_text("Preparation sessions: 0 of 1 held")
    check_accessibility(page, checked)
    sessions.get_by_text("Log a session that took place").click()
    sessions.get_by_label("Kind", exact=True).select_option(label="Preparation")
    sessions.get_by_label("Held at (UTC)", exact=True).fill((now - timedelta(days=1)).strftime("%Y-%m-%dT10:00"))
    sessions.get_by_label("Duration (minutes)", exact=True).fill("60")
    sessions.get_by_role("button", name="Log session").click()
    expect(flash(page, "session logged")).to_have_text("Preparation session logged.")
    expect(sessions).to_contain_text("Preparation sessions: 1 of 1 held.")
    latest = sessions.get_by_role("table", name="Latest sessions, newest first")
    expect(latest.get_by_role("row")).to_have_count(2)  # the header and the session
    check_accessibility(page, checked)

    # A preparation session counts for the gate once its note is signed.
    latest.get_by_role("link", name="Preparation 1 of 1").click()
    expect(page.get_by_role("heading", name="Preparation 1 of 1", level=1)).to_be_visible()
    check_accessibility(page, checked)
    note = page.locator("#note")
    note.get_by_label("Topics covered", exact=True).fill("The infusion day: the room, the monitoring, the drive home.")
    note.get_by_role("button", name="Save draft").click()
    expect(flash(page, "Draft saved")).to_have_text("Draft saved.")
    signature = page.get_by_role("region", name="Signature")
    signature.get_by_label("Your password", exact=True).fill(PASSWORD)
    signature.get_by_role("button", name="Sign note").click()
    expect(flash(page, "Note signed")).to_contain_text("Note signed.")
    check_accessibility(page, checked)
    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name=PATIENT_NAME).click()
    expect(page.get_by_role("heading", name=PATIENT_NAME, level=1)).to_be_visible()

    history = page.get_by_role("list", name="Phase history")
    page.get_by_label("Move to", exact=True).select_option(label="Dosing")
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/phase")) as refused:
        page.get_by_role("button", name="Move patient").click()
    assert refused.value.status == 409
    move_to = page.get_by_label("Move to", exact=True)
    expect(move_to).to_have_attribute("aria-invalid", "true")
    expect(move_to).to_have_accessible_description(re.compile(re.escape(needs_review)))
    expect(move_to).not_to_have_accessible_description(re.compile("preparation session|Before dosing"))
    expect(page.get_by_role("alert")).to_contain_text(needs_review)
    expect(history.get_by_role("listitem")).to_have_count(1)
    check_accessibility(page, checked)
    sign_out(page, checked)

    # 3. The supervisor finds the item in the review queue and clears it, in writing.
    sign_in(page, checked, SUPERVISOR, SUPERVISOR_NAME)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Screening reviews").click()
    expect(page.get_by_role("heading", name="Screening reviews", level=1)).to_be_visible()
    waiting = page.get_by_role("row").filter(has_text=PATIENT_LINK)
    expect(waiting).to_have_count(1)
    expect(waiting).to_contain_text(f"“Yes” from {THERAPIST_NAME}")
    expect(waiting).to_contain_text("today")
    check_accessibility(page, checked)
    page.screenshot(path=str(ARTIFACTS / "screening-review-queue.png"), full_page=True)

    waiting.get_by_role("link", name=flagged.text).click()
    expect(page).to_have_url(re.compile(rf"/screening#item-{FLAGGED}$"))
    expect(page.get_by_role("heading", name="Screening checklist", level=1)).to_be_visible()
    check_accessibility(page, checked)
    card = item_card(page, flagged)
    card.get_by_label("Decision", exact=True).select_option(label="Clear: the patient may proceed")
    card.get_by_label("Rationale", exact=True).fill(RATIONALE)
    card.get_by_role("button", name="Record the decision").click()
    expect(flash(page, "Review recorded")).to_have_text(f"Review recorded: cleared ({flagged.text}).")
    card = item_card(page, flagged)
    expect(card).to_contain_text(f"Supervisor's decision: cleared by {SUPERVISOR_NAME}")
    expect(card).to_contain_text(RATIONALE)
    expect(card).not_to_contain_text("Waiting for a supervisor's review")
    expect(eligibility.get_by_role("heading")).to_have_text("Eligibility: Eligible")
    check_accessibility(page, checked)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Screening reviews").click()
    expect(page.get_by_role("heading", name="Screening reviews", level=1)).to_be_visible()
    expect(page.get_by_role("row").filter(has_text=PATIENT_LINK)).to_have_count(0)
    check_accessibility(page, checked)
    sign_out(page, checked)

    # 4. The therapist moves the patient to dosing.
    sign_in(page, checked, THERAPIST, THERAPIST_NAME)
    open_patient(page, checked)
    expect(eligibility.get_by_role("heading")).to_have_text("Eligibility: Eligible")
    page.get_by_label("Move to", exact=True).select_option(label="Dosing")
    page.get_by_role("button", name="Move patient").click()
    expect(flash(page, "Moved to")).to_have_text("Moved to dosing.")
    expect(history.get_by_role("listitem")).to_have_count(2)
    expect(history.get_by_role("listitem").first).to_contain_text("Dosing from preparation")
    expect(history.get_by_role("listitem").first).to_contain_text(THERAPIST_NAME)
    expect(page.get_by_role("alert")).to_have_count(0)
    check_accessibility(page, checked)
    page.screenshot(path=str(ARTIFACTS / "patient-page-moved-to-dosing.png"), full_page=True)

    # login, caseload, patient, checklist, answers saved, signed off, patient, session logged, session page,
    # note signed, refused move, signed out; login, caseload, queue, checklist, decided, queue, signed out; login,
    # caseload, patient, moved.
    assert len(checked) == 4 + 1 + 7 + 7 + 4, checked
