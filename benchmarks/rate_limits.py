"""Benchmark one rate-limit hit (`regflow.ratelimit`) on each storage, beside a plain write.

    .venv/bin/python benchmarks/rate_limits.py [--rounds N] [--postgres-url URL]

A request that a limit guards (start, the details step, login) first counts itself: one
`RateLimiter.hit`, which on SQL is one upsert in its own transaction. This times that hit on the
in-memory counters, on a SQLite file and on PostgreSQL, one address and one key as under a load
test from one host (every hit updates one row), and beside it the cheapest write the stores
make on their own, `flows.purge_expired` (one DELETE that finds nothing, its own transaction):
what counting adds to a request is about the difference. Figures in microseconds: the median
and p99 wall time of `--rounds` calls after a warm-up. PostgreSQL: `--postgres-url`, default
`REGFLOW_TEST_POSTGRES_URL` or else postgresql://postgres@127.0.0.1:5432/test (a scratch schema,
dropped afterwards; skipped when unreachable). A benchmark, not a test: nothing asserts.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from service import postgres_schema

from regflow.adapters.memory import InMemoryRateLimitStorage, ManualClock
from regflow.adapters.sql import SqlStore
from regflow.ratelimit import RateLimiter, RateLimits

LIMITS = RateLimits(start="100000000/minute", password=None, login=None)


def timed(call: Callable[[], object], rounds: int) -> tuple[float, float]:
    """Median and p99 wall microseconds of `call`, after a warm-up."""
    for _ in range(max(10, rounds // 10)):
        call()
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    times.sort()
    return times[len(times) // 2] * 1e6, times[min(len(times) - 1, len(times) * 99 // 100)] * 1e6


def main() -> None:
    """Time each storage and print one row each."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "REGFLOW_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    args = parser.parse_args()
    clock = ManualClock()
    print(
        f"{'storage':<12} {'hit p50':>8} {'hit p99':>8} {'write p50':>10} {'write p99':>10}  (us)"
    )
    memory = RateLimiter(InMemoryRateLimitStorage(clock), LIMITS, clock)
    p50, p99 = timed(lambda: memory.hit("start", "203.0.113.5"), args.rounds)
    print(f"{'memory':<12} {p50:>8.0f} {p99:>8.0f} {'-':>10} {'-':>10}")
    with contextlib.ExitStack() as stack:
        folder = stack.enter_context(tempfile.TemporaryDirectory())
        urls = [("sqlite", f"sqlite:///{Path(folder) / 'rate.sqlite3'}")]
        scoped = stack.enter_context(postgres_schema(args.postgres_url))
        if scoped is not None:
            urls.append(("postgresql", scoped))
        for name, url in urls:
            with SqlStore.from_url(url) as store:
                store.create_schema()
                limiter = RateLimiter(store.rate_limits(clock), LIMITS, clock)
                hit = timed(functools.partial(limiter.hit, "start", "203.0.113.5"), args.rounds)
                write = timed(
                    functools.partial(store.flows.purge_expired, clock.now()), args.rounds
                )
            print(f"{name:<12} {hit[0]:>8.0f} {hit[1]:>8.0f} {write[0]:>10.0f} {write[1]:>10.0f}")


if __name__ == "__main__":
    main()
