"""The ports: everything the flow needs from outside, as small `Protocol`s.

The core calls these and nothing else; adapters implement them (`regflow.adapters.memory` has a
working fake for each). A port that cannot answer raises `regflow.errors.AdapterError` wrapping the
cause; the flow then changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol, TypeAlias, runtime_checkable

import attrs
import limits.storage

from regflow.model import (
    Account,
    Bank,
    BankCallback,
    BankRedirect,
    ContractLink,
    CustomerRecord,
    EmailMessage,
    NewAccount,
    OutboxMessage,
    VerifiedPerson,
)
from regflow.policy import PersonalContext, PolicyResult
from regflow.security import SecurityEvents
from regflow.settings import Settings

Snapshot = dict[str, Any]  # JSON-safe; see `RegistrationFlow.snapshot`


@runtime_checkable
class BankIdentity(Protocol):
    """Strong identification with bank codes (phase 1)."""

    def banks(self) -> Sequence[Bank]:
        """The banks the user can choose from, in display order."""
        ...

    def begin(self, bank_id: str, *, flow_id: str, language: str) -> BankRedirect:
        """Start identification at `bank_id`: where to send the user, and what to expect back.

        Raises `UnknownBank` for an id not in `banks()`.
        """
        ...

    def complete(self, callback: BankCallback, expected: BankRedirect) -> VerifiedPerson:
        """Verify the bank's answer against `expected` and return the verified person.

        Raises `CallbackMismatch` (before anything is redeemed) for a callback whose state is
        not `expected.state` or that carries none: it is not this attempt's answer, and the flow
        ignores it. Raises `IdentificationFailed` (with a code) for a negative or unverifiable
        answer, `AdapterError` when the broker cannot be reached (nothing is spent: the same
        callback may be tried again), and `ConcurrentUpdate` while another request is
        completing the same attempt.
        """
        ...


@runtime_checkable
class CustomerDirectory(Protocol):
    """The utility's customer data system; read-only."""

    def find_by_personal_id(self, personal_id: str) -> CustomerRecord | None:
        """The customer record for this personal identity code, or None."""
        ...


@runtime_checkable
class AccountStore(Protocol):
    """E-services accounts: who has one, creating one (with its queued email), finding one."""

    def exists_for_person(self, personal_id: str) -> bool:
        """Whether this person already has an account."""
        ...

    def exists_for_email(self, email: str) -> bool:
        """Whether an account uses this email (compared case-insensitively)."""
        ...

    def create(self, account: NewAccount, message: EmailMessage) -> None:
        """Create the account and queue its email in the outbox atomically: both or neither.

        Raises `EmailTaken` or `AlreadyRegistered` when the uniqueness rules forbid it.
        """
        ...

    def find_by_email(self, email: str) -> Account | None:
        """The account with this email (case-insensitively), or None."""
        ...

    def find_by_id(self, account_id: str) -> Account | None:
        """The account with this id (as `Outcome.account_id` names it), or None."""
        ...

    def update_password_hash(self, account_id: str, password_hash: str) -> None:
        """Replace an account's password hash (a rehash at login with new parameters)."""
        ...


@runtime_checkable
class ContractLinks(Protocol):
    """Which contracts of an account's customer are linked, and which are pending (with why).

    Implemented by the account store (`InMemoryAccountStore`, `SqlAccountStore`): `approve`
    records the links through `AccountStore.create` (`NewAccount.contract_links`), and
    `RegistrationService.link_pending_contracts` keeps them current.
    """

    def contract_links(self, account_id: str) -> Sequence[ContractLink]:
        """The account's contract records (none for an unknown account): linked first, then
        pending, each group ordered by `since` and then `ContractLink.key`."""
        ...

    def accounts_with_pending_contracts(
        self, *, after: str | None, limit: int, everyone: bool = False
    ) -> Sequence[Account]:
        """Up to `limit` accounts with a pending contract (`everyone`: every account), in
        account id order, starting after the account id `after`."""
        ...

    def lock_account(self, account_id: str) -> Account | None:
        """The account, locked until the unit of work ends, so that linking is serialised
        per account; None when it does not exist."""
        ...

    def update_contract_links(
        self,
        account_id: str,
        *,
        linked: Sequence[ContractLink],
        pending: Sequence[ContractLink],
        message: EmailMessage | None,
    ) -> None:
        """Add the `linked` records (and their numbers to `Account.linked_contracts`), replace
        the account's pending records with `pending`, and queue `message`: all or nothing."""
        ...


