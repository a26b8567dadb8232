"""Batch printing in a real browser: the therapist ticks a patient on the batch page, the script starts the job,
shows the progress ("1 of 1 ready") and downloads one PDF holding that patient's integration plan. The plan page
offers "Print / PDF". axe checks the pages on the way."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from tests.browser.conftest import check_accessibility
from tests.browser.server import PLAN_FAMILY_NAME, PLAN_GIVEN_NAME, THERAPIST, THERAPIST_NAME
from tests.browser.test_screening_gate import sign_in

pytestmark = pytest.mark.browser


def test_a_batch_of_plans_shows_progress_and_downloads_one_pdf(page: Any) -> None:
    from playwright.sync_api import expect

    checked: list[str] = []
    sign_in(page, checked, THERAPIST, THERAPIST_NAME)
    page.get_by_role("link", name=f"{PLAN_FAMILY_NAME}, {PLAN_GIVEN_NAME}").click()
    page.get_by_role("link", name="Integration plan").first.click()
    expect(page.get_by_role("link", name="Print / PDF")).to_be_visible()

    page.get_by_role("link", name="Print batch").click()
    expect(page.get_by_role("heading", name="Print a batch of reports", level=1)).to_be_visible()
    check_accessibility(page, checked)
    page.get_by_label("The patients I tick below").check()
    page.get_by_label(f"{PLAN_FAMILY_NAME}, {PLAN_GIVEN_NAME}", exact=False).check()
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Make the PDF").click()
    expect(page.locator("#batch-progress-text")).to_contain_text("1 ready")
    download = download_info.value
    pdf = Path(download.path()).read_bytes()
    assert pdf.startswith(b"%PDF")
    text = " ".join(p.extract_text() for p in PdfReader(BytesIO(pdf)).pages)
    assert f"{PLAN_GIVEN_NAME} {PLAN_FAMILY_NAME}" in text
    assert "Your integration plan" in text
