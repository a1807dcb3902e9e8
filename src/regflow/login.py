"""Logging in with the email and password that registration set up (DESIGN section 7).

`authenticate(ports, email, password)` returns the `Account` or raises:

- `LoginFailed` for an unknown email and for a wrong password alike. An unknown email still
  costs one argon2 verification (against a hash made once per hasher), so the two cases take
  about the same time and the answer does not tell which emails have accounts.
- `LoginThrottled(retry_at)` after `max_failures` failures within `window` for one email
  address; the count is kept per normalised email whether or not an account exists (so
  throttling does not reveal accounts either), and a successful login clears it. While
  throttled, not even the right password gets in; the password is not checked at all.

The password is NFKC-normalised exactly as at registration (`regflow.policy.normalize_password`).
When the hasher's parameters have changed since the account's hash was made, the password is
rehashed and the new hash stored. Only a digest of the email is stored for throttling; nothing
here logs an email address or a password.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
import threading
from typing import TYPE_CHECKING, Final

import attrs

from regflow.errors import LoginFailed, LoginThrottled
from regflow.policy import normalize_password
from regflow.validation import email_key

if TYPE_CHECKING:
    from regflow.model import Account
    from regflow.ports import PasswordHasher, Ports

log = logging.getLogger(__name__)


@attrs.frozen
class LoginThrottle:
    """Throttling of failed logins: at most `max_failures` per email within `window`."""

    max_failures: int = attrs.field(default=10, validator=attrs.validators.ge(1))
    window: dt.timedelta = dt.timedelta(minutes=15)

    def retry_at(self, failures: list[dt.datetime]) -> dt.datetime | None:
        """When the next attempt is allowed, given the failures within the window (oldest
        first); None when it is allowed now."""
        if len(failures) < self.max_failures:
            return None
        # Allowed again once enough failures have left the window to fall below the limit.
        return failures[-self.max_failures] + self.window


def throttle_key(email: str) -> str:
    """The key failures are counted under: a digest of the normalised, casefolded email."""
    return hashlib.sha256(email_key(email).encode("utf-8")).hexdigest()


def authenticate(
    ports: Ports, email: str, password: str, *, throttle: LoginThrottle = LoginThrottle()
) -> Account:
    """The account for `email` if `password` is right; see the module docstring for errors."""
    accounts, attempts, hasher = ports.accounts, ports.login_attempts, ports.hasher
    now = ports.clock.now()
    key = throttle_key(email)
    retry_at = throttle.retry_at(list(attempts.login_failures(key, now - throttle.window)))
    if retry_at is not None and retry_at > now:
        log.info("login throttled until %s", retry_at.isoformat())
        raise LoginThrottled(retry_at)
    normalized = normalize_password(password)
    account = accounts.find_by_email(email)
    if account is None:
        hasher.verify(_dummy_hash(hasher), normalized)  # same cost as a real verification
        ok = False
    else:
        ok = hasher.verify(account.password_hash, normalized)
    if not ok:
        attempts.record_login_failure(key, now, forget_before=now - throttle.window)
        log.info("login failed")
        raise LoginFailed
    assert account is not None  # noqa: S101  # ok is False without an account
    if hasher.needs_rehash(account.password_hash):
        new_hash = hasher.hash(normalized)
        accounts.update_password_hash(account.account_id, new_hash)
        account = attrs.evolve(account, password_hash=new_hash)
        log.info("login: account %s rehashed with the current parameters", account.account_id)
    attempts.clear_login_failures(key)
    return account


_DUMMY_HASHES: Final[dict[int, tuple[PasswordHasher, str]]] = {}
_DUMMY_LOCK: Final = threading.Lock()


def _dummy_hash(hasher: PasswordHasher) -> str:
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