@runtime_checkable
class Outbox(Protocol):
    """The queued emails `AccountStore.create` wrote, as the relay drains them."""

    def pending_messages(self, now: dt.datetime, limit: int) -> Sequence[OutboxMessage]:
        """Unsent messages due at `now`, oldest first."""
        ...

    def claim_messages(
        self, now: dt.datetime, limit: int, lease_until: dt.datetime
    ) -> Sequence[OutboxMessage]:
        """Take up to `limit` unsent messages due at `now`, oldest first, for one relay.

        Each claimed message is not due again before `lease_until` (unless marked sent or failed
        first), so relays running side by side do not send it twice at once, and a relay that
        dies mid-send leaves it due again when the lease ends. Claiming is atomic: two relays
        claiming at once never get the same message. The relay claims one message right before
        each send (`limit=1`), so a lease only has to outlast one send, not a batch.
        """
        ...

    def mark_sent(self, message_id: str, now: dt.datetime) -> None:
        """Record that the message was handed to the mail server.

        A message already marked sent keeps its first record (a relay marking late, after
        another one sent it too, overwrites nothing).
        """
        ...

    def mark_failed(self, message_id: str, error: str, retry_at: dt.datetime) -> None:
        """Record a failed attempt and when to try again; a message already sent stays sent."""
        ...


@attrs.frozen
class LoginAttempt:
    """A login attempt as the throttle counts it (`regflow.login`): a failure, one in progress,
    or (`succeeded`) the latest successful login of an account from an address.

    `account` and `address` are opaque to the store: regflow passes digests of the normalised
    email and of the client's address (None when the caller does not know it).
    """

    account: str
    address: str | None
    at: dt.datetime
    succeeded: bool = False


@attrs.frozen
class LoginReservation:
    """A login attempt recorded before its password is checked, and the ones it is counted with.

    `recent` holds, oldest first, the other failures for the same account or from the same
    address at or after `since` (attempts still being checked elsewhere count as failures until
    they end), and the successful logins of the same account from the same address at or after
    `known_since`.
    """

    attempt_id: int
    recent: tuple[LoginAttempt, ...]


@runtime_checkable
class LoginAttempts(Protocol):
    """Failed logins per account and client address, for throttling (`regflow.login`).

    An attempt is reserved (recorded as a failure) *before* its password is checked, so that
    concurrent attempts see each other: the store must make the reservation visible to every
    other caller before `reserve_login_attempt` returns (commit it), never inside a unit of
    work that commits later.
    """

    def reserve_login_attempt(
        self, attempt: LoginAttempt, *, since: dt.datetime, known_since: dt.datetime
    ) -> LoginReservation:
        """Record `attempt` as a failure, visible to all, then return it with the recent
        attempts it is counted with (see `LoginReservation`)."""
        ...

    def forget_login_attempt(self, attempt_id: int) -> None:
        """Drop a reserved attempt whose password was not checked (the login was throttled)."""
        ...

    def login_succeeded(self, attempt_id: int, account: str, address: str | None) -> None:
        """Drop the failures recorded for `account` from `address`, and keep the reservation as
        the pair's one successful login (drop it too when `address` is None)."""
        ...

    def purge_login_attempts(self, before: dt.datetime, *, known_before: dt.datetime) -> int:
        """Delete the failures recorded before `before` and the successful logins before
        `known_before`; returns how many."""
        ...


# Rate limits (`regflow.ratelimit`) count on a `RateLimitStorage`: `limits.storage.Storage`,
# the `limits` library's own extension point, so that its Redis or Memcached storages fit as
# well as regflow's `InMemoryRateLimitStorage` and `SqlRateLimitStorage`. Its fixed-window
# strategy calls `incr`, `get`, `get_expiry` and `clear`; a storage shared between workers must
# make `incr` atomic and count with the same clock as the `Clock` port.
RateLimitStorage: TypeAlias = limits.storage.Storage


@attrs.frozen
class StoredFlow:
    """A snapshot as stored, with the version to pass back to `FlowStore.save`."""

    snapshot: Snapshot = attrs.field(repr=False)  # holds personal data: never in a repr
    version: int


@runtime_checkable
class FlowStore(Protocol):
    """Flow snapshots by flow id, with optimistic concurrency."""

    def load(self, flow_id: str) -> StoredFlow:
        """The stored snapshot; raises `FlowNotFound`."""
        ...

    def save(
        self,
        flow_id: str,
        snapshot: Snapshot,
        *,
        expected_version: int | None,
        expires_at: dt.datetime,
    ) -> int:
        """Store `snapshot` if the stored version is still `expected_version` (None: a new flow).

        Returns the new version; raises `ConcurrentUpdate` when someone saved first.
        """
        ...

    def purge_expired(self, now: dt.datetime) -> int:
        """Delete flows whose expiry is before `now`; returns how many."""
        ...


