"""Every outcome of DESIGN section 1, walked over HTTP the way a browser without JavaScript does."""

from __future__ import annotations

import datetime as dt

import pytest

from regflow import State
from regflow.adapters.memory import RecordingMailer
from regflow.outbox import deliver_pending_emails
from regflow_web.security import FLOW_COOKIE
from tests.web.site import PASSWORD, Site, text_of

ANNA, MATTI, MIKKO, ERIK, JOHAN = (
    "131052-308T",
    "240467-541E",
    "280699-255N",
    "071290-873K",
    "150380-123P",
)


def state_of(site: Site) -> State:
    """The state of the stored flow."""
    snapshot, _ = site.snapshot()
    return State(snapshot["state"])


def test_completed_walks_the_four_phases(site: Site) -> None:
    """Start, bank, personal identity code, details, review, Approve: one account, its email."""
    response = site.start()
    assert response.status_code == 200
    assert 'data-testid="page-choosing_bank"' in site.page
    assert text_of(site.page, "phase") is not None
    assert 'data-testid="bank-mobiilivarmenne"' in site.page
    site.at_bank("op")
    assert 'data-testid="page-sim-bank"' in site.page
    site.answer_bank("approve", ANNA)
    assert 'data-testid="page-confirming_personal_id"' in site.page
    assert text_of(site.page, "summary-personal_id") == ANNA
    site.event("confirm_personal_id")
    assert 'data-testid="page-entering_details"' in site.page
    assert 'value="Anna-Liisa"' in site.page  # prefilled from the customer register
    assert 'id="password-rules"' in site.page  # the rules are shown before typing
    site.submit()
    assert 'data-testid="page-reviewing"' in site.page
    assert text_of(site.page, "summary-email") == "anna-liisa.virtanen@example.fi"
    site.event("approve")
    assert 'data-testid="page-completed"' in site.page
    assert text_of(site.page, "username") == "anna-liisa.virtanen@example.fi"
    assert 'data-testid="service-selection"' in site.page
    assert "message-district_heating_not_linked" not in site.page
    accounts = site.web.regflow.storage.accounts
    assert accounts.exists_for_person(ANNA)
    deliver_pending_emails(site.web.regflow.ports)
    site.get("/demo/mailbox")
    assert text_of(site.page, "mail-to") == "anna-liisa.virtanen@example.fi"
    mailer = site.web.regflow.ports.mailer
    assert isinstance(mailer, RecordingMailer)
    assert len(mailer.sent) == 1


def test_completed_with_district_heating_not_linked_names_the_advisory(site: Site) -> None:
    """Matti's district heating contract cannot be linked: the warning, number and hours."""
    site.register(MATTI)
    assert 'data-testid="page-completed"' in site.page
    assert 'data-testid="message-district_heating_not_linked"' in site.page
    assert "09 617 8013" in site.page
    assert "8.30\u201316.00" in site.page


def test_fields_that_differ_from_the_register_are_named(site: Site) -> None:
    """A phone number changed in phase 3 is named on the completed page."""
    site.register(ANNA, phone="+358 50 765 4321")
    assert 'data-testid="message-changed_fields"' in site.page
    assert "Telefonnummer" in site.page  # the default language is Swedish


@pytest.mark.parametrize(
    ("person", "reason"),
    [(ERIK, "customer_not_found"), (MIKKO, "incomplete_contract_data")],
)
def test_customer_service_outcomes_show_the_number(site: Site, person: str, reason: str) -> None:
    """No customer record, or contract data that cannot identify: customer service's number."""
    site.identify(person)
    assert 'data-testid="page-needs_customer_service"' in site.page
    assert f'data-testid="message-{reason}"' in site.page
    assert 'data-testid="contact-customer_service"' in site.page
    assert "09 617 8080" in site.page


