"""In-memory adapters: a working fake for every port (`demo_ports()` is in `regflow.bootstrap`).

`InMemoryAccountStore` implements three ports at once: `AccountStore`, `Outbox` and
`LoginAttempts`; `InMemoryRateLimitStorage` counts the rate limits (`regflow.ratelimit`). The
demo customers live in `regflow.demo` and the real clock in `regflow.clock`; both are
re-exported here under their old names.

These are regflow's testing support (like stamina's `set_testing`): unit tests, property tests,
the demo and users' own tests run the real flow against them. Each fake stores what it received
so tests assert on state (`RecordingMailer.sent`, `InMemoryAccountStore.accounts`), not on mocks.
Setting a fake's `outage` to True makes every call raise `AdapterError`, as a real adapter does
when its backend is down. All fakes are thread-safe.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import hmac
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Final
from urllib.parse import urlencode

import attrs
import limits.storage
from stdnum.fi import hetu

# Re-exported from their old home: `X as X` is how mypy --strict learns the export is meant.
from regflow.clock import SystemClock as SystemClock  # noqa: PLC0414
from regflow.demo import DEMO_CUSTOMERS as DEMO_CUSTOMERS  # noqa: PLC0414
from regflow.demo import DEMO_PEOPLE as DEMO_PEOPLE  # noqa: PLC0414
from regflow.errors import (
    AdapterError,
    AlreadyRegistered,
    CallbackMismatch,
    ConcurrentUpdate,
    EmailTaken,
    FlowNotFound,
    IdentificationFailed,
    UnknownBank,
)
from regflow.model import (
    Account,
    Bank,
    BankCallback,
    BankRedirect,
    ContractLink,
    CustomerRecord,
    EmailMessage,
    LinkStatus,
    NewAccount,
    OutboxMessage,
    VerifiedPerson,
)
from regflow.ports import LoginAttempt, LoginReservation, Ports, Snapshot, StoredFlow
from regflow.validation import email_key

if TYPE_CHECKING:
    from regflow.ports import Clock

# `name` is the Finnish name; `names` holds the Swedish and English ones where they differ.
FINNISH_BANKS: Final[tuple[Bank, ...]] = (
    Bank("aktia", "Aktia"),
    Bank("danskebank", "Danske Bank"),
    Bank("handelsbanken", "Handelsbanken"),
    Bank("nordea", "Nordea"),
    Bank("op", "OP"),
    Bank("pop", "POP Pankki", names={"sv": "POP Bank", "en": "POP Bank"}),
    Bank("spankki", "S-Pankki", names={"sv": "S-Banken", "en": "S-Bank"}),
    Bank(
        "saastopankki",
        "S\u00e4\u00e4st\u00f6pankki",
        names={"sv": "Sparbanken", "en": "Savings Bank"},
    ),
    Bank(
        "omasp",
        "Oma S\u00e4\u00e4st\u00f6pankki",
        names={"sv": "Oma Sparbank", "en": "Oma Savings Bank"},
    ),
    Bank("alandsbanken", "\u00c5landsbanken"),
    Bank(
        "mobiilivarmenne",
        "Mobiilivarmenne",
        names={"sv": "Mobilcertifikat", "en": "Mobile certificate"},
    ),
)


MAX_OPEN_REQUESTS: Final = 10_000  # unanswered identification requests a SimulatedBank keeps


class _Faultable:
    """`outage = True` makes every port call raise `AdapterError`, as a backend outage would."""

    port_name = "memory"

    def __init__(self) -> None:
        self.outage = False
        self._lock = threading.RLock()

    def _check(self) -> None:
        if self.outage:
            raise AdapterError(self.port_name, "simulated outage")


@attrs.frozen
class _IssuedCode:
    state: str
    nonce: str
    person: VerifiedPerson


class SimulatedBank(_Faultable):
    """A bank identification service that answers like a real one, for demos and tests.

    `approve`, `fail` and `cancel` return the callback the bank would send back; `complete`
    checks it like a real adapter: the state must match, the code is single-use, and the
    nonce bound to the code must be the one the flow expects.
    """

    port_name = "bank"

    def __init__(
        self,
        banks: Sequence[Bank] = FINNISH_BANKS,
        *,
        people: Mapping[str, tuple[str, str]] | None = None,
        base_url: str = "https://simulated-bank.invalid/authorize",
    ) -> None:
        super().__init__()
        self._banks = tuple(banks)
        self._people = dict(people or {})  # personal id -> (given names, family name)
        self._base_url = base_url
        self._codes: dict[str, _IssuedCode] = {}
        # state -> the request `begin` issued, as a real bank receives it (state and nonce
        # travel in the authorisation request): the bank's own page answers it by its state
        self._requests: dict[str, BankRedirect] = {}

    @property
    def people(self) -> Mapping[str, tuple[str, str]]:
        """The people this bank can identify: personal identity code -> (given, family name)."""
        return dict(self._people)

    def request(self, state: str) -> BankRedirect | None:
        """The identification request `begin` issued with `state`, or None (unknown, answered).

        A bank's own page (the web demo's /sim-bank/) knows the request from its URL's
        `state` alone, as a real bank does, and answers it with `approve`, `fail` or `cancel`.
        """
        if not isinstance(state, str):
            return None
        with self._lock:
            return self._requests.get(state)

    def banks(self) -> Sequence[Bank]:
        """The configured bank list."""
        self._check()
        return self._banks

    def begin(self, bank_id: str, *, flow_id: str, language: str) -> BankRedirect:
        """A redirect to the simulated bank page, with a fresh state and nonce."""
        self._check()
        if bank_id not in {b.id for b in self._banks}:
            raise UnknownBank(bank_id)
        state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        query = urlencode({"bank": bank_id, "state": state, "lang": language})
        redirect = BankRedirect(
            bank_id=bank_id, url=f"{self._base_url}?{query}", state=state, nonce=nonce
        )
        with self._lock:
            if len(self._requests) >= MAX_OPEN_REQUESTS:  # a demo's bank: bound its memory
                self._requests.pop(next(iter(self._requests)))
            self._requests[state] = redirect
        return redirect

    def approve(
        self,
        redirect: BankRedirect,
        *,
        personal_id: str,
        given_names: str | None = None,
        family_name: str | None = None,
    ) -> BankCallback:
        """The callback after the user identified successfully as `personal_id`."""
        known = self._people.get(personal_id, ("", ""))
        person = VerifiedPerson(
            personal_id=personal_id,
            given_names=known[0] if given_names is None else given_names,
            family_name=known[1] if family_name is None else family_name,
        )
        code = secrets.token_urlsafe(16)
        with self._lock:
            self._requests.pop(redirect.state, None)  # answered: the page cannot answer twice
            self._codes[code] = _IssuedCode(redirect.state, redirect.nonce, person)
        return BankCallback({"state": redirect.state, "code": code})

    def fail(self, redirect: BankRedirect) -> BankCallback:
        """The callback when the bank could not identify the user."""
        with self._lock:
            self._requests.pop(redirect.state, None)
        return BankCallback({"state": redirect.state, "error": "server_error"})

    def cancel(self, redirect: BankRedirect) -> BankCallback:
        """The callback when the user cancelled at the bank."""
        with self._lock:
            self._requests.pop(redirect.state, None)
        return BankCallback({"state": redirect.state, "error": "access_denied"})

    def complete(self, callback: BankCallback, expected: BankRedirect) -> VerifiedPerson:
        """Verify the callback against the flow's expectation, like a real adapter."""
        self._check()
        params = callback.params
        if "state" not in params:
            raise CallbackMismatch(detail="the callback carries no state")
        if not _same(params["state"], expected.state):
            raise CallbackMismatch(detail="the callback's state is not this attempt's")
        error = params.get("error")
        if error == "access_denied":
            raise IdentificationFailed("identification_cancelled")
        if error:
            raise IdentificationFailed("identification_rejected")
        with self._lock:
            issued = self._codes.pop(params.get("code", ""), None)
        if issued is None:
            raise IdentificationFailed("code_rejected")
        if not _same(issued.nonce, expected.nonce):
            raise IdentificationFailed("nonce_mismatch")
        return issued.person


