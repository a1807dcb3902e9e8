"""Rate limits per client address (`regflow.ratelimit`): their configuration, and what the
service does when one is spent: nothing, with `RateLimited` (issue 13, item 5)."""

from __future__ import annotations

import datetime as dt

import pytest

from regflow import (
    AdapterError,
    Argon2Hasher,
    LoginFailed,
    RateLimited,
    RateLimiter,
    RateLimits,
    State,
)
from regflow.adapters.memory import InMemoryRateLimitStorage, InMemoryStorage, ManualClock
from regflow.bootstrap import Config, ConfigError, bootstrap, demo_app
from regflow.login import address_key
from regflow.ratelimit import DEFAULT_LOGIN, DEFAULT_PASSWORD, DEFAULT_START, parse_limit
from regflow.service import RegistrationService
from tests.storage_support import (
    PASSWORD,
    CountingHasher,
    make_ports,
    people,
    register_until_review,
)

ADDRESS = "192.0.2.44"
RECORD = people(1)[0]


def service_with(limits: RateLimits, **ports: object) -> RegistrationService:
    """A service in memory with RECORD, a manual clock and `limits`."""
    clock = ManualClock()
    built = make_ports([RECORD], clock=clock, **ports)  # type: ignore[arg-type]
    limiter = RateLimiter(InMemoryRateLimitStorage(clock), limits, clock)
    return RegistrationService(built, InMemoryStorage.of(built), rate_limiter=limiter)


def test_limits_are_read_as_limits_text() -> None:
    """ "N/period" text, several joined by ";"; "off" and None turn a limit off."""
    assert [repr(i) for i in parse_limit("30/minute")] == ["30 per 1 minute"]
    assert [i.get_expiry() for i in parse_limit("5 per second; 100/2 hours")] == [1, 7200]
    assert parse_limit("off") == parse_limit(None) == ()
    limits = RateLimits(start="off", password=" 3/minute ")
    assert (limits.start, limits.password, limits.login) == (None, "3/minute", DEFAULT_LOGIN)
    assert limits.enabled
    assert not RateLimits.off().enabled


@pytest.mark.parametrize(
    "text", ["30", "lots/minute", "30/fortnight", "0/minute", "-1/second", "1/9000 years"]
)
def test_text_that_is_no_limit_is_refused(text: str) -> None:
    """A limit that cannot be read, or that allows nothing, is an error at once."""
    with pytest.raises(ValueError, match="rate limit"):
        RateLimits(start=text)


def test_the_defaults_are_generous() -> None:
    """By default each action allows 30 requests a minute per address."""
    limits = RateLimits()
    assert (limits.start, limits.password, limits.login) == (
        DEFAULT_START,
        DEFAULT_PASSWORD,
        DEFAULT_LOGIN,
    )
    assert [i.amount for i in limits.items("start")] == [30]


def test_limits_come_from_the_environment() -> None:
    """REGFLOW_RATE_LIMIT_START/_PASSWORD/_LOGIN set each; REGFLOW_RATE_LIMITS=off all."""
    env = {
        "REGFLOW_RATE_LIMIT_START": "5/minute",
        "REGFLOW_RATE_LIMIT_PASSWORD": "off",
        "REGFLOW_DATABASE_URL": "memory:",
    }
    limits = Config.from_env(env).rate_limits
    assert (limits.start, limits.password, limits.login) == ("5/minute", None, DEFAULT_LOGIN)
    off = Config.from_env({**env, "REGFLOW_RATE_LIMITS": "off"}).rate_limits
    assert off == RateLimits.off()
    assert Config.from_env({"REGFLOW_DATABASE_URL": "memory:"}).rate_limits == RateLimits()


@pytest.mark.parametrize(
    ("name", "value"),
    [("REGFLOW_RATE_LIMIT_LOGIN", "many"), ("REGFLOW_RATE_LIMITS", "sometimes")],
)
def test_a_bad_limit_in_the_environment_is_a_config_error(name: str, value: str) -> None:
    """The operator's mistake is named at startup."""
    with pytest.raises(ConfigError, match=name):
        Config.from_env({name: value})


