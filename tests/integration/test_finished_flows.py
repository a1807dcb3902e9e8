"""A finished flow keeps its outcome and audit trail but no personal data, on every storage.

Each test drives flows through the service into every terminal state, then reads what the
storage holds for them (the memory store's snapshots, the SQL row of `regflow_flows` with every
column as text) and finds none of the person's values there, nor the bank's secrets.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

import attrs
import pytest
from tests.storage_support import PASSWORD, SignedBank, make_ports, person, register_until_review

from regflow import FlowExpired, RegistrationFlow, State
from regflow.adapters.memory import InMemoryStorage, ManualClock
from regflow.model import CustomerRecord
from regflow.ports import Storage
from regflow.service import RegistrationService

RECORDS = [person(i) for i in range(3)]
STRANGER = person(7)  # identifies at the bank, but is not in the customer directory


@pytest.fixture
def clock() -> ManualClock:
    """A clock that moves only when told to."""
    return ManualClock()


@pytest.fixture
def service(storage: Storage, clock: ManualClock) -> RegistrationService:
    """A service over the storage under test."""
    return RegistrationService(make_ports(RECORDS, clock=clock), storage)


def stored_text(storage: Storage, flow_id: str) -> str:
    """Everything the storage holds for one flow, as text."""
    if isinstance(storage, InMemoryStorage):
        return json.dumps(storage.flows.load(flow_id).snapshot)
    import sqlalchemy as sa

    from regflow.adapters.sql import SqlStore
    from regflow.adapters.sql._schema import flows_table

    assert isinstance(storage, SqlStore)
    columns = [sa.cast(column, sa.Text) for column in flows_table.columns]
    with storage.engine.connect() as connection:
        row = connection.execute(sa.select(*columns).where(flows_table.c.flow_id == flow_id)).one()
    return " ".join(str(value) for value in row)


def personal_values(record: CustomerRecord, *extra: str) -> set[str]:
    """The values that identify or describe `record`'s person (the postal code, five digits,
    could occur in a time, and says little alone)."""
    details = record.details
    return {
        record.personal_id,
        record.personal_id.replace("-", ""),
        record.customer_number,
        details.given_names,
        details.family_name,
        details.email,
        details.phone,
        details.phone.replace("+358", "0"),
        details.street_address,
        details.post_office,
        *(c.contract_number or "" for c in record.contracts),
        *(c.site_id or "" for c in record.contracts),
        *extra,
    } - {""}


def assert_holds_none(storage: Storage, flow: RegistrationFlow, values: set[str]) -> None:
    """The stored flow holds none of `values` (those found are shown), and restores scrubbed."""
    text = stored_text(storage, flow.id)
    assert {value for value in values if value in text} == set()
    ports = make_ports(RECORDS)
    restored = RegistrationFlow.restore(storage.flows.load(flow.id).snapshot, ports)
    assert restored.state.terminal
    assert restored.outcome is not None
    assert attrs.asdict(restored.data) == attrs.asdict(restored.data.scrubbed())


def until_bank(service: RegistrationService) -> RegistrationFlow:
    """A new flow sent to the bank: it holds the redirect's state and nonce."""
    flow = service.start()
    return service.select_bank(flow.id, "nordea")


def identify(
    service: RegistrationService, flow: RegistrationFlow, who: CustomerRecord
) -> RegistrationFlow:
    """The bank's signed answer for `who`."""
    bank = service.ports.bank
    assert isinstance(bank, SignedBank)
    assert flow.redirect is not None
    return service.complete_identification(
        flow.id, bank.approve(flow.redirect, personal_id=who.personal_id)
    )


def secrets_of(flow: RegistrationFlow) -> set[str]:
    """The bank redirect's state and nonce, and the review token and password hash, if held."""
    data = flow.data
    held = {flow.review_token or "", data.password_hash or ""}
    if data.pending is not None:
        held |= {data.pending.state, data.pending.nonce, data.pending.url}
    return held - {""}


def test_cancelled_in_review_keeps_no_personal_data(
    storage: Storage, service: RegistrationService
) -> None:
    """Cancelled with every detail and the password hash gathered: none of it stays stored."""
    record = attrs.evolve(
        RECORDS[0], details=attrs.evolve(RECORDS[0].details, email="aino.t@example.org")
    )
    flow = register_until_review(service, RECORDS[0], email="aino.t@example.org")
    held = secrets_of(flow)
    assert flow.data.password_hash in stored_text(storage, flow.id)  # the test can see it
    flow = service.cancel(flow.id)
    assert flow.state is State.cancelled
    assert_holds_none(storage, flow, personal_values(record, *held) | personal_values(RECORDS[0]))


def test_cancelled_at_the_bank_keeps_no_bank_secrets(
    storage: Storage, service: RegistrationService
) -> None:
    """Cancelled while at the bank: the redirect's state, nonce and URL are gone."""
    flow = until_bank(service)
    held = secrets_of(flow)
    assert held
    flow = service.cancel(flow.id)
    assert_holds_none(storage, flow, held)


def test_completed_keeps_the_account_id_not_the_person(
    storage: Storage, service: RegistrationService
) -> None:
    """Completed: the outcome names the account and the changed fields; the account has the rest."""
    flow = register_until_review(service, RECORDS[1], email="eero.new@example.org")
    held = secrets_of(flow)
    assert flow.review_token is not None
    flow = service.approve(flow.id, flow.review_token)
    assert flow.state is State.completed
    assert flow.outcome is not None
    assert flow.outcome.changed_fields == ("email",)
    account = service.account(flow.outcome.account_id or "")
    assert account is not None
    assert account.username == "eero.new@example.org"
    values = personal_values(RECORDS[1], *held, "eero.new@example.org")
    assert_holds_none(storage, flow, values)


def test_already_registered_and_customer_service_keep_no_personal_data(
    storage: Storage, service: RegistrationService
) -> None:
    """Identified as someone with an account, or as no customer: nothing of them is stored."""
    done = register_until_review(service, RECORDS[2])
    assert done.review_token is not None
    service.approve(done.id, done.review_token)
    again = until_bank(service)
    held = secrets_of(again)
    again = identify(service, again, RECORDS[2])
    assert again.state is State.already_registered
    assert_holds_none(storage, again, personal_values(RECORDS[2], *held))
    stranger = until_bank(service)
    held = secrets_of(stranger)
    stranger = identify(service, stranger, STRANGER)
    assert stranger.state is State.needs_customer_service
    assert_holds_none(storage, stranger, personal_values(STRANGER, *held))


@pytest.mark.parametrize(
    "notice", [RegistrationService.view, RegistrationService.edit], ids=["view", "event"]
)
def test_expired_in_review_keeps_no_personal_data(
    storage: Storage,
    service: RegistrationService,
    clock: ManualClock,
    notice: Callable[[RegistrationService, str], object],
) -> None:
    """A flow left in review past its expiry is scrubbed by the first request that notices."""
    flow = register_until_review(service, RECORDS[0], password=PASSWORD)
    held = secrets_of(flow)
    clock.advance(service.ports.settings.flow_ttl + dt.timedelta(seconds=1))
    with pytest.raises(FlowExpired):
        notice(service, flow.id)
    expired = RegistrationFlow.restore(storage.flows.load(flow.id).snapshot, service.ports)
    assert expired.state is State.expired
    assert_holds_none(storage, expired, personal_values(RECORDS[0], *held))
