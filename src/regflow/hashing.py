"""argon2id password hashing (the default `PasswordHasher`), on argon2-cffi.

The caller passes the password already NFKC-normalised (`regflow.policy.normalize_password`);
registration and login normalise the same way, so a password typed with a different Unicode
composition still matches.
"""

from __future__ import annotations

import argon2
import attrs

# OWASP's Password Storage Cheat Sheet minimum for argon2id: m=19 MiB, t=2, p=1.
OWASP_MEMORY_KIB = 19 * 1024
OWASP_TIME_COST = 2
OWASP_PARALLELISM = 1


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
