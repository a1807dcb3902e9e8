"""Login input that no account can match, and purging old failures, on every storage (issue 15,
item 3): the in-memory fakes, SQLite and PostgreSQL."""

from __future__ import annotations

import argparse
import datetime as dt
import threading

import pytest
from tests.storage_support import CountingHasher, make_ports, people, register_until_review

from regflow import Argon2Hasher, LoginFailed, relay
from regflow.adapters.memory import ManualClock
from regflow.adapters.sql import SqlStore
from regflow.login import address_key
from regflow.ports import LoginAttempt, Storage
from regflow.relay import relay_loop
from regflow.service import RegistrationService

RECORD = people(1)[0]
EMAIL = RECORD.details.email
PASSWORD = "Kukkaruukku7Q"
DAY = dt.timedelta(days=1)


@pytest.fixture
def hasher() -> CountingHasher:
    """A fast hasher that counts its verifications."""
    return CountingHasher(Argon2Hasher.insecure_fast())


@pytest.fixture
def service(storage: Storage, hasher: CountingHasher) -> RegistrationService:
    """A service over the storage under test where RECORD has registered."""
    service = RegistrationService(make_ports([RECORD], clock=ManualClock(), hasher=hasher), storage)
    flow = register_until_review(service, RECORD, password=PASSWORD)
    assert flow.review_token is not None
    service.approve(flow.id, flow.review_token)
    hasher.verifications = 0
    return service


def remaining(service: RegistrationService, account: str = "probe") -> int:
    """How many attempts the store holds within the window (probing with a reservation)."""
    now = service.ports.clock.now()
    attempts = service.ports.login_attempts
    probe = attempts.reserve_login_attempt(
        LoginAttempt(account, None, now),
        since=now - 9 * DAY,
        known_since=now - 9 * DAY,
    )
    attempts.forget_login_attempt(probe.attempt_id)
    return len(probe.recent)


@pytest.mark.parametrize(
    "email", [EMAIL + "\x00", "\x00' OR 1=1 --", "pers\ud800n@example.fi", "\x01@example.fi"]
)
def test_email_with_nul_or_invalid_text_is_login_failed(
    service: RegistrationService, hasher: CountingHasher, email: str
) -> None:
    """An email holding NUL, a lone surrogate or a control character gets LoginFailed, not the
    AdapterError PostgreSQL's driver would give, without a password check."""
    with pytest.raises(LoginFailed):
        service.authenticate(email, PASSWORD, client_address="203.0.113.7")
    assert hasher.verifications == 0


def test_client_address_with_nul_is_fine(service: RegistrationService) -> None:
    """Whatever text the caller passes as the address is stored only as a digest."""
    account = service.authenticate(EMAIL, PASSWORD, client_address="203.0.113.7\x00\ud800")
    assert account.email == EMAIL


def test_overlong_password_is_refused_before_any_work(
    service: RegistrationService, hasher: CountingHasher
) -> None:
    """A 1 000 000-character password gets LoginFailed with no hash and nothing stored."""
    with pytest.raises(LoginFailed):
        service.authenticate(EMAIL, "A1" * 500_000, client_address="203.0.113.7")
    assert hasher.verifications == 0
    assert remaining(service, account="anything") == 0


def test_old_failures_are_purged(service: RegistrationService) -> None:
    """purge_login_attempts deletes failures older than the throttle's window (a day)."""
    clock = service.ports.clock
    assert isinstance(clock, ManualClock)
    for _ in range(3):
        with pytest.raises(LoginFailed):
            service.authenticate(EMAIL, "Wrong-password-1", client_address="203.0.113.7")
    clock.advance(DAY)
    with pytest.raises(LoginFailed):
        service.authenticate(EMAIL, "Wrong-password-1", client_address="198.51.100.2")
    clock.advance(dt.timedelta(seconds=1))
    assert service.purge_login_attempts() == 3
    assert service.purge_login_attempts() == 0
    assert remaining(service) == 0  # the probe's account matches nothing
    now = clock.now()
    left = service.ports.login_attempts.reserve_login_attempt(
        LoginAttempt("probe", address_key("198.51.100.2"), now),
        since=now - 9 * DAY,
        known_since=now - 9 * DAY,
    )
    assert len(left.recent) == 1


def test_relay_loop_purges_old_failures() -> None:
    """The relay's housekeeping (`purge_logins`) deletes failures older than a day each pass."""
    clock = ManualClock()
    ports = make_ports([], clock=clock)
    attempts = ports.login_attempts
    attempts.reserve_login_attempt(
        LoginAttempt("k", None, clock.now() - 2 * DAY), since=clock.now(), known_since=clock.now()
    )
    young = LoginAttempt("k", None, clock.now() - dt.timedelta(hours=1))
    attempts.reserve_login_attempt(young, since=clock.now(), known_since=clock.now())
    stop = threading.Event()
    thread = threading.Thread(
        target=relay_loop,
        args=(ports,),
        kwargs={"stop": stop, "interval": 0.01, "purge_logins": attempts},
    )
    thread.start()
    threading.Event().wait(0.1)
    stop.set()
    thread.join(5)
    probe = attempts.reserve_login_attempt(
        LoginAttempt("k", None, clock.now()),
        since=clock.now() - 9 * DAY,
        known_since=clock.now() - 9 * DAY,
    )
    assert probe.recent == (young,)


def test_relay_command_purges_old_failures(sqlite_url: str) -> None:
    """`regflow relay --once --purge-expired` deletes failed logins older than a day."""
    now = dt.datetime.now(dt.UTC)
    with SqlStore.from_url(sqlite_url) as store:
        store.create_schema()
        for age in (DAY * 3, DAY + dt.timedelta(minutes=1), dt.timedelta(hours=2)):
            store.login_attempts.reserve_login_attempt(
                LoginAttempt("k", None, now - age), since=now, known_since=now
            )
    parser = argparse.ArgumentParser()
    relay.add_arguments(parser)
    args = parser.parse_args(
        [
            "--once",
            "--purge-expired",
            "--database-url",
            sqlite_url,
            "--mail-from",
            "no-reply@example.fi",
        ]
    )
    assert relay.run(args) == 0
    with SqlStore.from_url(sqlite_url) as store:
        probe = store.login_attempts.reserve_login_attempt(
            LoginAttempt("k", None, now), since=now - 9 * DAY, known_since=now - 9 * DAY
        )
    assert len(probe.recent) == 1
