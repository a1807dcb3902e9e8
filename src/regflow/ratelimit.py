"""Rate limits per client address: on starting flows, on the password check, on logging in.

    limiter = RateLimiter(storage, RateLimits(start="30/minute"), clock)
    limiter.hit("start", client_address)      # raises RateLimited(retry_after=...) when spent

`RegistrationService` calls `hit` before it does the work a limit protects, when it was built
with a limiter and the caller passes the client's address: `start(client_address=...)`,
`submit_details(..., client_address=...)` (the password policy's check, the costly part of
that step) and `authenticate(..., client_address=...)` (an argon2 verification, on top of the
per-account throttle of `regflow.login`). A refused request changes nothing: it raises before
the flow is loaded, and a refused login checks no password and records no attempt.

Theory of operation. The `limits` library does the counting: each limit is a `limits`
rate-limit item ("30/minute"; several separated by `;`, each must hold) and
`limits.strategies.FixedWindowRateLimiter` counts hits on a `limits.storage.Storage`. A fixed
window starts at its key's first hit and ends `expiry` seconds later; each hit is one atomic
increment (one statement on SQL), and a hit over the limit still counts, so a client that keeps
going gets no new window early. `retry_after` is the time left in the window. The window is
fixed rather than sliding because its whole state is one counter per key, changed by one
statement, and because the storage alone decides the time (regflow's `Clock`), so tests can
move a `ManualClock` across a boundary; a client can at most double its rate across one window
boundary, which a limit that stops abuse (and is generous to people) can afford.

The storage is what makes a limit shared between workers: `regflow.adapters.sql`'s
`SqlRateLimitStorage` keeps the counters in the regflow database (`regflow_rate_limits`), so
every worker of every host on one database counts into one limit. `InMemoryRateLimitStorage`
is per process, for tests and the in-memory demo. Any other `limits` storage (its Redis or
Memcached ones) works too; it must use the same clock as regflow's `Clock` for `retry_after`.

Keys are `limits` keys over a digest of the client's address group (`regflow.login.address_key`:
an IPv6 address counts by its /64, an IPv4-mapped one as the IPv4 address), never the address
itself. A call without an address (None) is not limited: only the caller knows who the client
is, and behind a proxy only a proxy the deployer trusts can say (see the README).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final, Literal, get_args

import attrs
import limits
from limits.strategies import FixedWindowRateLimiter

from regflow.errors import RateLimited
from regflow.login import address_key

if TYPE_CHECKING:
    from limits.storage import Storage as LimitsStorage

    from regflow.ports import Clock

log = logging.getLogger(__name__)

Action = Literal["start", "password", "login"]
ACTIONS: Final[tuple[Action, ...]] = get_args(Action)
# The namespace of regflow's keys in a storage shared with other users of `limits`.
NAMESPACE: Final = "regflow"

# Generous for people, who start one registration and check a password a few times: many people
# may share one address (a mobile operator's NAT, an office), and each of these answers costs the
# server (a stored flow; zxcvbn's matching; an argon2 verification).
DEFAULT_START: Final = "30/minute"
DEFAULT_PASSWORD: Final = "30/minute"  # noqa: S105  # the password check's limit, no password
DEFAULT_LOGIN: Final = "30/minute"


def parse_limit(value: str | None) -> tuple[limits.RateLimitItem, ...]:
    """The `limits` items of "N/period" text ("30/minute", "10 per second; 500/day");
    None or "off": none. `ValueError` names what it cannot read."""
    if value is None or value.strip().lower() in {"", "off"}:
        return ()
    try:
        items = tuple(limits.parse_many(value))
    except ValueError:
        msg = f'a rate limit is "N/period" (30/minute, 500 per day) or off, not {value[:40]!r}'
        raise ValueError(msg) from None
    for item in items:
        if item.amount < 1:
            msg = f"a rate limit allows at least 1 request, not {item!r}"
            raise ValueError(msg)
    return tuple(type(item)(item.amount, item.multiples, namespace=NAMESPACE) for item in items)


def _text(value: str | None) -> str | None:
    """Normalised limit text: None for off, else the text as given (checked by parsing)."""
    if value is None or value.strip().lower() in {"", "off"}:
        return None
    parse_limit(value)
    return value.strip()


@attrs.frozen
class RateLimits:
    """How many requests one client address may make, per action; None turns one off.

    - `start`: flows started (`RegistrationService.start`);
    - `password`: details submitted, whose password the policy checks (`submit_details`);
    - `login`: logins tried (`authenticate`), beside the per-account throttle.

    Each is `limits` text: "30/minute", "5 per second", several joined by `;`.
    """

    start: str | None = attrs.field(default=DEFAULT_START, converter=_text)
    password: str | None = attrs.field(default=DEFAULT_PASSWORD, converter=_text)
    login: str | None = attrs.field(default=DEFAULT_LOGIN, converter=_text)

    @classmethod
    def off(cls) -> RateLimits:
        """No limits at all."""
        return cls(start=None, password=None, login=None)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RateLimits:
        """`REGFLOW_RATE_LIMITS=off` turns every limit off; `REGFLOW_RATE_LIMIT_START`,
        `_PASSWORD` and `_LOGIN` set one each ("30/minute", or off); unset: the default.
        `ValueError` for text that is not a limit."""
        everything = env.get("REGFLOW_RATE_LIMITS", "").strip().lower()
        if everything not in {"", "on", "off"}:
            msg = f"REGFLOW_RATE_LIMITS must be on or off, got {everything[:20]!r}"
            raise ValueError(msg)
        if everything == "off":
            return cls.off()
        values: dict[str, str] = {}
        for action in ACTIONS:
            name = f"REGFLOW_RATE_LIMIT_{action.upper()}"
            raw = env.get(name, "").strip()
            if not raw:
                continue
            try:
                _text(raw)
            except ValueError as error:
                raise ValueError(f"{name}: {error}") from None
            values[action] = raw
        return cls(**values)

    @property
    def enabled(self) -> bool:
        """Whether any limit is on."""
        return any(getattr(self, action) is not None for action in ACTIONS)

    def items(self, action: Action) -> tuple[limits.RateLimitItem, ...]:
        """The `limits` items of `action`'s limit (none when it is off)."""
        text: str | None = getattr(self, action)
        return parse_limit(text)