def test_bootstrap_wires_the_limits_into_the_service() -> None:
    """The default configuration limits starts per address; off builds no limiter; a storage
    passed in is the one counted in."""
    app = demo_app()
    assert app.service.rate_limiter is not None
    assert isinstance(app.service.rate_limiter.storage, InMemoryRateLimitStorage)
    off = bootstrap(Config(demo=True, rate_limits=RateLimits.off()))
    assert off.service.rate_limiter is None
    clock = ManualClock()
    mine = InMemoryRateLimitStorage(clock)
    config = Config(demo=True, rate_limits=RateLimits(start="1/minute"))
    app = bootstrap(config, rate_limit_storage=mine, clock=clock)
    app.service.start(client_address=ADDRESS)
    with pytest.raises(RateLimited):
        app.service.start(client_address=ADDRESS)
    assert mine.get(f"regflow/start/{address_key(ADDRESS)}/1/1/minute") == 2


def test_a_refused_start_stores_no_flow() -> None:
    """The start over the limit raises `RateLimited` and stores nothing; another address and
    a caller without one still start flows."""
    service = service_with(RateLimits(start="2/minute"))
    for _ in range(2):
        service.start(client_address=ADDRESS)
    with pytest.raises(RateLimited) as raised:
        service.start(client_address=ADDRESS)
    assert (raised.value.code, raised.value.action, raised.value.retry_after) == (
        "rate_limited",
        "start",
        60,
    )
    service.start(client_address="192.0.2.45")
    service.start()
    later = service.ports.clock.now() + dt.timedelta(days=365)
    assert service.storage.flows.purge_expired(later) == 4  # the flows stored: 2 + 2


def test_a_refused_details_step_leaves_the_flow_as_it_was() -> None:
    """submit_details over the limit raises before the flow is loaded: state and version stay."""
    service = service_with(RateLimits(password="1/minute"))
    flow = register_until_review(service, RECORD)  # its password check is not limited: no address
    flow = service.edit(flow.id)
    service.submit_details(flow.id, RECORD.details, PASSWORD, client_address=ADDRESS)
    flow = service.edit(flow.id)
    before = service.storage.flows.load(flow.id)
    with pytest.raises(RateLimited) as raised:
        service.submit_details(flow.id, RECORD.details, PASSWORD, client_address=ADDRESS)
    assert raised.value.action == "password"
    after = service.storage.flows.load(flow.id)
    assert after.version == before.version
    assert after.snapshot == before.snapshot
    assert service.view(flow.id).state is State.entering_details


def test_a_refused_login_checks_no_password_and_records_no_attempt() -> None:
    """A login over the limit verifies nothing and leaves the throttle's record alone."""
    hasher = CountingHasher(Argon2Hasher.insecure_fast())
    service = service_with(RateLimits(login="2/minute"), hasher=hasher)
    for _ in range(2):
        with pytest.raises(LoginFailed):
            service.authenticate("nobody@example.fi", "wrong", client_address=ADDRESS)
    checks = hasher.verifications
    attempts = service.ports.login_attempts
    now = service.ports.clock.now()
    recorded = attempts.purge_login_attempts(now + dt.timedelta(days=1), known_before=now)
    assert recorded == 2
    with pytest.raises(RateLimited) as raised:
        service.authenticate("nobody@example.fi", "wrong", client_address=ADDRESS)
    assert raised.value.action == "login"
    assert hasher.verifications == checks
    assert attempts.purge_login_attempts(now + dt.timedelta(days=1), known_before=now) == 0


def test_the_window_ends_and_the_address_may_go_on() -> None:
    """Once the window has passed, the same address is counted afresh."""
    service = service_with(RateLimits(start="1/hour"))
    service.start(client_address=ADDRESS)
    clock = service.ports.clock
    assert isinstance(clock, ManualClock)
    clock.advance(dt.timedelta(minutes=59))
    with pytest.raises(RateLimited) as raised:
        service.start(client_address=ADDRESS)
    assert raised.value.retry_after == 60
    clock.advance(dt.timedelta(minutes=1))
    service.start(client_address=ADDRESS)


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("sv", "Försök igen om 42 s."),
        ("fi", "Yritä uudelleen 42 s kuluttua."),
        ("en", "Please try again in 42 s."),
    ],
)
def test_the_message_says_when_in_each_language(language: str, text: str) -> None:
    """The user is told how long to wait, in Swedish, Finnish and English."""
    assert text in RateLimited(action="start", retry_after=42).message(language)


