"""One registration through the real OIDC adapter and the test broker (tests/oidc_provider) on
loopback, the broker's login page driven in the browser like the simulated bank's."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from regflow.adapters.memory import ManualClock
from regflow.bootstrap import Config
from tests.browser.harness import Axe, LiveServer, Screenshots
from tests.browser.site import ANNA, Site, Visitor, web_config
from tests.oidc_fixtures import (
    OidcProviderProcess,
    _ProviderKeys,
    _running_provider,
)


@pytest.fixture
def broker(
    live_server: LiveServer, oidc_keys: _ProviderKeys, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OidcProviderProcess]:
    """The test broker with the live server's callback as its client's redirect."""
    with _running_provider(
        oidc_keys,
        tmp_path_factory.mktemp("browser_oidc"),
        redirect_uri=f"{live_server.url}/register/callback",
    ) as provider:
        yield provider


@pytest.fixture
def oidc_site(live_server: LiveServer, clock: ManualClock, broker: OidcProviderProcess) -> Site:
    """The web example with `OidcBankIdentity` for the test broker."""
    regflow = Config(demo=True, bank="oidc", oidc=broker.config())
    return Site.serve(live_server, web_config(clock, regflow=regflow), clock)


def test_registration_through_the_oidc_broker(
    page: Page, oidc_site: Site, axe: Axe, screenshots: Screenshots, javascript: bool
) -> None:
    """Nordea via the broker: its login page, Anna identified, the four phases, an account;
    cancelling at the broker the first time returns to phase 1 with the reason."""
    visitor = Visitor(page, oidc_site, axe, screenshots, javascript)
    visitor.start()
    expect(visitor.by_id("bank-op")).to_be_visible()
    visitor.click("bank-nordea")
    expect(visitor.page.get_by_role("heading", name="Test broker: identify")).to_be_visible()
    visitor.click("broker-cancel")
    visitor.arrive("page-choosing_bank")
    expect(visitor.by_id("message-identification_cancelled")).to_be_visible()
    visitor.click("bank-nordea")
    expect(visitor.page.get_by_role("heading", name="Test broker: identify")).to_be_visible()
    visitor.axe.check(visitor.page)
    visitor.page.locator("#account-anna").check()
    visitor.click("broker-identify")
    visitor.arrive("page-confirming_personal_id")
    expect(visitor.by_id("summary-personal_id")).to_have_text(ANNA)
    visitor.click("action-confirm_personal_id")
    visitor.arrive("page-entering_details")
    visitor.submit_details()
    visitor.arrive("page-reviewing")
    visitor.click("action-approve")
    visitor.arrive("page-completed")
    assert oidc_site.has_account(ANNA)
