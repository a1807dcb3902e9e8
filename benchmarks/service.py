"""Benchmark registrations through the service layer on memory, SQLite and PostgreSQL.

    .venv/bin/python benchmarks/service.py [--registrations N] [--workers W] [--postgres-url URL]
                                           [--fast-hasher]

Each registration is six requests through `RegistrationService` (start, select_bank,
complete_identification, confirm_personal_id, submit_details, approve) and hashes its password
once with argon2id at regflow's default parameters (or `REGFLOW_ARGON2`'s), so this machine's
argon2id hash rate bounds registrations per second. Two tables: registrations one after another
in one process, and in W worker processes at once over one storage (default: one per core), as
a deployment runs the service. The same run measures the hash rate twice: inside the registrations
themselves (the time spent in the hasher, over exactly the same period and load) and in a tight
loop of as many processes just before each adapter's run. The figure to read is the ratio. Step
latencies exclude the time spent hashing and include everything else: snapshot, database round
trips, the password policy and validation. Where the time outside hashing goes: the CPU the
registering processes use per registration beside their hashing, and, for a PostgreSQL server on
this machine (Linux), the CPU of its processes in the same period; both compete with hashing for
the same cores. `--fast-hasher` puts a trivial argon2id in the default's place, to show that cost
without a real hash's effect on the caches (its ratios mean nothing).

Targets (issue 4): >= 0.8 of the hash-bound rate on each adapter; p99 of one step excluding
hashing <= 5 ms on SQLite and <= 10 ms on PostgreSQL. PostgreSQL: `--postgres-url`, default
`REGFLOW_TEST_POSTGRES_URL` or else postgresql://postgres@127.0.0.1:5432/test; a scratch schema
is created and dropped, and the rows are skipped when the server cannot be reached. A benchmark,
not a test: figures vary with the machine and its load, so nothing here asserts.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import ipaddress
import multiprocessing
import os
import queue
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs

from regflow import (
    Argon2Hasher,
    ContactDetails,
    Contract,
    ContractKind,
    CustomerRecord,
    Ports,
    RegistrationFlow,
    Settings,
    State,
)
from regflow.adapters.memory import (
    InMemoryAccountStore,
    InMemoryCustomerDirectory,
    InMemoryFlowStore,
    InMemoryStorage,
    RecordingMailer,
    SimulatedBank,
    SystemClock,
)
from regflow.bootstrap import Config
from regflow.policy import PasswordPolicy
from regflow.ports import Storage
from regflow.service import RegistrationService

WORKER_TIMEOUT = 600.0  # seconds a worker may take before the benchmark gives up
PASSWORD = "Kukkaruukku7Q"  # noqa: S105  # the benchmark users' password
_CHECK = "0123456789ABCDEFHJKLMNPRSTUVWXY"


def make_hasher(fast: bool) -> Argon2Hasher:
    """argon2id at the deployment's cost (`REGFLOW_ARGON2`, inherited by the benchmark's
    processes; unset: regflow's default), or (`fast`) a trivial one."""
    if fast:
        return Argon2Hasher.insecure_fast()
    # read as a deployment reads them: `Config.from_env`, on the hash's variables alone
    hashing = {k: v for k, v in os.environ.items() if k.startswith("REGFLOW_ARGON2")}
    return Config.from_env(hashing).argon2


class TimedHasher:
    """argon2id, keeping the time spent hashing: wall time (for the hash rate) and this
    thread's CPU time (argon2 with p=1 hashes on the calling thread), which is what the CPU
    outside hashing leaves out even when the hash was preempted."""

    def __init__(self, *, fast: bool = False) -> None:
        self.inner = make_hasher(fast)
        self.seconds = 0.0
        self.cpu_seconds = 0.0

    def hash(self, password: str) -> str:
        """Hash and add the time taken to `seconds` and `cpu_seconds`."""
        started, cpu_started = time.perf_counter(), time.thread_time()
        try:
            return self.inner.hash(password)
        finally:
            self.seconds += time.perf_counter() - started
            self.cpu_seconds += time.thread_time() - cpu_started

    def verify(self, password_hash: str, password: str) -> bool:
        """As the inner hasher."""
        return self.inner.verify(password_hash, password)

    def needs_rehash(self, password_hash: str) -> bool:
        """As the inner hasher."""
        return self.inner.needs_rehash(password_hash)


