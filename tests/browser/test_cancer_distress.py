"""A patient with anxiety and depression in life-threatening cancer, in a real browser: the therapist enrols her for
anxiety and depression with life-threatening cancer (an indication no protocol accepted before), under the single
high-dose design of Griffiths 2016; her page carries the research marker; the therapist records a laboratory result
and an MEQ-30 after the session, and the result reads as a complete mystical experience. axe checks every page."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS, check_accessibility
from tests.browser.server import CO_THERAPIST_NAME, THERAPIST, THERAPIST_NAME
from tests.browser.test_screening_gate import flash, sign_in, sign_out
from tracker.instruments import get_instrument

pytestmark = pytest.mark.browser

PATIENT_NAME = "Celia Oncoward"
MARKER = "Research protocol \u2014 not an approved treatment"
#: MEQ-30 answers in item order: 4 (strong) everywhere but the three ineffability items at 3 (moderate): every
#: factor at 60% of its maximum or more, a complete mystical experience (Barrett 2015).
INEFFABILITY = {3, 10, 29}


def test_enrol_a_patient_with_cancer_related_distress_and_record_an_meq30(page: Any) -> None:
    from playwright.sync_api import expect

    checked: list[str] = []
    sign_in(page, checked, THERAPIST, THERAPIST_NAME)

    # 1. Enrol her: the indication is offered because a protocol accepts it.
    page.get_by_role("link", name="Enrol a patient").click()
    expect(page.get_by_role("heading", name="Enrol a patient")).to_be_visible()
    indication = page.get_by_label("Indication", exact=True)
    cancer = "Anxiety and depression with life-threatening cancer"
    expect(indication.locator("option", has_text=cancer)).to_have_count(1)
    expect(indication.locator("option", has_text="Other")).to_have_count(0)  # no protocol accepts it
    check_accessibility(page, checked)
    page.get_by_label("Given name", exact=True).fill("Celia")
    page.get_by_label("Family name", exact=True).fill("Oncoward")
    page.get_by_label("Date of birth", exact=True).fill("1961-09-02")
    page.get_by_label("Record number", exact=True).fill("BRW-ONC-1")
    indication.select_option(label=cancer)
    page.get_by_label("Protocol", exact=True).select_option(value="psilocybin-cancer-hopkins")
    page.get_by_label("Co-therapists", exact=True).select_option(label=CO_THERAPIST_NAME)
    page.get_by_role("button", name="Enrol patient").click()

    # 2. Her page: enrolled, the research marker, the pre-treatment evaluation.
    expect(page.get_by_role("heading", name=PATIENT_NAME, level=1)).to_be_visible()
    expect(flash(page, "was enrolled")).to_have_text(f"{PATIENT_NAME} was enrolled and starts in preparation.")
    expect(page.get_by_role("note").filter(has_text=MARKER)).to_be_visible()
    expect(page.get_by_role("region", name="Pre-treatment evaluation")).to_contain_text("No laboratory result")
    check_accessibility(page, checked)

    # 3. A laboratory result, out of its default range: flagged.
    page.get_by_role("link", name="Laboratory results").click()
    expect(page.get_by_role("heading", name=re.compile("^Pre-treatment evaluation"), level=1)).to_be_visible()
    check_accessibility(page, checked)
    page.get_by_label("Marker and unit", exact=True).select_option(value="magnesium|mmol/L")
    page.get_by_label("Value", exact=True).fill("0.68")
    page.get_by_role("button", name="Save the result").click()
    expect(flash(page, "Saved")).to_contain_text("Magnesium, serum 0.68 mmol/L, low")
    expect(page.get_by_role("table", name="The newest result of each marker")).to_contain_text("Low")
    check_accessibility(page, checked)
    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name=PATIENT_NAME).click()
    expect(page.get_by_role("region", name="Pre-treatment evaluation")).to_contain_text("Magnesium, serum")

    # 4. The MEQ-30, among the measures her protocol schedules.
    page.get_by_role("link", name="Measures, trends and results").click()
    expect(page.get_by_role("heading", name="Outcome measures", level=1)).to_be_visible()
    check_accessibility(page, checked)
    page.get_by_role("link", name="Record MEQ-30", exact=True).click()
    expect(page.get_by_role("heading", name="Record a MEQ-30", level=1)).to_be_visible()
    check_accessibility(page, checked)
    meq = get_instrument("meq30")
    for item in meq.items:
        group = page.get_by_role("group", name=f"{item.number}. {item.text}", exact=True)
        group.get_by_label("3 Moderate" if item.number in INEFFABILITY else "4 Strong", exact=True).check()
    page.get_by_role("button", name="Save the MEQ-30").click()

    # 5. The result: 117 of 150, every factor at 60% or more: a complete mystical experience.
    expect(page.get_by_role("heading", name=re.compile(r"^MEQ-30 of \d{4}-\d\d-\d\d$"), level=1)).to_be_visible()
    expect(flash(page, "Saved the MEQ-30")).to_contain_text("Saved the MEQ-30: 117 (read by factor)")
    score = page.get_by_role("region", name="Score")
    expect(score).to_contain_text("Complete mystical experience")
    expect(score).to_contain_text("met")
    expect(score.get_by_role("row", name=re.compile(r"^Ineffability"))).to_contain_text("9 (met)")
    check_accessibility(page, checked)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "meq30-result.png"), full_page=True)
    sign_out(page, checked)