def _same(given: str, expected: str) -> bool:
    """Constant-time comparison that also takes non-ASCII input (compare_digest on str does not)."""
    return hmac.compare_digest(given.encode(), expected.encode())


class InMemoryCustomerDirectory(_Faultable):
    """A read-only customer data system holding the records it was given."""

    port_name = "customers"

    def __init__(self, records: Iterable[CustomerRecord] = ()) -> None:
        super().__init__()
        self._records = {hetu.compact(r.personal_id): r for r in records}

    def find_by_personal_id(self, personal_id: str) -> CustomerRecord | None:
        """The record for this code, or None."""
        self._check()
        return self._records.get(hetu.compact(personal_id))


class _Journaled(_Faultable):
    """A store whose writes a unit of work can undo (see `InMemoryStorage`)."""

    def __init__(self) -> None:
        super().__init__()
        self._undo: list[Callable[[], None]] | None = None  # set while a unit of work is open

    def _journal(self, undo: Callable[[], None]) -> None:
        # Called under self._lock; the open unit holds that lock, so only its writes land here.
        if self._undo is not None:
            self._undo.append(undo)

    def _begin_unit(self) -> None:
        self._undo = []

    def _end_unit(self, *, commit: bool) -> None:
        undo, self._undo = self._undo or [], None
        if not commit:
            for step in reversed(undo):
                step()


