"""Every outcome of DESIGN section 1, walked in a real Chromium with JavaScript on and off.

Each walk clicks what a person clicks; every page it lands on passes axe-core's WCAG 2.1 A and
AA rules (`Visitor.arrive`). The JavaScript run takes the README's screenshots (in Swedish).
"""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import BrowserContext, expect

from tests.browser.site import (
    ANNA,
    ANNA_EMAIL,
    ERIK,
    JOHAN,
    MATTI,
    MIKKO,
    PASSWORD,
    Site,
    Visitor,
)


def test_completed(visitor: Visitor, site: Site) -> None:
    """The four phases to "registration complete": one account, its confirmation email."""
    visitor.start(shots=True)
    expect(visitor.by_id("phase")).to_have_attribute("data-phase", "1")
    expect(visitor.by_id("bank-mobiilivarmenne")).to_be_visible()
    visitor.to_bank(shots=True)
    visitor.answer_bank("approve", ANNA)
    visitor.arrive("page-confirming_personal_id", shot="phase-2-personal-id")
    expect(visitor.by_id("phase")).to_have_attribute("data-phase", "2")
    visitor.click("action-confirm_personal_id")
    visitor.arrive("page-entering_details", shot="phase-3-details")
    expect(visitor.by_id("phase")).to_have_attribute("data-phase", "3")
    expect(visitor.page.locator("#field-given_names")).to_have_value("Anna-Liisa")
    expect(visitor.by_id("password-rules")).to_be_visible()  # the rules before typing
    visitor.submit_details()
    visitor.arrive("page-reviewing", shot="phase-4-review")
    expect(visitor.by_id("phase")).to_have_attribute("data-phase", "4")
    expect(visitor.by_id("summary-email")).to_have_text(ANNA_EMAIL)
    visitor.click("action-approve")
    visitor.arrive("page-completed", shot="completed")
    expect(visitor.by_id("username")).to_have_text(ANNA_EMAIL)
    expect(visitor.by_id("service-selection")).to_be_visible()
    expect(visitor.by_id("message-district_heating_not_linked")).to_have_count(0)
    assert site.has_account(ANNA)
    assert site.deliver_emails() == [ANNA_EMAIL]
    visitor.open("/demo/mailbox")
    visitor.arrive("page-mailbox", shot="demo-mailbox")
    expect(visitor.by_id("mail-to")).to_have_text(ANNA_EMAIL)


def test_completed_with_district_heating_not_linked(visitor: Visitor, site: Site) -> None:
    """Matti's district heating cannot be linked: the warning with the advisory's number and
    hours; a phone number changed in phase 3 is named as differing from the register."""
    visitor.to_review(MATTI, phone="+358 50 765 4321")
    visitor.click("action-approve")
    visitor.arrive("page-completed", shot="completed-district-heating-not-linked")
    warning = visitor.by_id("message-district_heating_not_linked")
    expect(warning).to_be_visible()
    advisory = visitor.by_id("contact-district_heating_advisory")
    expect(advisory).to_contain_text("09 617 8013")
    expect(advisory).to_contain_text("8.30\u201316.00")
    expect(visitor.by_id("message-changed_fields")).to_contain_text("Telefonnummer")
    assert site.has_account(MATTI)


@pytest.mark.parametrize(
    ("person", "reason"), [(ERIK, "customer_not_found"), (MIKKO, "incomplete_contract_data")]
)
def test_customer_service_outcomes(visitor: Visitor, site: Site, person: str, reason: str) -> None:
    """No customer record, or contract data that cannot identify: customer service's number."""
    visitor.identify(person)
    visitor.arrive(
        "page-needs_customer_service", shot=f"customer-service-{reason}".replace("_", "-")
    )
    expect(visitor.by_id(f"message-{reason}")).to_be_visible()
    expect(visitor.by_id("contact-customer_service")).to_contain_text("09 617 8080")
    expect(visitor.by_id("start-again")).to_be_visible()
    assert not site.has_account(person)


def test_already_registered(visitor: Visitor) -> None:
    """Johan has an account: the page says so, and its link leads to the login."""
    visitor.identify(JOHAN)
    visitor.arrive("page-already_registered", shot="already-registered")
    visitor.click("log-in")
    visitor.arrive("page-login")


def test_bank_not_listed(visitor: Visitor) -> None:
    """ "My bank is not on the list": customer service's number."""
    visitor.start()
    visitor.click("action-bank_not_listed")
    visitor.arrive("page-needs_customer_service")
    expect(visitor.by_id("message-bank_not_listed")).to_be_visible()
    expect(visitor.by_id("contact-customer_service")).to_contain_text("09 617 8080")


