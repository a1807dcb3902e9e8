"""Logging in with the email and password that registration set up (DESIGN section 7).

`authenticate(ports, email, password, client_address=...)` returns the `Account` or raises:

- `LoginFailed` for an unknown email and for a wrong password alike. An unknown email still
  costs one argon2 verification (against a hash made once per hasher), so the two cases take
  about the same time and the answer does not tell which emails have accounts. Input that no
  account can match (a password longer than the policy's `max_length`, an email with control
  characters, text that is not valid Unicode) gets `LoginFailed` at once, before any hashing
  or database access: its cost is bounded, and the quick answer is the same whether or not the
  account exists, so it reveals nothing.
- `LoginThrottled(retry_at)` when the throttle (`LoginThrottle`) asks this attempt to wait.

Theory of operation of the throttle. Failures are counted in three ways: for one account
from one client address, for one account from every address, and for one address against
every account. Each count has a number of free failures; beyond it, each further attempt must
wait a delay after the latest failure that doubles with every failure, up to a cap. There is no
hard lock: every delay ends, and a successful login forgets that account's failures from that
address (NIST SP 800-63B 5.2.2). An attacker guessing one account from one address is slowed
to one guess per `max_delay`, while the owner, from an address with no failures, is not
delayed: the account-wide count is kept far above what one address reaches in a day, and it
does not apply at all to an address the account has logged in from before.

To stop concurrent attempts from outrunning the count, each attempt is *reserved* first: the
store records it as a failure and makes it visible to everyone before it reads the recent
attempts back, and only then is the password checked. Of N attempts racing, the k-th to be
recorded sees at least k-1 others, so no more than the free number can pass the check at once.
An attempt that is throttled is forgotten again (it checked nothing); one that succeeds drops
its reservation and the pair's failures; one that fails stays recorded as the failure.

The password is NFKC-normalised exactly as at registration (`regflow.policy.normalize_password`).
When the hasher's parameters have changed since the account's hash was made, the password is
rehashed and the new hash stored. Only digests of the email and the address are stored;
nothing here logs an email address, a client address or a password.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import ipaddress
import logging
import secrets
import threading
import unicodedata
from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

import attrs

from regflow.errors import AdapterError, LoginFailed, LoginThrottled
from regflow.policy import normalize_password
from regflow.ports import LoginAttempt
from regflow.validation import email_key

if TYPE_CHECKING:
    from regflow.model import Account
    from regflow.ports import LoginAttempts, PasswordHasher, Ports

log = logging.getLogger(__name__)

# The password limit when the policy has no `max_length` (the default policies' own limit).
DEFAULT_MAX_PASSWORD_LENGTH: Final = 128
# A password longer than this many times the limit is refused without being normalised;
# NFKC can shorten text by composing marks, about 3:1 at most (as in `regflow.policy`).
_LENGTH_GUARD: Final = 4
# The accounts' email column holds 320 characters; no registered email is longer.
_MAX_EMAIL_LENGTH: Final = 320
# Doubling beyond this many steps changes nothing once the cap is reached; bounds the power.
_MAX_DOUBLINGS: Final = 40


def _positive(_instance: object, attribute: attrs.Attribute[dt.timedelta], value: object) -> None:
    if not isinstance(value, dt.timedelta) or value <= dt.timedelta(0):
        msg = f"{attribute.name} must be a positive timedelta, not {value!r}"
        raise ValueError(msg)


@attrs.frozen
class LoginThrottle:
    """How failed logins slow further attempts (see the module docstring).

    - `free_failures`: failures for one account from one address before delays begin;
    - `account_free_failures`: failures for one account from all addresses together;
    - `address_free_failures`: failures from one address against all accounts together;
    - beyond a count's free failures, the next attempt waits `first_delay` after the latest
      failure, doubling with each further failure, at most `max_delay`;
    - failures older than `window` are forgotten (and may be purged,
      `purge_login_attempts`);
    - an address from which the account logged in within `remember` is exempt from the
      account-wide count (NIST SP 800-63B 5.2.2 lists accepting addresses "from which the
      subscriber has been successfully authenticated before"): a guesser spread over many
      addresses cannot keep the owner out of their usual one.
    """

    free_failures: int = attrs.field(default=5, validator=attrs.validators.ge(1))
    account_free_failures: int = attrs.field(default=100, validator=attrs.validators.ge(1))
    address_free_failures: int = attrs.field(default=50, validator=attrs.validators.ge(1))
    first_delay: dt.timedelta = attrs.field(default=dt.timedelta(seconds=30), validator=_positive)
    max_delay: dt.timedelta = attrs.field(default=dt.timedelta(minutes=15), validator=_positive)
    window: dt.timedelta = attrs.field(default=dt.timedelta(hours=24), validator=_positive)
    remember: dt.timedelta = attrs.field(default=dt.timedelta(days=30), validator=_positive)
    # the key of the digests under which failures are counted (`throttle_key`, `address_key`);
    # empty: unkeyed SHA-256 (README "Rate limits", "Addresses")
    digest_key: bytes = attrs.field(default=b"", repr=False)

    def delay(self, failures: int, free: int) -> dt.timedelta:
        """How long after the latest of `failures` failures the next attempt waits."""
        if failures < free:
            return dt.timedelta(0)
        doublings = min(failures - free, _MAX_DOUBLINGS)
        grown: dt.timedelta = self.first_delay * (1 << doublings)
        return min(grown, self.max_delay)

    def retry_at(
        self, recent: Iterable[LoginAttempt], *, account: str, address: str | None
    ) -> dt.datetime | None:
        """When an attempt for `account` from `address` is allowed, given the `recent` failures
        (within the window); None when nothing delays it."""
        recent = list(recent)
        failures = [a for a in recent if not a.succeeded]
        known = address is not None and any(
            a.succeeded and a.account == account and a.address == address for a in recent
        )
        counts = [
            (
                [a for a in failures if a.account == account and a.address == address],
                self.free_failures,
            )
        ]
        if not known:
            counts.append(
                ([a for a in failures if a.account == account], self.account_free_failures)
            )
        if address is not None:
            counts.append(
                ([a for a in failures if a.address == address], self.address_free_failures)
            )
        times = [
            max(a.at for a in failures) + self.delay(len(failures), free)
            for failures, free in counts
            if len(failures) >= free
        ]
        return max(times, default=None)


def digest(data: bytes, key: bytes = b"") -> str:
    """HMAC-SHA256 of `data` under `key`, or with no key plain SHA-256 (hex).

    Unkeyed, a digest of an email or an IPv4 address can be found again by trying candidates
    (pseudonymous); keyed, not without the key (`Config.digest_key`, `REGFLOW_DIGEST_KEY`).
    """
    if key:
        return hmac.new(key, data, hashlib.sha256).hexdigest()
    return hashlib.sha256(data).hexdigest()


def throttle_key(email: str, key: bytes = b"") -> str:
    """The key an account's failures are counted under: a digest of the normalised email."""
    return digest(email_key(email).encode("utf-8"), key)


NOT_AN_ADDRESS: Final = "(not an IP address)"  # the one group of every such text


def address_key(client_address: str | None, key: bytes = b"") -> str | None:
    """The key an address's failures are counted under: a digest of the address's group.

    An IP address is its own group, but IPv6 addresses are grouped by their /64 network (one
    household or device usually holds a whole /64) and IPv4-mapped IPv6 addresses count as
    the IPv4 address. Any other text (a header a proxy passed on, a test client's name) is one
    group together: were each text its own, a client that can choose its text would get a new
    count with every request.
    """
    if client_address is None:
        return None
    text = client_address.strip()
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        group = NOT_AN_ADDRESS
    else:
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            group = str(ip.ipv4_mapped)
        elif isinstance(ip, ipaddress.IPv6Address):
            group = str(ipaddress.IPv6Network((ip, 64), strict=False))
        else:
            group = str(ip)
    return digest(("address:" + group).encode("utf-8"), key)  # an IP address or the one group


def max_password_length(ports: Ports) -> int:
    """The longest password a login checks: the policy's `max_length` (registration refuses
    longer ones, so none can be right), else `DEFAULT_MAX_PASSWORD_LENGTH`."""
    value = getattr(ports.policy, "max_length", None)
    return value if isinstance(value, int) and value > 0 else DEFAULT_MAX_PASSWORD_LENGTH


def authenticate(
    ports: Ports,
    email: str,
    password: str,
    *,
    client_address: str | None = None,
    throttle: LoginThrottle = LoginThrottle(),  # frozen: safe to share
) -> Account:
    """The account for `email` if `password` is right; see the module docstring for errors.

    `client_address` is the client's IP address as the web tier sees it (behind a proxy, the
    address the proxy reports); None when unknown, which shares one count among all such
    callers.
    """
    normalized = _checkable(email, password, max_password_length(ports))
    if normalized is None:
        log.info("login failed: input no account can match")
        raise LoginFailed
    attempts, now = ports.login_attempts, ports.clock.now()
    account_key = throttle_key(email, throttle.digest_key)
    addr_key = address_key(client_address, throttle.digest_key)
    reservation = attempts.reserve_login_attempt(
        LoginAttempt(account_key, addr_key, now),
        since=now - throttle.window,
        known_since=now - throttle.remember,
    )
    retry_at = throttle.retry_at(reservation.recent, account=account_key, address=addr_key)
    if retry_at is not None and retry_at > now:
        attempts.forget_login_attempt(reservation.attempt_id)
        log.info("login throttled until %s", retry_at.isoformat())
        raise LoginThrottled(retry_at)
    try:
        account, ok = _verify(ports, email, normalized)
    except BaseException:
        _forget_quietly(attempts, reservation.attempt_id)  # nothing was checked
        raise
    if not ok:
        log.info("login failed")  # the reservation stays: it is the failure's record
        raise LoginFailed
    assert account is not None  # noqa: S101  # ok is False without an account
    hasher = ports.hasher
    if hasher.needs_rehash(account.password_hash):
        new_hash = hasher.hash(normalized)
        ports.accounts.update_password_hash(account.account_id, new_hash)
        account = attrs.evolve(account, password_hash=new_hash)
        log.info("login: account %s rehashed with the current parameters", account.account_id)
    attempts.login_succeeded(reservation.attempt_id, account_key, addr_key)
    return account


def purge_login_attempts(
    ports: Ports,
    *,
    throttle: LoginThrottle = LoginThrottle(),  # frozen: safe to share
) -> int:
    """Delete the failures older than the throttle's window and the successful logins older
    than its `remember` period; returns how many."""
    now = ports.clock.now()
    return ports.login_attempts.purge_login_attempts(
        now - throttle.window, known_before=now - throttle.remember
    )


def _checkable(email: object, password: object, limit: int) -> str | None:
    """The NFKC form of `password` when the pair is worth checking, else None: overlong or
    invalid input that no account can match."""
    if not isinstance(email, str) or not isinstance(password, str):
        return None
    if len(email) > _MAX_EMAIL_LENGTH or len(password) > _LENGTH_GUARD * limit:
        return None
    if any(unicodedata.category(c) in {"Cc", "Cs"} for c in email):  # NUL, lone surrogates
        return None
    try:
        password.encode("utf-8")  # lone surrogates cannot have been hashed at registration
    except UnicodeEncodeError:
        return None
    normalized = normalize_password(password)
    return normalized if len(normalized) <= limit else None


def _verify(ports: Ports, email: str, normalized: str) -> tuple[Account | None, bool]:
    """The account for `email` and whether the password matches; one verification either way."""
    account = ports.accounts.find_by_email(email)
    if account is None:
        ports.hasher.verify(_dummy_hash(ports.hasher), normalized)  # the same cost as a real one
        return None, False
    return account, ports.hasher.verify(account.password_hash, normalized)


def _forget_quietly(attempts: LoginAttempts, attempt_id: int) -> None:
    with contextlib.suppress(AdapterError):  # the store is likely down: the first error goes on
        attempts.forget_login_attempt(attempt_id)


_DUMMY_HASHES: Final[dict[int, tuple[PasswordHasher, str]]] = {}
_DUMMY_LOCK: Final = threading.Lock()


# a cache of one hash per hasher: its mutants change what a login costs, not what it answers
def _dummy_hash(hasher: PasswordHasher) -> str:  # pragma: no mutate block
    """A hash of a random password made with `hasher`, once per hasher object."""
    with _DUMMY_LOCK:
        cached = _DUMMY_HASHES.get(id(hasher))
        if cached is not None and cached[0] is hasher:
            return cached[1]
        if len(_DUMMY_HASHES) > 32:  # hashers are few and long-lived; bound it anyway
            _DUMMY_HASHES.clear()
        value = hasher.hash(secrets.token_urlsafe(16))
        _DUMMY_HASHES[id(hasher)] = (hasher, value)  # keeps `hasher` alive: its id stays unique
        return value
