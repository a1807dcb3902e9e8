"""Linking contracts after registration, on every storage (memory, SQLite, PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import pytest
from tests.linking_support import customer
from tests.storage_support import make_ports, register_until_review

from regflow import (
    Account,
    Contract,
    ContractKind,
    ContractLink,
    CustomerRecord,
    EmailMessage,
    deliver_pending_emails,
)
from regflow.adapters.memory import InMemoryCustomerDirectory, ManualClock, RecordingMailer
from regflow.bootstrap import copy_account
from regflow.linking import LinkReport, contract_store
from regflow.model import CUSTOMER_SERVICE, DISTRICT_HEATING_ADVISORY, LinkStatus
from regflow.ports import Storage
from regflow.service import RegistrationService

GAS = Contract(ContractKind.gas, "G-0000001", "GAS-1")


@pytest.fixture
def clock() -> ManualClock:
    """A clock that moves only when told to."""
    return ManualClock()


def service_with(
    storage: Storage, clock: ManualClock, records: list[CustomerRecord]
) -> RegistrationService:
    """A service over `storage` whose customer directory holds `records` now."""
    return RegistrationService(make_ports(records, clock=clock), storage)


def register(
    storage: Storage, clock: ManualClock, record: CustomerRecord, language: str = "sv"
) -> str:
    """Register `record` to completion; the account id."""
    service = service_with(storage, clock, [record])
    flow = register_until_review(service, record, language=language)
    assert flow.review_token is not None
    flow = service.approve(flow.id, flow.review_token)
    assert flow.outcome is not None
    assert flow.outcome.account_id is not None
    return flow.outcome.account_id


def test_registration_keeps_the_pending_contract_with_its_reason(
    storage: Storage, clock: ManualClock
) -> None:
    """approve records the linkable contract as linked and district heating as pending, with
    the reason and the advisory's contact, readable through the service."""
    account_id = register(storage, clock, customer(0))
    contracts = service_with(storage, clock, []).account_contracts(account_id)
    assert [(c.kind, c.contract_number) for c in contracts.linked] == [
        (ContractKind.electricity, "E-0000000")
    ]
    (pending,) = contracts.pending
    assert pending.contract.kind is ContractKind.district_heating
    assert pending.contract.reason == "district_heating_not_linked"
    assert pending.contract.missing == ("site_id",)
    assert pending.contact == DISTRICT_HEATING_ADVISORY


def test_a_pass_links_what_became_linkable_and_new_contracts_and_emails_once(
    storage: Storage, clock: ManualClock
) -> None:
    """Once the site is known, a pass links district heating and a contract that did not
    exist at registration, in one email in the user's language; a second pass does nothing."""
    account_id = register(storage, clock, customer(0))
    service = service_with(storage, clock, [customer(0, heating_site="DH-1", extra=(GAS,))])
    deliver_pending_emails(service.ports)  # the confirmation
    clock.advance(dt.timedelta(days=3))
    assert service.link_pending_contracts() == LinkReport(accounts=1, linked=2)
    contracts = service.account_contracts(account_id)
    assert contracts.pending == ()
    assert {c.contract_number for c in contracts.linked} == {"E-0000000", "K-0000000", "G-0000001"}
    assert all(c.status is LinkStatus.linked for c in contracts.linked)
    account = storage.accounts.find_by_email(customer(0).details.email)
    assert account is not None
    assert set(account.linked_contracts) == {"E-0000000", "K-0000000", "G-0000001"}
    assert deliver_pending_emails(service.ports) == 1
    mailer = service.ports.mailer
    assert isinstance(mailer, RecordingMailer)
    confirmation, email = mailer.sent
    assert confirmation.message_id.startswith("registration-confirmation.")
    assert email.language == "fi"  # the profile's language (the flow ran in Swedish)
    assert email.to == customer(0).details.email
    assert "Kaukolämpö, sopimus K-0000000" in email.text
    assert "Kaasu, sopimus G-0000001" in email.text
    assert "E-0000000" not in email.text  # linked at registration already
    assert service.link_pending_contracts() == LinkReport()  # no pending account left
    assert service.link_pending_contracts(everyone=True) == LinkReport(accounts=1)
    assert deliver_pending_emails(service.ports) == 0


def test_a_still_incomplete_contract_stays_pending_and_nothing_is_sent(
    storage: Storage, clock: ManualClock
) -> None:
    """A pass while the site is still missing changes nothing, keeps the first `since` and
    queues no email."""
    account_id = register(storage, clock, customer(0))
    service = service_with(storage, clock, [customer(0)])
    before = service.account_contracts(account_id)
    clock.advance(dt.timedelta(days=1))
    assert service.link_pending_contracts() == LinkReport(accounts=1)
    assert service.account_contracts(account_id) == before
    assert len(storage.outbox.pending_messages(clock.now(), 10)) == 1  # the confirmation only


def test_everyone_finds_contracts_of_accounts_without_pending_ones(
    storage: Storage, clock: ManualClock
) -> None:
    """An account with nothing pending gets a contract that appeared later, with everyone."""
    record = customer(1, heating_site="DH-1")
    account_id = register(storage, clock, record)
    service = service_with(storage, clock, [customer(1, heating_site="DH-1", extra=(GAS,))])
    assert service.link_pending_contracts() == LinkReport()
    assert service.link_pending_contracts(everyone=True) == LinkReport(accounts=1, linked=1)
    linked = {c.contract_number for c in service.account_contracts(account_id).linked}
    assert linked == {"E-0000001", "K-0000001", "G-0000001"}


