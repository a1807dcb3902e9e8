"""The service layer on every storage: one event per request, saved with a version check."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest
from tests.storage_support import PASSWORD, make_ports, people, register_until_review

from regflow import (
    ContactDetails,
    DetailsRejected,
    EmailTaken,
    FlowExpired,
    FlowNotFound,
    InvalidTransition,
    LoginFailed,
    LoginThrottled,
    State,
    deliver_pending_emails,
)
from regflow.adapters.memory import ManualClock, RecordingMailer
from regflow.emails import confirmation_message_id
from regflow.ports import Storage
from regflow.service import RegistrationService

RECORDS = people(4)


@pytest.fixture
def clock() -> ManualClock:
    """A clock that moves only when told to."""
    return ManualClock()


@pytest.fixture
def service(storage: Storage, clock: ManualClock) -> RegistrationService:
    """A service over the storage under test, with four customers."""
    return RegistrationService(make_ports(RECORDS, clock=clock), storage)


def test_registration_completes_and_its_email_is_delivered(service: RegistrationService) -> None:
    """A whole registration through the service creates the account and queues one email."""
    flow = register_until_review(service, RECORDS[0], language="sv")
    assert flow.state is State.reviewing
    assert flow.review_token is not None
    flow = service.approve(flow.id, flow.review_token)
    assert flow.state is State.completed
    assert flow.outcome is not None
    account = service.ports.accounts.find_by_email(RECORDS[0].details.email)
    assert account is not None
    assert account.account_id == flow.outcome.account_id
    public = service.account(flow.outcome.account_id)
    assert public is not None
    assert public.username == RECORDS[0].details.email
    assert public.linked_contracts == account.linked_contracts
    assert not hasattr(public, "personal_id")
    assert not hasattr(public, "password_hash")
    assert service.account("no-such-account") is None
    assert account.linked_contracts == (RECORDS[0].contracts[0].contract_number,)
    assert service.view(flow.id).state is State.completed
    assert deliver_pending_emails(service.ports) == 1
    assert deliver_pending_emails(service.ports) == 0
    mailer = service.ports.mailer
    assert isinstance(mailer, RecordingMailer)
    (sent,) = mailer.sent
    # a Swedish flow, but the language kept in phase 3 (from the record) is Finnish
    assert (sent.to, sent.language) == (RECORDS[0].details.email, "fi")
    assert sent.message_id == confirmation_message_id(flow.id)


def test_each_event_is_saved_as_returned(service: RegistrationService) -> None:
    """After every event, loading the flow again gives exactly the flow the event returned."""
    flow = service.start(language="en")
    assert service.view(flow.id) == flow
    flow = service.select_bank(flow.id, "op")
    assert service.view(flow.id) == flow
    flow = service.choose_other_bank(flow.id)
    assert service.view(flow.id) == flow
    flow = service.cancel(flow.id)
    assert service.view(flow.id) == flow
    assert flow.state is State.cancelled
    assert [entry.event for entry in flow.audit] == [
        "start",
        "select_bank",
        "choose_other_bank",
        "cancel",
    ]


def test_refused_event_saves_nothing(service: RegistrationService) -> None:
    """Details that are rejected leave the stored flow exactly as it was."""
    flow = register_until_review(service, RECORDS[0])
    flow = service.edit(flow.id)
    before = service.view(flow.id)
    with pytest.raises(DetailsRejected):
        service.submit_details(flow.id, ContactDetails(email="not an email"), "short")
    assert service.view(flow.id) == before
    with pytest.raises(InvalidTransition):
        service.confirm_personal_id(flow.id)
    assert service.view(flow.id) == before


def test_second_approve_of_one_flow_is_refused(service: RegistrationService) -> None:
    """Approving a flow again (a resubmitted form) is refused and creates nothing more."""
    flow = register_until_review(service, RECORDS[0])
    token = flow.review_token
    assert token is not None
    service.approve(flow.id, token)
    with pytest.raises(InvalidTransition):
        service.approve(flow.id, token)
    assert len(service.ports.accounts.pending_messages(service.ports.clock.now(), 10)) == 1


def test_email_taken_at_approve_keeps_the_flow_in_review(service: RegistrationService) -> None:
    """Two people with one email: the second approve gets email_taken and stays in review."""
    first = register_until_review(service, RECORDS[0], email="shared@example.fi")
    second = register_until_review(service, RECORDS[1], email="Shared@Example.fi")
    assert first.review_token is not None
    assert second.review_token is not None
    service.approve(first.id, first.review_token)
    with pytest.raises(EmailTaken):
        service.approve(second.id, second.review_token)
    assert service.view(second.id).state is State.reviewing
    assert not service.ports.accounts.exists_for_person(RECORDS[1].personal_id)
    edited = service.edit(second.id)
    details = attrs.evolve(RECORDS[1].details, email="other@example.fi")
    again = service.submit_details(edited.id, details, PASSWORD)
    assert again.review_token is not None
    assert service.approve(again.id, again.review_token).state is State.completed


def test_expired_flow_is_saved_as_expired(service: RegistrationService, clock: ManualClock) -> None:
    """An event after the expiry raises FlowExpired and stores the flow as expired."""
    flow = service.start()
    flow = service.select_bank(flow.id, "op")
    clock.advance(service.ports.settings.flow_ttl + dt.timedelta(seconds=1))
    with pytest.raises(FlowExpired):
        service.choose_other_bank(flow.id)
    assert service.ports.flows.load(flow.id).snapshot["state"] == "expired"
    with pytest.raises(FlowExpired):
        service.view(flow.id)
    with pytest.raises(FlowExpired):
        service.cancel(flow.id)


def test_purge_deletes_expired_flows(service: RegistrationService, clock: ManualClock) -> None:
    """purge_expired deletes flows past their expiry; loading one then answers FlowNotFound."""
    old = service.start()
    clock.advance(service.ports.settings.flow_ttl - dt.timedelta(minutes=1))
    young = service.start()
    clock.advance(dt.timedelta(minutes=2))
    assert service.purge_expired() == 1
    with pytest.raises(FlowNotFound):
        service.view(old.id)
    assert service.view(young.id).state is State.choosing_bank


def test_unknown_flow_is_not_found(service: RegistrationService) -> None:
    """An event for a flow id that was never stored raises FlowNotFound."""
    with pytest.raises(FlowNotFound):
        service.select_bank("no-such-flow", "op")


def test_login_after_registration(service: RegistrationService, clock: ManualClock) -> None:
    """The registered email and password log in; failures from one address are counted and
    delay that address only."""
    flow = register_until_review(service, RECORDS[0])
    assert flow.review_token is not None
    service.approve(flow.id, flow.review_token)
    email = RECORDS[0].details.email
    assert service.authenticate(email.upper(), PASSWORD).personal_id == RECORDS[0].personal_id
    for _ in range(service.login_throttle.free_failures):
        with pytest.raises(LoginFailed):
            service.authenticate(email, PASSWORD + "x", client_address="203.0.113.7")
    with pytest.raises(LoginThrottled):
        service.authenticate(email, PASSWORD, client_address="203.0.113.7")
    assert service.authenticate(email, PASSWORD, client_address="198.51.100.2").email == email
    clock.advance(service.login_throttle.first_delay)
    assert service.authenticate(email, PASSWORD, client_address="203.0.113.7").email == email
