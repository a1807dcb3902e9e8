"""Concurrent wrong guesses cannot outrun the login throttle (issue 15, item 1).

The throttle reserves each attempt before its password is checked, so N attempts racing for one
account from one address make at most `free_failures` password checks, however they interleave:
with threads on SQLite and PostgreSQL, and with processes (as in production) on PostgreSQL.
"""

from __future__ import annotations

import collections
import threading

import pytest
import sqlalchemy as sa
from tests.storage_support import (
    CountingHasher,
    people,
    race_guesses,
    register_until_review,
    sql_service,
)

from regflow import Argon2Hasher, LoginFailed, LoginThrottled
from regflow.adapters.memory import ManualClock
from regflow.adapters.sql import SqlStore, login_attempts_table
from regflow.service import RegistrationService

RECORD = people(1)[0]
EMAIL = RECORD.details.email
THREADS, GUESSES = 40, 5


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest) -> str:
    """An empty database of each kind with regflow's tables."""
    url: str = request.getfixturevalue(
        "sqlite_url" if request.param == "sqlite" else "postgres_url"
    )
    with SqlStore.from_url(url) as store:
        store.create_schema()
    return url


def register(service: RegistrationService) -> None:
    """RECORD registers through `service`."""
    flow = register_until_review(service, RECORD)
    assert flow.review_token is not None
    service.approve(flow.id, flow.review_token)


def stored_attempts(url: str) -> int:
    """How many login attempts the database holds."""
    with SqlStore.from_url(url) as store, store.engine.connect() as connection:
        count: int = connection.execute(
            sa.select(sa.func.count()).select_from(login_attempts_table)
        ).scalar_one()
        return count


def test_forty_threads_make_at_most_the_free_checks(database: str) -> None:
    """40 threads x 5 wrong guesses at one instant from one address: at most 5 password
    checks (the free failures), every other attempt throttled, and the checks' failures stored."""
    hasher = CountingHasher(Argon2Hasher.insecure_fast())
    with sql_service(database, [RECORD], hasher=hasher, clock=ManualClock()) as service:
        register(service)
        hasher.hash("warm-up")
        hasher.verifications = 0
        barrier = threading.Barrier(THREADS)
        codes: collections.Counter[str] = collections.Counter()
        lock = threading.Lock()

        def guess() -> None:
            barrier.wait(timeout=60)
            for _ in range(GUESSES):
                try:
                    service.authenticate(EMAIL, "Wrong-password-1", client_address="203.0.113.7")
                except (LoginFailed, LoginThrottled) as error:
                    with lock:
                        codes[error.code] += 1

        threads = [threading.Thread(target=guess) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        allowed = service.login_throttle.free_failures
    assert sum(codes.values()) == THREADS * GUESSES, codes
    assert 1 <= hasher.verifications <= allowed, (hasher.verifications, codes)
    assert codes["login_failed"] == hasher.verifications
    assert stored_attempts(database) == hasher.verifications


@pytest.mark.postgres
@pytest.mark.slow
def test_processes_make_at_most_the_free_checks(postgres_url: str) -> None:
    """8 processes x 5 wrong guesses at once on PostgreSQL: at most 5 password checks in all."""
    with SqlStore.from_url(postgres_url) as store:
        store.create_schema()
    with sql_service(postgres_url, [RECORD]) as service:
        register(service)
        allowed = service.login_throttle.free_failures
    outcomes = race_guesses(postgres_url, EMAIL, 8, GUESSES)
    checks = sum(made for made, _ in outcomes)
    codes = collections.Counter(code for _, codes in outcomes for code in codes)
    assert codes["login_failed"] + codes["login_throttled"] == 8 * GUESSES, codes
    assert 1 <= checks <= allowed, (checks, codes)
    assert codes["login_failed"] == checks
    assert stored_attempts(postgres_url) == checks