def test_cancel_at_the_bank(visitor: Visitor) -> None:
    """Cancelling at the bank returns to phase 1 with the reason; another bank then works."""
    visitor.start()
    visitor.to_bank()
    visitor.answer_bank("cancel")
    visitor.arrive("page-choosing_bank", shot="phase-1-cancelled-at-the-bank")
    expect(visitor.by_id("message-identification_cancelled")).to_be_visible()
    visitor.to_bank("op")
    visitor.answer_bank("approve", ANNA)
    visitor.arrive("page-confirming_personal_id")


def test_three_bank_errors(visitor: Visitor, site: Site) -> None:
    """Each bank error returns to phase 1 with the reason; the third ends with customer service."""
    visitor.start()
    for _ in range(2):
        visitor.to_bank()
        visitor.answer_bank("error")
        visitor.arrive("page-choosing_bank")
        expect(visitor.by_id("message-identification_rejected")).to_be_visible()
    visitor.to_bank()
    visitor.answer_bank("error")
    visitor.arrive("page-needs_customer_service")
    expect(visitor.by_id("message-identification_failed")).to_be_visible()
    expect(visitor.by_id("contact-customer_service")).to_contain_text("09 617 8080")
    assert not site.has_account(ANNA)


def test_cancel(visitor: Visitor, site: Site) -> None:
    """Cancel in review: the cancelled page, nothing registered, and "start again" starts anew."""
    visitor.to_review()
    visitor.click("action-cancel")
    visitor.arrive("page-cancelled", shot="cancelled")
    assert not site.has_account(ANNA)
    visitor.click("start-again")
    visitor.arrive("page-choosing_bank")


def test_expiry(visitor: Visitor, site: Site) -> None:
    """Past the flow's lifetime (the test clock) phase 3 gives way to "expired, start again"."""
    visitor.to_details()
    visitor.fill(post_office="Esbo")
    site.clock.advance(dt.timedelta(minutes=31))
    visitor.submit_details()
    visitor.arrive("page-expired", shot="expired")
    assert not site.has_account(ANNA)
    visitor.page.reload()
    visitor.arrive("page-expired")
    visitor.click("start-again")
    visitor.arrive("page-choosing_bank")


def test_field_errors(visitor: Visitor) -> None:
    """Refused details: every error beside its field and in the summary, values kept, never
    the password; a summary link leads to its field."""
    visitor.to_details()
    visitor.submit_details(password="lyhyt", given_names="", postal_code="123", email="anna@")
    visitor.arrive("page-entering_details", shot="phase-3-field-errors")
    summary = visitor.by_id("error-summary")
    expect(summary).to_be_visible()
    for field in ("given_names", "postal_code", "email", "password"):
        expect(visitor.by_id(f"error-{field}").first).to_be_visible()
        expect(summary.locator(f'a[href="#field-{field}"]').first).to_be_visible()
        expect(visitor.page.locator(f"#field-{field}")).to_have_attribute("aria-invalid", "true")
    expect(visitor.page.locator("#field-postal_code")).to_have_value("123")
    expect(visitor.page.locator("#field-email")).to_have_value("anna@")
    expect(visitor.page.locator("#field-password")).to_have_value("")
    summary.locator('a[href="#field-postal_code"]').click()
    expect(visitor.page.locator("#field-postal_code")).to_be_focused()
    visitor.submit_details(given_names="Anna-Liisa", postal_code="00100", email=ANNA_EMAIL)
    visitor.arrive("page-reviewing")


def test_edit_in_review(visitor: Visitor, site: Site) -> None:
    """Edit returns to phase 3 with the details entered; the change reaches the account."""
    visitor.to_review(post_office="Esbo")
    expect(visitor.by_id("summary-post_office")).to_have_text("Esbo")
    visitor.click("action-edit")
    visitor.arrive("page-entering_details")
    expect(visitor.page.locator("#field-post_office")).to_have_value("Esbo")
    visitor.submit_details(post_office="Vanda")
    visitor.arrive("page-reviewing")
    expect(visitor.by_id("summary-post_office")).to_have_text("Vanda")
    visitor.click("action-approve")
    visitor.arrive("page-completed")
    assert site.has_account(ANNA)


def test_stale_tab_cannot_approve_changed_data(
    visitor: Visitor, context: BrowserContext, site: Site
) -> None:
    """Review open in two tabs; one edits the details: Approve in the other (showing the old
    details) creates nothing and lands on review with a notice and the new details."""
    visitor.to_review(post_office="Esbo")
    other = Visitor(
        page=context.new_page(),
        site=site,
        axe=visitor.axe,
        screenshots=visitor.screenshots,
        javascript=visitor.javascript,
    )
    other.open("/register/review")
    other.arrive("page-reviewing")
    other.click("action-edit")
    other.arrive("page-entering_details")
    other.submit_details(post_office="Vanda")
    other.arrive("page-reviewing")
    expect(visitor.by_id("summary-post_office")).to_have_text("Esbo")  # the stale tab
    visitor.click("action-approve")
    visitor.arrive("page-reviewing")
    expect(visitor.by_id("notice")).to_have_attribute("data-code", "stale_review")
    expect(visitor.by_id("summary-post_office")).to_have_text("Vanda")
    assert not site.has_account(ANNA)
    visitor.click("action-approve")
    visitor.arrive("page-completed")
    assert site.has_account(ANNA)