class UnitOfWork(Protocol):
    """One request's view of the stores: its writes commit together or not at all."""

    @property
    def accounts(self) -> AccountStore:
        """The account store, bound to this unit."""
        ...

    @property
    def outbox(self) -> Outbox:
        """The outbox, bound to this unit (often the account store itself)."""
        ...

    @property
    def login_attempts(self) -> LoginAttempts:
        """The failed-login record, bound to this unit (often the account store itself)."""
        ...

    @property
    def flows(self) -> FlowStore:
        """The flow store, bound to this unit."""
        ...


class Storage(Protocol):
    """Where accounts and flows live, with units of work (see `regflow.service`).

    The stores outside a unit commit each call on its own; inside
    `with storage.unit_of_work() as uow:` the unit's stores commit when the block ends normally
    and roll back when it raises.
    """

    @property
    def accounts(self) -> AccountStore:
        """The account store; each call commits on its own."""
        ...

    @property
    def outbox(self) -> Outbox:
        """The outbox; each call commits on its own."""
        ...

    @property
    def login_attempts(self) -> LoginAttempts:
        """The failed-login record; each call commits on its own."""
        ...

    @property
    def flows(self) -> FlowStore:
        """The flow store; each call commits on its own."""
        ...

    def unit_of_work(self) -> AbstractContextManager[UnitOfWork]:
        """A unit of work: commit on normal exit, roll back on an exception."""
        ...


@runtime_checkable
class Mailer(Protocol):
    """Sends one email. Called by the outbox, at least once per message; dedupe by message_id."""

    def send(self, message: EmailMessage) -> None:
        """Hand the message to the mail system; raise `AdapterError` when it refuses."""
        ...


@runtime_checkable
class PasswordRules(Protocol):
    """Decides whether a password may be used; `regflow.policy.PasswordPolicy` implements it.

    Named apart from that class so that one name means one thing: `PasswordPolicy` is the
    configurable policy users build, `PasswordRules` what any policy must offer the flow.
    """

    def check(self, password: str, context: PersonalContext, language: str = "en") -> PolicyResult:
        """Every violation at once, with localised messages, and a strength estimate.

        `password` is as the user typed it: the policy refuses overlong input before reading it
        and checks the NFKC form (`regflow.policy.normalize_password`), the form that is hashed.
        """
        ...

    def requirements(self, language: str = "en") -> Sequence[tuple[str, str]]:
        """The active rules as (code, short text) pairs for a checklist."""
        ...


@runtime_checkable
class PasswordHasher(Protocol):
    """Password hashing (argon2id by default, see `regflow.hashing`)."""

    def hash(self, password: str) -> str:
        """Hash a password that has already been NFKC-normalised."""
        ...

    def verify(self, password_hash: str, password: str) -> bool:
        """Whether `password` matches; False (never an exception) when it does not."""
        ...

    def needs_rehash(self, password_hash: str) -> bool:
        """Whether the hash was made with other parameters than the current ones."""
        ...


@runtime_checkable
class Clock(Protocol):
    """The current time."""

    def now(self) -> dt.datetime:
        """Timezone-aware UTC."""
        ...


def _implements(protocol: type, name: str) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    """An attrs validator: the value implements `protocol`, else a `TypeError` naming `name`."""

    def check(_instance: Any, _attribute: attrs.Attribute[Any], value: Any) -> None:
        if not isinstance(value, protocol):
            msg = (
                f"{type(value).__name__} does not implement {protocol.__name__}: "
                f"pass {name}=... (by default it is the `accounts` object)"
            )
            raise TypeError(msg)

    return check


@attrs.frozen
class Ports:
    """Everything a flow talks to, plus the operator's settings.

    `outbox` and `login_attempts` default to the `accounts` object, since one store usually
    implements all three ports (`InMemoryAccountStore`, `SqlAccountStore`); pass them when it
    does not. `security` counts and logs the security events the flows see (a forged bank
    callback, ...): one `SecurityEvents` per `Ports` unless you pass your own.
    """

    bank: BankIdentity
    customers: CustomerDirectory
    accounts: AccountStore
    flows: FlowStore
    mailer: Mailer
    policy: PasswordRules
    hasher: PasswordHasher
    clock: Clock
    settings: Settings = attrs.field(factory=Settings)
    outbox: Outbox = attrs.field(
        default=attrs.Factory(lambda self: self.accounts, takes_self=True),
        validator=_implements(Outbox, "outbox"),
        kw_only=True,
    )
    login_attempts: LoginAttempts = attrs.field(
        default=attrs.Factory(lambda self: self.accounts, takes_self=True),
        validator=_implements(LoginAttempts, "login_attempts"),
        kw_only=True,
    )
    security: SecurityEvents = attrs.field(factory=SecurityEvents, kw_only=True, eq=False)
