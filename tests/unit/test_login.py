"""Logging in after registration (DESIGN section 7), on the in-memory stores."""

from __future__ import annotations

import datetime as dt
import logging
import statistics
import time

import attrs
import pytest

from regflow import Argon2Hasher, LoginFailed, LoginThrottled
from regflow.adapters.memory import InMemoryAccountStore, ManualClock
from regflow.login import LoginThrottle, authenticate, throttle_key
from regflow.service import RegistrationService
from tests.storage_support import (
    PASSWORD,
    make_ports,
    memory_service,
    people,
    register_until_review,
)

RECORD = people(1)[0]
EMAIL = RECORD.details.email
MINUTE = dt.timedelta(minutes=1)


def registered(
    *,
    clock: ManualClock | None = None,
    password: str = PASSWORD,
    hasher: Argon2Hasher | None = None,
) -> RegistrationService:
    """An in-memory service where RECORD has registered with `password`."""
    service = memory_service([RECORD], clock=clock or ManualClock(), hasher=hasher)
    flow = register_until_review(service, RECORD, password=password)
    assert flow.review_token is not None
    service.approve(flow.id, flow.review_token)
    return service


def fail(service: RegistrationService, times: int, *, email: str = EMAIL) -> None:
    """`times` logins with a wrong password, each one minute after the previous."""
    clock = service.ports.clock
    assert isinstance(clock, ManualClock)
    for _ in range(times):
        with pytest.raises(LoginFailed):
            service.authenticate(email, "Wrong-password-1")
        clock.advance(MINUTE)


def test_right_password_logs_in_with_email_in_any_case() -> None:
    """The registered email, in any case, and password return the account."""
    service = registered()
    account = service.authenticate("  " + EMAIL.upper(), PASSWORD)
    assert account.personal_id == RECORD.personal_id


def test_unknown_email_and_wrong_password_get_the_same_error() -> None:
    """An unknown email and a wrong password raise the same error with the same message."""
    service = registered()
    with pytest.raises(LoginFailed) as unknown:
        service.authenticate("nobody@example.fi", PASSWORD)
    with pytest.raises(LoginFailed) as wrong:
        service.authenticate(EMAIL, PASSWORD + "!")
    assert unknown.value.code == wrong.value.code == "login_failed"
    for language in ("sv", "fi", "en"):
        assert unknown.value.message(language) == wrong.value.message(language)


def test_password_is_nfkc_normalised_as_at_registration() -> None:
    """A password registered with fullwidth digits logs in typed with ASCII ones, and back."""
    fullwidth = "Kukkaruukku\uff17Q"  # FULLWIDTH DIGIT SEVEN: NFKC makes it "7"
    service = registered(password=fullwidth)
    assert service.authenticate(EMAIL, "Kukkaruukku7Q").email == EMAIL
    assert service.authenticate(EMAIL, fullwidth).email == EMAIL


def test_tenth_failure_throttles_with_its_retry_time() -> None:
    """After 10 failures in 15 minutes even the right password is refused until retry_at."""
    clock = ManualClock()
    service = registered(clock=clock)
    first_failure = clock.now()
    fail(service, 10)
    with pytest.raises(LoginThrottled) as throttled:
        service.authenticate(EMAIL, PASSWORD)
    assert throttled.value.retry_at == first_failure + dt.timedelta(minutes=15)
    assert throttled.value.code == "login_throttled"
    assert "UTC" in throttled.value.message("fi")
    clock.advance(throttled.value.retry_at - clock.now())
    assert service.authenticate(EMAIL, PASSWORD).email == EMAIL


def test_failures_older_than_the_window_do_not_count() -> None:
    """The window slides: failures more than 15 minutes old no longer count."""
    clock = ManualClock()
    service = registered(clock=clock)
    fail(service, 9)
    clock.advance(dt.timedelta(minutes=15))
    fail(service, 9)
    assert service.authenticate(EMAIL, PASSWORD).email == EMAIL