class InMemoryAccountStore(_Journaled):
    """Accounts with case-insensitively unique emails and one account per person, and an outbox."""

    port_name = "accounts"

    def __init__(self) -> None:
        super().__init__()
        self.accounts: dict[str, Account] = {}
        self.outbox: dict[str, OutboxMessage] = {}  # message id -> message, in queue order
        # account id -> its contract records by `ContractLink.key`
        self.contract_link_records: dict[str, dict[str, ContractLink]] = {}
        # attempt id -> a failed login, or one in progress (see `regflow.login`)
        self.login_attempt_log: dict[int, LoginAttempt] = {}
        self._attempt_ids = 0
        self._by_email: dict[str, str] = {}
        self._by_person: dict[str, str] = {}

    def exists_for_person(self, personal_id: str) -> bool:
        """Whether this person has an account."""
        self._check()
        with self._lock:
            return personal_id in self._by_person

    def exists_for_email(self, email: str) -> bool:
        """Whether an account uses this email, case-insensitively."""
        self._check()
        with self._lock:
            return email_key(email) in self._by_email

    def create(self, account: NewAccount, message: EmailMessage) -> None:
        """Create the account and queue its email, both or neither."""
        self._check()
        key = email_key(account.email)
        with self._lock:
            if account.personal_id in self._by_person:
                raise AlreadyRegistered
            if key in self._by_email:
                raise EmailTaken
            if message.message_id in self.outbox:
                raise AlreadyRegistered
            self._insert(account.stored())
            if account.contract_links:
                self.contract_link_records[account.account_id] = {
                    link.key: link for link in account.contract_links
                }
            self.outbox[message.message_id] = OutboxMessage(message)
            self._journal(lambda: self._remove(account.account_id, message.message_id))

    def add(self, account: Account) -> None:
        """Seed an existing account (no email is queued): for demos and tests."""
        with self._lock:
            if account.personal_id in self._by_person:
                raise AlreadyRegistered
            if email_key(account.email) in self._by_email:
                raise EmailTaken
            self._insert(account)
            self._journal(lambda: self._remove(account.account_id, None))

    def _insert(self, account: Account) -> None:
        self.accounts[account.account_id] = account
        self._by_email[email_key(account.email)] = account.account_id
        self._by_person[account.personal_id] = account.account_id

    def _remove(self, account_id: str, message_id: str | None) -> None:
        account = self.accounts.pop(account_id)
        self.contract_link_records.pop(account_id, None)
        del self._by_email[email_key(account.email)]
        del self._by_person[account.personal_id]
        if message_id is not None:
            del self.outbox[message_id]

    def find_by_email(self, email: str) -> Account | None:
        """The account with this email, case-insensitively."""
        self._check()
        with self._lock:
            account_id = self._by_email.get(email_key(email))
            return self.accounts[account_id] if account_id else None

    def find_by_id(self, account_id: str) -> Account | None:
        """The account with this id."""
        self._check()
        with self._lock:
            return self.accounts.get(account_id)

    def contract_links(self, account_id: str) -> Sequence[ContractLink]:
        """The account's contract records: linked first, then by `since` and key (as on SQL)."""
        self._check()
        with self._lock:
            links = list(self.contract_link_records.get(account_id, {}).values())
        return sorted(
            links, key=lambda link: (link.status is not LinkStatus.linked, link.since, link.key)
        )

    def accounts_with_pending_contracts(
        self, *, after: str | None, limit: int, everyone: bool = False
    ) -> Sequence[Account]:
        """Accounts with a pending contract (or all), by account id, after `after`."""
        self._check()
        with self._lock:
            chosen = [
                account
                for account_id, account in sorted(self.accounts.items())
                if (after is None or account_id > after)
                and (
                    everyone
                    or any(
                        link.status is LinkStatus.pending
                        for link in self.contract_link_records.get(account_id, {}).values()
                    )
                )
            ]
        return chosen[:limit]

    def lock_account(self, account_id: str) -> Account | None:
        """The account; the unit of work already holds the store's lock."""
        self._check()
        with self._lock:
            return self.accounts.get(account_id)

    def update_contract_links(
        self,
        account_id: str,
        *,
        linked: Sequence[ContractLink],
        pending: Sequence[ContractLink],
        message: EmailMessage | None,
    ) -> None:
        """Add `linked`, replace the pending records with `pending`, queue `message`."""
        self._check()
        with self._lock:
            account = self.accounts[account_id]
            if message is not None and message.message_id in self.outbox:
                return  # this very linking is recorded already
            previous = self.contract_link_records.get(account_id)
            records = {
                key: link
                for key, link in (previous or {}).items()
                if link.status is LinkStatus.linked
            }
            records.update((link.key, link) for link in linked)
            records.update((link.key, link) for link in pending)
            self.contract_link_records[account_id] = records
            numbers = tuple(
                dict.fromkeys(
                    [*account.linked_contracts, *(str(link.contract_number) for link in linked)]
                )
            )
            self.accounts[account_id] = attrs.evolve(account, linked_contracts=numbers)
            if message is not None:
                self.outbox[message.message_id] = OutboxMessage(message)
            self._journal(lambda: self._restore_links(account, previous, message))

    def _restore_links(
        self,
        account: Account,
        previous: dict[str, ContractLink] | None,
        message: EmailMessage | None,
    ) -> None:
        self.accounts[account.account_id] = account
        if previous is None:
            self.contract_link_records.pop(account.account_id, None)
        else:
            self.contract_link_records[account.account_id] = previous
        if message is not None:
            self.outbox.pop(message.message_id, None)

    def pending_messages(self, now: dt.datetime, limit: int) -> Sequence[OutboxMessage]:
        """Unsent messages that are due, in queue order."""
        self._check()
        with self._lock:
            due = [
                m
                for m in self.outbox.values()
                if m.sent_at is None and (m.next_attempt_at is None or m.next_attempt_at <= now)
            ]
        return due[:limit]

    def claim_messages(
        self, now: dt.datetime, limit: int, lease_until: dt.datetime
    ) -> Sequence[OutboxMessage]:
        """Due messages in queue order, each leased until `lease_until`."""
        self._check()
        with self._lock:
            claimed = list(self.pending_messages(now, limit))
            for message in claimed:
                self._replace(attrs.evolve(message, next_attempt_at=lease_until), previous=message)
        return claimed

    def _replace(self, message: OutboxMessage, *, previous: OutboxMessage) -> None:
        message_id = message.message.message_id
        self.outbox[message_id] = message
        self._journal(lambda: self.outbox.__setitem__(message_id, previous))

    def mark_sent(self, message_id: str, now: dt.datetime) -> None:
        """Record the delivery (once: a message already sent keeps its first record)."""
        self._check()
        with self._lock:
            message = self.outbox[message_id]
            if message.sent_at is None:
                self._replace(
                    attrs.evolve(
                        message, sent_at=now, attempts=message.attempts + 1, next_attempt_at=None
                    ),
                    previous=message,
                )

    def mark_failed(self, message_id: str, error: str, retry_at: dt.datetime) -> None:
        """Record a failed attempt and the time of the next one (not on a message sent)."""
        self._check()
        with self._lock:
            message = self.outbox[message_id]
            if message.sent_at is not None:  # another relay's delivery stands
                return
            self._replace(
                attrs.evolve(
                    message,
                    attempts=message.attempts + 1,
                    next_attempt_at=retry_at,
                    last_error=error,
                ),
                previous=message,
            )

    def update_password_hash(self, account_id: str, password_hash: str) -> None:
        """Replace the account's password hash."""
        self._check()
        with self._lock:
            account = self.accounts[account_id]
            self.accounts[account_id] = attrs.evolve(account, password_hash=password_hash)
            self._journal(lambda: self.accounts.__setitem__(account_id, account))

    def reserve_login_attempt(
        self, attempt: LoginAttempt, *, since: dt.datetime, known_since: dt.datetime
    ) -> LoginReservation:
        """Record the attempt as a failure; return it with the recent attempts it is counted
        with. Outside units of work at once; inside one, undone if the unit fails."""
        self._check()
        with self._lock:
            self._attempt_ids += 1
            attempt_id = self._attempt_ids
            recent = tuple(
                a
                for a in self.login_attempt_log.values()
                if (a.succeeded and a.at >= known_since and _same_pair(a, attempt))
                or (
                    not a.succeeded
                    and a.at >= since
                    and (
                        a.account == attempt.account
                        or (attempt.address is not None and a.address == attempt.address)
                    )
                )
            )
            self.login_attempt_log[attempt_id] = attempt
            self._journal(lambda: self._drop_attempts([attempt_id]))
        return LoginReservation(attempt_id, tuple(sorted(recent, key=lambda a: a.at)))

    def forget_login_attempt(self, attempt_id: int) -> None:
        """Drop a reserved attempt."""
        self._check()
        with self._lock:
            self._drop_attempts([attempt_id])

    def login_succeeded(self, attempt_id: int, account: str, address: str | None) -> None:
        """Drop the pair's failures and older successes; keep the reservation as its success."""
        self._check()
        with self._lock:
            reserved = self.login_attempt_log.get(attempt_id)
            self._drop_attempts(
                [
                    i
                    for i, a in self.login_attempt_log.items()
                    if i == attempt_id or (a.account == account and a.address == address)
                ]
            )
            if reserved is not None and address is not None:
                self.login_attempt_log[attempt_id] = attrs.evolve(reserved, succeeded=True)
                self._journal(lambda: self._drop_attempts([attempt_id]))

    def purge_login_attempts(self, before: dt.datetime, *, known_before: dt.datetime) -> int:
        """Delete the failures before `before` and the successes before `known_before`."""
        self._check()
        with self._lock:
            old = [
                i
                for i, a in self.login_attempt_log.items()
                if a.at < (known_before if a.succeeded else before)
            ]
            self._drop_attempts(old)
            return len(old)

    def _drop_attempts(self, attempt_ids: list[int]) -> None:
        dropped = {
            i: self.login_attempt_log.pop(i) for i in attempt_ids if i in self.login_attempt_log
        }
        self._journal(lambda: self.login_attempt_log.update(dropped))


