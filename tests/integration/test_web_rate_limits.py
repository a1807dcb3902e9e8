"""Two uvicorn workers on one database count into one rate limit (issue 13, item 5).

The server is the load benchmark's (`benchmarks/load_http.py`), with every limit at 5/minute.
One worker is paused (SIGSTOP) while the other answers 3 starts; then the other is paused while
the first answers the rest: 2 more pass, whatever each worker counted itself, and the others
get 429 with Retry-After. Counters per process would have let the second worker start 5.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.integration.test_web_sigkill import load_module
from tests.storage_support import table_counts

pytestmark = [pytest.mark.slow]

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@contextlib.contextmanager
def paused(pid: int) -> Iterator[None]:
    """The worker `pid` stopped (it accepts no connection) until the block ends; kept short,
    below uvicorn's 5 s health check."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def start(base: str) -> httpx.Response:
    """One browser's start: the start page for its CSRF token, then the form, each request on
    a new connection (so whichever worker is running accepts it)."""
    with httpx.Client(
        base_url=base, timeout=10, limits=httpx.Limits(max_keepalive_connections=0)
    ) as client:
        match = _CSRF.search(client.get("/").text)
        assert match is not None
        return client.post(
            "/register/start", data={"csrf_token": match.group(1), "customer_type": "consumer"}
        )


@pytest.mark.parametrize(
    "database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_two_workers_share_one_limit(
    database: str, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """5/minute per address across both workers: 3 starts on one, then 2 more and 7 refusals
    with Retry-After on the other; 5 flows stored."""
    monkeypatch.setenv("LOAD_RATE_LIMITS", "5/minute")
    load = load_module()
    url: str = request.getfixturevalue(f"{database}_url")
    secret = secrets.token_urlsafe(24).encode()
    with load.server(url, 2, 1, secret, tmp_path / "metrics") as served:
        first_worker, second_worker = served.workers()
        with paused(second_worker):
            first = [start(served.base) for _ in range(3)]
        with paused(first_worker):
            second = [start(served.base) for _ in range(9)]
    assert [r.status_code for r in first] == [303] * 3
    assert [r.status_code for r in second] == [303] * 2 + [429] * 7
    waits = [int(r.headers["retry-after"]) for r in second[2:]]
    assert all(0 < wait <= 60 for wait in waits)
    assert table_counts(url)["regflow_flows"] == 5
