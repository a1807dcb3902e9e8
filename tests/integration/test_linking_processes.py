"""Linking passes racing on a real PostgreSQL, in separate processes: each contract once."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from tests.linking_support import customers, worker_link
from tests.storage_support import mp_context, register_until_review, sql_service

from regflow.adapters.sql import SqlStore, contract_links_table, outbox_table

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

PEOPLE = 24
PROCESSES = 4


def test_four_processes_link_each_contract_once(postgres_url: str) -> None:
    """4 processes run a linking pass at once over 24 accounts with a pending district heating
    contract: every contract linked once, one email per account, no failure."""
    with SqlStore.from_url(postgres_url) as store:
        store.create_schema()
    records = customers(PEOPLE)
    with sql_service(postgres_url, records) as service:
        for record in records:
            flow = register_until_review(service, record)
            assert flow.review_token is not None
            service.approve(flow.id, flow.review_token)
    context = mp_context()
    barrier, results = context.Barrier(PROCESSES), context.Queue()
    processes = [
        context.Process(target=worker_link, args=(postgres_url, PEOPLE, barrier, results))
        for _ in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(60)
        assert process.exitcode == 0
    assert all(code == "ok" for code, _, _ in outcomes), outcomes
    assert sum(linked for _, linked, _ in outcomes) == PEOPLE, outcomes
    assert all(failed == 0 for _, _, failed in outcomes), outcomes
    with SqlStore.from_url(postgres_url) as store, store.engine.connect() as connection:
        links = connection.execute(
            sa.select(contract_links_table.c.status, sa.func.count()).group_by(
                contract_links_table.c.status
            )
        ).all()
        emails = connection.execute(
            sa.select(sa.func.count())
            .select_from(outbox_table)
            .where(outbox_table.c.message_id.like("contracts-linked.%"))
        ).scalar_one()
    assert dict(links) == {"linked": 2 * PEOPLE}  # electricity and district heating each
    assert emails == PEOPLE
