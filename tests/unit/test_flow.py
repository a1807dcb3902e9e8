"""The registration flow's events, guards, outcomes and the one rule: return, or raise unchanged."""

from __future__ import annotations

import datetime as dt
import inspect
import json
import logging
from typing import Any

import attrs
import pytest
from transitions import MachineError

from regflow import (
    AdapterError,
    BankCallback,
    BankRedirect,
    CallbackMismatch,
    ContactDetails,
    Contract,
    ContractKind,
    DetailsRejected,
    EmailTaken,
    FlowExpired,
    GuardFailed,
    IdentificationFailed,
    InvalidTransition,
    RegistrationFlow,
    State,
    UnknownBank,
    UnsupportedCustomerType,
    UnsupportedLanguage,
    VerifiedPerson,
    deliver_pending_emails,
    machine,
    message_for,
)
from regflow.adapters.memory import (
    DEMO_CUSTOMERS,
    InMemoryAccountStore,
    InMemoryCustomerDirectory,
    RecordingMailer,
    SimulatedBank,
)
from regflow.emails import confirmation_message_id
from regflow.flow import FlowData, changed_fields
from regflow.policy import PersonalContext
from regflow.ports import Ports
from regflow.settings import Settings
from tests.flows import GOOD_PASSWORD, bank, clock, flow_in


def frozen(flow: RegistrationFlow) -> str:
    """The flow's whole observable state, for before/after comparisons."""
    return json.dumps(flow.snapshot(), sort_keys=True)


def identify(flow: RegistrationFlow, ports: Ports, personal_id: str) -> None:
    """Select a bank and identify as `personal_id`."""
    redirect = flow.select_bank("nordea")
    flow.complete_identification(bank(ports).approve(redirect, personal_id=personal_id))


def register(ports: Ports, personal_id: str, email: str) -> RegistrationFlow:
    """Run a whole registration for `personal_id` with `email`."""
    flow = RegistrationFlow.start(ports, language="fi")
    identify(flow, ports, personal_id)
    flow.confirm_personal_id()
    assert flow.prefilled is not None
    flow.submit_details(attrs.evolve(flow.prefilled, email=email), GOOD_PASSWORD)
    assert flow.review_token is not None
    flow.approve(flow.review_token)
    return flow


def test_start_makes_unguessable_ids(ports: Ports) -> None:
    """Flow ids carry at least 128 random bits, URL-safe, and do not repeat."""
    ids = {RegistrationFlow.start(ports).id for _ in range(500)}
    assert len(ids) == 500
    for flow_id in ids:
        assert len(flow_id) >= 22  # 22 base64 characters = 132 bits
        assert all(c.isalnum() or c in "-_" for c in flow_id)


def test_only_consumers_may_start(ports: Ports) -> None:
    """Any customer type but consumer is refused with UnsupportedCustomerType."""
    with pytest.raises(UnsupportedCustomerType) as info:
        RegistrationFlow.start(ports, customer_type="business")
    assert info.value.code == "unsupported_customer_type"


def test_unknown_bank_is_refused_and_changes_nothing(ports: Ports) -> None:
    """select_bank with an unlisted bank raises UnknownBank and leaves the flow as it was."""
    flow = RegistrationFlow.start(ports)
    before = frozen(flow)
    with pytest.raises(UnknownBank):
        flow.select_bank("bank-of-nowhere")
    assert frozen(flow) == before


def test_bank_not_listed_ends_in_customer_service(ports: Ports) -> None:
    """A user whose bank is not listed is sent to customer service, 09 617 8080."""
    flow = RegistrationFlow.start(ports)
    flow.bank_not_listed()
    assert flow.state is State.needs_customer_service
    assert flow.outcome is not None
    assert flow.outcome.reason == "bank_not_listed"
    assert [c.phone for c in flow.outcome.contacts] == ["09 617 8080"]


def test_choose_other_bank_returns_to_the_list(ports: Ports) -> None:
    """From the bank, the user can go back and choose another bank."""
    flow = RegistrationFlow.start(ports)
    flow.select_bank("op")
    flow.choose_other_bank()
    assert flow.state is State.choosing_bank
    assert flow.redirect is None


def test_bank_failures_count_and_the_third_ends_the_flow(ports: Ports) -> None:
    """Two failed identifications go back to the bank list; the third ends in customer service."""
    flow = RegistrationFlow.start(ports)
    redirect = flow.select_bank("op")
    flow.complete_identification(bank(ports).cancel(redirect))
    assert (flow.state, flow.last_error, flow.bank_failures) == (
        State.choosing_bank,
        "identification_cancelled",
        1,
    )
    redirect = flow.select_bank("op")
    flow.complete_identification(bank(ports).fail(redirect))
    assert (flow.state, flow.last_error) == (State.choosing_bank, "identification_rejected")
    redirect = flow.select_bank("op")
    flow.complete_identification(bank(ports).approve(redirect, personal_id="131052-308X"))
    assert flow.state is State.needs_customer_service
    assert flow.last_error == "invalid_personal_id"
    assert flow.outcome is not None
    assert flow.outcome.reason == "identification_failed"


