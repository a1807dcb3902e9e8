"""Races on a real PostgreSQL, between separate processes (not threads), as in production.

Every process builds its own service and engine on the same database (DESIGN section 6).
"""

from __future__ import annotations

import itertools

import pytest
import sqlalchemy as sa
from tests.storage_support import (
    hop_registrations,
    people,
    person,
    race_approve,
    race_same_email,
    register_until_review,
    sql_service,
    table_counts,
)

from regflow import State
from regflow.adapters.sql import SqlStore, accounts_table, flows_table

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def database(postgres_url: str) -> str:
    """A fresh schema with regflow's tables."""
    with SqlStore.from_url(postgres_url) as store:
        store.create_schema()
    return postgres_url


def test_sixteen_people_one_email(database: str) -> None:
    """16 processes approve 16 people with one email at once: one account, 15 email_taken."""
    outcomes = race_same_email(database, 16)
    codes = sorted(code for _, _, code in outcomes)
    assert codes == ["email_taken"] * 15 + ["ok"], outcomes
    assert table_counts(database)["regflow_accounts"] == 1
    assert table_counts(database)["regflow_outbox"] == 1
    with sql_service(database, []) as service:
        for _, flow_id, code in outcomes:
            expected = State.completed if code == "ok" else State.reviewing
            assert service.view(flow_id).state is expected


def test_eight_processes_approve_one_flow(database: str) -> None:
    """8 processes approve the same flow at once: one account, one email, the rest refused."""
    with sql_service(database, [person(0)]) as service:
        flow = register_until_review(service, person(0))
    assert flow.review_token is not None
    codes = race_approve(database, flow.id, flow.review_token, 8)
    assert codes["ok"] == 1, codes
    assert codes["ok"] + codes["concurrent_update"] + codes["invalid_transition"] == 8, codes
    assert table_counts(database)["regflow_accounts"] == 1
    assert table_counts(database)["regflow_outbox"] == 1


def test_two_hundred_registrations_hopping_between_four_processes(database: str) -> None:
    """200 registrations, each step in another process than the step before: all complete."""
    served_by = hop_registrations(database, 200, 4)
    assert len(served_by) == 200
    assert all(len(hops) == 6 for hops in served_by.values())
    assert all(all(a != b for a, b in itertools.pairwise(hops)) for hops in served_by.values())
    assert table_counts(database) == {
        "regflow_accounts": 200,
        "regflow_outbox": 200,
        "regflow_flows": 200,
    }
    with SqlStore.from_url(database) as store, store.engine.connect() as connection:
        with_accounts = set(connection.execute(sa.select(accounts_table.c.personal_id)).scalars())
        states = set(connection.execute(sa.select(flows_table.c.state)).scalars())
    assert with_accounts == {r.personal_id for r in people(200)}
    assert states == {"completed"}
