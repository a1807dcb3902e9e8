"""Benchmark the web example's pages: server time per request, beside its template alone.

    .venv/bin/python benchmarks/web.py [--rounds N] [--postgres-url URL]

Each round walks one registration over HTTP in process (starlette's TestClient) from the start
page to the review page, then cancels (Approve is not measured: the demo customers can register
once each). The time per request is measured inside the app (an ASGI wrapper: from the request
reaching the app to the last byte of the answer), so it excludes the test client; the password
hasher is a trivial argon2id, so it excludes the hash. In the same run every Jinja2 render is
timed on its own: the "template" columns are what rendering the page's template costs inside
that request. Rows per backend: SQLite (a scratch file) and PostgreSQL (a scratch schema; skipped
when the server cannot be reached).

Target (issue 10): p99 <= 10 ms per page on SQLite. A benchmark, not a test: nothing asserts.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jinja2

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "examples" / "web"), str(ROOT)]

from service import postgres_schema  # noqa: E402  # benchmarks/service.py, the scratch schema

from regflow import Argon2Hasher  # noqa: E402
from regflow.bootstrap import Config  # noqa: E402
from regflow_web import WebConfig, create_app  # noqa: E402
from regflow_web.config import SIM_BANK_PATH  # noqa: E402

Samples = dict[str, list[float]]


def p99(values: list[float]) -> float:
    """The 99th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


@contextlib.contextmanager
def timed_templates(samples: Samples) -> Iterator[None]:
    """Time every `jinja2.Template.render` call, per template name."""
    original = jinja2.Template.render

    def render(self: jinja2.Template, *args: Any, **kwargs: Any) -> str:
        started = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            samples[self.name or "?"].append(time.perf_counter() - started)

    jinja2.Template.render = render  # type: ignore[method-assign]
    try:
        yield
    finally:
        jinja2.Template.render = original  # type: ignore[method-assign]


def measure(url: str, rounds: int) -> tuple[Samples, Samples]:
    """Per page (method and path): server seconds; per template: render seconds."""
    from starlette.testclient import TestClient
    from tests.web.site import Site

    config = WebConfig(
        regflow=Config(database_url=url, demo=True, simulated_bank_url=SIM_BANK_PATH),
        hasher=Argon2Hasher.insecure_fast(),
        secret_key=b"b" * 32,
    )
    app = create_app(config)
    requests: Samples = defaultdict(list)

    async def wrapper(scope: Any, receive: Any, send: Any) -> None:
        started = time.perf_counter()
        await app(scope, receive, send)
        if scope["type"] == "http":
            requests[f"{scope['method']} {scope['path']}"].append(time.perf_counter() - started)

    site = Site(config)
    site.app, site.web = app, app.state.web
    templates: Samples = defaultdict(list)
    # `with`: the app's lifespan runs, as under a server (its warm-up and gc.freeze, see
    # regflow_web.app.prepare_process); it closes the storage at the end
    with TestClient(wrapper, follow_redirects=False) as site.client, timed_templates(templates):
        for _ in range(rounds):
            site.client.cookies.clear()
            site.to_details("131052-308T")
            site.submit()
            site.event("cancel")
    return requests, templates


def report(name: str, requests: Samples, templates: Samples) -> None:
    """One table per backend."""
    print(f"\n{name}: server ms per request (excluding the hash) | template alone, ms")
    print(f"{'request':42} {'median':>7} {'p99':>7} | {'template':22} {'median':>7} {'p99':>7}")
    for page, values in sorted(requests.items()):
        if page.startswith("GET /static"):
            continue
        path = page.split(" ", 1)[1]
        template = _template_of(path)
        alone = templates.get(template or "", [])
        side = (
            f"{template:22} {statistics.median(alone) * 1e3:7.2f} {p99(alone) * 1e3:7.2f}"
            if alone and page.startswith("GET")
            else ""
        )
        print(f"{page:42} {statistics.median(values) * 1e3:7.2f} {p99(values) * 1e3:7.2f} | {side}")


def _template_of(path: str) -> str | None:
    from regflow_web.app import STATE_PATHS, TEMPLATE_OF

    for state, state_path in STATE_PATHS.items():
        if state_path == path:
            return TEMPLATE_OF[state]
    return {"/": "start.html", SIM_BANK_PATH: "sim_bank.html"}.get(path)


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "REGFLOW_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        report("SQLite", *measure(f"sqlite:///{folder}/bench.sqlite3", args.rounds))
    with postgres_schema(args.postgres_url) as url:
        if url is None:
            print("\nPostgreSQL: not reachable, skipped")
        else:
            report("PostgreSQL", *measure(url, args.rounds))


if __name__ == "__main__":
    main()
