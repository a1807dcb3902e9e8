"""Logging in after registration (DESIGN section 7), on the in-memory stores."""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import hmac
import logging
import statistics
import time
import unicodedata

import attrs
import pytest

from regflow import Argon2Hasher, LoginFailed, LoginThrottled
from regflow.adapters.memory import InMemoryAccountStore, ManualClock
from regflow.login import (
    NOT_AN_ADDRESS,
    LoginThrottle,
    address_key,
    authenticate,
    digest,
    max_password_length,
    throttle_key,
)
from regflow.ports import LoginAttempt, PasswordHasher
from regflow.service import RegistrationService
from tests.storage_support import (
    PASSWORD,
    CountingHasher,
    make_ports,
    memory_service,
    people,
    register_until_review,
)

RECORD = people(1)[0]
EMAIL = RECORD.details.email
MINUTE = dt.timedelta(minutes=1)
ATTACKER = "203.0.113.7"
OWNER = "198.51.100.20"


def registered(
    *,
    clock: ManualClock | None = None,
    password: str = PASSWORD,
    hasher: PasswordHasher | None = None,
) -> RegistrationService:
    """An in-memory service where RECORD has registered with `password`."""
    service = memory_service([RECORD], clock=clock or ManualClock(), hasher=hasher)
    flow = register_until_review(service, RECORD, password=password)
    assert flow.review_token is not None
    service.approve(flow.id, flow.review_token)
    return service


def fail(
    service: RegistrationService,
    times: int,
    *,
    email: str = EMAIL,
    address: str | None = ATTACKER,
    every: dt.timedelta = MINUTE,
) -> None:
    """`times` logins with a wrong password from `address`, each `every` after the previous."""
    clock = service.ports.clock
    assert isinstance(clock, ManualClock)
    for _ in range(times):
        with pytest.raises(LoginFailed):
            service.authenticate(email, "Wrong-password-1", client_address=address)
        clock.advance(every)


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


def test_sixth_failure_from_one_address_waits_a_delay_that_doubles() -> None:
    """After 5 failures for one account from one address, the next attempt waits 30 s after
    the latest failure, then 1 min, 2 min: a delay that grows, never a lock."""
    clock = ManualClock()
    service = registered(clock=clock)
    fail(service, 5, every=dt.timedelta(0))
    for delay in (dt.timedelta(seconds=30), MINUTE, 2 * MINUTE):
        with pytest.raises(LoginThrottled) as throttled:
            service.authenticate(EMAIL, PASSWORD, client_address=ATTACKER)
        assert throttled.value.retry_at == clock.now() + delay
        assert throttled.value.code == "login_throttled"
        assert "UTC" in throttled.value.message("fi")
        clock.advance(delay)
        fail(service, 1, every=dt.timedelta(0))
    clock.advance(4 * MINUTE)
    assert service.authenticate(EMAIL, PASSWORD, client_address=ATTACKER).email == EMAIL


def test_delay_is_capped() -> None:
    """However many failures, the delay never exceeds max_delay (15 minutes by default)."""
    throttle = LoginThrottle()
    assert throttle.delay(4, 5) == dt.timedelta(0)
    assert throttle.delay(5, 5) == dt.timedelta(seconds=30)
    assert throttle.delay(9, 5) == 8 * MINUTE
    assert throttle.delay(10, 5) == 15 * MINUTE
    assert throttle.delay(10**9, 5) == 15 * MINUTE


def test_throttled_attempts_do_not_count_as_failures() -> None:
    """An attempt refused by the throttle checks no password, so it does not lengthen the delay."""
    clock = ManualClock()
    service = registered(clock=clock)
    fail(service, 5, every=dt.timedelta(0))
    for _ in range(20):
        with pytest.raises(LoginThrottled):
            service.authenticate(EMAIL, "Wrong-password-1", client_address=ATTACKER)
    clock.advance(dt.timedelta(seconds=30))
    assert service.authenticate(EMAIL, PASSWORD, client_address=ATTACKER).email == EMAIL


