"""Test support for storage, the service and multi-process runs.

- `person(i)` / `people(n)`: customers with valid, distinct personal identity codes.
- `SignedBank`: a bank whose answers are HMAC-signed, so that any process can verify a callback
  (the demo's `SimulatedBank` remembers its codes in one process's memory).
- `make_ports`, `make_service`, `register_until_review`: a registration through the service.
- `worker_*`: process entry points for the PostgreSQL concurrency tests; they live here, in an
  importable module, because "spawn" and "forkserver" children import their target by name.
"""

from __future__ import annotations

import base64
import collections
import contextlib
import datetime as dt
import hashlib
import hmac
import json
import multiprocessing
import multiprocessing.context
import secrets
import threading
import time
import traceback
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import attrs

from regflow import (
    Argon2Hasher,
    BankCallback,
    BankRedirect,
    ContactDetails,
    Contract,
    ContractKind,
    CustomerRecord,
    IdentificationFailed,
    RegflowError,
    RegistrationFlow,
    Settings,
    UnknownBank,
    VerifiedPerson,
)
from regflow.adapters.memory import (
    FINNISH_BANKS,
    InMemoryAccountStore,
    InMemoryCustomerDirectory,
    InMemoryFlowStore,
    InMemoryStorage,
    ManualClock,
    RecordingMailer,
    SystemClock,
)
from regflow.policy import PasswordPolicy
from regflow.ports import Clock, PasswordHasher, Ports
from regflow.service import RegistrationService

PASSWORD = "Kukkaruukku7Q"
_CHECK = "0123456789ABCDEFHJKLMNPRSTUVWXY"
_GIVEN = ("Aino", "Eero", "Ilona", "Onni", "Ulla", "Veli")