def test_already_registered_links_to_log_in(site: Site) -> None:
    """Johan has an account: the page says so and links to the login."""
    site.identify(JOHAN)
    assert 'data-testid="page-already_registered"' in site.page
    assert 'href="/login" data-testid="log-in"' in site.page


def test_bank_not_listed_leads_to_customer_service(site: Site) -> None:
    """ "My bank is not on the list" ends with customer service's number."""
    site.start()
    site.event("bank_not_listed")
    assert 'data-testid="page-needs_customer_service"' in site.page
    assert 'data-testid="message-bank_not_listed"' in site.page
    assert "09 617 8080" in site.page


def test_cancel_at_the_bank_returns_to_the_bank_list(site: Site) -> None:
    """Cancelling at the bank is the bank's answer: back to phase 1 with the reason."""
    site.start()
    site.at_bank()
    site.answer_bank("cancel")
    assert 'data-testid="page-choosing_bank"' in site.page
    assert 'data-testid="message-identification_cancelled"' in site.page


def test_three_bank_errors_end_in_customer_service(site: Site) -> None:
    """Each bank error returns to phase 1; the third ends with customer service."""
    site.start()
    for _ in range(2):
        site.at_bank()
        site.answer_bank("error")
        assert 'data-testid="message-identification_rejected"' in site.page
    site.at_bank()
    site.answer_bank("error")
    assert 'data-testid="page-needs_customer_service"' in site.page
    assert 'data-testid="message-identification_failed"' in site.page


def test_choose_another_bank_from_the_waiting_page(site: Site) -> None:
    """At the bank's waiting page, "choose another bank" goes back to phase 1."""
    site.start()
    response = site.client.post(
        "/register/select_bank",
        data={"csrf_token": site.web.signer.csrf_token(flow_id=site.flow_id), "bank_id": "op"},
    )
    assert response.status_code == 303
    site.get("/register/at-bank")
    assert 'data-testid="continue-at-bank"' in site.page
    site.event("choose_other_bank")
    assert 'data-testid="page-choosing_bank"' in site.page


@pytest.mark.parametrize("where", ["bank", "personal_id", "details", "review"])
def test_cancel_from_any_phase(site: Site, where: str) -> None:
    """Cancel in every phase leads to the cancelled page, and nothing is registered."""
    site.start()
    if where != "bank":
        site.at_bank()
        site.answer_bank("approve", ANNA)
    if where in {"details", "review"}:
        site.event("confirm_personal_id")
    if where == "review":
        site.submit()
    site.event("cancel")
    assert 'data-testid="page-cancelled"' in site.page
    assert 'data-testid="start-again"' in site.page
    assert not site.web.regflow.storage.accounts.exists_for_person(ANNA)


def test_expiry_shows_start_again(site: Site) -> None:
    """Past the flow's lifetime the step answers 410 with "start again", which starts anew."""
    site.to_details()
    site.clock.advance(dt.timedelta(minutes=31))
    response = site.follow(site.get("/register/details"))
    assert response.status_code == 410
    assert 'data-testid="page-expired"' in site.page
    site.post("/register/start", {})
    assert 'data-testid="page-choosing_bank"' in site.page


def test_an_expired_flow_refuses_a_post_and_shows_expired(site: Site) -> None:
    """A POST after expiry lands on the expired page; nothing is registered; the dead flow
    cookie is dropped."""
    site.to_details()
    flow_id = site.flow_id
    site.clock.advance(dt.timedelta(hours=1))
    response = site.submit()
    assert response.status_code == 410
    assert site.client.cookies.get(FLOW_COOKIE) is None
    stored = site.web.regflow.storage.flows.load(flow_id)
    assert stored.snapshot["state"] == State.expired


def test_unknown_flow_cookie_gets_the_expired_page(site: Site) -> None:
    """A cookie naming no flow (purged, forged) gets "expired, start again", never an error."""
    site.client.cookies.set("regflow_flow", "A" * 32)
    response = site.follow(site.get("/register"))
    assert response.status_code == 410
    assert 'data-testid="page-expired"' in site.page


