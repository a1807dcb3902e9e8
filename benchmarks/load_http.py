"""Load the web example over HTTP: N registrations, M concurrent users, a 2-worker uvicorn.

    .venv/bin/python benchmarks/load_http.py [--registrations N] [--users M] [--workers W]
        [--postgres-url URL] [--time-limit S] [--argon2 m=KiB,t=passes,p=lanes]

A bounded asyncio driver over aiohttp rather than Locust: the load is a fixed count of complete
registrations (not a rate for a duration), each a browser without JavaScript walking the pages
with its own cookies, and the figure wanted is registrations/s beside the argon2 rate measured
in the same run, which a small driver prints without a second process tree. Loopback only. The
driver shares the machine's cores with the server, so its own cost counts: aiohttp's client
took 0.25-0.33 ms of CPU per request where httpx's took 1.3-1.5 ms (a GET of /healthz, the
same run), and Locust's workers would cost more again.

Each backend (SQLite in a scratch file, PostgreSQL in a scratch schema when it answers) gets its
own server: `uvicorn --factory load_http:make_app --workers W` with the real argon2id hasher,
`N` generated customers, the relay off, and a simulated bank every worker can answer (its codes
are signed, not kept in one process's memory, unlike the demo's). The rate limits stay on,
counted in the database as in production, at 100000/minute per address so that the one
address all users share is never refused (`LOAD_RATE_LIMITS=off` turns them off, to compare).
Then, in the same run, W processes hash with argon2id at once: the hash-bound rate. Printed:
registrations/s, that rate, their ratio, and p50/p99 per page as the client sees it (the
details POST, which hashes, apart),
beside the mean time inside the app (the workers' /metrics, in prometheus' multiprocess mode):
what the client sees beyond that is queueing for a core, the loopback and the client itself.

`--argon2` sets the hash's cost (`REGFLOW_ARGON2`) for the workers and for the hash-bound rate
alike; unset, regflow's default (argon2-cffi's, RFC 9106's m=65536,t=3,p=4). The ratio depends
on it: the dearer the hash, the smaller the share of everything else (at OWASP's minimum,
`--argon2 m=19456,t=2,p=1`, a hash costs 7-8 times less CPU and the ratio is 0.33-0.39 here).

Targets (issue 13): ratio >= 0.7, p99 <= 20 ms per page excluding the hash. A benchmark, not a
test: nothing asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(ROOT / "examples" / "web"), str(ROOT), str(HERE)]

import aiohttp  # noqa: E402
import attrs  # noqa: E402
import httpx  # noqa: E402  # the few requests outside the load: readiness, /metrics
from service import (  # noqa: E402
    customers,
    local_postgres_cpu,
    make_hasher,
    parallel_hash_rate,
    postgres_schema,
)
from tests.web.site import form_values  # noqa: E402  # imported here: not inside the measured run

from regflow import (  # noqa: E402
    Argon2Hasher,
    BankCallback,
    BankRedirect,
    IdentificationFailed,
    VerifiedPerson,
)
from regflow.adapters.memory import FINNISH_BANKS, InMemoryCustomerDirectory  # noqa: E402
from regflow.model import Bank  # noqa: E402

PASSWORD = "Kes\u00e4-Aamu-2024-Xq"  # noqa: S105  # the synthetic customers' test password
HASH_PAGE = "POST /register/submit_details"


# -- the server side: a bank every worker can answer, and the app factory ----------------------


class SignedBank:
    """A simulated bank whose answers any worker can verify: the code is the person's identity
    code signed with the state (HMAC), so nothing is kept in one process. Not single-use: a
    benchmark's bank, not a demo's."""

    def __init__(self, secret: bytes, banks: Sequence[Bank] = FINNISH_BANKS) -> None:
        self._secret = secret
        self._banks = tuple(banks)

    def banks(self) -> Sequence[Bank]:
        """The Finnish banks."""
        return self._banks

    def begin(self, bank_id: str, *, flow_id: str, language: str) -> BankRedirect:
        """A redirect with a fresh state and nonce."""
        state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        url = f"/sim-bank/authorize?{urlencode({'bank': bank_id, 'state': state})}"
        return BankRedirect(bank_id=bank_id, url=url, state=state, nonce=nonce)

    def complete(self, callback: BankCallback, expected: BankRedirect) -> VerifiedPerson:
        """The person the code names, if the code was signed for this state."""
        params = callback.params
        code = params.get("code", "")
        person, _, signature = code.partition(".")
        if params.get("state") != expected.state or not hmac.compare_digest(
            signature, sign(self._secret, expected.state, person)
        ):
            raise IdentificationFailed("code_rejected")
        return VerifiedPerson(personal_id=person, given_names="Aino", family_name="Testinen")


def sign(secret: bytes, state: str, personal_id: str) -> str:
    """The bank's signature of `personal_id` for `state`."""
    digest = hmac.new(secret, f"{state}|{personal_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def make_app() -> object:
    """The app each worker builds (`uvicorn --factory load_http:make_app`), from the
    environment: `LOAD_CUSTOMERS` customers, `LOAD_BANK_SECRET`, the `REGFLOW_*` variables, and
    with `LOAD_TRIVIAL_HASH` a trivial argon2id (the run that measures everything else)."""
    from regflow_web import WebConfig, create_app
    from regflow_web.logs import configure_logging

    configure_logging(os.environ)  # as `app_from_env` does: REGFLOW_WEB_LOG_*
    trivial = os.environ.get("LOAD_TRIVIAL_HASH")
    hasher = {"hasher": Argon2Hasher.insecure_fast()} if trivial else {}
    config = WebConfig.from_env(
        bank=SignedBank(os.environ["LOAD_BANK_SECRET"].encode()),
        customers=InMemoryCustomerDirectory(customers(int(os.environ["LOAD_CUSTOMERS"]))),
        **hasher,
    )
    return create_app(config)


# -- the client side ----------------------------------------------------------------------------


class Timings:
    """Seconds per page, keyed "METHOD /path"."""

    def __init__(self) -> None:
        self.pages: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.statuses: dict[int, int] = defaultdict(int)


@attrs.frozen
class Answer:
    """What the driver reads of a response."""

    status_code: int
    location: str
    text: str


class Browser:
    """One user's browser without JavaScript: its own cookies, redirects not followed."""

    def __init__(self, base_url: str) -> None:
        self._session = aiohttp.ClientSession(
            base_url,
            cookie_jar=aiohttp.CookieJar(unsafe=True),  # unsafe: cookies for 127.0.0.1 too
            timeout=aiohttp.ClientTimeout(total=30),
        )

    async def __aenter__(self) -> Browser:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._session.close()

    async def request(self, method: str, path: str, data: dict[str, str] | None = None) -> Answer:
        """One request; the whole body read."""
        async with self._session.request(method, path, data=data, allow_redirects=False) as r:
            return Answer(r.status, r.headers.get("location", ""), await r.text())


# what a registration raises when the server refuses, drops or does not answer it
DRIVER_ERRORS: tuple[type[Exception], ...] = (RuntimeError, aiohttp.ClientError, TimeoutError)


async def request(
    client: Browser,
    timings: Timings,
    method: str,
    path: str,
    data: dict[str, str] | None = None,
) -> Answer:
    """One request, timed under its page's name (the path without its query)."""
    started = time.perf_counter()
    response = await client.request(method, path, data)
    timings.pages[f"{method} {urlsplit(path).path}"].append(time.perf_counter() - started)
    timings.statuses[response.status_code] += 1
    return response


async def register(client: Browser, timings: Timings, personal_id: str, secret: bytes) -> None:
    """One complete registration, page by page, as a browser without JavaScript."""

    async def page(path: str) -> str:
        response = await request(client, timings, "GET", path)
        if response.status_code != 200:
            msg = f"GET {path}: {response.status_code}"
            raise RuntimeError(msg)
        return response.text

    async def post(path: str, data: dict[str, str], expect: str) -> str:
        response = await request(client, timings, "POST", path, data)
        location = response.location
        if response.status_code != 303 or not location.startswith(expect):
            msg = f"POST {path}: {response.status_code} {location}"
            raise RuntimeError(msg)
        return location

    async def submit(on: str, action: str, expect: str, **data: str) -> str:
        """Post the form of page `on` that posts to `action`, with `data` added."""
        return await post(action, {**form_values(on, action), **data}, expect)

    start = await page("/")
    await submit(start, "/register/start", "/register/bank", customer_type="consumer")
    bank_page = await page("/register/bank")
    at_bank = await submit(bank_page, "/register/select_bank", "/sim-bank/", bank_id="nordea")
    state = parse_qs(urlsplit(at_bank).query)["state"][0]
    code = f"{personal_id}.{sign(secret, state, personal_id)}"
    response = await request(
        client, timings, "GET", f"/register/callback?{urlencode({'state': state, 'code': code})}"
    )
    if response.location != "/register/personal-id":
        msg = f"callback: {response.status_code} {response.location}"
        raise RuntimeError(msg)
    confirm = await page("/register/personal-id")
    await submit(confirm, "/register/confirm_personal_id", "/register/details")
    details = await page("/register/details")
    await submit(details, "/register/submit_details", "/register/review", password=PASSWORD)
    review = await page("/register/review")
    await submit(review, "/register/approve", "/register/complete")
    await page("/register/complete")


async def drive(
    base_url: str, people: list[str], users: int, secret: bytes, time_limit: float
) -> tuple[float, int, Timings]:
    """`users` concurrent browsers register `people`; (seconds, completed, timings)."""
    timings = Timings()
    queue: asyncio.Queue[str] = asyncio.Queue()
    for person in people:
        queue.put_nowait(person)
    completed = 0

    async def user() -> None:
        nonlocal completed
        while not queue.empty():
            person = queue.get_nowait()
            async with Browser(base_url) as client:
                try:
                    await register(client, timings, person, secret)
                    completed += 1
                except DRIVER_ERRORS as error:
                    timings.errors[type(error).__name__ + ": " + str(error)[:80]] += 1

    started = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(user() for _ in range(users))), time_limit)
    return time.perf_counter() - started, completed, timings