class RateLimiter:
    """Counts each action's hits per client address on a `limits` storage (see the module).

    Build once per application (`regflow.bootstrap` does) and share it between threads: the
    storage does the counting, atomically.
    """

    def __init__(self, storage: LimitsStorage, limits_: RateLimits, clock: Clock) -> None:
        self.storage = storage
        self.limits = limits_
        self.clock = clock
        self._strategy = FixedWindowRateLimiter(storage)
        self._items: dict[Action, tuple[limits.RateLimitItem, ...]] = {
            action: limits_.items(action) for action in ACTIONS
        }

    def hit(self, action: Action, client_address: str | None) -> None:
        """Count one `action` from `client_address`; `RateLimited` when a limit is spent.

        None (an unknown address) is not counted; an action whose limit is off neither.
        `AdapterError` when the storage cannot count (the request then fails like any other
        request without its database)."""
        items = self._items[action]
        key = address_key(client_address)
        if not items or key is None:
            return
        waits = [
            self._retry_after(item, action, key)
            for item in items
            if not self._strategy.hit(item, action, key)
        ]
        if waits:
            log.info("rate limited: %s from one address for %d s", action, max(waits))
            raise RateLimited(action=action, retry_after=max(waits))

    def _retry_after(self, item: limits.RateLimitItem, action: Action, key: str) -> int:
        """Whole seconds until `item`'s window for the key ends (at least 1)."""
        reset = self._strategy.get_window_stats(item, action, key).reset_time
        return max(1, math.ceil(reset - self.clock.now().timestamp()))
