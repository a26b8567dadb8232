"""Fixtures for the browser tests: the app served by a subprocess on 127.0.0.1, and Debian's Chromium driven
headless by Playwright.

Without ``/usr/bin/chromium`` (or Playwright) the tests are skipped on a workstation, but fail when ``CI`` is
set: CI must never pass by skipping them.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.databases import fresh_database
from tests.live import ROOT, ServerFailed, serve

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
BLOCKING_IMPACTS = ("serious", "critical")


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; browser tests may not be skipped in CI")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of the app, served by ``tests.browser.server`` on a fresh, migrated, seeded database."""
    log_path = tmp_path_factory.mktemp("browser") / "server.log"
    with fresh_database() as url:
        try:
            with serve(url, log_path) as base_url:
                yield base_url
        except ServerFailed as failure:
            pytest.fail(str(failure))


@pytest.fixture(scope="module")
def short_session_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Like ``live_server``, but login sessions end after ``SHORT_IDLE_SECONDS`` without activity."""
    from tests.browser.server import SHORT_IDLE_SECONDS

    log_path = tmp_path_factory.mktemp("browser-short") / "server.log"
    with fresh_database() as url:
        try:
            with serve(url, log_path, {"BROWSER_IDLE_TIMEOUT_SECONDS": str(SHORT_IDLE_SECONDS)}) as base_url:
                yield base_url
        except ServerFailed as failure:
            pytest.fail(str(failure))


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is not installed")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Any, live_server: str) -> Iterator[Any]:
    """A tablet-sized page in a fresh browser context, on ``live_server`` (``open_page``)."""
    with open_page(browser, live_server) as opened:
        yield opened


@contextlib.contextmanager
def open_page(browser: Any, base_url: str) -> Iterator[Any]:
    """A tablet-sized page in a fresh browser context.

    Script errors, console errors (CSP violations among them) and failed sub-resources (stylesheets, scripts)
    fail the test. Pages answered with an error status are left to the test (a refused move is a 409 page).
    """
    from playwright.sync_api import expect

    context = browser.new_context(base_url=base_url, viewport={"width": 1024, "height": 768})
    context.set_default_timeout(10_000)
    # Assertions wait as long as actions do (their default is 5 s): a form posted on a machine running both
    # suites and a load test beside them once took longer to come back than that.
    expect.set_options(timeout=10_000)
    page = context.new_page()
    problems: list[str] = []

    def on_console(message: Any) -> None:
        # Chromium also logs every response with an error status; those are checked below, by resource type.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            problems.append(f"console: {message.text} ({message.location.get('url')})")

    def on_response(response: Any) -> None:
        if response.status >= 400 and response.request.resource_type != "document":
            problems.append(f"{response.status} for {response.request.resource_type} {response.url}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    page.on("response", on_response)

    def on_failed(request: Any) -> None:
        # ERR_ABORTED: the browser cancelled the load because the page navigated on (a click or a redirect while a
        # script was still loading, as on a loaded CI machine); not a resource the page could not get.
        if "ERR_ABORTED" not in str(request.failure):
            problems.append(f"failed: {request.url} {request.failure}")

    page.on("requestfailed", on_failed)
    try:
        yield page
    finally:
        context.close()
    assert not problems, "the browser reported problems:\n" + "\n".join(problems)


def check_accessibility(page: Any, checked: list[str], *, strict: bool = False) -> None:
    """Run axe-core on the page as it is now; fail on any serious or critical violation (``strict``: on any
    violation at all, minor and moderate ones too)."""
    from axe_playwright_python.sync_playwright import Axe

    # A click returns once the next page's navigation commits; axe run before its stylesheets have loaded judged
    # the navigation links by Bootstrap's 55%-white default instead of our white (seen as a flaky 2.36:1).
    page.wait_for_load_state("load")
    violations = Axe().run(page).response["violations"]
    blocking = [v for v in violations if strict or v["impact"] in BLOCKING_IMPACTS]
    checked.append(page.url)
    assert not blocking, f"axe found {'' if strict else 'serious or critical '}problems on {page.url}:\n" + "\n".join(
        f"- {v['id']} ({v['impact']}): {v['help']} [{v['helpUrl']}]\n    at "
        + ", ".join(" ".join(map(str, node["target"])) for node in v["nodes"])
        for v in blocking
    )