def _same_pair(a: LoginAttempt, b: LoginAttempt) -> bool:
    return a.account == b.account and a.address == b.address


class InMemoryFlowStore(_Journaled):
    """Flow snapshots by id with a version number for optimistic concurrency."""

    port_name = "flows"

    def __init__(self) -> None:
        super().__init__()
        self._rows: dict[str, tuple[Snapshot, int, dt.datetime]] = {}

    def load(self, flow_id: str) -> StoredFlow:
        """The stored snapshot (a copy) and its version."""
        self._check()
        with self._lock:
            row = self._rows.get(flow_id)
        if row is None:
            raise FlowNotFound
        return StoredFlow(copy.deepcopy(row[0]), row[1])

    def save(
        self,
        flow_id: str,
        snapshot: Snapshot,
        *,
        expected_version: int | None,
        expires_at: dt.datetime,
    ) -> int:
        """Store if the version still matches; returns the new version."""
        self._check()
        with self._lock:
            current = self._rows.get(flow_id)
            current_version = current[1] if current else None
            if current_version != expected_version:
                raise ConcurrentUpdate
            version = (current_version or 0) + 1
            self._rows[flow_id] = (copy.deepcopy(snapshot), version, expires_at)
            self._journal(lambda: self._restore(flow_id, current))
            return version

    def purge_expired(self, now: dt.datetime) -> int:
        """Drop flows past their expiry."""
        self._check()
        with self._lock:
            gone = {k: row for k, row in self._rows.items() if row[2] < now}
            for key in gone:
                del self._rows[key]
            self._journal(lambda: self._rows.update(gone))
        return len(gone)

    def _restore(self, flow_id: str, row: tuple[Snapshot, int, dt.datetime] | None) -> None:
        if row is None:
            self._rows.pop(flow_id, None)
        else:
            self._rows[flow_id] = row

    def __len__(self) -> int:
        return len(self._rows)


