"""The contract tests run on every adapter of a port: the in-memory fake and the real one.

Stores: the in-memory fakes, SQLite and PostgreSQL; bank identification: the simulated bank and
the OIDC adapter against the repo's oidc-provider; mail: the recording mailer and SMTP against
aiosmtpd; customer directories: the in-memory one and HTTP against a loopback server.
"""

from tests.http_customers_fixtures import customer_api  # noqa: F401  # a fixture
from tests.oidc_fixtures import (  # noqa: F401  # fixtures
    oidc_broker,
    oidc_keys,
    oidc_provider,
)
from tests.smtp_fixtures import smtp_server  # noqa: F401  # fixtures
from tests.storage_fixtures import (  # noqa: F401  # fixtures
    postgres_server_url,
    postgres_url,
    sqlite_url,
    storage,
)
