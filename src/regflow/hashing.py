"""argon2id password hashing (the default `PasswordHasher`), on argon2-cffi.

The caller passes the password already NFKC-normalised (`regflow.policy.normalize_password`);
registration and login normalise the same way, so a password typed with a different Unicode
composition still matches.

The default cost is argon2-cffi's own, RFC 9106's second recommendation (m=64 MiB, t=3, p=4).
The cost is the deployer's to choose (`Argon2Hasher.from_parameters("m=19456,t=2,p=1")`, or
`REGFLOW_ARGON2` through `regflow.bootstrap.Config`), never under OWASP's minimum: more memory
and passes make each guess dearer for whoever steals the hashes, and each login and
registration dearer for the server. A hash made with other parameters still verifies, and a
successful login rehashes it with the current ones (`needs_rehash`), so the cost can be changed
at any time.

Each hash holds its memory while it runs, so one hasher runs at most `max_concurrent` hashes
and verifications at once in its process (default: the CPUs this process may use); the others
wait for a turn. Without the bound, a burst of logins on a 40-thread pool could ask for 40 x 64
MiB. The bound is per process, and a hash of p lanes keeps p threads busy, so the default
already over-commits the CPUs p-fold: a deployment of W workers holds up to W x CPUs x m of
memory for hashes, and sets `max_concurrent` lower to hold less.

They run on the hasher's own threads, `nice` (default 19) steps below the process's priority
on Linux, down to the lowest, 19 (elsewhere at the caller's priority; argon2's lane threads
inherit it): on a busy CPU the cheap requests beside a hash (a page, a form) go first, and the
hashes take what is left, so that a burst of logins does not make every page wait. 19, not 10:
the weights of threads add up, and four hashes of four lanes at nice 10 outweigh a request's
thread (16 x 110 against 1024), at 19 they do not (16 x 15). A hash still progresses: nice 19
is the lowest normal priority, not idle priority, and takes whatever CPU the requests leave.
`nice=0` runs hashes at the caller's priority.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import os
import re
import sys
import threading
from collections.abc import Callable
from typing import Any, Final, TypeVar

import argon2
import attrs

# The default: argon2-cffi's own, RFC 9106's second recommendation ("if much less memory is
# available"): 64 MiB, 3 passes, 4 lanes.
DEFAULT_PROFILE: Final = argon2.profiles.RFC_9106_LOW_MEMORY

# OWASP's Password Storage Cheat Sheet: its five argon2id configurations of equal strength, the
# minimum, (memory KiB, passes) at p=1, m=19456,t=2 among them; a cost is OWASP's minimum or
# more when it reaches one of them in both memory and passes.
OWASP_CONFIGURATIONS: Final = ((47104, 1), (19456, 2), (12288, 3), (9216, 4), (7168, 5))
# Beyond these a login costs the server more than any web login should (and 1 GiB per hash
# per worker exhausts a machine): a typo, not a choice.
MAX_MEMORY_KIB: Final = 1024 * 1024
MAX_TIME_COST: Final = 64
MAX_PARALLELISM: Final = 64
NICE: Final = 19  # the default niceness of the hashing threads (Linux)
MAX_NICE: Final = 19
_PARAMETERS: Final = re.compile(r"m=(\d{1,8}),t=(\d{1,3}),p=(\d{1,3})")


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity where the platform tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _at_least_one(_instance: object, _attribute: object, value: int | None) -> None:
    if value is not None and value < 1:
        msg = f"max_concurrent must be at least 1, got {value}"
        raise ValueError(msg)


def _niceness(_instance: object, _attribute: object, value: int) -> None:
    if not 0 <= value <= MAX_NICE:
        msg = f"nice must be 0 to {MAX_NICE}, got {value}"
        raise ValueError(msg)


_T = TypeVar("_T")


class _Turns:
    """The hasher's threads: `size` of them, `nice` steps below the process's priority; made
    anew in a forked child, where the parent's threads do not exist."""

    def __init__(self, size: int, nice: int) -> None:
        self._size, self._nice = size, nice
        self._lock = threading.Lock()
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._pid = 0

    def run(self, fn: Callable[..., _T], *args: str) -> _T:
        """`fn(*args)` on one of the threads, when one is free; on the calling thread once the
        interpreter is shutting down (no new threads then), as a request still running after a
        server's graceful-shutdown timeout would."""
        try:
            future = self._threads().submit(fn, *args)
        except RuntimeError:  # "cannot schedule new futures after interpreter shutdown"
            return fn(*args)
        return future.result()

    def _threads(self) -> concurrent.futures.ThreadPoolExecutor:
        with self._lock:
            if self._pool is None or self._pid != os.getpid():
                # the threads hold the niceness, not this object: a hasher dropped, its pool
                # goes too and the pool's threads end
                pool = concurrent.futures.ThreadPoolExecutor(
                    self._size,
                    thread_name_prefix="regflow-argon2",
                    initializer=functools.partial(_lower_priority, _target_nice(self._nice)),
                )
                self._pool, self._pid = pool, os.getpid()
            return self._pool


def _target_nice(steps: int) -> int | None:
    """The niceness `steps` below the process's own (its main thread's), at most 19; None
    where threads' priorities are not set (`steps` 0, or not Linux)."""
    if not steps or sys.platform != "linux":
        return None
    try:
        return min(MAX_NICE, os.getpriority(os.PRIO_PROCESS, os.getpid()) + steps)
    except OSError:
        return None


