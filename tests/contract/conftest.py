"""The stores every contract test runs against: the in-memory fakes, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from regflow.adapters.memory import InMemoryStorage
from regflow.ports import Storage
from tests.postgres_fixtures import postgres_server_url, postgres_url  # noqa: F401  # fixtures

STORAGES = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=STORAGES)
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    """Empty storage of each kind, with its tables created."""
    if request.param == "memory":
        yield InMemoryStorage()
        return
    from regflow.adapters.sql import SqlStore

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'regflow.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres_url")
    with SqlStore.from_url(url) as store:
        store.create_schema()
        yield store
