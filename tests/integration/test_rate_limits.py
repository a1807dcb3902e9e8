"""Rate limits per client address on every storage: in memory, SQLite and PostgreSQL (issue 13,
item 5). The window's boundary, addresses and actions apart, purging, and several workers (two
engines, threads, processes) counting into one limit."""

from __future__ import annotations

import argparse
import datetime as dt
import threading

import pytest
import sqlalchemy as sa
from tests.storage_support import race_starts, table_counts

from regflow import AdapterError, RateLimited, SchemaMissing, relay
from regflow.adapters.memory import InMemoryRateLimitStorage, InMemoryStorage, ManualClock
from regflow.adapters.sql import SqlStore, rate_limits_table
from regflow.ports import RateLimitStorage, Storage
from regflow.ratelimit import RateLimiter, RateLimits

ADDRESS = "203.0.113.9"
SECOND = dt.timedelta(seconds=1)


def counters_of(storage: Storage, clock: ManualClock) -> RateLimitStorage:
    """The rate-limit counters beside `storage`, as `bootstrap` builds them."""
    if isinstance(storage, InMemoryStorage):
        return InMemoryRateLimitStorage(clock)
    assert isinstance(storage, SqlStore)
    return storage.rate_limits(clock)


@pytest.fixture
def clock() -> ManualClock:
    """The test's clock: the counters' windows move with it."""
    return ManualClock()


@pytest.fixture
def counters(storage: Storage, clock: ManualClock) -> RateLimitStorage:
    """The counters of the storage under test."""
    return counters_of(storage, clock)


def limiter(counters: RateLimitStorage, clock: ManualClock, **limits: str | None) -> RateLimiter:
    """A limiter with `limits` (the others off) on `counters`."""
    return RateLimiter(counters, RateLimits(**{**vars_off(), **limits}), clock)


def vars_off() -> dict[str, str | None]:
    """Every action off."""
    return {"start": None, "password": None, "login": None}


def refused(limiter: RateLimiter, action: str = "start", address: str = ADDRESS) -> int | None:
    """The `retry_after` when the hit is refused, None when it is counted."""
    try:
        limiter.hit(action, address)  # type: ignore[arg-type]  # the tests name valid actions
    except RateLimited as error:
        if error.action != action:
            pytest.fail(f"refused as {error.action}, not {action}")
        return error.retry_after
    return None


def test_the_hit_over_the_limit_waits_for_the_window_to_end(
    counters: RateLimitStorage, clock: ManualClock
) -> None:
    """3/minute: three hits pass, the fourth waits 60 s; 59 s on, 1 s; at 60 s a new window."""
    limits = limiter(counters, clock, start="3/minute")
    assert [refused(limits) for _ in range(3)] == [None, None, None]
    assert refused(limits) == 60
    clock.advance(59 * SECOND)
    assert refused(limits) == 1
    clock.advance(SECOND)
    assert [refused(limits) for _ in range(4)] == [None, None, None, 60]


def test_refused_hits_do_not_move_the_window(
    counters: RateLimitStorage, clock: ManualClock
) -> None:
    """Hammering a spent limit gets no later end: the window began at its first hit."""
    limits = limiter(counters, clock, start="2/minute")
    refused(limits)
    refused(limits)
    for elapsed in range(7, 60, 7):
        clock.advance(7 * SECOND)
        assert refused(limits) == 60 - elapsed
    clock.advance(4 * SECOND)
    assert refused(limits) is None


def test_addresses_and_actions_count_apart(counters: RateLimitStorage, clock: ManualClock) -> None:
    """One address's spent limit leaves other addresses and other actions free; an IPv6 /64
    is one address, IPv4-mapped IPv6 the IPv4 address."""
    limits = limiter(counters, clock, start="1/minute", login="1/minute")
    assert refused(limits) is None
    assert refused(limits) == 60
    assert refused(limits, address="203.0.113.10") is None
    assert refused(limits, "login") is None
    assert refused(limits, address="::ffff:203.0.113.9") == 60
    assert refused(limits, address="2001:db8:1:2::1") is None
    assert refused(limits, address="2001:db8:1:2:ffff::9") == 60
    assert refused(limits, address="2001:db8:1:3::1") is None


def test_no_address_and_a_limit_that_is_off_count_nothing(
    counters: RateLimitStorage, clock: ManualClock
) -> None:
    """An unknown address (None) is not limited; nor is an action whose limit is off."""
    limits = limiter(counters, clock, start="1/minute")
    assert [refused(limits, address=None) for _ in range(5)] == [None] * 5  # type: ignore[arg-type]
    assert [refused(limits, "password") for _ in range(5)] == [None] * 5
    assert refused(limits) is None
    assert refused(limits) == 60


def test_every_limit_of_several_holds(counters: RateLimitStorage, clock: ManualClock) -> None:
    """ "2/second; 3/minute": the second's limit, then the minute's (every request counts
    against each, the refused ones too)."""
    limits = limiter(counters, clock, login="2/second; 3/minute")
    assert [refused(limits, "login") for _ in range(3)] == [None, None, 1]
    clock.advance(SECOND)
    assert refused(limits, "login") == 59  # a new second, but the minute's fourth
    clock.advance(59 * SECOND)
    assert refused(limits, "login") is None


def test_the_storage_operations(counters: RateLimitStorage, clock: ManualClock) -> None:
    """`limits`' storage interface: get, get_expiry, clear, reset, check."""
    assert counters.incr("k", 10) == 1
    assert counters.incr("k", 10, amount=2) == 3
    assert counters.get("k") == 3
    assert counters.get_expiry("k") == (clock.now() + 10 * SECOND).timestamp()
    assert counters.get("other") == 0
    assert counters.get_expiry("other") == clock.now().timestamp()
    clock.advance(10 * SECOND)
    assert counters.get("k") == 0
    assert counters.incr("k", 10) == 1
    counters.clear("k")
    assert counters.get("k") == 0
    counters.incr("a", 10)
    counters.incr("b", 10)
    assert counters.reset() == 2
    assert counters.check() is True


