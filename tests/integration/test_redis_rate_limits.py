"""The README's promise that another `limits` storage fits: its Redis storage, on a real Redis.

`REGFLOW_TEST_REDIS_URL` names the server (CI: redis://127.0.0.1:6379/15). Unset: these tests
skip; set but unreachable: they fail. Each test counts under a key prefix of its own and deletes
its keys afterwards, so runs never see each other's counters.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
from limits.storage import RedisStorage

from regflow import AdapterError, RateLimited, RateLimits
from regflow.bootstrap import Config, bootstrap

if TYPE_CHECKING:
    from pathlib import Path

REDIS_URL_ENV = "REGFLOW_TEST_REDIS_URL"
ADDRESS = "203.0.113.9"


@pytest.fixture
def redis_counters() -> Iterator[RedisStorage]:
    """A `limits` Redis storage under a fresh key prefix; its keys deleted after the test."""
    url = os.environ.get(REDIS_URL_ENV, "").strip()
    if not url:
        pytest.skip(f"{REDIS_URL_ENV} is not set: no Redis to test against")
    storage = RedisStorage(url, key_prefix=f"regflow-test-{secrets.token_hex(6)}")
    if not storage.check():
        pytest.fail(f"Redis at {REDIS_URL_ENV}={url} is unreachable", False)
    try:
        yield storage
    finally:
        storage.reset()


def config(tmp_path: Path, name: str) -> Config:
    """A demo deployment on its own SQLite file, 3 starts a minute per address."""
    url = f"sqlite:///{tmp_path / f'{name}.sqlite3'}"
    return Config(database_url=url, demo=True, rate_limits=RateLimits(start="3/minute"))


def test_two_workers_count_into_one_redis_limit(
    tmp_path: Path, redis_counters: RedisStorage
) -> None:
    """Two deployments (as two workers) sharing the Redis counters: 3 starts in all from one
    address, the 4th refused with the window's remaining time; another address is apart."""
    with (
        bootstrap(config(tmp_path, "a"), rate_limit_storage=redis_counters) as first,
        bootstrap(config(tmp_path, "b"), rate_limit_storage=redis_counters) as second,
    ):
        first.service.start(client_address=ADDRESS)
        second.service.start(client_address=ADDRESS)
        first.service.start(client_address=ADDRESS)
        with pytest.raises(RateLimited) as refused:
            second.service.start(client_address=ADDRESS)
        assert 1 <= refused.value.retry_after <= 60
        second.service.start(client_address="198.51.100.4")


def test_an_unreachable_redis_is_an_adapter_error_and_starts_nothing(tmp_path: Path) -> None:
    """Redis refusing connections is regflow's `AdapterError` ("rate_limits"), not redis's
    exception, and the refused start stores no flow."""
    unreachable = RedisStorage("redis://127.0.0.1:1/0", socket_connect_timeout=2)
    with bootstrap(config(tmp_path, "down"), rate_limit_storage=unreachable) as app:
        with pytest.raises(AdapterError) as failed:
            app.service.start(client_address=ADDRESS)
        assert (failed.value.code, failed.value.port) == ("adapter_error", "rate_limits")
        assert failed.value.detail == "ConnectionError"  # the class only, never the URL
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'down.sqlite3'}")
    with engine.connect() as db:
        assert db.scalar(sa.text("SELECT count(*) FROM regflow_flows")) == 0
    engine.dispose()
