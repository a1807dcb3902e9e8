"""The contract of AccountStore, FlowStore and Storage, the same for every implementation."""

from __future__ import annotations

import datetime as dt

import pytest

from regflow import (
    AlreadyRegistered,
    ConcurrentUpdate,
    ContactDetails,
    EmailMessage,
    EmailTaken,
    FlowNotFound,
    NewAccount,
)
from regflow.ports import AccountStore, FlowStore, LoginAttempts, Outbox, Storage

T0 = dt.datetime(2026, 1, 15, 9, 0, 0, 123456, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)


def new_account(n: int, *, email: str | None = None, personal_id: str | None = None) -> NewAccount:
    """An account for person `n`."""
    email = email or f"person{n}@example.fi"
    return NewAccount(
        account_id=f"acc-{n}",
        email=email,
        personal_id=personal_id or f"pid-{n}",
        customer_number=f"c{n}",
        password_hash=f"$argon2id$hash{n}",
        profile=ContactDetails(given_names="Äino", family_name="Testinen", email=email),
        linked_contracts=(f"E-{n}", f"K-{n}"),
        created_at=T0 + n * MINUTE,
    )


def message(n: int, *, language: str = "fi") -> EmailMessage:
    """The confirmation email of person `n`."""
    return EmailMessage(
        message_id=f"registration-confirmation.flow{n}",
        to=f"person{n}@example.fi",
        subject="Tilisi on valmis",
        text="Hei Äino,\n",
        html="<p>Hei Äino,</p>",
        language=language,
    )


def snapshot(state: str = "choosing_bank", **extra: object) -> dict[str, object]:
    """A JSON-safe dict standing in for a flow snapshot."""
    return {"schema": 1, "state": state, "data": {"nested": [1, "två", None]}, **extra}


@pytest.fixture
def accounts(storage: Storage) -> AccountStore:
    """The storage's account store."""
    return storage.accounts


@pytest.fixture
def outbox(storage: Storage) -> Outbox:
    """The storage's outbox."""
    return storage.outbox


@pytest.fixture
def login_attempts(storage: Storage) -> LoginAttempts:
    """The storage's login attempts."""
    return storage.login_attempts


@pytest.fixture
def flows(storage: Storage) -> FlowStore:
    """The storage's flow store."""
    return storage.flows


# -- accounts -------------------------------------------------------------------------------


def test_created_account_is_found_by_email_case_insensitively(accounts: AccountStore) -> None:
    """A created account is found by its email in any case, with every field as created."""
    created = new_account(1, email="Person.One@Example.FI")
    accounts.create(created, message(1))
    found = accounts.find_by_email("person.one@example.fi")
    assert found is not None
    assert (found.account_id, found.email, found.personal_id) == (
        "acc-1",
        "Person.One@Example.FI",
        "pid-1",
    )
    assert found.customer_number == "c1"
    assert found.password_hash == created.password_hash
    assert found.profile == created.profile
    assert found.linked_contracts == ("E-1", "K-1")
    assert found.created_at == created.created_at
    assert accounts.exists_for_email("PERSON.ONE@example.fi")
    assert accounts.exists_for_person("pid-1")
    assert not accounts.exists_for_person("pid-2")
    assert accounts.find_by_email("nobody@example.fi") is None


def test_created_account_is_found_by_id(accounts: AccountStore) -> None:
    """`find_by_id` returns the account the outcome names, and None for an unknown id."""
    created = new_account(1)
    accounts.create(created, message(1))
    found = accounts.find_by_id("acc-1")
    assert found is not None
    assert (found.email, found.linked_contracts) == (created.email, ("E-1", "K-1"))
    assert accounts.find_by_id("acc-2") is None


def test_email_is_unique_case_insensitively(accounts: AccountStore, outbox: Outbox) -> None:
    """A second account with the same email in another case is refused, and queues nothing."""
    accounts.create(new_account(1, email="anna@example.fi"), message(1))
    with pytest.raises(EmailTaken):
        accounts.create(new_account(2, email="ANNA@Example.fi"), message(2))
    assert not accounts.exists_for_person("pid-2")
    assert [m.message.message_id for m in outbox.pending_messages(T0 + MINUTE * 60, 10)] == [
        "registration-confirmation.flow1"
    ]


def test_one_account_per_person(accounts: AccountStore) -> None:
    """A second account for the same personal identity code is refused."""
    accounts.create(new_account(1, personal_id="same"), message(1))
    with pytest.raises(AlreadyRegistered):
        accounts.create(new_account(2, personal_id="same"), message(2))
    assert accounts.find_by_email("person2@example.fi") is None


def test_person_conflict_wins_over_email_conflict(accounts: AccountStore) -> None:
    """When both the person and the email are taken, the answer is AlreadyRegistered."""
    accounts.create(new_account(1), message(1))
    with pytest.raises(AlreadyRegistered):
        accounts.create(new_account(2, email="person1@example.fi", personal_id="pid-1"), message(2))