def test_successful_login_clears_the_failures() -> None:
    """A successful login starts the count again."""
    service = registered()
    fail(service, 9)
    service.authenticate(EMAIL, PASSWORD)
    fail(service, 9)
    assert service.authenticate(EMAIL, PASSWORD).email == EMAIL


def test_unknown_emails_are_throttled_like_known_ones() -> None:
    """Throttling does not reveal accounts: an unknown email is throttled the same way."""
    service = registered()
    fail(service, 10, email="nobody@example.fi")
    with pytest.raises(LoginThrottled):
        service.authenticate("nobody@example.fi", PASSWORD)


def test_throttle_is_configurable() -> None:
    """A service with a stricter throttle refuses sooner."""
    service = registered()
    strict = RegistrationService(
        service.ports,
        service.storage,
        login_throttle=LoginThrottle(max_failures=2, window=dt.timedelta(minutes=5)),
    )
    fail(strict, 2)
    with pytest.raises(LoginThrottled):
        strict.authenticate(EMAIL, PASSWORD)


def test_hash_is_upgraded_when_the_parameters_change() -> None:
    """A login with a hasher of new parameters rehashes and stores the password."""
    old = Argon2Hasher.insecure_fast()
    service = registered(hasher=old)
    stored = service.ports.accounts.find_by_email(EMAIL)
    assert stored is not None
    new = Argon2Hasher(memory_cost=128, time_cost=1)
    assert new.needs_rehash(stored.password_hash)
    upgraded = RegistrationService(
        make_ports([RECORD], clock=service.ports.clock, hasher=new), service.storage
    )
    account = upgraded.authenticate(EMAIL, PASSWORD)
    assert not new.needs_rehash(account.password_hash)
    stored = service.ports.accounts.find_by_email(EMAIL)
    assert stored is not None
    assert stored.password_hash == account.password_hash
    assert upgraded.authenticate(EMAIL, PASSWORD).password_hash == account.password_hash


def test_unknown_email_takes_about_as_long_as_a_wrong_password() -> None:
    """An unknown email costs a dummy argon2 verification: timing does not reveal accounts."""
    hasher = Argon2Hasher(memory_cost=4096, time_cost=1)  # a few ms per verification
    service = registered(hasher=hasher)
    roomy = RegistrationService(
        service.ports, service.storage, login_throttle=LoginThrottle(max_failures=1000)
    )

    def seconds(email: str) -> float:
        started = time.perf_counter()
        with pytest.raises(LoginFailed):
            roomy.authenticate(email, "Wrong-password-1")
        return time.perf_counter() - started

    seconds("warm-up@example.fi")
    unknown, wrong = [], []
    for _ in range(15):
        unknown.append(seconds("nobody@example.fi"))
        wrong.append(seconds(EMAIL))
    ratio = statistics.median(unknown) / statistics.median(wrong)
    assert 0.6 < ratio < 1.6, (unknown, wrong)


def test_logs_hold_no_password_or_personal_id(caplog: pytest.LogCaptureFixture) -> None:
    """Registering and logging in write neither the password nor the personal identity code."""
    caplog.set_level(logging.DEBUG)
    service = registered()
    service.authenticate(EMAIL, PASSWORD)
    with pytest.raises(LoginFailed):
        service.authenticate(EMAIL, "Wrong-password-1")
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert text  # the flow and login did log
    assert PASSWORD not in text
    assert "Wrong-password-1" not in text
    assert RECORD.personal_id not in text


def test_failures_are_counted_in_the_login_attempts_port() -> None:
    """A failed login is recorded in `ports.login_attempts`, not in the account store."""
    service = registered()
    attempts = InMemoryAccountStore()
    ports = attrs.evolve(service.ports, login_attempts=attempts)
    with pytest.raises(LoginFailed):
        authenticate(ports, EMAIL, "Wrong-password-1")
    assert list(attempts.login_failure_log) == [throttle_key(EMAIL)]
    accounts = service.ports.accounts
    assert isinstance(accounts, InMemoryAccountStore)
    assert accounts.login_failure_log == {}
