"""The contract tests run on every storage: the in-memory fakes, SQLite and PostgreSQL."""

from tests.storage_fixtures import (  # noqa: F401  # fixtures
    postgres_server_url,
    postgres_url,
    sqlite_url,
    storage,
)