def test_double_clicked_approve_creates_one_account(visitor: Visitor, site: Site) -> None:
    """Approve clicked twice in a row: the completed page, one account, one email."""
    visitor.to_review()
    visitor.by_id("action-approve").dblclick()
    visitor.arrive("page-completed")
    assert site.has_account(ANNA)
    assert site.deliver_emails() == [ANNA_EMAIL]


def test_language_switch_survives_the_bank(visitor: Visitor) -> None:
    """Swedish by default; Finnish chosen in phase 1 holds at the bank and after it; English
    chosen in phase 3 keeps the step and its values."""
    visitor.start()
    visitor.expect_language("sv")
    visitor.click("language-fi")
    visitor.arrive("page-choosing_bank")
    visitor.expect_language("fi")
    visitor.to_bank()
    visitor.expect_language("fi")
    visitor.answer_bank("approve", ANNA)
    visitor.arrive("page-confirming_personal_id")
    visitor.expect_language("fi")
    visitor.click("action-confirm_personal_id")
    visitor.arrive("page-entering_details")
    visitor.click("language-en")
    visitor.arrive("page-entering_details")
    visitor.expect_language("en")
    expect(visitor.page.locator("#field-given_names")).to_have_value("Anna-Liisa")
    visitor.click("language-sv")
    visitor.arrive("page-entering_details")
    visitor.expect_language("sv")


def test_log_in_with_the_new_account(visitor: Visitor) -> None:
    """After registering, the login with email and password lists the account's contracts."""
    visitor.register(ANNA)
    visitor.open("/login")
    visitor.arrive("page-login", shot="login")
    visitor.log_in(ANNA_EMAIL, "wrong password")
    visitor.arrive("page-login")
    expect(visitor.by_id("login-error")).to_be_visible()
    visitor.log_in(ANNA_EMAIL, PASSWORD)
    visitor.arrive("page-services", shot="service-selection")
    expect(visitor.by_id("account-email")).to_have_text(ANNA_EMAIL)
    expect(visitor.by_id("contract-E-100001-1")).to_be_visible()
    expect(visitor.by_id("contract-K-100001-1")).to_be_visible()
    visitor.click("log-out")
    visitor.arrive("page-login")


def _tab_to(visitor: Visitor, selector: str, *, limit: int = 60) -> None:
    """Press Tab until the element matching `selector` has the focus."""
    for _ in range(limit):
        visitor.page.keyboard.press("Tab")
        if visitor.page.locator(f"{selector}:focus").count() == 1:
            return
    pytest.fail(f"{selector} never got the focus in {limit} Tabs", pytrace=False)


def test_the_whole_registration_by_keyboard(visitor: Visitor, site: Site) -> None:
    """Tab, Enter and Space (and typing the password) alone take Oskari from the start page to
    "registration complete"; the first field error takes the focus via the summary."""
    keys = visitor.page.keyboard
    visitor.open("/")
    visitor.arrive("page-start")
    _tab_to(visitor, '[data-testid="start"]')
    keys.press("Enter")
    visitor.arrive("page-choosing_bank")
    _tab_to(visitor, '[data-testid="bank-nordea"]')
    keys.press("Enter")
    visitor.arrive("page-sim-bank")  # Oskari is the one chosen first
    _tab_to(visitor, '[data-testid="sim-bank-approve"]')
    keys.press("Space")
    visitor.arrive("page-confirming_personal_id")
    _tab_to(visitor, '[data-testid="action-confirm_personal_id"]')
    keys.press("Enter")
    visitor.arrive("page-entering_details")
    _tab_to(visitor, '[data-testid="action-submit_details"]')  # no password yet: refused
    keys.press("Enter")
    visitor.arrive("page-entering_details")
    _tab_to(visitor, '#error-summary a[href="#field-password"]')
    keys.press("Enter")
    expect(visitor.page.locator("#field-password")).to_be_focused()
    keys.type(PASSWORD)
    keys.press("Enter")
    visitor.arrive("page-reviewing")
    _tab_to(visitor, '[data-testid="action-approve"]')
    keys.press("Space")
    visitor.arrive("page-completed")
    assert site.has_account("010594Y239M")
