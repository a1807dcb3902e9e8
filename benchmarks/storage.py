"""Benchmark one request's storage work: load a flow and save it, through regflow and without.

    .venv/bin/python benchmarks/storage.py [--rounds N] [--postgres-url URL]

Every request through `RegistrationService` loads its flow and saves it with a version check.
This times that pair through `SqlStore` (a unit of work, as the service runs it) and through the
database driver alone (sqlite3 or psycopg, the same SELECT and UPDATE on the same row, with the
statements prepared and the same durability settings), so that what regflow and SQLAlchemy add
to the database's own time can be read off. Figures per pair: wall time and this process's CPU,
the median of five batches. PostgreSQL: `--postgres-url`, default `REGFLOW_TEST_POSTGRES_URL` or
else postgresql://postgres@127.0.0.1:5432/test (a scratch schema, dropped afterwards; skipped
when unreachable). A benchmark, not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from service import postgres_schema

from regflow import RegistrationFlow
from regflow.adapters.memory import demo_ports
from regflow.adapters.sql import SqlStore

BATCHES = 5
INSERT = (
    "INSERT INTO regflow_flows (flow_id, version, state, expires_at, snapshot) "
    "VALUES ({p}, 1, 'choosing_bank', CURRENT_TIMESTAMP, {p})"
)
SELECT = "SELECT snapshot, version FROM regflow_flows WHERE flow_id = {p}"
UPDATE = (
    "UPDATE regflow_flows SET version = {p}, state = {p}, expires_at = {p}, snapshot = {p} "
    "WHERE flow_id = {p} AND version = {p}"
)
Pair = Callable[[], None]


def timed(pairs: list[Pair], rounds: int) -> list[tuple[float, float]]:
    """Median wall and CPU microseconds per call of each of `pairs`, over `BATCHES` batches
    taken in turn (so that the machine's changing load falls on all of them alike)."""
    for pair in pairs:
        for _ in range(max(10, rounds // 10)):  # connections, caches, prepared statements
            pair()
    walls: list[list[float]] = [[] for _ in pairs]
    cpus: list[list[float]] = [[] for _ in pairs]
    for batch in range(BATCHES):
        order = list(range(len(pairs)))
        for i in order[batch % 2 :] + order[: batch % 2]:  # who goes first alternates
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(rounds):
                pairs[i]()
            walls[i].append((time.perf_counter() - wall) / rounds * 1e6)
            cpus[i].append((time.process_time() - cpu) / rounds * 1e6)
    return [
        (statistics.median(wall), statistics.median(cpu))
        for wall, cpu in zip(walls, cpus, strict=True)
    ]


def through_regflow(store: SqlStore) -> Pair:
    """A flow stored in `store`, and a request's load and save of it."""
    flow = RegistrationFlow.start(demo_ports(), language="fi")
    store.flows.save(flow.id, flow.snapshot(), expected_version=None, expires_at=flow.expires_at)

    def pair() -> None:
        with store.unit_of_work() as uow:
            stored = uow.flows.load(flow.id)
            uow.flows.save(
                flow.id,
                stored.snapshot,
                expected_version=stored.version,
                expires_at=flow.expires_at,
            )

    return pair


def through_driver(
    execute: Callable[[str, tuple[Any, ...]], Any],
    mark: str,
    timestamp: Callable[[dt.datetime], Any],
) -> Pair:
    """The same pair as plain driver calls on another flow's row (`execute(sql, params)`
    returns the cursor; `mark` is the driver's placeholder; `timestamp` converts an aware
    datetime as the database wants it)."""
    flow = RegistrationFlow.start(demo_ports(), language="fi")
    flow_id = "driver-" + os.urandom(8).hex()
    execute(INSERT.format(p=mark), (flow_id, json.dumps(flow.snapshot())))
    select, update = SELECT.format(p=mark), UPDATE.format(p=mark)

    def pair() -> None:
        stored, version = execute(select, (flow_id,)).fetchone()
        snapshot = json.loads(stored) if isinstance(stored, str) else stored  # as regflow does
        text = json.dumps(snapshot, separators=(",", ":"), ensure_ascii=False)
        expires = timestamp(flow.expires_at)
        changed = execute(update, (version + 1, "choosing_bank", expires, text, flow_id, version))
        if changed.rowcount != 1:
            raise AssertionError("the row changed under the benchmark")

    return pair


@contextlib.contextmanager
def sqlite_driver(path: Path) -> Iterator[Pair]:
    """Plain sqlite3 in autocommit, WAL and synchronous=NORMAL, as `SqlStore` runs a step."""
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")

        def timestamp(value: dt.datetime) -> str:  # UTC text, as SQLAlchemy stores it on SQLite
            return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ", "microseconds")

        yield through_driver(connection.execute, "?", timestamp)


@contextlib.contextmanager
def postgres_driver(url: str) -> Iterator[Pair]:
    """Plain psycopg in autocommit with prepared statements and synchronous_commit=off, as
    `SqlStore` runs a step."""
    import psycopg

    libpq = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(libpq, autocommit=True) as connection:
        connection.execute("SET synchronous_commit TO off")

        def execute(sql: str, params: tuple[Any, ...]) -> Any:
            return connection.execute(sql, params, prepare=True)

        yield through_driver(execute, "%s", lambda value: value.astimezone(dt.UTC))


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1000)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "REGFLOW_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    args = parser.parse_args()
    rows: list[tuple[str, float, float, float, float]] = []
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "bench.sqlite3"
        with SqlStore.from_url(f"sqlite:///{path}") as store:
            store.create_schema()
            with sqlite_driver(path) as driver:
                ours, plain = timed([through_regflow(store), driver], args.rounds)
            rows.append(("sqlite", *ours, *plain))
    with postgres_schema(args.postgres_url) as url:
        if url is not None:
            with SqlStore.from_url(url) as store:
                store.create_schema()
                with postgres_driver(url) as driver:
                    ours, plain = timed([through_regflow(store), driver], args.rounds)
                rows.append(("postgresql", *ours, *plain))
    print(f"one flow's load + save (a request's storage work), {args.rounds} x {BATCHES} rounds\n")
    print(
        f"{'adapter':<12} {'regflow wall':>12} {'cpu':>6} {'driver wall':>11} {'cpu':>6} "
        f"{'added wall':>10} {'cpu':>6}"
    )
    for name, wall, cpu, driver_wall, driver_cpu in rows:
        print(
            f"{name:<12} {wall:>12.0f} {cpu:>6.0f} {driver_wall:>11.0f} {driver_cpu:>6.0f} "
            f"{wall - driver_wall:>10.0f} {cpu - driver_cpu:>6.0f}"
        )
    print(
        "\nmicroseconds per pair (median of the batches); cpu: this process's CPU (the client's);"
        "\nregflow: SqlStore's unit of work as RegistrationService runs it (pooled connection,"
        "\nSQLAlchemy-compiled statements, JSON and datetime processing); driver: the same two"
        "\nstatements with the driver alone; added: what regflow and SQLAlchemy add"
    )


if __name__ == "__main__":
    main()