class InMemoryStorage:
    """The in-memory stores with units of work, for `regflow.service.RegistrationService`.

    A unit holds both stores' locks from start to end, so units (and direct calls from other
    threads) are serialised, and it undoes its writes when it ends with an exception: the same
    all-or-nothing a database transaction gives, without the concurrency.
    """

    def __init__(
        self,
        accounts: InMemoryAccountStore | None = None,
        flows: InMemoryFlowStore | None = None,
    ) -> None:
        self._accounts = accounts if accounts is not None else InMemoryAccountStore()
        self._flows = flows if flows is not None else InMemoryFlowStore()

    @classmethod
    def of(cls, ports: Ports) -> InMemoryStorage:
        """The storage of ports whose accounts and flows are the in-memory fakes."""
        if not isinstance(ports.accounts, InMemoryAccountStore) or not isinstance(
            ports.flows, InMemoryFlowStore
        ):
            msg = "InMemoryStorage.of needs ports with InMemoryAccountStore and InMemoryFlowStore"
            raise TypeError(msg)
        return cls(ports.accounts, ports.flows)

    @property
    def accounts(self) -> InMemoryAccountStore:
        """The account store."""
        return self._accounts

    @property
    def outbox(self) -> InMemoryAccountStore:
        """The outbox: the account store, which implements that port too."""
        return self._accounts

    @property
    def login_attempts(self) -> InMemoryAccountStore:
        """The failed-login record: the account store, which implements that port too."""
        return self._accounts

    @property
    def flows(self) -> InMemoryFlowStore:
        """The flow store."""
        return self._flows

    @contextlib.contextmanager
    def unit_of_work(self) -> Iterator[InMemoryStorage]:
        """Serialise with other units; undo this unit's writes if the block raises."""
        with self._accounts._lock, self._flows._lock:
            if self._accounts._undo is not None:
                msg = "units of work on one InMemoryStorage do not nest"
                raise RuntimeError(msg)
            self._accounts._begin_unit()
            self._flows._begin_unit()
            commit = False
            try:
                yield self
                commit = True
            finally:
                self._flows._end_unit(commit=commit)
                self._accounts._end_unit(commit=commit)