@pytest.mark.parametrize(
    ("wait", "language", "text"),
    [
        (120, "en", "in 120 s."),
        (121, "en", "in 3 min."),
        (7200, "sv", "om 120 min."),
        (7201, "fi", "uudelleen 3 h kuluttua."),
        (86400, "en", "in 24 h."),
    ],
)
def test_a_long_wait_is_said_in_minutes_or_hours(wait: int, language: str, text: str) -> None:
    """Seconds up to 2 minutes, minutes up to 2 hours, then hours, each rounded up."""
    assert RateLimited(action="login", retry_after=wait).message(language).endswith(text)


def test_another_storage_s_failure_is_an_adapter_error() -> None:
    """A `limits` storage other than regflow's (Redis, say) failing is `AdapterError`, which a
    web handler answers as "unavailable", not an unknown exception."""

    class Down(InMemoryRateLimitStorage):
        @property
        def base_exceptions(self) -> type[Exception]:
            return ConnectionError

        def incr(self, key: str, expiry: int, amount: int = 1) -> int:
            raise ConnectionError(key)

    limiter = RateLimiter(Down(ManualClock()), RateLimits(start="5/minute"), ManualClock())
    with pytest.raises(AdapterError) as raised:
        limiter.hit("start", ADDRESS)
    assert raised.value.port == "rate_limits"
    assert raised.value.detail == "ConnectionError"


def test_purging_the_service_s_counters() -> None:
    """`purge_rate_limits` drops the ended windows of the service's counters."""
    service = service_with(RateLimits(start="1/minute"))
    service.start(client_address=ADDRESS)
    service.start(client_address="192.0.2.45")
    assert service.purge_rate_limits() == 0
    clock = service.ports.clock
    assert isinstance(clock, ManualClock)
    clock.advance(dt.timedelta(minutes=1))
    assert service.purge_rate_limits() == 2
    assert RegistrationService(service.ports, service.storage).purge_rate_limits() == 0


def test_text_that_is_no_ip_address_is_one_group() -> None:
    """Whatever a forged header says, text that is not an IP address counts together, apart
    from every real address: a client choosing its text gets no new count per request."""
    assert address_key("junk-1") == address_key("junk-2") == address_key("testclient")
    assert address_key("junk-1") != address_key("203.0.113.7")
    service = service_with(RateLimits(start="1/minute"))
    service.start(client_address="junk-1")
    with pytest.raises(RateLimited):
        service.start(client_address="junk-2")
    service.start(client_address="203.0.113.7")


def test_a_call_without_an_address_is_not_counted() -> None:
    """None (the caller does not know the client) neither counts nor is refused: a script or
    the CLI demo is no one client."""
    service = service_with(RateLimits(start="1/minute"))
    service.start()
    service.start()
    service.start(client_address=ADDRESS)  # the address's one start is still free
    with pytest.raises(RateLimited):
        service.start(client_address=ADDRESS)


def test_a_keyed_limiter_counts_under_the_keyed_digest() -> None:
    """`RateLimiter(digest_key=...)` keys its counters by the HMAC of the address's group."""
    key = b"k" * 32
    clock = ManualClock()
    counters = InMemoryRateLimitStorage(clock)
    RateLimiter(counters, RateLimits(start="5/minute"), clock, digest_key=key).hit("start", ADDRESS)
    keyed, unkeyed = address_key(ADDRESS, key), address_key(ADDRESS)
    assert keyed is not None
    assert unkeyed is not None
    assert any(keyed in k for k in counters._counters)  # what is stored
    assert not any(unkeyed in k for k in counters._counters)