def test_owner_gets_in_from_their_address_during_a_four_hour_attack() -> None:
    """The issue's scenario: an attacker guesses once a minute from one address for 4 hours;
    the owner, logging in every 5 minutes from another address, always gets in, and the
    attacker's password checks are a small fraction of their 240 tries."""
    clock = ManualClock()
    hasher = CountingHasher(Argon2Hasher.insecure_fast())
    service = registered(clock=clock, hasher=hasher)
    hasher.verifications = 0
    owner_ok = owner_refused = 0
    outcomes: collections.Counter[str] = collections.Counter()
    for minute in range(240):
        try:
            service.authenticate(EMAIL, "Wrong-password-1", client_address=ATTACKER)
        except (LoginFailed, LoginThrottled) as error:
            outcomes[error.code] += 1
        if minute % 5 == 0:
            try:
                service.authenticate(EMAIL, PASSWORD, client_address=OWNER)
                owner_ok += 1
            except LoginThrottled:
                owner_refused += 1
        clock.advance(MINUTE)
    assert (owner_ok, owner_refused) == (48, 0)
    assert outcomes["login_failed"] + outcomes["login_throttled"] == 240
    assert outcomes["login_failed"] <= 30, outcomes  # 5 free, then 30 s doubling to 15 min
    assert hasher.verifications == outcomes["login_failed"] + owner_ok


def test_owner_success_does_not_clear_the_attackers_failures() -> None:
    """A successful login forgets the failures from the owner's address only."""
    clock = ManualClock()
    service = registered(clock=clock)
    fail(service, 5, every=dt.timedelta(0))
    assert service.authenticate(EMAIL, PASSWORD, client_address=OWNER).email == EMAIL
    with pytest.raises(LoginThrottled):
        service.authenticate(EMAIL, PASSWORD, client_address=ATTACKER)


def test_many_addresses_against_one_account_meet_the_account_wide_limit() -> None:
    """Guesses spread over many addresses are slowed once the account's 100 free failures are
    spent, so that no more than 100 go unslowed (NIST SP 800-63B 5.2.2)."""
    clock = ManualClock()
    service = registered(clock=clock)
    for i in range(100):
        fail(service, 1, address=f"192.0.2.{i}", every=dt.timedelta(0))
    with pytest.raises(LoginThrottled) as throttled:
        service.authenticate(EMAIL, "Wrong-password-1", client_address="192.0.2.200")
    assert throttled.value.retry_at == clock.now() + dt.timedelta(seconds=30)


def test_owner_from_a_known_address_is_exempt_from_the_account_wide_limit() -> None:
    """Once many addresses have spent the account's free failures, the owner still gets in at
    once from an address they logged in from within 30 days; a new address waits."""
    clock = ManualClock()
    service = registered(clock=clock)

    def spread() -> None:
        for i in range(100):
            fail(service, 1, address=f"192.0.2.{i}", every=dt.timedelta(0))

    assert service.authenticate(EMAIL, PASSWORD, client_address=OWNER).email == EMAIL
    spread()
    assert service.authenticate(EMAIL, PASSWORD, client_address=OWNER).email == EMAIL
    with pytest.raises(LoginThrottled):
        service.authenticate(EMAIL, PASSWORD, client_address="198.51.100.99")
    clock.advance(dt.timedelta(days=30, seconds=1))  # the success from OWNER is too old now
    spread()
    with pytest.raises(LoginThrottled):
        service.authenticate(EMAIL, PASSWORD, client_address=OWNER)


def test_one_address_spraying_many_accounts_is_slowed() -> None:
    """One address guessing different emails is slowed after 50 failures in all."""
    clock = ManualClock()
    service = registered(clock=clock)
    for i in range(50):
        fail(service, 1, email=f"nobody{i}@example.fi", every=dt.timedelta(0))
    with pytest.raises(LoginThrottled):
        service.authenticate(EMAIL, PASSWORD, client_address=ATTACKER)
    assert service.authenticate(EMAIL, PASSWORD, client_address=OWNER).email == EMAIL


def test_ipv6_addresses_of_one_network_count_together() -> None:
    """IPv6 addresses are counted by their /64 network; IPv4-mapped ones as the IPv4 address."""
    assert address_key("2001:db8:1:2::1") == address_key("2001:db8:1:2:ffff::9")
    assert address_key("2001:db8:1:2::1") != address_key("2001:db8:1:3::1")
    assert address_key("::ffff:203.0.113.7") == address_key(" 203.0.113.7 ")
    assert address_key(None) is None
    assert address_key("not an address") != address_key("203.0.113.7")