def test_purge_deletes_the_ended_windows_only(
    counters: RateLimitStorage, clock: ManualClock
) -> None:
    """`purge_expired` drops each counter whose window has ended, and no other."""
    counters.incr("minute", 60)
    counters.incr("hour", 3600)
    clock.advance(60 * SECOND)
    assert counters.purge_expired() == 1  # type: ignore[attr-defined]  # regflow's storages
    assert counters.get("hour") == 1
    assert counters.purge_expired() == 0  # type: ignore[attr-defined]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest) -> str:
    """A SQLite file or a PostgreSQL schema with regflow's tables."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    with SqlStore.from_url(url) as store:
        store.create_schema()
    return url


def test_two_engines_share_one_limit(database: str, clock: ManualClock) -> None:
    """Two stores (two engines, as two workers have) on one database count into one limit."""
    with SqlStore.from_url(database) as one, SqlStore.from_url(database) as two:
        first = limiter(one.rate_limits(clock), clock, password="3/minute")
        second = limiter(two.rate_limits(clock), clock, password="3/minute")
        assert refused(first, "password") is None
        assert refused(second, "password") is None
        assert refused(first, "password") is None
        assert refused(second, "password") == 60
        assert refused(first, "password") == 60


def test_racing_threads_on_two_engines_get_exactly_the_limit(
    database: str, clock: ManualClock
) -> None:
    """24 hits at once, from threads on two engines, against 7/minute: exactly 7 pass (each
    hit is one atomic upsert: none is lost, none counted twice)."""
    with SqlStore.from_url(database) as one, SqlStore.from_url(database) as two:
        limits = [limiter(s.rate_limits(clock), clock, login="7/minute") for s in (one, two)]
        barrier = threading.Barrier(24)
        passed: list[bool] = []

        def hit(index: int) -> None:
            barrier.wait(30)
            passed.append(refused(limits[index % 2], "login") is None)

        threads = [threading.Thread(target=hit, args=(i,)) for i in range(24)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert sorted(passed) == [False] * 17 + [True] * 7
        with one.engine.connect() as connection:
            hits = connection.execute(sa.select(rate_limits_table.c.hits)).scalar_one()
        assert hits == 24


def test_racing_threads_in_memory_get_exactly_the_limit(clock: ManualClock) -> None:
    """The in-memory counters are atomic between threads too."""
    limits = limiter(InMemoryRateLimitStorage(clock), clock, login="7/minute")
    barrier = threading.Barrier(24)
    passed: list[bool] = []

    def hit() -> None:
        barrier.wait(30)
        passed.append(refused(limits, "login") is None)

    threads = [threading.Thread(target=hit) for _ in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert passed.count(True) == 7


@pytest.mark.slow
def test_worker_processes_count_into_one_limit(database: str) -> None:
    """Three worker processes, as `bootstrap` builds them on one database, start 6 flows each
    at once from one address under 10/minute: 10 flows are started, 8 starts are refused."""
    outcomes = race_starts(database, 3, "10/minute", 6)
    codes = [code for worker in outcomes for code in worker]
    assert sorted(codes) == ["ok"] * 10 + ["rate_limited"] * 8
    assert table_counts(database)["regflow_flows"] == 10


def test_a_storage_that_fails_fails_the_hit(clock: ManualClock, sqlite_url: str) -> None:
    """A storage outage, or a database without the table, raises the storage's `AdapterError`
    (the request fails like any without its database), never passes or refuses silently."""
    counters = InMemoryRateLimitStorage(clock)
    counters.outage = True
    with pytest.raises(AdapterError):
        limiter(counters, clock, start="1/minute").hit("start", ADDRESS)
    assert counters.check() is False
    with SqlStore.from_url(sqlite_url) as store:  # no schema created
        with pytest.raises(SchemaMissing) as raised:
            limiter(store.rate_limits(clock), clock, start="1/minute").hit("start", ADDRESS)
        assert raised.value.port == "rate_limits"
        assert store.rate_limits(clock).check() is False


def test_the_counters_hold_no_address(database: str, clock: ManualClock) -> None:
    """The stored keys name a digest of the address, never the address itself."""
    with SqlStore.from_url(database) as store:
        limiter(store.rate_limits(clock), clock, start="1/minute").hit("start", ADDRESS)
        with store.engine.connect() as connection:
            (key,) = connection.execute(sa.select(rate_limits_table.c.key)).scalars()
    assert ADDRESS not in key
    assert key.startswith("regflow/start/")


def test_relay_command_purges_ended_windows(sqlite_url: str) -> None:
    """`regflow relay --once --purge-expired` deletes the rate limits' ended windows."""
    system = dt.datetime.now(dt.UTC)
    with SqlStore.from_url(sqlite_url) as store:
        store.create_schema()
        store.rate_limits(ManualClock(system - dt.timedelta(hours=2))).incr("old", 60)
        store.rate_limits(ManualClock(system)).incr("young", 3600)
    parser = argparse.ArgumentParser()
    relay.add_arguments(parser)
    args = parser.parse_args(
        ["--once", "--purge-expired", "--database-url", sqlite_url, "--mail-from", "a@b.fi"]
    )
    assert relay.run(args) == 0
    with SqlStore.from_url(sqlite_url) as store, store.engine.connect() as connection:
        keys = connection.execute(sa.select(rate_limits_table.c.key)).scalars().all()
    assert keys == ["young"]
