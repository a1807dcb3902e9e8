"""A worker of a 2-worker uvicorn SIGKILLed in the middle of a load run (issue 13 item 3).

Every registration the client saw complete has exactly one account and one queued email; every
other one restarts and ends completed or at "already registered", with its one account and one
email; nothing answers 500.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib.util
import json
import os
import secrets
import signal
import sys
from collections.abc import Coroutine
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import sqlalchemy as sa

pytestmark = [pytest.mark.slow]

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def run_in_own_loop(coroutine: Coroutine[Any, Any, None]) -> None:
    """`asyncio.run` on a thread of its own: the browser tests' session-wide Playwright keeps an
    event loop running on the main thread, where `asyncio.run` refuses to start."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coroutine).result()


def load_module() -> ModuleType:
    """benchmarks/load_http.py, the driver and the server it starts."""
    spec = importlib.util.spec_from_file_location("load_http", BENCHMARKS / "load_http.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("load_http", module)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_sigkill_of_one_worker_loses_and_duplicates_nothing(
    database: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Kill one worker after a few registrations; check every person's account and email."""
    load = load_module()
    records = load.customers(24)
    email_of = {r.personal_id: r.details.email for r in records}
    secret = secrets.token_urlsafe(24).encode()
    url: str = request.getfixturevalue(f"{database}_url")
    timings = load.Timings()
    completed: set[str] = set()
    failed: set[str] = set()
    killed: list[int] = []

    async def run(base: str, workers: list[int]) -> None:
        queue: asyncio.Queue[str] = asyncio.Queue()
        for record in records:
            queue.put_nowait(record.personal_id)

        async def user() -> None:
            while not queue.empty():
                person = queue.get_nowait()
                async with load.Browser(base) as client:
                    try:
                        await load.register(client, timings, person, secret)
                        completed.add(person)
                    except load.DRIVER_ERRORS:
                        failed.add(person)
                if len(completed) >= 4 and not killed:
                    os.kill(workers[0], signal.SIGKILL)
                    killed.append(workers[0])

        await asyncio.wait_for(asyncio.gather(*(user() for _ in range(4))), 180)

    logs = tmp_path / "server.log"
    with load.server(url, 2, len(records), secret, tmp_path / "metrics", logs) as served:
        workers = served.workers()
        assert len(workers) == 2
        run_in_own_loop(run(served.base, workers))
        assert killed
        assert completed | failed == set(email_of)

        async def restart(person: str) -> None:
            async with load.Browser(served.base) as client:
                refusal = ""
                try:
                    await load.register(client, timings, person, secret)
                except RuntimeError as error:  # the account was made: the callback says so
                    refusal = str(error)
                if refusal:
                    assert "/register/already-registered" in refusal, refusal
                    page = await client.request("GET", "/register/already-registered")
                    assert 'data-testid="page-already_registered"' in page.text

        async def restart_all() -> None:
            for person in sorted(failed):
                await restart(person)

        run_in_own_loop(restart_all())

    assert 500 not in timings.statuses, dict(timings.statuses)
    engine = sa.create_engine(url)
    with engine.connect() as db:
        accounts = dict(
            db.execute(
                sa.text("SELECT personal_id, count(*) FROM regflow_accounts GROUP BY personal_id")
            ).all()
        )
        emails = dict(
            db.execute(
                sa.text("SELECT recipient, count(*) FROM regflow_outbox GROUP BY recipient")
            ).all()
        )
    engine.dispose()
    for person, email in email_of.items():
        assert accounts.get(person) == 1, (person in completed, accounts.get(person))
        assert emails.get(email) == 1, (person in completed, emails.get(email))
    scan_logs(logs, records, served_requests=sum(timings.statuses.values()))


def scan_logs(logs: Path, records: list[Any], served_requests: int) -> None:
    """The whole run's server log (JSON lines at DEBUG, every worker's) names no one."""
    lines = logs.read_text(encoding="utf-8").splitlines()
    entries = [json.loads(line) for line in lines if line.startswith("{")]
    requests = [e for e in entries if e["name"] == "regflow_web.operations"]
    # each request the client saw answered was logged, bar those the killed worker had not yet
    # flushed; both workers (the killed one, its survivor and its replacement) logged
    assert len(requests) >= served_requests * 0.9, (len(requests), served_requests)
    assert len({e["process"] for e in requests}) >= 2
    assert any(e["name"] == "regflow.flow" for e in entries)  # the transitions, at INFO
    terms = {load_password(): "password", "Aino": "given names", "Testinen": "family name"}
    for record in records:
        terms[record.personal_id] = "identity code"
        terms[record.details.email] = "email"
        terms[record.details.phone] = "phone"
        terms[record.details.street_address] = "street address"
    text = "\n".join(lines).lower()
    assert [what for term, what in terms.items() if term.lower() in text] == []


def load_password() -> str:
    """The password every registration of the load run chose."""
    password: str = sys.modules["load_http"].PASSWORD
    return password
