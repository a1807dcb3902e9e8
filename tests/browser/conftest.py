"""Fixtures for the real-browser tests: one Chromium for the session, a fresh context per test
(with JavaScript on, and again with it off, for every walk that asks for `context` or `page`),
a live server per test, axe-core and the screenshots. The machinery is in `harness.py`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from regflow.adapters.memory import ManualClock
from tests.browser.harness import (
    Axe,
    LiveServer,
    Screenshots,
    axe_source,
    find_chromium,
    new_context,
)
from tests.browser.site import Site, Visitor, web_config
from tests.oidc_fixtures import oidc_keys  # noqa: F401  # a fixture (the OIDC walk's keys)


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    """Playwright's driver, for the whole session."""
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """One headless Debian Chromium shared by every test (each test has its own context)."""
    browser = playwright.chromium.launch(executable_path=find_chromium(), headless=True)
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def axe(browser: Browser) -> Iterator[Axe]:
    """axe-core for every page: `axe.check(page)` fails with each WCAG 2.1 A/AA violation."""
    source = axe_source()
    checker = new_context(browser, javascript=True)
    yield Axe(source=source, checker=checker)
    checker.close()


@pytest.fixture(scope="session")
def screenshots() -> Screenshots:
    """`screenshots.take(page, name)`: docs/screenshots/NAME.png (see `Screenshots`)."""
    return Screenshots.from_env()


@pytest.fixture(params=[True, False], ids=["js", "nojs"])
def javascript(request: pytest.FixtureRequest) -> bool:
    """Whether JavaScript runs in the test's browser context: every walk runs both ways."""
    return bool(request.param)


@pytest.fixture
def context(browser: Browser, javascript: bool) -> Iterator[BrowserContext]:
    """A fresh browser context for the test (its own cookies), closed afterwards."""
    context = new_context(browser, javascript=javascript)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    """A page in the test's context."""
    return context.new_page()


@pytest.fixture
def clock() -> ManualClock:
    """The test clock the app under test reads: `clock.advance(...)` moves time on."""
    return ManualClock()


@pytest.fixture
def live_server() -> Iterator[LiveServer]:
    """A loopback address for the test's app: `live_server.start(app)` serves it there."""
    server = LiveServer()
    yield server
    server.stop()


@pytest.fixture
def site(live_server: LiveServer, clock: ManualClock) -> Site:
    """The web example (demo data, in memory, the test clock) on a live server."""
    return Site.serve(live_server, web_config(clock), clock)


@pytest.fixture
def visitor(
    page: Page, site: Site, axe: Axe, screenshots: Screenshots, javascript: bool
) -> Visitor:
    """A visitor in the test's browser context, on the site."""
    return Visitor(page=page, site=site, axe=axe, screenshots=screenshots, javascript=javascript)