def test_edit_in_review_keeps_the_details(site: Site) -> None:
    """Edit from review returns to phase 3 with what was entered; a change reaches review."""
    site.to_details()
    site.submit(post_office="Esbo")
    site.event("edit")
    assert 'data-testid="page-entering_details"' in site.page
    assert 'value="Esbo"' in site.page
    site.submit(post_office="Vanda")
    assert text_of(site.page, "summary-post_office") == "Vanda"


def test_login_with_the_new_account_lists_its_contracts(site: Site) -> None:
    """After registering, log in with email and password: service selection lists contracts."""
    site.register(ANNA)
    site.get("/login")
    assert "<footer" in site.page
    assert 'href="/login"' in site.page.split("<footer", 1)[1]
    site.post("/login", {"email": "anna-liisa.virtanen@example.fi", "password": PASSWORD})
    assert 'data-testid="page-services"' in site.page
    assert 'data-testid="contract-E-100001-1"' in site.page
    assert 'data-testid="contract-K-100001-1"' in site.page
    site.get("/")  # signed in, the footer offers the service selection, not "Log in"
    footer = site.page.split("<footer", 1)[1]
    assert 'href="/services"' in footer
    assert 'href="/login"' not in footer
    site.get("/services")
    site.post("/logout", {})
    assert 'data-testid="page-login"' in site.page
    assert site.follow(site.get("/services")).status_code == 200
    assert 'data-testid="page-login"' in site.page


def test_service_selection_names_whom_to_call_for_a_pending_contract(site: Site) -> None:
    """Matti's unlinked district heating contract is listed as pending, with the advisory."""
    site.register(MATTI)
    matti = site.web.regflow.storage.accounts.find_by_email("matti.meikalainen@example.fi")
    assert matti is not None
    site.get("/login")
    site.post("/login", {"email": matti.email, "password": PASSWORD})
    assert 'data-testid="page-services"' in site.page
    start = site.page.index('data-testid="pending-district_heating"')
    pending = site.page[start : site.page.index("</li>", start)]
    assert "Fjärrvärme" in pending  # the default language is Swedish
    assert "09 617 8013" in pending
    assert "8.30\u201316.00" in pending


def test_wrong_password_and_throttling(site: Site) -> None:
    """A wrong password answers 401; after ten failures even the right one gets 429."""
    site.register(ANNA)
    site.get("/login")
    email = "anna-liisa.virtanen@example.fi"
    response = site.post("/login", {"email": email, "password": "wrong"})
    assert response.status_code == 401
    assert text_of(site.page, "login-error")
    for _ in range(9):
        site.post("/login", {"email": email, "password": "wrong"})
    response = site.post("/login", {"email": email, "password": PASSWORD})
    assert response.status_code == 429
    assert "UTC" in (text_of(site.page, "login-error") or "")


def test_business_customers_are_sent_to_customer_service(site: Site) -> None:
    """Only consumer customers register themselves; business customers get the number."""
    site.get("/")
    response = site.post("/register/start", {"customer_type": "business"})
    assert response.status_code == 422
    assert "09 617 8080" in site.page


def test_the_default_storage_sqlite_file_serves_a_registration(tmp_path: object) -> None:
    """On a SQLite file (the demo's default) a registration completes and its account is read."""
    from regflow import Argon2Hasher
    from regflow.bootstrap import Config
    from regflow_web import WebConfig
    from regflow_web.config import SIM_BANK_PATH

    site = Site(
        WebConfig(
            regflow=Config(
                database_url=f"sqlite:///{tmp_path}/web.sqlite3",
                demo=True,
                simulated_bank_url=SIM_BANK_PATH,
            ),
            hasher=Argon2Hasher.insecure_fast(),
            secret_key=b"s" * 32,
        )
    )
    site.register(ANNA)
    assert text_of(site.page, "username") == "anna-liisa.virtanen@example.fi"
    site.web.regflow.close()
