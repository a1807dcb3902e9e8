"""The embedded default is safe for several processes too: SQLite serialises their writes."""

from __future__ import annotations

import pytest
from tests.storage_support import (
    hop_registrations,
    person,
    race_approve,
    race_same_email,
    register_until_review,
    sql_service,
    table_counts,
)

from regflow.adapters.sql import SqlStore

pytestmark = pytest.mark.slow


@pytest.fixture
def database(sqlite_url: str) -> str:
    """A new SQLite file with regflow's tables."""
    with SqlStore.from_url(sqlite_url) as store:
        store.create_schema()
    return sqlite_url


def test_four_people_one_email(database: str) -> None:
    """4 processes approve 4 people with one email at once: one account, 3 email_taken."""
    codes = sorted(code for _, _, code in race_same_email(database, 4))
    assert codes == ["email_taken"] * 3 + ["ok"]
    assert table_counts(database)["regflow_accounts"] == 1


def test_four_processes_approve_one_flow(database: str) -> None:
    """4 processes approve one flow at once: one account and one email."""
    with sql_service(database, [person(0)]) as service:
        flow = register_until_review(service, person(0))
    assert flow.review_token is not None
    codes = race_approve(database, flow.id, flow.review_token, 4)
    assert codes["ok"] == 1, codes
    assert codes["ok"] + codes["concurrent_update"] + codes["invalid_transition"] == 4, codes
    assert table_counts(database)["regflow_outbox"] == 1


def test_registrations_hopping_between_processes(database: str) -> None:
    """40 registrations, each step in another of 2 processes than the step before: all done."""
    hop_registrations(database, 40, 2)
    assert table_counts(database) == {
        "regflow_accounts": 40,
        "regflow_outbox": 40,
        "regflow_flows": 40,
    }