def personal_id(i: int) -> str:
    """A valid personal identity code, distinct for each `i` below 100 000."""
    born = dt.date(1950, 1, 1) + dt.timedelta(days=i % 18_000)
    individual = 2 + (i // 18_000) * 100 + (i % 97)  # 002..899: never a temporary code
    digits = f"{born:%d%m}{born.year % 100:02d}"
    check = _CHECK[int(f"{digits}{individual:03d}") % 31]
    return f"{digits}-{individual:03d}{check}"


def person(i: int, *, email: str | None = None) -> CustomerRecord:
    """Customer number `i`, with one linkable electricity contract."""
    return CustomerRecord(
        customer_number=f"9{i:07d}",
        personal_id=personal_id(i),
        details=ContactDetails(
            given_names=_GIVEN[i % len(_GIVEN)],
            family_name="Testinen",
            email=email or f"person{i}@example.fi",
            phone=f"+35840{i:07d}",
            street_address=f"Testikatu {i % 200 + 1}",
            postal_code="00100",
            post_office="Helsinki",
            language="fi",
        ),
        contracts=(Contract(ContractKind.electricity, f"E-{i:07d}", f"6430000000{i:08d}"),),
    )


def people(n: int) -> list[CustomerRecord]:
    """`person(0)` to `person(n - 1)`."""
    return [person(i) for i in range(n)]


class SignedBank:
    """A `BankIdentity` whose callbacks carry an HMAC-signed answer any process can verify."""

    def __init__(
        self, people: Mapping[str, tuple[str, str]] | None = None, *, key: bytes = b"tests"
    ) -> None:
        self._people = dict(people or {})
        self._key = key

    def banks(self) -> Sequence[Any]:
        """The Finnish banks."""
        return FINNISH_BANKS

    def begin(self, bank_id: str, *, flow_id: str, language: str) -> BankRedirect:
        """A redirect with a fresh state and nonce."""
        if bank_id not in {b.id for b in FINNISH_BANKS}:
            raise UnknownBank(bank_id)
        state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        return BankRedirect(
            bank_id=bank_id, url=f"https://bank.invalid/?state={state}", state=state, nonce=nonce
        )

    def approve(self, redirect: BankRedirect, *, personal_id: str) -> BankCallback:
        """The callback after the user identified as `personal_id`."""
        payload = json.dumps({"nonce": redirect.nonce, "pid": personal_id}).encode()
        body = base64.urlsafe_b64encode(payload).decode()
        return BankCallback({"state": redirect.state, "code": f"{body}.{self._sign(body)}"})

    def complete(self, callback: BankCallback, expected: BankRedirect) -> VerifiedPerson:
        """Verify the state, the signature and the nonce."""
        if not secrets.compare_digest(callback.params.get("state", ""), expected.state):
            raise IdentificationFailed("state_mismatch")
        body, _, signature = callback.params.get("code", "").partition(".")
        if not hmac.compare_digest(signature, self._sign(body)):
            raise IdentificationFailed("code_rejected")
        answer = json.loads(base64.urlsafe_b64decode(body))
        if answer["nonce"] != expected.nonce:
            raise IdentificationFailed("nonce_mismatch")
        given, family = self._people.get(answer["pid"], ("", ""))
        return VerifiedPerson(personal_id=answer["pid"], given_names=given, family_name=family)

    def _sign(self, body: str) -> str:
        return hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()


class CountingHasher:
    """A hasher that counts its verifications (thread-safe): how many passwords were checked."""

    def __init__(self, inner: PasswordHasher) -> None:
        self.inner = inner
        self.verifications = 0
        self._lock = threading.Lock()

    def hash(self, password: str) -> str:
        """The inner hasher's hash."""
        return self.inner.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        """Count, then verify with the inner hasher."""
        with self._lock:
            self.verifications += 1
        return self.inner.verify(password_hash, password)

    def needs_rehash(self, password_hash: str) -> bool:
        """The inner hasher's answer."""
        return self.inner.needs_rehash(password_hash)


def make_ports(
    records: Sequence[CustomerRecord],
    *,
    hasher: PasswordHasher | None = None,
    clock: Clock | None = None,
    settings: Settings | None = None,
) -> Ports:
    """Ports with `records` in the customer directory and a `SignedBank` that knows them."""
    names = {r.personal_id: (r.details.given_names, r.details.family_name) for r in records}
    return Ports(
        bank=SignedBank(names),
        customers=InMemoryCustomerDirectory(records),
        accounts=InMemoryAccountStore(),
        flows=InMemoryFlowStore(),
        mailer=RecordingMailer(),
        policy=PasswordPolicy.helen(),
        hasher=hasher or Argon2Hasher.insecure_fast(),
        clock=clock or SystemClock(),
        settings=settings or Settings(),
    )


def memory_service(records: Sequence[CustomerRecord], **ports: Any) -> RegistrationService:
    """A service over in-memory storage with `records` (see `make_ports`)."""
    built = make_ports(records, **ports)
    return RegistrationService(built, InMemoryStorage.of(built))


def make_service(url: str, records: Sequence[CustomerRecord], **ports: Any) -> RegistrationService:
    """A service over the SQL database at `url` (tables already created)."""
    from regflow.adapters.sql import SqlStore

    return RegistrationService(make_ports(records, **ports), SqlStore.from_url(url, pool_size=2))


@contextlib.contextmanager
def sql_service(
    url: str, records: Sequence[CustomerRecord], **ports: Any
) -> Iterator[RegistrationService]:
    """`make_service`, closing the store's connections at the end."""
    service = make_service(url, records, **ports)
    try:
        yield service
    finally:
        service.storage.close()  # type: ignore[attr-defined]  # an SqlStore


def register_until_review(
    service: RegistrationService,
    record: CustomerRecord,
    *,
    email: str | None = None,
    language: str = "fi",
    password: str = PASSWORD,
) -> RegistrationFlow:
    """A new flow for `record`, driven through the service to `reviewing`."""
    bank = service.ports.bank
    assert isinstance(bank, SignedBank)
    flow = service.start(language=language)
    flow = service.select_bank(flow.id, "nordea")
    assert flow.redirect is not None
    callback = bank.approve(flow.redirect, personal_id=record.personal_id)
    flow = service.complete_identification(flow.id, callback)
    flow = service.confirm_personal_id(flow.id)
    details = attrs.evolve(record.details, email=email or record.details.email)
    return service.submit_details(flow.id, details, password)


# -- multi-process helpers --------------------------------------------------------------------


def mp_context() -> multiprocessing.context.ForkServerContext:
    """A "forkserver" context whose server has regflow, SQLAlchemy and psycopg imported.

    Children are forked from that clean server (never from the test process, which holds
    threads and connections), so each starts in milliseconds with its own connections.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["tests.storage_support", "regflow.adapters.sql", "psycopg"])
    return context


def _outcome(call: Any) -> tuple[str, Any]:
    try:
        return "ok", call()
    except RegflowError as error:
        return error.code, None
    except Exception:  # a bug: report it to the test rather than dying silently
        return "crash", traceback.format_exc()


def worker_same_email(url: str, index: int, email: str, barrier: Any, results: Any) -> None:
    """Register person `index` with the shared `email` up to review, wait, then approve."""
    service = make_service(url, [person(index)])
    flow = register_until_review(service, person(index), email=email)
    assert flow.review_token is not None
    barrier.wait(timeout=60)
    token = flow.review_token
    code, _ = _outcome(lambda: service.approve(flow.id, token))
    results.put((index, flow.id, code))


def worker_approve(url: str, flow_id: str, token: str, barrier: Any, results: Any) -> None:
    """Wait for the others, then approve `flow_id`."""
    service = make_service(url, [])
    service.view(flow_id)  # connect and warm up before the race
    barrier.wait(timeout=60)
    code, _ = _outcome(lambda: service.approve(flow_id, token))
    results.put(code)


STEPS = ("start", "select_bank", "complete_identification", "confirm", "submit", "approve")


def worker_steps(url: str, worker: int, n: int, inbox: Any, results: Any) -> None:
    """Serve steps of many registrations from `inbox` until None; report each on `results`."""
    records = people(n)
    service = make_service(url, records)
    while (task := inbox.get()) is not None:
        index, step = task[0], task[1]
        started = time.perf_counter()
        code, value = _outcome(lambda t=task: _step(service, records[t[0]], *t[1:]))
        results.put((index, step, worker, code, value, time.perf_counter() - started))


def _step(
    service: RegistrationService, record: CustomerRecord, step: str, flow_id: str, payload: Any
) -> Any:
    if step == "start":
        return service.start(language="fi").id
    if step == "select_bank":
        redirect = service.select_bank(flow_id, "op").redirect
        assert redirect is not None
        return (redirect.state, redirect.nonce)
    if step == "complete_identification":
        return str(service.complete_identification(flow_id, BankCallback(payload)).state)
    if step == "confirm":
        return str(service.confirm_personal_id(flow_id).state)
    if step == "submit":
        return service.submit_details(flow_id, record.details, PASSWORD).review_token
    if step == "approve":
        return str(service.approve(flow_id, payload).state)
    raise AssertionError(step)  # pragma: no cover


def worker_register_then_hang(url: str, ready: Any) -> None:
    """Complete a registration (the account commits), report the flow id, then hang: the
    process is killed before any relay sends the email."""
    service = make_service(url, [person(0)])
    flow = register_until_review(service, person(0))
    assert flow.review_token is not None
    service.approve(flow.id, flow.review_token)
    ready.put(flow.id)
    time.sleep(600)


class _HangingMailer:
    def __init__(self, ready: Any) -> None:
        self.ready = ready

    def send(self, message: Any) -> None:
        self.ready.put(message.message_id)
        time.sleep(600)


def worker_claim_then_hang(url: str, lease_seconds: float, ready: Any) -> None:
    """Run a relay pass whose mailer hangs once the message is claimed; the process is killed
    mid-send."""
    from regflow.adapters.sql import SqlStore
    from regflow.outbox import OutboxPorts, deliver_pending_emails

    store = SqlStore.from_url(url)
    ports = OutboxPorts(outbox=store.accounts, mailer=_HangingMailer(ready), clock=SystemClock())
    deliver_pending_emails(ports, lease=dt.timedelta(seconds=lease_seconds))


# -- multi-process scenarios, shared by the PostgreSQL and SQLite tests -------------------------


def table_counts(url: str) -> dict[str, int]:
    """How many accounts, queued emails and flows the database holds."""
    import sqlalchemy as sa

    from regflow.adapters.sql import SqlStore, accounts_table, flows_table, outbox_table

    with SqlStore.from_url(url) as store, store.engine.connect() as connection:
        return {
            table.name: connection.execute(
                sa.select(sa.func.count()).select_from(table)
            ).scalar_one()
            for table in (accounts_table, outbox_table, flows_table)
        }


def _join_all(processes: Sequence[Any]) -> None:
    for process in processes:
        process.join(120)
        assert process.exitcode == 0, f"worker exit code {process.exitcode}"


def _race(count: int, target: Any, args: Any) -> list[Any]:
    """Start `count` processes running `target(*args(i), barrier, results)`, which meet at the
    barrier before racing; returns what they put on `results`, in arrival order."""
    context = mp_context()
    barrier, results = context.Barrier(count), context.Queue()
    processes = [
        context.Process(target=target, args=(*args(i), barrier, results)) for i in range(count)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for _ in processes]
    _join_all(processes)
    return outcomes


def race_same_email(url: str, count: int) -> list[tuple[int, str, str]]:
    """`count` processes register different people with one email, then approve at once;
    returns (person, flow id, outcome code) for each."""
    return _race(count, worker_same_email, lambda i: (url, i, "Shared@Example.fi"))


def race_approve(url: str, flow_id: str, token: str, count: int) -> collections.Counter[str]:
    """`count` processes approve one flow at once; returns how often each outcome came."""
    return collections.Counter(_race(count, worker_approve, lambda _: (url, flow_id, token)))


def hop_registrations(url: str, n: int, workers: int) -> dict[int, list[int]]:
    """`n` registrations served by `workers` processes, each step by another process than the
    step before; returns, per registration, the workers that served its steps in order.

    Fails on the first step that does not succeed.
    """
    records, bank = people(n), SignedBank()
    context = mp_context()
    inboxes = [context.Queue() for _ in range(workers)]
    results = context.Queue()
    processes = [
        context.Process(target=worker_steps, args=(url, w, n, inboxes[w], results))
        for w in range(workers)
    ]
    for process in processes:
        process.start()
    flow_ids: dict[int, str] = {}
    served_by: dict[int, list[int]] = collections.defaultdict(list)

    def send(index: int, step: int, payload: Any = None) -> None:
        worker = (index + step) % workers  # never the worker of the step before
        inboxes[worker].put((index, STEPS[step], flow_ids.get(index, ""), payload))

    for index in range(n):
        send(index, 0)
    for _ in range(n * len(STEPS)):
        index, step_name, worker, code, value, _seconds = results.get(timeout=120)
        assert code == "ok", (index, step_name, code, value)
        served_by[index].append(worker)
        step = STEPS.index(step_name)
        if step_name == "start":
            flow_ids[index] = value
        if step + 1 == len(STEPS):
            assert value == "completed"
            continue
        payload: Any = None
        if step_name == "select_bank":
            state, nonce = value
            redirect = BankRedirect(bank_id="op", url="-", state=state, nonce=nonce)
            payload = dict(bank.approve(redirect, personal_id=records[index].personal_id).params)
        elif step_name == "submit":
            payload = value  # the review token
        send(index, step + 1, payload)
    for inbox in inboxes:
        inbox.put(None)
    _join_all(processes)
    return served_by


def worker_guess(url: str, email: str, guesses: int, barrier: Any, results: Any) -> None:
    """Wait for the others, then make `guesses` wrong logins for `email` from one address;
    report (password checks made, outcome codes)."""
    hasher = CountingHasher(Argon2Hasher.insecure_fast())
    service = make_service(url, [], hasher=hasher)
    service.ports.hasher.hash("warm-up")  # the dummy hash is made before the race, not in it
    barrier.wait(timeout=60)
    codes = [
        _outcome(
            lambda: service.authenticate(email, "Wrong-password-1", client_address="203.0.113.7")
        )[0]
        for _ in range(guesses)
    ]
    results.put((hasher.verifications, codes))


def race_guesses(url: str, email: str, processes: int, guesses: int) -> list[tuple[int, list[str]]]:
    """`processes` processes guess `email`'s password `guesses` times each, at once; returns
    each one's (password checks, outcome codes)."""
    return _race(processes, worker_guess, lambda _: (url, email, guesses))


def worker_start_flows(url: str, limit: str, starts: int, barrier: Any, results: Any) -> None:
    """A worker as `bootstrap` builds one on `url`, with `limit` on starting flows: wait for
    the others, then start `starts` flows from one address; report the outcome codes."""
    from regflow.bootstrap import Config, bootstrap
    from regflow.ratelimit import RateLimits

    config = Config(database_url=url, create_schema=False, rate_limits=RateLimits(start=limit))
    clock = ManualClock()  # every worker's starts at the same moment: one window for all
    with bootstrap(
        config,
        customers=InMemoryCustomerDirectory([]),
        clock=clock,
        hasher=Argon2Hasher.insecure_fast(),
    ) as app:
        barrier.wait(timeout=60)
        codes = [
            _outcome(lambda: app.service.start(client_address="198.51.100.20"))[0]
            for _ in range(starts)
        ]
    results.put(codes)


def race_starts(url: str, processes: int, limit: str, starts: int) -> list[list[str]]:
    """`processes` workers start `starts` flows each at once from one address, under `limit`;
    returns each one's outcome codes."""
    return _race(processes, worker_start_flows, lambda _: (url, limit, starts))