def customers(n: int) -> list[CustomerRecord]:
    """`n` customers with valid, distinct personal identity codes."""
    records = []
    for i in range(n):
        born = dt.date(1950, 1, 1) + dt.timedelta(days=i % 18_000)
        individual = 2 + (i // 18_000) * 100 + (i % 97)
        digits = f"{born:%d%m}{born.year % 100:02d}"
        code = f"{digits}-{individual:03d}{_CHECK[int(f'{digits}{individual:03d}') % 31]}"
        records.append(
            CustomerRecord(
                customer_number=f"9{i:07d}",
                personal_id=code,
                details=ContactDetails(
                    given_names="Aino",
                    family_name="Testinen",
                    email=f"bench{i}@example.fi",
                    phone=f"+35840{i:07d}",
                    street_address="Testikatu 1",
                    postal_code="00100",
                    post_office="Helsinki",
                    language="fi",
                ),
                contracts=(Contract(ContractKind.electricity, f"E-{i}", f"643{i:015d}"),),
            )
        )
    return records


@attrs.frozen
class Result:
    """What one adapter achieved."""

    name: str
    hash_rate: float  # argon2id hashes per second, measured just before this adapter's run
    registrations_per_second: float
    in_run_hash_rate: float  # the hash-bound rate inside the registrations (same period, load)
    step_ms: list[float]  # per request, hashing excluded
    cpu_ms: float  # CPU of the registering processes per registration, hashing excluded
    server_cpu_ms: float | None = None  # a local PostgreSQL server's CPU per registration

    def p(self, q: float) -> float:
        """The q-quantile (0..1) of the step latencies, in ms."""
        ordered = sorted(self.step_ms)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Registrar:
    """Registers customers one after another through a service over one storage."""

    def __init__(
        self, storage: Storage, records: list[CustomerRecord], *, fast: bool = False
    ) -> None:
        self.hasher = TimedHasher(fast=fast)
        self.bank = SimulatedBank(
            people={r.personal_id: (r.details.given_names, r.details.family_name) for r in records}
        )
        ports = Ports(
            bank=self.bank,
            customers=InMemoryCustomerDirectory(records),
            accounts=InMemoryAccountStore(),
            flows=InMemoryFlowStore(),
            mailer=RecordingMailer(),
            policy=PasswordPolicy.helen(),
            hasher=self.hasher,
            clock=SystemClock(),
            settings=Settings(),
        )
        self.service = RegistrationService(ports, storage)
        self.steps: list[float] = []

    def timed(self, call: Callable[[], RegistrationFlow]) -> RegistrationFlow:
        """Run one request, keeping its time without the time spent hashing."""
        hashed_before = self.hasher.seconds
        started = time.perf_counter()
        flow = call()
        elapsed = time.perf_counter() - started - (self.hasher.seconds - hashed_before)
        self.steps.append(elapsed * 1000)
        return flow

    def register(self, record: CustomerRecord) -> None:
        """One registration: six requests, one hash."""
        service, timed = self.service, self.timed
        flow = timed(lambda: service.start(language="fi"))
        flow_id = flow.id
        flow = timed(lambda: service.select_bank(flow_id, "op"))
        assert flow.redirect is not None  # a benchmark's sanity check
        callback = self.bank.approve(flow.redirect, personal_id=record.personal_id)
        timed(lambda: service.complete_identification(flow_id, callback))
        timed(lambda: service.confirm_personal_id(flow_id))
        flow = timed(lambda: service.submit_details(flow_id, record.details, PASSWORD))
        token = flow.review_token
        assert token is not None
        flow = timed(lambda: service.approve(flow_id, token))
        assert flow.state is State.completed

    def warm_up(self, record: CustomerRecord) -> None:
        """Connections, caches, prepared statements; then forget what it measured."""
        self.register(record)
        self.steps.clear()
        self.hasher.seconds = self.hasher.cpu_seconds = 0.0


def run(
    name: str,
    storage: Storage,
    n: int,
    hash_rounds: int,
    *,
    server: str | None = None,
    fast: bool = False,
) -> Result:
    """`n` registrations (after one warm-up) through a service over `storage`, right after
    measuring the hash rate (the machine's load changes within a run). `server`: the URL of a
    PostgreSQL server whose CPU to measure too, if it runs on this machine."""
    rate = hash_rate(hash_rounds, fast=fast)
    records = customers(n + 1)
    registrar = Registrar(storage, records, fast=fast)
    registrar.warm_up(records[0])
    server_before = local_postgres_cpu(server)
    cpu_before = time.process_time()
    started = time.perf_counter()
    for record in records[1:]:
        registrar.register(record)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_before - registrar.hasher.cpu_seconds
    server_after = local_postgres_cpu(server)
    server_cpu = None
    if server_before is not None and server_after is not None:
        server_cpu = (server_after - server_before) / n * 1000
    in_run = n / registrar.hasher.seconds
    return Result(name, rate, n / elapsed, in_run, registrar.steps, cpu / n * 1000, server_cpu)


def local_postgres_cpu(url: str | None) -> float | None:
    """CPU seconds used so far by the processes of this machine's PostgreSQL server (from
    Linux's /proc), if `url` names a server on this machine; else None. All of the server's
    work counts, for every database on it; backends that have exited count through the
    postmaster, which waited for them."""
    if url is None or not Path("/proc/self/stat").exists():
        return None
    import sqlalchemy as sa

    host = sa.make_url(url).host or "localhost"  # no host: the local Unix socket
    if host != "localhost":
        try:
            if not ipaddress.ip_address(host).is_loopback:
                return None
        except ValueError:  # a host name other than localhost
            return None
    ticks, found = 0, False
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the process has gone
            continue
        name, _, rest = text.partition("(")[2].rpartition(")")
        if name == "postgres":
            # from the state on: utime, stime, and the same of waited-for children, 12th-15th
            ticks += sum(int(field) for field in rest.split()[11:15])
            found = True
    return ticks / os.sysconf("SC_CLK_TCK") if found else None


# -- several worker processes, as a deployment runs the service ---------------------------------


def _open_storage(url: str | None, durable: bool) -> Storage:
    if url is None:
        return InMemoryStorage()  # each worker its own: a sharded in-memory service
    from regflow.adapters.sql import SqlStore

    return SqlStore.from_url(url, durable_steps=durable)


@attrs.frozen
class Setup:
    """What a worker process registers through."""

    url: str | None  # None: an in-memory storage of its own
    durable: bool = False  # durable_steps
    fast: bool = False  # --fast-hasher


@attrs.frozen
class Span:
    """What one worker process measured."""

    started: float  # time.monotonic(), comparable across processes
    ended: float
    hash_seconds: float  # wall time spent hashing
    cpu_seconds: float  # the process's CPU outside hashing
    steps: list[float]  # per request, ms, hashing excluded


def _worker(setup: Setup, records: list[CustomerRecord], barrier: Any, results: Any) -> None:
    storage = _open_storage(setup.url, setup.durable)
    registrar = Registrar(storage, records, fast=setup.fast)
    registrar.warm_up(records[0])
    barrier.wait()
    cpu_before = time.process_time()
    started = time.monotonic()
    for record in records[1:]:
        registrar.register(record)
    ended = time.monotonic()
    cpu = time.process_time() - cpu_before - registrar.hasher.cpu_seconds
    results.put(Span(started, ended, registrar.hasher.seconds, cpu, registrar.steps))
    close = getattr(storage, "close", None)
    if close is not None:
        close()


def _hash_worker(rounds: int, fast: bool, barrier: Any, results: Any) -> None:
    hasher = make_hasher(fast)
    hasher.hash("warm-up")
    barrier.wait()
    started = time.monotonic()
    for i in range(rounds):
        hasher.hash(f"{PASSWORD}{i}")
    results.put((started, time.monotonic()))


def _in_processes(target: Callable[..., None], args: list[tuple[Any, ...]]) -> list[Any]:
    """Run `target(*a, barrier, results)` for each `a` in its own process, all released at
    once; what each put on `results`."""
    context = multiprocessing.get_context("spawn")  # no engine or pool crosses a fork
    barrier = context.Barrier(len(args), timeout=WORKER_TIMEOUT)
    results = context.Queue()
    processes = [context.Process(target=target, args=(*a, barrier, results)) for a in args]
    for process in processes:
        process.start()
    try:
        # a worker that fails breaks the barrier for the others, and nothing arrives
        return [results.get(timeout=WORKER_TIMEOUT) for _ in processes]
    except queue.Empty:
        msg = "a benchmark worker failed (see its traceback above)"
        raise RuntimeError(msg) from None
    finally:
        for process in processes:
            process.join(timeout=WORKER_TIMEOUT)
            if process.is_alive():
                process.kill()


def parallel_hash_rate(workers: int, rounds: int, *, fast: bool = False) -> float:
    """argon2id hashes per second with `workers` processes hashing at once."""
    spans: list[tuple[float, float]] = _in_processes(_hash_worker, [(rounds, fast)] * workers)
    return workers * rounds / (max(end for _, end in spans) - min(start for start, _ in spans))


def run_parallel(
    name: str,
    url: str | None,
    n: int,
    workers: int,
    hash_rounds: int,
    *,
    durable: bool = False,
    fast: bool = False,
) -> Result:
    """`n` registrations shared by `workers` processes over one storage (`url`, with
    `durable_steps=durable`; None: each its own in-memory storage), right after measuring the
    hash rate of as many processes."""
    rate = parallel_hash_rate(workers, hash_rounds, fast=fast)
    share = n // workers
    records = customers(workers * (share + 1))
    setup = Setup(url, durable=durable, fast=fast)
    slices = [(setup, records[w * (share + 1) : (w + 1) * (share + 1)]) for w in range(workers)]
    spans: list[Span] = _in_processes(_worker, slices)
    elapsed = max(span.ended for span in spans) - min(span.started for span in spans)
    # each worker hashes one password at a time: together, `workers` hashes per mean hash time
    in_run = workers * workers * share / sum(span.hash_seconds for span in spans)
    cpu_ms = sum(span.cpu_seconds for span in spans) / (workers * share) * 1000
    steps = [step for span in spans for step in span.steps]
    return Result(name, rate, workers * share / elapsed, in_run, steps, cpu_ms)


def hash_rate(rounds: int, *, fast: bool = False) -> float:
    """argon2id hashes per second at the default parameters (or `fast`), one thread."""
    hasher = make_hasher(fast)
    hasher.hash("warm-up")
    started = time.perf_counter()
    for i in range(rounds):
        hasher.hash(f"{PASSWORD}{i}")
    return rounds / (time.perf_counter() - started)


@contextlib.contextmanager
def postgres_schema(url: str) -> Iterator[str | None]:
    """A scratch schema on the server at `url` (dropped afterwards), or None if unreachable."""
    import psycopg
    import sqlalchemy as sa

    libpq = url.replace("postgresql+psycopg://", "postgresql://")
    schema = f"regflow_bench_{secrets.token_hex(4)}"
    try:
        with psycopg.connect(libpq, autocommit=True, connect_timeout=5) as connection:
            connection.execute(f"CREATE SCHEMA {schema}")
    except psycopg.Error as error:
        print(f"PostgreSQL not measured: {error}".strip())
        yield None
        return
    try:
        scoped = sa.make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield scoped.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(libpq, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")


def print_table(results: list[Result]) -> None:
    """One row per adapter."""
    targets = {"sqlite": 5.0, "sqlite*": 5.0, "postgresql": 10.0, "postgresql*": 10.0}
    print(
        f"{'adapter':<12} {'reg/s':>6} {'hash/s run':>10} {'ratio':>6} {'hash/s alone':>12} "
        f"{'ratio':>6} {'step p50':>8} {'step p99':>8} {'p99 target':>10} {'cpu/reg':>7} "
        f"{'srv/reg':>7}"
    )
    for r in results:
        target = targets.get(r.name)
        server = "-" if r.server_cpu_ms is None else f"{r.server_cpu_ms:.2f}"
        print(
            f"{r.name:<12} {r.registrations_per_second:>6.1f} {r.in_run_hash_rate:>10.1f} "
            f"{r.registrations_per_second / r.in_run_hash_rate:>6.2f} {r.hash_rate:>12.1f} "
            f"{r.registrations_per_second / r.hash_rate:>6.2f} "
            f"{r.p(0.5):>8.2f} {r.p(0.99):>8.2f} {f'<= {target:.0f} ms' if target else '-':>10} "
            f"{r.cpu_ms:>7.2f} {server:>7}"
        )


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registrations", type=int, default=100)
    parser.add_argument("--hash-rounds", type=int, default=30)
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="processes for the second table (default: one per core); 0 skips it",
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "REGFLOW_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument(
        "--fast-hasher",
        action="store_true",
        help="a trivial argon2id instead of the default: the cost outside hashing without a "
        "real hash's effect on the caches (the ratios then mean nothing)",
    )
    args = parser.parse_args()
    if args.workers < 0 or args.registrations < max(1, args.workers):
        parser.error("--registrations must be at least 1 and at least --workers")
    from regflow.adapters.sql import SqlStore

    fast = args.fast_hasher
    hasher = make_hasher(fast)
    n, rounds, workers = args.registrations, args.hash_rounds, args.workers
    which = "--fast-hasher: ratios mean nothing" if fast else "regflow's default"
    print(
        f"argon2id m={hasher.memory_cost} KiB, t={hasher.time_cost}, p={hasher.parallelism} "
        f"({which}); {n} registrations per adapter and table, 6 requests each\n"
    )
    results = [run("memory", InMemoryStorage(), n, rounds, fast=fast)]
    in_parallel = [run_parallel("memory", None, n, workers, rounds, fast=fast)] if workers else []
    with tempfile.TemporaryDirectory() as directory:
        for durable in (False, True):
            for table in ("one", "parallel"):
                url = f"sqlite:///{Path(directory) / f'{table}{durable}'}.sqlite3"
                with SqlStore.from_url(url, durable_steps=durable) as store:
                    store.create_schema()
                    name = "sqlite" + "*" * durable
                    if table == "one":
                        results.append(run(name, store, n, rounds, fast=fast))
                    elif workers:
                        in_parallel.append(
                            run_parallel(name, url, n, workers, rounds, durable=durable, fast=fast)
                        )
    for durable in (False, True):
        for table in ("one", "parallel"):
            with postgres_schema(args.postgres_url) as pg_url:
                if pg_url is None:
                    continue
                name = "postgresql" + "*" * durable
                with SqlStore.from_url(pg_url, durable_steps=durable) as store:
                    store.create_schema()
                    if table == "one":
                        results.append(run(name, store, n, rounds, server=pg_url, fast=fast))
                if table == "parallel" and workers:
                    in_parallel.append(
                        run_parallel(name, pg_url, n, workers, rounds, durable=durable, fast=fast)
                    )
    print("One process, one registration after another (latency-bound):")
    print_table(results)
    if workers:
        print(
            f"\n{workers} worker processes at once over one storage, as a deployment runs the "
            f"service (throughput); the hash rate is that of {workers} processes hashing at once:"
        )
        print_table(in_parallel)
    print(
        "\nreg/s: registrations per second (each hashes one password once); target: ratio >= 0.80"
        "\nhash/s run: argon2id rate measured inside those same registrations (same period, "
        "same load)\nhash/s alone: argon2id rate of a tight loop just before that adapter's run"
        "\nratio: reg/s divided by the hash rate to its left"
        "\nstep: one request through the service in ms, argon2 hashing excluded"
        "\ncpu/reg: ms of CPU the registering processes used per registration, hashing excluded"
        "\nsrv/reg: ms of CPU a PostgreSQL server on this machine used per registration (Linux;"
        " all of the server's work, for every database on it)"
        "\n*: durable_steps=True (every flow step's commit waits for the disk; see "
        "regflow.adapters.sql.create_engine)"
    )


if __name__ == "__main__":
    main()