def test_a_directory_outage_leaves_the_account_as_it_was(
    storage: Storage, clock: ManualClock
) -> None:
    """A directory that cannot answer is a failure of that account, which stays unchanged."""
    account_id = register(storage, clock, customer(0))
    service = service_with(storage, clock, [customer(0, heating_site="DH-1")])
    directory = service.ports.customers
    assert isinstance(directory, InMemoryCustomerDirectory)
    before = service.account_contracts(account_id)
    directory.outage = True
    assert service.link_pending_contracts() == LinkReport(accounts=1, failed=1)
    assert service.account_contracts(account_id) == before
    directory.outage = False
    assert service.link_pending_contracts() == LinkReport(accounts=1, linked=1)


def test_a_customer_gone_from_the_directory_is_left_alone(
    storage: Storage, clock: ManualClock
) -> None:
    """No record for the person any more: the account keeps its records."""
    account_id = register(storage, clock, customer(0))
    service = service_with(storage, clock, [])
    before = service.account_contracts(account_id)
    assert service.link_pending_contracts() == LinkReport(accounts=1)
    assert service.account_contracts(account_id) == before


def test_other_pending_contracts_name_customer_service(
    storage: Storage, clock: ManualClock
) -> None:
    """A pending contract that is not district heating gives customer service's contact."""
    cooling = Contract(ContractKind.district_cooling, None, "DC-1")
    account_id = register(storage, clock, customer(2, heating_site="DH-2", extra=(cooling,)))
    (pending,) = service_with(storage, clock, []).account_contracts(account_id).pending
    assert pending.contract.reason == "contract_not_linked"
    assert pending.contract.missing == ("contract_number",)
    assert pending.contact == CUSTOMER_SERVICE


def test_batches_cover_every_account(storage: Storage, clock: ManualClock) -> None:
    """A pass in batches smaller than the number of accounts reaches each of them once."""
    for i in range(5):
        register(storage, clock, customer(i))
    service = service_with(storage, clock, [customer(i, heating_site="DH") for i in range(5)])
    assert service.link_pending_contracts(batch=2) == LinkReport(accounts=5, linked=5)
    assert service.link_pending_contracts(batch=2) == LinkReport()


def test_a_unit_that_fails_keeps_nothing_of_the_linking(
    storage: Storage, clock: ManualClock
) -> None:
    """Links, pending records, linked numbers and the email roll back with their unit."""
    account_id = register(storage, clock, customer(0))
    service = service_with(storage, clock, [])
    before = service.account_contracts(account_id)
    heating = ContractLink.of(
        Contract(ContractKind.district_heating, "K-0000000", "DH-1"), since=clock.now()
    )
    message = EmailMessage(
        message_id="contracts-linked.test", to="a@example.fi", subject="s", text="t", html="h"
    )
    with pytest.raises(RuntimeError, match="after the linking"):
        _link_then_fail(storage, account_id, heating, message)
    assert service.account_contracts(account_id) == before
    account = storage.accounts.find_by_email(customer(0).details.email)
    assert account is not None
    assert account.linked_contracts == ("E-0000000",)
    queued = {m.message.message_id for m in storage.outbox.pending_messages(clock.now(), 10)}
    assert message.message_id not in queued
    assert len(queued) == 1  # the confirmation


def _link_then_fail(
    storage: Storage, account_id: str, link: ContractLink, message: EmailMessage
) -> None:
    """Link in a unit of work that then raises."""
    with storage.unit_of_work() as uow:
        store = contract_store(uow)
        assert store.lock_account(account_id) is not None
        store.update_contract_links(account_id, linked=[link], pending=[], message=message)
        assert len(store.contract_links(account_id)) == 2
        msg = "after the linking"
        raise RuntimeError(msg)


def test_what_is_still_missing_stays_pending_since_it_was_first_found(
    storage: Storage, clock: ManualClock
) -> None:
    """Linking one contract keeps the other pending, with the time it was first found."""
    cooling = Contract(ContractKind.district_cooling, None, "DC-1")
    account_id = register(storage, clock, customer(3, extra=(cooling,)))
    pending = service_with(storage, clock, []).account_contracts(account_id).pending
    (first,) = [p for p in pending if p.contract.kind is ContractKind.district_cooling]
    clock.advance(dt.timedelta(days=2))
    service = service_with(storage, clock, [customer(3, heating_site="DH-3", extra=(cooling,))])
    assert service.link_pending_contracts() == LinkReport(accounts=1, linked=1)
    (still,) = service.account_contracts(account_id).pending
    assert still == first
    assert first.contract.since == clock.now() - dt.timedelta(days=2)


def test_numbers_linked_before_records_were_kept_are_recorded_without_an_email(
    storage: Storage, clock: ManualClock
) -> None:
    """An account that lists a linked number but has no record of it (copied, seeded): the
    pass records it as linked and emails only about the contract that is really new."""
    record = customer(4, heating_site="DH-4")
    account = Account(
        account_id="copied-4",
        email=record.details.email,
        personal_id=record.personal_id,
        customer_number=record.customer_number,
        password_hash="$argon2id$not-used",
        profile=record.details,
        linked_contracts=("E-0000004",),
        created_at=clock.now(),
    )
    copy_account(storage, account, now=clock.now())
    service = service_with(storage, clock, [record])
    assert service.link_pending_contracts(everyone=True) == LinkReport(accounts=1, linked=1)
    linked = service.account_contracts("copied-4").linked
    assert {c.contract_number for c in linked} == {"E-0000004", "K-0000004"}
    (email,) = [
        m.message
        for m in storage.outbox.pending_messages(clock.now(), 10)
        if m.message.message_id.startswith("contracts-linked.")
    ]
    assert "K-0000004" in email.text
    assert "E-0000004" not in email.text
