"""`regflow link-contracts` and its configuration: the HTTP directory from the environment."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.http_customers_fixtures import TOKEN, CustomerApi
from tests.linking_support import customer
from tests.storage_support import register_until_review, sql_service

from regflow.__main__ import main
from regflow.adapters.http_customers import HttpCustomerDirectory
from regflow.adapters.sql import SqlStore
from regflow.bootstrap import Config, ConfigError, bootstrap
from regflow.link_contracts import link_loop
from regflow.service import RegistrationService


@pytest.fixture
def database(tmp_path: Path) -> str:
    """A SQLite database holding one account whose district heating contract is pending."""
    url = f"sqlite:///{tmp_path / 'regflow.sqlite3'}"
    with SqlStore.from_url(url) as store:
        store.create_schema()
    with sql_service(url, [customer(0)]) as service:
        flow = register_until_review(service, customer(0))
        assert flow.review_token is not None
        service.approve(flow.id, flow.review_token)
    return url


@pytest.fixture
def api() -> Iterator[CustomerApi]:
    """The customer data system, now knowing the heat delivery point."""
    server = CustomerApi([customer(0, heating_site="DH-1")])
    server.start()
    yield server
    server.stop()


def environment(api: CustomerApi, database: str) -> dict[str, str]:
    """The variables an operator sets for the command."""
    return {
        "REGFLOW_DATABASE_URL": database,
        "REGFLOW_CUSTOMERS": "http",
        "REGFLOW_CUSTOMERS_URL": api.url,
        "REGFLOW_CUSTOMERS_TOKEN": TOKEN,
        "REGFLOW_CUSTOMERS_ATTEMPTS": "1",
    }


def pending(database: str) -> int:
    """How many accounts have a pending contract."""
    with SqlStore.from_url(database) as store:
        return len(store.accounts.accounts_with_pending_contracts(after=None, limit=100))


def test_from_env_builds_the_http_directory(api: CustomerApi, database: str) -> None:
    """REGFLOW_CUSTOMERS=http gives bootstrap an HttpCustomerDirectory; bad values refuse."""
    with bootstrap(Config.from_env(environment(api, database))) as app:
        assert isinstance(app.ports.customers, HttpCustomerDirectory)
    with pytest.raises(ConfigError, match="REGFLOW_CUSTOMERS_URL"):
        Config.from_env({"REGFLOW_CUSTOMERS": "http"})
    with pytest.raises(ConfigError, match="http or demo"):
        Config.from_env({"REGFLOW_CUSTOMERS": "ldap"})


def test_once_links_through_the_http_directory(
    api: CustomerApi, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`regflow link-contracts --once` links the contract; a second run finds nothing pending."""
    for name, value in environment(api, database).items():
        monkeypatch.setenv(name, value)
    assert pending(database) == 1
    assert main(["link-contracts", "--once"]) == 0
    assert pending(database) == 0
    assert main(["link-contracts", "--once", "--all"]) == 0


def test_once_reports_a_failing_directory(
    api: CustomerApi, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A directory that refuses: exit code 1, the account still pending."""
    for name, value in environment(api, database).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("REGFLOW_CUSTOMERS_TOKEN", "wrong")
    assert main(["link-contracts", "--once"]) == 1
    assert pending(database) == 1


def test_a_configuration_error_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    """No customer directory configured: exit code 2, no traceback."""
    monkeypatch.delenv("REGFLOW_DEMO", raising=False)
    monkeypatch.delenv("REGFLOW_CUSTOMERS", raising=False)
    assert main(["link-contracts", "--once", "--database-url", "memory:"]) == 2


def test_the_loop_links_until_stopped(database: str) -> None:
    """link_loop runs passes until its event is set and returns how many it linked."""
    with sql_service(database, [customer(0, heating_site="DH-1")]) as service:
        stop = threading.Event()
        results: list[int] = []

        def run(service: RegistrationService = service) -> None:
            results.append(link_loop(service, stop=stop, interval=0.05))

        thread = threading.Thread(target=run)
        thread.start()
        while pending(database):
            stop.wait(0.02)
        stop.set()
        thread.join(10)
    assert results == [1]