def test_duplicate_message_id_creates_no_account(storage: Storage) -> None:
    """An email id already queued refuses the account too: both or neither, in a unit too."""
    storage.accounts.create(new_account(1), message(1))
    with pytest.raises(AlreadyRegistered):
        storage.accounts.create(new_account(2), message(1))
    with storage.unit_of_work() as uow:
        with pytest.raises(AlreadyRegistered):
            uow.accounts.create(new_account(3), message(1))
        uow.flows.save("f1", snapshot(), expected_version=None, expires_at=T0)
    assert not storage.accounts.exists_for_person("pid-2")
    assert not storage.accounts.exists_for_person("pid-3")
    assert storage.flows.load("f1").version == 1


def test_create_queues_the_email(accounts: AccountStore, outbox: Outbox) -> None:
    """The email created with the account is pending, as given, with no attempts yet."""
    accounts.create(new_account(1), message(1, language="sv"))
    (pending,) = outbox.pending_messages(T0 + MINUTE, 10)
    assert pending.message == message(1, language="sv")
    assert (pending.attempts, pending.sent_at, pending.last_error) == (0, None, "")


def test_pending_messages_oldest_first_and_limited(accounts: AccountStore, outbox: Outbox) -> None:
    """Pending messages come oldest first, at most `limit` of them."""
    for n in (1, 2, 3):
        accounts.create(new_account(n), message(n))
    ids = [m.message.message_id for m in outbox.pending_messages(T0 + MINUTE * 10, 2)]
    assert ids == ["registration-confirmation.flow1", "registration-confirmation.flow2"]


def test_failed_message_waits_until_its_retry_time(accounts: AccountStore, outbox: Outbox) -> None:
    """A failed attempt is counted and the message is not due again before its retry time."""
    accounts.create(new_account(1), message(1))
    retry_at = T0 + MINUTE * 5
    outbox.mark_failed("registration-confirmation.flow1", "mailer: refused", retry_at)
    assert outbox.pending_messages(retry_at - dt.timedelta(seconds=1), 10) == []
    (due,) = outbox.pending_messages(retry_at, 10)
    assert (due.attempts, due.next_attempt_at, due.last_error) == (1, retry_at, "mailer: refused")


def test_sent_message_is_no_longer_pending_and_stays_sent(
    accounts: AccountStore, outbox: Outbox
) -> None:
    """A sent message leaves the queue; marking it sent again changes nothing."""
    accounts.create(new_account(1), message(1))
    outbox.mark_sent("registration-confirmation.flow1", T0 + MINUTE * 2)
    outbox.mark_sent("registration-confirmation.flow1", T0 + MINUTE * 3)
    outbox.mark_failed("registration-confirmation.flow1", "late", T0)
    assert outbox.pending_messages(T0 + MINUTE * 60, 10) == []
    assert outbox.claim_messages(T0 + MINUTE * 60, 10, T0 + MINUTE * 70) == []


def test_claimed_messages_are_leased(accounts: AccountStore, outbox: Outbox) -> None:
    """A claimed message is not claimed again before its lease ends, and is afterwards."""
    accounts.create(new_account(1), message(1))
    accounts.create(new_account(2), message(2))
    now, lease_until = T0 + MINUTE * 10, T0 + MINUTE * 15
    first = outbox.claim_messages(now, 1, lease_until)
    assert [m.message.message_id for m in first] == ["registration-confirmation.flow1"]
    second = outbox.claim_messages(now, 10, lease_until)
    assert [m.message.message_id for m in second] == ["registration-confirmation.flow2"]
    assert outbox.claim_messages(now, 10, lease_until) == []
    again = outbox.claim_messages(lease_until, 10, lease_until + MINUTE)
    assert len(again) == 2


def test_password_hash_can_be_replaced(accounts: AccountStore) -> None:
    """update_password_hash changes the stored hash and nothing else."""
    accounts.create(new_account(1), message(1))
    accounts.update_password_hash("acc-1", "$argon2id$new")
    found = accounts.find_by_email("person1@example.fi")
    assert found is not None
    assert (found.password_hash, found.email) == ("$argon2id$new", "person1@example.fi")


def test_login_failures_are_counted_per_key_and_forgotten(
    accounts: AccountStore, login_attempts: LoginAttempts
) -> None:
    """Failures are kept per key, read since a time, pruned before a time, and cleared."""
    for minutes in (0, 1, 2):
        login_attempts.record_login_failure("k", T0 + minutes * MINUTE, forget_before=T0)
    login_attempts.record_login_failure("other", T0, forget_before=T0)
    assert login_attempts.login_failures("k", T0 + MINUTE) == [T0 + MINUTE, T0 + 2 * MINUTE]
    login_attempts.record_login_failure("k", T0 + 3 * MINUTE, forget_before=T0 + 2 * MINUTE)
    assert login_attempts.login_failures("k", T0 - MINUTE) == [T0 + 2 * MINUTE, T0 + 3 * MINUTE]
    login_attempts.clear_login_failures("k")
    assert login_attempts.login_failures("k", T0 - MINUTE) == []
    assert login_attempts.login_failures("other", T0 - MINUTE) == [T0]


# -- flows ----------------------------------------------------------------------------------