# -- the run ------------------------------------------------------------------------------------


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@attrs.frozen
class Served:
    """A running server: its base URL and the uvicorn supervisor's process id."""

    base: str
    pid: int

    def workers(self) -> list[int]:
        """The worker processes' ids (Linux: the supervisor's children that run a worker)."""
        children = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()
        return [
            int(child)
            for child in children
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()
        ]


def rate_limit_env(limit: str) -> dict[str, str]:
    """The workers' `REGFLOW_RATE_LIMIT_*` variables: `limit` on every action (or off)."""
    if limit == "off":
        return {"REGFLOW_RATE_LIMITS": "off"}
    return {f"REGFLOW_RATE_LIMIT_{action}": limit for action in ("START", "PASSWORD", "LOGIN")}


@contextlib.contextmanager
def server(  # noqa: PLR0917  # the run's figures, each its own
    url: str,
    workers: int,
    n: int,
    secret: bytes,
    metrics: Path,
    logs: Path | None = None,
    *,
    trivial_hash: bool = False,
) -> Iterator[Served]:
    """`uvicorn --workers` serving the app on `url`'s database, until the block ends; the
    workers' Prometheus metrics in the folder `metrics` (multiprocess mode); with `logs`, the
    server's stderr in that file, JSON lines at DEBUG (one record per request)."""
    from regflow.bootstrap import init_database

    init_database(url)  # once, before the workers: they need not race to create it
    port = free_port()
    metrics.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE), str(ROOT / "examples" / "web"), str(ROOT)]),
        "REGFLOW_DATABASE_URL": url,
        "REGFLOW_DEMO": "0",
        "REGFLOW_WEB_RELAY": "0",
        "REGFLOW_WEB_SECRET": secrets.token_urlsafe(32),
        # every user of the benchmark is 127.0.0.1: limits on (their counting is part of
        # the cost measured) but far above what a run reaches; LOAD_RATE_LIMITS=off to compare
        **rate_limit_env(os.environ.get("LOAD_RATE_LIMITS", "100000/minute")),
        "LOAD_CUSTOMERS": str(n),
        "LOAD_BANK_SECRET": secret.decode(),
        **({"LOAD_TRIVIAL_HASH": "1"} if trivial_hash else {}),
    }
    env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics)
    env |= (
        {"REGFLOW_WEB_LOG_FORMAT": "json", "REGFLOW_WEB_LOG_LEVEL": "DEBUG"}
        if logs is not None
        else {"REGFLOW_WEB_LOG_LEVEL": "WARNING"}  # the benchmark's own output stays readable
    )
    command = [
        sys.executable, "-m", "uvicorn", "--factory", "load_http:make_app",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    sink = contextlib.ExitStack()
    stderr = sink.enter_context(logs.open("ab")) if logs is not None else None
    process = subprocess.Popen(command, env=env, stderr=stderr)  # noqa: S603  # this interpreter, fixed arguments
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            time.sleep(0.3)
        else:
            msg = "the server did not become ready"
            raise RuntimeError(msg)
        time.sleep(1.0)  # every worker up, not just the first
        yield Served(base, process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)
        sink.close()


def cpu_seconds(pids: Sequence[int]) -> float:
    """CPU seconds (user and system) used so far by the processes `pids` (Linux's /proc)."""
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime: the 14th and 15th fields
    return ticks / os.sysconf("SC_CLK_TCK")


@attrs.frozen
class Cpu:
    """CPU seconds used during the load, per party."""

    workers: float
    driver: float
    database: float | None  # a PostgreSQL server on this machine; None for SQLite (in-process)

    @classmethod
    def now(cls, workers: Sequence[int], url: str) -> Cpu:
        """The counters as they are now."""
        return cls(cpu_seconds(workers), time.process_time(), local_postgres_cpu(_pg(url)))

    def __sub__(self, before: Cpu) -> Cpu:
        database = (
            None
            if self.database is None or before.database is None
            else self.database - before.database
        )
        return Cpu(self.workers - before.workers, self.driver - before.driver, database)


def _pg(url: str) -> str | None:
    return url if url.startswith("postgresql") else None


def quantile(values: list[float], q: float) -> float:
    """Nearest-rank quantile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def server_means(text: str) -> dict[str, float]:
    """Mean seconds inside the app per "METHOD route", from /metrics' request histogram."""
    from prometheus_client.parser import text_string_to_metric_families

    sums: dict[str, float] = {}
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name != "regflow_web_request_duration_seconds":
            continue
        for sample in family.samples:
            key = f"{sample.labels['method']} {sample.labels['route']}"
            if sample.name.endswith("_sum"):
                sums[key] = sample.value
            elif sample.name.endswith("_count"):
                counts[key] = sample.value
    return {key: sums[key] / counts[key] for key in sums if counts.get(key)}


def report(  # noqa: PLR0917  # one row of figures
    name: str,
    seconds: float,
    completed: int,
    timings: Timings,
    hash_rate: float,
    inside: dict[str, float],
    cpu: tuple[Cpu, float, int],
) -> None:
    """The backend's figures."""
    rate = completed / seconds
    print(
        f"\n{name}: {completed} registrations in {seconds:.1f} s = {rate:.1f}/s; argon2id "
        f"{hash_rate:.1f}/s with as many processes as workers; ratio {rate / hash_rate:.2f}"
    )
    used, rest, workers = cpu
    if completed:
        report_cpu(used, completed, rest, workers, hash_rate)
    for error, count in timings.errors.items():
        print(f"  error x{count}: {error}")
    print(f"  {'page':<36} {'n':>5} {'p50 ms':>8} {'p99 ms':>8} {'mean':>7} {'in app':>7}")
    others: list[float] = []
    for page_name, values in sorted(timings.pages.items()):
        mark = "  (hashes)" if page_name == HASH_PAGE else ""
        if not mark:
            others.extend(values)
        p50, p99 = quantile(values, 0.5) * 1000, quantile(values, 0.99) * 1000
        mean = sum(values) / len(values) * 1000
        app = inside.get(page_name, float("nan")) * 1000
        print(
            f"  {page_name:<36} {len(values):>5} {p50:>8.1f} {p99:>8.1f} {mean:>7.1f} "
            f"{app:>7.1f}{mark}"
        )
    if others:
        p99_all = quantile(others, 0.99) * 1000
        print(f"  every page but the hash's: p99 {p99_all:.1f} ms (target <= 20 ms)")


def hash_cpu_ms(rounds: int = 21) -> float:
    """CPU ms of one argon2id hash at the app's parameters, in this process: the median of
    `rounds` (CPU time, every lane's thread, not wall time; the median, because a hash whose
    lanes wait for a busy core spins and counts more)."""
    hasher = make_hasher(fast=False)
    hasher.hash("warm-up")
    spent = []
    for i in range(rounds):
        started = time.process_time()
        hasher.hash(f"{PASSWORD}{i}")
        spent.append(time.process_time() - started)
    return statistics.median(spent) * 1000


def report_cpu(used: Cpu, completed: int, rest: float, workers: int, hash_rate: float) -> None:
    """Where the machine's CPU went, per registration, and the ratio that leaves possible;
    `rest`: the workers' CPU ms per registration in the run with a trivial hash."""
    per = 1000 / completed
    hash_ms = hash_cpu_ms()
    lanes = make_hasher(fast=False).parallelism
    database = used.database * per if used.database is not None else 0.0
    total = used.workers * per + used.driver * per + database
    cores = os.cpu_count() or 1
    print(
        f"  CPU ms per registration: workers {used.workers * per:.1f} (everything but the hash "
        f"{rest:.1f}, measured with a trivial hash; one hash alone {hash_ms:.1f}), "
        f"driver {used.driver * per:.1f}"
        + (f", PostgreSQL {database:.1f}" if used.database is not None else "")
        + f"; total {total:.1f} on {cores} cores"
    )
    # at best every core is busy: cores / total registrations/s, against the hash-bound
    # rate, as many hashes at once as the workers' lanes can keep cores busy
    hashing = min(cores, workers * lanes)
    ceiling = min(1.0, cores * hash_ms / (hashing * total))
    print(
        f"  the ratio this CPU budget allows on this machine: {ceiling:.2f}; hash-bound rate "
        f"from the hash's CPU: {1000 * hashing / hash_ms:.1f}/s (measured: {hash_rate:.1f}/s)"
    )


def main() -> None:
    """Run each backend and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--registrations", type=int, default=60)
    parser.add_argument("--users", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--hash-rounds", type=int, default=30)
    parser.add_argument("--time-limit", type=float, default=120.0, help="seconds per backend")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("REGFLOW_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1/test"),
    )
    parser.add_argument(
        "--argon2",
        default=os.environ.get("REGFLOW_ARGON2", ""),
        help='the hash cost, "m=KiB,t=passes,p=lanes" (default: regflow\'s, m=65536,t=3,p=4)',
    )
    args = parser.parse_args()
    if args.argon2:
        os.environ["REGFLOW_ARGON2"] = args.argon2  # the workers and the hashing processes
    print(f"argon2id {make_hasher(fast=False).parameters}")
    n = args.registrations
    people = [record.personal_id for record in customers(n)]
    secret = secrets.token_urlsafe(24).encode()
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        backends = [("SQLite", [f"sqlite:///{folder / f'load-{run}.sqlite3'}" for run in (1, 2)])]
        scoped = [stack.enter_context(postgres_schema(args.postgres_url)) for _ in (1, 2)]
        if None not in scoped:
            backends.append(("PostgreSQL", [url for url in scoped if url is not None]))
        for name, (url, other_url) in backends:
            with server(url, args.workers, n, secret, folder / f"metrics-{name}") as served:
                seconds, completed, timings, used, inside = load(served, url, people, args, secret)
            hash_rate = parallel_hash_rate(args.workers, args.hash_rounds)
            # everything but the hash, measured: the same load on a fresh database with a
            # trivial argon2id in the workers
            with server(
                other_url, args.workers, n, secret, folder / f"trivial-{name}", trivial_hash=True
            ) as served:
                _, rest_completed, _, rest_used, _ = load(served, other_url, people, args, secret)
            rest = rest_used.workers / rest_completed * 1000 if rest_completed else float("nan")
            report(name, seconds, completed, timings, hash_rate, inside, (used, rest, args.workers))


def load(
    served: Served, url: str, people: list[str], args: argparse.Namespace, secret: bytes
) -> tuple[float, int, Timings, Cpu, dict[str, float]]:
    """One load run on `served`: seconds, completed, timings, CPU used, the app's own means."""
    pids = served.workers()
    before = Cpu.now(pids, url)
    seconds, completed, timings = asyncio.run(
        drive(served.base, people, args.users, secret, args.time_limit)
    )
    used = Cpu.now(pids, url) - before
    inside = server_means(httpx.get(f"{served.base}/metrics", timeout=10).text)
    return seconds, completed, timings, used, inside


if __name__ == "__main__":
    main()
