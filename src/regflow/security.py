"""Security events: requests regflow ignored or refused because they look like an attack.

Each event is logged on the `regflow.security` logger at WARNING (a code and the flow's short log
id, never personal data) and counted per code, so an operator can alert on the log or export the
counts to monitoring. The counts live in one `SecurityEvents` per `Ports` (shared by every flow
and request built from it) and are per process.
"""

from __future__ import annotations

import collections
import logging
import threading

log = logging.getLogger("regflow.security")


class SecurityEvents:
    """A thread-safe count of security events by code, each also logged."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: collections.Counter[str] = collections.Counter()

    def record(self, code: str, *, flow: str, event: str) -> None:
        """Count one event `code` seen by `event` of the flow with log id `flow`, and log it."""
        with self._lock:
            self._counts[code] += 1
        log.warning("security event %s: flow %s, %s ignored", code, flow, event)

    def count(self, code: str) -> int:
        """How many events `code` were recorded."""
        with self._lock:
            return self._counts[code]

    def counts(self) -> dict[str, int]:
        """Every code recorded so far and its count."""
        with self._lock:
            return dict(self._counts)

    def __repr__(self) -> str:
        return f"<SecurityEvents {self.counts()}>"