FORGED_CALLBACKS = {
    "another-attempts-state": lambda real, other: {**real, "state": other["state"]},
    "no-state": lambda real, _other: {k: v for k, v in real.items() if k != "state"},
    "error-with-wrong-state": lambda _real, other: {"state": other["state"], "error": "x"},
}


@pytest.mark.parametrize("forge", FORGED_CALLBACKS.values(), ids=FORGED_CALLBACKS.keys())
def test_forged_callbacks_are_ignored_and_the_real_answer_completes(
    ports: Ports, forge: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Callbacks not of the pending attempt raise CallbackMismatch, change nothing, are counted
    as security events, and do not count as failures: the real answer then completes."""
    flow = RegistrationFlow.start(ports)
    redirect = flow.select_bank("op")
    real = bank(ports).approve(redirect, personal_id="131052-308T")
    other = bank(ports).begin("op", flow_id="the-attackers", language="fi")
    forged = BankCallback(
        forge(real.params, bank(ports).approve(other, personal_id="131052-308T").params)
    )
    before = frozen(flow)
    caplog.set_level(logging.INFO)
    for _ in range(ports.settings.max_bank_failures):
        with pytest.raises(CallbackMismatch) as raised:
            flow.complete_identification(forged)
        assert raised.value.code == "state_mismatch"
        assert frozen(flow) == before
    assert ports.security.count("state_mismatch") == ports.settings.max_bank_failures
    warnings = [r for r in caplog.records if r.name == "regflow.security"]
    assert len(warnings) == ports.settings.max_bank_failures
    assert all(r.levelno == logging.WARNING and flow.log_id in r.getMessage() for r in warnings)
    assert "131052" not in caplog.text
    flow.complete_identification(real)
    assert (flow.state, flow.bank_failures, flow.personal_id) == (
        State.confirming_personal_id,
        0,
        "131052-308T",
    )


def test_an_adapter_reporting_state_mismatch_as_a_failure_is_ignored_too(ports: Ports) -> None:
    """A bank adapter that raises plain IdentificationFailed(state_mismatch) gets the same
    treatment: CallbackMismatch, nothing changed, one security event."""

    class OldStyleBank(SimulatedBank):
        def complete(self, callback: BankCallback, expected: BankRedirect) -> VerifiedPerson:
            if callback.params.get("state") != expected.state:
                raise IdentificationFailed("state_mismatch")
            return super().complete(callback, expected)

    ports = attrs.evolve(ports, bank=OldStyleBank())
    flow = RegistrationFlow.start(ports)
    flow.select_bank("op")
    before = frozen(flow)
    with pytest.raises(CallbackMismatch):
        flow.complete_identification(BankCallback({"state": "forged", "code": "x"}))
    assert frozen(flow) == before
    assert ports.security.counts() == {"state_mismatch": 1}


def test_a_replayed_code_fails_identification(ports: Ports) -> None:
    """A bank code used once cannot identify a second time."""
    first = RegistrationFlow.start(ports)
    redirect = first.select_bank("op")
    callback = bank(ports).approve(redirect, personal_id="131052-308T")
    first.complete_identification(callback)
    second = RegistrationFlow.start(ports)
    redirect2 = second.select_bank("op")
    replay = attrs.evolve(callback, params={**callback.params, "state": redirect2.state})
    second.complete_identification(replay)
    assert (second.state, second.last_error) == (State.choosing_bank, "code_rejected")


@pytest.mark.parametrize(
    ("personal_id", "code"),
    [
        ("131052-308X", "invalid_personal_id"),
        ("131052-9085", "temporary_personal_id"),
        ("131052-900W", "temporary_personal_id"),  # 900, the first temporary individual number
    ],
)
def test_bad_personal_ids_from_the_bank_fail_identification(
    ports: Ports, personal_id: str, code: str
) -> None:
    """An invalid or temporary personal identity code is a failed identification, not a crash."""
    flow = RegistrationFlow.start(ports)
    identify(flow, ports, personal_id)
    assert (flow.state, flow.last_error) == (State.choosing_bank, code)


def test_temporary_codes_can_be_allowed(ports: Ports) -> None:
    """With allow_temporary_personal_ids, a temporary code is looked up like any other."""
    ports = attrs.evolve(ports, settings=Settings(allow_temporary_personal_ids=True))
    flow = RegistrationFlow.start(ports)
    identify(flow, ports, "131052-9085")
    assert flow.state is State.needs_customer_service
    assert flow.outcome is not None
    assert flow.outcome.reason == "customer_not_found"


def test_individual_number_899_is_not_temporary(ports: Ports) -> None:
    """899 is the last permanent individual number: looked up, not refused as temporary."""
    flow = RegistrationFlow.start(ports)
    identify(flow, ports, "131052-899V")
    assert flow.state is State.needs_customer_service
    assert flow.outcome is not None
    assert flow.outcome.reason == "customer_not_found"


@pytest.mark.parametrize(
    ("personal_id", "state", "reason"),
    [
        ("131052-308T", State.confirming_personal_id, None),
        ("010594Y239M", State.confirming_personal_id, None),
        ("071290-873K", State.needs_customer_service, "customer_not_found"),
        ("280699-255N", State.needs_customer_service, "incomplete_contract_data"),
        ("150380-123P", State.already_registered, "already_registered"),
    ],
)
def test_identification_outcomes(
    ports: Ports, personal_id: str, state: State, reason: str | None
) -> None:
    """Each demo person reaches the outcome the guide describes for their situation."""
    flow = RegistrationFlow.start(ports)
    identify(flow, ports, personal_id)
    assert flow.state is state
    if reason is None:
        assert flow.personal_id == personal_id
        assert flow.prefilled is not None
    else:
        assert flow.outcome is not None
        assert flow.outcome.reason == reason
        assert flow.personal_id is None  # nothing kept about a person we cannot register


def test_a_port_outage_changes_nothing(ports: Ports) -> None:
    """A bank or customer-system outage raises AdapterError and leaves the flow in awaiting_bank."""
    flow = RegistrationFlow.start(ports)
    redirect = flow.select_bank("op")
    callback = bank(ports).approve(redirect, personal_id="131052-308T")
    before = frozen(flow)
    bank(ports).outage = True
    with pytest.raises(AdapterError):
        flow.complete_identification(callback)
    assert frozen(flow) == before
    bank(ports).outage = False
    assert isinstance(ports.customers, InMemoryCustomerDirectory)
    ports.customers.outage = True
    with pytest.raises(AdapterError):
        flow.complete_identification(callback)
    assert frozen(flow) == before
    ports.customers.outage = False
    # The bank's code was spent before the directory failed: like a real broker, the retry is a
    # failed identification, and the user identifies again.
    flow.complete_identification(callback)
    assert (flow.state, flow.last_error) == (State.choosing_bank, "code_rejected")
    identify(flow, ports, "131052-308T")
    assert flow.state is State.confirming_personal_id


def test_every_field_error_is_reported_at_once(ports: Ports) -> None:
    """submit_details lists every problem (fields and password) and changes nothing."""
    flow = flow_in(State.entering_details, ports)
    before = frozen(flow)
    bad = ContactDetails(
        given_names="",
        family_name="Virtanen\x00",
        email="not-an-email",
        phone="12",
        street_address="x" * 300,
        postal_code="1234",
        post_office="Helsinki",
        language="de",
    )
    with pytest.raises(DetailsRejected) as info:
        flow.submit_details(bad, "short")
    codes = info.value.field_codes()
    assert codes["given_names"] == ["required"]
    assert codes["family_name"] == ["control_characters"]
    assert codes["email"] == ["invalid_email"]
    assert codes["phone"] == ["invalid_phone"]
    assert codes["street_address"] == ["too_long_field"]
    assert codes["postal_code"] == ["invalid_postal_code"]
    assert codes["language"] == ["invalid_language"]
    assert "too_short" in codes["password"]
    assert ("email", "invalid_email") in info.value.errors
    assert all(e.message("sv") for e in info.value.errors)
    assert frozen(flow) == before


def test_details_are_normalised(ports: Ports) -> None:
    """Valid details are stored normalised: E.164 phone, trimmed text, normalised email."""
    flow = flow_in(State.entering_details, ports)
    assert flow.prefilled is not None
    details = attrs.evolve(
        flow.prefilled,
        phone="040 123 4567",
        email="  Anna@Example.FI ",
        given_names=" Anna  Liisa ",
    )
    flow.submit_details(details, GOOD_PASSWORD)
    assert flow.details is not None
    assert flow.details.phone == "+358401234567"
    assert flow.details.email == "Anna@example.fi"
    assert flow.details.given_names == "Anna Liisa"


def test_an_email_in_use_is_rejected_case_insensitively(ports: Ports) -> None:
    """Another account's email, in any letter case, is rejected as email_taken."""
    flow = flow_in(State.entering_details, ports)
    assert flow.prefilled is not None
    with pytest.raises(DetailsRejected) as info:
        flow.submit_details(
            attrs.evolve(flow.prefilled, email="JOHAN.Eriksson@example.fi"), GOOD_PASSWORD
        )
    assert info.value.field_codes() == {"email": ["email_taken"]}


def test_a_taken_email_is_reported_beside_the_other_fields_errors(ports: Ports) -> None:
    """All errors at once: a wrong postal code does not hide that the email is taken."""
    flow = flow_in(State.entering_details, ports)
    assert flow.prefilled is not None
    taken = attrs.evolve(flow.prefilled, email="johan.eriksson@example.fi", postal_code="123")
    with pytest.raises(DetailsRejected) as info:
        flow.submit_details(taken, GOOD_PASSWORD)
    codes = info.value.field_codes()
    assert codes["email"] == ["email_taken"]
    assert "postal_code" in codes


def test_password_breaking_the_policy_is_rejected(ports: Ports) -> None:
    """A password with a run of the user's name is a field error on password."""
    flow = flow_in(State.entering_details, ports)
    assert flow.prefilled is not None
    with pytest.raises(DetailsRejected) as info:
        flow.submit_details(flow.prefilled, "Virtuoso2024x")
    assert info.value.field_codes() == {"password": ["contains_personal_info"]}


def test_happy_path_creates_account_links_contracts_and_queues_email(ports: Ports) -> None:
    """Approve creates the account with every linkable contract and queues one email."""
    flow = register(ports, "131052-308T", "anna@example.fi")
    assert flow.state is State.completed
    outcome = flow.outcome
    assert outcome is not None
    assert outcome.warnings == ()
    assert outcome.changed_fields == ("email",)
    accounts = ports.accounts
    assert isinstance(accounts, InMemoryAccountStore)
    account = accounts.find_by_email("ANNA@example.fi")
    assert account is not None
    assert account == accounts.find_by_id(outcome.account_id or "")
    assert account.linked_contracts == ("E-100001-1", "K-100001-1")
    assert account.personal_id == "131052-308T"
    assert ports.hasher.verify(account.password_hash, GOOD_PASSWORD)
    assert list(accounts.outbox) == [confirmation_message_id(flow.id)]


def test_master_record_is_never_changed(ports: Ports) -> None:
    """Edits go to the e-services profile; the customer directory keeps the master record."""
    master = ports.customers.find_by_personal_id("131052-308T")
    flow = RegistrationFlow.start(ports)
    identify(flow, ports, "131052-308T")
    flow.confirm_personal_id()
    assert flow.prefilled is not None
    edited = attrs.evolve(flow.prefilled, street_address="Uusi katu 1", email="anna@example.fi")
    flow.submit_details(edited, GOOD_PASSWORD)
    assert flow.review_token is not None
    outcome = flow.approve(flow.review_token)
    assert outcome.changed_fields == ("email", "street_address")
    assert ports.customers.find_by_personal_id("131052-308T") == master


def test_unlinkable_district_heating_warns_but_completes(ports: Ports) -> None:
    """A district heating contract lacking data is not linked; the user is told whom to call."""
    flow = register(ports, "240467-541E", "matti@example.fi")
    assert flow.state is State.completed
    assert flow.outcome is not None
    assert flow.outcome.warnings == ("district_heating_not_linked",)
    assert [(c.phone, c.hours) for c in flow.outcome.contacts] == [
        ("09 617 8013", "8.30\u201316.00")
    ]
    account = ports.accounts.find_by_email("matti@example.fi")
    assert account is not None
    assert account.linked_contracts == ("E-100003-1",)
    deliver_pending_emails(ports)
    assert isinstance(ports.mailer, RecordingMailer)
    assert "09 617 8013" in ports.mailer.sent[0].text


def test_contacts_are_configuration(ports: Ports) -> None:
    """Operators can change the contact numbers shown to the user."""
    custom = Settings(
        customer_service=attrs.evolve(Settings().customer_service, phone="010 000 0000")
    )
    ports = attrs.evolve(ports, settings=custom)
    flow = RegistrationFlow.start(ports)
    flow.bank_not_listed()
    assert flow.outcome is not None
    assert [c.phone for c in flow.outcome.contacts] == ["010 000 0000"]


def test_stale_review_token_cannot_approve(ports: Ports) -> None:
    """After edit and resubmit, the token of the old review page no longer approves."""
    flow = flow_in(State.reviewing, ports)
    old_token = flow.review_token
    assert old_token is not None
    flow.edit()
    assert flow.state is State.entering_details
    assert flow.details is not None  # details kept for editing
    flow.submit_details(attrs.evolve(flow.details, phone="+358409999999"), GOOD_PASSWORD)
    before = frozen(flow)
    with pytest.raises(GuardFailed) as info:
        flow.approve(old_token)
    assert info.value.code == "stale_review"
    assert frozen(flow) == before
    assert flow.review_token is not None
    flow.approve(flow.review_token)
    assert flow.state is State.completed


def test_review_token_lives_only_while_reviewing(ports: Ports) -> None:
    """Edit and approve both retire the review page's token: only reviewing carries one."""
    editing = flow_in(State.reviewing, ports)
    editing.edit()
    assert editing.review_token is None
    approved = flow_in(State.reviewing, ports)
    approved.approve(approved.review_token or "")
    assert approved.state is State.completed
    assert approved.review_token is None


def test_approve_failure_leaves_no_half_registration(ports: Ports) -> None:
    """An account store outage during approve keeps the flow in reviewing with no account."""
    flow = flow_in(State.reviewing, ports)
    accounts = ports.accounts
    assert isinstance(accounts, InMemoryAccountStore)
    before, count = frozen(flow), len(accounts.accounts)
    accounts.outage = True
    with pytest.raises(AdapterError):
        flow.approve(flow.review_token or "")
    accounts.outage = False
    assert frozen(flow) == before
    assert len(accounts.accounts) == count
    assert accounts.outbox == {}
    flow.approve(flow.review_token or "")
    assert flow.state is State.completed


def test_email_taken_between_review_and_approve(ports: Ports) -> None:
    """If another flow takes the email first, approve raises email_taken and stays in reviewing."""
    first = flow_in(State.reviewing, ports)
    other = RegistrationFlow.start(ports)
    identify(other, ports, "010594Y239M")
    other.confirm_personal_id()
    assert other.prefilled is not None
    other.submit_details(attrs.evolve(other.prefilled, email="ANNA@example.fi"), "Tulppaani84Xz")
    assert first.review_token is not None
    first.approve(first.review_token)
    before = frozen(other)
    with pytest.raises(EmailTaken):
        other.approve(other.review_token or "")
    assert frozen(other) == before
    assert other.state is State.reviewing


def test_flows_expire_and_are_renewed_by_events(ports: Ports) -> None:
    """Each event renews the expiry; an event after it expires the flow and raises FlowExpired."""
    flow = RegistrationFlow.start(ports)
    for _ in range(3):
        clock(ports).advance(dt.timedelta(minutes=20))
        flow.select_bank("op")
        clock(ports).advance(dt.timedelta(minutes=20))
        flow.choose_other_bank()
    clock(ports).advance(dt.timedelta(minutes=31))
    with pytest.raises(FlowExpired):
        flow.select_bank("op")
    assert flow.state is State.expired
    assert flow.outcome is not None
    assert flow.outcome.reason == "expired"
    with pytest.raises(InvalidTransition):
        flow.cancel()


def test_an_event_at_the_expiry_instant_is_still_in_time(ports: Ports) -> None:
    """Only events *after* expires_at expire the flow; one at the very instant is taken."""
    flow = RegistrationFlow.start(ports)
    clock(ports).advance(flow.expires_at - ports.clock.now())
    flow.select_bank("op")
    assert flow.state is State.awaiting_bank
    clock(ports).advance(flow.expires_at - ports.clock.now() + dt.timedelta(microseconds=1))
    with pytest.raises(FlowExpired):
        flow.choose_other_bank()


def test_cancel_from_anywhere_active(ports: Ports) -> None:
    """cancel ends any active flow in cancelled."""
    for state in (State.choosing_bank, State.awaiting_bank, State.reviewing):
        flow = flow_in(state, ports)
        flow.cancel()
        assert flow.state is State.cancelled


def test_audit_trail_has_no_personal_data(ports: Ports) -> None:
    """The audit trail records codes and states only: no names, emails or personal ids."""
    flow = register(ports, "131052-308T", "anna@example.fi")
    trail = json.dumps(flow.snapshot()["audit"])
    for secret in ("131052-308T", "anna", "Anna", "Virtanen", GOOD_PASSWORD, "example.fi"):
        assert secret not in trail
    assert [e.event for e in flow.audit] == [
        "start",
        "select_bank",
        "complete_identification",
        "confirm_personal_id",
        "submit_details",
        "approve",
    ]


def test_outbox_retries_with_backoff_and_sends_once(ports: Ports) -> None:
    """A refused send is retried after a backoff; the email is delivered exactly once."""
    flow = register(ports, "131052-308T", "anna@example.fi")
    mailer = ports.mailer
    assert isinstance(mailer, RecordingMailer)
    mailer.outage = True
    assert deliver_pending_emails(ports) == 0
    mailer.outage = False
    assert deliver_pending_emails(ports) == 0  # not due yet
    clock(ports).advance(dt.timedelta(seconds=31))
    assert deliver_pending_emails(ports) == 1
    assert deliver_pending_emails(ports) == 0
    assert [m.message_id for m in mailer.sent] == [confirmation_message_id(flow.id)]


def test_confirmation_email_greets_by_the_first_given_name(ports: Ports) -> None:
    """A person named Anna Liisa is greeted as Anna: not by every given name, not by surname."""
    flow = RegistrationFlow.start(ports, language="en")
    identify(flow, ports, "131052-308T")
    flow.confirm_personal_id()
    assert flow.prefilled is not None
    details = attrs.evolve(flow.prefilled, given_names="Anna Liisa", language="en")
    flow.submit_details(details, GOOD_PASSWORD)
    flow.approve(flow.review_token or "")
    assert deliver_pending_emails(ports) == 1
    mailer = ports.mailer
    assert isinstance(mailer, RecordingMailer)
    (sent,) = mailer.sent
    assert "Hello Anna," in sent.text


def test_a_failed_identification_drops_the_bank_attempt(ports: Ports) -> None:
    """After the bank reports an error, the flow keeps no state, nonce or secret of the attempt."""
    flow = RegistrationFlow.start(ports)
    redirect = flow.select_bank("nordea")
    flow.complete_identification(bank(ports).fail(redirect))
    assert flow.state is State.choosing_bank
    assert flow.data.pending is None


def test_confirmation_email_is_in_the_flow_language(ports: Ports) -> None:
    """With no language chosen in phase 3, the email is in the flow's language, text and HTML."""
    flow = RegistrationFlow.start(ports, language="sv")
    identify(flow, ports, "010594Y239M")
    flow.confirm_personal_id()
    assert flow.prefilled is not None
    flow.submit_details(attrs.evolve(flow.prefilled, language=""), "Tulppaani84Xz")
    flow.approve(flow.review_token or "")
    deliver_pending_emails(ports)
    assert isinstance(ports.mailer, RecordingMailer)
    (message,) = ports.mailer.sent
    assert message.subject == "Ditt konto för e-tjänsterna är klart"
    assert "oskari.korhonen@example.fi" in message.text
    assert message.html.startswith("<!doctype html>")
    assert message.to == "oskari.korhonen@example.fi"


def test_demo_customers_are_valid() -> None:
    """Every demo record's prefill data passes validation, so the demo can keep it as is."""
    from regflow.validation import validate_details

    for record in DEMO_CUSTOMERS:
        assert validate_details(record.details, Settings()) == record.details


def test_logs_carry_no_personal_data(ports: Ports, caplog: pytest.LogCaptureFixture) -> None:
    """A whole registration logs at DEBUG without the personal id, names, email or password."""
    caplog.set_level(logging.DEBUG)
    flow = register(ports, "131052-308T", "anna@example.fi")
    deliver_pending_emails(ports)
    text = caplog.text + repr(flow) + repr(flow.data) + repr(ports.flows)
    assert caplog.records  # the flow does log its steps
    for secret in ("131052-308T", "Virtanen", "anna@example.fi", GOOD_PASSWORD, flow.id):
        assert secret not in text


def test_unsupported_language_is_a_regflow_error(ports: Ports) -> None:
    """A language regflow does not speak is refused with a stable code."""
    with pytest.raises(UnsupportedLanguage) as info:
        RegistrationFlow.start(ports, language="de")
    assert info.value.code == "unsupported_language"


def test_changed_fields_compare_normalised_values(ports: Ports) -> None:
    """The same phone number written differently, or the email in capitals, is not a change."""
    master = DEMO_CUSTOMERS[0].details
    profile = attrs.evolve(master, phone="+358 40 1234567", email=master.email.upper())
    assert changed_fields(master, profile, Settings()) == ()
    assert changed_fields(master, attrs.evolve(master, language="sv"), Settings()) == ("language",)


def test_outcome_codes_have_messages(ports: Ports) -> None:
    """Every reason and warning a flow can report has a user-facing message in each language."""
    from regflow.machine import TRANSITIONS

    codes = {r.reason for r in TRANSITIONS if r.reason}
    codes |= {"district_heating_not_linked", "contract_not_linked"}
    for code in codes:
        for language in ("sv", "fi", "en"):
            assert message_for(code, language)


def test_an_overlong_password_is_refused_as_too_long(ports: Ports) -> None:
    """A 100 000-character password is a too_long field error, and the flow is unchanged."""
    flow = flow_in(State.entering_details, ports)
    assert flow.prefilled is not None
    before = frozen(flow)
    with pytest.raises(DetailsRejected) as info:
        flow.submit_details(flow.prefilled, "Aa1" * 33_334)
    assert "too_long" in info.value.field_codes()["password"]
    assert frozen(flow) == before


def test_flow_data_replace_changes_the_fields_given_and_keeps_the_rest() -> None:
    """FlowData._replace takes each field by name, like attrs.evolve, and copies the others."""
    names = [a.name for a in attrs.fields(FlowData)]
    assert list(inspect.signature(FlowData._replace).parameters) == ["self", *names]
    values: list[Any] = [object() for _ in names]
    data = FlowData(*values)
    assert attrs.astuple(data._replace(), recurse=False) == tuple(values)
    for index, name in enumerate(names):
        new = object()
        changed = data._replace(**{name: new})
        assert attrs.astuple(changed, recurse=False) == (*values[:index], new, *values[index + 1 :])


# -- what the flow hands its ports, and what it keeps ------------------------------------------


class RecordingRules:
    """The demo policy, recording the context and language of every check."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.checks: list[tuple[PersonalContext, str]] = []

    def check(self, password: str, context: PersonalContext, language: str = "en") -> Any:
        self.checks.append((context, language))
        return self.inner.check(password, context, language)

    def requirements(self, language: str = "en") -> Any:
        return self.inner.requirements(language)


def test_the_policy_checks_in_the_flows_language_with_the_person_as_context(
    ports: Ports,
) -> None:
    """The password is checked in the flow's language, against the person's names, email,
    personal identity code and birth date (read from the code), each capped at 256 characters."""
    rules = RecordingRules(ports.policy)
    ports = attrs.evolve(ports, policy=rules)
    flow = RegistrationFlow.start(ports, language="sv")
    identify(flow, ports, "131052-308T")
    flow.confirm_personal_id()
    assert flow.prefilled is not None
    flow.submit_details(attrs.evolve(flow.prefilled, email="anna@example.fi"), GOOD_PASSWORD)
    assert rules.checks == [
        (
            PersonalContext(
                given_names="Anna-Liisa",
                family_name="Virtanen",
                email="anna@example.fi",
                personal_id="131052-308T",
                birth_date=dt.date(1952, 10, 13),
            ),
            "sv",
        )
    ]
    flow.edit()
    long = attrs.evolve(flow.prefilled, given_names="A" * 300, family_name="B" * 300)
    with pytest.raises(DetailsRejected):
        flow.submit_details(attrs.evolve(long, email="c" * 300 + "@example.fi"), GOOD_PASSWORD)
    context, _ = rules.checks[-1]
    assert (context.given_names, context.family_name) == ("A" * 256, "B" * 256)
    assert context.email == "c" * 256


def test_requirements_are_in_the_flows_language_unless_asked_otherwise(ports: Ports) -> None:
    """The checklist is in the flow's language by default, or in the language asked for."""
    flow = RegistrationFlow.start(ports, language="sv")
    assert flow.requirements() == ports.policy.requirements("sv")
    assert flow.requirements("en") == ports.policy.requirements("en")
    assert flow.requirements() != flow.requirements("en")


class RecordingBank(SimulatedBank):
    """The simulated bank, recording what each `begin` was asked."""

    def __init__(self) -> None:
        super().__init__()
        self.begun: list[tuple[str, str, str]] = []

    def begin(self, bank_id: str, *, flow_id: str, language: str) -> BankRedirect:
        self.begun.append((bank_id, flow_id, language))
        return super().begin(bank_id, flow_id=flow_id, language=language)


def test_the_bank_is_asked_with_the_flows_id_and_language(ports: Ports) -> None:
    """select_bank asks the bank to begin with the flow's id and language; an unknown bank id
    or one that is not text is refused before the bank is asked, with the id in the error."""
    recording = RecordingBank()
    ports = attrs.evolve(ports, bank=recording)
    flow = RegistrationFlow.start(ports, language="en")
    for bad in ("bank-of-nowhere", 42, None):
        with pytest.raises(UnknownBank) as info:
            flow.select_bank(bad)  # type: ignore[arg-type]
        assert info.value.bank_id == bad
    assert recording.begun == []
    flow.select_bank("op")
    assert recording.begun == [("op", flow.id, "en")]


def test_the_low_level_constructor_refuses_an_unmapped_language(ports: Ports) -> None:
    """`RegistrationFlow(...)` takes only a language code as stored (no mapping) and names the
    first 8 characters of anything else."""
    now = clock(ports).now()
    with pytest.raises(UnsupportedLanguage) as info:
        RegistrationFlow(
            ports,
            flow_id="x" * 32,
            language="deutsch-de",
            customer_type="consumer",
            state=State.choosing_bank,
            created_at=now,
            expires_at=now,
            data=FlowData(),
            audit=(),
        )
    assert info.value.language == "deutsch-"


def test_details_and_password_of_the_wrong_type_are_type_errors(ports: Ports) -> None:
    """submit_details with details that are not ContactDetails, or a password that is not a
    str, is a programming error: a TypeError naming what was given."""
    flow = flow_in(State.entering_details, ports)
    assert flow.prefilled is not None
    with pytest.raises(TypeError, match=r"^details must be ContactDetails, not dict$"):
        flow.submit_details({}, GOOD_PASSWORD)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^password must be str, not bytes$"):
        flow.submit_details(flow.prefilled, b"pw")  # type: ignore[arg-type]


def test_the_audit_trail_names_each_rows_outcome(ports: Ports) -> None:
    """An event without a branch is "ok", a branch is named, a bank failure carries the bank's
    code."""
    flow = RegistrationFlow.start(ports)
    redirect = flow.select_bank("nordea")
    flow.complete_identification(bank(ports).cancel(redirect))
    redirect = flow.select_bank("nordea")
    flow.complete_identification(bank(ports).approve(redirect, personal_id="131052-308T"))
    flow.confirm_personal_id()
    assert [(e.event, e.outcome) for e in flow.audit] == [
        ("start", "ok"),
        ("select_bank", "ok"),
        ("complete_identification", "identification_cancelled"),
        ("select_bank", "ok"),
        ("complete_identification", "identified"),
        ("confirm_personal_id", "ok"),
    ]


def test_a_successful_identification_clears_the_attempt_and_the_last_error(
    ports: Ports,
) -> None:
    """After an identification that failed once, a successful one leaves no pending attempt
    and no last error; the personal identity code is kept in its compact form."""
    flow = RegistrationFlow.start(ports)
    redirect = flow.select_bank("nordea")
    flow.complete_identification(bank(ports).cancel(redirect))
    assert flow.last_error == "identification_cancelled"
    redirect = flow.select_bank("nordea")
    flow.complete_identification(bank(ports).approve(redirect, personal_id="131052-308t"))
    assert flow.state is State.confirming_personal_id
    assert (flow.redirect, flow.last_error, flow.bank_failures) == (None, None, 1)
    assert flow.personal_id == "131052-308T"


def test_a_mismatched_callback_is_logged_with_its_event_and_keeps_the_detail(
    ports: Ports, caplog: pytest.LogCaptureFixture
) -> None:
    """The security event names the event that saw it; an adapter's plain state_mismatch
    becomes CallbackMismatch with the adapter's detail."""

    class OldStyleBank(SimulatedBank):
        def complete(self, callback: BankCallback, expected: BankRedirect) -> VerifiedPerson:
            raise IdentificationFailed("state_mismatch", detail="state differs")

    ports = attrs.evolve(ports, bank=OldStyleBank())
    flow = RegistrationFlow.start(ports)
    flow.select_bank("op")
    with (
        caplog.at_level(logging.WARNING, logger="regflow.security"),
        pytest.raises(CallbackMismatch) as info,
    ):
        flow.complete_identification(BankCallback({"state": "forged"}))
    assert info.value.detail == "state differs"
    (record,) = [r for r in caplog.records if r.name == "regflow.security"]
    assert record.getMessage() == (
        f"security event state_mismatch: flow {flow.log_id}, complete_identification ignored"
    )


def test_an_invalid_email_is_not_looked_up(ports: Ports) -> None:
    """An email that failed validation is reported as such and never asked of the account
    store; a valid one is."""

    class Recording(InMemoryAccountStore):
        def __init__(self) -> None:
            super().__init__()
            self.asked: list[str] = []

        def exists_for_email(self, email: str) -> bool:
            self.asked.append(email)
            return True  # every email taken

    accounts = Recording()
    ports = attrs.evolve(ports, accounts=accounts)
    flow = flow_in(State.entering_details, ports)
    assert flow.prefilled is not None
    with pytest.raises(DetailsRejected) as info:
        flow.submit_details(attrs.evolve(flow.prefilled, email="not an email"), GOOD_PASSWORD)
    assert [e.field for e in info.value.errors] == ["email"]
    assert [e.code for e in info.value.errors] != ["email_taken"]
    assert accounts.asked == []
    with pytest.raises(DetailsRejected) as info:
        flow.submit_details(attrs.evolve(flow.prefilled, email="anna@example.fi"), GOOD_PASSWORD)
    assert [(e.field, e.code) for e in info.value.errors] == [("email", "email_taken")]
    assert accounts.asked == ["anna@example.fi"]


def test_review_tokens_and_account_ids_carry_their_random_bits(ports: Ports) -> None:
    """A review token holds 192 random bits (32 URL-safe characters), an account id 128 (22)."""
    flow = flow_in(State.reviewing, ports)
    assert flow.review_token is not None
    assert len(flow.review_token) == 32
    outcome = flow.approve(flow.review_token)
    assert outcome.account_id is not None
    assert len(outcome.account_id) == 22


def test_a_contract_that_cannot_be_linked_names_customer_service(ports: Ports) -> None:
    """An electricity contract lacking its site is not linked: the outcome warns
    `contract_not_linked` and gives customer service's contact; the email names no district
    heating advisory; every contract is recorded with its link state."""
    anna = DEMO_CUSTOMERS[0]
    record = attrs.evolve(
        anna,
        contracts=(
            Contract(ContractKind.electricity, "E-100001-1", "643000000000100001"),
            Contract(ContractKind.electricity, "E-100001-2", None),
        ),
    )
    ports = attrs.evolve(ports, customers=InMemoryCustomerDirectory([record]))
    flow = register(ports, anna.personal_id, "anna@example.fi")
    assert flow.outcome is not None
    assert flow.outcome.warnings == ("contract_not_linked",)
    assert flow.outcome.contacts == (ports.settings.customer_service,)
    account = ports.accounts.find_by_email("anna@example.fi")
    assert account is not None
    assert account.linked_contracts == ("E-100001-1",)
    accounts = ports.accounts
    assert isinstance(accounts, InMemoryAccountStore)
    links = accounts.contract_links(account.account_id)
    assert sorted(str(link.contract_number) for link in links) == ["E-100001-1", "E-100001-2"]
    deliver_pending_emails(ports)
    assert isinstance(ports.mailer, RecordingMailer)
    (sent,) = ports.mailer.sent
    assert ports.settings.district_heating_advisory.phone not in sent.text
    assert ports.settings.customer_service.phone in sent.text


def test_an_email_without_given_names_greets_by_the_family_name(ports: Ports) -> None:
    """Where given names are optional and left empty, the email greets by the family name."""
    settings = Settings(required_fields=Settings().required_fields - {"given_names"})
    ports = attrs.evolve(ports, settings=settings)
    flow = flow_in(State.entering_details, ports)
    assert flow.prefilled is not None
    details = attrs.evolve(flow.prefilled, given_names="", email="anna@example.fi", language="en")
    flow.submit_details(details, GOOD_PASSWORD)
    flow.approve(flow.review_token or "")
    deliver_pending_emails(ports)
    assert isinstance(ports.mailer, RecordingMailer)
    (sent,) = ports.mailer.sent
    assert "Hello Virtanen," in sent.text


def test_changed_fields_normalise_both_sides(ports: Ports) -> None:
    """The master record's side is normalised too: a phone in national form and an email in
    capitals in the master record equal the same values in the profile."""
    master = attrs.evolve(
        DEMO_CUSTOMERS[0].details, phone="040 123 4567", email="ANNA-LIISA@EXAMPLE.FI"
    )
    profile = attrs.evolve(master, phone="040 123 4567", email="anna-liisa@example.fi")
    assert changed_fields(master, profile, Settings()) == ()


def test_a_row_the_machine_refuses_after_all_is_an_invalid_transition(
    ports: Ports, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Should `transitions` refuse a row the flow found in the table (a bug in either), the
    event raises InvalidTransition naming the state, the event and what is allowed, and the
    flow is unchanged."""
    flow = flow_in(State.confirming_personal_id, ports)
    before = frozen(flow)

    def refuse(*_: object) -> bool:
        raise MachineError("refused")

    monkeypatch.setattr(machine, "fire", refuse)
    with pytest.raises(InvalidTransition) as info:
        flow.confirm_personal_id()
    assert (info.value.state, info.value.event) == ("confirming_personal_id", "confirm_personal_id")
    assert info.value.allowed == flow.allowed_events()
    assert isinstance(info.value.__cause__, MachineError)
    assert flow.state is State.confirming_personal_id
    assert frozen(flow) == before


def test_a_branch_missing_from_the_table_is_an_assertion_naming_it(
    ports: Ports, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Should an event's decision name a branch the table lacks (a bug), the flow fails loudly
    with the event, branch and state, and is unchanged."""
    flow = flow_in(State.confirming_personal_id, ports)
    before = frozen(flow)
    monkeypatch.setattr(machine, "row", lambda *_: None)
    with pytest.raises(AssertionError, match=r"^no row for confirm_personal_id\.None from "):
        flow.confirm_personal_id()
    assert frozen(flow) == before
