"""argon2id password hashing (the default `PasswordHasher`), on argon2-cffi.

The caller passes the password already NFKC-normalised (`regflow.policy.normalize_password`);
registration and login normalise the same way, so a password typed with a different Unicode
composition still matches.

The cost is the deployer's to choose (`Argon2Hasher.from_parameters("m=65536,t=3,p=4")`, or
`REGFLOW_ARGON2` through `regflow.bootstrap.Config`): more memory and passes make each guess
dearer for whoever steals the hashes, and each login and registration dearer for the server.
A hash made with other parameters still verifies, and a successful login rehashes it with the
current ones (`needs_rehash`), so the cost can be raised at any time.
"""

from __future__ import annotations

import re
from typing import Final

import argon2
import attrs

# OWASP's Password Storage Cheat Sheet minimum for argon2id: m=19 MiB, t=2, p=1.
OWASP_MEMORY_KIB = 19 * 1024
OWASP_TIME_COST = 2
OWASP_PARALLELISM = 1
# The cheat sheet's five argon2id configurations of equal strength, (memory KiB, passes) at p=1;
# a cost is OWASP's minimum or more when it reaches one of them in both memory and passes.
OWASP_CONFIGURATIONS: Final = ((47104, 1), (19456, 2), (12288, 3), (9216, 4), (7168, 5))
# Beyond these a login costs the server more than any web login should (and 1 GiB per hash
# per worker exhausts a machine): a typo, not a choice.
MAX_MEMORY_KIB: Final = 1024 * 1024
MAX_TIME_COST: Final = 64
MAX_PARALLELISM: Final = 64
_PARAMETERS: Final = re.compile(r"m=(\d{1,8}),t=(\d{1,3}),p=(\d{1,3})")


@attrs.frozen
class Argon2Hasher:
    """argon2id with configurable cost; the defaults are OWASP's minimum."""

    memory_cost: int = OWASP_MEMORY_KIB
    time_cost: int = OWASP_TIME_COST
    parallelism: int = OWASP_PARALLELISM
    _hasher: argon2.PasswordHasher = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        hasher = argon2.PasswordHasher(
            time_cost=self.time_cost,
            memory_cost=self.memory_cost,
            parallelism=self.parallelism,
            type=argon2.Type.ID,
        )
        object.__setattr__(self, "_hasher", hasher)

    @classmethod
    def from_parameters(cls, text: str) -> Argon2Hasher:
        """The hasher for a PHC-style parameter string, "m=KiB,t=passes,p=lanes" (the part of
        an argon2 hash between `$`s), e.g. RFC 9106's second choice "m=65536,t=3,p=4".

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
        """The cost as `from_parameters` reads it: "m=19456,t=2,p=1"."""
        return f"m={self.memory_cost},t={self.time_cost},p={self.parallelism}"

    @classmethod
    def insecure_fast(cls) -> Argon2Hasher:
        """A cheap argon2id for tests and property runs only: never in production."""
        return cls(memory_cost=64, time_cost=1, parallelism=1)

    def hash(self, password: str) -> str:
        """The argon2id hash (PHC string, salted)."""
        return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        """Whether `password` matches `password_hash`; False for a mismatch or a bad hash."""
        try:
            return self._hasher.verify(password_hash, password)
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
