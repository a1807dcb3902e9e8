"""Integration fixtures: the OIDC provider (`tests.oidc_fixtures`), SMTP and storage.

The OIDC fixtures live in `tests/oidc_fixtures.py` so that the contract tests share them.
"""

from tests.oidc_fixtures import (  # noqa: F401  # fixtures, and the type the tests name
    OidcProviderProcess,
    oidc_bank,
    oidc_broker,
    oidc_dead_issuer,
    oidc_keys,
    oidc_provider,
    oidc_spare_provider,
)

# Storage fixtures (PostgreSQL, SQLite, in memory) for the service, relay and PostgreSQL tests.
from tests.storage_fixtures import (  # noqa: F401  # fixtures
    postgres_server_url,
    postgres_url,
    sqlite_url,
    storage,
)