class RecordingMailer(_Faultable):
    """A mailer that keeps every message it was asked to send, in `sent`."""

    port_name = "mailer"

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[EmailMessage] = []

    def send(self, message: EmailMessage) -> None:
        """Record the message (or raise `AdapterError` during an outage)."""
        self._check()
        with self._lock:
            self.sent.append(message)


class InMemoryRateLimitStorage(limits.storage.Storage):
    """Rate-limit counters in this process (`regflow.ratelimit`), on regflow's `Clock`.

    A `limits` storage for the fixed-window strategy: a counter and its window's end per key.
    Per process, so for tests and the in-memory demo; several workers need one they share
    (`regflow.adapters.sql.SqlRateLimitStorage`). Unlike `limits`' own `MemoryStorage` it
    starts no timer thread and reads the time from `clock`, so a `ManualClock` moves its
    windows. Expired counters are dropped as the table grows past `max_keys`.
    """

    STORAGE_SCHEME = None  # built by regflow, not by a `limits` storage URL
    max_keys: Final = 10_000

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self._clock = clock
        self._lock = threading.Lock()
        self._counters: dict[str, tuple[int, float]] = {}  # key -> (hits, window end)
        self.outage = False

    @property
    def base_exceptions(self) -> type[Exception]:
        """What a failure of this storage raises (passed on as it is)."""
        return AdapterError

    def _now(self) -> float:
        if self.outage:
            raise AdapterError("rate_limits", "simulated outage")
        return self._clock.now().timestamp()

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Add `amount` to the key's counter, in a new window of `expiry` seconds when the
        last one ended; the new count."""
        with self._lock:
            now = self._now()
            hits, ends = self._counters.get(key, (0, now))
            if ends <= now:
                hits, ends = 0, now + expiry
            self._counters[key] = (hits + amount, ends)
            if len(self._counters) > self.max_keys:
                self._purge(now)
            return hits + amount

    def get(self, key: str) -> int:
        """The key's count in its current window (0 after it ended)."""
        with self._lock:
            now = self._now()
            hits, ends = self._counters.get(key, (0, now))
            return hits if ends > now else 0

    def get_expiry(self, key: str) -> float:
        """When the key's window ends (seconds since the epoch; now when there is none)."""
        with self._lock:
            now = self._now()
            _hits, ends = self._counters.get(key, (0, now))
            return ends if ends > now else now

    def check(self) -> bool:
        """Healthy unless in a simulated outage."""
        return not self.outage

    def reset(self) -> int | None:
        """Forget every counter; how many there were."""
        with self._lock:
            count = len(self._counters)
            self._counters.clear()
            return count

    def clear(self, key: str) -> None:
        """Forget the key's counter."""
        with self._lock:
            self._counters.pop(key, None)

    def purge_expired(self) -> int:
        """Drop the counters whose window has ended; how many."""
        with self._lock:
            return self._purge(self._now())

    def _purge(self, now: float) -> int:
        ended = [key for key, (_hits, ends) in self._counters.items() if ends <= now]
        for key in ended:
            del self._counters[key]
        return len(ended)


class ManualClock:
    """A clock that moves only when told to."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self._now = start or dt.datetime(2026, 1, 15, 9, 0, tzinfo=dt.UTC)
        if self._now.utcoffset() != dt.timedelta(0):
            msg = "ManualClock needs a timezone-aware UTC start"
            raise ValueError(msg)
        self._lock = threading.Lock()

    def now(self) -> dt.datetime:
        """The current (manual) time."""
        with self._lock:
            return self._now

    def advance(self, delta: dt.timedelta) -> None:
        """Move the clock forward by `delta`."""
        with self._lock:
            self._now += delta


def __getattr__(name: str) -> object:
    """`demo_ports`, the README's older import path, lives in `regflow.bootstrap` (the one place
    that wires the library); loaded on first use, since bootstrap imports this module."""
    if name == "demo_ports":
        from regflow.bootstrap import demo_ports

        return demo_ports
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
