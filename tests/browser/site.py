"""The web example as the browser walks see it: the app on a live server, and a `Visitor`
that clicks through the registration in Chromium.

Every page the visitor lands on is checked by axe-core (WCAG 2.1 A and AA) before the walk
goes on, so each walk checks the pages of the states it passes through, with JavaScript on
and off; `shot=` names the page's screenshot (taken in the JavaScript run only).
"""

from __future__ import annotations

from typing import Any, Final

import attrs
from playwright.sync_api import Locator, Page, expect

from regflow import Argon2Hasher, State
from regflow.adapters.memory import ManualClock, RecordingMailer
from regflow.bootstrap import Config
from regflow.outbox import deliver_pending_emails
from regflow_web import WebConfig, create_app
from regflow_web.app import Web
from regflow_web.config import SIM_BANK_PATH
from regflow_web.security import FLOW_COOKIE
from tests.browser.harness import Axe, LiveServer, Screenshots

PASSWORD: Final = "Kes\u00e4-Aamu-2024-Xq"  # meets the guide's rules, shares no name with anyone
ANNA, OSKARI, MATTI, MIKKO, ERIK, JOHAN = (
    "131052-308T",
    "010594Y239M",
    "240467-541E",
    "280699-255N",
    "071290-873K",
    "150380-123P",
)
ANNA_EMAIL: Final = "anna-liisa.virtanen@example.fi"


def web_config(clock: ManualClock, **changes: Any) -> WebConfig:
    """The demo app in memory, with a cheap argon2id and the test's clock."""
    config = WebConfig(
        regflow=Config(demo=True, simulated_bank_url=SIM_BANK_PATH),
        hasher=Argon2Hasher.insecure_fast(),
        clock=clock,
        secret_key=b"browser-tests-only" * 2,
    )
    return attrs.evolve(config, **changes)


@attrs.define
class Site:
    """The app under test on its live server."""

    url: str
    web: Web
    clock: ManualClock

    @classmethod
    def serve(cls, server: LiveServer, config: WebConfig, clock: ManualClock) -> Site:
        """Build the app for `config` and serve it on `server`."""
        app = create_app(config)
        server.start(app)
        return cls(url=server.url, web=app.state.web, clock=clock)

    def has_account(self, personal_id: str) -> bool:
        """Whether an account exists for the person."""
        return bool(self.web.regflow.storage.accounts.exists_for_person(personal_id))

    def deliver_emails(self) -> list[str]:
        """Run the relay once; the recipients of everything sent so far."""
        deliver_pending_emails(self.web.regflow.ports)
        mailer = self.web.regflow.ports.mailer
        assert isinstance(mailer, RecordingMailer)
        return [message.to for message in mailer.sent]

    def state_of(self, flow_id: str) -> State:
        """The stored flow's state."""
        return State(self.web.regflow.storage.flows.load(flow_id).snapshot["state"])


@attrs.define
class Visitor:
    """One person in one browser tab, walking the registration."""

    page: Page
    site: Site
    axe: Axe
    screenshots: Screenshots
    javascript: bool

    # -- looking ------------------------------------------------------------------------------

    def by_id(self, testid: str) -> Locator:
        """The element with `data-testid=testid`."""
        return self.page.get_by_test_id(testid)

    def arrive(self, testid: str, *, shot: str | None = None) -> None:
        """Wait for the page `testid`, check it with axe, and take its screenshot if named."""
        expect(self.by_id(testid)).to_be_visible()
        self.axe.check(self.page)
        if shot is not None and self.javascript:
            self.screenshots.take(self.page, shot)

    def expect_language(self, language: str) -> None:
        """The page is in `language` (its `<html lang>`) and the switch says so."""
        expect(self.page.locator("html")).to_have_attribute("lang", language)
        expect(self.by_id(f"language-{language}")).to_have_attribute("aria-current", "true")

    def flow_id(self) -> str:
        """The flow cookie's value (HttpOnly: the page's scripts cannot read it)."""
        cookies = {c["name"]: c["value"] for c in self.page.context.cookies()}
        return cookies[FLOW_COOKIE]

    # -- doing ---------------------------------------------------------------------------------

    def open(self, path: str) -> None:
        """Go to `path` on the site."""
        self.page.goto(self.site.url + path)

    def click(self, testid: str) -> None:
        """Click the element `testid`."""
        self.by_id(testid).click()

    def start(self, *, shots: bool = False) -> None:
        """From the start page to phase 1."""
        self.open("/")
        self.arrive("page-start", shot="start" if shots else None)
        self.click("start")
        self.arrive("page-choosing_bank", shot="phase-1-bank" if shots else None)

    def to_bank(self, bank: str = "nordea", *, shots: bool = False) -> None:
        """Choose `bank` in phase 1 and arrive at the simulated bank."""
        self.click(f"bank-{bank}")
        self.arrive("page-sim-bank", shot="phase-1-at-the-bank" if shots else None)

    def answer_bank(self, answer: str = "approve", personal_id: str = ANNA) -> None:
        """At the simulated bank: pick the person and answer."""
        self.page.locator(f"#person-{personal_id}").check()
        self.click(f"sim-bank-{answer}")

    def identify(self, personal_id: str = ANNA, *, shots: bool = False) -> None:
        """Start, and identify at the bank as `personal_id`."""
        self.start(shots=shots)
        self.to_bank(shots=shots)
        self.answer_bank("approve", personal_id)

    def to_details(self, personal_id: str = ANNA, *, shots: bool = False) -> None:
        """Through phases 1 and 2 to phase 3."""
        self.identify(personal_id, shots=shots)
        self.arrive("page-confirming_personal_id", shot="phase-2-personal-id" if shots else None)
        expect(self.by_id("summary-personal_id")).to_have_text(personal_id)
        self.click("action-confirm_personal_id")
        self.arrive("page-entering_details", shot="phase-3-details" if shots else None)

    def fill(self, **fields: str) -> None:
        """Fill phase 3's fields (`password` too)."""
        for name, value in fields.items():
            self.page.locator(f"#field-{name}").fill(value)

    def submit_details(self, password: str = PASSWORD, **fields: str) -> None:
        """Fill phase 3 with `fields` and the password, and go on."""
        self.fill(**fields, password=password)
        self.click("action-submit_details")

    def to_review(self, personal_id: str = ANNA, *, shots: bool = False, **fields: str) -> None:
        """Through phase 3 to phase 4."""
        self.to_details(personal_id, shots=shots)
        self.submit_details(**fields)
        self.arrive("page-reviewing", shot="phase-4-review" if shots else None)

    def register(self, personal_id: str = ANNA, **fields: str) -> None:
        """The whole registration, to the completed page."""
        self.to_review(personal_id, **fields)
        self.click("action-approve")
        self.arrive("page-completed")

    def log_in(self, email: str, password: str = PASSWORD) -> None:
        """Log in on the login page."""
        self.page.locator("#field-email").fill(email)
        self.page.locator("#field-password").fill(password)
        self.click("log-in-submit")