def test_failures_older_than_the_window_do_not_count() -> None:
    """The window slides: failures more than 24 hours old no longer count."""
    clock = ManualClock()
    service = registered(clock=clock)
    fail(service, 5, every=dt.timedelta(0))
    clock.advance(dt.timedelta(hours=24, seconds=1))
    fail(service, 5, every=dt.timedelta(0))
    clock.advance(dt.timedelta(seconds=30))
    assert service.authenticate(EMAIL, PASSWORD, client_address=ATTACKER).email == EMAIL


def test_successful_login_clears_the_failures() -> None:
    """A successful login starts the count for its address again."""
    service = registered()
    fail(service, 5)
    service.authenticate(EMAIL, PASSWORD, client_address=ATTACKER)
    fail(service, 5)
    assert service.authenticate(EMAIL, PASSWORD, client_address=ATTACKER).email == EMAIL


def test_unknown_emails_are_throttled_like_known_ones() -> None:
    """Throttling does not reveal accounts: an unknown email is throttled the same way."""
    service = registered()
    fail(service, 5, email="nobody@example.fi", every=dt.timedelta(0))
    with pytest.raises(LoginThrottled):
        service.authenticate("nobody@example.fi", PASSWORD, client_address=ATTACKER)


def test_no_address_is_one_address_of_its_own() -> None:
    """Callers that pass no address share one count: the function works without one."""
    service = registered()
    fail(service, 5, address=None, every=dt.timedelta(0))
    with pytest.raises(LoginThrottled):
        service.authenticate(EMAIL, PASSWORD)
    assert service.authenticate(EMAIL, PASSWORD, client_address=OWNER).email == EMAIL


def test_throttle_is_configurable() -> None:
    """A service with a stricter throttle refuses sooner."""
    service = registered()
    strict = RegistrationService(
        service.ports,
        service.storage,
        login_throttle=LoginThrottle(free_failures=2, first_delay=dt.timedelta(minutes=5)),
    )
    fail(strict, 2)
    with pytest.raises(LoginThrottled):
        strict.authenticate(EMAIL, PASSWORD, client_address=ATTACKER)


def test_throttle_refuses_nonsense_figures() -> None:
    """Free failures below 1 and delays that are not positive are refused when built."""
    with pytest.raises(ValueError, match="free_failures"):
        LoginThrottle(free_failures=0)
    with pytest.raises(ValueError, match="max_delay"):
        LoginThrottle(max_delay=dt.timedelta(0))


@pytest.mark.parametrize(
    "password",
    [
        "x" * 129,  # over the policy's max_length (128)
        "Kukkaruukku7Q" + "\u0301" * 200,  # combining marks: still over the limit after NFKC
        "y" * 1_000_000,
        "Kukkaruukku7Q\ud800",  # a lone surrogate: argon2 could not even encode it
    ],
    ids=["129", "marks", "million", "surrogate"],
)
def test_password_no_account_can_have_is_refused_without_hashing(password: str) -> None:
    """A password over the policy's maximum, or not valid Unicode, gets LoginFailed at once:
    no hash, no throttle entry."""
    hasher = CountingHasher(Argon2Hasher.insecure_fast())
    service = registered(hasher=hasher)
    hasher.verifications = 0
    started = time.perf_counter()
    with pytest.raises(LoginFailed):
        service.authenticate(EMAIL, password, client_address=ATTACKER)
    assert time.perf_counter() - started < 0.05
    assert hasher.verifications == 0
    accounts = service.ports.login_attempts
    assert isinstance(accounts, InMemoryAccountStore)
    assert accounts.login_attempt_log == {}


def test_longest_allowed_password_logs_in() -> None:
    """A password of exactly the policy's max_length is checked and logs in."""
    longest = "Kukkaruukku7Q" + "x" * (128 - 13)
    service = registered(password=longest)
    assert service.authenticate(EMAIL, longest).email == EMAIL


