"""The admin's protocol pages in a real browser: the list and every protocol in full, each without an axe violation
(colour contrast of the warning badges and the help box among them)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import check_accessibility
from tests.browser.server import PASSWORD, SYDNEY_ADMIN, SYDNEY_ADMIN_NAME
from tracker.protocols import load_protocols

pytestmark = pytest.mark.browser


def test_the_protocol_pages_pass_axe(page: Any) -> None:
    from playwright.sync_api import expect

    checked: list[str] = []
    page.goto("/login")
    page.get_by_label("Username").fill(SYDNEY_ADMIN)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("navigation", name="Main")).to_contain_text(SYDNEY_ADMIN_NAME)
    page.goto("/admin/protocols")
    expect(page.get_by_role("heading", name="Protocols", level=1)).to_be_visible()
    check_accessibility(page, checked, strict=True)
    for code in sorted(load_protocols()):
        page.goto(f"/admin/protocols/{code}")
        expect(page.get_by_role("navigation", name="Breadcrumb")).to_contain_text(code)
        expect(page).to_have_url(re.compile(f"/admin/protocols/{code}$"))
        check_accessibility(page, checked, strict=True)
    assert len(checked) > 5