def _lower_priority(target: int | None) -> None:
    # Linux sets a thread's own niceness by its thread id (and threads it starts inherit it);
    # raising one's niceness needs no privilege. Never lowered, since that needs one, and if
    # the system refuses, the hashes run at the priority they have.
    if target is None:
        return
    thread = threading.get_native_id()
    with contextlib.suppress(OSError):
        if os.getpriority(os.PRIO_PROCESS, thread) < target:
            os.setpriority(os.PRIO_PROCESS, thread, target)


@attrs.frozen
class Argon2Hasher:
    """argon2id with configurable cost (default: RFC 9106's second recommendation, as
    argon2-cffi's), at most `max_concurrent` hashes at once (default: `available_cpus()`), on
    threads of their own `nice` steps below the process's priority (Linux)."""

    memory_cost: int = DEFAULT_PROFILE.memory_cost
    time_cost: int = DEFAULT_PROFILE.time_cost
    parallelism: int = DEFAULT_PROFILE.parallelism
    max_concurrent: int | None = attrs.field(default=None, validator=_at_least_one)
    nice: int = attrs.field(default=NICE, validator=_niceness)
    _hasher: argon2.PasswordHasher = attrs.field(init=False, repr=False, eq=False)
    _turns: _Turns = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        hasher = argon2.PasswordHasher(
            time_cost=self.time_cost,
            memory_cost=self.memory_cost,
            parallelism=self.parallelism,
            type=argon2.Type.ID,
        )
        object.__setattr__(self, "_hasher", hasher)
        object.__setattr__(self, "_turns", _Turns(self.concurrency, self.nice))

    def __reduce__(self) -> tuple[Any, ...]:
        # threads do not cross to another process: rebuild there, from the settings alone
        arguments = (
            self.memory_cost,
            self.time_cost,
            self.parallelism,
            self.max_concurrent,
            self.nice,
        )
        return (type(self), arguments)

    @property
    def concurrency(self) -> int:
        """How many hashes and verifications may run at once."""
        return self.max_concurrent if self.max_concurrent is not None else available_cpus()

    @classmethod
    def from_parameters(cls, text: str) -> Argon2Hasher:
        """The hasher for a PHC-style parameter string, "m=KiB,t=passes,p=lanes" (the part of
        an argon2 hash between `$`s), e.g. OWASP's minimum "m=19456,t=2,p=1".

        `ValueError`, naming the rule, for another form, p over m/8 or beyond the maximums
        (`MAX_MEMORY_KIB`, `MAX_TIME_COST`, `MAX_PARALLELISM`), or a cost under OWASP's
        minimum (`meets_owasp`).
        """
        found = _PARAMETERS.fullmatch(text.replace(" ", ""))
        if found is None:
            msg = f'argon2 parameters must read "m=KiB,t=passes,p=lanes", got {text[:40]!r}'
            raise ValueError(msg)
        memory, passes, lanes = (int(group) for group in found.groups())
        if not (1 <= lanes <= MAX_PARALLELISM and 1 <= passes <= MAX_TIME_COST):
            msg = f"argon2 needs 1 <= t <= {MAX_TIME_COST} and 1 <= p <= {MAX_PARALLELISM}"
            raise ValueError(msg)
        if not 8 * lanes <= memory <= MAX_MEMORY_KIB:
            msg = (
                f"argon2 needs 8 KiB per lane (p) and at most {MAX_MEMORY_KIB} KiB, got m={memory}"
            )
            raise ValueError(msg)
        hasher = cls(memory_cost=memory, time_cost=passes, parallelism=lanes)
        if not hasher.meets_owasp():
            floor = "; ".join(f"m={m},t={t}" for m, t in OWASP_CONFIGURATIONS)
            msg = f"argon2 m={memory},t={passes} is under OWASP's minimum for argon2id ({floor})"
            raise ValueError(msg)
        return hasher

    def meets_owasp(self) -> bool:
        """Whether the cost reaches one of OWASP's argon2id configurations (memory and passes;
        more lanes add no cost for an attacker, so they do not count)."""
        return any(
            self.memory_cost >= memory and self.time_cost >= passes
            for memory, passes in OWASP_CONFIGURATIONS
        )

    @property
    def parameters(self) -> str:
        """The cost as `from_parameters` reads it: "m=65536,t=3,p=4"."""
        return f"m={self.memory_cost},t={self.time_cost},p={self.parallelism}"

    @classmethod
    def insecure_fast(cls) -> Argon2Hasher:
        """A cheap argon2id for tests and property runs only: never in production."""
        return cls(memory_cost=64, time_cost=1, parallelism=1)

    def hash(self, password: str) -> str:
        """The argon2id hash (PHC string, salted), when a turn is free."""
        return self._turns.run(self._hasher.hash, password)

    def verify(self, password_hash: str, password: str) -> bool:
        """Whether `password` matches `password_hash`; False for a mismatch or a bad hash."""
        try:
            return self._turns.run(self._hasher.verify, password_hash, password)
        except argon2.exceptions.VerificationError:
            return False
        except argon2.exceptions.InvalidHashError:
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        """Whether the hash used other parameters than this hasher's."""
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except argon2.exceptions.InvalidHashError:
            return True