@pytest.mark.parametrize(
    "email", ["person0@example.fi\x00", "\x00", "pers\ud800n@example.fi", "a" * 400 + "@x.fi"]
)
def test_email_no_account_can_have_is_login_failed(email: str) -> None:
    """An email with NUL, a lone surrogate or over 320 characters gets LoginFailed at once."""
    service = registered()
    with pytest.raises(LoginFailed):
        service.authenticate(email, PASSWORD)


def test_purge_deletes_attempts_older_than_the_window() -> None:
    """purge_login_attempts deletes failures older than the window and keeps younger ones."""
    clock = ManualClock()
    service = registered(clock=clock)
    fail(service, 3, every=dt.timedelta(0))
    clock.advance(dt.timedelta(hours=23))
    fail(service, 1, address=OWNER, every=dt.timedelta(0))
    clock.advance(dt.timedelta(hours=1, seconds=1))
    assert service.purge_login_attempts() == 3
    accounts = service.ports.login_attempts
    assert isinstance(accounts, InMemoryAccountStore)
    assert [a.address for a in accounts.login_attempt_log.values()] == [address_key(OWNER)]


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
        service.ports,
        service.storage,
        login_throttle=LoginThrottle(free_failures=1000, account_free_failures=1000),
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
    assert [a.account for a in attempts.login_attempt_log.values()] == [throttle_key(EMAIL)]
    accounts = service.ports.accounts
    assert isinstance(accounts, InMemoryAccountStore)
    assert accounts.login_attempt_log == {}


def checks_made(service: RegistrationService, email: str, password: str) -> int:
    """How many password checks a refused login made (0: refused before any hash)."""
    hasher = service.ports.hasher
    assert isinstance(hasher, CountingHasher)
    before = hasher.verifications
    with pytest.raises(LoginFailed):
        service.authenticate(email, password, client_address=OWNER)
    return hasher.verifications - before


def test_input_no_account_can_match_costs_no_password_check() -> None:
    """Overlong emails, control characters and lone surrogates are refused before hashing;
    input just inside each limit is checked like any other wrong password."""
    service = registered(hasher=CountingHasher(Argon2Hasher.insecure_fast()))
    local = "a" * (320 - len("@example.fi"))
    assert checks_made(service, local + "@example.fi", "wrong password 1") == 1  # 320: checked
    assert checks_made(service, "a" + local + "@example.fi", "wrong password 1") == 0  # 321
    assert checks_made(service, "anna\x00@example.fi", "wrong password 1") == 0
    assert checks_made(service, "anna\x7f@example.fi", "wrong password 1") == 0
    assert checks_made(service, "anna\ud800@example.fi", "wrong password 1") == 0
    assert checks_made(service, EMAIL, "wrong \ud800 password") == 0


def test_the_policys_max_length_bounds_what_a_login_checks() -> None:
    """With a policy allowing at most 64 characters, a 65-character password is never checked;
    with a policy that names no limit, the default of 128 applies."""
    strict = registered(hasher=CountingHasher(Argon2Hasher.insecure_fast()))
    strict = RegistrationService(
        attrs.evolve(strict.ports, policy=attrs.evolve(strict.ports.policy, max_length=64)),
        strict.storage,
    )
    assert checks_made(strict, EMAIL, "x" * 64) == 1
    assert checks_made(strict, EMAIL, "x" * 65) == 0

    class NoLimit:
        """Rules that say nothing of a maximum length."""

        def __init__(self, inner: object) -> None:
            self.inner = inner

        def __getattr__(self, name: str) -> object:
            if name == "max_length":
                raise AttributeError(name)
            return getattr(self.inner, name)

    default = registered(hasher=CountingHasher(Argon2Hasher.insecure_fast()))
    default = RegistrationService(
        attrs.evolve(default.ports, policy=NoLimit(default.ports.policy)), default.storage
    )
    assert checks_made(default, EMAIL, "x" * 128) == 1
    assert checks_made(default, EMAIL, "x" * 129) == 0