def test_flow_versions_count_up_and_snapshots_round_trip(flows: FlowStore) -> None:
    """A new flow is version 1, each save adds one, and the snapshot comes back equal."""
    assert flows.save("f1", snapshot(), expected_version=None, expires_at=T0) == 1
    assert flows.save("f1", snapshot("awaiting_bank"), expected_version=1, expires_at=T0) == 2
    stored = flows.load("f1")
    assert (stored.snapshot, stored.version) == (snapshot("awaiting_bank"), 2)


def test_stale_version_is_a_concurrent_update(flows: FlowStore) -> None:
    """Saving with an old version, or creating an existing flow, raises ConcurrentUpdate."""
    flows.save("f1", snapshot(), expected_version=None, expires_at=T0)
    flows.save("f1", snapshot("awaiting_bank"), expected_version=1, expires_at=T0)
    with pytest.raises(ConcurrentUpdate):
        flows.save("f1", snapshot("cancelled"), expected_version=1, expires_at=T0)
    with pytest.raises(ConcurrentUpdate):
        flows.save("f1", snapshot("cancelled"), expected_version=None, expires_at=T0)
    assert flows.load("f1").snapshot == snapshot("awaiting_bank")


def test_unknown_flow_is_not_found(flows: FlowStore) -> None:
    """Loading a flow that was never saved raises FlowNotFound."""
    with pytest.raises(FlowNotFound):
        flows.load("nope")


def test_purge_deletes_only_expired_flows(flows: FlowStore) -> None:
    """purge_expired deletes the flows that expired before `now` and counts them."""
    flows.save("old", snapshot(), expected_version=None, expires_at=T0)
    flows.save("new", snapshot(), expected_version=None, expires_at=T0 + MINUTE)
    assert flows.purge_expired(T0 + dt.timedelta(seconds=30)) == 1
    with pytest.raises(FlowNotFound):
        flows.load("old")
    assert flows.load("new").version == 1


# -- units of work --------------------------------------------------------------------------


def test_unit_of_work_commits_its_writes_together(storage: Storage, outbox: Outbox) -> None:
    """What a unit wrote is visible after it ends normally."""
    storage.flows.save("f1", snapshot("reviewing"), expected_version=None, expires_at=T0)
    with storage.unit_of_work() as uow:
        stored = uow.flows.load("f1")
        uow.accounts.create(new_account(1), message(1))
        uow.flows.save("f1", snapshot("completed"), expected_version=stored.version, expires_at=T0)
    assert storage.accounts.exists_for_person("pid-1")
    assert len(storage.outbox.pending_messages(T0 + MINUTE * 60, 10)) == 1
    assert storage.flows.load("f1").snapshot == snapshot("completed")


def test_unit_of_work_that_raises_writes_nothing(storage: Storage, outbox: Outbox) -> None:
    """A unit that raises leaves no account, no queued email and no flow change behind."""
    storage.flows.save("f1", snapshot("reviewing"), expected_version=None, expires_at=T0)

    def complete_then_fail() -> None:
        with storage.unit_of_work() as uow:
            stored = uow.flows.load("f1")
            uow.accounts.create(new_account(1), message(1))
            uow.flows.save(
                "f1", snapshot("completed"), expected_version=stored.version, expires_at=T0
            )
            uow.flows.save("f2", snapshot(), expected_version=None, expires_at=T0)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        complete_then_fail()
    assert not storage.accounts.exists_for_person("pid-1")
    assert storage.outbox.pending_messages(T0 + MINUTE * 60, 10) == []
    assert storage.flows.load("f1").snapshot == snapshot("reviewing")
    with pytest.raises(FlowNotFound):
        storage.flows.load("f2")


def test_refused_account_leaves_the_unit_usable(storage: Storage) -> None:
    """After EmailTaken inside a unit, the unit's other writes still commit."""
    storage.accounts.create(new_account(1), message(1))
    with storage.unit_of_work() as uow:
        with pytest.raises(EmailTaken):
            uow.accounts.create(new_account(2, email="PERSON1@example.fi"), message(2))
        uow.flows.save("f1", snapshot(), expected_version=None, expires_at=T0)
    assert storage.flows.load("f1").version == 1
    assert not storage.accounts.exists_for_person("pid-2")


def test_flow_changed_since_load_stops_the_unit(storage: Storage, outbox: Outbox) -> None:
    """A flow saved by someone else after the unit loaded it: ConcurrentUpdate, no account."""
    storage.flows.save("f1", snapshot("reviewing"), expected_version=None, expires_at=T0)

    def complete_after_someone_else() -> None:
        with storage.unit_of_work() as uow:
            stored = uow.flows.load("f1")
            storage.flows.save("f1", snapshot("cancelled"), expected_version=1, expires_at=T0)
            uow.accounts.create(new_account(1), message(1))
            uow.flows.save(
                "f1", snapshot("completed"), expected_version=stored.version, expires_at=T0
            )

    with pytest.raises(ConcurrentUpdate):
        complete_after_someone_else()
    assert not storage.accounts.exists_for_person("pid-1")
    assert storage.outbox.pending_messages(T0 + MINUTE * 60, 10) == []