def test_throttle_figures_must_be_positive_timedeltas() -> None:
    """Every duration of the throttle must be a timedelta above zero; the error names the field
    and the value; a microsecond is enough."""
    for name in ("first_delay", "max_delay", "window", "remember"):
        for bad in (dt.timedelta(0), dt.timedelta(seconds=-1), 30, None):
            with pytest.raises(ValueError, match=f"^{name} must be a positive timedelta, not "):
                LoginThrottle(**{name: bad})
        tiny = LoginThrottle(**{name: dt.timedelta(microseconds=1)})
        assert getattr(tiny, name) == dt.timedelta(microseconds=1)
    with pytest.raises(ValueError, match=r"not datetime\.timedelta\(0\)$"):
        LoginThrottle(window=dt.timedelta(0))


def test_only_a_success_of_the_same_pair_exempts_from_the_account_wide_count() -> None:
    """With the account's free failures spent from many addresses, an address is exempt only
    when the same account logged in from it: its own failures, or another account's success
    from it, do not make it known."""
    throttle = LoginThrottle()
    at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    spread = [LoginAttempt("k", f"a{i}", at) for i in range(100)]
    own_failure = LoginAttempt("k", "home", at)
    other_success = LoginAttempt("other", "home", at, succeeded=True)
    other_success_elsewhere = LoginAttempt("other", "work", at, succeeded=True)
    cases = ((own_failure, 60), (other_success, 30), (other_success_elsewhere, 30))
    for extra, wait in cases:  # 101 failures of the account double its delay
        retry_at = throttle.retry_at([*spread, extra], account="k", address="home")
        assert retry_at == at + dt.timedelta(seconds=wait)
    known = LoginAttempt("k", "home", at, succeeded=True)
    assert throttle.retry_at([*spread, known, own_failure], account="k", address="home") is None


def test_keys_are_stable_digests() -> None:
    """The stored keys are the SHA-256 of the normalised email and of "address:" and the
    address's group, so that keys stored by an earlier release still count."""
    assert throttle_key(" Anna@Example.FI ") == hashlib.sha256(b"anna@example.fi").hexdigest()
    assert address_key("198.51.100.7") == hashlib.sha256(b"address:198.51.100.7").hexdigest()
    assert address_key("::ffff:198.51.100.7") == address_key("198.51.100.7")
    assert (
        address_key("2001:db8::1")
        == hashlib.sha256(b"address:2001:db8::/64").hexdigest()
        == address_key("2001:db8::ffff:1")
    )
    assert address_key(None) is None


def test_an_address_header_with_a_lone_surrogate_still_has_a_key() -> None:
    """Whatever text the web tier hands over as the address, even a lone surrogate, gets a key
    instead of an encoding error: the one key of every text that is no IP address (a client
    choosing its text must not get a count of its own per text)."""
    key = address_key("proxy \ud800")
    assert key == hashlib.sha256(f"address:{NOT_AN_ADDRESS}".encode()).hexdigest()
    assert key == address_key("proxy \ud801")
    assert key != address_key("192.0.2.1")


def test_a_limit_of_its_own_is_taken_only_when_positive() -> None:
    """A policy's `max_length` of 1 is the limit; 0, a negative or a non-integer one falls
    back to the default of 128."""

    class Limit:
        """Rules with a given `max_length` and nothing else a login reads."""

        def __init__(self, max_length: object) -> None:
            self.max_length = max_length

    ports = make_ports([])
    for value, limit in ((1, 1), (64, 64), (0, 128), (-1, 128), ("64", 128), (None, 128)):
        assert max_password_length(attrs.evolve(ports, policy=Limit(value))) == limit


def test_a_password_four_times_the_limit_is_still_normalised_and_checked() -> None:
    """The guard before normalising refuses only what is longer than four times the limit: a
    password typed in decomposed form (four code points per character) at exactly that length
    still logs in."""
    service = registered()
    composed = "\u1faf" * 128  # omega with dasia, perispomeni and ypogegrammeni
    typed = "\u03a9\u0314\u0342\u0345" * 128  # the same, decomposed: 512 code points
    assert unicodedata.normalize("NFKC", typed) == composed
    account = service.ports.accounts.find_by_email(EMAIL)
    assert account is not None
    service.ports.accounts.update_password_hash(
        account.account_id, service.ports.hasher.hash(composed)
    )
    assert service.authenticate(EMAIL, typed).email == EMAIL
    with pytest.raises(LoginFailed):
        service.authenticate(EMAIL, typed + "\u0345")


def test_input_that_is_not_text_is_login_failed() -> None:
    """An email or a password that is not a str fails like a wrong password, not with a
    TypeError, and reaches no store."""
    service = registered()
    for email, password in ((None, PASSWORD), (EMAIL, None), (42, 42), (b"x", PASSWORD)):
        with pytest.raises(LoginFailed):
            service.authenticate(email, password)  # type: ignore[arg-type]
    attempts = service.ports.login_attempts
    assert isinstance(attempts, InMemoryAccountStore)
    assert attempts.login_attempt_log == {}


class BrokenHasher(CountingHasher):
    """A hasher whose verification fails with an error of its own."""

    def verify(self, password_hash: str, password: str) -> bool:
        raise RuntimeError("hasher broke")


def test_an_attempt_whose_check_failed_is_forgotten() -> None:
    """When checking the password raises, the attempt is forgotten (it checked nothing) and
    the error goes on unchanged."""
    service = registered()
    broken = attrs.evolve(service.ports, hasher=BrokenHasher(service.ports.hasher))
    with pytest.raises(RuntimeError, match="hasher broke"):
        authenticate(broken, EMAIL, PASSWORD, client_address=ATTACKER)
    attempts = service.ports.login_attempts
    assert isinstance(attempts, InMemoryAccountStore)
    assert attempts.login_attempt_log == {}


def test_the_first_error_wins_when_forgetting_the_attempt_fails_too() -> None:
    """A store that is down cannot forget the attempt either: the hasher's error goes on, not
    the store's."""
    service = registered()
    attempts = service.ports.login_attempts
    assert isinstance(attempts, InMemoryAccountStore)

    class DownAfterReserve(BrokenHasher):
        def verify(self, password_hash: str, password: str) -> bool:
            attempts.outage = True
            return super().verify(password_hash, password)

    broken = attrs.evolve(service.ports, hasher=DownAfterReserve(service.ports.hasher))
    with pytest.raises(RuntimeError, match="hasher broke"):
        authenticate(broken, EMAIL, PASSWORD, client_address=ATTACKER)


def test_purge_keeps_known_addresses_for_the_remember_period() -> None:
    """purge_login_attempts deletes successes older than `remember` and keeps younger ones,
    which still exempt their address."""
    clock = ManualClock()
    service = registered(clock=clock)
    service.authenticate(EMAIL, PASSWORD, client_address=OWNER)
    clock.advance(dt.timedelta(days=30))
    assert service.purge_login_attempts() == 0
    attempts = service.ports.login_attempts
    assert isinstance(attempts, InMemoryAccountStore)
    assert [a.succeeded for a in attempts.login_attempt_log.values()] == [True]
    clock.advance(dt.timedelta(seconds=1))
    assert service.purge_login_attempts() == 1
    assert attempts.login_attempt_log == {}


def test_a_digest_is_an_hmac_under_the_key_and_plain_sha256_without_one() -> None:
    """`digest`: HMAC-SHA256 under a key, plain SHA-256 without (the keys stored so far)."""
    key = b"k" * 32
    assert digest(b"x") == hashlib.sha256(b"x").hexdigest()
    assert digest(b"x", key) == hmac.new(key, b"x", hashlib.sha256).hexdigest()
    assert digest(b"x", key) != digest(b"x", b"j" * 32)


def test_a_keyed_throttle_counts_under_keyed_digests() -> None:
    """With `LoginThrottle(digest_key=...)` the stored attempt holds HMACs of the email and the
    address under that key, not the unkeyed digests."""
    key = b"k" * 32
    service = registered()
    keyed = RegistrationService(
        service.ports, service.storage, login_throttle=LoginThrottle(digest_key=key)
    )
    with pytest.raises(LoginFailed):
        keyed.authenticate(EMAIL, "Wrong-Password-1", client_address=ATTACKER)
    accounts = service.storage.accounts
    assert isinstance(accounts, InMemoryAccountStore)
    (attempt,) = accounts.login_attempt_log.values()
    assert attempt.account == throttle_key(EMAIL, key) != throttle_key(EMAIL)
    assert attempt.address == address_key(ATTACKER, key) != address_key(ATTACKER)
